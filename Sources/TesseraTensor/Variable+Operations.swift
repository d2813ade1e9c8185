internal import CTesseraKernels
import TesseraCore

// Differentiable operations. Each computes the forward value with the `Tensor` operation of the
// same name and records the gradient rule; each rule is checked against central finite
// differences in GradientCheckTests.

extension Variable {
    // MARK: Arithmetic

    /// `lhs op rhs` with broadcasting; gradients are summed back over broadcast dimensions.
    public static func binary(_ operation: BinaryOperation, _ lhs: Variable, _ rhs: Variable) throws -> Variable {
        let a = lhs.value, b = rhs.value
        let value = try Tensor.binary(operation, a, b)
        return try GradientTape.record(value, inputs: [lhs, rhs]) { g, tape in
            switch operation {
            case .add:
                if lhs.requiresGradient { try tape.accumulate(g.reduced(toBroadcastShape: a.shape), into: lhs) }
                if rhs.requiresGradient { try tape.accumulate(g.reduced(toBroadcastShape: b.shape), into: rhs) }
            case .subtract:
                if lhs.requiresGradient { try tape.accumulate(g.reduced(toBroadcastShape: a.shape), into: lhs) }
                if rhs.requiresGradient { try tape.accumulate(g.reduced(toBroadcastShape: b.shape).scaled(by: -1), into: rhs) }
            case .multiply:
                if lhs.requiresGradient { try tape.accumulate(Tensor.binary(.multiply, g, b).reduced(toBroadcastShape: a.shape), into: lhs) }
                if rhs.requiresGradient { try tape.accumulate(Tensor.binary(.multiply, g, a).reduced(toBroadcastShape: b.shape), into: rhs) }
            case .divide:
                let gOverB = try Tensor.binary(.divide, g, b)
                if lhs.requiresGradient { try tape.accumulate(gOverB.reduced(toBroadcastShape: a.shape), into: lhs) }
                if rhs.requiresGradient {
                    // d(a/b)/db = −a/b²  →  −(g/b)·(a/b)
                    let ratio = try Tensor.binary(.divide, a, b)
                    let gb = try Tensor.binary(.multiply, gOverB, ratio).scaled(by: -1)
                    try tape.accumulate(gb.reduced(toBroadcastShape: b.shape), into: rhs)
                }
            }
        }
    }

    /// `lhs + rhs` with broadcasting.
    public static func + (lhs: Variable, rhs: Variable) throws -> Variable { try binary(.add, lhs, rhs) }
    /// `lhs − rhs` with broadcasting.
    public static func - (lhs: Variable, rhs: Variable) throws -> Variable { try binary(.subtract, lhs, rhs) }
    /// `lhs ⊙ rhs` with broadcasting.
    public static func * (lhs: Variable, rhs: Variable) throws -> Variable { try binary(.multiply, lhs, rhs) }
    /// `lhs ⊘ rhs` with broadcasting.
    public static func / (lhs: Variable, rhs: Variable) throws -> Variable { try binary(.divide, lhs, rhs) }

    /// `self · alpha`.
    public func scaled(by alpha: Float) throws -> Variable {
        let input = self
        return try GradientTape.record(value.scaled(by: alpha), inputs: [self]) { g, tape in
            try tape.accumulate(g.scaled(by: alpha), into: input)
        }
    }

    /// An elementwise function: exp, log, sqrt, rsqrt, silu, gelu (exact, erf), relu, negate.
    public func applying(_ function: UnaryFunction) throws -> Variable {
        let input = self, x = value
        let y = x.applying(function)
        return try GradientTape.record(y, inputs: [self]) { g, tape in
            let dx = Tensor(uninitializedShape: x.shape)
            let xs = x.base, ys = y.base, gs = g.base, d = dx.storage.base
            ParallelLoop.forEachRange(count: x.scalarCount, minimumChunk: 1 << 15) { range in
                for i in range { d[i] = gs[i] * function.derivative(x: xs[i], y: ys[i]) }
            }
            try tape.accumulate(dx, into: input)
        }
    }

    // MARK: Reductions

    /// The sum over `axes` (everything when empty).
    public func sum(alongAxes axes: [Int] = [], keepingDimensions: Bool = false) throws -> Variable {
        let input = self, inputShape = value.shape
        let keptShape = try value.sum(alongAxes: axes, keepingDimensions: true).shape
        let y = try value.sum(alongAxes: axes, keepingDimensions: keepingDimensions)
        return try GradientTape.record(y, inputs: [self]) { g, tape in
            try tape.accumulate(g.reshaped(to: keptShape).expanded(to: inputShape), into: input)
        }
    }

