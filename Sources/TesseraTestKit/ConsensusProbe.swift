import Tessera

/// Digests of every result that nodes on different machines must compute bit for bit — seeded
/// numbers, model initialization, data slices, the synthetic corpus, wire bytes, decoding,
/// aggregation and outer steps — on fixed inputs, with the digests every correct build gives
/// (``expected``).
///
/// A mismatch means this build, CPU or C library computes a consensus result differently from
/// the network: its uploads would decode to other values elsewhere, or it would aggregate the
/// same uploads into another model. `tessera determinism` runs it for an operator; the test
/// suite runs it at every vector-kernel level, at one and two threads, and under several
/// OpenBLAS cores (Documentation/TensorEngine.md, "What is bit-exact").
///
/// The model's loss (``modelLoss()``) is not among the digests: it goes through BLAS and agrees
/// between CPUs only to float32 rounding, which scoring tolerates.
public enum ConsensusProbe {
    /// One probe's name and the XXH64 digest of its output bytes.
    public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible {
        /// What was computed, e.g. `codec/lookup2-rice/wire`.
        public var name: String
        /// XXH64 (seed 0) of the result's bytes (floats as little-endian binary32).
        public var value: UInt64

        /// Creates a digest.
        public init(name: String, value: UInt64) {
            self.name = name
            self.value = value
        }

        /// The value as 16 lowercase hex digits.
        public var hex: String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }

