public import TesseraCore

/// Tessera's language-neutral container for a compressed update (format version 1), specified
/// byte by byte in Documentation/WireFormat.md.
///
/// ```
/// "TSGU" | u16 version | u8 compression | u8 reserved | u64 stored body length
///        | u64 body length | body (zstd frame or raw) | u64 XXH64 of everything before it
/// ```
/// All integers are little-endian. Parsing checks the sizes against ``DecodeLimits`` and the
/// checksum before decompressing, decompresses only a frame that declares its size, and then
/// reads the body with every length checked against the bytes that remain.
public enum WireFormat {
    /// The four magic bytes, "TSGU".
    public static let magic: [UInt8] = [0x54, 0x53, 0x47, 0x55]
    /// The version this build writes and reads.
    public static let version: UInt16 = 1
    /// Bytes before the body.
    public static let prefixSize = 24

    /// Body compression.
    public enum Compression: UInt8, Sendable {
        /// The body is stored as is.
        case none = 0
        /// The body is one zstd frame with its content size declared.
        case zstd = 1
    }

    /// Serializes `update`.
    /// - Throws: ``CodecError`` `.invalidConfiguration` if a string is too long for its field.
    public static func serialize(_ update: CompressedUpdate, compression: Compression = .zstd) throws -> [UInt8] {
        var body = ByteWriter()
        let m = update.metadata
        body.u64(m.window)
        body.u32(m.uid)
        try body.string8(m.hotkey, field: "hotkey")
        try body.string8(m.modelVersion, field: "modelVersion")
        guard m.sampleDigest.count == 32 else {
            throw CodecError(.invalidConfiguration, "sample digest must be 32 bytes, got \(m.sampleDigest.count)")
        }
        body.bytes(m.sampleDigest)
        body.u32(m.innerSteps)
        body.u8(update.transform.rawValue)
        body.u32(UInt32(update.tensors.count))
        for t in update.tensors {
            guard t.shape.allSatisfy({ $0 >= 0 }), t.k >= 0, t.k <= Int(UInt32.max), t.geometry.chunkRows <= Int(UInt32.max),
                  t.geometry.chunkColumns <= Int(UInt32.max), t.quantization.lookup.count <= 255, (0...255).contains(t.riceParameter),
                  t.indexBytes.count <= Int(UInt32.max), t.valueBytes.count <= Int(UInt32.max)
            else { throw CodecError(.invalidConfiguration, tensor: t.name, "a field does not fit the wire format") }
            try body.string16(t.name, field: "tensor name")
            guard t.shape.count <= 255 else { throw CodecError(.invalidConfiguration, tensor: t.name, "rank \(t.shape.count) exceeds 255") }
            body.u8(UInt8(t.shape.count))
            for d in t.shape { body.u64(UInt64(d)) }
            body.u32(UInt32(t.geometry.chunkRows))
            body.u32(UInt32(t.geometry.chunkColumns))
            body.u32(UInt32(t.k))
            body.u8(t.quantizer.rawValue)
            body.f32(t.quantization.scale)
            body.f32(t.quantization.shift)
            body.u8(UInt8(t.quantization.lookup.count))
            for v in t.quantization.lookup { body.f32(v) }
            body.u8(t.indexCoding.rawValue)
            body.u8(UInt8(t.riceParameter))
            body.u32(UInt32(t.indexBytes.count))
            body.u32(UInt32(t.valueBytes.count))
        }
        for t in update.tensors {
            body.bytes(t.indexBytes)
            body.bytes(t.valueBytes)
        }
        let stored = compression == .zstd ? try Zstd.compress(body.data) : body.data
        var out = ByteWriter()
        out.bytes(magic)
        out.u16(version)
        out.u8(compression.rawValue)
        out.u8(0)
        out.u64(UInt64(stored.count))
        out.u64(UInt64(body.data.count))
        out.bytes(stored)
        out.u64(XXHash64.hash(out.data))
        return out.data
    }

