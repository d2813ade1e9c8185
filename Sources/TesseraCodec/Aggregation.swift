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
    /// The same aggregate written over every element of `target` (whose layout is the layout),
    /// reusing its storage: a validator aggregating window after window into one buffer pays
    /// no fresh allocation. On error `target` may be partly written.
    /// - Throws: as ``aggregate(_:layout:)``.
    func aggregate(_ updates: [SparseUpdate], into target: inout ParameterSet) throws
}

extension Aggregator {
    /// Default: a fresh aggregate assigned to `target`.
    public func aggregate(_ updates: [SparseUpdate], into target: inout ParameterSet) throws {
        target = try aggregate(updates, layout: target.layout)
    }
}

/// How a dense aggregate is filled: per tensor, every element at `base` initialized.
typealias DenseFill = (_ tensor: Int, _ base: UnsafeMutablePointer<Float>, _ geometry: ChunkGeometry) -> Void

/// Sorts updates by uid, then by a hash of their contents: a total order independent of arrival.
///
/// The hash only matters between updates that share a uid, so it is computed for those alone.
public func canonicalOrder(_ updates: [SparseUpdate]) -> [SparseUpdate] {
    func fingerprint(_ u: SparseUpdate) -> UInt64 {
        var h: UInt64 = 0
        for t in u.tensors {
            h = t.indices.withUnsafeBytes { XXHash64.hash($0, seed: h) }
            h = t.values.withUnsafeBytes { XXHash64.hash($0, seed: h) }
        }
        return h
    }
    var uidCounts: [UInt32: Int] = [:]
    for u in updates { uidCounts[u.metadata.uid, default: 0] += 1 }
    // A unique uid decides every comparison it takes part in, whatever its hash, so 0 stands in.
    return updates.map { ($0, uidCounts[$0.metadata.uid]! > 1 ? fingerprint($0) : 0) }
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
                if IndexBounds.largest(t.indices) >= size, let bad = t.indices.first(where: { Int($0) >= size }) {
                    throw CodecError(.indexOutOfRange, tensor: t.name, "index \(bad) is outside chunks of \(size)")
                }
            }
        }
        return first.transform
    }

    /// Validates `updates`, then builds the dense result tensor by tensor: `fill` must
    /// initialize every element of the tensor at `base` (``forEachChunk(_:geometry:scratchBytes:_:)``
    /// does); the inverse transform is applied afterwards.
    static func dense(_ updates: [SparseUpdate], layout: ParameterLayout, fill: DenseFill) throws -> ParameterSet {
        let transform = try validate(updates, layout)
        return ParameterSet(layout: layout) { flat in write(updates, layout: layout, transform: transform, into: flat.baseAddress!, fill: fill) }
    }

    /// As ``dense(_:layout:fill:)``, over `target`'s storage.
    static func dense(_ updates: [SparseUpdate], into target: inout ParameterSet, fill: DenseFill) throws {
        let layout = target.layout
        let transform = try validate(updates, layout)
        target.withUnsafeMutableBufferPointer { flat in write(updates, layout: layout, transform: transform, into: flat.baseAddress!, fill: fill) }
    }

    private static func write(
        _ updates: [SparseUpdate], layout: ParameterLayout, transform: ChunkTransform, into flat: UnsafeMutablePointer<Float>, fill: DenseFill
    ) {
        for (t, descriptor) in layout.descriptors.enumerated() {
            let g = updates[0].tensors[t].geometry
            let base = flat + descriptor.offset
            guard g.chunkCount > 0 else {
                base.initialize(repeating: 0, count: descriptor.count)
                continue
            }
            fill(t, base, g)
            if transform == .dct { DCT.inverse(base, geometry: g) }
        }
    }

    /// Zeroes each chunk's block of `base` (band by band) and runs `combine` on it, chunks in parallel; each
    /// thread has its own scratch of `scratchBytes` zero bytes, which `combine` must leave
    /// zeroed. `combine` writes only finite values (``finiteOrZero(_:)``): non-finite results
    /// become 0.
    static func forEachChunk(
        _ base: UnsafeMutablePointer<Float>, geometry g: ChunkGeometry, scratchBytes: Int,
        _ combine: (_ chunk: Int, _ origin: Int, _ scratch: UnsafeMutableRawPointer) -> Void
    ) {
        let bytes = max(16, scratchBytes)
        ParallelLoop.forEachRange(count: g.chunkCount, minimumChunk: 8) { range in
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
            scratch.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            defer { scratch.deallocate() }
            g.forEachBandRun(range) { band, columns in
                g.zeroBand(base, band: band, columns: columns)
                for chunk in (band * g.chunksPerRow + columns.lowerBound)..<(band * g.chunksPerRow + columns.upperBound) {
                    combine(chunk, g.chunkOrigin(chunk), scratch)
                }
            }
        }
    }

    /// Calls `body` with the base addresses of every array (all alive for the call).
    static func withBaseAddresses<T, R>(_ arrays: [[T]], _ body: (UnsafePointer<UnsafePointer<T>?>) -> R) -> R {
        let pointers = UnsafeMutablePointer<UnsafePointer<T>?>.allocate(capacity: max(arrays.count, 1))
        defer { pointers.deallocate() }
        func step(_ i: Int) -> R {
            if i == arrays.count { return body(pointers) }
            return arrays[i].withUnsafeBufferPointer { buffer in
                pointers[i] = buffer.baseAddress
                return step(i + 1)
            }
        }
        return step(0)
    }

    @inline(__always)
    static func finiteOrZero(_ v: Float) -> Float { v.isFinite ? v : 0 }
}

