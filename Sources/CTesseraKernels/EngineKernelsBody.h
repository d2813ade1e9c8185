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
    float m = -__builtin_inff();
    size_t i = 0;
    if (n >= 16) {
        ek_v16 acc = EK_NAME(load)(x);
        for (i = 16; i + 16 <= n; i += 16) {
            ek_v16 v = EK_NAME(load)(x + i);
            acc = EK_NAME(select)(v > acc, v, acc);
        }
        m = EK_NAME(lane_max)(acc);
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
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
        for (size_t j = valid; j < positions; j++) row[j] = 0;
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
        for (j = valid; j < positions; j++) dr[j] = 0;
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
};

#undef EK_NAME
#undef EK_TARGET
