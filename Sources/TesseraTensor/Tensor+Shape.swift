import TesseraCore

extension Tensor {
    /// The tensor with its dimensions reordered: output dimension `i` is input dimension
    /// `permutation[i]`.
    /// - Throws: ``TensorError`` `.invalidArgument` if `permutation` is not a permutation of `0..<rank`.
    /// - Complexity: O(n) copy.
    public func permuted(_ permutation: [Int]) throws -> Tensor {
        guard permutation.count == rank, Set(permutation) == Set(0..<rank) else {
            throw TensorError(.invalidArgument, "permute: \(permutation) is not a permutation of the \(rank) dimensions of \(Shape.describe(shape))")
        }
        if permutation == Array(0..<rank) { return self }
        let outShape = permutation.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let permutedStrides = permutation.map { inStrides[$0] }
        let out = Tensor(uninitializedShape: outShape)
        let zero = [Int](repeating: 0, count: rank)
        let a = base, c = out.storage.base
        forEachBroadcastIndex(outShape, permutedStrides, zero) { o, i, _ in c[o] = a[i] }
        return out
    }

    /// The tensor with two dimensions swapped (default: the last two).
    /// - Throws: ``TensorError`` `.invalidArgument` for an axis out of range.
    public func transposed(_ first: Int = -2, _ second: Int = -1) throws -> Tensor {
        let a = try normalizedAxis(first, operation: "transpose")
        let b = try normalizedAxis(second, operation: "transpose")
        var permutation = Array(0..<rank)
        permutation.swapAt(a, b)
        return try permuted(permutation)
    }

    /// The elements whose index along `axis` lies in `range`.
    /// - Throws: ``TensorError`` `.invalidArgument` if the axis or range is out of bounds.
    public func slice(alongAxis axis: Int, _ range: Range<Int>) throws -> Tensor {
        let ax = try normalizedAxis(axis, operation: "slice")
        guard range.lowerBound >= 0, range.upperBound <= shape[ax] else {
            throw TensorError(.invalidArgument, "slice: range \(range) is out of bounds for dimension \(ax) of size \(shape[ax]) in \(Shape.describe(shape))")
        }
        let outer = shape[..<ax].reduce(1, *)
        let inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        outShape[ax] = range.count
        let out = Tensor(uninitializedShape: outShape)
        let a = base, c = out.storage.base
        let block = range.count * inner
        for o in 0..<outer {
            (c + o * block).update(from: a + (o * shape[ax] + range.lowerBound) * inner, count: block)
        }
        return out
    }

    /// Joins `tensors` along `axis`; all other dimensions must agree.
    /// - Throws: ``TensorError`` `.shapeMismatch` naming the tensor and dimension that differ.
    public static func concatenate(_ tensors: [Tensor], alongAxis axis: Int) throws -> Tensor {
        guard let first = tensors.first else {
            throw TensorError(.invalidArgument, "concatenate: no tensors")
        }
        let ax = try first.normalizedAxis(axis, operation: "concatenate")
        for (t, tensor) in tensors.enumerated() {
            guard tensor.rank == first.rank else {
                throw TensorError(.shapeMismatch, "concatenate: tensor \(t) has rank \(tensor.rank), tensor 0 has rank \(first.rank)")
            }
            for d in 0..<first.rank where d != ax && tensor.shape[d] != first.shape[d] {
                throw TensorError(.shapeMismatch, "concatenate: tensor \(t) has size \(tensor.shape[d]) in dimension \(d), tensor 0 has \(first.shape[d])")
            }
        }
        var outShape = first.shape
        outShape[ax] = tensors.reduce(0) { $0 + $1.shape[ax] }
        let outer = first.shape[..<ax].reduce(1, *)
        let inner = first.shape[(ax + 1)...].reduce(1, *)
        let out = Tensor(uninitializedShape: outShape)
        let c = out.storage.base
        let rowBlock = outShape[ax] * inner
        var offset = 0
        for tensor in tensors {
            let block = tensor.shape[ax] * inner
            for o in 0..<outer { (c + o * rowBlock + offset).update(from: tensor.base + o * block, count: block) }
            offset += block
        }
        return out
    }
}