/// Range checks on index arrays.
enum IndexBounds {
    /// The largest index (0 for none), vectorized.
    static func largest(_ indices: [UInt16]) -> Int {
        indices.withUnsafeBufferPointer { b in
            guard let p = b.baseAddress else { return 0 }
            var acc = SIMD16<UInt16>(repeating: 0)
            var i = 0
            while i + 16 <= b.count {
                acc = pointwiseMax(acc, UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<UInt16>.self))
                i += 16
            }
            var top = acc.max()
            while i < b.count {
                top = max(top, p[i])
                i += 1
            }
            return Int(top)
        }
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
        try run(updates, layout: layout) { ordered, fill in try AggregationSupport.dense(ordered, layout: layout, fill: fill) }
    }

    public func aggregate(_ updates: [SparseUpdate], into target: inout ParameterSet) throws {
        try run(updates, layout: target.layout) { ordered, fill in try AggregationSupport.dense(ordered, into: &target, fill: fill) }
    }

    private func run<R>(_ updates: [SparseUpdate], layout: ParameterLayout, _ produce: ([SparseUpdate], DenseFill) throws -> R) throws -> R {
        let ordered = canonicalOrder(updates)
        guard !ordered.isEmpty else { throw CodecError(.emptyAggregation, "no updates to aggregate") }
        // Per tensor, per peer scale factors (computed in Double, fixed order; the norms of
        // different peers in parallel).
        let scales: [[Float]] = (0..<layout.descriptors.count).map { t in
            guard t < ordered[0].tensors.count else { return [] }
            let norms = ParallelLoop.mapRanges(count: ordered.count, minimumChunk: 1) { range in
                range.map { ordered[$0].tensors.count > t ? ordered[$0].tensors[t].norm : 0 }
            }.flatMap { $0 }
            let sorted = norms.sorted()
            let median = sorted[(sorted.count - 1) / 2]
            return norms.map { Float(min(1, median / ($0 + 1e-8))) }
        }
        // Per chunk: sums in peer order (scratch: chunkSize floats, then chunkSize counts), then
        // one visit per kept entry writes each coordinate's mean and clears its scratch.
        return try produce(ordered) { t, base, g in
            let k = ordered[0].tensors[t].k
            let peers = ordered.count
            let tensorScales = scales[t]
            g.withLocalOffsets { offsets in
                AggregationSupport.withBaseAddresses(ordered.map { $0.tensors[t].indices }) { indices in
                    AggregationSupport.withBaseAddresses(ordered.map { $0.tensors[t].values }) { values in
                        tensorScales.withUnsafeBufferPointer { scale in
                            AggregationSupport.forEachChunk(base, geometry: g, scratchBytes: g.chunkSize * 6) { chunk, origin, scratch in
                                let sums = scratch.assumingMemoryBound(to: Float.self)
                                let local = (scratch + 4 * g.chunkSize).assumingMemoryBound(to: UInt16.self)
                                let first = chunk * k
                                for p in 0..<peers {
                                    let s = scale[p]
                                    let ip = indices[p]! + first, vp = values[p]! + first
                                    for j in 0..<k {
                                        let index = Int(ip[j])
                                        sums[index] += s * vp[j]
                                        local[index] &+= 1
                                    }
                                }
                                for p in 0..<peers {
                                    let ip = indices[p]! + first
                                    for j in 0..<k {
                                        let index = Int(ip[j])
                                        if local[index] > 0 {
                                            base[origin + offsets[index]] =
                                                AggregationSupport.finiteOrZero(sums[index] / Float(local[index]))
                                        }
                                        sums[index] = 0
                                        local[index] = 0
                                    }
                                }
                            }
                        }
                    }
                }
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
        try CoordinateStatistics.aggregate(updates, layout: layout, statistic: statistic)
    }

    public func aggregate(_ updates: [SparseUpdate], into target: inout ParameterSet) throws {
        try CoordinateStatistics.aggregate(updates, into: &target, statistic: statistic)
    }

    private var statistic: @Sendable ([Float]) -> Float {
        let fraction = trimFraction
        return { values in
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
        try CoordinateStatistics.aggregate(updates, layout: layout, statistic: Self.median)
    }

    public func aggregate(_ updates: [SparseUpdate], into target: inout ParameterSet) throws {
        try CoordinateStatistics.aggregate(updates, into: &target, statistic: Self.median)
    }

    private static let median: @Sendable ([Float]) -> Float = { values in
        let n = values.count
        return n % 2 == 1 ? values[n / 2] : values[n / 2 - 1] / 2 + values[n / 2] / 2
    }
}

enum CoordinateStatistics {
    /// Groups each chunk's entries by coordinate, sorts each group's values and applies `statistic`.
    static func aggregate(
        _ updates: [SparseUpdate], layout: ParameterLayout, statistic: @escaping @Sendable ([Float]) -> Float
    ) throws -> ParameterSet {
        let ordered = canonicalOrder(updates)
        return try AggregationSupport.dense(ordered, layout: layout, fill: fill(ordered, statistic: statistic))
    }

    static func aggregate(
        _ updates: [SparseUpdate], into target: inout ParameterSet, statistic: @escaping @Sendable ([Float]) -> Float
    ) throws {
        let ordered = canonicalOrder(updates)
        try AggregationSupport.dense(ordered, into: &target, fill: fill(ordered, statistic: statistic))
    }

    private static func fill(_ ordered: [SparseUpdate], statistic: @escaping @Sendable ([Float]) -> Float) -> DenseFill {
        return { t, output, g in
            let k = ordered[0].tensors[t].k
            g.withLocalOffsets { offsets in
                AggregationSupport.forEachChunk(output, geometry: g, scratchBytes: 0) { chunk, origin, _ in
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
                        output[origin + offsets[index]] =
                            AggregationSupport.finiteOrZero(statistic(entries[start..<end].map(\.value)))
                        start = end
                    }
                }
            }
        }
    }
}
