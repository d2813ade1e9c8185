// Internal to CTesseraKernels: the body of the chunked two-sided matrix transform, instantiated
// once per vector width by ChunkTransform.c (which defines the macros below and includes this
// file). See tessera_transform_band in include/CTesseraKernels.h for the contract.
//
// Every output element is one sequential sum: it starts at +0 and adds the rounded products one
// by one in ascending order of the inner index (a rounded multiply, then a rounded add, never
// fused). A vector lane computes exactly that sum for one element, so the width (and so the
// level) never changes a bit. A term whose input is ±0 is skipped: its product is ±0 (the
// matrices are finite), and adding ±0 to a sum that is never -0 (it starts at +0, and a rounded
// sum is -0 only when both addends are) leaves the sum's bits unchanged.
//
// Expects: TT_NAME (the function's name), TT_TARGET (its attributes), TT_V (a vector of TT_W
// floats), TT_VU (the same with 4-byte alignment, for loads and stores), TT_SPLAT(x) (x in every
// lane).

#define TT_TILE_COLUMNS (2 * TT_W)
#define TT_TILE_ROWS 4

TT_TARGET
static void TT_NAME(float *band, size_t stride, size_t r, size_t c, size_t segments, const float *a, const float *b,
                    size_t b_stride, unsigned char *scratch) {
    const size_t cp = (c + TT_TILE_COLUMNS - 1) / TT_TILE_COLUMNS * TT_TILE_COLUMNS;
    const size_t tiles = cp / TT_TILE_COLUMNS;
    struct tessera_transform_scratch s = tessera_transform_scratch_layout(scratch, r, c);
    for (size_t segment = 0; segment < segments; segment++) {
        float *chunk = band + segment * c;
        // The chunk, zero-padded to cp columns, and which of its (row, column tile) pairs and
        // columns hold a value other than ±0.
        memset(s.column_bits, 0, c * sizeof(uint32_t));
        for (size_t i = 0; i < r; i++) {
            const float *row = chunk + i * stride;
            float *padded = s.padded + i * cp;
            for (size_t tile = 0; tile < tiles; tile++) {
                const size_t j0 = tile * TT_TILE_COLUMNS, j1 = j0 + TT_TILE_COLUMNS < c ? j0 + TT_TILE_COLUMNS : c;
                uint32_t any = 0;
                for (size_t j = j0; j < j1; j++) {
                    float v = row[j];
                    padded[j] = v;
                    uint32_t bits;
                    memcpy(&bits, &v, sizeof bits);
                    bits &= 0x7FFFFFFFu;
                    any |= bits;
                    s.column_bits[j] |= bits;
                }
                s.tile_live[tile * r + i] = any != 0;
            }
            for (size_t j = c; j < cp; j++) padded[j] = 0;
        }
        // First pass: first[k][j] = Σ_i a[k][i] · x[i][j], over the rows live in the column tile.
        for (size_t tile = 0; tile < tiles; tile++) {
            size_t live = 0;
            for (size_t i = 0; i < r; i++) {
                s.list[live] = (uint32_t)i;
                live += s.tile_live[tile * r + i];
            }
            const float *x = s.padded + tile * TT_TILE_COLUMNS;
            float *out = s.first + tile * TT_TILE_COLUMNS;
            size_t k = 0;
            for (; k + TT_TILE_ROWS <= r; k += TT_TILE_ROWS) {
                TT_V acc[TT_TILE_ROWS][2];
                for (int q = 0; q < TT_TILE_ROWS; q++) acc[q][0] = acc[q][1] = (TT_V){0};
                for (size_t n = 0; n < live; n++) {
                    size_t i = s.list[n];
                    TT_V x0 = *(const TT_VU *)(x + i * cp), x1 = *(const TT_VU *)(x + i * cp + TT_W);
                    for (int q = 0; q < TT_TILE_ROWS; q++) {
                        TT_V w = TT_SPLAT(a[(k + q) * r + i]);
                        TT_V p0 = w * x0;
                        TT_V p1 = w * x1;
                        acc[q][0] = acc[q][0] + p0;
                        acc[q][1] = acc[q][1] + p1;
                    }
                }
                for (int q = 0; q < TT_TILE_ROWS; q++) {
                    *(TT_VU *)(out + (k + q) * cp) = acc[q][0];
                    *(TT_VU *)(out + (k + q) * cp + TT_W) = acc[q][1];
                }
            }
            for (; k < r; k++) {
                TT_V acc0 = {0}, acc1 = {0};
                for (size_t n = 0; n < live; n++) {
                    size_t i = s.list[n];
                    TT_V w = TT_SPLAT(a[k * r + i]);
                    TT_V p0 = w * *(const TT_VU *)(x + i * cp);
                    TT_V p1 = w * *(const TT_VU *)(x + i * cp + TT_W);
                    acc0 = acc0 + p0;
                    acc1 = acc1 + p1;
                }
                *(TT_VU *)(out + k * cp) = acc0;
                *(TT_VU *)(out + k * cp + TT_W) = acc1;
            }
        }
        // Second pass: y[k][l] = Σ_j first[k][j] · b[j][l], over the live columns (a column of
        // zeros stays +0 through the first pass).
        size_t live = 0;
        for (size_t j = 0; j < c; j++) {
            s.list[live] = (uint32_t)j;
            live += s.column_bits[j] != 0;
        }
        for (size_t tile = 0; tile < tiles; tile++) {
            const size_t l0 = tile * TT_TILE_COLUMNS;
            const size_t width = c - l0 < TT_TILE_COLUMNS ? c - l0 : TT_TILE_COLUMNS;
            const float *bt = b + l0;
            size_t k = 0;
            for (; k < r; k += TT_TILE_ROWS) {
                const int rows = r - k < TT_TILE_ROWS ? (int)(r - k) : TT_TILE_ROWS;
                TT_V acc[TT_TILE_ROWS][2];
                for (int q = 0; q < TT_TILE_ROWS; q++) acc[q][0] = acc[q][1] = (TT_V){0};
                if (rows == TT_TILE_ROWS) {
                    for (size_t n = 0; n < live; n++) {
                        size_t j = s.list[n];
                        TT_V b0 = *(const TT_VU *)(bt + j * b_stride), b1 = *(const TT_VU *)(bt + j * b_stride + TT_W);
                        for (int q = 0; q < TT_TILE_ROWS; q++) {
                            TT_V w = TT_SPLAT(s.first[(k + q) * cp + j]);
                            TT_V p0 = w * b0;
                            TT_V p1 = w * b1;
                            acc[q][0] = acc[q][0] + p0;
                            acc[q][1] = acc[q][1] + p1;
                        }
                    }
                } else {
                    for (size_t n = 0; n < live; n++) {
                        size_t j = s.list[n];
                        TT_V b0 = *(const TT_VU *)(bt + j * b_stride), b1 = *(const TT_VU *)(bt + j * b_stride + TT_W);
                        for (int q = 0; q < rows; q++) {
                            TT_V w = TT_SPLAT(s.first[(k + q) * cp + j]);
                            TT_V p0 = w * b0;
                            TT_V p1 = w * b1;
                            acc[q][0] = acc[q][0] + p0;
                            acc[q][1] = acc[q][1] + p1;
                        }
                    }
                }
                for (int q = 0; q < rows; q++) {
                    float *destination = chunk + (k + q) * stride + l0;
                    if (width == TT_TILE_COLUMNS) {
                        *(TT_VU *)destination = acc[q][0];
                        *(TT_VU *)(destination + TT_W) = acc[q][1];
                    } else {
                        *(TT_VU *)s.row = acc[q][0];
                        *(TT_VU *)(s.row + TT_W) = acc[q][1];
                        memcpy(destination, s.row, width * sizeof(float));
                    }
                }
            }
        }
    }
}

#undef TT_TILE_COLUMNS
#undef TT_TILE_ROWS
