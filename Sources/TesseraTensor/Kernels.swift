#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CTesseraKernels
import Synchronization
import TesseraCore

/// Raw-pointer kernels shared by the forward ops and their gradients. Rows are split across
/// cores here; each part runs a run-time dispatched C kernel (AVX-512, AVX2 or portable, the
/// same bits at every level; see TesseraEngineKernels.h).
enum Kernels {
    // MARK: Softmax

    static func softmaxForward(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, logarithm: Bool
    ) {
        ParallelLoop.forEachRange(count: rows, minimumChunk: max(1, 4096 / max(cols, 1))) { range in
            tessera_engine_softmax(x + range.lowerBound * cols, y + range.lowerBound * cols, range.count, cols, logarithm ? 1 : 0)
        }
    }

    /// Softmax: dx = y ⊙ (dy − ⟨dy, y⟩). Log-softmax: dx = dy − exp(y) · Σ dy.
    static func softmaxBackward(
        _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
        rows: Int, cols: Int, logarithm: Bool
    ) {
        ParallelLoop.forEachRange(count: rows, minimumChunk: max(1, 4096 / max(cols, 1))) { range in
            let o = range.lowerBound * cols
            tessera_engine_softmax_backward(y + o, dy + o, dx + o, range.count, cols, logarithm ? 1 : 0)
        }
    }

    // MARK: RMSNorm

