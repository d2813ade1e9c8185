import Foundation
import Testing
import TesseraCodec
import TesseraCore

/// encode → decode for every quantizer × index coding × transform, quantization error bounds,
/// the DCT, input validation and the decoder's configuration gate.
@Suite("Codec round trip")
struct CodecRoundTripTests {
    /// A 2-D tensor with 48×64 chunks, a 1-D run and a 3-D tensor (one 6×8 chunk).
    static func layout() throws -> ParameterLayout {
        try makeLayout([("w", [96, 128]), ("b", [40]), ("c", [2, 3, 8])])
    }

    static let k = 16

    @Test("decode(encode(x)) is exactly what encode says it transmitted", arguments: CodecSetting.all)
    func decodeEqualsTransmitted(setting: CodecSetting) throws {
        let layout = try Self.layout()
        let input = try normalSet(layout, seed: 11)
        let codec = try setting.codec(k: Self.k)
        let metadata = UpdateMetadata(window: 9, uid: 4, hotkey: "5F…", modelVersion: "tiny-1", innerSteps: 30)
        let encoded = try codec.encode(input, metadata: metadata)
        let decoded = try codec.decode(encoded.compressed, layout: layout)
        expectSame(decoded, encoded.transmitted, "decoded vs transmitted")
        for (d, t) in zip(decoded.tensors, encoded.transmitted.tensors) {
            expectBitwiseEqual(d.values, t.values, "\(t.name) values")
        }
        #expect(decoded.metadata == metadata)
        #expect(decoded.transform == setting.transform)
        // The streams have the sizes the format specifies.
        for (c, t) in zip(encoded.compressed.tensors, encoded.transmitted.tensors) {
            #expect(c.valueBytes.count == setting.quantizer.packedByteCount(t.indices.count), "\(c.name)")
            if setting.indexCoding == .packed12 { #expect(c.indexBytes.count == (t.indices.count + 1) / 2 * 3, "\(c.name)") }
            #expect(c.quantization.lookup.count == (setting.quantizer == .lookup2 ? 4 : 0), "\(c.name)")
        }
        // A pure function of its input: the same bytes again.
        expectSame(try codec.encode(input, metadata: metadata).compressed, encoded.compressed, "second encoding")
    }

    @Test("the dense result holds the values exactly at the selected positions and 0 elsewhere",
          arguments: CodecSetting.all.filter { $0.transform == .none })
    func denseScatter(setting: CodecSetting) throws {
        let layout = try Self.layout()
        let input = try normalSet(layout, seed: 12)
        let codec = try setting.codec(k: Self.k)
        let transmitted = try codec.encode(input, metadata: UpdateMetadata()).transmitted
        let dense = try transmitted.dense(layout: layout)
        for (t, tensor) in transmitted.tensors.enumerated() {
            let values = tensorScalars(dense, t)
            var selected = Set<Int>()
            for chunk in 0..<tensor.geometry.chunkCount {
                for (j, local) in chunkIndices(tensor, chunk).enumerated() {
                    let p = tensor.geometry.position(chunk: chunk, local: local)
                    selected.insert(p)
                    #expect(values[p].bitPattern == tensor.values[chunk * tensor.k + j].bitPattern, "\(tensor.name) chunk \(chunk) local \(local)")
                }
            }
            #expect(selected.count == tensor.indices.count, "\(tensor.name): positions repeat")
            let stray = values.indices.filter { !selected.contains($0) && values[$0] != 0 }
            #expect(stray.isEmpty, "\(tensor.name): non-zero outside the selection at \(stray.prefix(5))")
        }
        // addScaled agrees with dense: target + α·dense.
        var target = try normalSet(layout, seed: 13)
        let before = target
        try transmitted.addScaled(-0.5, into: &target)
        let expected = zip(before.scalars, dense.scalars).map { $0 + -0.5 * $1 }
        expectBitwiseEqual(target.scalars, expected, "addScaled")
    }

    /// The kept values before quantization: the same setting with fp32 values (selection does
    /// not depend on the quantizer).
    static func exactKept(_ input: ParameterSet, _ setting: CodecSetting) throws -> SparseUpdate {
        var exact = setting
        exact.quantizer = .float32
        return try exact.codec(k: Self.k).encode(input, metadata: UpdateMetadata()).transmitted
    }

    @Test("quantization error is within the quantizer's bound", arguments: CodecSetting.all)
    func quantizationError(setting: CodecSetting) throws {
        let layout = try Self.layout()
        let input = try normalSet(layout, seed: 14, standardDeviation: 0.01)
        let encoded = try setting.codec(k: Self.k).encode(input, metadata: UpdateMetadata())
        let exact = try Self.exactKept(input, setting)
        for ((c, t), e) in zip(zip(encoded.compressed.tensors, encoded.transmitted.tensors), exact.tensors) {
            expectSame(t.indices, e.indices, "\(t.name): selection depends on the quantizer")
            let v = e.values, d = t.values
            switch setting.quantizer {
            case .float32:
                expectBitwiseEqual(d, v, "\(t.name) fp32")
            case .float16:
                // Round to nearest binary16: half an ulp, 2⁻¹¹ relative (2⁻²⁵ absolute near 0).
                expectClose(d, v, absolute: 0x1p-25, relative: 0x1p-11, "\(t.name) fp16")
                #expect(d.allSatisfy { Float(Float16($0)) == $0 }, "\(t.name): decoded fp16 values are representable")
            case .int8, .int4:
                let levels: Float = setting.quantizer == .int8 ? 127 : 7
                let maxAbs = v.map(abs).max() ?? 0
                #expect(c.quantization.scale == maxAbs / levels, "\(t.name): scale = max|v| / \(levels)")
                let s = c.quantization.scale
                // ≤ scale/2, with 1e-6 relative slack for v·(1/scale) being rounded before round().
                expectClose(d, v, absolute: s / 2 * (1 + 1e-6), "\(t.name) \(setting.quantizer)")
                #expect(d.allSatisfy { abs($0 / s - ($0 / s).rounded()) < 1e-3 && abs($0 / s) <= levels + 1e-3 }, "\(t.name): a multiple of the scale")
            case .lookup2:
                try Self.checkLookup(c, decoded: d, kept: v)
            }
        }
    }

    /// The 2-bit scheme, recomputed from the specification: shift = mean, scale = 6·std/4
    /// (Bessel), bin = clamp(round_half_even(c/scale + 2), 0, 3), lookup = per-bin mean of c.
    static func checkLookup(_ c: CompressedTensor, decoded: [Float], kept v: [Float], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let p = c.quantization
        let n = Double(v.count)
        let mean = v.reduce(0.0) { $0 + Double($1) } / n
        #expect(abs(Double(p.shift) - mean) <= 1e-6 * max(abs(mean), 1e-3), "\(c.name): shift \(p.shift) vs mean \(mean)", sourceLocation: sourceLocation)
        let centred = v.map { $0 - p.shift }
        let std = (centred.reduce(0.0) { $0 + Double($1) * Double($1) } / (n - 1)).squareRoot()
        #expect(abs(Double(p.scale) - 6 * std / 4) <= 1e-6 * 6 * std / 4, "\(c.name): scale \(p.scale) vs 6·std/4 = \(6 * std / 4)", sourceLocation: sourceLocation)
        var sums = [Double](repeating: 0, count: 4), counts = [Int](repeating: 0, count: 4)
        var wrong = 0
        for (i, ci) in centred.enumerated() {
            let bin = Int(min(max((ci / p.scale + 2).rounded(.toNearestOrEven), 0), 3))
            sums[bin] += Double(ci)
            counts[bin] += 1
            if decoded[i].bitPattern != (p.lookup[bin] + p.shift).bitPattern { wrong += 1 }
        }
        #expect(wrong == 0, "\(c.name): \(wrong) values are not lookup[bin] + shift", sourceLocation: sourceLocation)
        for b in 0..<4 {
            let expected = counts[b] > 0 ? sums[b] / Double(counts[b]) : 0
            #expect(abs(Double(p.lookup[b]) - expected) <= 1e-6 * max(abs(expected), 1e-6), "\(c.name): lookup[\(b)] = \(p.lookup[b]), bin mean \(expected)", sourceLocation: sourceLocation)
        }
    }

    /// Keeping every value, many are below half a quantization step; those of them that are
    /// negative round to a code of −0. The encoder's copy must still be bit-identical to what a
    /// receiver decodes (the aggregator's canonical order hashes the value bits).
    @Test("transmitted values are bit-identical to decoded ones, signed zeros included", arguments: ValueQuantizer.allCases)
    func transmittedBitsEqualDecodedBits(quantizer: ValueQuantizer) throws {
        let layout = try makeLayout([("w", [16, 16])])
        var generator = Xoshiro256StarStar(seed: 22)
        // One large value per chunk row, the rest tiny: most codes are 0 and half of those negative.
        let values = (0..<256).map { i -> Float in i % 16 == 0 ? 1 : 0.001 * Float(generator.nextStandardNormal()) }
        let input = try ParameterSet(layout: layout, scalars: values)
        let codec = try makeCodec(side: 16, k: 256, quantizer: quantizer)
        let encoded = try codec.encode(input, metadata: UpdateMetadata())
        let decoded = try codec.decode(WireFormat.parse(WireFormat.serialize(encoded.compressed), layout: layout), layout: layout)
        expectBitwiseEqual(encoded.transmitted.tensors[0].values, decoded.tensors[0].values, "\(quantizer): transmitted vs decoded bits")
        let negativeZeros = encoded.transmitted.tensors[0].values.filter { $0 == 0 && $0.sign == .minus }.count
        #expect(negativeZeros == 0, "\(quantizer): the encoder reports \(negativeZeros) values as −0, which no code decodes to")
    }

    @Test("2-bit lookup: a single kept value and an all-equal tensor decode exactly")
    func lookupDegenerate() throws {
        let codec = try makeCodec(k: 1, quantizer: .lookup2)
        let one = try ParameterSet([(name: "s", shape: [1], scalars: [0.375])])
        #expect(try codec.encode(one, metadata: UpdateMetadata()).transmitted.tensors[0].values == [0.375])
        let equal = try ParameterSet([(name: "e", shape: [4, 4], scalars: [Float](repeating: -0.25, count: 16))])
        let t = try makeCodec(k: 5, quantizer: .lookup2).encode(equal, metadata: UpdateMetadata())
        #expect(t.compressed.tensors[0].quantization.scale == 0)
        #expect(t.transmitted.tensors[0].values == [Float](repeating: -0.25, count: 5))
    }

    // MARK: DCT

    @Test("DCT: keeping every coefficient reconstructs the input and preserves its norm",
          arguments: [[64, 64], [128, 192], [40], [6, 10, 12], [96, 40]])
    func dctRoundTrip(shape: [Int]) throws {
        let layout = try makeLayout([("t", shape)])
        let input = try normalSet(layout, seed: UInt64(shape.reduce(1, *)))
        let codec = try makeCodec(k: 4096, quantizer: .float32, transform: .dct)
        let transmitted = try codec.encode(input, metadata: UpdateMetadata()).transmitted
        let t = transmitted.tensors[0]
        #expect(t.k == t.geometry.chunkSize)
        let inputNorm = input.norm()
        #expect(abs(t.norm - inputNorm) <= 1e-5 * inputNorm, "orthonormal: ‖DCT x‖ = \(t.norm), ‖x‖ = \(inputNorm)")
        let back = try transmitted.dense(layout: layout)
        expectClose(back.scalars, input.scalars, absolute: 1e-5, "inverse(forward(x))")
    }

    @Test("DCT coefficients equal D_r·X·D_cᵀ computed in Double")
    func dctCoefficients() throws {
        let rows = 6, columns = 10
        let layout = try makeLayout([("t", [rows, columns])])
        let input = try normalSet(layout, seed: 21)
        let t = try makeCodec(k: 60, quantizer: .float32, transform: .dct).encode(input, metadata: UpdateMetadata()).transmitted.tensors[0]
        #expect(t.geometry.chunkCount == 1)
        func d(_ n: Int, _ k: Int, _ i: Int) -> Double {
            (k == 0 ? (1 / Double(n)).squareRoot() : (2 / Double(n)).squareRoot()) * cos(Double.pi * Double(2 * i + 1) * Double(k) / Double(2 * n))
        }
        var expected = [Float](repeating: 0, count: rows * columns)
        for a in 0..<rows {
            for b in 0..<columns {
                var s = 0.0
                for i in 0..<rows {
                    for j in 0..<columns { s += d(rows, a, i) * Double(input.scalars[i * columns + j]) * d(columns, b, j) }
                }
                expected[a * columns + b] = Float(s)
            }
        }
        #expect(t.indices == (0..<60).map { UInt16($0) })
        expectClose(t.values, expected, absolute: 1e-5, "DCT-II coefficients")
    }

    @Test("DCT: top-k selection runs on the coefficients, and decoding applies the inverse")
    func dctSparse() throws {
        // A single cosine basis function per chunk: its coefficient is the only one kept at k = 1.
        let n = 8
        let layout = try makeLayout([("t", [n, n])])
        var values = [Float](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                values[i * n + j] = Float(cos(Double.pi * Double(2 * i + 1) * 2 / Double(2 * n)) * cos(Double.pi * Double(2 * j + 1) * 3 / Double(2 * n)))
            }
        }
        let input = try ParameterSet(layout: layout, scalars: values)
        let encoded = try makeCodec(k: 1, quantizer: .float32, transform: .dct).encode(input, metadata: UpdateMetadata())
        #expect(encoded.transmitted.tensors[0].indices == [UInt16(2 * n + 3)])
        let back = try encoded.transmitted.dense(layout: layout)
        expectClose(back.scalars, values, absolute: 1e-5, "one coefficient reconstructs the basis function")
    }

