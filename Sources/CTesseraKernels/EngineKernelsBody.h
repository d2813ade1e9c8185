// The training engine's kernels, instantiated once per instruction-set level by EngineKernels.c:
// it defines EK_NAME(name) (the level's function name) and EK_TARGET (the target attribute),
// includes this file, and the file undefines both at its end.
//
// Every kernel is written on 16-float vectors (GCC vector extensions): one zmm register with
// AVX-512, two ymm with AVX2, four xmm in portable code. Sums keep 16 lane partials, combined in
// a fixed tree, then the tail added in order; floating-point contraction is off. So every level
// runs the same IEEE operations in the same order and gives the same bits.

// MARK: Vector helpers

EK_TARGET EK_INLINE ek_v16 EK_NAME(load)(const float *p) { return *(const ek_v16u *)p; }
EK_TARGET EK_INLINE void EK_NAME(store)(float *p, ek_v16 v) { *(ek_v16u *)p = v; }

EK_TARGET EK_INLINE ek_v16 EK_NAME(select)(ek_i16 mask, ek_v16 yes, ek_v16 no) {
    return (ek_v16)((mask & (ek_i16)yes) | (~mask & (ek_i16)no));
}

/// The first n (< 16) floats at p in lanes 0..<n, zeros above.
EK_TARGET EK_INLINE ek_v16 EK_NAME(load_tail)(const float *p, size_t n) {
    float lanes[16] = {0};
    for (size_t i = 0; i < n; i++) lanes[i] = p[i];
    return EK_NAME(load)(lanes);
}

/// Stores lanes 0..<n (< 16) of v at p.
EK_TARGET EK_INLINE void EK_NAME(store_tail)(float *p, ek_v16 v, size_t n) {
    float lanes[16];
    EK_NAME(store)(lanes, v);
    for (size_t i = 0; i < n; i++) p[i] = lanes[i];
}

/// v in lanes 0..<n, +0 above (so padding lanes add nothing to a sum).
EK_TARGET EK_INLINE ek_v16 EK_NAME(keep_lanes)(ek_v16 v, size_t n) {
    const ek_i16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    ek_i16 count = {0};
    count += (int32_t)n;
    return EK_NAME(select)(lane < count, v, EK_SPLAT(0.0f));
}

/// The 16 lanes' sum in a fixed tree: (0..7 + 8..15), then halves, quarters, pairs.
EK_TARGET EK_INLINE float EK_NAME(lane_sum)(ek_v16 v) {
    ek_v8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    ek_v4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    float c0 = b[0] + b[2], c1 = b[1] + b[3];
    return c0 + c1;
}

EK_TARGET EK_INLINE float EK_NAME(lane_max)(ek_v16 v) {
    float m = v[0];
    for (int i = 1; i < 16; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/// exp(x) with the Cephes polynomial after range reduction by ln 2 (relative error ≤ 2 ulp on
/// [−87, 88]); 0 below −87.33, +inf above 88.72, NaN for NaN.
EK_TARGET EK_INLINE ek_v16 EK_NAME(exp)(ek_v16 x) {
    const ek_v16 magic = EK_SPLAT(12582912.0f);
    ek_v16 t = x * EK_SPLAT(1.44269504f) + magic;
    ek_v16 n = t - magic;
    ek_v16 r = x - n * EK_SPLAT(0.693359375f);
    r = r + n * EK_SPLAT(2.1219444e-4f);
    ek_v16 p = EK_SPLAT(1.98756915e-4f);
    p = p * r + EK_SPLAT(1.39819995e-3f);
    p = p * r + EK_SPLAT(8.3334519e-3f);
    p = p * r + EK_SPLAT(4.16657959e-2f);
    p = p * r + EK_SPLAT(1.66666655e-1f);
    p = p * r + EK_SPLAT(5.00000012e-1f);
    ek_v16 y = p * (r * r) + r + EK_SPLAT(1.0f);
    ek_u16 bits = ((ek_u16)t - (ek_u16)EK_SPLAT_U(0x4B400000u) + (ek_u16)EK_SPLAT_U(127u)) << 23;
    ek_v16 result = y * (ek_v16)bits;
    result = EK_NAME(select)(x < EK_SPLAT(-87.33f), EK_SPLAT(0.0f), result);
    result = EK_NAME(select)(x > EK_SPLAT(88.72f), EK_SPLAT(__builtin_inff()), result);
    return result;
}

EK_TARGET EK_INLINE ek_v16 EK_NAME(sigmoid)(ek_v16 x) {
    return EK_SPLAT(1.0f) / (EK_SPLAT(1.0f) + EK_NAME(exp)(-x));
}

// MARK: Row reductions

EK_TARGET static float EK_NAME(row_max)(const float *x, size_t n) {
    if (n == 0) return -__builtin_inff();
    ek_v16 acc = EK_SPLAT(-__builtin_inff());
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        ek_v16 v = EK_NAME(load)(x + i);
        acc = EK_NAME(select)(v > acc, v, acc);
    }
    if (i < n) {
        const ek_i16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
        ek_i16 count = {0};
        count += (int32_t)(n - i);
        ek_v16 v = EK_NAME(select)(lane < count, EK_NAME(load_tail)(x + i, n - i), EK_SPLAT(-__builtin_inff()));
        acc = EK_NAME(select)(v > acc, v, acc);
    }
    return EK_NAME(lane_max)(acc);
}

/// Zeros n floats at p.
EK_TARGET static void EK_NAME(zero)(float *p, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) EK_NAME(store)(p + i, EK_SPLAT(0.0f));
    for (; i < n; i++) p[i] = 0;
}

