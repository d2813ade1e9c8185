import Foundation
import Testing
import TesseraCodec
import TesseraCore

/// Untrusted bytes: every malformed field is refused with the CodecError code that names it.
@Suite("Wire format: hostile input")
struct WireFormatHostileTests {
    /// Parses `file` (with the fixture layout) and decodes it with `codec`, expecting `code`.
    func expectRejected(
        _ file: [UInt8], _ code: CodecError.Code, _ comment: Comment? = nil, codec: ChunkedTopKCodec? = nil,
        limits: DecodeLimits = DecodeLimits(), layout: ParameterLayout?? = .none, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let fixtureLayout = try WireFixture.layout()
        let useLayout = layout ?? fixtureLayout
        let decoder = try codec ?? WireFixture.codec()
        expectCodecError(code, comment, sourceLocation: sourceLocation) {
            let update = try WireFormat.parse(file, limits: limits, layout: useLayout)
            return try decoder.decode(update, layout: useLayout ?? fixtureLayout)
        }
    }

    // MARK: Container

    @Test("a file cut at any length is truncated", arguments: WireFormat.Compression.allTestCases)
    func truncatedAtEveryLength(compression: WireFormat.Compression) throws {
        let file = try WireFormat.serialize(WireFixture.update(.lookup2, .rice).compressed, compression: compression)
        #expect(file.count > 64)
        for length in 0..<file.count {
            try expectRejected(Array(file[0..<length]), .truncated, "length \(length) of \(file.count)")
        }
        // …and the complete file is fine.
        #expect(throws: Never.self) { try parseAndDecode(file, codec: WireFixture.codec(.lookup2, .rice), layout: WireFixture.layout()) }
    }

    @Test("container fields: magic, version, compression, reserved byte")
    func containerFields() throws {
        let body = try WireFixture.body().bytes
        for i in 0..<4 {
            var magic = WireFormat.magic
            magic[i] ^= 0x20
            try expectRejected(container(body, magic: magic), .badMagic, "magic byte \(i)")
        }
        try expectRejected(container(body, magic: [0x28, 0xB5, 0x2F, 0xFD]), .badMagic, "a bare zstd frame")
        for version: UInt16 in [0, 2, 0x100, .max] {
            try expectRejected(container(body, version: version), .unsupportedVersion, "version \(version)")
        }
        for compression: UInt8 in [2, 0x80, 0xFF] {
            try expectRejected(container(body, compression: compression), .malformedHeader, "compression \(compression)")
        }
        try expectRejected(container(body, reserved: 1), .malformedHeader, "reserved byte")
        #expect(throws: Never.self) { try WireFormat.parse(container(body), layout: WireFixture.layout()) }
    }

    @Test("checksum mismatch: any flipped byte, or a wrong checksum")
    func checksum() throws {
        let file = try WireFixture.body().file
        for position in stride(from: 24, to: file.count, by: 7) {
            var bad = file
            bad[position] ^= 0x01
            try expectRejected(bad, .checksumMismatch, "byte \(position)")
        }
        let body = storedPart(file)
        try expectRejected(container(body, checksum: XXHash64.hash(Array(file[0..<(file.count - 8)])) ^ 1), .checksumMismatch, "checksum − 1 bit")
        try expectRejected(container(body, checksum: 0), .checksumMismatch, "zero checksum")
    }

    @Test("stored length that does not match the bytes present")
    func storedLengthLie() throws {
        let body = try WireFixture.body().bytes
        let n = UInt64(body.count)
        try expectRejected(container(body, storedLength: n + 1, bodyLength: n), .truncated, "S one too large")
        try expectRejected(container(body, storedLength: .max, bodyLength: n), .truncated, "S = 2⁶⁴−1")
        try expectRejected(container(body, storedLength: n - 1, bodyLength: n), .trailingBytes, "S one too small")
        try expectRejected(container(body, storedLength: 0, bodyLength: n), .trailingBytes, "S = 0")
        try expectRejected(container(body) + [0], .trailingBytes, "a byte after the checksum")
        try expectRejected(container(body, bodyLength: n + 1), .malformedHeader, "uncompressed, B ≠ S")
    }