        public var description: String { "\(name) \(hex)" }
    }

    /// The digests every correct build computes, by probe name: recorded on x86-64 (AMD EPYC,
    /// AVX2; glibc 2.36) and identical at every kernel level, thread count and OpenBLAS core.
    /// Changing one is a consensus change (a new wire-format or model version).
    public static let expected: [String: UInt64] = [
        "random/normal-floats": 0x1072_51c7_9974_52af,
        "random/portable-math": 0x26b4_a3e6_f7b8_280c,
        "model/initial-parameters": 0xb119_3991_3713_1f10,
        "data/synthetic-corpus": 0xda3d_d221_c613_29c0,
        "data/slices": 0xd280_9b55_0adc_c220,
        "codec/lookup2-rice/wire": 0xb799_9521_3030_505e,
        "codec/lookup2-rice/dense": 0xc5da_b940_3d87_88b6,
        "aggregate/lookup2-rice/median-norm-clipped-mean": 0xc042_8dc3_3bd5_db73,
        "aggregate/lookup2-rice/trimmed-mean": 0x21bc_c332_f868_0050,
        "aggregate/lookup2-rice/coordinate-median": 0x1851_d29f_1c03_7e58,
        "codec/int8-packed12/wire": 0x4ad8_5140_ab8f_1f86,
        "codec/int8-packed12/dense": 0xb2c9_d81e_5b68_a245,
        "aggregate/int8-packed12/median-norm-clipped-mean": 0xad1c_10a7_fc99_5dba,
        "aggregate/int8-packed12/trimmed-mean": 0x4de3_e5e7_a19e_1031,
        "aggregate/int8-packed12/coordinate-median": 0x030c_b554_1e83_6e0f,
        "codec/int4-rice/wire": 0xcd85_65ae_f7ab_3eff,
        "codec/int4-rice/dense": 0xd20a_e4d2_6238_3c71,
        "aggregate/int4-rice/median-norm-clipped-mean": 0x5ade_9d89_3609_456c,
        "aggregate/int4-rice/trimmed-mean": 0x1878_b62a_95db_0285,
        "aggregate/int4-rice/coordinate-median": 0x436c_5b9b_4226_7511,
        "codec/fp16-rice-dct/wire": 0xb6f4_be61_03e8_104d,
        "codec/fp16-rice-dct/dense": 0x2ab5_d0a7_ad08_7b96,
        "aggregate/fp16-rice-dct/median-norm-clipped-mean": 0x47a5_d8f6_bfcc_7312,
        "aggregate/fp16-rice-dct/trimmed-mean": 0x1dd5_26a6_c584_eb42,
        "aggregate/fp16-rice-dct/coordinate-median": 0xb80e_2d7d_d045_f6db,
        "codec/fp32-packed12-dct/wire": 0x54ae_1290_bae7_92b0,
        "codec/fp32-packed12-dct/dense": 0x5610_75ef_2bfd_dea4,
        "aggregate/fp32-packed12-dct/median-norm-clipped-mean": 0xe797_da08_086b_323b,
        "aggregate/fp32-packed12-dct/trimmed-mean": 0x0ed9_de7f_2ee5_bfd8,
        "aggregate/fp32-packed12-dct/coordinate-median": 0x8815_b18b_642e_c73c,
        "codec/lookup2-rice-dct/wire": 0xc241_b3da_0c05_73b4,
        "codec/lookup2-rice-dct/dense": 0x19dd_6ab1_6375_7068,
        "aggregate/lookup2-rice-dct/median-norm-clipped-mean": 0x238b_1f94_e758_c900,
        "aggregate/lookup2-rice-dct/trimmed-mean": 0xf714_5cab_10a0_92c8,
        "aggregate/lookup2-rice-dct/coordinate-median": 0x48f3_15ce_1bc1_3acf,
        "outer/sent": 0x25ce_155f_bd73_9ce2,
        "outer/sparseloco-error-feedback": 0xb0ac_a1f1_8017_5ee2,
        "outer/demo-momentum": 0x939e_eaa6_2805_220b,
        "outer/parameters": 0xfa82_6d37_7fcd_9ba7,

    ]

    /// Runs every probe, in a fixed order.
    /// - Throws: Whatever a component throws on these (valid) inputs: a bug, never expected.
    public static func run() throws -> [Digest] {
        var out: [Digest] = []
        func record(_ name: String, _ value: UInt64) { out.append(Digest(name: name, value: value)) }

        // Seeded numbers and PortableMath.
        var generator = Xoshiro256StarStar(seed: 1)
        record("random/normal-floats", hash(generator.normalFloats(count: 4096, standardDeviation: 1)))
        var math: [Double] = []
        for i in 0..<512 {
            let x = Double(i) / 64 - 4
            math += [PortableMath.exp(x), PortableMath.log(Double(i + 1) / 37), PortableMath.cos(x * 100)]
        }
        record("random/portable-math", hash(math))

        // Model initialization from a seed.
        let configuration = LlamaConfiguration(vocabularySize: 64, dimension: 32, layerCount: 2, headCount: 2, keyValueHeadCount: 1,
                                               feedForwardDimension: 88, contextLength: 16)
        record("model/initial-parameters", hash(try LlamaModel(configuration: configuration, seed: 3).parameters))

        // Data: the synthetic corpus and slices.
        let corpus = try SyntheticCorpus(configuration: .init(vocabularySize: 64, seed: 5), sampleLength: 16, sampleCount: 64)
        record("data/synthetic-corpus", hash(try corpus.batch(0..<64).tokens.map { Float($0) }))
        let sampler = try DeterministicSliceSampler(count: 32, sampleCount: 10_000_000)
        let blockHash = try Digest32((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
        var ids: [UInt64] = []
        for uid in 0..<4 {
            let seed = SeedDerivation.sliceSeed(blockHash: blockHash, window: Window(rawValue: 70), uid: UID(rawValue: UInt16(uid)))
            ids += try sampler.slice(uid: UID(rawValue: UInt16(uid)), window: Window(rawValue: 70), seed: seed).sampleIDs
        }
        ids += sampler.validatorDraw(window: Window(rawValue: 70), revealBlockHash: blockHash, hotkey: "5Probe").sampleIDs
        record("data/slices", XXHash64.hash(ids.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }))

        // Codec: wire bytes and dense decoding for every quantizer, both index codings, with and
        // without the DCT, on a layout that exercises banded, per-chunk and ragged geometries.
        let layout = try ParameterLayout([(name: "w", shape: [256, 320]), (name: "u", shape: [130, 70]), (name: "b", shape: [1000]),
                                          (name: "s", shape: [])])
        let inputs = try (0..<4).map { peer in
            try ParameterSet(layout: layout, scalars: generator.normalFloats(count: layout.scalarCount, standardDeviation: 0.01 * Float(peer + 1)))
        }
        let settings: [(String, ValueQuantizer, IndexCoding, ChunkTransform)] = [
            ("lookup2-rice", .lookup2, .rice, .none), ("int8-packed12", .int8, .packed12, .none), ("int4-rice", .int4, .rice, .none),
            ("fp16-rice-dct", .float16, .rice, .dct), ("fp32-packed12-dct", .float32, .packed12, .dct), ("lookup2-rice-dct", .lookup2, .rice, .dct),
        ]
        for (name, quantizer, coding, transform) in settings {
            let codec = try ChunkedTopKCodec(configuration: .init(maximumChunkSide: 64, topK: 24, quantizer: quantizer, transform: transform,
                                                                  indexCoding: coding))
            var wires: [UInt8] = []
            var parsed: [CompressedUpdate] = []
            for (peer, input) in inputs.enumerated() {
                let encoded = try codec.encode(input, metadata: UpdateMetadata(window: 9, uid: UInt32(peer)))
                let bytes = try WireFormat.serialize(encoded.compressed, compression: .none)
                wires += bytes
                parsed.append(try WireFormat.parse(bytes, layout: layout))
            }
            let updates = try parsed.map { try codec.decode($0, layout: layout) }
            record("codec/\(name)/wire", XXHash64.hash(wires))
            record("codec/\(name)/dense", hash(try codec.decodeDense(parsed[0], layout: layout)))
            for (aggregatorName, aggregator) in [("median-norm-clipped-mean", MedianNormClippedMean() as any Aggregator),
                                                 ("trimmed-mean", try TrimmedMean() as any Aggregator),
                                                 ("coordinate-median", CoordinateMedian() as any Aggregator)] {
                record("aggregate/\(name)/\(aggregatorName)", hash(try aggregator.aggregate(canonicalOrder(updates), layout: layout)))
            }
        }

        // Outer optimizers: three steps each, what is sent, the state kept, and the step applied.
        let sparseCodec = try ChunkedTopKCodec(configuration: .init(topK: 32))
        var sparseLoCo = try SparseLoCo(codec: sparseCodec)
        var demo = try DeMo(codec: try ChunkedTopKCodec(configuration: .init(topK: 32, transform: .dct)))
        var diloco = try DiLoCo()
        var parameters = inputs[3]
        var sent: [UInt8] = []
        for step in 0..<3 {
            for optimizer in 0..<2 {
                let contribution = optimizer == 0
                    ? try sparseLoCo.contribution(pseudoGradient: inputs[step], metadata: UpdateMetadata(window: UInt64(step)))
                    : try demo.contribution(pseudoGradient: inputs[step], metadata: UpdateMetadata(window: UInt64(step)))
                guard case .compressed(let encoded) = contribution else { continue }
                sent += try WireFormat.serialize(encoded.compressed, compression: .none)
                let aggregate = try MedianNormClippedMean().aggregate([encoded.transmitted], layout: layout)
                if optimizer == 0 { try sparseLoCo.apply(aggregate: aggregate, to: &parameters) } else { try demo.apply(aggregate: aggregate, to: &parameters) }
            }
            try diloco.apply(aggregate: try DiLoCo.average([inputs[step], inputs[step + 1]]), to: &parameters)
        }
        record("outer/sent", XXHash64.hash(sent))
        record("outer/sparseloco-error-feedback", hash(try require(sparseLoCo.errorFeedback)))
        record("outer/demo-momentum", hash(try require(demo.momentum)))
        record("outer/parameters", hash(parameters))
        return out
    }

    /// The probes whose digest differs from ``expected`` (or that ``expected`` lacks): empty on a
    /// build and machine that compute the network's bits.
    public static func mismatches(in digests: [Digest]) -> [Digest] {
        digests.filter { expected[$0.name] != $0.value }
    }

    /// The loss of a seeded model on a seeded batch: computed through BLAS, so it agrees between
    /// CPUs to float32 rounding (about 1e-6 relative), not bit for bit.
    public static func modelLoss() throws -> Float {
        let configuration = LlamaConfiguration(vocabularySize: 64, dimension: 32, layerCount: 2, headCount: 2, keyValueHeadCount: 1,
                                               feedForwardDimension: 88, contextLength: 16)
        let model = try LlamaModel(configuration: configuration, seed: 3)
        let corpus = try SyntheticCorpus(configuration: .init(vocabularySize: 64, seed: 5), sampleLength: 16, sampleCount: 64)
        return try model.loss(try corpus.batch(0..<8))
    }

    private static func require<T>(_ value: T?) throws -> T {
        guard let value else { throw ConsensusProbeError(message: "an optimizer kept no state after three steps") }
        return value
    }

    private static func hash(_ values: [Float]) -> UInt64 {
        values.withUnsafeBytes { XXHash64.hash($0) }
    }

    private static func hash(_ values: [Double]) -> UInt64 {
        values.withUnsafeBytes { XXHash64.hash($0) }
    }

    private static func hash(_ parameters: ParameterSet) -> UInt64 {
        parameters.withUnsafeBufferPointer { XXHash64.hash(UnsafeRawBufferPointer($0)) }
    }
}

/// A probe that could not run (a bug in a component, never expected on a correct build).
public struct ConsensusProbeError: Error, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    public var description: String { message }
}
