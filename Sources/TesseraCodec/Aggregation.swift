public import TesseraCore

/// Combines several peers' decoded updates into one dense update, identically on every node.
///
/// Contract: the result is a pure function of the *set* of updates — the same bytes whatever the
/// order they arrived in and whatever the thread count. Implementations sort the updates
/// canonically (``canonicalOrder(_:)``) and add in that fixed order. Non-finite results are set
/// to zero.
public protocol Aggregator: Sendable {
    /// The aggregate of `updates`, dense, in the parameter domain (inverse transform applied).
    /// - Throws: ``CodecError`` `.emptyAggregation`, or `.layoutMismatch` if the updates' tensors
    ///   or chunkings differ from each other or from `layout`.
    func aggregate(_ updates: [SparseUpdate], layout: ParameterLayout) throws -> ParameterSet
}

/// Sorts updates by uid, then by a hash of their contents: a total order independent of arrival.
public func canonicalOrder(_ updates: [SparseUpdate]) -> [SparseUpdate] {
    func fingerprint(_ u: SparseUpdate) -> UInt64 {
        var h: UInt64 = 0
        for t in u.tensors {
            h = t.indices.withUnsafeBytes { XXHash64.hash($0, seed: h) }
            h = t.values.withUnsafeBytes { XXHash64.hash($0, seed: h) }
        }
        return h
    }
    return updates.map { ($0, fingerprint($0)) }
        .sorted { ($0.0.metadata.uid, $0.1) < ($1.0.metadata.uid, $1.1) }
        .map(\.0)
}

enum AggregationSupport {
    /// Checks that every update matches `layout` and that all share transform and chunking.
    static func validate(_ updates: [SparseUpdate], _ layout: ParameterLayout) throws -> ChunkTransform {
        guard let first = updates.first else { throw CodecError(.emptyAggregation, "no updates to aggregate") }
        for u in updates {
            try Layouts.requireMatch(u.tensors.map { ($0.name, $0.shape) }, layout)
            guard u.transform == first.transform else {
                throw CodecError(.layoutMismatch, "updates use different chunk transforms")
            }
            for (a, b) in zip(u.tensors, first.tensors) where a.geometry != b.geometry || a.k != b.k {
                throw CodecError(.layoutMismatch, tensor: a.name, "updates use different chunkings")
            }
            for t in u.tensors {
                guard t.indices.count == t.geometry.chunkCount * t.k, t.values.count == t.indices.count else {
                    throw CodecError(.wrongIndexCount, tensor: t.name, "sparse tensor holds \(t.indices.count) indices and \(t.values.count) values for \(t.geometry.chunkCount) chunks of k = \(t.k)")
                }
                let size = t.geometry.chunkSize
                if let bad = t.indices.first(where: { Int($0) >= size }) {
                    throw CodecError(.indexOutOfRange, tensor: t.name, "index \(bad) is outside chunks of \(size)")
                }
            }
        }
        return first.transform
    }

    /// Runs `combine` per chunk (chunks in parallel) over a dense chunk-domain buffer per tensor,
    /// then writes the inverse-transformed result into a parameter set.
    static func densePerChunk(
        _ updates: [SparseUpdate], layout: ParameterLayout,
        combine: (_ tensor: Int, _ chunk: Int, _ output: UnsafeMutablePointer<Float>, _ geometry: ChunkGeometry) -> Void
    ) throws -> ParameterSet {
        let transform = try validate(updates, layout)
        var out = ParameterSet(zerosLike: layout)
        out.withUnsafeMutableBufferPointer { flat in
            for (t, descriptor) in layout.descriptors.enumerated() {
                let g = updates[0].tensors[t].geometry
                let base = flat.baseAddress! + descriptor.offset
                ParallelLoop.forEach(count: g.chunkCount, minimumChunk: 8) { chunk in combine(t, chunk, base, g) }
                for i in 0..<descriptor.count where !base[i].isFinite { base[i] = 0 }
                if transform == .dct { DCT.inverse(base, geometry: g) }
            }
        }
        return out
    }
}

/// SparseLoCo's aggregation: each peer's values scaled by min(1, median‖v‖ / (‖v‖ + 1e-8)) per
/// tensor (the median of the peers' norms; the lower middle for an even count, as
/// `torch.median`), then a scatter-mean: every coordinate is the mean of the peers that kept it;
/// coordinates nobody kept stay 0.
public struct MedianNormClippedMean: Aggregator {
    /// Creates the aggregator.
    public init() {}

