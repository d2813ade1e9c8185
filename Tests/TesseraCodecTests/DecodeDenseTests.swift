import Testing
import TesseraCodec
import TesseraCore

/// `decodeDense` (pipelined index decoding and band writing, non-temporal stores for large
/// outputs) against `decode` followed by `SparseUpdate.dense`, and the codec at every vector
/// kernel level: the same bits, the same errors.
@Suite("Dense decoding and kernel levels")
struct DecodeDenseTests {
    /// Small tensors (one thread, cached stores), a tensor large enough for the pipeline
    /// (≥ 2²⁰ elements), and one whose output is large enough for non-temporal stores (≥ 16 MiB).
    enum Size: String, CaseIterable, Sendable {
        case small, pipelined, streaming

        func layout() throws -> ParameterLayout {
            switch self {
            case .small: try makeLayout([("w", [96, 128]), ("b", [40]), ("c", [2, 3, 8])])
            case .pipelined: try makeLayout([("w", [1024, 1088]), ("b", [300])])
            case .streaming: try makeLayout([("a", [7]), ("w", [2048, 2112]), ("v", [4160])])
            }
        }
    }

    static func bits(_ set: ParameterSet) -> [UInt32] { set.scalars.map(\.bitPattern) }

    @Test("decodeDense equals decode then dense, every setting, 1 and 2 threads", arguments: CodecSetting.all)
    func equalsTwoStep(setting: CodecSetting) throws {
        let layout = try Size.small.layout()
        let codec = try setting.codec(k: 16)
        let update = try codec.encode(try normalSet(layout, seed: 41), metadata: UpdateMetadata(window: 3)).compressed
        let expected = Self.bits(try codec.decode(update, layout: layout).dense(layout: layout))
        for threads in [1, 2] {
            let dense = try withThreads(threads) { try codec.decodeDense(update, layout: layout) }
            #expect(Self.bits(dense) == expected, "\(threads) threads")
        }
    }

    @Test("large tensors: the pipelined and streaming paths give the same bits", arguments: [Size.pipelined, .streaming],
          [IndexCoding.rice, .packed12])
    func largeTensors(size: Size, indexCoding: IndexCoding) throws {
        let layout = try size.layout()
        let codec = try makeCodec(indexCoding: indexCoding)
        let update = try codec.encode(try normalSet(layout, seed: 42), metadata: UpdateMetadata()).compressed
        let sparse = try codec.decode(update, layout: layout)
        let expected = Self.bits(try sparse.dense(layout: layout))
        // The dense form has the kept values and zeros: check it independently of both paths.
        #expect(expected.filter { $0 != 0 }.count <= sparse.tensors.reduce(0) { $0 + $1.indices.count })
        for threads in [1, 2] {
            for level in VectorKernels.Level.allCases {
                let (dense, used) = try withThreads(threads, level: level) { used in (try codec.decodeDense(update, layout: layout), used) }
                #expect(Self.bits(dense) == expected, "\(threads) threads, \(used) kernels")
            }
        }
        // Into a reused buffer holding garbage, too.
        var target = try ParameterSet(layout: layout, scalars: [Float](repeating: .nan, count: layout.scalarCount))
        try sparse.dense(into: &target)
        #expect(Self.bits(target) == expected)
    }

    /// Ways to spoil a valid update; each must give decodeDense the error decode gives.
    enum Damage: String, CaseIterable, Sendable {
        case truncatedIndices, extraIndexByte, runawayUnaryCode, riceParameter, shortValues, lookupNaN, wrongK
    }

