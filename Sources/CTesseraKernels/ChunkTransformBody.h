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
// Expects TT_NAME (the function's name), TT_TARGET (its attributes) and TT_W (lanes: 8 or 16,
// with the types tt_vW, tt_vWu and the macro TT_SPLATW defined); undefines all three at the end.

#define TT_CAT_(a, b) a##b
#define TT_CAT(a, b) TT_CAT_(a, b)
#define TT_V TT_CAT(tt_v, TT_W)
#define TT_VU TT_CAT(TT_CAT(tt_v, TT_W), u)
#define TT_SPLAT TT_CAT(TT_SPLAT, TT_W)
#define TT_TILE_COLUMNS (2 * TT_W)
#define TT_TILE_ROWS 4

/// Sums for `rows` (1 or TT_TILE_ROWS, a constant after inlining) rows k0… of a tile two vectors
/// wide: acc[q] = Σ over the `live` inner indices n in `list` of splat(w[(k0 + q) · w_stride + n])
/// · v[n · v_stride …], the products and sums rounded one at a time in list order.
TT_TARGET
static inline __attribute__((always_inline)) void TT_CAT(TT_NAME, _tile)(
    int rows, const float *w, size_t w_stride, const float *v, size_t v_stride, const uint32_t *list, size_t live,
    TT_V acc[TT_TILE_ROWS][2]) {
    for (int q = 0; q < rows; q++) acc[q][0] = acc[q][1] = (TT_V){0};
    for (size_t n = 0; n < live; n++) {
        const size_t i = list[n];
        const TT_V v0 = *(const TT_VU *)(v + i * v_stride), v1 = *(const TT_VU *)(v + i * v_stride + TT_W);
        for (int q = 0; q < rows; q++) {
            const TT_V s = TT_SPLAT(w[q * w_stride + i]);
            const TT_V p0 = s * v0;
            const TT_V p1 = s * v1;
            acc[q][0] = acc[q][0] + p0;
            acc[q][1] = acc[q][1] + p1;
        }
    }
}

TT_TARGET
static void TT_NAME(float *band, size_t stride, size_t r, size_t c, size_t segments, const float *a, const float *b,
                    size_t b_stride, unsigned char *scratch) {
    const size_t cp = (c + TT_TILE_COLUMNS - 1) / TT_TILE_COLUMNS * TT_TILE_COLUMNS;
    const size_t tiles = cp / TT_TILE_COLUMNS;
    struct tessera_transform_scratch s = tessera_transform_scratch_layout(scratch, r, c);
    TT_V acc[TT_TILE_ROWS][2];
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
            for (size_t k = 0; k < r;) {
                const int rows = r - k >= TT_TILE_ROWS ? TT_TILE_ROWS : 1;
                if (rows == TT_TILE_ROWS) {
                    TT_CAT(TT_NAME, _tile)(TT_TILE_ROWS, a + k * r, r, x, cp, s.list, live, acc);
                } else {
                    TT_CAT(TT_NAME, _tile)(1, a + k * r, r, x, cp, s.list, live, acc);
                }
                for (int q = 0; q < rows; q++) {
                    *(TT_VU *)(out + (k + q) * cp) = acc[q][0];
                    *(TT_VU *)(out + (k + q) * cp + TT_W) = acc[q][1];
                }
                k += rows;
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
            for (size_t k = 0; k < r;) {
                const int rows = r - k >= TT_TILE_ROWS ? TT_TILE_ROWS : 1;
                if (rows == TT_TILE_ROWS) {
                    TT_CAT(TT_NAME, _tile)(TT_TILE_ROWS, s.first + k * cp, cp, b + l0, b_stride, s.list, live, acc);
                } else {
                    TT_CAT(TT_NAME, _tile)(1, s.first + k * cp, cp, b + l0, b_stride, s.list, live, acc);
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
                k += rows;
            }
        }
    }
}

#undef TT_TILE_COLUMNS
#undef TT_TILE_ROWS
#undef TT_SPLAT
#undef TT_VU
#undef TT_V
#undef TT_CAT
#undef TT_CAT_
#undef TT_W
#undef TT_TARGET
#undef TT_NAME