    public func aggregate(_ updates: [SparseUpdate], layout: ParameterLayout) throws -> ParameterSet {
        let ordered = canonicalOrder(updates)
        guard !ordered.isEmpty else { throw CodecError(.emptyAggregation, "no updates to aggregate") }
        // Per tensor, per peer scale factors (computed in Double, fixed order).
        let scales: [[Float]] = (0..<layout.descriptors.count).map { t in
            guard t < ordered[0].tensors.count else { return [] }
            let norms = ordered.map { $0.tensors.count > t ? $0.tensors[t].norm : 0 }
            let sorted = norms.sorted()
            let median = sorted[(sorted.count - 1) / 2]
            return norms.map { Float(min(1, median / ($0 + 1e-8))) }
        }
        return try AggregationSupport.densePerChunk(ordered, layout: layout) { t, chunk, output, g in
            let k = ordered[0].tensors[t].k
            let origin = g.chunkOrigin(chunk)
            // Sum in peer order, then divide by the number of peers that kept each coordinate.
            var local = [UInt16](repeating: 0, count: g.chunkSize)
            var sums = [Float](repeating: 0, count: g.chunkSize)
            for (p, update) in ordered.enumerated() {
                let s = scales[t][p]
                let tensor = update.tensors[t]
                for j in (chunk * k)..<(chunk * k + k) {
                    let index = Int(tensor.indices[j])
                    sums[index] += s * tensor.values[j]
                    local[index] &+= 1
                }
            }
            for index in 0..<g.chunkSize where local[index] > 0 {
                output[origin + (index / g.chunkColumns) * g.columns + index % g.chunkColumns] = sums[index] / Float(local[index])
            }
        }
    }
}

/// Coordinate-wise trimmed mean over the peers that kept each coordinate: the values are
/// sorted, ⌊fraction · m⌋ dropped from each end (m peers), the rest averaged in sorted order.
public struct TrimmedMean: Aggregator {
    /// Fraction trimmed from each end, in [0, 0.5).
    public let trimFraction: Double

    /// Creates the aggregator.
    /// - Throws: ``CodecError`` `.invalidConfiguration` outside [0, 0.5).
    public init(trimFraction: Double = 0.2) throws {
        guard trimFraction >= 0, trimFraction < 0.5 else {
            throw CodecError(.invalidConfiguration, "trim fraction must be in [0, 0.5), got \(trimFraction)")
        }
        self.trimFraction = trimFraction
    }

    public func aggregate(_ updates: [SparseUpdate], layout: ParameterLayout) throws -> ParameterSet {
        let fraction = trimFraction
        return try CoordinateStatistics.aggregate(updates, layout: layout) { values in
            let drop = Int((fraction * Double(values.count)).rounded(.down))
            let kept = values[drop..<(values.count - drop)]
            return kept.reduce(0, +) / Float(kept.count)
        }
    }
}

/// Coordinate-wise median over the peers that kept each coordinate (the mean of the two middle
/// values for an even count).
public struct CoordinateMedian: Aggregator {
    /// Creates the aggregator.
    public init() {}

    public func aggregate(_ updates: [SparseUpdate], layout: ParameterLayout) throws -> ParameterSet {
        try CoordinateStatistics.aggregate(updates, layout: layout) { values in
            let n = values.count
            return n % 2 == 1 ? values[n / 2] : values[n / 2 - 1] / 2 + values[n / 2] / 2
        }
    }
}

enum CoordinateStatistics {
    /// Groups each chunk's entries by coordinate, sorts each group's values and applies `statistic`.
    static func aggregate(
        _ updates: [SparseUpdate], layout: ParameterLayout, statistic: @escaping @Sendable ([Float]) -> Float
    ) throws -> ParameterSet {
        let ordered = canonicalOrder(updates)
        return try AggregationSupport.densePerChunk(ordered, layout: layout) { t, chunk, output, g in
            let k = ordered[0].tensors[t].k
            let origin = g.chunkOrigin(chunk)
            var entries: [(index: UInt16, value: Float)] = []
            entries.reserveCapacity(k * ordered.count)
            for update in ordered {
                let tensor = update.tensors[t]
                for j in (chunk * k)..<(chunk * k + k) { entries.append((tensor.indices[j], tensor.values[j])) }
            }
            entries.sort { ($0.index, $0.value) < ($1.index, $1.value) }
            var start = 0
            while start < entries.count {
                var end = start
                while end < entries.count && entries[end].index == entries[start].index { end += 1 }
                let index = Int(entries[start].index)
                output[origin + (index / g.chunkColumns) * g.columns + index % g.chunkColumns] =
                    statistic(entries[start..<end].map(\.value))
                start = end
            }
        }
    }
}
