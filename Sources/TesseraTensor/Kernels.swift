#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import TesseraCore

/// Raw-pointer kernels shared by the forward ops and their gradients. Row loops are split
/// across cores; inner loops are written for the auto-vectorizer or with SIMD8.
enum Kernels {
    // MARK: Row reductions

    @inline(__always)
    static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m8 = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= n {
            let v = load8(x + i)
            m8.replace(with: v, where: v .> m8)
            i += 8
        }
        var m = m8.max()
        while i < n {
            m = max(m, x[i])
            i += 1
        }
        return m
    }

    @inline(__always)
    static func rowDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s8 = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            s8 += load8(a + i) * load8(b + i)
            i += 8
        }
        var s = s8.sum()
        while i < n {
            s += a[i] * b[i]
            i += 1
        }
        return s
    }

    @inline(__always)
    static func rowSum(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
        var s8 = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            s8 += load8(a + i)
            i += 8
        }
        var s = s8.sum()
        while i < n {
            s += a[i]
            i += 1
        }
        return s
    }

    /// y[i] = exp(x[i] - shift); returns Σ y.
    @inline(__always)
    static func expShifted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        var s8 = SIMD8<Float>(repeating: 0)
        let sh = SIMD8<Float>(repeating: shift)
        var i = 0
        while i + 8 <= n {
            let e = vexp(load8(x + i) - sh)
            store8(e, y + i)
            s8 += e
            i += 8
        }
        var s = s8.sum()
        while i < n {
            let e = sexp(x[i] - shift)
            y[i] = e
            s += e
            i += 1
        }
        return s
    }

    // MARK: Softmax

    static func softmaxForward(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, logarithm: Bool
    ) {
        ParallelLoop.forEach(count: rows, minimumChunk: max(1, 4096 / max(cols, 1))) { r in
            let xr = x + r * cols, yr = y + r * cols
            let m = rowMax(xr, cols)
            let s = expShifted(xr, yr, cols, shift: m)
            if logarithm {
                let lse = m + logf(s)
                for i in 0..<cols { yr[i] = xr[i] - lse }
            } else {
                let inv = 1 / s
                for i in 0..<cols { yr[i] *= inv }
            }
        }
    }

    /// Softmax: dx = y ⊙ (dy − ⟨dy, y⟩). Log-softmax: dx = dy − exp(y) · Σ dy.
    static func softmaxBackward(
        _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
        rows: Int, cols: Int, logarithm: Bool
    ) {
        ParallelLoop.forEach(count: rows, minimumChunk: max(1, 4096 / max(cols, 1))) { r in
            let yr = y + r * cols, dyr = dy + r * cols, dxr = dx + r * cols
            if logarithm {
                let s = rowSum(dyr, cols)
                for i in 0..<cols { dxr[i] = dyr[i] - sexp(yr[i]) * s }
            } else {
                let d = rowDot(dyr, yr, cols)
                for i in 0..<cols { dxr[i] = yr[i] * (dyr[i] - d) }
            }
        }
    }

    // MARK: RMSNorm

    /// y = x · rstd · w, rstd = 1/√(mean(x²) + ε), per row of length `cols`.
    static func rmsNormForward(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        _ rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int, epsilon: Float
    ) {
        ParallelLoop.forEach(count: rows, minimumChunk: max(1, 8192 / max(cols, 1))) { r in
            let xr = x + r * cols, yr = y + r * cols
            let ms = rowDot(xr, xr, cols) / Float(cols)
            let s = 1 / (ms + epsilon).squareRoot()
            rstd[r] = s
            for i in 0..<cols { yr[i] = xr[i] * s * w[i] }
        }
    }

    /// dx = rstd · (dy⊙w − x̂ · mean(dy⊙w⊙x̂)); dw = Σ_rows dy ⊙ x̂ (column-parallel, so the
    /// order of additions does not depend on the thread count).
    static func rmsNormBackward(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,
        _ dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?,
        rows: Int, cols: Int
    ) {
        if let dx {
            ParallelLoop.forEach(count: rows, minimumChunk: max(1, 8192 / max(cols, 1))) { r in
                let xr = x + r * cols, dyr = dy + r * cols, dxr = dx + r * cols
                let s = rstd[r]
                var dot: Float = 0
                for i in 0..<cols { dot += dyr[i] * w[i] * xr[i] }
                let c = dot * s * s / Float(cols)
                for i in 0..<cols { dxr[i] = s * (dyr[i] * w[i] - xr[i] * c) }
            }
        }
        if let dw {
            ParallelLoop.forEachRange(count: cols, minimumChunk: 16) { range in
                for i in range { dw[i] = 0 }
                for r in 0..<rows {
                    let xr = x + r * cols, dyr = dy + r * cols
                    let s = rstd[r]
                    for i in range { dw[i] += dyr[i] * xr[i] * s }
                }
            }
        }
    }

    // MARK: Cross-entropy

    /// Per-row log-sum-exp and loss = lse − x[target].
    static func crossEntropyForward(
        _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, rows: Int, classes: Int,
        lse: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>
    ) {
        ParallelLoop.forEach(count: rows, minimumChunk: max(1, 8192 / max(classes, 1))) { r in
            let xr = logits + r * classes
            let m = rowMax(xr, classes)
            var s8 = SIMD8<Float>(repeating: 0)
            let sh = SIMD8<Float>(repeating: m)
            var i = 0
            while i + 8 <= classes {
                s8 += vexp(load8(xr + i) - sh)
                i += 8
            }
            var s = s8.sum()
            while i < classes {
                s += sexp(xr[i] - m)
                i += 1
            }
            let l = m + logf(s)
            lse[r] = l
            losses[r] = l - xr[Int(targets[r])]
        }
    }

    /// dlogits = scale · (softmax(logits) − onehot(target)).
    static func crossEntropyBackward(
        _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, _ lse: UnsafePointer<Float>,
        scale: Float, _ dlogits: UnsafeMutablePointer<Float>, rows: Int, classes: Int
    ) {
        ParallelLoop.forEach(count: rows, minimumChunk: max(1, 8192 / max(classes, 1))) { r in
            let xr = logits + r * classes, dr = dlogits + r * classes
            _ = expShifted(xr, dr, classes, shift: lse[r])
            let sc = SIMD8<Float>(repeating: scale)
            var i = 0
            while i + 8 <= classes {
                store8(load8(dr + i) * sc, dr + i)
                i += 8
            }
            while i < classes {
                dr[i] *= scale
                i += 1
            }
            dr[Int(targets[r])] -= scale
        }
    }

    // MARK: SwiGLU

    static func swiGLUForward(
        _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int
    ) {
        ParallelLoop.forEachRange(count: count, minimumChunk: 1 << 15) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let g = load8(gate + i)
                store8(g * vsigmoid(g) * load8(up + i), y + i)
                i += 8
            }
            while i < range.upperBound {
                y[i] = gate[i] * ssigmoid(gate[i]) * up[i]
                i += 1
            }
        }
    }

    static func swiGLUBackward(
        _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
        dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, count: Int
    ) {
        ParallelLoop.forEachRange(count: count, minimumChunk: 1 << 15) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let g = load8(gate + i), u = load8(up + i), d = load8(dy + i)
                let s = vsigmoid(g)
                let silu = g * s
                store8(d * silu, dup + i)
                store8(d * u * s * (1 + g * (1 - s)), dgate + i)
                i += 8
            }
            while i < range.upperBound {
                let g = gate[i], s = ssigmoid(g)
                dup[i] = dy[i] * g * s
                dgate[i] = dy[i] * up[i] * s * (1 + g * (1 - s))
                i += 1
            }
        }
    }

    // MARK: Rotary position embedding (rotate-half)

    /// cos and sin tables `[positions, half]` computed as PyTorch does in float32:
    /// inv = θ^(−2i/hd), angle = Float(t) · inv.
    static func ropeTables(positions: Int, headDim: Int, theta: Float) -> (cos: [Float], sin: [Float]) {
        let key = RopeKey(positions: positions, headDim: headDim, theta: theta)
        if let cached = ropeCache.withLock({ $0[key] }) { return cached }
        let tables = computeRopeTables(positions: positions, headDim: headDim, theta: theta)
        ropeCache.withLock { cache in
            if cache.count > 64 { cache.removeAll() }
            cache[key] = tables
        }
        return tables
    }

    struct RopeKey: Hashable { let positions: Int, headDim: Int, theta: Float }
    static let ropeCache = Mutex<[RopeKey: (cos: [Float], sin: [Float])]>([:])

    static func computeRopeTables(positions: Int, headDim: Int, theta: Float) -> (cos: [Float], sin: [Float]) {
        let half = headDim / 2
        var cosTable = [Float](repeating: 0, count: positions * half)
        var sinTable = [Float](repeating: 0, count: positions * half)
        for i in 0..<half {
            let inv = powf(theta, -Float(2 * i) / Float(headDim))
            for t in 0..<positions {
                let angle = Float(t) * inv
                cosTable[t * half + i] = Float(cos(Double(angle)))
                sinTable[t * half + i] = Float(sin(Double(angle)))
            }
        }
        return (cosTable, sinTable)
    }

    /// Rotates `x` of shape `[B, T, heads, hd]`; `inverse` applies the transpose (the gradient).
    static func rope(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, positions: Int, heads: Int,
        headDim: Int, cos cosTable: UnsafePointer<Float>, sin sinTable: UnsafePointer<Float>, inverse: Bool
    ) {
        let half = headDim / 2
        let sign: Float = inverse ? -1 : 1
        ParallelLoop.forEach(count: batch * positions, minimumChunk: 16) { bt in
            let t = bt % positions
            let c = cosTable + t * half, s = sinTable + t * half
            for h in 0..<heads {
                let xr = x + (bt * heads + h) * headDim, yr = y + (bt * heads + h) * headDim
                for i in 0..<half {
                    let a = xr[i], b = xr[i + half]
                    let si = sign * s[i]
                    yr[i] = a * c[i] - b * si
                    yr[i + half] = b * c[i] + a * si
                }
            }
        }
    }

    // MARK: Causal attention

    /// Shapes for attention on `[B, T, H, hd]` queries and `[B, T, Hkv, hd]` keys/values.
    struct AttentionShape {
        let batch: Int, positions: Int, heads: Int, kvHeads: Int, headDim: Int
        var groups: Int { heads / kvHeads }
        var qStride: Int { heads * headDim }
        var kvStride: Int { kvHeads * headDim }
        var pairs: Int { batch * heads }
        var scoreSize: Int { positions * positions }
        func qOffset(_ pair: Int) -> Int { (pair / heads) * positions * qStride + (pair % heads) * headDim }
        func kvOffset(_ pair: Int) -> Int { (pair / heads) * positions * kvStride + ((pair % heads) / groups) * headDim }
    }

    /// Softmax of the causal row `t` of scores in place (entries after `t` set to 0).
    @inline(__always)
    static func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, t: Int, width: Int) {
        let valid = t + 1
        let m = rowMax(row, valid)
        let sum = expShifted(row, row, valid, shift: m)
        let inv = 1 / sum
        for j in 0..<valid { row[j] *= inv }
        if valid < width { (row + valid).update(repeating: 0, count: width - valid) }
    }

    /// Causal scaled-dot-product attention. Writes the output `[B, T, H, hd]` and the attention
    /// probabilities `[B, H, T, T]` (zero above the diagonal) for the backward pass. Work is
    /// split across threads by (batch, query head); each task runs its own single-threaded
    /// products, so scores stay in cache between the two products.
    static func attentionForward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, probabilities p: UnsafeMutablePointer<Float>, shape s: AttentionShape
    ) {
        blasConfigured()
        let T = s.positions, hd = s.headDim
        let scale = 1 / Float(hd).squareRoot()
        ParallelLoop.forEach(count: s.pairs) { pair in
            let scores = p + pair * s.scoreSize
            serialGemm(
                transposeA: false, transposeB: true, m: T, n: T, k: hd, alpha: scale,
                a: q + s.qOffset(pair), lda: s.qStride, b: k + s.kvOffset(pair), ldb: s.kvStride, c: scores, ldc: T)
            for t in 0..<T { causalSoftmaxRow(scores + t * T, t: t, width: T) }
            serialGemm(
                transposeA: false, transposeB: false, m: T, n: hd, k: T,
                a: scores, lda: T, b: v + s.kvOffset(pair), ldb: s.kvStride, c: out + s.qOffset(pair), ldc: s.qStride)
        }
    }

    /// Gradients of causal attention. `dq`, `dk` and `dv` are overwritten. Work is split by
    /// (batch, key/value head) so that query heads sharing a key/value head accumulate into it
    /// on one thread, in a fixed order.
    static func attentionBackward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        probabilities p: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch dp: UnsafeMutablePointer<Float>, shape s: AttentionShape
    ) {
        blasConfigured()
        let T = s.positions, hd = s.headDim
        let scale = 1 / Float(hd).squareRoot()
        ParallelLoop.forEach(count: s.batch * s.kvHeads) { group in
            let b = group / s.kvHeads, kvHead = group % s.kvHeads
            for g in 0..<s.groups {
                let pair = b * s.heads + kvHead * s.groups + g
                let probs = p + pair * s.scoreSize, dS = dp + pair * s.scoreSize
                let first: Float = g == 0 ? 0 : 1
                // dP = dO · Vᵀ
                serialGemm(
                    transposeA: false, transposeB: true, m: T, n: T, k: hd,
                    a: dOut + s.qOffset(pair), lda: s.qStride, b: v + s.kvOffset(pair), ldb: s.kvStride, c: dS, ldc: T)
                // dV (+)= Pᵀ · dO
                serialGemm(
                    transposeA: true, transposeB: false, m: T, n: hd, k: T,
                    a: probs, lda: T, b: dOut + s.qOffset(pair), ldb: s.qStride,
                    beta: first, c: dv + s.kvOffset(pair), ldc: s.kvStride)
                // dS = P ⊙ (dP − ⟨dP, P⟩) · scale
                for t in 0..<T {
                    let pr = probs + t * T, dr = dS + t * T
                    let valid = t + 1
                    let d = rowDot(pr, dr, valid)
                    for j in 0..<valid { dr[j] = pr[j] * (dr[j] - d) * scale }
                    if valid < T { (dr + valid).update(repeating: 0, count: T - valid) }
                }
                // dQ = dS · K
                serialGemm(
                    transposeA: false, transposeB: false, m: T, n: hd, k: T,
                    a: dS, lda: T, b: k + s.kvOffset(pair), ldb: s.kvStride, c: dq + s.qOffset(pair), ldc: s.qStride)
                // dK (+)= dSᵀ · Q
                serialGemm(
                    transposeA: true, transposeB: false, m: T, n: hd, k: T,
                    a: dS, lda: T, b: q + s.qOffset(pair), ldb: s.qStride,
                    beta: first, c: dk + s.kvOffset(pair), ldc: s.kvStride)
            }
        }
    }
}