    @Test("a damaged update: decodeDense throws exactly what decode throws", arguments: [Size.small, .pipelined], Damage.allCases)
    func sameErrors(size: Size, damage: Damage) throws {
        let layout = try size.layout()
        let codec = try makeCodec(k: 16)
        var update = try codec.encode(try normalSet(layout, seed: 43), metadata: UpdateMetadata()).compressed
        let t = update.tensors.indices.max { update.tensors[$0].indexBytes.count < update.tensors[$1].indexBytes.count }!
        switch damage {
        case .truncatedIndices: update.tensors[t].indexBytes.removeLast(update.tensors[t].indexBytes.count / 3)
        case .extraIndexByte: update.tensors[t].indexBytes.append(0)
        case .runawayUnaryCode:
            // 128 one-bits in the middle: a unary quotient longer than any index allows.
            let middle = update.tensors[t].indexBytes.count / 2
            for i in middle..<(middle + 16) { update.tensors[t].indexBytes[i] = 0xFF }
        case .riceParameter: update.tensors[t].riceParameter = 16
        case .shortValues: update.tensors[t].valueBytes.removeLast()
        case .lookupNaN: update.tensors[t].quantization.lookup[1] = .nan
        case .wrongK: update.tensors[t].k -= 1
        }
        var expected: CodecError?
        do { _ = try codec.decode(update, layout: layout) } catch let error as CodecError { expected = error }
        let reference = try #require(expected, "decode accepted the damaged update (\(damage))")
        for threads in [1, 2] {
            let error = try withThreads(threads) {
                expectCodecError(reference.code, "\(damage), \(threads) threads") { try codec.decodeDense(update, layout: layout) }
            }
            #expect(error?.description == reference.description, "\(damage): \(String(describing: error)) vs \(reference)")
        }
    }

    @Test("seeded mutations of a pipelined-size update: decodeDense and decode agree on every one", .timeLimit(.minutes(3)))
    func mutations() throws {
        let layout = try Size.pipelined.layout()
        let codec = try makeCodec()
        let valid = try codec.encode(try normalSet(layout, seed: 46), metadata: UpdateMetadata()).compressed
        var generator = Xoshiro256StarStar(seed: 47)
        var failures = 0, successes = 0
        try withThreads(2) {
            for trial in 0..<60 {
                var update = valid
                // One to four byte changes in the big tensor's index or value stream.
                for _ in 0...(generator.next() % 4) {
                    if generator.next() % 3 == 0 {
                        let i = Int(generator.next() % UInt64(update.tensors[0].valueBytes.count))
                        update.tensors[0].valueBytes[i] ^= UInt8(truncatingIfNeeded: 1 + generator.next() % 255)
                    } else {
                        let i = Int(generator.next() % UInt64(update.tensors[0].indexBytes.count))
                        update.tensors[0].indexBytes[i] ^= UInt8(truncatingIfNeeded: 1 + generator.next() % 255)
                    }
                }
                let twoStep = Result { try codec.decode(update, layout: layout).dense(layout: layout) }
                let oneStep = Result { try codec.decodeDense(update, layout: layout) }
                switch (twoStep, oneStep) {
                case (.success(let a), .success(let b)):
                    successes += 1
                    #expect(Self.bits(a) == Self.bits(b), "trial \(trial): values")
                case (.failure(let a), .failure(let b)):
                    failures += 1
                    #expect("\(a)" == "\(b)", "trial \(trial): errors")
                default:
                    Issue.record("trial \(trial): one path failed, the other did not")
                }
            }
        }
        // Both outcomes occur (value changes decode; most index changes do not).
        #expect(failures > 0 && successes > 0, "\(failures) failures, \(successes) successes")
    }

    @Test("every kernel level encodes the same bytes and the same transmitted values", arguments: [ChunkTransform.none, .dct])
    func encodeAtEveryLevel(transform: ChunkTransform) throws {
        let layout = try makeLayout([("w", [256, 320]), ("u", [130, 70]), ("b", [1000])])
        let inputs = [try normalSet(layout, seed: 44), try tiedSet(layout, seed: 45)]
        let codec = try makeCodec(k: 24, transform: transform)
        for (n, input) in inputs.enumerated() {
            let reference = try withThreads(2, level: .portable) { _ in try codec.encode(input, metadata: UpdateMetadata()) }
            for level in VectorKernels.Level.allCases {
                let (encoded, used) = try withThreads(2, level: level) { used in (try codec.encode(input, metadata: UpdateMetadata()), used) }
                #expect(try WireFormat.serialize(encoded.compressed) == WireFormat.serialize(reference.compressed), "input \(n), \(used)")
                expectSame(encoded.transmitted, reference.transmitted, "input \(n), \(used): transmitted")
            }
        }
    }
}
