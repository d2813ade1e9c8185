// The training engine's kernels at each instruction-set level; see include/TesseraEngineKernels.h.
// The bodies are in EngineKernelsBody.h, instantiated here once per level.
#include "CTesseraKernels.h"
#include "Dispatch.h"

#include <math.h>
#include <stdint.h>

#pragma STDC FP_CONTRACT OFF
// The 64-byte vectors pass between always-inlined helpers of one level only (same target), so the
// ABI note that clang gives for them below AVX-512 does not apply.
#pragma clang diagnostic ignored "-Wpsabi"
#define EK_INLINE static inline __attribute__((always_inline))

typedef float ek_v16 __attribute__((vector_size(64)));
typedef float ek_v16u __attribute__((vector_size(64), aligned(4)));
typedef int32_t ek_i16 __attribute__((vector_size(64)));
typedef uint32_t ek_u16 __attribute__((vector_size(64)));
typedef float ek_v8 __attribute__((vector_size(32)));
typedef float ek_v4 __attribute__((vector_size(16)));
#define EK_SPLAT(x) __extension__({ float x_ = (x); (ek_v16){x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_}; })
#define EK_SPLAT_U(x) __extension__({ uint32_t x_ = (x); (ek_u16){x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_, x_}; })

/// One level's kernels.
struct engine_table {
    void (*softmax)(const float *, float *, size_t, size_t, int);
    void (*softmax_backward)(const float *, const float *, float *, size_t, size_t, int);
    void (*rmsnorm)(const float *, const float *, float *, float *, size_t, size_t, float);
    void (*rmsnorm_backward)(const float *, const float *, const float *, const float *, float *, size_t, size_t);
    void (*rmsnorm_weight_grad)(const float *, const float *, const float *, float *, size_t, size_t, size_t, size_t);
    void (*cross_entropy)(const float *, const int32_t *, size_t, size_t, float *, float *);
    void (*cross_entropy_backward)(const float *, const int32_t *, const float *, float, float *, size_t, size_t);
    void (*swiglu)(const float *, const float *, float *, size_t);
    void (*swiglu_backward)(const float *, const float *, const float *, float *, float *, size_t);
    void (*rope_row)(const float *, float *, size_t, size_t, const float *, const float *, int);
    void (*causal_softmax)(float *, size_t, size_t, size_t);
    void (*attention_score_grad)(const float *, float *, size_t, float, size_t, size_t);
    void (*binary)(int, const float *, const float *, float *, size_t);
    void (*binary_scalar)(int, const float *, float, int, float *, size_t);
    void (*accumulate)(float *, const float *, size_t);
    void (*exp_array)(const float *, float *, size_t);
    void (*silu)(const float *, float *, size_t);
    void (*add_rows)(float *, const int32_t *, const float *, size_t, size_t, int32_t, int32_t);
    void (*adamw)(float *, const float *, float *, float *, size_t, const tessera_adamw_constants *);
    float (*sum)(const float *, size_t);
    float (*dot)(const float *, const float *, size_t);
    void (*attention_forward)(const float *, size_t, const float *, const float *, size_t, float *, size_t, float *, size_t, size_t,
                              float, float *);
    void (*attention_backward)(const float *, size_t, const float *, const float *, size_t, const float *, const float *, float *,
                               float *, float *, float *, size_t, size_t, float, int, float *);
};

#define EK_NAME(name) ek_portable_##name
#define EK_TARGET
#include "EngineKernelsBody.h"

#if TESSERA_X86
#define EK_NAME(name) ek_avx2_##name
#define EK_TARGET __attribute__((target("avx2,fma")))
#include "EngineKernelsBody.h"

#define EK_NAME(name) ek_avx512_##name
#define EK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#include "EngineKernelsBody.h"
#endif

static const struct engine_table *table(void) {
#if TESSERA_X86
    switch (tessera_kernels_current_level()) {
    case TESSERA_KERNELS_AVX512: return &ek_avx512_table;
    case TESSERA_KERNELS_AVX2:
        // The AVX2 bodies use FMA (attention); every AVX2 CPU shipped has it, but the level does not promise it.
        if (__builtin_cpu_supports("fma")) return &ek_avx2_table;
        break;
    default: break;
    }
#endif
    return &ek_portable_table;
}