    @Test("sizes over the limits are refused before anything is read")
    func sizeLimits() throws {
        let update = try WireFixture.update(.lookup2, .rice).compressed
        for compression in WireFormat.Compression.allTestCases {
            let file = try WireFormat.serialize(update, compression: compression)
            let body = RawBody(update).bytes.count
            try expectRejected(file, .sizeLimitExceeded, "stored limit", limits: DecodeLimits(maximumStoredBytes: file.count - 1))
            try expectRejected(file, .sizeLimitExceeded, "body limit", limits: DecodeLimits(maximumBodyBytes: body - 1))
            #expect(throws: Never.self) { try WireFormat.parse(file, limits: DecodeLimits(maximumStoredBytes: file.count, maximumBodyBytes: body)) }
        }
        // A body length of 2⁶⁴−1 with a valid checksum.
        let zstd = storedPart(try WireFormat.serialize(update, compression: .zstd))
        try expectRejected(container(zstd, compression: 1, bodyLength: .max), .sizeLimitExceeded, "B = 2⁶⁴−1")
        // More tensors than the limit, without a layout.
        var body = RawBody(update)
        body.tensorCount = 100_001
        try expectRejected(body.file, .sizeLimitExceeded, "tensor count", layout: .some(nil))
        try expectRejected(RawBody(update).file, .sizeLimitExceeded, "tensor limit 2", limits: DecodeLimits(maximumTensorCount: 2), layout: .some(nil))
    }

    @Test("zstd frames: no declared size, a declared size over the limit or different from B, corrupt data")
    func zstdFrames() throws {
        let update = try WireFixture.update().compressed
        let body = RawBody(update).bytes
        let n = UInt64(body.count)
        // The hand-made frame is valid when it declares the right size.
        #expect(throws: Never.self) { try WireFormat.parse(container(zstdRawFrame(body, declaredSize: n), compression: 1, bodyLength: n)) }
        try expectRejected(container(zstdRawFrame(body, declaredSize: nil), compression: 1, bodyLength: n), .decompressionFailed, "no content size")
        let limits = DecodeLimits(maximumBodyBytes: 4096)
        try expectRejected(container(zstdRawFrame(body, declaredSize: 1 << 40), compression: 1, bodyLength: n), .sizeLimitExceeded,
                           "declares 2⁴⁰", limits: limits)
        try expectRejected(container(zstdRawFrame(body, declaredSize: 4097), compression: 1, bodyLength: n), .sizeLimitExceeded,
                           "declares limit + 1", limits: limits)
        try expectRejected(container(zstdRawFrame(body, declaredSize: n + 1), compression: 1, bodyLength: n), .malformedHeader, "declares B + 1")
        try expectRejected(container(zstdRawFrame(body, declaredSize: n - 1), compression: 1, bodyLength: n), .malformedHeader, "declares B − 1")
        // Declares B but holds one byte less.
        try expectRejected(container(zstdRawFrame(Array(body.dropLast()), declaredSize: n), compression: 1, bodyLength: n), .decompressionFailed, "short content")
        // Not a frame at all, an empty one, a real frame with its blocks damaged.
        try expectRejected(container(body, compression: 1, bodyLength: n), .decompressionFailed, "raw body marked zstd")
        try expectRejected(container([], compression: 1, bodyLength: 0), .decompressionFailed, "nothing")
        var real = storedPart(try WireFormat.serialize(update, compression: .zstd))
        real.replaceSubrange(14..<real.count, with: [UInt8](repeating: 0xFF, count: real.count - 14))
        try expectRejected(container(real, compression: 1, bodyLength: n), .decompressionFailed, "damaged blocks")
    }

    // MARK: Body

    @Test("unknown enum values")
    func unknownEnums() throws {
        var body = try WireFixture.body()
        body.transform = 2
        try expectRejected(body.file, .malformedHeader, "transform 2")
        for (field, value) in [("quantizer", UInt8(5)), ("quantizer", 0xFF), ("indexCoding", 2), ("indexCoding", 0xFF)] {
            var body = try WireFixture.body()
            let w = body.index("w")
            if field == "quantizer" { body.tensors[w].quantizer = value } else { body.tensors[w].indexCoding = value }
            try expectRejected(body.file, .malformedHeader, "\(field) \(value)")
        }
    }