    /// The mean over `axes` (everything when empty).
    public func mean(alongAxes axes: [Int] = [], keepingDimensions: Bool = false) throws -> Variable {
        let n = axes.isEmpty ? value.scalarCount : try axes.reduce(1) { $0 * value.shape[try value.normalizedAxis($1, operation: "mean")] }
        return try sum(alongAxes: axes, keepingDimensions: keepingDimensions).scaled(by: 1 / Float(max(n, 1)))
    }

    // MARK: Shape

    /// The same elements with another shape (no copy).
    public func reshaped(to shape: [Int]) throws -> Variable {
        let input = self, inputShape = value.shape
        return try GradientTape.record(value.reshaped(to: shape), inputs: [self]) { g, tape in
            try tape.accumulate(g.reshaped(to: inputShape), into: input)
        }
    }

    /// Dimensions reordered by `permutation`.
    public func permuted(_ permutation: [Int]) throws -> Variable {
        let input = self
        var inverse = [Int](repeating: 0, count: permutation.count)
        for (i, p) in permutation.enumerated() where p >= 0 && p < inverse.count { inverse[p] = i }
        return try GradientTape.record(value.permuted(permutation), inputs: [self]) { g, tape in
            try tape.accumulate(g.permuted(inverse), into: input)
        }
    }

    /// Two dimensions swapped (default: the last two).
    public func transposed(_ first: Int = -2, _ second: Int = -1) throws -> Variable {
        let a = try value.normalizedAxis(first, operation: "transpose")
        let b = try value.normalizedAxis(second, operation: "transpose")
        var permutation = Array(0..<value.rank)
        permutation.swapAt(a, b)
        return try permuted(permutation)
    }

    /// The elements whose index along `axis` lies in `range`.
    public func slice(alongAxis axis: Int, _ range: Range<Int>) throws -> Variable {
        let input = self, inputShape = value.shape
        let y = try value.slice(alongAxis: axis, range)
        let ax = try value.normalizedAxis(axis, operation: "slice")
        return try GradientTape.record(y, inputs: [self]) { g, tape in
            var parts: [Tensor] = []
            if range.lowerBound > 0 {
                var s = inputShape
                s[ax] = range.lowerBound
                parts.append(try Tensor(zeros: s))
            }
            parts.append(g)
            if range.upperBound < inputShape[ax] {
                var s = inputShape
                s[ax] = inputShape[ax] - range.upperBound
                parts.append(try Tensor(zeros: s))
            }
            try tape.accumulate(Tensor.concatenate(parts, alongAxis: ax), into: input)
        }
    }

    /// `variables` joined along `axis`.
    public static func concatenate(_ variables: [Variable], alongAxis axis: Int) throws -> Variable {
        let y = try Tensor.concatenate(variables.map(\.value), alongAxis: axis)
        let ax = try y.normalizedAxis(axis, operation: "concatenate")
        return try GradientTape.record(y, inputs: variables) { g, tape in
            var start = 0
            for v in variables {
                let n = v.shape[ax]
                if v.requiresGradient { try tape.accumulate(g.slice(alongAxis: ax, start..<(start + n)), into: v) }
                start += n
            }
        }
    }

    // MARK: Linear algebra

    /// Rank-2 matrix product, optionally transposing either operand.
    public static func matmul(
        _ lhs: Variable, _ rhs: Variable, transposeLeft: Bool = false, transposeRight: Bool = false
    ) throws -> Variable {
        let a = lhs.value, b = rhs.value
        let y = try Tensor.matmul(a, b, transposeLeft: transposeLeft, transposeRight: transposeRight)
        return try GradientTape.record(y, inputs: [lhs, rhs]) { g, tape in
            let (da, db) = try matmulGradients(g, a, b, transposeLeft, transposeRight, product: { try Tensor.matmul($0, $1, transposeLeft: $2, transposeRight: $3) })
            if lhs.requiresGradient { try tape.accumulate(da, into: lhs) }
            if rhs.requiresGradient { try tape.accumulate(db, into: rhs) }
        }
    }

