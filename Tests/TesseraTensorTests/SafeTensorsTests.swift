import Foundation
import Testing
import TesseraCore
import TesseraTensor

// MARK: - Byte builders

private func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// An 8-byte little-endian length, then `header`, then `data`.
private func safetensors(header: String, data: [UInt8] = []) -> [UInt8] {
    let h = Array(header.utf8)
    return littleEndian(UInt64(h.count)) + h + data
}

/// A file whose length field says `headerLength` whatever follows.
private func safetensors(headerLength: UInt64, rest: [UInt8]) -> [UInt8] {
    littleEndian(headerLength) + rest
}

/// Builds a header by hand (no JSONSerialization) with tensors laid out back to back.
private struct HandWrittenFile {
    var tensors: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])] = []

    mutating func add(_ name: String, _ dtype: String, _ shape: [Int], _ bytes: [UInt8]) {
        tensors.append((name, dtype, shape, bytes))
    }

    var bytes: [UInt8] {
        var offset = 0
        var fields: [String] = []
        var data: [UInt8] = []
        for t in tensors {
            let shape = t.shape.map(String.init).joined(separator: ",")
            fields.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
            data += t.bytes
        }
        return safetensors(header: "{" + fields.joined(separator: ",") + "}", data: data)
    }
}

/// Expects parsing `bytes` to throw a ``TensorError`` with `code` mentioning every fragment.
@discardableResult
private func expectRejected(
    _ bytes: [UInt8], _ code: TensorError.Code, mentioning fragments: [String] = [],
    limits: SafeTensorsFile.Limits = .default, sourceLocation: SourceLocation = #_sourceLocation
) -> TensorError? {
    expectError(code, mentioning: fragments, sourceLocation: sourceLocation) {
        try SafeTensorsFile(bytes: bytes, limits: limits)
    }
}

@discardableResult
private func expectError<R>(
    _ code: TensorError.Code, mentioning fragments: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) -> TensorError? {
    let error = #expect(throws: TensorError.self, sourceLocation: sourceLocation) { _ = try body() }
    guard let error else { return nil }
    #expect(error.code == code, "expected .\(code), got \(error)", sourceLocation: sourceLocation)
    for fragment in fragments {
        #expect(
            error.message.contains(fragment), "message \"\(error.message)\" does not mention \"\(fragment)\"",
            sourceLocation: sourceLocation)
    }
    return error
}

private func float32Bytes(_ values: [Float]) -> [UInt8] { values.flatMap { littleEndian($0.bitPattern) } }

// MARK: - Hostile files

struct HostileFile: Sendable, CustomTestStringConvertible {
    let testDescription: String
    let bytes: [UInt8]
    let code: TensorError.Code
    let mentions: [String]

    init(_ description: String, _ bytes: [UInt8], _ code: TensorError.Code, mentions: [String] = []) {
        self.testDescription = description
        self.bytes = bytes
        self.code = code
        self.mentions = mentions
    }
}

private func entry(_ name: String, dtype: String = "F32", shape: String, offsets: String) -> String {
    "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
}

