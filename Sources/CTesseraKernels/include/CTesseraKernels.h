// Memory-bound kernels that Swift cannot express portably: non-temporal stores and code paths
// chosen at run time by the CPU's vector extensions (AVX-512, AVX2, or plain C). Every path of a
// kernel gives bit-identical results: the only floating-point arithmetic is one multiply and one
// add per element, never fused.
#ifndef C_TESSERA_KERNELS_H
#define C_TESSERA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The instruction-set levels the kernels can run at.
typedef enum {
    TESSERA_KERNELS_PORTABLE = 0,
    TESSERA_KERNELS_AVX2 = 1,
    TESSERA_KERNELS_AVX512 = 2,
} tessera_kernels_level;

/// The level in use: the best the CPU supports unless lowered by tessera_kernels_set_level.
tessera_kernels_level tessera_kernels_level_in_use(void);
/// The best level this CPU supports.
tessera_kernels_level tessera_kernels_level_supported(void);
/// Uses `level` (capped at the supported level) from now on; returns the level in use. For tests
/// and benchmarks that compare paths; not to be called while kernels run on other threads.
tessera_kernels_level tessera_kernels_set_level(tessera_kernels_level level);
/// Uses `level` (capped at the supported level) for kernels called on this thread only, or the
/// process-wide level again when `level` is negative; returns the level now set (-1 for none).
int tessera_kernels_set_thread_level(int level);

/// One row of a band of chunks: `segments` consecutive segments of `segment_length` floats at
/// `row` (segment s is chunk s's part of the row).
///
/// When `delta` is not NULL each element is first updated in place, row[i] = decay * row[i] +
/// delta[i] (a multiply, then an add, both rounded).
///
/// Then, for each segment s whose floors[s] is not 0, every element whose magnitude bits
/// (bits & 0x7FFFFFFF) are at least floors[s] is appended, in ascending order, to segment s's
/// list: its local index (local_base + position in the segment) at candidates[s * stride +
/// counts[s]] and its value at values[s * stride + counts[s]], and counts[s] grows by one.
/// A list may be written up to 16 entries past its final count (stride must leave that room).
void tessera_fold_gather_row(float *row, const float *delta, float decay, size_t segments,
                             size_t segment_length, const uint32_t *floors, uint32_t local_base,
                             uint16_t *candidates, float *values, size_t stride, size_t *counts);

/// The top k of m candidates (1 <= k <= m) by magnitude bits (bits & 0x7FFFFFFF), the lower
/// local index first among equal magnitudes; `indices` must be strictly ascending. Writes the k
/// selected local indices and values, ascending, to out_indices / out_values (exactly k entries
/// each) and returns the k-th largest magnitude bits. The same set as ranking the 64-bit keys
/// (bits << 32) | (0xFFFFFFFF - index).
uint32_t tessera_select_top_k(const uint16_t *indices, const float *values, size_t m, size_t k,
                              uint16_t *out_indices, float *out_values);

/// The largest magnitude bits (bits & 0x7FFFFFFF) of x[0..<count]; at least 0x7F800000 when a
/// value is infinite or NaN; 0 for an empty range.
uint32_t tessera_max_magnitude_bits(const float *x, size_t count);

/// Writes the dense rows of one band of chunks: for each of `rows` rows r and each of `segments`
/// chunks s, out[r * stride + s * width + j] is chunk s's value at local index r * width + j,
/// or 0 (j < width). Chunk s's entries are indices/values[s * k ..< (s + 1) * k], in any order
/// (a repeated index takes its last value). With `streaming`, whole aligned 64-byte lines go out
/// with non-temporal stores (call tessera_store_fence afterwards). Returns 1, or 0 (having
/// written nothing) when an index reaches past its chunk or memory for one row runs out.
int tessera_compose_band(float *out, size_t stride, size_t rows, size_t width, size_t segments,
                         const uint16_t *indices, const float *values, size_t k, int streaming);

/// The chunked two-sided matrix transform of one band (the codec's DCT): for each of `segments`
/// consecutive chunks of `rows` × `width` floats (chunk s starts at band + s * width; rows are
/// `stride` floats apart), in place, X ← A · X · B with A = a (rows × rows, row-major) and B = b
/// (width × width, row-major with row stride tessera_transform_matrix_stride(width), the padding
/// ignored).
///
/// Summation order, which fixes every bit: first F[k][j] = Σ_i A[k][i] · X[i][j], then
/// Y[k][l] = Σ_j F[k][j] · B[j][l]; each sum starts at +0 and adds the rounded products one at a
/// time in ascending order of i (or j), a rounded multiply then a rounded add, never fused. Every
/// level gives the same bits. `scratch` holds tessera_transform_scratch_bytes(rows, width) bytes.
void tessera_transform_band(float *band, size_t stride, size_t rows, size_t width, size_t segments, const float *a,
                            const float *b, void *scratch);

/// Bytes of scratch tessera_transform_band needs for chunks of `rows` × `width`.
size_t tessera_transform_scratch_bytes(size_t rows, size_t width);

/// The row stride (in floats, at least `width`) of the right-hand matrix tessera_transform_band reads.
size_t tessera_transform_matrix_stride(size_t width);

/// Copies `count` floats with non-temporal stores (the destination bypasses the cache; for
/// outputs larger than the cache that are not read again soon). Call tessera_store_fence before
/// another thread reads the destination.
void tessera_stream_floats(float *destination, const float *source, size_t count);

/// A spin-wait hint (x86 `pause`, arm64 `yield`): lets a hyperthread sibling run and saves power
/// while a thread polls a flag.
void tessera_spin_pause(void);

/// Orders this thread's earlier non-temporal stores before its later stores.
void tessera_store_fence(void);

#ifdef __cplusplus
}
#endif

#include "TesseraEngineKernels.h"

#endif
