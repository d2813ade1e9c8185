/// Writes SCALE (Parity's Simple Concatenated Aggregate Little-Endian) bytes.
///
/// Fixed-width integers are little-endian; `Compact<T>` uses the one-, two-, four-byte or
/// big-integer modes; a `Vec<T>` is its compact length then its items; `Option<T>` is `0x00` or
/// `0x01` then the value; an enum is its variant index byte then the variant's fields.
public struct ScaleEncoder: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty encoder.
    public init() {}

    /// Appends raw bytes (a fixed-size array such as `[u8; 32]`).
    public mutating func append(_ raw: some Sequence<UInt8>) { bytes.append(contentsOf: raw) }
    /// Appends one byte.
    public mutating func append(_ byte: UInt8) { bytes.append(byte) }
    /// Appends a `bool`.
    public mutating func append(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Appends a fixed-width little-endian integer.
    public mutating func append<T: FixedWidthInteger & UnsignedInteger>(littleEndian value: T) {
        var v = value
        for _ in 0..<(T.bitWidth / 8) {
            bytes.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    /// Appends `Compact<T>` for any unsigned value up to 128 bits.
    public mutating func appendCompact<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
        let v = UInt128(value)
        if v < 1 << 6 {
            bytes.append(UInt8(v) << 2)
        } else if v < 1 << 14 {
            append(littleEndian: UInt16(v) << 2 | 1)
        } else if v < 1 << 30 {
            append(littleEndian: UInt32(v) << 2 | 2)
        } else {
            var length = 0
            var rest = v
            while rest > 0 { length += 1; rest >>= 8 }
            length = max(length, 4)
            bytes.append(UInt8(length - 4) << 2 | 3)
            var w = v
            for _ in 0..<length {
                bytes.append(UInt8(truncatingIfNeeded: w))
                w >>= 8
            }
        }
    }

    /// Appends `Vec<u8>`: compact length then the bytes.
    public mutating func appendBytes(_ value: some Collection<UInt8>) {
        appendCompact(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Appends a string as `Vec<u8>` of its UTF-8.
    public mutating func appendString(_ value: String) { appendBytes(Array(value.utf8)) }
}

/// Reads SCALE bytes. Every read is bounds-checked and throws ``SubtensorError``
/// `.malformedSCALE` on truncated or invalid input; lengths are checked against the remaining
/// bytes before anything is allocated.
public struct ScaleDecoder: Sendable {
    /// The input.
    public let bytes: [UInt8]
    /// The next byte to read.
    public private(set) var offset: Int

    /// Starts reading `bytes` at `offset`.
    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = min(max(offset, 0), bytes.count)
    }

    /// Bytes not yet read.
    public var remaining: Int { bytes.count - offset }
    /// Whether every byte has been read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Throws unless every byte has been read.
    public func expectEnd(_ what: @autoclosure () -> String = "value") throws(SubtensorError) {
        guard isAtEnd else { throw scaleError("\(remaining) trailing bytes after \(what())") }
    }

    /// Reads one byte.
    public mutating func readByte() throws(SubtensorError) -> UInt8 {
        guard offset < bytes.count else { throw scaleError("unexpected end of input at offset \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads `count` raw bytes.
    public mutating func readBytes(_ count: Int) throws(SubtensorError) -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw scaleError("need \(count) bytes at offset \(offset), \(remaining) remain")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int) throws(SubtensorError) {
        guard count >= 0, count <= remaining else {
            throw scaleError("cannot skip \(count) bytes at offset \(offset), \(remaining) remain")
        }
        offset += count
    }

    /// Reads a `bool` (only 0 and 1 are valid).
    public mutating func readBool() throws(SubtensorError) -> Bool {
        let byte = try readByte()
        guard byte <= 1 else { throw scaleError("invalid bool byte \(byte) at offset \(offset - 1)") }
        return byte == 1
    }

    /// Reads a fixed-width little-endian integer.
    public mutating func read<T: FixedWidthInteger & UnsignedInteger>(_ type: T.Type = T.self) throws(SubtensorError) -> T {
        let width = T.bitWidth / 8
        guard width <= remaining else { throw scaleError("need \(width) bytes for \(T.self) at offset \(offset)") }
        var value: T = 0
        for i in 0..<width { value |= T(bytes[offset + i]) << (8 * i) }
        offset += width
        return value
    }

    /// Reads `Compact<T>` into `T`, rejecting values that do not fit and non-canonical encodings.
    public mutating func readCompact<T: FixedWidthInteger & UnsignedInteger>(_ type: T.Type = T.self) throws(SubtensorError) -> T {
        let start = offset
        let first = try readByte()
        let value: UInt128
        switch first & 3 {
        case 0:
            value = UInt128(first >> 2)
        case 1:
            let second = try readByte()
            value = UInt128((UInt16(second) << 8 | UInt16(first)) >> 2)
            guard value >= 1 << 6 else { throw scaleError("non-canonical compact at offset \(start)") }
        case 2:
            offset -= 1
            let word: UInt32 = try read()
            value = UInt128(word >> 2)
            guard value >= 1 << 14 else { throw scaleError("non-canonical compact at offset \(start)") }
        default:
            let length = Int(first >> 2) + 4
            guard length <= 16 else { throw scaleError("compact of \(length) bytes exceeds 128 bits at offset \(start)") }
            let raw = try readBytes(length)
            var v: UInt128 = 0
            for (i, byte) in raw.enumerated() { v |= UInt128(byte) << (8 * i) }
            guard raw[length - 1] != 0, v >= 1 << 30 else { throw scaleError("non-canonical compact at offset \(start)") }
            value = v
        }
        guard let result = T(exactly: value) else {
            throw scaleError("compact \(value) at offset \(start) does not fit \(T.self)")
        }
        return result
    }

    /// Reads a compact length and checks that at least `length × minimumItemSize` bytes remain.
    public mutating func readLength(minimumItemSize: Int = 1) throws(SubtensorError) -> Int {
        let start = offset
        let length: UInt64 = try readCompact()
        let limit = minimumItemSize > 0 ? remaining / minimumItemSize : 1 << 20
        guard length <= UInt64(limit) else {
            throw scaleError("length \(length) at offset \(start) exceeds the \(remaining) remaining bytes")
        }
        return Int(length)
    }

    /// Reads `Vec<u8>`.
    public mutating func readByteVector() throws(SubtensorError) -> [UInt8] {
        let length = try readLength()
        return try readBytes(length)
    }

    /// Reads a `String` (`Vec<u8>` of UTF-8).
    public mutating func readString() throws(SubtensorError) -> String {
        let start = offset
        let raw = try readByteVector()
        guard let text = String(validating: raw, as: UTF8.self) else { throw scaleError("invalid UTF-8 string at offset \(start)") }
        return text
    }

    /// Reads `Option<T>` with `body` reading the value.
    public mutating func readOption<T>(_ body: (inout ScaleDecoder) throws(SubtensorError) -> T) throws(SubtensorError) -> T? {
        let tag = try readByte()
        switch tag {
        case 0: return nil
        case 1: return try body(&self)
        default: throw scaleError("invalid Option tag \(tag) at offset \(offset - 1)")
        }
    }

    /// Reads `Vec<T>` with `body` reading each item of at least `minimumItemSize` bytes.
    public mutating func readVector<T>(minimumItemSize: Int = 1, _ body: (inout ScaleDecoder) throws(SubtensorError) -> T) throws(SubtensorError) -> [T] {
        let length = try readLength(minimumItemSize: minimumItemSize)
        var items: [T] = []
        items.reserveCapacity(min(length, 1 << 16))
        for _ in 0..<length { items.append(try body(&self)) }
        return items
    }
}
