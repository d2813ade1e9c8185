// Run-time dispatched vector kernels; see include/CTesseraKernels.h for the contracts.
//
// Each kernel has a portable C body and, on x86-64, AVX2 and AVX-512 bodies compiled with
// per-function target attributes (no global compiler flags), chosen once from the CPU's features.
// All paths agree bit for bit: floating-point contraction is off, so a·b + c is always a rounded
// multiply followed by a rounded add, whatever the instruction set.
#include "CTesseraKernels.h"
#include "Dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

// MARK: Dispatch

static tessera_kernels_level supported_level = TESSERA_KERNELS_PORTABLE;
static int active_level = TESSERA_KERNELS_PORTABLE;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
// A per-thread override of the level (-1: none), for tests that compare paths side by side.
static __thread int thread_level = -1;

#if TESSERA_X86
// AVX2 compaction tables: for each 8-bit mask, the positions of its set lanes first.
static int32_t compact32[256][8];
static uint8_t compact16[256][16];
#endif

static void setup(void) {
#if TESSERA_X86
    for (int mask = 0; mask < 256; mask++) {
        int out = 0;
        for (int lane = 0; lane < 8; lane++) {
            if (mask & (1 << lane)) {
                compact32[mask][out] = lane;
                compact16[mask][2 * out] = (uint8_t)(2 * lane);
                compact16[mask][2 * out + 1] = (uint8_t)(2 * lane + 1);
                out++;
            }
        }
        for (int rest = out; rest < 8; rest++) {
            compact32[mask][rest] = 0;
            compact16[mask][2 * rest] = 0x80;  // pshufb writes zero
            compact16[mask][2 * rest + 1] = 0x80;
        }
    }
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("popcnt")) {
        supported_level = TESSERA_KERNELS_AVX512;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt")) {
        supported_level = TESSERA_KERNELS_AVX2;
    }
#endif
    __atomic_store_n(&active_level, (int)supported_level, __ATOMIC_RELAXED);
}

static inline int level(void) {
    pthread_once(&setup_once, setup);
    int own = thread_level;
    return own >= 0 ? own : __atomic_load_n(&active_level, __ATOMIC_RELAXED);
}

tessera_kernels_level tessera_kernels_level_in_use(void) { return (tessera_kernels_level)level(); }

int tessera_kernels_current_level(void) { return level(); }

tessera_kernels_level tessera_kernels_level_supported(void) {
    pthread_once(&setup_once, setup);
    return supported_level;
}

int tessera_kernels_set_thread_level(int requested) {
    pthread_once(&setup_once, setup);
    if (requested < 0) {
        thread_level = -1;
        return -1;
    }
    thread_level = requested < (int)supported_level ? requested : (int)supported_level;
    return thread_level;
}

tessera_kernels_level tessera_kernels_set_level(tessera_kernels_level requested) {
    pthread_once(&setup_once, setup);
    int chosen = (int)requested < (int)supported_level ? (int)requested : (int)supported_level;
    if (chosen < 0) chosen = TESSERA_KERNELS_PORTABLE;
    __atomic_store_n(&active_level, chosen, __ATOMIC_RELAXED);
    return (tessera_kernels_level)chosen;
}

static inline uint32_t magnitude_bits(float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits & 0x7FFFFFFFu;
}

// MARK: Fold and gather

static void fold_gather_row_portable(float *row, const float *delta, float decay, size_t segments, size_t length,
                                     const uint32_t *floors, uint32_t local_base, uint16_t *candidates, float *values,
                                     size_t stride, size_t *counts) {
    for (size_t s = 0; s < segments; s++) {
        float *segment = row + s * length;
        if (delta) {
            const float *d = delta + s * length;
            for (size_t i = 0; i < length; i++) segment[i] = decay * segment[i] + d[i];
        }
        uint32_t floor = floors[s];
        if (floor == 0) continue;
        size_t m = counts[s];
        uint16_t *ci = candidates + s * stride;
        float *cv = values + s * stride;
        for (size_t i = 0; i < length; i++) {
            float v = segment[i];
            ci[m] = (uint16_t)(local_base + i);
            cv[m] = v;
            m += magnitude_bits(v) >= floor;
        }
        counts[s] = m;
    }
}

