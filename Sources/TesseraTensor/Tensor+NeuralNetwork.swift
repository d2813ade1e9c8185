import TesseraCore

extension Tensor {
    /// Softmax over the last dimension.
    /// - Throws: ``TensorError`` `.shapeMismatch` for a rank-0 tensor.
    public static func softmax(_ x: Tensor) throws -> Tensor {
        try rowwiseSoftmax(x, logarithm: false, operation: "softmax")
    }

    /// Log-softmax over the last dimension (numerically stable).
    /// - Throws: ``TensorError`` `.shapeMismatch` for a rank-0 tensor.
    public static func logSoftmax(_ x: Tensor) throws -> Tensor {
        try rowwiseSoftmax(x, logarithm: true, operation: "logSoftmax")
    }

    static func rowwiseSoftmax(_ x: Tensor, logarithm: Bool, operation: String) throws -> Tensor {
        guard let cols = x.shape.last, cols > 0 else {
            throw TensorError(.shapeMismatch, "\(operation): needs a non-empty last dimension, got \(Shape.describe(x.shape))")
        }
        let out = Tensor(uninitializedShape: x.shape)
        Kernels.softmaxForward(x.base, out.storage.base, rows: x.scalarCount / cols, cols: cols, logarithm: logarithm)
        return out
    }

    /// RMSNorm over the last dimension: `x / √(mean(x²) + ε) · weight`.
    /// - Throws: ``TensorError`` `.shapeMismatch` if `weight` is not `[x.shape.last]`.
    public static func rmsNorm(_ x: Tensor, weight: Tensor, epsilon: Float = 1e-5) throws -> Tensor {
        try rmsNormWithStatistics(x, weight: weight, epsilon: epsilon).output
    }

    static func rmsNormWithStatistics(_ x: Tensor, weight: Tensor, epsilon: Float) throws -> (output: Tensor, rstd: Tensor) {
        guard let cols = x.shape.last, weight.shape == [cols] else {
            throw TensorError(.shapeMismatch, "rmsNorm: weight \(Shape.describe(weight.shape)) must be [\(x.shape.last ?? 0)] for input \(Shape.describe(x.shape))")
        }
        guard epsilon >= 0, epsilon.isFinite else {
            throw TensorError(.invalidArgument, "rmsNorm: epsilon must be finite and ≥ 0, got \(epsilon)")
        }
        let rows = x.scalarCount / max(cols, 1)
        let out = Tensor(uninitializedShape: x.shape)
        let rstd = Tensor(uninitializedShape: [rows])
        Kernels.rmsNormForward(x.base, weight.base, out.storage.base, rstd.storage.base, rows: rows, cols: cols, epsilon: epsilon)
        return (out, rstd)
    }

    /// Mean cross-entropy of `logits` `[N, classes]` against class ids `targets` (`N` of them).
    /// - Throws: ``TensorError`` `.shapeMismatch` for a wrong target count, `.indexOutOfRange` for
    ///   a target outside `0..<classes`.
    public static func crossEntropy(logits: Tensor, targets: [Int32]) throws -> Tensor {
        try crossEntropyWithStatistics(logits: logits, targets: targets).loss
    }