EK_TARGET static float EK_NAME(row_sum)(const float *x, size_t n) {
    ek_v16 acc = EK_SPLAT(0.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) acc += EK_NAME(load)(x + i);
    float s = EK_NAME(lane_sum)(acc);
    for (; i < n; i++) s += x[i];
    return s;
}

EK_TARGET static float EK_NAME(row_dot)(const float *a, const float *b, size_t n) {
    ek_v16 acc = EK_SPLAT(0.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) acc += EK_NAME(load)(a + i) * EK_NAME(load)(b + i);
    float s = EK_NAME(lane_sum)(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/// y[i] = exp(x[i] − shift) (y may be x); returns Σ y (16 lane partials, the tail in the same
/// lanes, then the fixed tree).
EK_TARGET static float EK_NAME(exp_shifted)(const float *x, float *y, size_t n, float shift) {
    ek_v16 acc = EK_SPLAT(0.0f), sh = EK_SPLAT(shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        ek_v16 e = EK_NAME(exp)(EK_NAME(load)(x + i) - sh);
        EK_NAME(store)(y + i, e);
        acc += e;
    }
    if (i < n) {
        // The tail as one padded vector; its padding lanes add +0.
        ek_v16 e = EK_NAME(keep_lanes)(EK_NAME(exp)(EK_NAME(load_tail)(x + i, n - i) - sh), n - i);
        EK_NAME(store_tail)(y + i, e, n - i);
        acc += e;
    }
    return EK_NAME(lane_sum)(acc);
}

/// y[i] = x[i] · a (y may be x).
EK_TARGET static void EK_NAME(scale_row)(const float *x, float *y, size_t n, float a) {
    ek_v16 av = EK_SPLAT(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) EK_NAME(store)(y + i, EK_NAME(load)(x + i) * av);
    for (; i < n; i++) y[i] = x[i] * a;
}

// MARK: Softmax

EK_TARGET static void EK_NAME(softmax)(const float *x, float *y, size_t rows, size_t cols, int logarithm) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = EK_NAME(row_max)(xr, cols);
        float s = EK_NAME(exp_shifted)(xr, yr, cols, m);
        if (logarithm) {
            float lse = m + logf(s);
            ek_v16 l = EK_SPLAT(lse);
            size_t i = 0;
            for (; i + 16 <= cols; i += 16) EK_NAME(store)(yr + i, EK_NAME(load)(xr + i) - l);
            for (; i < cols; i++) yr[i] = xr[i] - lse;
        } else {
            EK_NAME(scale_row)(yr, yr, cols, 1.0f / s);
        }
    }
}