#if TESSERA_X86
__attribute__((target("avx2,popcnt")))
static void fold_gather_row_avx2(float *row, const float *delta, float decay, size_t segments, size_t length,
                                 const uint32_t *floors, uint32_t local_base, uint16_t *candidates, float *values,
                                 size_t stride, size_t *counts) {
    const __m256 beta = _mm256_set1_ps(decay);
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    const __m128i lanes = _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t s = 0; s < segments; s++) {
        float *segment = row + s * length;
        const float *d = delta ? delta + s * length : NULL;
        uint32_t floor = floors[s];
        size_t m = counts[s];
        uint16_t *ci = candidates + s * stride;
        float *cv = values + s * stride;
        // Magnitudes are below 2^31, so bits >= floor is a signed bits > floor - 1 (floor >= 1).
        const __m256i below = _mm256_set1_epi32((int32_t)(floor - 1));
        size_t i = 0;
        for (; i + 8 <= length; i += 8) {
            __m256 v = _mm256_loadu_ps(segment + i);
            if (d) {
                v = _mm256_add_ps(_mm256_mul_ps(beta, v), _mm256_loadu_ps(d + i));
                _mm256_storeu_ps(segment + i, v);
            }
            if (floor == 0) continue;
            __m256i hits = _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_castps_si256(v), magnitude), below);
            unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(hits));
            __m256i order = _mm256_loadu_si256((const __m256i *)compact32[mask]);
            _mm256_storeu_ps(cv + m, _mm256_permutevar8x32_ps(v, order));
            __m128i local = _mm_add_epi16(_mm_set1_epi16((short)(uint16_t)(local_base + i)), lanes);
            __m128i shuffle = _mm_loadu_si128((const __m128i *)compact16[mask]);
            _mm_storeu_si128((__m128i *)(ci + m), _mm_shuffle_epi8(local, shuffle));
            m += (size_t)__builtin_popcount(mask);
        }
        for (; i < length; i++) {
            if (d) segment[i] = decay * segment[i] + d[i];
            if (floor == 0) continue;
            float v = segment[i];
            ci[m] = (uint16_t)(local_base + i);
            cv[m] = v;
            m += magnitude_bits(v) >= floor;
        }
        counts[s] = m;
    }
}

/// Appends the lanes of `v` in `live` whose magnitude bits reach `floors16`, in lane order, with
/// local indices first_local + lane; writes 16 entries at ci / cv and returns how many count.
__attribute__((target("avx512f,avx512bw,avx512vl,popcnt")))
static inline size_t append16(__m512 v, __mmask16 live, __m512i floors16, uint32_t first_local, uint16_t *ci, float *cv) {
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __mmask16 hits = _mm512_mask_cmpge_epu32_mask(live, _mm512_and_si512(_mm512_castps_si512(v), magnitude), floors16);
    __m512i local = _mm512_add_epi32(lanes, _mm512_set1_epi32((int32_t)first_local));
    _mm512_storeu_ps(cv, _mm512_maskz_compress_ps(hits, v));
    _mm256_storeu_si256((__m256i *)ci, _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(hits, local)));
    return (size_t)__builtin_popcount(hits);
}

