import Foundation
import Testing
import TesseraCodec
import TesseraCore

@Suite("Wire format: round trips and the specification")
struct WireFormatTests {
    static let compressions: [WireFormat.Compression] = [.none, .zstd]

    @Test("serialize → parse → decode gives back the update, for every setting", arguments: CodecSetting.all, compressions)
    func roundTrip(setting: CodecSetting, compression: WireFormat.Compression) throws {
        let layout = try makeLayout([("w", [48, 64]), ("b", [40]), ("c", [2, 3, 8]), ("s", [])])
        let codec = try setting.codec(side: 16, k: 6)
        let encoded = try codec.encode(normalSet(layout, seed: 31), metadata: WireFixture.metadata())
        let bytes = try WireFormat.serialize(encoded.compressed, compression: compression)
        #expect(bytes[6] == compression.rawValue)
        let parsed = try WireFormat.parse(bytes, layout: layout)
        expectSame(parsed, encoded.compressed, "parsed with the layout")
        expectSame(try WireFormat.parse(bytes), encoded.compressed, "parsed without a layout")
        expectSame(try codec.decode(parsed, layout: layout), encoded.transmitted, "decoded")
        #expect(parsed.metadata == WireFixture.metadata())
        // Serializing the parsed update gives the same bytes: one encoding per update.
        #expect(try WireFormat.serialize(parsed, compression: compression) == bytes)
    }

    @Test("the byte-by-byte builder from the specification writes what serialize writes", arguments: CodecSetting.all)
    func specificationLayout(setting: CodecSetting) throws {
        let update = try WireFixture.update(setting.quantizer, setting.indexCoding, transform: setting.transform).compressed
        let expected = RawBody(update).file
        #expect(try WireFormat.serialize(update, compression: .none) == expected)
        // The zstd file holds the same body in a frame that declares its size.
        let zstd = try WireFormat.serialize(update, compression: .zstd)
        #expect(Array(zstd[0..<8]) == Array(expected[0..<6]) + [1, 0])
        #expect(Array(zstd[16..<24]) == Array(expected[16..<24]), "body length B")
        #expect(Array(zstd[24..<28]) == [0x28, 0xB5, 0x2F, 0xFD], "zstd magic")
        // A hand-made raw-block frame declaring B is accepted too.
        let body = storedPart(expected)
        let handMade = container(zstdRawFrame(body, declaredSize: UInt64(body.count)), compression: 1, bodyLength: UInt64(body.count))
        expectSame(try WireFormat.parse(handMade), update, "hand-made zstd frame")
    }

    @Test("indices are coded as the specification says (12-bit pairs; Rice gaps with the best parameter)", arguments: IndexCoding.allCases)
    func indexStreams(coding: IndexCoding) throws {
        let layout = try makeLayout([("w", [64, 128]), ("b", [200])])
        let codec = try makeCodec(side: 64, k: 20, quantizer: .lookup2, indexCoding: coding)
        let encoded = try codec.encode(normalSet(layout, seed: 32), metadata: UpdateMetadata())
        for (c, t) in zip(encoded.compressed.tensors, encoded.transmitted.tensors) {
            let indices = t.indices.map(Int.init)
            switch coding {
            case .packed12:
                #expect(c.indexBytes == pack12(indices), "\(c.name)")
                #expect(c.riceParameter == 0)
            case .rice:
                let p = bestRiceParameter(indices, k: t.k)
                #expect(c.riceParameter == p, "\(c.name)")
                #expect(c.indexBytes == riceEncode(indices, k: t.k, parameter: p).bytes, "\(c.name)")
            }
        }
    }