EK_TARGET static void EK_NAME(softmax_backward)(const float *y, const float *dy, float *dx, size_t rows, size_t cols,
                                                int logarithm) {
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *dyr = dy + r * cols;
        float *dxr = dx + r * cols;
        size_t i = 0;
        if (logarithm) {
            float s = EK_NAME(row_sum)(dyr, cols);
            ek_v16 sv = EK_SPLAT(s);
            for (; i + 16 <= cols; i += 16) {
                EK_NAME(store)(dxr + i, EK_NAME(load)(dyr + i) - EK_NAME(exp)(EK_NAME(load)(yr + i)) * sv);
            }
            if (i < cols) {
                size_t rest = cols - i;
                EK_NAME(store_tail)(dxr + i, EK_NAME(load_tail)(dyr + i, rest) - EK_NAME(exp)(EK_NAME(load_tail)(yr + i, rest)) * sv, rest);
            }
        } else {
            float d = EK_NAME(row_dot)(dyr, yr, cols);
            ek_v16 dv = EK_SPLAT(d);
            for (; i + 16 <= cols; i += 16) {
                EK_NAME(store)(dxr + i, EK_NAME(load)(yr + i) * (EK_NAME(load)(dyr + i) - dv));
            }
            for (; i < cols; i++) dxr[i] = yr[i] * (dyr[i] - d);
        }
    }
}

// MARK: RMSNorm

EK_TARGET static void EK_NAME(rmsnorm)(const float *x, const float *w, float *y, float *rstd, size_t rows, size_t cols,
                                       float epsilon) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float ms = EK_NAME(row_dot)(xr, xr, cols) / (float)cols;
        float s = 1.0f / sqrtf(ms + epsilon);
        rstd[r] = s;
        ek_v16 sv = EK_SPLAT(s);
        size_t i = 0;
        for (; i + 16 <= cols; i += 16) EK_NAME(store)(yr + i, EK_NAME(load)(xr + i) * sv * EK_NAME(load)(w + i));
        for (; i < cols; i++) yr[i] = xr[i] * s * w[i];
    }
}

EK_TARGET static void EK_NAME(rmsnorm_backward)(const float *x, const float *w, const float *rstd, const float *dy, float *dx,
                                                size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols, *dyr = dy + r * cols;
        float *dxr = dx + r * cols;
        float s = rstd[r];
        ek_v16 acc = EK_SPLAT(0.0f);
        size_t i = 0;
        for (; i + 16 <= cols; i += 16) acc += EK_NAME(load)(dyr + i) * EK_NAME(load)(w + i) * EK_NAME(load)(xr + i);
        float dot = EK_NAME(lane_sum)(acc);
        for (; i < cols; i++) dot += dyr[i] * w[i] * xr[i];
        float c = dot * s * s / (float)cols;
        ek_v16 sv = EK_SPLAT(s), cv = EK_SPLAT(c);
        for (i = 0; i + 16 <= cols; i += 16) {
            EK_NAME(store)(dxr + i, sv * (EK_NAME(load)(dyr + i) * EK_NAME(load)(w + i) - EK_NAME(load)(xr + i) * cv));
        }
        for (; i < cols; i++) dxr[i] = s * (dyr[i] * w[i] - xr[i] * c);
    }
}

EK_TARGET static void EK_NAME(rmsnorm_weight_grad)(const float *x, const float *rstd, const float *dy, float *dw, size_t rows,
                                                   size_t cols, size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) dw[i] = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols, *dyr = dy + r * cols;
        float s = rstd[r];
        ek_v16 sv = EK_SPLAT(s);
        size_t i = begin;
        for (; i + 16 <= end; i += 16) {
            EK_NAME(store)(dw + i, EK_NAME(load)(dw + i) + EK_NAME(load)(dyr + i) * EK_NAME(load)(xr + i) * sv);
        }
        for (; i < end; i++) dw[i] += dyr[i] * xr[i] * s;
    }
}

// MARK: Cross-entropy

EK_TARGET static void EK_NAME(cross_entropy)(const float *logits, const int32_t *targets, size_t rows, size_t classes,
                                             float *lse, float *losses) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = logits + r * classes;
        float m = EK_NAME(row_max)(xr, classes);
        ek_v16 acc = EK_SPLAT(0.0f), sh = EK_SPLAT(m);
        size_t i = 0;
        for (; i + 16 <= classes; i += 16) acc += EK_NAME(exp)(EK_NAME(load)(xr + i) - sh);
        if (i < classes) acc += EK_NAME(keep_lanes)(EK_NAME(exp)(EK_NAME(load_tail)(xr + i, classes - i) - sh), classes - i);
        float s = EK_NAME(lane_sum)(acc);
        float l = m + logf(s);
        lse[r] = l;
        losses[r] = l - xr[targets[r]];
    }
}