    // MARK: Validation

    @Test("the encoder rejects NaN and infinity", arguments: [Float.nan, -Float.nan, .infinity, -.infinity], [ChunkTransform.none, .dct])
    func nonFiniteInput(bad: Float, transform: ChunkTransform) throws {
        let layout = try Self.layout()
        for position in [0, 5000, layout.scalarCount - 1] {
            var input = try normalSet(layout, seed: 15)
            input.withUnsafeMutableBufferPointer { $0[position] = bad }
            let error = expectCodecError(.nonFiniteInput, "at \(position)") {
                try makeCodec(k: 4, quantizer: .float32, transform: transform).encode(input, metadata: UpdateMetadata())
            }
            let tensor = layout.descriptors.first { $0.range.contains(position) }!.name
            #expect(error?.tensor == tensor)
        }
    }

    enum Difference: String, CaseIterable, Sendable { case k, chunking, quantizer, indexCoding, transform }

    @Test("decode rejects an update made with other settings", arguments: Difference.allCases)
    func configurationGate(difference: Difference) throws {
        let layout = try makeLayout([("w", [128, 128])])
        let input = try normalSet(layout, seed: 16)
        let network = try makeCodec(side: 64, k: 32, quantizer: .lookup2, transform: .none, indexCoding: .rice)
        let sender: ChunkedTopKCodec
        let code: CodecError.Code
        switch difference {
        case .k: (sender, code) = (try makeCodec(side: 64, k: 33), .wrongIndexCount)
        case .chunking: (sender, code) = (try makeCodec(side: 32, k: 32), .layoutMismatch)
        case .quantizer: (sender, code) = (try makeCodec(side: 64, k: 32, quantizer: .int8), .malformedHeader)
        case .indexCoding: (sender, code) = (try makeCodec(side: 64, k: 32, indexCoding: .packed12), .malformedHeader)
        case .transform: (sender, code) = (try makeCodec(side: 64, k: 32, transform: .dct), .malformedHeader)
        }
        let update = try sender.encode(input, metadata: UpdateMetadata()).compressed
        expectCodecError(code) { try network.decode(update, layout: layout) }
        // …and through the wire format too.
        let parsed = try WireFormat.parse(try WireFormat.serialize(update), layout: layout)
        expectCodecError(code) { try network.decode(parsed, layout: layout) }
        // The network's own update passes.
        #expect(throws: Never.self) { try network.decode(network.encode(input, metadata: UpdateMetadata()).compressed, layout: layout) }
    }

