import Foundation
import Testing
import TesseraCodec
import TesseraCore

// Builders that write the wire format byte by byte from Documentation/WireFormat.md, so tests
// can set any field to any value — including the ones WireFormat.serialize never writes.

/// One tensor-table entry and its two streams, every field free.
struct RawTensor {
    var name: [UInt8]
    var shape: [UInt64]
    var rank: UInt8? = nil  // nil: shape.count
    var chunkRows: UInt32
    var chunkColumns: UInt32
    var k: UInt32
    var quantizer: UInt8
    var scale: Float
    var shift: Float
    var lookup: [Float]
    var lookupCount: UInt8? = nil  // nil: lookup.count
    var indexCoding: UInt8
    var riceParameter: UInt8
    var indexBytes: [UInt8]
    var valueBytes: [UInt8]
    var indexLength: UInt32? = nil  // nil: indexBytes.count
    var valueLength: UInt32? = nil  // nil: valueBytes.count

    init(_ t: CompressedTensor) {
        name = Array(t.name.utf8)
        shape = t.shape.map(UInt64.init)
        chunkRows = UInt32(t.geometry.chunkRows)
        chunkColumns = UInt32(t.geometry.chunkColumns)
        k = UInt32(t.k)
        quantizer = t.quantizer.rawValue
        scale = t.quantization.scale
        shift = t.quantization.shift
        lookup = t.quantization.lookup
        indexCoding = t.indexCoding.rawValue
        riceParameter = UInt8(t.riceParameter)
        indexBytes = t.indexBytes
        valueBytes = t.valueBytes
    }

    var entry: [UInt8] {
        var b = littleEndianBytes(UInt16(name.count)) + name
        b.append(rank ?? UInt8(shape.count))
        for d in shape { b += littleEndianBytes(d) }
        b += littleEndianBytes(chunkRows) + littleEndianBytes(chunkColumns) + littleEndianBytes(k)
        b.append(quantizer)
        b += littleEndianBytes(scale.bitPattern) + littleEndianBytes(shift.bitPattern)
        b.append(lookupCount ?? UInt8(lookup.count))
        for v in lookup { b += littleEndianBytes(v.bitPattern) }
        b.append(indexCoding)
        b.append(riceParameter)
        b += littleEndianBytes(indexLength ?? UInt32(indexBytes.count)) + littleEndianBytes(valueLength ?? UInt32(valueBytes.count))
        return b
    }
}

/// A body, every field free.
struct RawBody {
    var window: UInt64
    var uid: UInt32
    var hotkey: [UInt8]
    var modelVersion: [UInt8]
    var sampleDigest: [UInt8]
    var innerSteps: UInt32
    var transform: UInt8
    var tensorCount: UInt32? = nil  // nil: tensors.count
    var tensors: [RawTensor]
    var trailing: [UInt8] = []

    init(_ u: CompressedUpdate) {
        window = u.metadata.window
        uid = u.metadata.uid
        hotkey = Array(u.metadata.hotkey.utf8)
        modelVersion = Array(u.metadata.modelVersion.utf8)
        sampleDigest = u.metadata.sampleDigest
        innerSteps = u.metadata.innerSteps
        transform = u.transform.rawValue
        tensors = u.tensors.map(RawTensor.init)
    }

    var bytes: [UInt8] {
        var b = littleEndianBytes(window) + littleEndianBytes(uid)
        b += [UInt8(hotkey.count)] + hotkey + [UInt8(modelVersion.count)] + modelVersion
        b += sampleDigest + littleEndianBytes(innerSteps) + [transform]
        b += littleEndianBytes(tensorCount ?? UInt32(tensors.count))
        for t in tensors { b += t.entry }
        for t in tensors { b += t.indexBytes + t.valueBytes }
        return b + trailing
    }

    /// The container around this body, uncompressed, with correct lengths and checksum.
    var file: [UInt8] { container(bytes) }

    /// Index of the tensor named `name`.
    func index(_ name: String) -> Int { tensors.firstIndex { $0.name == Array(name.utf8) }! }
}

/// The container: prefix, stored body, XXH64 — each field overridable.
func container(
    _ stored: [UInt8], magic: [UInt8] = WireFormat.magic, version: UInt16 = 1, compression: UInt8 = 0, reserved: UInt8 = 0,
    storedLength: UInt64? = nil, bodyLength: UInt64? = nil, checksum: UInt64? = nil
) -> [UInt8] {
    var b = magic + littleEndianBytes(version) + [compression, reserved]
    b += littleEndianBytes(storedLength ?? UInt64(stored.count)) + littleEndianBytes(bodyLength ?? UInt64(stored.count))
    b += stored
    return b + littleEndianBytes(checksum ?? XXHash64.hash(b))
}

/// Recomputes the trailing checksum (and, with `lengths`, the stored length — and the body
/// length of an uncompressed file) after an edit.
func refix(_ file: inout [UInt8], lengths: Bool = false) {
    guard file.count >= 32 else { return }
    if lengths {
        let stored = UInt64(file.count - 32)
        file.replaceSubrange(8..<16, with: littleEndianBytes(stored))
        if file[6] == 0 { file.replaceSubrange(16..<24, with: littleEndianBytes(stored)) }
    }
    let end = file.count - 8
    file.replaceSubrange(end..<file.count, with: littleEndianBytes(XXHash64.hash(Array(file[0..<end]))))
}