EK_TARGET static void EK_NAME(cross_entropy_backward)(const float *logits, const int32_t *targets, const float *lse, float scale,
                                                      float *dlogits, size_t rows, size_t classes) {
    ek_v16 sc = EK_SPLAT(scale);
    for (size_t r = 0; r < rows; r++) {
        const float *xr = logits + r * classes;
        float *dr = dlogits + r * classes;
        ek_v16 sh = EK_SPLAT(lse[r]);
        size_t i = 0;
        for (; i + 16 <= classes; i += 16) EK_NAME(store)(dr + i, EK_NAME(exp)(EK_NAME(load)(xr + i) - sh) * sc);
        if (i < classes) EK_NAME(store_tail)(dr + i, EK_NAME(exp)(EK_NAME(load_tail)(xr + i, classes - i) - sh) * sc, classes - i);
        dr[targets[r]] -= scale;
    }
}

// MARK: SwiGLU

EK_TARGET static void EK_NAME(swiglu)(const float *gate, const float *up, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        ek_v16 g = EK_NAME(load)(gate + i);
        EK_NAME(store)(y + i, g * EK_NAME(sigmoid)(g) * EK_NAME(load)(up + i));
    }
    if (i < n) {
        ek_v16 g = EK_NAME(load_tail)(gate + i, n - i);
        EK_NAME(store_tail)(y + i, g * EK_NAME(sigmoid)(g) * EK_NAME(load_tail)(up + i, n - i), n - i);
    }
}

EK_TARGET static void EK_NAME(swiglu_backward)(const float *gate, const float *up, const float *dy, float *dgate, float *dup,
                                               size_t n) {
    const ek_v16 one = EK_SPLAT(1.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        ek_v16 g = EK_NAME(load)(gate + i), u = EK_NAME(load)(up + i), d = EK_NAME(load)(dy + i);
        ek_v16 s = EK_NAME(sigmoid)(g);
        EK_NAME(store)(dup + i, d * (g * s));
        EK_NAME(store)(dgate + i, d * u * s * (one + g * (one - s)));
    }
    if (i < n) {
        size_t rest = n - i;
        ek_v16 g = EK_NAME(load_tail)(gate + i, rest), u = EK_NAME(load_tail)(up + i, rest), d = EK_NAME(load_tail)(dy + i, rest);
        ek_v16 s = EK_NAME(sigmoid)(g);
        EK_NAME(store_tail)(dup + i, d * (g * s), rest);
        EK_NAME(store_tail)(dgate + i, d * u * s * (one + g * (one - s)), rest);
    }
}

// MARK: Rotary embedding

EK_TARGET static void EK_NAME(rope_row)(const float *x, float *y, size_t heads, size_t head_dim, const float *cosine,
                                        const float *sine, int inverse) {
    size_t half = head_dim / 2;
    float sign = inverse ? -1.0f : 1.0f;
    ek_v16 sg = EK_SPLAT(sign);
    for (size_t h = 0; h < heads; h++) {
        const float *xr = x + h * head_dim;
        float *yr = y + h * head_dim;
        size_t i = 0;
        for (; i + 16 <= half; i += 16) {
            ek_v16 a = EK_NAME(load)(xr + i), b = EK_NAME(load)(xr + half + i);
            ek_v16 c = EK_NAME(load)(cosine + i), s = sg * EK_NAME(load)(sine + i);
            EK_NAME(store)(yr + i, a * c - b * s);
            EK_NAME(store)(yr + half + i, b * c + a * s);
        }
        for (; i < half; i++) {
            float a = xr[i], b = xr[i + half], si = sign * sine[i];
            yr[i] = a * cosine[i] - b * si;
            yr[i + half] = b * cosine[i] + a * si;
        }
    }
}

// MARK: Attention (the parts between the products)