    @Test("decode rejects an update for another layout")
    func layoutGate() throws {
        let layout = try Self.layout()
        let codec = try makeCodec(k: 8)
        let update = try codec.encode(try normalSet(layout, seed: 17), metadata: UpdateMetadata()).compressed
        for other in [
            try makeLayout([("w", [96, 128]), ("b", [40])]),
            try makeLayout([("w", [96, 128]), ("b", [40]), ("c", [2, 3, 8]), ("d", [4])]),
            try makeLayout([("w", [96, 128]), ("bias", [40]), ("c", [2, 3, 8])]),
            try makeLayout([("b", [40]), ("w", [96, 128]), ("c", [2, 3, 8])]),
            try makeLayout([("w", [128, 96]), ("b", [40]), ("c", [2, 3, 8])]),
            try makeLayout([("w", [96, 128]), ("b", [40]), ("c", [6, 8])]),
        ] {
            expectCodecError(.layoutMismatch) { try codec.decode(update, layout: other) }
            let transmitted = try codec.decode(update, layout: layout)
            expectCodecError(.layoutMismatch) { try transmitted.dense(layout: other) }
        }
    }

    @Test("invalid configurations are rejected", arguments: [
        ChunkedTopKCodec.Configuration(maximumChunkSide: 0),
        ChunkedTopKCodec.Configuration(maximumChunkSide: 257),
        ChunkedTopKCodec.Configuration(topK: 0),
        ChunkedTopKCodec.Configuration(topK: -3),
        ChunkedTopKCodec.Configuration(maximumChunkSide: 65, indexCoding: .packed12),
    ])
    func invalidConfiguration(configuration: ChunkedTopKCodec.Configuration) {
        expectCodecError(.invalidConfiguration) { try ChunkedTopKCodec(configuration: configuration) }
    }