    @Test("k = 0, k above the chunk size, chunks that do not tile the tensor")
    func chunking() throws {
        for (k, comment) in [(UInt32(0), "k = 0"), (65, "k = 65 > 64"), (.max, "k = 2³²−1")] {
            var body = try WireFixture.body()
            body.tensors[body.index("w")].k = k
            try expectRejected(body.file, .wrongIndexCount, "\(comment)")
        }
        for (rows, columns) in [(UInt32(3), UInt32(8)), (8, 5), (0, 8), (8, 0), (16, 8), (.max, 8)] {
            var body = try WireFixture.body()
            body.tensors[body.index("w")].chunkRows = rows
            body.tensors[body.index("w")].chunkColumns = columns
            try expectRejected(body.file, .malformedHeader, "chunk \(rows)×\(columns) of 8×16")
        }
        // A valid tiling that is not the network's: the decoder refuses it.
        var body = try WireFixture.body()
        body.tensors[body.index("w")].chunkRows = 4
        try expectRejected(body.file, .layoutMismatch, "4×8 chunks, network uses 8×8")
        // k differs from the network's but is legal for the chunk.
        var other = try WireFixture.body()
        other.tensors[other.index("w")].k = 3
        try expectRejected(other.file, .wrongIndexCount, "k = 3, network uses 4")
    }

    @Test("bytes after the last tensor, and streams longer than the body")
    func trailingAndOverlong() throws {
        var body = try WireFixture.body()
        body.trailing = [0]
        try expectRejected(body.file, .trailingBytes, "one zero byte")
        body.trailing = [UInt8](repeating: 0xAB, count: 100)
        try expectRejected(body.file, .trailingBytes, "100 bytes")
        var long = try WireFixture.body()
        long.tensors[long.index("s")].valueLength = 1 << 31
        try expectRejected(long.file, .truncated, "value stream of 2³¹ bytes")
        var longIndex = try WireFixture.body()
        longIndex.tensors[0].indexLength = .max
        try expectRejected(longIndex.file, .truncated, "index stream of 2³²−1 bytes")
        var rank = try WireFixture.body()
        rank.tensors[0].rank = 255
        // The table's next fields are read as dimensions; the third is chunkRows | chunkColumns << 32.
        try expectRejected(rank.file, .malformedHeader, "rank 255 with 2 dimensions present", layout: .some(nil))
        var huge = try WireFixture.body()
        huge.tensors[0].shape = [1 << 31, 8]
        try expectRejected(huge.file, .malformedHeader, "dimension ≥ 2³¹", layout: .some(nil))
        huge.tensors[0].shape = [1 << 30, 1 << 30]
        try expectRejected(huge.file, .malformedHeader, "2⁶⁰ elements", layout: .some(nil))
    }

    @Test("strings that are not UTF-8")
    func badUTF8() throws {
        var body = try WireFixture.body()
        body.hotkey = [0xC3, 0x28]
        try expectRejected(body.file, .malformedHeader, "hotkey")
        var model = try WireFixture.body()
        model.modelVersion = [0xFF]
        try expectRejected(model.file, .malformedHeader, "model version")
        var name = try WireFixture.body()
        name.tensors[0].name = [0x77, 0x80]
        try expectRejected(name.file, .malformedHeader, "tensor name", layout: .some(nil))
    }

    @Test("the tensor table must match the layout: names, order, shapes, count")
    func layoutMismatch() throws {
        let file = try WireFixture.body().file
        for (what, entries) in [
            ("renamed", [("w", [8, 16]), ("bias", [6]), ("s", [Int]())]),
            ("reordered", [("b", [6]), ("w", [8, 16]), ("s", [])]),
            ("reshaped", [("w", [16, 8]), ("b", [6]), ("s", [])]),
            ("rank", [("w", [8, 16]), ("b", [6, 1]), ("s", [])]),
            ("fewer", [("w", [8, 16]), ("b", [6])]),
            ("more", [("w", [8, 16]), ("b", [6]), ("s", []), ("t", [2])]),
        ] {
            let other = try makeLayout(entries)
            try expectRejected(file, .layoutMismatch, "\(what)", codec: WireFixture.codec(), layout: .some(other))
            // The decoder applies the same check to an update parsed without a layout.
            let parsed = try WireFormat.parse(file)
            expectCodecError(.layoutMismatch, "decode, \(what)") { try WireFixture.codec().decode(parsed, layout: other) }
        }
        var body = try WireFixture.body()
        body.tensorCount = 4
        try expectRejected(body.file, .layoutMismatch, "count field 4")
        body.tensorCount = 2
        try expectRejected(body.file, .layoutMismatch, "count field 2")
    }

