import TesseraCore

extension Tensor {
    /// The matrix product of two rank-2 tensors, optionally transposing either operand first
    /// (without materializing the transpose), through `cblas_sgemm`.
    /// - Throws: ``TensorError`` `.shapeMismatch` naming the inner dimensions that differ.
    /// - Complexity: O(m·n·k).
    public static func matmul(
        _ lhs: Tensor, _ rhs: Tensor, transposeLeft: Bool = false, transposeRight: Bool = false
    ) throws -> Tensor {
        guard lhs.rank == 2, rhs.rank == 2 else {
            throw TensorError(.shapeMismatch, "matmul: needs rank-2 operands, got \(Shape.describe(lhs.shape)) and \(Shape.describe(rhs.shape)); use batchedMatmul for more dimensions")
        }
        let m = transposeLeft ? lhs.shape[1] : lhs.shape[0]
        let k = transposeLeft ? lhs.shape[0] : lhs.shape[1]
        let k2 = transposeRight ? rhs.shape[1] : rhs.shape[0]
        let n = transposeRight ? rhs.shape[0] : rhs.shape[1]
        guard k == k2 else {
            throw TensorError(.shapeMismatch, "matmul: inner dimensions differ: lhs \(Shape.describe(lhs.shape))\(transposeLeft ? "ᵀ" : "") has \(k) columns, rhs \(Shape.describe(rhs.shape))\(transposeRight ? "ᵀ" : "") has \(k2) rows")
        }
        let out = Tensor(uninitializedShape: [m, n])
        if k == 0 {
            out.storage.base.initialize(repeating: 0, count: m * n)
        } else if m > 0, n > 0 {
            gemm(
                transposeA: transposeLeft, transposeB: transposeRight, m: m, n: n, k: k,
                a: lhs.base, lda: lhs.shape[1], b: rhs.base, ldb: rhs.shape[1], c: out.storage.base, ldc: n)
        }
        return out
    }

    /// Batched matrix product: `lhs` is `[batch…, m, k]`, `rhs` is `[batch…, k, n]` with the same
    /// batch dimensions, or a rank-2 `[k, n]` shared by every batch. One `cblas_sgemm` per batch.
    /// - Throws: ``TensorError`` `.shapeMismatch` naming the dimension that differs.
    public static func batchedMatmul(
        _ lhs: Tensor, _ rhs: Tensor, transposeLeft: Bool = false, transposeRight: Bool = false
    ) throws -> Tensor {
        guard lhs.rank >= 2, rhs.rank >= 2 else {
            throw TensorError(.shapeMismatch, "batchedMatmul: operands need rank ≥ 2, got \(Shape.describe(lhs.shape)) and \(Shape.describe(rhs.shape))")
        }
        let batchShape = Array(lhs.shape.dropLast(2))
        let sharedRight = rhs.rank == 2 && lhs.rank > 2
        if !sharedRight {
            guard Array(rhs.shape.dropLast(2)) == batchShape else {
                throw TensorError(.shapeMismatch, "batchedMatmul: batch dimensions differ: \(Shape.describe(batchShape)) vs \(Shape.describe(Array(rhs.shape.dropLast(2))))")
            }
        }
        let lr = lhs.shape[lhs.rank - 2], lc = lhs.shape[lhs.rank - 1]
        let rr = rhs.shape[rhs.rank - 2], rc = rhs.shape[rhs.rank - 1]
        let m = transposeLeft ? lc : lr, k = transposeLeft ? lr : lc
        let k2 = transposeRight ? rc : rr, n = transposeRight ? rr : rc
        guard k == k2 else {
            throw TensorError(.shapeMismatch, "batchedMatmul: inner dimensions differ: lhs \(Shape.describe(lhs.shape)) gives k = \(k), rhs \(Shape.describe(rhs.shape)) gives k = \(k2)")
        }
        let batches = batchShape.reduce(1, *)
        let out = Tensor(uninitializedShape: batchShape + [m, n])
        if k == 0 {
            out.storage.base.initialize(repeating: 0, count: batches * m * n)
            return out
        }
        for b in 0..<batches where m > 0 && n > 0 {
            gemm(
                transposeA: transposeLeft, transposeB: transposeRight, m: m, n: n, k: k,
                a: lhs.base + b * lr * lc, lda: lc,
                b: rhs.base + (sharedRight ? 0 : b * rr * rc), ldb: rc,
                c: out.storage.base + b * m * n, ldc: n)
        }
        return out
    }

    /// `x · Wᵀ` for `x` of shape `[…, in]` and a weight `[out, in]` (PyTorch's `F.linear`
    /// without bias): one `cblas_sgemm` over all leading dimensions.
    /// - Throws: ``TensorError`` `.shapeMismatch` if the last dimension of `x` is not `in`.
    public static func linear(_ x: Tensor, weight: Tensor) throws -> Tensor {
        guard weight.rank == 2, x.rank >= 1, x.shape[x.rank - 1] == weight.shape[1] else {
            throw TensorError(.shapeMismatch, "linear: input \(Shape.describe(x.shape)) has last dimension \(x.shape.last ?? 0) but weight \(Shape.describe(weight.shape)) expects \(weight.rank == 2 ? weight.shape[1] : -1)")
        }
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        let rows = x.scalarCount / max(1, inFeatures)
        let out = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outFeatures])
        if rows == 0 || outFeatures == 0 { return out }
        if inFeatures == 0 {
            out.storage.base.initialize(repeating: 0, count: rows * outFeatures)
            return out
        }
        gemm(
            transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
            a: x.base, lda: inFeatures, b: weight.base, ldb: inFeatures, c: out.storage.base, ldc: outFeatures)
        return out
    }
}