void tessera_engine_softmax(const float *x, float *y, size_t rows, size_t cols, int logarithm) {
    table()->softmax(x, y, rows, cols, logarithm);
}
void tessera_engine_softmax_backward(const float *y, const float *dy, float *dx, size_t rows, size_t cols, int logarithm) {
    table()->softmax_backward(y, dy, dx, rows, cols, logarithm);
}
void tessera_engine_rmsnorm(const float *x, const float *w, float *y, float *rstd, size_t rows, size_t cols, float epsilon) {
    table()->rmsnorm(x, w, y, rstd, rows, cols, epsilon);
}
void tessera_engine_rmsnorm_backward(const float *x, const float *w, const float *rstd, const float *dy, float *dx, size_t rows,
                                     size_t cols) {
    table()->rmsnorm_backward(x, w, rstd, dy, dx, rows, cols);
}
void tessera_engine_rmsnorm_weight_grad(const float *x, const float *rstd, const float *dy, float *dw, size_t rows, size_t cols,
                                        size_t begin, size_t end) {
    table()->rmsnorm_weight_grad(x, rstd, dy, dw, rows, cols, begin, end);
}
void tessera_engine_cross_entropy(const float *logits, const int32_t *targets, size_t rows, size_t classes, float *lse,
                                  float *losses) {
    table()->cross_entropy(logits, targets, rows, classes, lse, losses);
}
void tessera_engine_cross_entropy_backward(const float *logits, const int32_t *targets, const float *lse, float scale,
                                           float *dlogits, size_t rows, size_t classes) {
    table()->cross_entropy_backward(logits, targets, lse, scale, dlogits, rows, classes);
}
void tessera_engine_swiglu(const float *gate, const float *up, float *y, size_t n) { table()->swiglu(gate, up, y, n); }
void tessera_engine_swiglu_backward(const float *gate, const float *up, const float *dy, float *dgate, float *dup, size_t n) {
    table()->swiglu_backward(gate, up, dy, dgate, dup, n);
}
void tessera_engine_rope_row(const float *x, float *y, size_t heads, size_t head_dim, const float *cosine, const float *sine,
                             int inverse) {
    table()->rope_row(x, y, heads, head_dim, cosine, sine, inverse);
}
void tessera_engine_causal_softmax(float *scores, size_t positions, size_t first, size_t count) {
    table()->causal_softmax(scores, positions, first, count);
}
void tessera_engine_attention_score_grad(const float *probabilities, float *ds, size_t positions, float scale, size_t first,
                                         size_t count) {
    table()->attention_score_grad(probabilities, ds, positions, scale, first, count);
}
void tessera_engine_binary(tessera_engine_operation operation, const float *a, const float *b, float *c, size_t n) {
    table()->binary((int)operation, a, b, c, n);
}
void tessera_engine_binary_scalar(tessera_engine_operation operation, const float *a, float scalar, int scalar_on_left, float *c,
                                  size_t n) {
    table()->binary_scalar((int)operation, a, scalar, scalar_on_left, c, n);
}
void tessera_engine_accumulate(float *a, const float *b, size_t n) { table()->accumulate(a, b, n); }
void tessera_engine_exp(const float *x, float *y, size_t n) { table()->exp_array(x, y, n); }
void tessera_engine_silu(const float *x, float *y, size_t n) { table()->silu(x, y, n); }
void tessera_engine_add_rows(float *table_, const int32_t *indices, const float *rows, size_t count, size_t dim, int32_t first,
                             int32_t end) {
    table()->add_rows(table_, indices, rows, count, dim, first, end);
}
void tessera_engine_adamw(float *p, const float *g, float *m, float *v, size_t n, const tessera_adamw_constants *constants) {
    table()->adamw(p, g, m, v, n, constants);
}
float tessera_engine_sum(const float *x, size_t n) { return table()->sum(x, n); }
float tessera_engine_dot(const float *a, const float *b, size_t n) { return table()->dot(a, b, n); }

size_t tessera_engine_attention_scratch_floats(size_t positions, size_t head_dim) {
    return head_dim * ((positions + 15) / 16 * 16);
}
void tessera_engine_attention_forward(const float *q, size_t q_stride, const float *k, const float *v, size_t kv_stride, float *out,
                                      size_t out_stride, float *probabilities, size_t positions, size_t head_dim, float scale,
                                      float *scratch) {
    table()->attention_forward(q, q_stride, k, v, kv_stride, out, out_stride, probabilities, positions, head_dim, scale, scratch);
}
void tessera_engine_attention_backward(const float *q, size_t q_stride, const float *k, const float *v, size_t kv_stride,
                                       const float *probabilities, const float *dout, float *dq, float *dk, float *dv, float *ds,
                                       size_t positions, size_t head_dim, float scale, int accumulate, float *scratch) {
    table()->attention_backward(q, q_stride, k, v, kv_stride, probabilities, dout, dq, dk, dv, ds, positions, head_dim, scale,
                                accumulate, scratch);
}