    // MARK: Index streams

    @Test("12-bit indices: out of range, repeated, descending, wrong length, non-zero padding")
    func packed12() throws {
        func with(_ chunk0: [Int], chunk1: [Int] = [0, 1, 2, 3]) throws -> [UInt8] {
            var body = try WireFixture.body()
            body.tensors[body.index("w")].indexBytes = pack12(chunk0 + chunk1)
            return body.file
        }
        #expect(throws: Never.self) { try parseAndDecode(with([1, 5, 9, 63]), codec: WireFixture.codec(), layout: WireFixture.layout()) }
        try expectRejected(with([1, 5, 9, 64]), .indexOutOfRange, "64 in a chunk of 64")
        try expectRejected(with([0, 1, 2, 3], chunk1: [1, 2, 3, 4095]), .indexOutOfRange, "4095, second chunk")
        try expectRejected(with([1, 5, 5, 9]), .duplicateIndex, "5 twice")
        try expectRejected(with([7, 7, 7, 7]), .duplicateIndex, "7 four times")
        try expectRejected(with([1, 9, 5, 10]), .malformedHeader, "9 then 5")
        try expectRejected(with([3, 2, 1, 0]), .malformedHeader, "descending")
        var short = try WireFixture.body()
        short.tensors[short.index("w")].indexBytes.removeLast(3)
        try expectRejected(short.file, .wrongIndexCount, "3 bytes short")
        var long = try WireFixture.body()
        long.tensors[long.index("w")].indexBytes += [0, 0, 0]
        try expectRejected(long.file, .wrongIndexCount, "3 bytes long")
        // An odd count: "s" keeps 1 index, padded with b = 0 — its high bits must be zero.
        var padded = try WireFixture.body()
        let s = padded.index("s")
        #expect(padded.tensors[s].indexBytes == [0, 0, 0])
        padded.tensors[s].indexBytes = [0, 0x10, 0]
        try expectRejected(padded.file, .malformedHeader, "padding nibble")
        padded.tensors[s].indexBytes = [0, 0, 0x01]
        try expectRejected(padded.file, .malformedHeader, "padding byte")
    }

    /// The specification: the Rice parameter is 0 unless the indices are Rice-coded.
    @Test("12-bit indices with a non-zero Rice parameter")
    func packed12WithRiceParameter() throws {
        var body = try WireFixture.body()
        body.tensors[body.index("w")].riceParameter = 5
        try expectRejected(body.file, .malformedHeader, "Rice parameter 5 on 12-bit indices")
    }