EK_TARGET static void EK_NAME(causal_softmax)(float *scores, size_t positions, size_t first, size_t count) {
    for (size_t t = first; t < first + count; t++) {
        float *row = scores + t * positions;
        size_t valid = t + 1;
        float m = EK_NAME(row_max)(row, valid);
        float s = EK_NAME(exp_shifted)(row, row, valid, m);
        EK_NAME(scale_row)(row, row, valid, 1.0f / s);
        EK_NAME(zero)(row + valid, positions - valid);
    }
}

EK_TARGET static void EK_NAME(attention_score_grad)(const float *probabilities, float *ds, size_t positions, float scale,
                                                    size_t first, size_t count) {
    ek_v16 sc = EK_SPLAT(scale);
    for (size_t t = first; t < first + count; t++) {
        const float *pr = probabilities + t * positions;
        float *dr = ds + t * positions;
        size_t valid = t + 1;
        float d = EK_NAME(row_dot)(pr, dr, valid);
        ek_v16 dv = EK_SPLAT(d);
        size_t j = 0;
        for (; j + 16 <= valid; j += 16) EK_NAME(store)(dr + j, EK_NAME(load)(pr + j) * (EK_NAME(load)(dr + j) - dv) * sc);
        for (; j < valid; j++) dr[j] = pr[j] * (dr[j] - d) * scale;
        EK_NAME(zero)(dr + valid, positions - valid);
    }
}

// MARK: Fused causal attention (head dimension a multiple of 16)

/// dst[d · stride + j] = src[j · src_stride + d] for j < positions, d < head_dim; columns from
/// positions up to `stride` are zero.
EK_TARGET static void EK_NAME(transpose_rows)(const float *src, size_t src_stride, float *dst, size_t stride, size_t positions,
                                              size_t head_dim) {
    for (size_t d = 0; d < head_dim; d++) {
        float *row = dst + d * stride;
        for (size_t j = 0; j < positions; j++) row[j] = src[j * src_stride + d];
        for (size_t j = positions; j < stride; j++) row[j] = 0;
    }
}

#define EK_FMA(x, y, z) __builtin_elementwise_fma((x), (y), (z))

/// acc[2r + h] += x_r · b_h (fused) for four rows r and two 16-float halves h.
EK_TARGET EK_INLINE void EK_NAME(fma_block)(ek_v16 *acc, float x0, float x1, float x2, float x3, ek_v16 b0, ek_v16 b1) {
    ek_v16 s0 = EK_SPLAT(x0), s1 = EK_SPLAT(x1), s2 = EK_SPLAT(x2), s3 = EK_SPLAT(x3);
    acc[0] = EK_FMA(s0, b0, acc[0]);
    acc[1] = EK_FMA(s0, b1, acc[1]);
    acc[2] = EK_FMA(s1, b0, acc[2]);
    acc[3] = EK_FMA(s1, b1, acc[3]);
    acc[4] = EK_FMA(s2, b0, acc[4]);
    acc[5] = EK_FMA(s2, b1, acc[5]);
    acc[6] = EK_FMA(s3, b0, acc[6]);
    acc[7] = EK_FMA(s3, b1, acc[7]);
}

/// Stores (or adds, when `accumulate`) acc[2r], and acc[2r + 1] when `two`, as rows r < rows of
/// out at out_stride.
EK_TARGET EK_INLINE void EK_NAME(store_rows)(const ek_v16 *acc, float *out, size_t out_stride, size_t rows, int two,
                                            int accumulate) {
    for (size_t r = 0; r < rows; r++) {
        float *dst = out + r * out_stride;
        for (int h = 0; h < 1 + two; h++) {
            ek_v16 value = accumulate ? EK_NAME(load)(dst + 16 * h) + acc[2 * r + h] : acc[2 * r + h];
            EK_NAME(store)(dst + 16 * h, value);
        }
    }
}