    /// Batched matrix product over leading dimensions (see ``Tensor/batchedMatmul(_:_:transposeLeft:transposeRight:)``).
    public static func batchedMatmul(
        _ lhs: Variable, _ rhs: Variable, transposeLeft: Bool = false, transposeRight: Bool = false
    ) throws -> Variable {
        let a = lhs.value, b = rhs.value
        let y = try Tensor.batchedMatmul(a, b, transposeLeft: transposeLeft, transposeRight: transposeRight)
        let sharedRight = b.rank == 2 && a.rank > 2
        return try GradientTape.record(y, inputs: [lhs, rhs]) { g, tape in
            if sharedRight {
                // Treat the shared right operand as broadcast: compute per batch, then sum.
                let batches = a.shape.dropLast(2).reduce(1, *)
                let expandedB = try Tensor.concatenate(Array(repeating: b.reshaped(to: [1] + b.shape), count: batches), alongAxis: 0)
                let a3 = try a.reshaped(to: [batches] + Array(a.shape.suffix(2)))
                let g3 = try g.reshaped(to: [batches] + Array(g.shape.suffix(2)))
                let (da, db) = try matmulGradients(g3, a3, expandedB, transposeLeft, transposeRight, product: { try Tensor.batchedMatmul($0, $1, transposeLeft: $2, transposeRight: $3) })
                if lhs.requiresGradient { try tape.accumulate(da.reshaped(to: a.shape), into: lhs) }
                if rhs.requiresGradient { try tape.accumulate(db.sum(alongAxes: [0]), into: rhs) }
            } else {
                let (da, db) = try matmulGradients(g, a, b, transposeLeft, transposeRight, product: { try Tensor.batchedMatmul($0, $1, transposeLeft: $2, transposeRight: $3) })
                if lhs.requiresGradient { try tape.accumulate(da, into: lhs) }
                if rhs.requiresGradient { try tape.accumulate(db, into: rhs) }
            }
        }
    }