@Suite("SafeTensors")
struct SafeTensorsTests {
    static let hostileFiles: [HostileFile] = [
        HostileFile("empty file", [], .truncatedFile),
        HostileFile("fewer than 8 bytes", [0x10, 0, 0, 0, 0], .truncatedFile, mentions: ["5 bytes"]),
        HostileFile("header length larger than the file", safetensors(headerLength: 64, rest: Array("{\"a\":1234}".utf8)), .truncatedFile, mentions: ["64"]),
        HostileFile("header length one past the end", safetensors(headerLength: 3, rest: Array("{}".utf8)), .truncatedFile),
        HostileFile("header length above the 100 MiB limit", safetensors(headerLength: (100 << 20) + 1, rest: Array("{}".utf8)), .malformedHeader, mentions: ["limit"]),
        HostileFile("header length 2^63", safetensors(headerLength: 1 << 63, rest: Array("{}".utf8)), .malformedHeader),
        HostileFile("header length 2^64 − 1", safetensors(headerLength: .max, rest: Array("{}".utf8)), .malformedHeader),
        HostileFile("header length 0", safetensors(headerLength: 0, rest: []), .malformedHeader),
        HostileFile("non-JSON header", safetensors(header: "this is not json"), .malformedHeader, mentions: ["JSON"]),
        HostileFile("header not UTF-8", safetensors(headerLength: 4, rest: [0xFF, 0xFE, 0xC3, 0x28]), .malformedHeader),
        HostileFile("JSON array header", safetensors(header: "[1, 2, 3]"), .malformedHeader, mentions: ["object"]),
        HostileFile("JSON string header", safetensors(header: "\"abc\""), .malformedHeader),
        HostileFile("entry that is not an object", safetensors(header: "{\"a\": 5}"), .malformedHeader, mentions: ["'a'"]),
        HostileFile(
            "entry missing dtype", safetensors(header: "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]),
            .malformedHeader, mentions: ["'w'", "dtype"]),
        HostileFile(
            "dtype that is not a string", safetensors(header: "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]),
            .malformedHeader, mentions: ["'w'"]),
        HostileFile(
            "unknown dtype F8_E4M3", safetensors(header: "{" + entry("w", dtype: "F8_E4M3", shape: "[4]", offsets: "[0,4]") + "}", data: [0, 0, 0, 0]),
            .unsupportedDType, mentions: ["'w'", "F8_E4M3"]),
        HostileFile(
            "missing shape", safetensors(header: "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]),
            .malformedHeader, mentions: ["'w'", "shape"]),
        HostileFile(
            "negative shape entry", safetensors(header: "{" + entry("w", shape: "[-1]", offsets: "[0,4]") + "}", data: [0, 0, 0, 0]),
            .malformedHeader, mentions: ["'w'", "-1"]),
        HostileFile(
            "fractional shape entry", safetensors(header: "{" + entry("w", shape: "[1.5]", offsets: "[0,4]") + "}", data: [0, 0, 0, 0]),
            .malformedHeader, mentions: ["'w'"]),
        HostileFile(
            "string shape entry", safetensors(header: "{" + entry("w", shape: "[\"1\"]", offsets: "[0,4]") + "}", data: [0, 0, 0, 0]),
            .malformedHeader, mentions: ["'w'"]),
        HostileFile(
            "rank above the limit of 16", safetensors(header: "{" + entry("w", shape: "[" + Array(repeating: "1", count: 17).joined(separator: ",") + "]", offsets: "[0,4]") + "}", data: [0, 0, 0, 0]),
            .malformedHeader, mentions: ["'w'", "16"]),
        HostileFile(
            "shape whose product overflows Int", safetensors(header: "{" + entry("w", shape: "[4294967296,4294967296,4]", offsets: "[0,0]") + "}"),
            .malformedHeader, mentions: ["'w'", "overflows"]),
        HostileFile(
            "shape whose byte size overflows Int", safetensors(header: "{" + entry("w", dtype: "F64", shape: "[1152921504606846976]", offsets: "[0,0]") + "}"),
            .offsetOutOfRange, mentions: ["'w'"]),
        HostileFile(
            "missing data_offsets", safetensors(header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", data: [0, 0, 0, 0]),
            .malformedHeader, mentions: ["'w'", "data_offsets"]),
        HostileFile(
            "three data_offsets", safetensors(header: "{" + entry("w", shape: "[1]", offsets: "[0,4,8]") + "}", data: [UInt8](repeating: 0, count: 8)),
            .malformedHeader, mentions: ["'w'"]),
        HostileFile(
            "data_offsets beyond the data", safetensors(header: "{" + entry("w", shape: "[4]", offsets: "[0,16]") + "}", data: [UInt8](repeating: 0, count: 8)),
            .offsetOutOfRange, mentions: ["'w'", "16"]),
        HostileFile(
            "huge data_offsets", safetensors(header: "{" + entry("w", shape: "[1]", offsets: "[9223372036854775803,9223372036854775807]") + "}", data: [0, 0, 0, 0]),
            .offsetOutOfRange, mentions: ["'w'"]),
        HostileFile(
            "negative begin", safetensors(header: "{" + entry("w", shape: "[2]", offsets: "[-4,4]") + "}", data: [UInt8](repeating: 0, count: 8)),
            .offsetOutOfRange, mentions: ["'w'"]),
        HostileFile(
            "begin after end", safetensors(header: "{" + entry("w", shape: "[1]", offsets: "[8,4]") + "}", data: [UInt8](repeating: 0, count: 8)),
            .offsetOutOfRange, mentions: ["'w'", "[8, 4]"]),
        HostileFile(
            "length not matching shape × dtype", safetensors(header: "{" + entry("w", shape: "[3]", offsets: "[0,8]") + "}", data: [UInt8](repeating: 0, count: 8)),
            .offsetOutOfRange, mentions: ["'w'", "12", "8"]),
        HostileFile(
            "two tensors overlapping",
            safetensors(header: "{" + entry("a", shape: "[2]", offsets: "[0,8]") + "," + entry("b", shape: "[2]", offsets: "[4,12]") + "}", data: [UInt8](repeating: 0, count: 12)),
            .overlappingTensors, mentions: ["'b'"]),
        HostileFile(
            "two tensors on the same bytes",
            safetensors(header: "{" + entry("a", shape: "[2]", offsets: "[0,8]") + "," + entry("b", shape: "[2]", offsets: "[0,8]") + "}", data: [UInt8](repeating: 0, count: 8)),
            .overlappingTensors),
        HostileFile(
            "a hole between tensors",
            safetensors(header: "{" + entry("a", shape: "[1]", offsets: "[0,4]") + "," + entry("b", shape: "[1]", offsets: "[8,12]") + "}", data: [UInt8](repeating: 0, count: 12)),
            .overlappingTensors, mentions: ["4..<8", "'b'"]),
        HostileFile(
            "a hole before the first tensor",
            safetensors(header: "{" + entry("a", shape: "[1]", offsets: "[4,8]") + "}", data: [UInt8](repeating: 0, count: 8)),
            .overlappingTensors, mentions: ["'a'"]),
        HostileFile(
            "trailing bytes not covered",
            safetensors(header: "{" + entry("a", shape: "[1]", offsets: "[0,4]") + "}", data: [UInt8](repeating: 0, count: 8)),
            .offsetOutOfRange, mentions: ["4", "8"]),
        HostileFile("__metadata__ that is not an object", safetensors(header: "{\"__metadata__\":[1]}"), .malformedHeader, mentions: ["__metadata__"]),
        HostileFile("__metadata__ with a non-string value", safetensors(header: "{\"__metadata__\":{\"k\":1}}"), .malformedHeader, mentions: ["'k'"]),
    ]

    @Test("hostile files throw the right TensorError", arguments: hostileFiles)
    func hostileFile(_ file: HostileFile) {
        expectRejected(file.bytes, file.code, mentioning: file.mentions)
    }

    @Test("limits on header size and tensor count are applied")
    func limits() {
        let file = HandWrittenFile(tensors: [("a", "F32", [1], [0, 0, 0, 0]), ("b", "F32", [1], [0, 0, 0, 0])]).bytes
        #expect(throws: Never.self) { try SafeTensorsFile(bytes: file) }
        expectRejected(file, .malformedHeader, mentioning: ["limit"], limits: .init(maximumHeaderBytes: 16))
        // Two tensors exceed a limit of one tensor ("most tensors accepted in one file").
        expectRejected(file, .malformedHeader, mentioning: ["limit of 1"], limits: .init(maximumTensorCount: 1))
        // __metadata__ is not a tensor: two tensors plus metadata fit a limit of two.
        let withMetadata = safetensors(
            header: "{\"__metadata__\":{\"k\":\"v\"}," + entry("a", shape: "[1]", offsets: "[0,4]") + "," + entry("b", shape: "[1]", offsets: "[4,8]") + "}",
            data: [UInt8](repeating: 0, count: 8))
        #expect(throws: Never.self) { try SafeTensorsFile(bytes: withMetadata, limits: .init(maximumTensorCount: 2)) }
        let rank3 = HandWrittenFile(tensors: [("a", "F32", [1, 1, 1], [0, 0, 0, 0])]).bytes
        expectRejected(rank3, .malformedHeader, limits: .init(maximumRank: 2))
    }

    @Test("edge cases that are valid: empty header, zero-element tensor, padded header, metadata only")
    func validEdgeCases() throws {
        let empty = try SafeTensorsFile(bytes: safetensors(header: "{}"))
        #expect(empty.entries.isEmpty && empty.metadata.isEmpty)
        let zero = try SafeTensorsFile(
            bytes: safetensors(header: "{" + entry("z", shape: "[0, 3]", offsets: "[0,0]") + "," + entry("a", shape: "[1]", offsets: "[0,4]") + "}", data: float32Bytes([2.5])))
        #expect(zero.names == ["z", "a"])
        #expect(try zero.floats(named: "z").scalars.isEmpty)
        #expect(try zero.floats(named: "z").shape == [0, 3])
        #expect(try zero.floats(named: "a").scalars == [2.5])
        let padded = try SafeTensorsFile(bytes: safetensors(header: "{" + entry("a", shape: "[]", offsets: "[0,4]") + "}      ", data: float32Bytes([-1])))
        #expect(try padded.tensor(named: "a").scalarValue == -1)
        #expect(try padded.tensor(named: "a").shape == [])
        let metadataOnly = try SafeTensorsFile(bytes: safetensors(header: "{\"__metadata__\":{\"format\":\"pt\"}}"))
        #expect(metadataOnly.metadata == ["format": "pt"])
        #expect(metadataOnly.entries.isEmpty)
    }

    // "No limit" written as Int.max must not turn a hostile file into a trap. Run in a child
    // process (exit test) so a trap fails only this test.
    @Test("Int.max limits: a header length of 2^63 − 1 throws instead of trapping")
    func unlimitedHeaderBytes() async {
        await #expect(processExitsWith: .success) {
            var bytes: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
            bytes += Array("{}".utf8)
            _ = try? SafeTensorsFile(bytes: bytes, limits: .init(maximumHeaderBytes: .max))
        }
    }

    @Test("Int.max limits: an unlimited tensor count does not trap")
    func unlimitedTensorCount() async {
        await #expect(processExitsWith: .success) {
            var bytes: [UInt8] = [2, 0, 0, 0, 0, 0, 0, 0]
            bytes += Array("{}".utf8)
            _ = try? SafeTensorsFile(bytes: bytes, limits: .init(maximumTensorCount: .max))
        }
    }

    // MARK: Round trip and conversion

    @Test("writer → reader round trip: float32, int64 and metadata, in memory and on disk")
    func roundTrip() throws {
        let floats: [Float] = [1, -2.5, 0, -0.0, .infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 3.25, .pi, -1e-20, 7, 8]
        let ints: [Int64] = [0, -1, .max, .min, 42]
        var writer = SafeTensorsWriter()
        try writer.add("weights", shape: [3, 4], floats: floats)
        try writer.add("tokens", shape: [5], int64s: ints)
        try writer.add("nan", shape: [1], floats: [.nan])
        writer.metadata = ["format": "pt", "step": "12"]
        let bytes = try writer.bytes()
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        #expect(headerLength % 8 == 0, "header is padded to a multiple of 8")
        #expect(bytes.count == 8 + Int(headerLength) + 4 * 12 + 8 * 5 + 4)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("round-trip.safetensors").path
        try writer.write(to: path)

        for file in [try SafeTensorsFile(bytes: bytes), try SafeTensorsFile(contentsOf: path)] {
            #expect(file.names == ["weights", "tokens", "nan"])
            #expect(file.metadata == ["format": "pt", "step": "12"])
            #expect(file.entry(named: "weights")?.dtype == .float32)
            #expect(file.entry(named: "tokens")?.dtype == .int64)
            #expect(file.entry(named: "tokens")?.byteRange == 48..<88)
            let w = try file.floats(named: "weights")
            #expect(w.shape == [3, 4])
            #expect(w.scalars.map(\.bitPattern) == floats.map(\.bitPattern), "floats must round-trip bit for bit")
            let t = try file.integers(named: "tokens")
            #expect(t.shape == [5])
            #expect(t.values == ints)
            #expect(try file.floats(named: "nan").scalars.first?.isNaN == true)
            let tensor = try file.tensor(named: "weights")
            #expect(tensor.shape == [3, 4] && tensor.scalars.map(\.bitPattern) == floats.map(\.bitPattern))
        }
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
    }

    @Test("writer ↔ ParameterSet round trip")
    func parameterSetRoundTrip() throws {
        let parameters = try ParameterSet([
            (name: "b.weight", shape: [2, 2], scalars: [1, 2, 3, 4]),
            (name: "a.bias", shape: [3], scalars: [5, 6, 7]),
        ])
        var writer = SafeTensorsWriter()
        try writer.add(parameters)
        let file = try SafeTensorsFile(bytes: writer.bytes())
        #expect(try file.parameterSet(layout: parameters.layout) == parameters)
        #expect(try file.parameterSet() == parameters)
    }

    @Test("writer rejects repeated and reserved names and shapes that do not fit")
    func writerErrors() throws {
        var writer = SafeTensorsWriter()
        try writer.add("a", shape: [2], floats: [1, 2])
        expectError(.invalidArgument, mentioning: ["'a'"]) { try writer.add("a", shape: [1], floats: [1]) }
        expectError(.invalidArgument, mentioning: ["__metadata__"]) { try writer.add("__metadata__", shape: [1], int64s: [1]) }
        expectError(.shapeMismatch, mentioning: ["'b'", "[2, 2]", "3"]) { try writer.add("b", shape: [2, 2], floats: [1, 2, 3]) }
        // The failed adds left the writer consistent.
        let file = try SafeTensorsFile(bytes: writer.bytes())
        #expect(file.names == ["a"])
        expectError(.fileSystem) { try writer.write(to: "/nonexistent-directory-\(UUID().uuidString)/x.safetensors") }
        expectError(.fileSystem) { try SafeTensorsFile(contentsOf: "/nonexistent-\(UUID().uuidString).safetensors") }
    }

    @Test("F16, BF16 and F64 convert to Float exactly; I32, I16, I8 and U8 widen to Int64")
    func dtypeConversion() throws {
        // IEEE half: 1, −2, 0.5, 65504 (largest), 2⁻²⁴ (smallest subnormal), +∞, −0, 0x3555.
        let f16: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00, 0x8000, 0x3555]
        let f16Values: [Float] = [1, -2, 0.5, 65504, 0x1p-24, .infinity, -0.0, 0.333251953125]
        // bfloat16: the top half of a float32.
        let bf16: [UInt16] = [0x3F80, 0xC020, 0x4049, 0x7F80, 0x0001, 0xFF7F]
        let bf16Values: [Float] = [1, -2.5, 3.140625, .infinity, 0x1p-133, -0x1.FEp127]
        let f64: [Double] = [1.5, -0.25, 0.1, 1e300, -1e-300]
        let i32: [Int32] = [-1, .max, .min, 7]
        let i16: [Int16] = [-32768, 32767, -2]
        let i8: [Int8] = [-128, 127, 0]
        let u8: [UInt8] = [0, 255, 128]

        var file = HandWrittenFile()
        file.add("half", "F16", [2, 4], f16.flatMap(littleEndian))
        file.add("brain", "BF16", [6], bf16.flatMap(littleEndian))
        file.add("double", "F64", [5, 1], f64.flatMap { littleEndian($0.bitPattern) })
        file.add("i32", "I32", [4], i32.flatMap(littleEndian))
        file.add("i16", "I16", [3], i16.flatMap(littleEndian))
        file.add("i8", "I8", [3], i8.map { UInt8(bitPattern: $0) })
        file.add("u8", "U8", [1, 3], u8)
        let parsed = try SafeTensorsFile(bytes: file.bytes)

        let half = try parsed.floats(named: "half")
        #expect(half.shape == [2, 4])
        #expect(half.scalars.map(\.bitPattern) == f16Values.map(\.bitPattern))
        #expect(try parsed.floats(named: "brain").scalars.map(\.bitPattern) == bf16Values.map(\.bitPattern))
        let double = try parsed.floats(named: "double")
        #expect(double.shape == [5, 1])
        #expect(double.scalars == [1.5, -0.25, Float(0.1), .infinity, -0.0])
        #expect(try parsed.integers(named: "i32").values == i32.map(Int64.init))
        #expect(try parsed.integers(named: "i16").values == i16.map(Int64.init))
        #expect(try parsed.integers(named: "i8").values == [-128, 127, 0])
        let bytes = try parsed.integers(named: "u8")
        #expect(bytes.shape == [1, 3] && bytes.values == [0, 255, 128])
        #expect(parsed.entry(named: "half")?.dtype == .float16)
        #expect(parsed.entry(named: "brain")?.dtype == .bfloat16)
        #expect(parsed.entry(named: "u8")?.byteRange.count == 3)
        // Only the floating-point tensors make up the default parameter set.
        #expect(try parsed.parameterSet().layout.names == ["half", "brain", "double"])
    }

    @Test("accessors reject the wrong kind of tensor, missing tensors and wrong layouts")
    func accessorErrors() throws {
        var writer = SafeTensorsWriter()
        try writer.add("f", shape: [3], floats: [1, 2, 3])
        try writer.add("i", shape: [2], int64s: [4, 5])
        let file = try SafeTensorsFile(bytes: writer.bytes())
        expectError(.unsupportedDType, mentioning: ["'i'", "I64"]) { try file.floats(named: "i") }
        expectError(.unsupportedDType, mentioning: ["'i'"]) { try file.tensor(named: "i") }
        expectError(.unsupportedDType, mentioning: ["'f'", "F32"]) { try file.integers(named: "f") }
        expectError(.missingTensor, mentioning: ["'nope'"]) { try file.floats(named: "nope") }
        expectError(.missingTensor, mentioning: ["'nope'"]) { try file.integers(named: "nope") }
        #expect(file.entry(named: "nope") == nil)

        let wrongShape = try ParameterLayout([(name: "f", shape: [3, 1])])
        expectError(.shapeMismatch, mentioning: ["'f'", "[3]", "[3, 1]"]) { try file.parameterSet(layout: wrongShape) }
        let missing = try ParameterLayout([(name: "f", shape: [3]), (name: "g", shape: [1])])
        expectError(.missingTensor, mentioning: ["'g'"]) { try file.parameterSet(layout: missing) }
        let integer = try ParameterLayout([(name: "i", shape: [2])])
        expectError(.unsupportedDType) { try file.parameterSet(layout: integer) }
        let right = try ParameterLayout([(name: "f", shape: [3])])
        #expect(try file.parameterSet(layout: right).scalars == [1, 2, 3])
    }

    // MARK: Mutation fuzzing

    /// A small valid file with several dtypes and metadata.
    static func fuzzSeed() throws -> [UInt8] {
        var file = HandWrittenFile()
        file.add("a.weight", "F32", [2, 3], float32Bytes([1, 2, 3, 4, 5, 6]))
        file.add("b", "I64", [2], littleEndian(Int64(-7)) + littleEndian(Int64(9)))
        file.add("c", "F16", [2], littleEndian(UInt16(0x3C00)) + littleEndian(UInt16(0xC000)))
        file.add("d", "BF16", [1], littleEndian(UInt16(0x3F80)))
        file.add("e", "U8", [3], [1, 2, 3])
        file.add("f", "F64", [1], littleEndian(Double(2).bitPattern))
        var bytes = file.bytes
        // Add metadata by rewriting the header.
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        var header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        header.removeFirst()
        header = "{\"__metadata__\":{\"format\":\"pt\"}," + header
        bytes = safetensors(header: header, data: Array(bytes[(8 + headerLength)...]))
        return bytes
    }

    static func mutate(_ bytes: inout [UInt8], _ g: inout Xoshiro256StarStar) {
        guard !bytes.isEmpty else {
            bytes.append(UInt8.random(in: 0...255, using: &g))
            return
        }
        let headerEnd = min(bytes.count, 8 + (bytes.count >= 2 ? Int(bytes[0]) | Int(bytes[1]) << 8 : 0))
        let headerRange = min(8, bytes.count)..<max(min(8, bytes.count), headerEnd)
        let structural = Array("0123456789-.e,:[]{}\"".utf8)
        switch g.next() % 8 {
        case 0:  // Random byte anywhere.
            bytes[Int.random(in: bytes.indices, using: &g)] = UInt8.random(in: 0...255, using: &g)
        case 1:  // Truncate.
            bytes.removeLast(Int.random(in: 1...bytes.count, using: &g))
        case 2:  // Insert a byte.
            bytes.insert(UInt8.random(in: 0...255, using: &g), at: Int.random(in: 0...bytes.count, using: &g))
        case 3:  // Delete a byte.
            bytes.remove(at: Int.random(in: bytes.indices, using: &g))
        case 4:  // Flip a bit of the length field.
            let i = Int.random(in: 0..<min(8, bytes.count), using: &g)
            bytes[i] ^= 1 << UInt8.random(in: 0...7, using: &g)
        case 5:  // Change a digit in the header (shapes and offsets).
            let digits = headerRange.filter { (0x30...0x39).contains(bytes[$0]) }
            if let i = digits.randomElement(using: &g) { bytes[i] = structural[Int.random(in: 0..<10, using: &g)] }
        case 6:  // Put a JSON-ish character somewhere in the header.
            if !headerRange.isEmpty {
                bytes[Int.random(in: headerRange, using: &g)] = structural.randomElement(using: &g)!
            }
        default:  // Append bytes to the data section.
            bytes += (0..<Int.random(in: 1...8, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
        }
    }

    @Test("20,000 seeded mutations of a valid file either parse or throw TensorError")
    func mutationFuzzing() throws {
        let seed = try Self.fuzzSeed()
        let original = try SafeTensorsFile(bytes: seed)
        #expect(original.names.count == 6 && original.metadata == ["format": "pt"])

        var generator = Xoshiro256StarStar(seed: 0x5AFE_7E45_0B5E_55ED)
        var parsed = 0
        var codes: [String: Int] = [:]
        var foreign: [String] = []
        var readFailures: [String] = []
        for iteration in 0..<20_000 {
            var bytes = seed
            for _ in 0..<(1 + Int(generator.next() % 3)) { Self.mutate(&bytes, &generator) }
            do {
                let file = try SafeTensorsFile(bytes: bytes)
                parsed += 1
                // Whatever parsed must be readable with the element count its shape promises.
                for e in file.entries {
                    do {
                        let count = e.shape.reduce(1, *)
                        switch e.dtype {
                        case .float32, .float16, .bfloat16, .float64:
                            if try file.floats(named: e.name).scalars.count != count { readFailures.append("\(iteration): \(e.name)") }
                        default:
                            if try file.integers(named: e.name).values.count != count { readFailures.append("\(iteration): \(e.name)") }
                        }
                    } catch {
                        readFailures.append("\(iteration): \(e.name): \(error)")
                    }
                }
            } catch let error as TensorError {
                codes[error.code.description, default: 0] += 1
            } catch {
                foreign.append("\(iteration): \(type(of: error)): \(error)")
            }
        }
        #expect(foreign.isEmpty, "non-TensorError errors: \(foreign.prefix(5))")
        #expect(readFailures.isEmpty, "parsed files whose tensors could not be read: \(readFailures.prefix(5))")
        // The mutations reach both outcomes and several distinct checks.
        #expect(parsed > 0 && parsed < 20_000, "\(parsed) parsed")
        for code in [TensorError.Code.truncatedFile, .malformedHeader, .offsetOutOfRange] {
            #expect(codes[code.description, default: 0] > 0, "no mutation was rejected with .\(code); seen \(codes)")
        }
    }

    // MARK: Golden file written by PyTorch

    @Test("the PyTorch-written llama-tiny weights match LlamaConfiguration.parameterLayout()")
    func goldenWeights() throws {
        let root = try #require(Bundle.module.url(forResource: "Golden", withExtension: nil))
        let directory = root.appendingPathComponent("llama-tiny")
        let configuration = try JSONDecoder().decode(
            LlamaConfiguration.self, from: Data(contentsOf: directory.appendingPathComponent("config.json")))
        #expect(configuration.headCount == 4 && configuration.keyValueHeadCount == 2)
        let layout = try configuration.parameterLayout()
        let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("weights.safetensors").path)

        #expect(Set(file.names) == Set(layout.names), "names differ: \(Set(file.names).symmetricDifference(layout.names))")
        #expect(file.names.count == layout.descriptors.count)
        for descriptor in layout.descriptors {
            let e = try #require(file.entry(named: descriptor.name), "\(descriptor.name) is missing")
            #expect(e.shape == descriptor.shape, "\(descriptor.name): \(e.shape) vs \(descriptor.shape)")
            #expect(e.dtype == .float32, "\(descriptor.name)")
        }
        let parameters = try file.parameterSet(layout: layout)
        #expect(parameters.layout == layout)
        #expect(parameters.isFinite)
        #expect(parameters.squaredNorm() > 0)
        let model = try LlamaModel(configuration: configuration, parameters: parameters)
        #expect(model.parameterCount == layout.scalarCount)

        let tokens = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("tokens.safetensors").path)
        let ids = try tokens.integers(named: "tokens")
        #expect(ids.shape.count == 2 && ids.shape[1] <= configuration.contextLength + 1)
        #expect(ids.values.allSatisfy { $0 >= 0 && $0 < Int64(configuration.vocabularySize) })
    }
}
