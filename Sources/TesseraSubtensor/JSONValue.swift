import Foundation

/// A JSON value, as JSON-RPC carries it.
public enum JSONValue: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// An integer that fits `Int64`.
    case integer(Int64)
    /// Any other number.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// Encodes the value as JSON.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The string, if this is one.
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    /// The array, if this is one.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    /// The member `key`, if this is an object that has it.
    public subscript(key: String) -> JSONValue? { if case .object(let o) = self { o[key] } else { nil } }
    /// Whether this is `null`.
    public var isNull: Bool { self == .null }

    /// Compact JSON text.
    public var description: String {
        guard let data = try? JSONEncoder().encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The bytes of a `0x…` hex string.
    /// - Throws: ``SubtensorError`` `.invalidResponse` if this is not a hex string.
    public func hexBytes(_ what: @autoclosure () -> String = "value") throws(SubtensorError) -> [UInt8] {
        guard let s = stringValue else { throw SubtensorError(.invalidResponse, "\(what()) is not a hex string: \(description.prefix(200))") }
        do { return try Hex.decode(s) } catch { throw SubtensorError(.invalidResponse, "\(what()): \(error.message)") }
    }

    /// A number given as a JSON number or a `0x…` hex string (as block numbers are).
    /// - Throws: ``SubtensorError`` `.invalidResponse` otherwise.
    public func unsignedValue(_ what: @autoclosure () -> String = "value") throws(SubtensorError) -> UInt64 {
        switch self {
        case .integer(let i) where i >= 0: return UInt64(i)
        case .string(let s) where s.hasPrefix("0x") && s.count <= 18:
            if let v = UInt64(s.dropFirst(2), radix: 16) { return v }
        default: break
        }
        throw SubtensorError(.invalidResponse, "\(what()) is not a number: \(description.prefix(200))")
    }
}
