/// The name of an object in storage: a validated, portable path such as `v1/gradient/42/7`.
///
/// One grammar holds for every backend, so a key that works with ``InMemoryStorage`` works
/// unchanged with ``FileSystemStorage`` and S3, and no key can name anything outside its store:
///
/// - 1 to 1,024 bytes, made of segments separated by single `/`;
/// - every segment is 1 to 255 bytes of `A–Z a–z 0–9 - _ . ~ = ,` and does not start with `.`
///   (so `.`, `..` and hidden names are impossible);
/// - no leading or trailing `/`, no empty segment, no backslash, NUL, space, control character
///   or non-ASCII byte.
///
/// Keys order by their UTF-8 bytes, which is the order S3 lists them in.
///
/// Build keys for the protocol's objects with ``ObjectKeyLayout``; build other keys with
/// ``init(_:)``, which throws on anything outside the grammar.
public struct ObjectKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The key as text.
    public let rawValue: String

    /// The longest key, in bytes (S3's limit).
    public static let maximumLength = 1024
    /// The longest segment, in bytes (a filesystem's `NAME_MAX`).
    public static let maximumSegmentLength = 255

    /// Validates `string` as a key.
    /// - Throws: ``StorageError`` `.invalidKey`, naming what is wrong.
    public init(_ string: String) throws {
        if let reason = Self.violation(in: string, isPrefix: false) {
            throw StorageError(.invalidKey, key: Self.printable(string), reason)
        }
        rawValue = string
    }

    /// For callers that built the text from parts already known to be valid.
    init(unchecked string: String) {
        rawValue = string
    }

    /// The key's segments, e.g. `["v1", "gradient", "42", "7"]`.
    public var segments: [Substring] {
        rawValue.split(separator: "/", omittingEmptySubsequences: false)
    }

    public var description: String { rawValue }

    /// Byte-wise (UTF-8) order, as S3 lists keys.
    public static func < (a: ObjectKey, b: ObjectKey) -> Bool {
        a.rawValue.utf8.lexicographicallyPrecedes(b.rawValue.utf8)
    }

    /// Checks a listing prefix: empty, or keys' grammar except that it may end inside a segment
    /// or with `/` (`v1/gradient/4` and `v1/gradient/42/` are both valid prefixes).
    /// - Throws: ``StorageError`` `.invalidKey`.
    public static func validatePrefix(_ prefix: String) throws {
        if prefix.isEmpty { return }
        if let reason = violation(in: prefix, isPrefix: true) {
            throw StorageError(.invalidKey, key: printable(prefix), "invalid prefix: " + reason)
        }
    }

    /// Whether `byte` may appear in a segment.
    @inline(__always)
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"),
             UInt8(ascii: "="), UInt8(ascii: ","):
            return true
        default:
            return false
        }
    }

    /// The first rule `string` breaks, or nil.
    static func violation(in string: String, isPrefix: Bool) -> String? {
        let bytes = Array(string.utf8)
        if bytes.isEmpty { return "a key cannot be empty" }
        if bytes.count > maximumLength { return "a key is at most \(maximumLength) bytes, this one has \(bytes.count)" }
        if bytes[0] == UInt8(ascii: "/") { return "a key cannot be absolute (start with '/')" }
        var segmentStart = 0
        var index = 0
        while index <= bytes.count {
            if index == bytes.count || bytes[index] == UInt8(ascii: "/") {
                let length = index - segmentStart
                let isLast = index == bytes.count
                if length == 0 {
                    // Only a prefix may end with '/', which leaves an empty final segment.
                    if !(isPrefix && isLast) {
                        return isLast ? "a key cannot end with '/'" : "a key cannot contain an empty segment ('//')"
                    }
                } else {
                    if bytes[segmentStart] == UInt8(ascii: ".") {
                        let segment = String(decoding: bytes[segmentStart..<index], as: UTF8.self)
                        if segment == "." || segment == ".." { return "'\(segment)' segments are not allowed" }
                        return "a segment cannot start with '.'"
                    }
                    if length > maximumSegmentLength {
                        return "a segment is at most \(maximumSegmentLength) bytes, one has \(length)"
                    }
                }
                segmentStart = index + 1
            } else {
                let byte = bytes[index]
                if !isAllowed(byte) {
                    switch byte {
                    case 0: return "a key cannot contain NUL"
                    case UInt8(ascii: "\\"): return "a key cannot contain a backslash"
                    case 0x01..<0x20, 0x7F: return "a key cannot contain control characters"
                    case 0x80...: return "a key must be ASCII"
                    default:
                        return "'\(Character(Unicode.Scalar(byte)))' is not allowed in a key (use A-Z a-z 0-9 - _ . ~ = ,)"
                    }
                }
            }
            index += 1
        }
        return nil
    }

    /// A rendering of untrusted text safe for an error message: control bytes escaped, at most
    /// 200 characters.
    package static func printable(_ string: String) -> String {
        var out = ""
        for scalar in string.unicodeScalars.prefix(200) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        if string.unicodeScalars.count > 200 { out += "…" }
        return out
    }
}
