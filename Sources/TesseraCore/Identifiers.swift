/// A neuron's slot on a subnet (Bittensor uids are 16-bit).
public struct UID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The slot number.
    public var rawValue: UInt16
    /// Creates a uid.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Creates a uid from an integer literal.
    public init(integerLiteral value: UInt16) { rawValue = value }
    public static func < (a: UID, b: UID) -> Bool { a.rawValue < b.rawValue }
    /// The largest uid.
    public static let max = UID(rawValue: .max)
    public var description: String { String(rawValue) }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(UInt16.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A training window: `block / blocksPerWindow`.
public struct Window: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The window number.
    public var rawValue: UInt64
    /// Creates a window.
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Creates a window from an integer literal.
    public init(integerLiteral value: UInt64) { rawValue = value }
    public static func < (a: Window, b: Window) -> Bool { a.rawValue < b.rawValue }
    /// The largest window.
    public static let max = Window(rawValue: .max)
    public var description: String { String(rawValue) }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(UInt64.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// Exactly 32 bytes: a block hash, a SHA-256 digest, a seed.
public struct Digest32: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The bytes.
    public let bytes: [UInt8]

    /// Wraps 32 bytes.
    /// - Throws: ``CoreError`` `.invalidArgument` for any other length.
    public init(_ bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw CoreError(.invalidArgument, "a 32-byte digest was expected, got \(bytes.count) bytes")
        }
        self.bytes = bytes
    }

    /// Parses 64 hexadecimal digits, with or without a `0x` prefix.
    /// - Throws: ``CoreError`` `.invalidArgument` naming what is wrong.
    public init(hex: String) throws {
        var digits = Substring(hex)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard digits.count == 64 else {
            throw CoreError(.invalidArgument, "a 32-byte hex digest needs 64 hex digits, got \(digits.count)")
        }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else {
                throw CoreError(.invalidArgument, "'\(digits[index..<next])' is not a hex byte")
            }
            out.append(byte)
            index = next
        }
        bytes = out
    }

    /// All zeros.
    public static let zero = try! Digest32([UInt8](repeating: 0, count: 32))

    /// `0x`-prefixed lowercase hex.
    public var hex: String {
        let digits: [Character] = Array("0123456789abcdef")
        var s = "0x"
        for b in bytes {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 0xF)])
        }
        return s
    }

    public var description: String { hex }

    public init(from decoder: any Decoder) throws { try self.init(hex: decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}

extension UID: CodingKeyRepresentable {
    /// Encodes as the decimal uid, so `[UID: …]` is a JSON object.
    public var codingKey: any CodingKey { UIDKey(stringValue: String(rawValue)) }
    /// Decodes a decimal uid key.
    public init?<T: CodingKey>(codingKey: T) {
        guard let value = UInt16(codingKey.stringValue) else { return nil }
        rawValue = value
    }
    private struct UIDKey: CodingKey {
        var stringValue: String
        var intValue: Int? { Int(stringValue) }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { stringValue = String(intValue) }
    }
}
