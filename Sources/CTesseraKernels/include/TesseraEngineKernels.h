// The training engine's kernels: softmax and log-softmax, cross-entropy, RMSNorm, SwiGLU, rotary
// embedding, the parts of attention between its products, elementwise arithmetic, embedding
// scatter-add and the AdamW step. Run-time dispatched like the codec kernels (AVX-512, AVX2 or
// portable, by tessera_kernels_level_in_use and the thread's override), single-threaded: callers
// split rows across threads. Every level gives the same bits: 16-lane partial sums combined in a
// fixed order, no fused multiply-add.
#ifndef C_TESSERA_ENGINE_KERNELS_H
#define C_TESSERA_ENGINE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Softmax (or log-softmax when `logarithm`) of each of `rows` rows of `cols` floats; y may be x.
void tessera_engine_softmax(const float *x, float *y, size_t rows, size_t cols, int logarithm);
/// Softmax: dx = y ⊙ (dy − ⟨dy, y⟩). Log-softmax (y = log-probabilities): dx = dy − exp(y) · Σ dy.
void tessera_engine_softmax_backward(const float *y, const float *dy, float *dx, size_t rows, size_t cols, int logarithm);
/// y = x · rstd · w per row, rstd = 1/√(mean(x²) + ε) stored per row.
void tessera_engine_rmsnorm(const float *x, const float *w, float *y, float *rstd, size_t rows, size_t cols, float epsilon);
/// dx = rstd · (dy⊙w − x · rstd² · ⟨dy⊙w, x⟩ / cols) per row.
void tessera_engine_rmsnorm_backward(const float *x, const float *w, const float *rstd, const float *dy, float *dx, size_t rows,
                                     size_t cols);
/// dw[i] = Σ_rows dy[r][i] · x[r][i] · rstd[r] for i in [begin, end), rows in order.
void tessera_engine_rmsnorm_weight_grad(const float *x, const float *rstd, const float *dy, float *dw, size_t rows, size_t cols,
                                        size_t begin, size_t end);
/// Per row: lse = log Σ exp(logits), loss = lse − logits[target]. Targets must be in [0, classes).
void tessera_engine_cross_entropy(const float *logits, const int32_t *targets, size_t rows, size_t classes, float *lse,
                                  float *losses);
/// dlogits = scale · (exp(logits − lse) − onehot(target)) per row.
void tessera_engine_cross_entropy_backward(const float *logits, const int32_t *targets, const float *lse, float scale,
                                           float *dlogits, size_t rows, size_t classes);
/// y = silu(gate) ⊙ up.
void tessera_engine_swiglu(const float *gate, const float *up, float *y, size_t n);
/// The gradients of swiglu for upstream dy.
void tessera_engine_swiglu_backward(const float *gate, const float *up, const float *dy, float *dgate, float *dup, size_t n);
/// Rotate-half rotary embedding of one position's `heads` vectors of `head_dim` (even) floats with
/// that position's cos and sin tables (head_dim / 2 each); `inverse` rotates back (the gradient).
void tessera_engine_rope_row(const float *x, float *y, size_t heads, size_t head_dim, const float *cosine, const float *sine,
                             int inverse);
/// In place, rows t in [first, first + count) of a positions × positions score matrix: softmax over
/// entries 0…t, zeros after (entries past t are not read).
void tessera_engine_causal_softmax(float *scores, size_t positions, size_t first, size_t count);
/// In place on rows [first, first + count) of ds (holding dP): ds = P ⊙ (dP − ⟨dP, P⟩) · scale over
/// the causal part of each row, zeros after (entries past t are not read).
void tessera_engine_attention_score_grad(const float *probabilities, float *ds, size_t positions, float scale, size_t first,
                                         size_t count);
/// Floats of scratch the fused attention kernels need: head_dim × positions rounded up to 16.
size_t tessera_engine_attention_scratch_floats(size_t positions, size_t head_dim);
/// Causal attention of one (batch, head) pair without BLAS; head_dim must be a multiple of 16.
/// q, out: `positions` rows of head_dim floats at q_stride / out_stride; k, v at kv_stride.
/// S = scale · Q·Kᵀ over each row's causal part (entries j ≤ t only), P = softmax(S) written to
/// `probabilities` (positions × positions, zeros above the diagonal), O = P·V. Every entry of S
/// and O is a sequential sum from +0 (over d, over j ascending), the same at every level.
void tessera_engine_attention_forward(const float *q, size_t q_stride, const float *k, const float *v, size_t kv_stride, float *out,
                                      size_t out_stride, float *probabilities, size_t positions, size_t head_dim, float scale,
                                      float *scratch);
/// Gradients of tessera_engine_attention_forward for upstream dout (rows at q_stride): dP = dO·Vᵀ,
/// dS = P ⊙ (dP − ⟨dP, P⟩) · scale (into ds, positions × positions), dQ = dS·K (written),
/// dK = dSᵀ·Q and dV = Pᵀ·dO (written, or added when `accumulate`: grouped query heads).
void tessera_engine_attention_backward(const float *q, size_t q_stride, const float *k, const float *v, size_t kv_stride,
                                       const float *probabilities, const float *dout, float *dq, float *dk, float *dv, float *ds,
                                       size_t positions, size_t head_dim, float scale, int accumulate, float *scratch);
/// The binary operations of tessera_engine_binary.
typedef enum { TESSERA_ENGINE_ADD = 0, TESSERA_ENGINE_SUBTRACT = 1, TESSERA_ENGINE_MULTIPLY = 2, TESSERA_ENGINE_DIVIDE = 3 } tessera_engine_operation;
/// c = a op b elementwise.
void tessera_engine_binary(tessera_engine_operation operation, const float *a, const float *b, float *c, size_t n);
/// c = a op scalar, or scalar op a when `scalar_on_left`.
void tessera_engine_binary_scalar(tessera_engine_operation operation, const float *a, float scalar, int scalar_on_left, float *c,
                                  size_t n);
/// a += b.
void tessera_engine_accumulate(float *a, const float *b, size_t n);
/// y = exp(x) (≤ 2 ulp; the engine's exp everywhere).
void tessera_engine_exp(const float *x, float *y, size_t n);
/// y = x · sigmoid(x).
void tessera_engine_silu(const float *x, float *y, size_t n);
/// table[indices[r]] += rows[r] (rows of `dim` floats), in order of r, for indices in [first, end)
/// only (so threads can own disjoint index ranges).
void tessera_engine_add_rows(float *table, const int32_t *indices, const float *rows, size_t count, size_t dim, int32_t first,
                             int32_t end);
/// Constants of one AdamW step (decoupled weight decay, bias-corrected).
typedef struct {
    float beta1, beta2, epsilon;
    /// 1 − lr · weight_decay.
    float decay;
    /// lr / (1 − β1ᵗ).
    float step_size;
    /// √(1 − β2ᵗ).
    float bias2_root;
} tessera_adamw_constants;
/// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p = p·decay − step_size · m / (√v / bias2_root + ε).
void tessera_engine_adamw(float *p, const float *g, float *m, float *v, size_t n, const tessera_adamw_constants *constants);
/// Σ x in the engine's fixed order (16 lane partials, a fixed tree, then the tail).
float tessera_engine_sum(const float *x, size_t n);
/// ⟨a, b⟩ in the same order.
float tessera_engine_dot(const float *a, const float *b, size_t n);

#ifdef __cplusplus
}
#endif

#endif