    @Test("Rice streams: run-away unary, truncation, trailing bytes, non-zero padding, out of range, bad parameter")
    func rice() throws {
        let codec = try WireFixture.codec(.float32, .rice)
        func with(_ chunk0: [Int], chunk1: [Int] = [0, 1, 2, 4], parameter: Int = 0, edit: (inout [UInt8]) -> Void = { _ in }) throws -> [UInt8] {
            var body = try WireFixture.body(.float32, .rice)
            let w = body.index("w")
            var bytes = riceEncode(chunk0 + chunk1, k: 4, parameter: parameter).bytes
            edit(&bytes)
            body.tensors[w].indexBytes = bytes
            body.tensors[w].riceParameter = UInt8(parameter)
            return body.file
        }
        // The hand-coded streams are valid as they are (5 + 5 bits: 6 bits of padding).
        let valid = try parseAndDecode(with([0, 1, 2, 4]), codec: codec, layout: WireFixture.layout())
        #expect(valid.tensors[0].indices == [0, 1, 2, 4, 0, 1, 2, 4])
        #expect(throws: Never.self) { try parseAndDecode(with([3, 17, 40, 63], parameter: 3), codec: codec, layout: WireFixture.layout()) }

        try expectRejected(with([0, 1, 2, 4]) { $0[1] |= 0x80 }, .malformedHeader, "padding bit 15", codec: codec)
        try expectRejected(with([0, 1, 2, 4]) { $0[1] |= 0x04 }, .malformedHeader, "padding bit 10", codec: codec)
        try expectRejected(with([0, 1, 2, 4]) { $0.append(0) }, .trailingBytes, "a zero byte after the stream", codec: codec)
        try expectRejected(with([0, 1, 2, 4]) { $0 += [0, 0, 0] }, .trailingBytes, "three zero bytes", codec: codec)
        try expectRejected(with([0, 1, 2, 4]) { $0.removeLast() }, .truncated, "last byte missing", codec: codec)
        try expectRejected(with([0, 1, 2, 4]) { $0 = [UInt8](repeating: 0xFF, count: 64) }, .truncated, "all ones: run-away unary", codec: codec)
        try expectRejected(with([0, 1, 2, 4]) { $0 = [] }, .truncated, "empty stream", codec: codec)
        // A unary run longer than (chunkSize >> p) + 1 = 65 is refused before it reaches an index.
        try expectRejected(with([0, 1, 2, 4]) { $0 = [UInt8](repeating: 0xFF, count: 9) + [0, 0, 0, 0] }, .truncated, "72 ones then zeros", codec: codec)
        // A gap that stays within the unary limit but lands outside the chunk.
        try expectRejected(with([0, 1, 2, 64]), .indexOutOfRange, "index 64", codec: codec)
        try expectRejected(with([60, 61, 62, 63], chunk1: [0, 1, 2, 70], parameter: 2), .indexOutOfRange, "index 70, p = 2", codec: codec)
        for p: UInt8 in [16, 0xFF] {
            var body = try WireFixture.body(.float32, .rice)
            body.tensors[body.index("w")].riceParameter = p
            try expectRejected(body.file, .malformedHeader, "Rice parameter \(p)", codec: codec)
        }
    }

    // MARK: Values and quantization parameters

    @Test("values: NaN, infinity, beyond the magnitude bound, unused codes, padding, length")
    func values() throws {
        func edit(_ q: ValueQuantizer, in tensor: String = "w", _ change: (inout RawTensor) -> Void) throws -> [UInt8] {
            var body = try WireFixture.body(q, .packed12)
            change(&body.tensors[body.index(tensor)])
            return body.file
        }
        func setFloat(_ v: Float) -> (inout RawTensor) -> Void { { $0.valueBytes.replaceSubrange(4..<8, with: littleEndianBytes(v.bitPattern)) } }
        func setHalf(_ bits: UInt16) -> (inout RawTensor) -> Void { { $0.valueBytes.replaceSubrange(2..<4, with: littleEndianBytes(bits)) } }
        let fp32 = try WireFixture.codec(.float32), fp16 = try WireFixture.codec(.float16)
        let int8 = try WireFixture.codec(.int8), int4 = try WireFixture.codec(.int4), lookup = try WireFixture.codec(.lookup2)
        try expectRejected(edit(.float32, setFloat(.nan)), .nonFiniteValue, "fp32 NaN", codec: fp32)
        try expectRejected(edit(.float32, setFloat(-.infinity)), .nonFiniteValue, "fp32 −∞", codec: fp32)
        try expectRejected(edit(.float32, setFloat(Float(1e4).nextUp)), .valueOutOfBounds, "fp32 just above 1e4", codec: fp32)
        try expectRejected(edit(.float32, setFloat(-3e38)), .valueOutOfBounds, "fp32 −3e38", codec: fp32)
        #expect(throws: Never.self) { try parseAndDecode(edit(.float32, setFloat(-1e4)), codec: fp32, layout: WireFixture.layout()) }
        try expectRejected(edit(.float16, setHalf(0x7C00)), .nonFiniteValue, "fp16 +∞", codec: fp16)
        try expectRejected(edit(.float16, setHalf(0xFE00)), .nonFiniteValue, "fp16 NaN", codec: fp16)
        try expectRejected(edit(.float16, setHalf(0x7BFF)), .valueOutOfBounds, "fp16 65504", codec: fp16)
        try expectRejected(edit(.int8) { $0.valueBytes[3] = 0x80 }, .valueOutOfBounds, "int8 −128", codec: int8)
        try expectRejected(edit(.int4) { $0.valueBytes[2] &= 0xF0 }, .valueOutOfBounds, "int4 code 0, low nibble", codec: int4)
        try expectRejected(edit(.int4) { $0.valueBytes[2] &= 0x0F }, .valueOutOfBounds, "int4 code 0, high nibble", codec: int4)
        // "s" holds a single value: the unused bits of its byte must be zero.
        try expectRejected(edit(.int4, in: "s") { $0.valueBytes[0] |= 0x80 }, .malformedHeader, "int4 padding nibble", codec: int4)
        try expectRejected(edit(.lookup2, in: "s") { $0.valueBytes[0] |= 0x40 }, .malformedHeader, "2-bit padding", codec: lookup)
        try expectRejected(edit(.lookup2, in: "b") { $0.valueBytes.append(0) }, .wrongIndexCount, "one byte too many", codec: lookup)
        try expectRejected(edit(.float32) { $0.valueBytes.removeLast() }, .wrongIndexCount, "one byte short", codec: fp32)
        try expectRejected(edit(.float16) { $0.valueBytes += [0, 0] }, .wrongIndexCount, "one fp16 too many", codec: fp16)
    }

