import TesseraCore

extension Tensor {
    /// Normalizes `axis` (negative counts from the end) or throws.
    func normalizedAxis(_ axis: Int, operation: String, rank: Int? = nil) throws -> Int {
        let r = rank ?? self.rank
        let a = axis < 0 ? axis + r : axis
        guard a >= 0, a < r else {
            throw TensorError(.invalidArgument, "\(operation): axis \(axis) is out of range for a rank-\(r) tensor \(Shape.describe(shape))")
        }
        return a
    }

    /// The sum over `axes`; with `keepingDimensions` the reduced axes stay as size 1.
    /// An empty `axes` sums everything to a scalar.
    /// - Throws: ``TensorError`` `.invalidArgument` for an axis out of range or repeated.
    /// - Complexity: O(n). Sums accumulate in `Float` in index order.
    public func sum(alongAxes axes: [Int] = [], keepingDimensions: Bool = false) throws -> Tensor {
        if axes.isEmpty {
            let total = Float(DeterministicSum.sum(UnsafeBufferPointer(start: base, count: scalarCount)))
            if keepingDimensions { return try Tensor(shape: shape.map { _ in 1 }, scalars: [total]) }
            return Tensor(scalar: total)
        }
        let normalized = try axes.map { try normalizedAxis($0, operation: "sum") }
        guard Set(normalized).count == normalized.count else {
            throw TensorError(.invalidArgument, "sum: repeated axis in \(axes)")
        }
        var result = self
        for axis in normalized.sorted(by: >) { result = result.sumKeepingDimension(axis) }
        if keepingDimensions { return result }
        let kept = shape.enumerated().filter { !normalized.contains($0.offset) }.map(\.element)
        return try result.reshaped(to: kept)
    }

    /// The mean over `axes` (all axes when empty).
    /// - Throws: ``TensorError`` `.invalidArgument` for an axis out of range.
    public func mean(alongAxes axes: [Int] = [], keepingDimensions: Bool = false) throws -> Tensor {
        let s = try sum(alongAxes: axes, keepingDimensions: keepingDimensions)
        let n = axes.isEmpty ? scalarCount : try axes.reduce(1) { $0 * shape[try normalizedAxis($1, operation: "mean")] }
        return s.scaled(by: 1 / Float(max(n, 1)))
    }

    /// Sum over one axis, keeping it as size 1.
    func sumKeepingDimension(_ axis: Int) -> Tensor {
        let outer = shape[..<axis].reduce(1, *)
        let n = shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape
        outShape[axis] = 1
        let out = Tensor(uninitializedShape: outShape)
        let a = base, c = out.storage.base
        ParallelLoop.forEach(count: outer, minimumChunk: max(1, (1 << 14) / max(1, n * inner))) { o in
            let dst = c + o * inner
            dst.initialize(repeating: 0, count: inner)
            for j in 0..<n {
                let src = a + (o * n + j) * inner
                for i in 0..<inner { dst[i] += src[i] }
            }
        }
        return out
    }

    /// Repeats `self` along the dimensions where it has size 1 to fill `target` (same rank).
    func expanded(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let out = Tensor(uninitializedShape: target)
        let strides = broadcastStrides(shape, into: target)
        let zero = [Int](repeating: 0, count: target.count)
        let a = base, c = out.storage.base
        forEachBroadcastIndex(target, strides, zero) { o, i, _ in c[o] = a[i] }
        return out
    }
}