    @Test("metadata strings at their limits; longer ones and short digests are refused")
    func metadataLimits() throws {
        var update = try WireFixture.update().compressed
        update.metadata.hotkey = String(repeating: "é", count: 127) + "x"  // 255 bytes
        update.metadata.modelVersion = String(repeating: "m", count: 255)
        update.metadata.window = .max
        update.metadata.uid = .max
        update.metadata.innerSteps = .max
        let parsed = try WireFormat.parse(WireFormat.serialize(update))
        #expect(parsed.metadata == update.metadata)
        var long = update
        long.metadata.hotkey += "x"
        expectCodecError(.invalidConfiguration) { try WireFormat.serialize(long) }
        var digest = update
        digest.metadata.sampleDigest = [1, 2, 3]
        expectCodecError(.invalidConfiguration) { try WireFormat.serialize(digest) }
    }

    /// Documentation/WireFormat.md §6: `k 2, fp32, 12-bit indices, no compression, window 7, uid 3`
    /// on b = [1, −1, 0.5] and w = [[0.5, −2, 0.25, 1], [3, −0.125, 0.75, −1.5]].
    static let workedExample: [UInt8] = hexBytes("""
        5453 4755 0100 0000 ad00 0000 0000 0000 ad00 0000 0000 0000 0700 0000 0000 0000
        0300 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000 0000
        0000 0000 0000 0000 0000 0002 0000 0001 0062 0103 0000 0000 0000 0001 0000 0003
        0000 0002 0000 0000 0000 0000 0000 0000 0000 0003 0000 0008 0000 0001 0077 0202
        0000 0000 0000 0004 0000 0000 0000 0002 0000 0004 0000 0002 0000 0000 0000 0000
        0000 0000 0000 0003 0000 0008 0000 0000 1000 0000 803f 0000 80bf 0140 0000 0000
        c000 0040 4043 7be3 487d bce7 cb
        """)

    static func hexBytes(_ s: String) -> [UInt8] {
        let digits = s.filter(\.isHexDigit)
        return stride(from: 0, to: digits.count, by: 2).map {
            let i = digits.index(digits.startIndex, offsetBy: $0)
            return UInt8(digits[i..<digits.index(i, offsetBy: 2)], radix: 16)!
        }
    }

    @Test("the worked example of the specification")
    func workedExampleBytes() throws {
        #expect(Self.workedExample.count == 205)
        let layout = try makeLayout([("b", [3]), ("w", [2, 4])])
        let codec = try makeCodec(k: 2, quantizer: .float32, indexCoding: .packed12)
        let sparse = try parseAndDecode(Self.workedExample, codec: codec, layout: layout)
        #expect(sparse.metadata.window == 7 && sparse.metadata.uid == 3)
        #expect(try sparse.dense(layout: layout).scalars == [1, -1, 0, 0, -2, 0, 0, 3, 0, 0, 0])
        let input = try ParameterSet(layout: layout, scalars: [1, -1, 0.5, 0.5, -2, 0.25, 1, 3, -0.125, 0.75, -1.5])
        let encoded = try codec.encode(input, metadata: UpdateMetadata(window: 7, uid: 3))
        #expect(try WireFormat.serialize(encoded.compressed, compression: .none) == Self.workedExample)
    }

    @Test("a zero-size tensor survives the round trip", arguments: [[3, 0], [0, 5], [0], [2, 0, 4]])
    func zeroSizeTensor(shape: [Int]) throws {
        let layout = try makeLayout([("w", [4, 8]), ("empty", shape)])
        let codec = try makeCodec(k: 3)
        let encoded = try codec.encode(normalSet(layout, seed: 1), metadata: UpdateMetadata())
        let parsed = try WireFormat.parse(try WireFormat.serialize(encoded.compressed), layout: layout)
        #expect(parsed.tensors[1].geometry == ChunkGeometry(shape: shape, maximumSide: 64), "the parsed matrix view of \(shape)")
        let decoded = try codec.decode(parsed, layout: layout)
        expectSame(decoded, encoded.transmitted, "decoded")
        #expect(try decoded.dense(layout: layout).scalars.count == 32)
    }