    @Test("scale, shift and lookup: non-finite, out of bounds, negative scale, wrong table size")
    func quantizationParameters() throws {
        func edit(_ q: ValueQuantizer, _ change: (inout RawTensor) -> Void) throws -> [UInt8] {
            var body = try WireFixture.body(q, .packed12)
            change(&body.tensors[body.index("b")])
            return body.file
        }
        let int8 = try WireFixture.codec(.int8), lookup = try WireFixture.codec(.lookup2), fp32 = try WireFixture.codec(.float32)
        try expectRejected(edit(.int8) { $0.scale = .nan }, .nonFiniteValue, "scale NaN", codec: int8)
        try expectRejected(edit(.int8) { $0.scale = .infinity }, .nonFiniteValue, "scale ∞", codec: int8)
        try expectRejected(edit(.int8) { $0.scale = 1e5 }, .valueOutOfBounds, "scale 1e5", codec: int8)
        try expectRejected(edit(.int8) { $0.scale = -0.5 }, .malformedHeader, "negative scale", codec: int8)
        try expectRejected(edit(.lookup2) { $0.shift = -.infinity }, .nonFiniteValue, "shift −∞", codec: lookup)
        try expectRejected(edit(.lookup2) { $0.shift = 2e4 }, .valueOutOfBounds, "shift 2e4", codec: lookup)
        try expectRejected(edit(.float32) { $0.shift = .nan }, .nonFiniteValue, "unused shift NaN", codec: fp32)
        try expectRejected(edit(.lookup2) { $0.lookup[2] = .nan }, .nonFiniteValue, "lookup NaN", codec: lookup)
        try expectRejected(edit(.lookup2) { $0.lookup[0] = -1e5 }, .valueOutOfBounds, "lookup −1e5", codec: lookup)
        try expectRejected(edit(.lookup2) { $0.lookup.removeLast() }, .malformedHeader, "3 lookup entries", codec: lookup)
        try expectRejected(edit(.lookup2) { $0.lookup.append(0) }, .malformedHeader, "5 lookup entries", codec: lookup)
        try expectRejected(edit(.float32) { $0.lookup = [0, 0, 0, 0] }, .malformedHeader, "a lookup table for fp32", codec: fp32)
        // A lookup count larger than the bytes that follow.
        try expectRejected(edit(.lookup2) { $0.lookupCount = 255 }, .truncated, "lookup count 255", codec: lookup)
        // A tighter bound from the receiver's limits.
        var tight = lookup
        tight.limits.maximumMagnitude = 1e-3
        try expectRejected(edit(.lookup2) { _ in }, .valueOutOfBounds, "bound 1e-3", codec: tight)
    }
}

extension WireFormat.Compression {
    static let allTestCases: [WireFormat.Compression] = [.none, .zstd]
}
