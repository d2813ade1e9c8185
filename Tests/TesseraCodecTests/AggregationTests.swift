import Foundation
import Testing
import TesseraCodec
import TesseraCore

/// The aggregators against straightforward references written from the protocol text, and
/// their determinism (arrival order, thread count).
@Suite("Aggregation")
struct AggregationTests {
    static func layout() throws -> ParameterLayout {
        try makeLayout([("w", [128, 192]), ("b", [96]), ("c", [2, 4, 16])])
    }

    /// `count` peers' decoded updates: a shared signal plus per-peer noise (so their selections
    /// overlap), peer p scaled by `scale(p)`; uids are distinct and not in arrival order.
    static func peers(
        _ count: Int, layout: ParameterLayout, codec: ChunkedTopKCodec, noise: Float = 0.5,
        scale: (Int) -> Float = { 0.5 + 0.25 * Float($0) }
    ) throws -> [SparseUpdate] {
        let shared = try normalSet(layout, seed: 1000)
        return try (0..<count).map { p in
            var values = try normalSet(layout, seed: 2000 + UInt64(p), standardDeviation: noise)
            try values.axpy(1, shared)
            values.scale(by: scale(p))
            let uid = UInt32((p * 7 + 3) % 97)
            return try codec.decode(codec.encode(values, metadata: UpdateMetadata(window: 1, uid: uid)).compressed, layout: layout)
        }
    }

    /// For every tensor, every coordinate's list of (peer, value) — in dense row-major positions.
    static func contributions(_ updates: [SparseUpdate], tensor t: Int) -> [Int: [(peer: Int, value: Float)]] {
        var out: [Int: [(peer: Int, value: Float)]] = [:]
        for (p, u) in updates.enumerated() {
            let s = u.tensors[t]
            for chunk in 0..<s.geometry.chunkCount {
                for j in 0..<s.k {
                    let position = s.geometry.position(chunk: chunk, local: Int(s.indices[chunk * s.k + j]))
                    out[position, default: []].append((p, s.values[chunk * s.k + j]))
                }
            }
        }
        return out
    }