__attribute__((target("avx512f,avx512bw,avx512vl,popcnt")))
static void fold_gather_row_avx512(float *row, const float *delta, float decay, size_t segments, size_t length,
                                   const uint32_t *floors, uint32_t local_base, uint16_t *candidates, float *values,
                                   size_t stride, size_t *counts) {
    const __m512 beta = _mm512_set1_ps(decay);
    for (size_t s = 0; s < segments; s++) {
        float *segment = row + s * length;
        const float *d = delta ? delta + s * length : NULL;
        uint32_t floor = floors[s];
        size_t m = counts[s];
        uint16_t *ci = candidates + s * stride;
        float *cv = values + s * stride;
        const __m512i floors16 = _mm512_set1_epi32((int32_t)floor);
        size_t i = 0;
        for (; i + 16 <= length; i += 16) {
            __m512 v = _mm512_loadu_ps(segment + i);
            if (d) {
                v = _mm512_add_ps(_mm512_mul_ps(beta, v), _mm512_loadu_ps(d + i));
                _mm512_storeu_ps(segment + i, v);
            }
            if (floor == 0) continue;
            m += append16(v, 0xFFFF, floors16, (uint32_t)(local_base + i), ci + m, cv + m);
        }
        if (i < length) {
            __mmask16 live = (__mmask16)((1u << (length - i)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(live, segment + i);
            if (d) {
                v = _mm512_add_ps(_mm512_mul_ps(beta, v), _mm512_maskz_loadu_ps(live, d + i));
                _mm512_mask_storeu_ps(segment + i, live, v);
            }
            if (floor != 0) m += append16(v, live, floors16, (uint32_t)(local_base + i), ci + m, cv + m);
        }
        counts[s] = m;
    }
}
#endif

void tessera_fold_gather_row(float *row, const float *delta, float decay, size_t segments, size_t segment_length,
                             const uint32_t *floors, uint32_t local_base, uint16_t *candidates, float *values,
                             size_t stride, size_t *counts) {
    switch (level()) {
#if TESSERA_X86
    case TESSERA_KERNELS_AVX512:
        fold_gather_row_avx512(row, delta, decay, segments, segment_length, floors, local_base, candidates, values, stride, counts);
        return;
    case TESSERA_KERNELS_AVX2:
        fold_gather_row_avx2(row, delta, decay, segments, segment_length, floors, local_base, candidates, values, stride, counts);
        return;
#endif
    default:
        fold_gather_row_portable(row, delta, decay, segments, segment_length, floors, local_base, candidates, values, stride, counts);
    }
}

// MARK: Top-k of candidates
//
// The k-th largest magnitude T is found by a binary search on the 31-bit magnitude: the largest
// T with at least k candidates at or above it. Every candidate above T is selected, and of those
// equal to T the first (lowest-index) k - count(> T). This is exactly the set of the k largest
// keys (bits << 32) | (0xFFFFFFFF - index), without sorting.

static size_t count_at_least_portable(const float *values, size_t m, uint32_t t) {
    size_t count = 0;
    for (size_t i = 0; i < m; i++) count += magnitude_bits(values[i]) >= t;
    return count;
}

static uint32_t threshold_search(const float *values, size_t m, size_t k, uint32_t low, uint32_t high,
                                 size_t (*count_at_least)(const float *, size_t, uint32_t)) {
    // Invariant: count(>= low) >= k and count(>= high) < k.
    while (high - low > 1) {
        uint32_t middle = low + (high - low) / 2;
        if (count_at_least(values, m, middle) >= k) low = middle; else high = middle;
    }
    return low;
}

/// The top k with a given counting function: the range of magnitudes, the threshold search,
/// then the selected entries in index order, ties to the lowest indices.
static uint32_t select_top_k_counting(const uint16_t *indices, const float *values, size_t m, size_t k,
                                      uint16_t *out_indices, float *out_values,
                                      size_t (*count_at_least)(const float *, size_t, uint32_t)) {
    uint32_t low = 0x7FFFFFFFu, high = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t b = magnitude_bits(values[i]);
        low = b < low ? b : low;
        high = b > high ? b : high;
    }
    uint32_t t = threshold_search(values, m, k, low, high + 1, count_at_least);
    size_t ties = k - count_at_least(values, m, t + 1);
    size_t out = 0;
    for (size_t i = 0; i < m && out < k; i++) {
        uint32_t b = magnitude_bits(values[i]);
        if (b > t || (b == t && ties > 0)) {
            if (b == t) ties--;
            out_indices[out] = indices[i];
            out_values[out] = values[i];
            out++;
        }
    }
    return t;
}

#if TESSERA_X86
__attribute__((target("avx2,popcnt")))
static size_t count_at_least_avx2(const float *values, size_t m, uint32_t t) {
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    // bits >= t as a signed bits > t - 1 (bits < 2^31; t = 0 wraps to -1, which every bits exceeds).
    const __m256i below = _mm256_set1_epi32((int32_t)(t - 1));
    size_t count = 0, i = 0;
    for (; i + 8 <= m; i += 8) {
        __m256i bits = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(values + i)), magnitude);
        count += (size_t)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(bits, below))));
    }
    for (; i < m; i++) count += magnitude_bits(values[i]) >= t;
    return count;
}

__attribute__((target("avx512f,avx512bw,avx512vl,popcnt")))
static size_t count_at_least_avx512(const float *values, size_t m, uint32_t t) {
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
    const __m512i threshold = _mm512_set1_epi32((int32_t)t);
    size_t count = 0;
    for (size_t i = 0; i < m; i += 16) {
        __mmask16 live = m - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (m - i)) - 1);
        __m512i bits = _mm512_and_si512(_mm512_maskz_loadu_epi32(live, values + i), magnitude);
        count += (size_t)__builtin_popcount(_mm512_mask_cmpge_epu32_mask(live, bits, threshold));
    }
    return count;
}