/// The stored bytes (body or zstd frame) of a file.
func storedPart(_ file: [UInt8]) -> [UInt8] { Array(file[24..<(file.count - 8)]) }

/// A zstd frame of raw blocks holding `content` (RFC 8878 §3.1): magic, a frame-header
/// descriptor, then either a window descriptor (no content size) or the content size in 8 bytes.
func zstdRawFrame(_ content: [UInt8], declaredSize: UInt64?) -> [UInt8] {
    var b: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
    if let declaredSize {
        b.append(0b1110_0000)  // FCS field 8 bytes, single segment, no checksum, no dictionary
        b += littleEndianBytes(declaredSize)
    } else {
        b.append(0)  // no content size, not single segment
        b.append(0x58)  // window descriptor: 2^(10 + 11) = 2 MiB
    }
    var offset = 0
    repeat {
        let size = min(content.count - offset, 1 << 16)
        let last: UInt32 = offset + size == content.count ? 1 : 0
        let header = UInt32(size) << 3 | last  // block type 0 (raw)
        b += [UInt8(header & 0xFF), UInt8((header >> 8) & 0xFF), UInt8(header >> 16)]
        b += content[offset..<(offset + size)]
        offset += size
    } while offset < content.count
    return b
}

/// 12-bit packing as the specification states it.
func pack12(_ indices: [Int]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < indices.count {
        let a = indices[i], b = i + 1 < indices.count ? indices[i + 1] : 0
        out += [UInt8(a & 0xFF), UInt8(((a >> 8) & 0xF) | ((b & 0xF) << 4)), UInt8((b >> 4) & 0xFF)]
        i += 2
    }
    return out
}

/// Rice coding of per-chunk gaps as the specification states it: q one-bits, a zero-bit, the
/// low p bits of the gap (LSB first), bits filling bytes from the least significant end.
func riceEncode(_ indices: [Int], k: Int, parameter p: Int) -> (bytes: [UInt8], bits: Int) {
    var bits: [Bool] = []
    for start in stride(from: 0, to: indices.count, by: k) {
        var previous = -1
        for i in indices[start..<(start + k)] {
            let gap = i - previous - 1
            previous = i
            bits += [Bool](repeating: true, count: gap >> p) + [false]
            for b in 0..<p { bits.append((gap >> b) & 1 == 1) }
        }
    }
    var bytes = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
    for (i, bit) in bits.enumerated() where bit { bytes[i / 8] |= 1 << UInt8(i % 8) }
    return (bytes, bits.count)
}

/// The Rice parameter the specification says the encoder picks: the smallest size, ties to the smaller p.
func bestRiceParameter(_ indices: [Int], k: Int) -> Int {
    (0...15).min { a, b in
        let sa = riceEncode(indices, k: k, parameter: a).bits, sb = riceEncode(indices, k: k, parameter: b).bits
        return sa != sb ? sa < sb : a < b
    }!
}

/// Small updates for hostile-input tests: "w" [8, 16] (two 8×8 chunks), "b" [6] (one 1×6
/// chunk), "s" [] (a scalar), chunk side 8, k 4.
enum WireFixture {
    static func layout() throws -> ParameterLayout { try makeLayout([("w", [8, 16]), ("b", [6]), ("s", [])]) }

    static func codec(_ quantizer: ValueQuantizer = .float32, _ indexCoding: IndexCoding = .packed12, transform: ChunkTransform = .none) throws -> ChunkedTopKCodec {
        try makeCodec(side: 8, k: 4, quantizer: quantizer, transform: transform, indexCoding: indexCoding)
    }

    static func metadata() -> UpdateMetadata {
        UpdateMetadata(window: 123_456, uid: 42, hotkey: "5Grwva…", modelVersion: "llama-tiny/1",
                       sampleDigest: (0..<32).map { UInt8($0 * 7 & 0xFF) }, innerSteps: 30)
    }

    static func update(_ quantizer: ValueQuantizer = .float32, _ indexCoding: IndexCoding = .packed12, transform: ChunkTransform = .none, seed: UInt64 = 3) throws -> EncodedUpdate {
        try codec(quantizer, indexCoding, transform: transform).encode(normalSet(layout(), seed: seed, standardDeviation: 0.1), metadata: metadata())
    }

    static func body(_ quantizer: ValueQuantizer = .float32, _ indexCoding: IndexCoding = .packed12) throws -> RawBody {
        RawBody(try update(quantizer, indexCoding).compressed)
    }
}

/// Parses `file` with the fixture's layout and decodes it with `codec`.
func parseAndDecode(_ file: [UInt8], codec: ChunkedTopKCodec, layout: ParameterLayout, limits: DecodeLimits = DecodeLimits()) throws -> SparseUpdate {
    try codec.decode(WireFormat.parse(file, limits: limits, layout: layout), layout: layout)
}
