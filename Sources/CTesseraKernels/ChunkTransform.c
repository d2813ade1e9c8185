// The chunked two-sided matrix transform (the codec's DCT), in a fixed summation order with the
// same bits at every level; see include/CTesseraKernels.h for the contract and
// ChunkTransformBody.h for the body each level instantiates.
#include "CTesseraKernels.h"
#include "Dispatch.h"

#include <stdint.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

/// The widest column tile of any level (two vectors of 16 lanes).
#define TT_WIDEST_TILE 32

static size_t padded_width(size_t c) { return (c + TT_WIDEST_TILE - 1) / TT_WIDEST_TILE * TT_WIDEST_TILE; }

/// Where each part of the caller's scratch lies (see tessera_transform_scratch_bytes).
struct tessera_transform_scratch {
    float *padded;               // r × cp: the chunk, zero-padded
    float *first;                // r × cp: after the first pass
    float *row;                  // TT_WIDEST_TILE: a partial tile on its way out
    uint32_t *list;              // max(r, c): live rows of a tile, or live columns
    uint32_t *column_bits;       // c: the OR of each column's magnitude bits (0: all ±0)
    unsigned char *tile_live;    // (cp / 16) × r: 1 where a row of a column tile is not all ±0
};

static inline struct tessera_transform_scratch tessera_transform_scratch_layout(unsigned char *base, size_t r, size_t c) {
    const size_t cp = padded_width(c);
    struct tessera_transform_scratch s;
    s.padded = (float *)base;
    s.first = s.padded + r * cp;
    s.row = s.first + r * cp;
    s.list = (uint32_t *)(s.row + TT_WIDEST_TILE);
    s.column_bits = s.list + (r > c ? r : c);
    s.tile_live = (unsigned char *)(s.column_bits + c);
    return s;
}

size_t tessera_transform_scratch_bytes(size_t r, size_t c) {
    const size_t cp = padded_width(c);
    return (2 * r * cp + TT_WIDEST_TILE) * sizeof(float) + ((r > c ? r : c) + c) * sizeof(uint32_t) + (cp / 16) * r;
}

size_t tessera_transform_matrix_stride(size_t c) { return padded_width(c); }

typedef float tt_v8 __attribute__((vector_size(32)));
typedef float tt_v8u __attribute__((vector_size(32), aligned(4)));
#define TT_SPLAT8(x) __extension__({ float x_ = (x); (tt_v8){x_, x_, x_, x_, x_, x_, x_, x_}; })

// Portable: 8-lane vectors of plain C (the compiler lowers them to whatever the target has).
#define TT_NAME transform_band_portable
#define TT_TARGET
#define TT_W 8
#include "ChunkTransformBody.h"

#if TESSERA_X86
typedef float tt_v16 __attribute__((vector_size(64)));
typedef float tt_v16u __attribute__((vector_size(64), aligned(4)));
#define TT_SPLAT16(x) __extension__({ float x_ = (x); (tt_v16){x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_}; })

#define TT_NAME transform_band_avx2
#define TT_TARGET __attribute__((target("avx2")))
#define TT_W 8
#include "ChunkTransformBody.h"

#define TT_NAME transform_band_avx512
#define TT_TARGET __attribute__((target("avx512f")))
#define TT_W 16
#include "ChunkTransformBody.h"
#endif

void tessera_transform_band(float *band, size_t stride, size_t rows, size_t width, size_t segments, const float *a,
                            const float *b, void *scratch) {
    if (rows == 0 || width == 0 || segments == 0) return;
    const size_t b_stride = padded_width(width);
    switch (tessera_kernels_current_level()) {
#if TESSERA_X86
    case TESSERA_KERNELS_AVX512:
        transform_band_avx512(band, stride, rows, width, segments, a, b, b_stride, scratch);
        return;
    case TESSERA_KERNELS_AVX2:
        transform_band_avx2(band, stride, rows, width, segments, a, b, b_stride, scratch);
        return;
#endif
    default:
        transform_band_portable(band, stride, rows, width, segments, a, b, b_stride, scratch);
    }
}