    /// y = x · rstd · w, rstd = 1/√(mean(x²) + ε), per row of length `cols`.
    static func rmsNormForward(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        _ rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int, epsilon: Float
    ) {
        ParallelLoop.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(cols, 1))) { range in
            let o = range.lowerBound * cols
            tessera_engine_rmsnorm(x + o, w, y + o, rstd + range.lowerBound, range.count, cols, epsilon)
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
            ParallelLoop.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(cols, 1))) { range in
                let o = range.lowerBound * cols
                tessera_engine_rmsnorm_backward(x + o, w, rstd + range.lowerBound, dy + o, dx + o, range.count, cols)
            }
        }
        if let dw {
            ParallelLoop.forEachRange(count: cols, minimumChunk: 16) { range in
                tessera_engine_rmsnorm_weight_grad(x, rstd, dy, dw, rows, cols, range.lowerBound, range.upperBound)
            }
        }
    }

    // MARK: Cross-entropy

    /// Per-row log-sum-exp and loss = lse − x[target].
    static func crossEntropyForward(
        _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, rows: Int, classes: Int,
        lse: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>
    ) {
        ParallelLoop.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(classes, 1))) { range in
            let r = range.lowerBound
            tessera_engine_cross_entropy(logits + r * classes, targets + r, range.count, classes, lse + r, losses + r)
        }
    }

    /// dlogits = scale · (softmax(logits) − onehot(target)).
    static func crossEntropyBackward(
        _ logits: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, _ lse: UnsafePointer<Float>,
        scale: Float, _ dlogits: UnsafeMutablePointer<Float>, rows: Int, classes: Int
    ) {
        ParallelLoop.forEachRange(count: rows, minimumChunk: max(1, 8192 / max(classes, 1))) { range in
            let r = range.lowerBound
            tessera_engine_cross_entropy_backward(logits + r * classes, targets + r, lse + r, scale, dlogits + r * classes, range.count, classes)
        }
    }

    // MARK: SwiGLU

    static func swiGLUForward(
        _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int
    ) {
        ParallelLoop.forEachRange(count: count, minimumChunk: 1 << 15) { range in
            let o = range.lowerBound
            tessera_engine_swiglu(gate + o, up + o, y + o, range.count)
        }
    }

    static func swiGLUBackward(
        _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
        dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, count: Int
    ) {
        ParallelLoop.forEachRange(count: count, minimumChunk: 1 << 15) { range in
            let o = range.lowerBound
            tessera_engine_swiglu_backward(gate + o, up + o, dy + o, dgate + o, dup + o, range.count)
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
        ParallelLoop.forEach(count: batch * positions, minimumChunk: 16) { bt in
            let t = bt % positions
            let o = bt * heads * headDim
            tessera_engine_rope_row(x + o, y + o, heads, headDim, cosTable + t * half, sinTable + t * half, inverse ? 1 : 0)
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

    /// Query rows per block of the causal products: a block of queries only meets the keys up to
    /// its last position, so the products skip the blocks above the diagonal (for 256 positions,
    /// 3 of 4 blocks are computed). Smaller blocks skip more but make products so small that
    /// OpenBLAS runs them at a third of its speed (measured: a 64×64×32 product at 30 GFLOP/s,
    /// 128×128×32 at 66, 256×256×64 at 118, one core of an AVX-512 Xeon).
    static let causalBlock = 128

    /// Whether attention runs in the fused C kernel: head dimensions that are a multiple of 16, at
    /// a vector level with fused multiply-add (the portable build would emulate it in software).
    static func usesFusedAttention(headDim: Int) -> Bool {
        headDim > 0 && headDim % 16 == 0 && VectorKernels.levelInUse != .portable
    }

    /// Causal scaled-dot-product attention. Writes the output `[B, T, H, hd]` and the attention
    /// probabilities `[B, H, T, T]` (zero above the diagonal) for the backward pass. Work is
    /// split across threads by (batch, query head). When the head dimension is a multiple of 16
    /// a fused C kernel computes each pair (four query rows at a time: scores, softmax, output);
    /// otherwise each task runs its own single-threaded BLAS products, block by block of queries.
    static func attentionForward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, probabilities p: UnsafeMutablePointer<Float>, shape s: AttentionShape
    ) {
        blasConfigured()
        let T = s.positions, hd = s.headDim
        let scale = 1 / Float(hd).squareRoot()
        if usesFusedAttention(headDim: hd) {
            // Fused kernel: no BLAS calls for the T×T products, which OpenBLAS runs slowly at
            // these sizes; keys above the diagonal are never computed.
            let scratchCount = tessera_engine_attention_scratch_floats(T, hd)
            let scratch = Tensor(uninitializedShape: [s.pairs, scratchCount])
            let base = scratch.storage.base
            ParallelLoop.forEach(count: s.pairs) { pair in
                tessera_engine_attention_forward(
                    q + s.qOffset(pair), s.qStride, k + s.kvOffset(pair), v + s.kvOffset(pair), s.kvStride,
                    out + s.qOffset(pair), s.qStride, p + pair * s.scoreSize, T, hd, scale, base + pair * scratchCount)
            }
            withExtendedLifetime(scratch) {}
            return
        }
        ParallelLoop.forEach(count: s.pairs) { pair in
            let scores = p + pair * s.scoreSize
            let qPair = q + s.qOffset(pair), kPair = k + s.kvOffset(pair), vPair = v + s.kvOffset(pair)
            var start = 0
            while start < T {
                let rows = min(causalBlock, T - start), end = start + rows
                // S[block, 0..<end] = scale · Q[block] · K[0..<end]ᵀ
                serialGemm(
                    transposeA: false, transposeB: true, m: rows, n: end, k: hd, alpha: scale,
                    a: qPair + start * s.qStride, lda: s.qStride, b: kPair, ldb: s.kvStride, c: scores + start * T, ldc: T)
                tessera_engine_causal_softmax(scores, T, start, rows)
                // O[block] = P[block, 0..<end] · V[0..<end]
                serialGemm(
                    transposeA: false, transposeB: false, m: rows, n: hd, k: end,
                    a: scores + start * T, lda: T, b: vPair, ldb: s.kvStride, c: out + s.qOffset(pair) + start * s.qStride, ldc: s.qStride)
                start = end
            }
        }
    }

    /// Gradients of causal attention. `dq`, `dk` and `dv` are overwritten. Work is split by
    /// (batch, key/value head) so that query heads sharing a key/value head accumulate into it
    /// on one thread, in a fixed order. Products skip the blocks above the diagonal.
    static func attentionBackward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        probabilities p: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch dp: UnsafeMutablePointer<Float>, shape s: AttentionShape
    ) {
        blasConfigured()
        let T = s.positions, hd = s.headDim
        let scale = 1 / Float(hd).squareRoot()
        if usesFusedAttention(headDim: hd) {
            let scratchCount = tessera_engine_attention_scratch_floats(T, hd)
            let groups = s.batch * s.kvHeads
            let scratch = Tensor(uninitializedShape: [groups, scratchCount])
            let base = scratch.storage.base
            ParallelLoop.forEach(count: groups) { group in
                let b = group / s.kvHeads, kvHead = group % s.kvHeads
                for g in 0..<s.groups {
                    let pair = b * s.heads + kvHead * s.groups + g
                    tessera_engine_attention_backward(
                        q + s.qOffset(pair), s.qStride, k + s.kvOffset(pair), v + s.kvOffset(pair), s.kvStride,
                        p + pair * s.scoreSize, dOut + s.qOffset(pair), dq + s.qOffset(pair), dk + s.kvOffset(pair),
                        dv + s.kvOffset(pair), dp + pair * s.scoreSize, T, hd, scale, g == 0 ? 0 : 1, base + group * scratchCount)
                }
            }
            withExtendedLifetime(scratch) {}
            return
        }
        ParallelLoop.forEach(count: s.batch * s.kvHeads) { group in
            let b = group / s.kvHeads, kvHead = group % s.kvHeads
            for g in 0..<s.groups {
                let pair = b * s.heads + kvHead * s.groups + g
                let probs = p + pair * s.scoreSize, dS = dp + pair * s.scoreSize
                let first: Float = g == 0 ? 0 : 1
                let qPair = q + s.qOffset(pair), dOPair = dOut + s.qOffset(pair), dqPair = dq + s.qOffset(pair)
                let kPair = k + s.kvOffset(pair), vPair = v + s.kvOffset(pair)
                let dkPair = dk + s.kvOffset(pair), dvPair = dv + s.kvOffset(pair)
                var start = 0
                while start < T {
                    let rows = min(causalBlock, T - start), end = start + rows
                    // dP[block, 0..<end] = dO[block] · V[0..<end]ᵀ
                    serialGemm(
                        transposeA: false, transposeB: true, m: rows, n: end, k: hd,
                        a: dOPair + start * s.qStride, lda: s.qStride, b: vPair, ldb: s.kvStride, c: dS + start * T, ldc: T)
                    // dS = P ⊙ (dP − ⟨dP, P⟩) · scale
                    tessera_engine_attention_score_grad(probs, dS, T, scale, start, rows)
                    // dQ[block] = dS[block, 0..<end] · K[0..<end]
                    serialGemm(
                        transposeA: false, transposeB: false, m: rows, n: hd, k: end,
                        a: dS + start * T, lda: T, b: kPair, ldb: s.kvStride, c: dqPair + start * s.qStride, ldc: s.qStride)
                    start = end
                }
                start = 0
                while start < T {
                    let keys = min(causalBlock, T - start), later = T - start
                    // dV[block] (+)= P[start..<T, block]ᵀ · dO[start..<T]; dK[block] (+)= dS[start..<T, block]ᵀ · Q[start..<T]
                    serialGemm(
                        transposeA: true, transposeB: false, m: keys, n: hd, k: later,
                        a: probs + start * T + start, lda: T, b: dOPair + start * s.qStride, ldb: s.qStride,
                        beta: first, c: dvPair + start * s.kvStride, ldc: s.kvStride)
                    serialGemm(
                        transposeA: true, transposeB: false, m: keys, n: hd, k: later,
                        a: dS + start * T + start, lda: T, b: qPair + start * s.qStride, ldb: s.qStride,
                        beta: first, c: dkPair + start * s.kvStride, ldc: s.kvStride)
                    start += keys
                }
            }
        }
    }
}