    /// Parses a container. With `layout`, the tensor table must match it exactly (names, order,
    /// shapes) — the check validators apply to every peer's file.
    /// - Throws: ``CodecError`` naming the field or tensor at fault.
    public static func parse(_ bytes: [UInt8], limits: DecodeLimits = DecodeLimits(), layout: ParameterLayout? = nil) throws -> CompressedUpdate {
        guard bytes.count <= limits.maximumStoredBytes else {
            throw CodecError(.sizeLimitExceeded, "\(bytes.count) bytes exceed the limit of \(limits.maximumStoredBytes)")
        }
        guard bytes.count >= prefixSize + 8 else { throw CodecError(.truncated, "\(bytes.count) bytes is shorter than the fixed prefix") }
        guard Array(bytes[0..<4]) == magic else { throw CodecError(.badMagic, "not a Tessera update (magic \(bytes[0..<4].map { String($0, radix: 16) }))") }
        return try bytes.withUnsafeBytes { raw in
            var prefix = ByteReader(raw, limit: prefixSize)
            prefix.skip(4)
            let version = try prefix.u16("version")
            guard version == Self.version else { throw CodecError(.unsupportedVersion, "format version \(version); this build reads \(Self.version)") }
            guard let compression = Compression(rawValue: try prefix.u8("compression")) else {
                throw CodecError(.malformedHeader, "unknown compression")
            }
            guard try prefix.u8("reserved") == 0 else { throw CodecError(.malformedHeader, "reserved byte is not zero") }
            let storedLength = try prefix.u64("stored length")
            let bodyLength = try prefix.u64("body length")
            guard storedLength == UInt64(bytes.count - prefixSize - 8) else {
                throw CodecError(bytes.count - prefixSize - 8 < Int(clamping: storedLength) ? .truncated : .trailingBytes,
                                 "stored body length \(storedLength) does not match the \(bytes.count - prefixSize - 8) bytes present")
            }
            let bodyLimit = min(limits.maximumBodyBytes, layout.map(Self.largestBody(for:)) ?? Int.max)
            guard bodyLength <= UInt64(bodyLimit) else {
                throw CodecError(.sizeLimitExceeded, "body of \(bodyLength) bytes exceeds the limit of \(bodyLimit)")
            }
            let checksumOffset = bytes.count - 8
            let expected = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: checksumOffset, as: UInt64.self))
            let actual = XXHash64.hash(UnsafeRawBufferPointer(rebasing: raw[0..<checksumOffset]))
            guard expected == actual else { throw CodecError(.checksumMismatch, "checksum does not match the contents") }
            let stored = UnsafeRawBufferPointer(rebasing: raw[prefixSize..<checksumOffset])
            switch compression {
            case .none:
                guard storedLength == bodyLength else { throw CodecError(.malformedHeader, "uncompressed body lengths differ") }
                return try parseBody(stored, limits: limits, layout: layout)
            case .zstd:
                let body = try Zstd.decompress(stored, expectedSize: Int(bodyLength), limit: bodyLimit)
                return try body.withUnsafeBytes { try parseBody($0, limits: limits, layout: layout) }
            }
        }
    }

    /// The largest body any valid update for `layout` can have: per tensor its table entry, at
    /// most 4 bytes of values and 4 bytes of index codes per parameter (fp32 with every entry
    /// kept, Rice codes of ≤ 32 bits), plus the metadata.
    static func largestBody(for layout: ParameterLayout) -> Int {
        var total = 1024
        for d in layout.descriptors {
            let (bytes, overflow) = d.count.multipliedReportingOverflow(by: 8)
            guard !overflow else { return Int.max }
            let (sum, overflow2) = total.addingReportingOverflow(bytes + d.name.utf8.count + 64 + 8 * d.shape.count)
            guard !overflow2 else { return Int.max }
            total = sum
        }
        return total
    }

    private static func parseBody(_ raw: UnsafeRawBufferPointer, limits: DecodeLimits, layout: ParameterLayout?) throws -> CompressedUpdate {
        var r = ByteReader(raw, limit: raw.count)
        var metadata = UpdateMetadata()
        metadata.window = try r.u64("window")
        metadata.uid = try r.u32("uid")
        metadata.hotkey = try r.string8("hotkey")
        metadata.modelVersion = try r.string8("modelVersion")
        metadata.sampleDigest = try r.bytes(32, "sample digest")
        metadata.innerSteps = try r.u32("inner steps")
        guard let transform = ChunkTransform(rawValue: try r.u8("transform")) else {
            throw CodecError(.malformedHeader, "unknown chunk transform")
        }
        let count = Int(try r.u32("tensor count"))
        let maximumCount = layout?.descriptors.count ?? limits.maximumTensorCount
        guard count <= maximumCount else {
            throw CodecError(layout == nil ? .sizeLimitExceeded : .layoutMismatch, "\(count) tensors; at most \(maximumCount) expected")
        }
        if let layout, count != layout.descriptors.count {
            throw CodecError(.layoutMismatch, "\(count) tensors; the model has \(layout.descriptors.count)")
        }
        var table: [(CompressedTensor, Int, Int)] = []
        var elementTotal = 0
        for i in 0..<count {
            let name = try r.string16("tensor name")
            let rank = Int(try r.u8("rank"))
            var shape: [Int] = []
            for _ in 0..<rank {
                let d = try r.u64("dimension")
                guard d <= UInt64(Int32.max) else { throw CodecError(.malformedHeader, tensor: name, "dimension \(d) is too large") }
                shape.append(Int(d))
            }
            if let layout {
                let expected = layout.descriptors[i]
                guard expected.name == name, expected.shape == shape else {
                    throw CodecError(.layoutMismatch, tensor: name, "tensor \(i) is '\(name)' \(shape); the model has '\(expected.name)' \(expected.shape)")
                }
            }
            guard let elements = Shape.elementCount(shape), elements < 1 << 40 else {
                throw CodecError(.malformedHeader, tensor: name, "shape \(shape) is too large")
            }
            elementTotal += elements
            guard layout != nil || elementTotal <= limits.maximumElementCount else {
                throw CodecError(.sizeLimitExceeded, tensor: name, "the update describes more than \(limits.maximumElementCount) parameters")
            }
            let columns = shape.last ?? 1
            let rows = shape.count <= 1 ? 1 : shape.dropLast().reduce(1, *)
            let geometry = try ChunkGeometry(rows: rows, columns: columns, chunkRows: Int(try r.u32("chunk rows")),
                                             chunkColumns: Int(try r.u32("chunk columns")), tensor: name)
            let k = Int(try r.u32("k"))
            guard k >= 1, k <= geometry.chunkSize else { throw CodecError(.wrongIndexCount, tensor: name, "k = \(k) for chunks of \(geometry.chunkSize)") }
            guard let quantizer = ValueQuantizer(rawValue: try r.u8("quantizer")) else {
                throw CodecError(.malformedHeader, tensor: name, "unknown value quantizer")
            }
            let scale = try r.f32("scale"), shift = try r.f32("shift")
            let lookupCount = Int(try r.u8("lookup count"))
            var lookup: [Float] = []
            for _ in 0..<lookupCount { lookup.append(try r.f32("lookup")) }
            guard let indexCoding = IndexCoding(rawValue: try r.u8("index coding")) else {
                throw CodecError(.malformedHeader, tensor: name, "unknown index coding")
            }
            let rice = Int(try r.u8("Rice parameter"))
            let indexLength = Int(try r.u32("index bytes")), valueLength = Int(try r.u32("value bytes"))
            let tensor = CompressedTensor(
                name: name, shape: shape, geometry: geometry, k: k, quantizer: quantizer,
                quantization: QuantizationParameters(scale: scale, shift: shift, lookup: lookup),
                indexCoding: indexCoding, riceParameter: rice, indexBytes: [], valueBytes: [])
            table.append((tensor, indexLength, valueLength))
        }
        var tensors: [CompressedTensor] = []
        tensors.reserveCapacity(count)
        for (var tensor, indexLength, valueLength) in table {
            tensor.indexBytes = try r.bytes(indexLength, "index stream of \(tensor.name)")
            tensor.valueBytes = try r.bytes(valueLength, "value stream of \(tensor.name)")
            tensors.append(tensor)
        }
        guard r.remaining == 0 else { throw CodecError(.trailingBytes, "\(r.remaining) bytes after the last tensor") }
        return CompressedUpdate(metadata: metadata, transform: transform, tensors: tensors)
    }
}