/// Rows [first, first + rows) (rows ≤ 4) of out = scale · A · Bᵀ over keys 0…last row, with
/// bt = Bᵀ (head_dim rows of `stride` floats, zero-padded): each entry a chain of fused
/// multiply-adds over d ascending from +0, then one multiply by scale; 32 keys per pass.
EK_TARGET static void EK_NAME(causal_rows_times_transposed)(const float *a, size_t a_stride, const float *bt, size_t stride,
                                                            float *out, size_t positions, size_t head_dim, float scale,
                                                            size_t first, size_t rows) {
    size_t keys = first + rows;  // the last row's causal width
    ek_v16 sc = EK_SPLAT(scale);
    const float *ar[4];
    for (size_t r = 0; r < 4; r++) ar[r] = a + (first + (r < rows ? r : 0)) * a_stride;
    for (size_t j0 = 0; j0 < keys; j0 += 32) {
        ek_v16 acc[8];
        for (int i = 0; i < 8; i++) acc[i] = EK_SPLAT(0.0f);
        int two = j0 + 16 < keys;
        for (size_t d = 0; d < head_dim; d++) {
            const float *brow = bt + d * stride + j0;
            ek_v16 b0 = EK_NAME(load)(brow), b1 = two ? EK_NAME(load)(brow + 16) : EK_SPLAT(0.0f);
            EK_NAME(fma_block)(acc, ar[0][d], ar[1][d], ar[2][d], ar[3][d], b0, b1);
        }
        for (size_t r = 0; r < rows; r++) {
            for (size_t h = 0; h < 2; h++) {
                size_t j = j0 + 16 * h;
                if (j >= keys) break;
                float *dst = out + (first + r) * positions + j;
                size_t width = positions - j < 16 ? positions - j : 16;
                if (width == 16) EK_NAME(store)(dst, acc[2 * r + h] * sc);
                else EK_NAME(store_tail)(dst, acc[2 * r + h] * sc, width);
            }
        }
    }
}

/// Rows [first, first + rows) (rows ≤ 4) of out = W · B, W lower-triangular (positions ×
/// positions, zeros above the diagonal), B `positions` rows of head_dim at b_stride: each entry
/// a chain of fused multiply-adds over j ascending from +0; 32 columns per pass.
EK_TARGET static void EK_NAME(causal_rows_times)(const float *w, const float *b, size_t b_stride, float *out, size_t out_stride,
                                                 size_t positions, size_t head_dim, size_t first, size_t rows) {
    const float *wr[4];
    for (size_t r = 0; r < 4; r++) wr[r] = w + (first + (r < rows ? r : 0)) * positions;
    size_t keys = first + rows;
    for (size_t c0 = 0; c0 < head_dim; c0 += 32) {
        int two = c0 + 16 < head_dim;
        ek_v16 acc[8];
        for (int i = 0; i < 8; i++) acc[i] = EK_SPLAT(0.0f);
        for (size_t j = 0; j < keys; j++) {
            const float *brow = b + j * b_stride + c0;
            ek_v16 b0 = EK_NAME(load)(brow), b1 = two ? EK_NAME(load)(brow + 16) : EK_SPLAT(0.0f);
            EK_NAME(fma_block)(acc, wr[0][j], wr[1][j], wr[2][j], wr[3][j], b0, b1);
        }
        EK_NAME(store_rows)(acc, out + first * out_stride + c0, out_stride, rows, two, 0);
    }
}

/// Rows [first, first + rows) (rows ≤ 4) of out (+)= Wᵀ · A for W lower-triangular: out[j] =
/// Σ_{i ≥ j} W[i][j] · A[i] as a chain of fused multiply-adds over i ascending from +0 (the
/// entries above the diagonal are zeros and add nothing), added to out[j] at the end when
/// `accumulate`; 32 columns per pass.
EK_TARGET static void EK_NAME(causal_transposed_times)(const float *w, const float *a, size_t a_stride, float *out,
                                                       size_t out_stride, size_t positions, size_t head_dim, size_t first,
                                                       size_t rows, int accumulate) {
    size_t column[4];
    for (size_t r = 0; r < 4; r++) column[r] = first + (r < rows ? r : 0);
    for (size_t c0 = 0; c0 < head_dim; c0 += 32) {
        int two = c0 + 16 < head_dim;
        ek_v16 acc[8];
        for (int i = 0; i < 8; i++) acc[i] = EK_SPLAT(0.0f);
        for (size_t i = first; i < positions; i++) {
            const float *arow = a + i * a_stride + c0;
            const float *wrow = w + i * positions;
            ek_v16 b0 = EK_NAME(load)(arow), b1 = two ? EK_NAME(load)(arow + 16) : EK_SPLAT(0.0f);
            EK_NAME(fma_block)(acc, wrow[column[0]], wrow[column[1]], wrow[column[2]], wrow[column[3]], b0, b1);
        }
        EK_NAME(store_rows)(acc, out + first * out_stride + c0, out_stride, rows, two, accumulate);
    }
}