__attribute__((target("avx512f,avx512bw,avx512vl,popcnt")))
static uint32_t select_top_k_avx512(const uint16_t *indices, const float *values, size_t m, size_t k,
                                    uint16_t *out_indices, float *out_values) {
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
    __m512i lowest = _mm512_set1_epi32(0x7FFFFFFF), highest = _mm512_setzero_si512();
    for (size_t i = 0; i < m; i += 16) {
        __mmask16 live = m - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (m - i)) - 1);
        __m512i bits = _mm512_and_si512(_mm512_maskz_loadu_epi32(live, values + i), magnitude);
        lowest = _mm512_mask_min_epu32(lowest, live, lowest, bits);
        highest = _mm512_mask_max_epu32(highest, live, highest, bits);
    }
    uint32_t t = threshold_search(values, m, k, _mm512_reduce_min_epu32(lowest), _mm512_reduce_max_epu32(highest) + 1,
                                  count_at_least_avx512);
    size_t ties = k - count_at_least_avx512(values, m, t + 1);
    const __m512i threshold = _mm512_set1_epi32((int32_t)t);
    size_t out = 0;
    for (size_t i = 0; i < m; i += 16) {
        __mmask16 live = m - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (m - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(live, values + i);
        __m512i bits = _mm512_and_si512(_mm512_castps_si512(v), magnitude);
        unsigned above = _mm512_mask_cmpgt_epu32_mask(live, bits, threshold);
        unsigned equal = _mm512_mask_cmpeq_epu32_mask(live, bits, threshold);
        // Keep the first `ties` lanes of `equal` (lowest indices first).
        while ((size_t)__builtin_popcount(equal) > ties) equal &= ~(1u << (31 - __builtin_clz(equal)));
        ties -= (size_t)__builtin_popcount(equal);
        __mmask16 take = (__mmask16)(above | equal);
        unsigned n = (unsigned)__builtin_popcount(take);
        if (n == 0) continue;
        __mmask16 first = (__mmask16)((1u << n) - 1);
        __m512i local = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(live, indices + i));
        _mm512_mask_storeu_ps(out_values + out, first, _mm512_maskz_compress_ps(take, v));
        _mm256_mask_storeu_epi16(out_indices + out, first, _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(take, local)));
        out += n;
    }
    return t;
}
#endif

uint32_t tessera_select_top_k(const uint16_t *indices, const float *values, size_t m, size_t k,
                              uint16_t *out_indices, float *out_values) {
    switch (level()) {
#if TESSERA_X86
    case TESSERA_KERNELS_AVX512: return select_top_k_avx512(indices, values, m, k, out_indices, out_values);
    case TESSERA_KERNELS_AVX2: return select_top_k_counting(indices, values, m, k, out_indices, out_values, count_at_least_avx2);
#endif
    default: return select_top_k_counting(indices, values, m, k, out_indices, out_values, count_at_least_portable);
    }
}

// MARK: Largest magnitude

static uint32_t max_magnitude_bits_portable(const float *x, size_t count) {
    uint32_t top = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t b = magnitude_bits(x[i]);
        top = b > top ? b : top;
    }
    return top;
}

#if TESSERA_X86
__attribute__((target("avx2")))
static uint32_t max_magnitude_bits_avx2(const float *x, size_t count) {
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        a = _mm256_max_epu32(a, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i)), magnitude));
        b = _mm256_max_epu32(b, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i + 8)), magnitude));
        c = _mm256_max_epu32(c, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i + 16)), magnitude));
        d = _mm256_max_epu32(d, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i + 24)), magnitude));
    }
    a = _mm256_max_epu32(_mm256_max_epu32(a, b), _mm256_max_epu32(c, d));
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, a);
    uint32_t top = max_magnitude_bits_portable(x + i, count - i);
    for (int l = 0; l < 8; l++) top = lanes[l] > top ? lanes[l] : top;
    return top;
}

__attribute__((target("avx512f")))
static uint32_t max_magnitude_bits_avx512(const float *x, size_t count) {
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 64 <= count; i += 64) {
        a = _mm512_max_epu32(a, _mm512_and_si512(_mm512_loadu_si512(x + i), magnitude));
        b = _mm512_max_epu32(b, _mm512_and_si512(_mm512_loadu_si512(x + i + 16), magnitude));
        c = _mm512_max_epu32(c, _mm512_and_si512(_mm512_loadu_si512(x + i + 32), magnitude));
        d = _mm512_max_epu32(d, _mm512_and_si512(_mm512_loadu_si512(x + i + 48), magnitude));
    }
    for (; i < count; i += 16) {
        __mmask16 live = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        a = _mm512_max_epu32(a, _mm512_and_si512(_mm512_maskz_loadu_epi32(live, x + i), magnitude));
    }
    a = _mm512_max_epu32(_mm512_max_epu32(a, b), _mm512_max_epu32(c, d));
    return _mm512_reduce_max_epu32(a);
}
#endif