    /// `self · weightᵀ` over the last dimension (a bias-free linear layer).
    public func linear(_ weight: Variable) throws -> Variable {
        let input = self, x = value, w = weight.value
        let y = try Tensor.linear(x, weight: w)
        return try GradientTape.record(y, inputs: [self, weight]) { g, tape in
            let inFeatures = w.shape[1], outFeatures = w.shape[0]
            let rows = x.scalarCount / max(1, inFeatures)
            guard rows > 0, inFeatures > 0, outFeatures > 0 else { return }
            if input.requiresGradient {
                let dx = Tensor(uninitializedShape: x.shape)
                gemm(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                     a: g.base, lda: outFeatures, b: w.base, ldb: inFeatures, c: dx.storage.base, ldc: inFeatures)
                try tape.accumulate(dx, into: input)
            }
            if weight.requiresGradient {
                let dw = Tensor(uninitializedShape: w.shape)
                gemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                     a: g.base, lda: outFeatures, b: x.base, ldb: inFeatures, c: dw.storage.base, ldc: inFeatures)
                try tape.accumulate(dw, into: weight)
            }
        }
    }

    // MARK: Neural-network operations

    /// Rows of the table `self` (`[vocabulary, dim]`) picked by `indices`; gradient by scatter-add.
    public func embedding(indices: [Int32], indexShape: [Int]) throws -> Variable {
        let table = self, tableShape = value.shape
        let y = try Tensor.embedding(value, indices: indices, indexShape: indexShape)
        return try GradientTape.record(y, inputs: [self]) { g, tape in
            let dim = tableShape[1]
            let dt = try Tensor(zeros: tableShape)
            let d = dt.storage.base, gs = g.base
            let vocabulary = tableShape[0]
            // Threads own disjoint ranges of the vocabulary; each adds its rows in index order,
            // so the sums do not depend on the thread count.
            indices.withUnsafeBufferPointer { ids in
                ParallelLoop.forEachRange(count: vocabulary, minimumChunk: max(1, vocabulary / 64)) { range in
                    tessera_engine_add_rows(d, ids.baseAddress!, gs, ids.count, dim, Int32(range.lowerBound), Int32(range.upperBound))
                }
            }
            try tape.accumulate(dt, into: table)
        }
    }

    /// Softmax over the last dimension.
    public func softmax() throws -> Variable { try softmaxFamily(logarithm: false) }
    /// Log-softmax over the last dimension.
    public func logSoftmax() throws -> Variable { try softmaxFamily(logarithm: true) }

    private func softmaxFamily(logarithm: Bool) throws -> Variable {
        let input = self
        let y = try Tensor.rowwiseSoftmax(value, logarithm: logarithm, operation: logarithm ? "logSoftmax" : "softmax")
        return try GradientTape.record(y, inputs: [self]) { g, tape in
            let cols = y.shape.last ?? 1
            let dx = Tensor(uninitializedShape: y.shape)
            Kernels.softmaxBackward(y.base, g.base, dx.storage.base, rows: y.scalarCount / cols, cols: cols, logarithm: logarithm)
            try tape.accumulate(dx, into: input)
        }
    }

    /// RMSNorm over the last dimension with a learned scale `weight`.
    public func rmsNorm(weight: Variable, epsilon: Float = 1e-5) throws -> Variable {
        let input = self, x = value, w = weight.value
        let (y, rstd) = try Tensor.rmsNormWithStatistics(x, weight: w, epsilon: epsilon)
        return try GradientTape.record(y, inputs: [self, weight]) { g, tape in
            let cols = w.scalarCount, rows = x.scalarCount / max(cols, 1)
            let dx = input.requiresGradient ? Tensor(uninitializedShape: x.shape) : nil
            let dw = weight.requiresGradient ? Tensor(uninitializedShape: w.shape) : nil
            Kernels.rmsNormBackward(
                x.base, w.base, rstd.base, g.base, dx: dx?.storage.base, dw: dw?.storage.base, rows: rows, cols: cols)
            if let dx { try tape.accumulate(dx, into: input) }
            if let dw { try tape.accumulate(dw, into: weight) }
        }
    }

    /// Mean cross-entropy of logits `self` (`[N, classes]`) against `targets`.
    public func crossEntropy(targets: [Int32]) throws -> Variable {
        let input = self, logits = value
        let (loss, lse) = try Tensor.crossEntropyWithStatistics(logits: logits, targets: targets)
        return try GradientTape.record(loss, inputs: [self]) { g, tape in
            let rows = logits.shape[0], classes = logits.shape[1]
            let dx = Tensor(uninitializedShape: logits.shape)
            let scale = g.base[0] / Float(max(rows, 1))
            targets.withUnsafeBufferPointer { t in
                Kernels.crossEntropyBackward(
                    logits.base, t.baseAddress!, lse.base, scale: scale, dx.storage.base, rows: rows, classes: classes)
            }
            try tape.accumulate(dx, into: input)
        }
    }

    /// Rotary position embedding on `[B, T, heads, headDim]` (rotate-half convention).
    public func rotaryEmbedding(theta: Float = 10_000) throws -> Variable {
        let input = self
        let (y, tables) = try Tensor.rotaryEmbeddingWithTables(value, theta: theta)
        return try GradientTape.record(y, inputs: [self]) { g, tape in
            let dx = Tensor(uninitializedShape: g.shape)
            Tensor.applyRope(g, into: dx, tables: tables, inverse: true)
            try tape.accumulate(dx, into: input)
        }
    }

    /// `silu(gate) ⊙ up`.
    public static func swiGLU(gate: Variable, up: Variable) throws -> Variable {
        let gv = gate.value, uv = up.value
        let y = try Tensor.swiGLU(gate: gv, up: uv)
        return try GradientTape.record(y, inputs: [gate, up]) { g, tape in
            let dg = Tensor(uninitializedShape: gv.shape), du = Tensor(uninitializedShape: uv.shape)
            Kernels.swiGLUBackward(gv.base, uv.base, g.base, dgate: dg.storage.base, dup: du.storage.base, count: gv.scalarCount)
            if gate.requiresGradient { try tape.accumulate(dg, into: gate) }
            if up.requiresGradient { try tape.accumulate(du, into: up) }
        }
    }

    /// Causal grouped-query attention (see ``Tensor/causalAttention(query:key:value:)``).
    public static func causalAttention(query: Variable, key: Variable, value: Variable) throws -> Variable {
        let q = query.value, k = key.value, v = value.value
        let shape = try Tensor.attentionShape(query: q, key: k, value: v)
        let (y, probabilities) = try Tensor.causalAttentionWithProbabilities(query: q, key: k, value: v)
        return try GradientTape.record(y, inputs: [query, key, value]) { g, tape in
            let dq = Tensor(uninitializedShape: q.shape), dk = Tensor(uninitializedShape: k.shape), dv = Tensor(uninitializedShape: v.shape)
            if shape.positions == 0 || shape.headDim == 0 {
                for t in [dq, dk, dv] { t.storage.base.initialize(repeating: 0, count: t.scalarCount) }
            } else {
                let scratch = Tensor(uninitializedShape: probabilities.shape)
                Kernels.attentionBackward(
                    q: q.base, k: k.base, v: v.base, probabilities: probabilities.base, dOut: g.base,
                    dq: dq.storage.base, dk: dk.storage.base, dv: dv.storage.base, scratch: scratch.storage.base,
                    shape: shape)
            }
            if query.requiresGradient { try tape.accumulate(dq, into: query) }
            if key.requiresGradient { try tape.accumulate(dk, into: key) }
            if value.requiresGradient { try tape.accumulate(dv, into: value) }
        }
    }
}

/// Gradients of `C = op(A) · op(B)` for the four transpose combinations, using `product`
/// (rank-2 or batched matmul) with transpose flags so nothing is materialized.
private func matmulGradients(
    _ g: Tensor, _ a: Tensor, _ b: Tensor, _ tA: Bool, _ tB: Bool,
    product: (Tensor, Tensor, Bool, Bool) throws -> Tensor
) throws -> (Tensor, Tensor) {
    switch (tA, tB) {
    case (false, false): (try product(g, b, false, true), try product(a, g, true, false))
    case (true, false): (try product(b, g, false, true), try product(a, g, false, false))
    case (false, true): (try product(g, b, false, false), try product(g, a, true, false))
    case (true, true): (try product(b, g, true, true), try product(g, a, true, true))
    }
}