    static func validateTargets(_ targets: [Int32], rows: Int, classes: Int, operation: String) throws {
        guard targets.count == rows else {
            throw TensorError(.shapeMismatch, "\(operation): \(rows) rows of logits but \(targets.count) targets")
        }
        if let bad = targets.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            throw TensorError(.indexOutOfRange, "\(operation): target \(targets[bad]) at position \(bad) is outside 0..<\(classes)")
        }
    }

    static func crossEntropyWithStatistics(logits: Tensor, targets: [Int32]) throws -> (loss: Tensor, lse: Tensor) {
        guard logits.rank == 2, logits.shape[1] > 0 else {
            throw TensorError(.shapeMismatch, "crossEntropy: logits must be [N, classes], got \(Shape.describe(logits.shape))")
        }
        let rows = logits.shape[0], classes = logits.shape[1]
        try validateTargets(targets, rows: rows, classes: classes, operation: "crossEntropy")
        let lse = Tensor(uninitializedShape: [rows])
        var losses = [Float](repeating: 0, count: rows)
        targets.withUnsafeBufferPointer { t in
            losses.withUnsafeMutableBufferPointer { l in
                Kernels.crossEntropyForward(
                    logits.base, t.baseAddress!, rows: rows, classes: classes, lse: lse.storage.base, losses: l.baseAddress!)
            }
        }
        let total = losses.withUnsafeBufferPointer { DeterministicSum.sum($0) }
        return (Tensor(scalar: Float(total / Double(max(rows, 1)))), lse)
    }

    /// Rows of `table` `[vocabulary, dim]` picked by `indices`; the result has shape
    /// `indexShape + [dim]`. This is also gather along axis 0.
    /// - Throws: ``TensorError`` `.indexOutOfRange` naming the first bad index.
    public static func embedding(_ table: Tensor, indices: [Int32], indexShape: [Int]) throws -> Tensor {
        guard table.rank == 2 else {
            throw TensorError(.shapeMismatch, "embedding: table must be [vocabulary, dim], got \(Shape.describe(table.shape))")
        }
        guard Shape.elementCount(indexShape) == indices.count else {
            throw TensorError(.shapeMismatch, "embedding: index shape \(Shape.describe(indexShape)) does not hold \(indices.count) indices")
        }
        let vocabulary = table.shape[0], dim = table.shape[1]
        if let bad = indices.firstIndex(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw TensorError(.indexOutOfRange, "embedding: index \(indices[bad]) at position \(bad) is outside 0..<\(vocabulary)")
        }
        let out = Tensor(uninitializedShape: indexShape + [dim])
        let c = out.storage.base, a = table.base
        for (i, index) in indices.enumerated() {
            (c + i * dim).update(from: a + Int(index) * dim, count: dim)
        }
        return out
    }

    /// Rotary position embedding (rotate-half convention) on `[B, T, heads, headDim]`:
    /// position `t`, pair `i < headDim/2` rotated by `t · θ^(−2i/headDim)`.
    /// - Throws: ``TensorError`` `.shapeMismatch` unless rank 4 with an even head dimension.
    public static func rotaryEmbedding(_ x: Tensor, theta: Float = 10_000) throws -> Tensor {
        let (out, _) = try rotaryEmbeddingWithTables(x, theta: theta)
        return out
    }

    static func rotaryEmbeddingWithTables(_ x: Tensor, theta: Float) throws -> (Tensor, (cos: [Float], sin: [Float])) {
        guard x.rank == 4, x.shape[3] % 2 == 0 else {
            throw TensorError(.shapeMismatch, "rotaryEmbedding: input must be [B, T, heads, headDim] with an even headDim, got \(Shape.describe(x.shape))")
        }
        guard theta > 0, theta.isFinite else {
            throw TensorError(.invalidArgument, "rotaryEmbedding: theta must be positive and finite, got \(theta)")
        }
        let tables = Kernels.ropeTables(positions: x.shape[1], headDim: x.shape[3], theta: theta)
        let out = Tensor(uninitializedShape: x.shape)
        applyRope(x, into: out, tables: tables, inverse: false)
        return (out, tables)
    }

    static func applyRope(_ x: Tensor, into out: Tensor, tables: (cos: [Float], sin: [Float]), inverse: Bool) {
        tables.cos.withUnsafeBufferPointer { c in
            tables.sin.withUnsafeBufferPointer { s in
                Kernels.rope(
                    x.base, out.storage.base, batch: x.shape[0], positions: x.shape[1], heads: x.shape[2],
                    headDim: x.shape[3], cos: c.baseAddress!, sin: s.baseAddress!, inverse: inverse)
            }
        }
    }

    /// `silu(gate) ⊙ up`, the SwiGLU activation.
    /// - Throws: ``TensorError`` `.shapeMismatch` if the shapes differ.
    public static func swiGLU(gate: Tensor, up: Tensor) throws -> Tensor {
        guard gate.shape == up.shape else {
            throw TensorError(.shapeMismatch, "swiGLU: gate \(Shape.describe(gate.shape)) and up \(Shape.describe(up.shape)) differ")
        }
        let out = Tensor(uninitializedShape: gate.shape)
        Kernels.swiGLUForward(gate.base, up.base, out.storage.base, count: gate.scalarCount)
        return out
    }

    /// Causal scaled-dot-product attention with grouped-query heads.
    ///
    /// `query` is `[B, T, heads, headDim]`, `key` and `value` are `[B, T, kvHeads, headDim]` with
    /// `heads` a multiple of `kvHeads` (query head `h` reads key/value head `h / (heads/kvHeads)`).
    /// Scores are scaled by `1/√headDim` and masked so position `t` sees `0…t`. The result is
    /// `[B, T, heads, headDim]`.
    /// - Throws: ``TensorError`` `.shapeMismatch` naming the dimension that differs.
    public static func causalAttention(query: Tensor, key: Tensor, value: Tensor) throws -> Tensor {
        try causalAttentionWithProbabilities(query: query, key: key, value: value).output
    }

    static func attentionShape(query: Tensor, key: Tensor, value: Tensor) throws -> Kernels.AttentionShape {
        guard query.rank == 4, key.rank == 4, value.rank == 4 else {
            throw TensorError(.shapeMismatch, "causalAttention: query, key and value must be [B, T, heads, headDim], got \(Shape.describe(query.shape)), \(Shape.describe(key.shape)), \(Shape.describe(value.shape))")
        }
        guard key.shape == value.shape else {
            throw TensorError(.shapeMismatch, "causalAttention: key \(Shape.describe(key.shape)) and value \(Shape.describe(value.shape)) differ")
        }
        for (d, name) in [(0, "batch"), (1, "positions"), (3, "headDim")] where query.shape[d] != key.shape[d] {
            throw TensorError(.shapeMismatch, "causalAttention: \(name) (dimension \(d)) differs: query \(query.shape[d]), key \(key.shape[d])")
        }
        guard key.shape[2] > 0, query.shape[2] % key.shape[2] == 0 else {
            throw TensorError(.shapeMismatch, "causalAttention: query heads (\(query.shape[2])) must be a multiple of key/value heads (\(key.shape[2]))")
        }
        return Kernels.AttentionShape(
            batch: query.shape[0], positions: query.shape[1], heads: query.shape[2], kvHeads: key.shape[2],
            headDim: query.shape[3])
    }

    static func causalAttentionWithProbabilities(query: Tensor, key: Tensor, value: Tensor) throws -> (output: Tensor, probabilities: Tensor) {
        let s = try attentionShape(query: query, key: key, value: value)
        let out = Tensor(uninitializedShape: query.shape)
        let probabilities = Tensor(uninitializedShape: [s.batch, s.heads, s.positions, s.positions])
        if s.positions > 0, s.headDim > 0 {
            Kernels.attentionForward(
                q: query.base, k: key.base, v: value.base, out: out.storage.base,
                probabilities: probabilities.storage.base, shape: s)
        } else {
            out.storage.base.initialize(repeating: 0, count: out.scalarCount)
        }
        return (out, probabilities)
    }
}