    /// Norms per tensor per peer, the lower median, scale min(1, med / (n + 1e-8)), then the mean
    /// over the peers that selected each coordinate; 0 elsewhere. In Double.
    static func medianNormReference(_ updates: [SparseUpdate], layout: ParameterLayout) -> [Float] {
        var out = [Float](repeating: 0, count: layout.scalarCount)
        for (t, d) in layout.descriptors.enumerated() {
            let norms = updates.map { u in u.tensors[t].values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
            let median = norms.sorted()[(norms.count - 1) / 2]
            let scales = norms.map { min(1, median / ($0 + 1e-8)) }
            for (position, list) in contributions(updates, tensor: t) {
                let sum = list.reduce(0.0) { $0 + scales[$1.peer] * Double($1.value) }
                out[d.offset + position] = Float(sum / Double(list.count))
            }
        }
        return out
    }

    /// Per coordinate: `statistic` of the sorted values of the peers that selected it.
    static func coordinateReference(_ updates: [SparseUpdate], layout: ParameterLayout, _ statistic: ([Float]) -> Double) -> [Float] {
        var out = [Float](repeating: 0, count: layout.scalarCount)
        for (t, d) in layout.descriptors.enumerated() {
            for (position, list) in contributions(updates, tensor: t) {
                out[d.offset + position] = Float(statistic(list.map(\.value).sorted()))
            }
        }
        return out
    }

    static func trimmedMean(_ fraction: Double) -> ([Float]) -> Double {
        { sorted in
            let drop = Int(fraction * Double(sorted.count))
            let kept = sorted[drop..<(sorted.count - drop)]
            return kept.reduce(0.0) { $0 + Double($1) } / Double(kept.count)
        }
    }

    static func median(_ sorted: [Float]) -> Double {
        let n = sorted.count
        return n % 2 == 1 ? Double(sorted[n / 2]) : (Double(sorted[n / 2 - 1]) + Double(sorted[n / 2])) / 2
    }

    @Test("median-norm clipped mean equals the reference", arguments: [1, 2, 4, 5], [ValueQuantizer.float32, .lookup2])
    func medianNormClippedMean(peerCount: Int, quantizer: ValueQuantizer) throws {
        let layout = try Self.layout()
        let codec = try makeCodec(k: 24, quantizer: quantizer)
        let updates = try Self.peers(peerCount, layout: layout, codec: codec)
        let result = try MedianNormClippedMean().aggregate(updates, layout: layout)
        #expect(result.layout == layout)
        expectClose(result.scalars, Self.medianNormReference(updates, layout: layout), absolute: 1e-6, relative: 1e-6, "aggregate of \(peerCount) peers")
        // Clipping is active: the peers' norms differ, so some scale is below 1 (except alone).
        if peerCount > 2 {
            let unclipped = Self.coordinateReference(updates, layout: layout) { $0.reduce(0.0) { $0 + Double($1) } / Double($0.count) }
            #expect(zip(result.scalars, unclipped).contains { abs($0 - $1) > 1e-3 }, "no peer was clipped")
        }
    }

    @Test("the median is the lower middle for an even number of peers")
    func lowerMedian() throws {
        // Two peers, norms 1 and 3 (one value each): the lower median 1 clips the second to norm 1.
        let layout = try makeLayout([("v", [4])])
        let codec = try makeCodec(k: 1, quantizer: .float32)
        let a = try codec.encode(ParameterSet(layout: layout, scalars: [1, 0, 0, 0]), metadata: UpdateMetadata(uid: 1)).transmitted
        let b = try codec.encode(ParameterSet(layout: layout, scalars: [0, 0, -3, 0]), metadata: UpdateMetadata(uid: 2)).transmitted
        let result = try MedianNormClippedMean().aggregate([a, b], layout: layout)
        expectClose(result.scalars, [1, 0, -1, 0], absolute: 1e-6, "[1, 0, 0, 0] and clipped [0, 0, −3, 0]")
    }

    @Test("a huge-norm peer is clipped to the median norm")
    func hugePeerClipped() throws {
        let layout = try Self.layout()
        let codec = try makeCodec(k: 24, quantizer: .float32)
        let updates = try Self.peers(5, layout: layout, codec: codec) { $0 == 3 ? 1e3 : 1 }
        let result = try MedianNormClippedMean().aggregate(updates, layout: layout)
        #expect(result.isFinite)
        for (t, d) in layout.descriptors.enumerated() {
            let norms = updates.map { $0.tensors[t].norm }
            let median = norms.sorted()[2]
            let huge = norms[3]
            #expect(huge > 500 * median)
            // On coordinates only the huge peer selected, the aggregate is its value · median/‖v‖,
            // so its effective norm is the median norm.
            var ratios: [Double] = []
            for (position, list) in Self.contributions(updates, tensor: t) where list.count == 1 && list[0].peer == 3 {
                ratios.append(Double(result.scalars[d.offset + position]) / Double(list[0].value))
            }
            try #require(!ratios.isEmpty, "\(d.name): the huge peer has no coordinate of its own")
            for r in ratios {
                #expect(abs(r * huge - median) <= 1e-5 * median, "\(d.name): effective norm \(r * huge), median \(median)")
            }
            // Every clipped peer has norm ≤ median, so no coordinate's mean can exceed it.
            let largest = Double(result.scalars[d.range].map(abs).max()!)
            #expect(largest <= median * (1 + 1e-6), "\(d.name): |aggregate| reaches \(largest), median norm \(median)")
        }
    }

    static func aggregators() throws -> [(String, any Aggregator)] {
        [("median-norm", MedianNormClippedMean()), ("trimmed 0.2", try TrimmedMean(trimFraction: 0.2)),
         ("trimmed 0", try TrimmedMean(trimFraction: 0)), ("coordinate median", CoordinateMedian())]
    }

    @Test("the same bytes for any arrival order and any thread count", arguments: [ChunkTransform.none, .dct])
    func deterministic(transform: ChunkTransform) throws {
        let layout = try Self.layout()
        let codec = try makeCodec(k: 24, quantizer: .lookup2, transform: transform)
        let updates = try Self.peers(6, layout: layout, codec: codec)
        var generator = Xoshiro256StarStar(seed: 77)
        for (name, aggregator) in try Self.aggregators() {
            let reference = try withThreads(1) { try aggregator.aggregate(updates, layout: layout) }
            for trial in 0..<4 {
                let shuffled = updates.shuffled(using: &generator)
                let threads = trial % 2 == 0 ? 2 : 1
                let again = try withThreads(threads) { try aggregator.aggregate(shuffled, layout: layout) }
                expectBitwiseEqual(again.scalars, reference.scalars, "\(name), shuffle \(trial), \(threads) threads")
            }
        }
    }

    @Test("coordinate-wise trimmed mean equals the reference", arguments: [0.0, 0.2, 0.34, 0.49])
    func trimmedMean(fraction: Double) throws {
        let layout = try Self.layout()
        let updates = try Self.peers(7, layout: layout, codec: makeCodec(k: 24, quantizer: .float32), noise: 0.3)
        // The selections overlap: some coordinate is kept by at least 3 peers, so trimming acts.
        #expect(Self.contributions(updates, tensor: 0).values.contains { $0.count >= 3 })
        let result = try TrimmedMean(trimFraction: fraction).aggregate(updates, layout: layout)
        expectClose(result.scalars, Self.coordinateReference(updates, layout: layout, Self.trimmedMean(fraction)),
                    absolute: 1e-6, relative: 1e-6, "trimmed mean \(fraction)")
    }

    @Test("coordinate-wise median equals the reference", arguments: [3, 4, 7])
    func coordinateMedian(peerCount: Int) throws {
        let layout = try Self.layout()
        let updates = try Self.peers(peerCount, layout: layout, codec: makeCodec(k: 24, quantizer: .float32), noise: 0.3)
        let result = try CoordinateMedian().aggregate(updates, layout: layout)
        expectClose(result.scalars, Self.coordinateReference(updates, layout: layout, Self.median),
                    absolute: 1e-6, relative: 1e-6, "coordinate median of \(peerCount)")
    }

    @Test("with the DCT, the aggregate is the inverse transform of the coefficient-domain mean")
    func dctAggregate() throws {
        let layout = try makeLayout([("w", [64, 128])])
        let updates = try Self.peers(4, layout: layout, codec: makeCodec(k: 48, quantizer: .float32, transform: .dct))
        let result = try MedianNormClippedMean().aggregate(updates, layout: layout)
        // The reference in the coefficient domain, written back into a full-k sparse update, whose
        // dense form applies the inverse DCT.
        let coefficients = Self.medianNormReference(updates, layout: layout)  // positions = chunk-domain layout
        var full = updates[0]
        let g = full.tensors[0].geometry
        full.tensors[0].k = g.chunkSize
        full.tensors[0].indices = (0..<g.chunkCount).flatMap { _ in (0..<g.chunkSize).map { UInt16($0) } }
        full.tensors[0].values = (0..<g.chunkCount).flatMap { chunk in (0..<g.chunkSize).map { coefficients[g.position(chunk: chunk, local: $0)] } }
        let expected = try full.dense(layout: layout)
        expectClose(result.scalars, expected.scalars, absolute: 1e-5, "inverse DCT of the mean")
    }

    @Test("non-finite results are set to zero")
    func nonFiniteDropped() throws {
        let layout = try makeLayout([("v", [8])])
        let codec = try makeCodec(k: 2, quantizer: .float32)
        // Two peers at ±3e38 on the same coordinates: the sum overflows to infinity.
        let input = try ParameterSet(layout: layout, scalars: [0, 3e38, 0, 0, 1, 0, 3e38, 0])
        let a = try codec.encode(input, metadata: UpdateMetadata(uid: 1)).transmitted
        let b = try codec.encode(input, metadata: UpdateMetadata(uid: 2)).transmitted
        for (name, aggregator) in try Self.aggregators() where name.hasPrefix("median") || name == "trimmed 0" {
            let result = try aggregator.aggregate([a, b], layout: layout)
            #expect(result.scalars == [Float](repeating: 0, count: 8), "\(name)")
        }
    }

    @Test("no updates: emptyAggregation")
    func empty() throws {
        let layout = try Self.layout()
        for (name, aggregator) in try Self.aggregators() {
            expectCodecError(.emptyAggregation, "\(name)") { try aggregator.aggregate([], layout: layout) }
        }
    }

    @Test("updates that disagree with the layout or with each other: layoutMismatch")
    func mismatched() throws {
        let layout = try Self.layout()
        let codec = try makeCodec(k: 24)
        let good = try Self.peers(2, layout: layout, codec: codec)
        let renamed = try makeLayout([("w", [128, 192]), ("bias", [96]), ("c", [2, 4, 16])])
        let reshaped = try makeLayout([("w", [192, 128]), ("b", [96]), ("c", [2, 4, 16])])
        let shorter = try makeLayout([("w", [128, 192]), ("b", [96])])
        var bad: [(String, SparseUpdate)] = []
        for (name, other) in [("renamed", renamed), ("reshaped", reshaped), ("fewer tensors", shorter)] {
            bad.append((name, try Self.peers(1, layout: other, codec: codec)[0]))
        }
        bad.append(("other chunking", try Self.peers(1, layout: layout, codec: makeCodec(side: 32, k: 24))[0]))
        bad.append(("other k", try Self.peers(1, layout: layout, codec: makeCodec(k: 12))[0]))
        bad.append(("DCT", try Self.peers(1, layout: layout, codec: makeCodec(k: 24, transform: .dct))[0]))
        for (name, aggregator) in try Self.aggregators() {
            for (what, update) in bad {
                expectCodecError(.layoutMismatch, "\(name): \(what)") { try aggregator.aggregate(good + [update], layout: layout) }
                expectCodecError(.layoutMismatch, "\(name): \(what) first") { try aggregator.aggregate([update] + good, layout: layout) }
            }
            // All consistent, but with another layout than the caller's.
            expectCodecError(.layoutMismatch, "\(name): caller's layout") { try aggregator.aggregate(good, layout: renamed) }
        }
    }

    @Test("trim fractions outside [0, 0.5) are rejected", arguments: [-0.1, 0.5, 1, Double.nan])
    func invalidTrim(fraction: Double) {
        expectCodecError(.invalidConfiguration) { try TrimmedMean(trimFraction: fraction) }
    }

    @Test("canonical order sorts by uid whatever the arrival order")
    func canonical() throws {
        let layout = try Self.layout()
        let updates = try Self.peers(5, layout: layout, codec: makeCodec(k: 8))
        let uids = canonicalOrder(updates.reversed()).map(\.metadata.uid)
        #expect(uids == updates.map(\.metadata.uid).sorted())
    }
}