uint32_t tessera_max_magnitude_bits(const float *x, size_t count) {
    switch (level()) {
#if TESSERA_X86
    case TESSERA_KERNELS_AVX512: return max_magnitude_bits_avx512(x, count);
    case TESSERA_KERNELS_AVX2: return max_magnitude_bits_avx2(x, count);
#endif
    default: return max_magnitude_bits_portable(x, count);
    }
}

// MARK: Dense composition
//
// The band's entries are first bucketed by row (a stable counting sort, so a repeated index
// keeps its last value), then each row is built in a zeroed buffer the size of one row (it
// stays in cache): the row's entries are scattered into it, the row is copied out once
// (non-temporal stores when streaming), and only the slots just written are cleared again.
// No branch depends on the data.

static void copy_row(float *destination, const float *source, size_t count, int streaming);

int tessera_compose_band(float *out, size_t stride, size_t rows, size_t width, size_t segments,
                         const uint16_t *indices, const float *values, size_t k, int streaming) {
    const size_t columns = width * segments, entries = segments * k, chunk = rows * width;
    float *row = calloc(columns ? columns : 1, sizeof(float));
    size_t *starts = calloc(rows + 1, sizeof(size_t));
    uint32_t *row_of = malloc((entries ? entries : 1) * sizeof(uint32_t));
    uint32_t *column_of = malloc((entries ? entries : 1) * sizeof(uint32_t));
    float *value_of = malloc((entries ? entries : 1) * sizeof(float));
    int ok = row && starts && row_of && column_of && value_of;
    // index / width for index < 2^16 and width <= 2^16: (index * m) >> 40, m = 2^40 / width + 1.
    const uint64_t reciprocal = ((uint64_t)1 << 40) / (width ? width : 1) + 1;
    for (size_t j = 0; ok && j < entries; j++) {
        size_t index = indices[j];
        if (index >= chunk) {
            ok = 0;
            break;
        }
        uint32_t r = (uint32_t)(((uint64_t)index * reciprocal) >> 40);
        row_of[j] = r;
        starts[r + 1]++;
    }
    if (ok) {
        for (size_t r = 0; r < rows; r++) starts[r + 1] += starts[r];
        for (size_t s = 0; s < segments; s++) {
            for (size_t j = s * k; j < (s + 1) * k; j++) {
                uint32_t r = row_of[j];
                size_t p = starts[r]++;
                column_of[p] = (uint32_t)(s * width + indices[j] - (size_t)r * width);
                value_of[p] = values[j];
            }
        }
        // starts[r] now holds the end of row r's entries, which is where row r + 1's begin.
        size_t begin = 0;
        for (size_t r = 0; r < rows; r++) {
            size_t end = starts[r];
            for (size_t p = begin; p < end; p++) row[column_of[p]] = value_of[p];
            copy_row(out + r * stride, row, columns, streaming);
            for (size_t p = begin; p < end; p++) row[column_of[p]] = 0;
            begin = end;
        }
    }
    free(row);
    free(starts);
    free(row_of);
    free(column_of);
    free(value_of);
    return ok;
}

// MARK: Streaming stores

#if TESSERA_X86
__attribute__((target("avx512f")))
static void stream_floats_avx512(float *destination, const float *source, size_t count) {
    size_t i = 0;
    while (i < count && ((uintptr_t)(destination + i) & 63) != 0) {
        destination[i] = source[i];
        i++;
    }
    for (; i + 16 <= count; i += 16) _mm512_stream_ps(destination + i, _mm512_loadu_ps(source + i));
    for (; i < count; i++) destination[i] = source[i];
}

static void stream_floats_sse(float *destination, const float *source, size_t count) {
    size_t i = 0;
    while (i < count && ((uintptr_t)(destination + i) & 15) != 0) {
        destination[i] = source[i];
        i++;
    }
    for (; i + 4 <= count; i += 4) _mm_stream_ps(destination + i, _mm_loadu_ps(source + i));
    for (; i < count; i++) destination[i] = source[i];
}
#endif

void tessera_stream_floats(float *destination, const float *source, size_t count) {
#if TESSERA_X86
    if (level() == TESSERA_KERNELS_AVX512) {
        stream_floats_avx512(destination, source, count);
    } else {
        stream_floats_sse(destination, source, count);
    }
#else
    for (size_t i = 0; i < count; i++) __builtin_nontemporal_store(source[i], destination + i);
#endif
}

void tessera_store_fence(void) {
#if TESSERA_X86
    _mm_sfence();
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static void copy_row(float *destination, const float *source, size_t count, int streaming) {
    if (streaming) {
        tessera_stream_floats(destination, source, count);
    } else {
        memcpy(destination, source, count * sizeof(float));
    }
}

void tessera_spin_pause(void) {
#if TESSERA_X86
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}