EK_TARGET static void EK_NAME(attention_forward)(const float *q, size_t q_stride, const float *k, const float *v,
                                                 size_t kv_stride, float *out, size_t out_stride, float *p, size_t positions,
                                                 size_t head_dim, float scale, float *scratch) {
    size_t stride = (positions + 15) / 16 * 16;
    EK_NAME(transpose_rows)(k, kv_stride, scratch, stride, positions, head_dim);
    for (size_t first = 0; first < positions; first += 4) {
        size_t rows = positions - first < 4 ? positions - first : 4;
        EK_NAME(causal_rows_times_transposed)(q, q_stride, scratch, stride, p, positions, head_dim, scale, first, rows);
        EK_NAME(causal_softmax)(p, positions, first, rows);
        EK_NAME(causal_rows_times)(p, v, kv_stride, out, out_stride, positions, head_dim, first, rows);
    }
}

EK_TARGET static void EK_NAME(attention_backward)(const float *q, size_t q_stride, const float *k, const float *v,
                                                  size_t kv_stride, const float *p, const float *dout, float *dq, float *dk,
                                                  float *dv, float *ds, size_t positions, size_t head_dim, float scale,
                                                  int accumulate, float *scratch) {
    size_t stride = (positions + 15) / 16 * 16;
    EK_NAME(transpose_rows)(v, kv_stride, scratch, stride, positions, head_dim);
    for (size_t first = 0; first < positions; first += 4) {
        size_t rows = positions - first < 4 ? positions - first : 4;
        // dP = dO · Vᵀ, then dS = P ⊙ (dP − ⟨dP, P⟩) · scale, then dQ = dS · K.
        EK_NAME(causal_rows_times_transposed)(dout, q_stride, scratch, stride, ds, positions, head_dim, 1.0f, first, rows);
        EK_NAME(attention_score_grad)(p, ds, positions, scale, first, rows);
        EK_NAME(causal_rows_times)(ds, k, kv_stride, dq, q_stride, positions, head_dim, first, rows);
    }
    for (size_t first = 0; first < positions; first += 4) {
        size_t rows = positions - first < 4 ? positions - first : 4;
        EK_NAME(causal_transposed_times)(ds, q, q_stride, dk, kv_stride, positions, head_dim, first, rows, accumulate);
        EK_NAME(causal_transposed_times)(p, dout, q_stride, dv, kv_stride, positions, head_dim, first, rows, accumulate);
    }
}

// MARK: Elementwise

EK_TARGET static void EK_NAME(binary)(int operation, const float *a, const float *b, float *c, size_t n) {
    size_t i = 0;
#define EK_BINARY_LOOP(op)                                                                                     \
    for (; i + 16 <= n; i += 16) EK_NAME(store)(c + i, EK_NAME(load)(a + i) op EK_NAME(load)(b + i));            \
    for (; i < n; i++) c[i] = a[i] op b[i];
    switch (operation) {
    case 0: EK_BINARY_LOOP(+) break;
    case 1: EK_BINARY_LOOP(-) break;
    case 2: EK_BINARY_LOOP(*) break;
    default: EK_BINARY_LOOP(/) break;
    }
#undef EK_BINARY_LOOP
}

EK_TARGET static void EK_NAME(binary_scalar)(int operation, const float *a, float scalar, int scalar_on_left, float *c, size_t n) {
    ek_v16 s = EK_SPLAT(scalar);
    size_t i = 0;
#define EK_SCALAR_LOOP(op)                                                                                               \
    if (scalar_on_left) {                                                                                                  \
        for (; i + 16 <= n; i += 16) EK_NAME(store)(c + i, s op EK_NAME(load)(a + i));                                    \
        for (; i < n; i++) c[i] = scalar op a[i];                                                                          \
    } else {                                                                                                               \
        for (; i + 16 <= n; i += 16) EK_NAME(store)(c + i, EK_NAME(load)(a + i) op s);                                    \
        for (; i < n; i++) c[i] = a[i] op scalar;                                                                          \
    }
    switch (operation) {
    case 0: EK_SCALAR_LOOP(+) break;
    case 1: EK_SCALAR_LOOP(-) break;
    case 2: EK_SCALAR_LOOP(*) break;
    default: EK_SCALAR_LOOP(/) break;
    }
#undef EK_SCALAR_LOOP
}