    /// A table entry for a tensor with no elements: any chunk side divides 0, so without a
    /// layout the header may claim chunks of 2³²−1 × 2³²−1. Checked in a child process, since
    /// the product of the sides overflows `Int`.
    @Test("a zero-element tensor with enormous chunk sides is rejected without trapping", arguments: [[0, 0], [5, 0], [0, 0, 0]])
    func hugeChunksOfNothing(shape: [Int]) async throws {
        var body = try WireFixture.body()
        let s = body.index("s")
        body.tensors[s].shape = shape.map(UInt64.init)
        body.tensors[s].chunkRows = .max
        body.tensors[s].chunkColumns = .max
        let file = body.file
        await #expect(processExitsWith: .success) { [file = file as [UInt8]] in
            do {
                _ = try WireFormat.parse(file)
                exit(3)  // accepted: not what the test expects
            } catch is CodecError {}
        }
    }
}

@Suite("Wire format: golden files")
struct WireGoldenTests {
    struct GoldenCase: Codable {
        struct Settings: Codable {
            var maximumChunkSide: Int
            var topK: Int
            var quantizer: UInt8
            var indexCoding: UInt8
            var transform: UInt8
            var compression: UInt8
        }
        struct Metadata: Codable {
            var window: UInt64
            var uid: UInt32
            var hotkey: String
            var modelVersion: String
            var sampleDigest: [UInt8]
            var innerSteps: UInt32
        }
        struct Tensor: Codable {
            var name: String
            var shape: [Int]
            /// Bit patterns of the encoder's input.
            var inputBits: [UInt32]
            /// Bit patterns of the dense decoded tensor.
            var decodedBits: [UInt32]
            /// The same, readable (not used for comparison).
            var decoded: [Float]
        }
        var settings: Settings
        var metadata: Metadata
        var tensors: [Tensor]
        var fileSize: Int
    }

    /// name → (quantizer, index coding, transform, compression).
    static let cases: [(String, ValueQuantizer, IndexCoding, ChunkTransform, WireFormat.Compression)] = [
        ("fp32-packed12", .float32, .packed12, .none, .none), ("fp32-rice", .float32, .rice, .none, .none),
        ("fp16-packed12", .float16, .packed12, .none, .none), ("fp16-rice", .float16, .rice, .none, .none),
        ("int8-packed12", .int8, .packed12, .none, .none), ("int8-rice", .int8, .rice, .none, .none),
        ("int4-packed12", .int4, .packed12, .none, .none), ("int4-rice", .int4, .rice, .none, .none),
        ("lookup2-packed12", .lookup2, .packed12, .none, .none), ("lookup2-rice", .lookup2, .rice, .none, .none),
        ("lookup2-rice-zstd", .lookup2, .rice, .none, .zstd), ("lookup2-rice-dct", .lookup2, .rice, .dct, .none),
        ("fp32-packed12-dct-zstd", .float32, .packed12, .dct, .zstd),
    ]
    static var names: [String] { cases.map(\.0) }

    static func goldenLayout() throws -> ParameterLayout { try makeLayout([("w", [12, 16]), ("b", [10]), ("s", [])]) }