    @Test("Rice-coded indices are smaller than 12-bit packing and decode to the same indices")
    func riceBeatsPacked12() throws {
        let layout = try makeLayout([("w", [512, 512])])
        let input = try normalSet(layout, seed: 18)
        let rice = try makeCodec(indexCoding: .rice).encode(input, metadata: UpdateMetadata())
        let packed = try makeCodec(indexCoding: .packed12).encode(input, metadata: UpdateMetadata())
        let kept = 64 * 64
        #expect(packed.compressed.tensors[0].indexBytes.count == kept * 3 / 2)
        let riceBytes = rice.compressed.tensors[0].indexBytes.count
        // ≈ 0.0185 − 0.0040 (2-bit values) bytes per parameter in the format's notes; ≥ 25 % smaller.
        #expect(riceBytes < kept * 3 / 2 * 3 / 4, "Rice: \(riceBytes) bytes, 12-bit: \(kept * 3 / 2)")
        let fromRice = try makeCodec(indexCoding: .rice).decode(rice.compressed, layout: layout)
        let fromPacked = try makeCodec(indexCoding: .packed12).decode(packed.compressed, layout: layout)
        expectSame(fromRice.tensors[0].indices, fromPacked.tensors[0].indices, "indices")
        expectSame(fromRice, fromPacked, "Rice vs 12-bit decode")
        expectSame(fromRice, rice.transmitted, "Rice decode vs transmitted")
    }

    @Test("encoding does not depend on the thread count", arguments: [ChunkTransform.none, .dct])
    func threadIndependent(transform: ChunkTransform) throws {
        let layout = try makeLayout([("w", [256, 192]), ("b", [300])])
        let input = try normalSet(layout, seed: 19)
        let codec = try makeCodec(transform: transform)
        let one = try withThreads(1) { try codec.encode(input, metadata: UpdateMetadata()) }
        let two = try withThreads(2) { try codec.encode(input, metadata: UpdateMetadata()) }
        expectSame(one.compressed, two.compressed, "1 vs 2 threads")
        expectSame(try WireFormat.serialize(one.compressed), try WireFormat.serialize(two.compressed), "bytes, 1 vs 2 threads")
    }
}