EK_TARGET static void EK_NAME(accumulate)(float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) EK_NAME(store)(a + i, EK_NAME(load)(a + i) + EK_NAME(load)(b + i));
    for (; i < n; i++) a[i] += b[i];
}

EK_TARGET static void EK_NAME(exp_array)(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) EK_NAME(store)(y + i, EK_NAME(exp)(EK_NAME(load)(x + i)));
    if (i < n) EK_NAME(store_tail)(y + i, EK_NAME(exp)(EK_NAME(load_tail)(x + i, n - i)), n - i);
}

EK_TARGET static void EK_NAME(silu)(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        ek_v16 v = EK_NAME(load)(x + i);
        EK_NAME(store)(y + i, v * EK_NAME(sigmoid)(v));
    }
    if (i < n) {
        ek_v16 v = EK_NAME(load_tail)(x + i, n - i);
        EK_NAME(store_tail)(y + i, v * EK_NAME(sigmoid)(v), n - i);
    }
}

// MARK: Embedding

EK_TARGET static void EK_NAME(add_rows)(float *table, const int32_t *indices, const float *rows, size_t count, size_t dim,
                                        int32_t first, int32_t end) {
    for (size_t r = 0; r < count; r++) {
        int32_t index = indices[r];
        if (index < first || index >= end) continue;
        EK_NAME(accumulate)(table + (size_t)index * dim, rows + r * dim, dim);
    }
}

// MARK: AdamW

EK_TARGET static void EK_NAME(adamw)(float *p, const float *g, float *m, float *v, size_t n, const tessera_adamw_constants *k) {
    const ek_v16 b1 = EK_SPLAT(k->beta1), c1 = EK_SPLAT(1.0f - k->beta1), b2 = EK_SPLAT(k->beta2),
                 c2 = EK_SPLAT(1.0f - k->beta2), root = EK_SPLAT(k->bias2_root), eps = EK_SPLAT(k->epsilon),
                 decay = EK_SPLAT(k->decay), step = EK_SPLAT(k->step_size);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        ek_v16 gi = EK_NAME(load)(g + i);
        ek_v16 mi = b1 * EK_NAME(load)(m + i) + c1 * gi;
        ek_v16 vi = b2 * EK_NAME(load)(v + i) + c2 * gi * gi;
        EK_NAME(store)(m + i, mi);
        EK_NAME(store)(v + i, vi);
        ek_v16 denominator = __builtin_elementwise_sqrt(vi) / root + eps;
        EK_NAME(store)(p + i, EK_NAME(load)(p + i) * decay - step * mi / denominator);
    }
    for (; i < n; i++) {
        float gi = g[i];
        float mi = k->beta1 * m[i] + (1.0f - k->beta1) * gi;
        float vi = k->beta2 * v[i] + (1.0f - k->beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denominator = sqrtf(vi) / k->bias2_root + k->epsilon;
        p[i] = p[i] * k->decay - k->step_size * mi / denominator;
    }
}

static const struct engine_table EK_NAME(table) = {
    EK_NAME(softmax), EK_NAME(softmax_backward), EK_NAME(rmsnorm), EK_NAME(rmsnorm_backward), EK_NAME(rmsnorm_weight_grad),
    EK_NAME(cross_entropy), EK_NAME(cross_entropy_backward), EK_NAME(swiglu), EK_NAME(swiglu_backward), EK_NAME(rope_row),
    EK_NAME(causal_softmax), EK_NAME(attention_score_grad), EK_NAME(binary), EK_NAME(binary_scalar), EK_NAME(accumulate),
    EK_NAME(exp_array), EK_NAME(silu), EK_NAME(add_rows), EK_NAME(adamw), EK_NAME(row_sum), EK_NAME(row_dot),
    EK_NAME(attention_forward), EK_NAME(attention_backward),
};

#undef EK_FMA
#undef EK_NAME
#undef EK_TARGET