struct ByteWriter {
    var data: [UInt8] = []
    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func bytes(_ b: [UInt8]) { data.append(contentsOf: b) }
    mutating func string8(_ s: String, field: String) throws {
        let utf8 = Array(s.utf8)
        guard utf8.count <= 255 else { throw CodecError(.invalidConfiguration, "\(field) is longer than 255 bytes") }
        u8(UInt8(utf8.count))
        bytes(utf8)
    }
    mutating func string16(_ s: String, field: String) throws {
        let utf8 = Array(s.utf8)
        guard utf8.count <= 65535 else { throw CodecError(.invalidConfiguration, "\(field) is longer than 65,535 bytes") }
        u16(UInt16(utf8.count))
        bytes(utf8)
    }
}

struct ByteReader {
    let raw: UnsafeRawBufferPointer
    let limit: Int
    var offset = 0

    init(_ raw: UnsafeRawBufferPointer, limit: Int) {
        self.raw = raw
        self.limit = min(limit, raw.count)
    }

    var remaining: Int { limit - offset }

    mutating func skip(_ n: Int) { offset += n }

    private mutating func need(_ n: Int, _ field: String) throws {
        guard n >= 0, n <= remaining else { throw CodecError(.truncated, "the bytes end inside \(field) (need \(n), have \(remaining))") }
    }
    mutating func u8(_ field: String) throws -> UInt8 {
        try need(1, field)
        defer { offset += 1 }
        return raw[offset]
    }
    mutating func u16(_ field: String) throws -> UInt16 {
        try need(2, field)
        defer { offset += 2 }
        return UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    mutating func u32(_ field: String) throws -> UInt32 {
        try need(4, field)
        defer { offset += 4 }
        return UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    mutating func u64(_ field: String) throws -> UInt64 {
        try need(8, field)
        defer { offset += 8 }
        return UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    mutating func f32(_ field: String) throws -> Float { Float(bitPattern: try u32(field)) }
    mutating func bytes(_ n: Int, _ field: String) throws -> [UInt8] {
        try need(n, field)
        defer { offset += n }
        return Array(raw[offset..<(offset + n)])
    }
    mutating func string8(_ field: String) throws -> String { try utf8(Int(try u8(field)), field) }
    mutating func string16(_ field: String) throws -> String { try utf8(Int(try u16(field)), field) }
    private mutating func utf8(_ n: Int, _ field: String) throws -> String {
        let b = try bytes(n, field)
        guard let s = String(validating: b, as: UTF8.self) else { throw CodecError(.malformedHeader, "\(field) is not valid UTF-8") }
        return s
    }
}