    /// Writes Golden/wire/*.tsg and *.json into the source tree. Run once, on purpose:
    /// `TESSERA_REGENERATE_GOLDEN=1 swift test --filter regenerateGoldenFiles`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TESSERA_REGENERATE_GOLDEN"] == "1", "regenerates golden files"))
    func regenerateGoldenFiles() throws {
        let directory = goldenSourceDirectory.appendingPathComponent("wire")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let layout = try Self.goldenLayout()
        let input = try normalSet(layout, seed: 2024, standardDeviation: 0.1)
        let metadata = UpdateMetadata(window: 77, uid: 5, hotkey: "5GoldenHotkey", modelVersion: "golden/1",
                                      sampleDigest: (0..<32).map { UInt8($0) }, innerSteps: 30)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (name, q, coding, transform, compression) in Self.cases {
            let codec = try makeCodec(side: 8, k: 5, quantizer: q, transform: transform, indexCoding: coding)
            let encoded = try codec.encode(input, metadata: metadata)
            let bytes = try WireFormat.serialize(encoded.compressed, compression: compression)
            // What a receiver decodes from the file (not the encoder's own copy).
            let dense = try parseAndDecode(bytes, codec: codec, layout: layout).dense(layout: layout)
            let golden = GoldenCase(
                settings: .init(maximumChunkSide: 8, topK: 5, quantizer: q.rawValue, indexCoding: coding.rawValue,
                                transform: transform.rawValue, compression: compression.rawValue),
                metadata: .init(window: metadata.window, uid: metadata.uid, hotkey: metadata.hotkey, modelVersion: metadata.modelVersion,
                                sampleDigest: metadata.sampleDigest, innerSteps: metadata.innerSteps),
                tensors: layout.descriptors.enumerated().map { t, d in
                    .init(name: d.name, shape: d.shape, inputBits: tensorScalars(input, t).map(\.bitPattern),
                          decodedBits: tensorScalars(dense, t).map(\.bitPattern), decoded: tensorScalars(dense, t))
                },
                fileSize: bytes.count)
            try Data(bytes).write(to: directory.appendingPathComponent("\(name).tsg"))
            try (encoder.encode(golden) + Data("\n".utf8)).write(to: directory.appendingPathComponent("\(name).json"))
        }
    }

    static func load(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (GoldenCase, [UInt8]) {
        let directory = try goldenDirectory(sourceLocation: sourceLocation).appendingPathComponent("wire")
        let golden = try JSONDecoder().decode(GoldenCase.self, from: Data(contentsOf: directory.appendingPathComponent("\(name).json")))
        let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent("\(name).tsg")))
        return (golden, bytes)
    }

    @Test("every golden file is listed here, and every listed one exists")
    func inventory() throws {
        let directory = try goldenDirectory().appendingPathComponent("wire")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(Set(files.filter { $0.hasSuffix(".tsg") }) == Set(Self.names.map { "\($0).tsg" }))
        #expect(Set(files.filter { $0.hasSuffix(".json") }) == Set(Self.names.map { "\($0).json" }))
    }

    @Test("golden files still parse and decode to exactly the recorded values", arguments: names)
    func decodesToRecordedValues(name: String) throws {
        let (golden, bytes) = try Self.load(name)
        #expect(bytes.count == golden.fileSize)
        let s = golden.settings
        let layout = try makeLayout(golden.tensors.map { ($0.name, $0.shape) })
        let codec = try makeCodec(side: s.maximumChunkSide, k: s.topK, quantizer: try #require(ValueQuantizer(rawValue: s.quantizer)),
                                  transform: try #require(ChunkTransform(rawValue: s.transform)),
                                  indexCoding: try #require(IndexCoding(rawValue: s.indexCoding)))
        #expect(bytes[6] == s.compression)
        let parsed = try WireFormat.parse(bytes, layout: layout)
        let m = parsed.metadata
        #expect(m.window == golden.metadata.window && m.uid == golden.metadata.uid && m.hotkey == golden.metadata.hotkey
                && m.modelVersion == golden.metadata.modelVersion && m.sampleDigest == golden.metadata.sampleDigest
                && m.innerSteps == golden.metadata.innerSteps)
        let dense = try codec.decode(parsed, layout: layout).dense(layout: layout)
        for (t, tensor) in golden.tensors.enumerated() {
            #expect(tensorScalars(dense, t).map(\.bitPattern) == tensor.decodedBits, "\(name): \(tensor.name)")
        }
        // Today's encoder still writes this update (byte for byte when uncompressed; the zstd
        // frame itself may differ between zstd versions, so compare what it holds).
        let input = try ParameterSet(golden.tensors.map { (name: $0.name, shape: $0.shape, scalars: $0.inputBits.map(Float.init(bitPattern:))) })
        let again = try codec.encode(input, metadata: parsed.metadata).compressed
        expectSame(again, parsed, "\(name): re-encoded update")
        if s.compression == 0 { #expect(try WireFormat.serialize(again, compression: .none) == bytes, "\(name): bytes") }
    }
}
