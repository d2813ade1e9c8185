/// Hexadecimal encoding as JSON-RPC uses it (`0x`-prefixed, lowercase).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `bytes` as lowercase hex with a `0x` prefix (or without, if `prefix` is false).
    /// - Complexity: O(n).
    public static func encode(_ bytes: some Sequence<UInt8>, prefix: Bool = true) -> String {
        var out: [UInt8] = prefix ? [48, 120] : []
        out.reserveCapacity(out.count + bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses hex with or without a `0x` prefix; surrounding whitespace is ignored.
    /// - Throws: ``SubtensorError`` `.invalidHex` for an odd length or a non-hex character.
    /// - Complexity: O(n).
    public static func decode(_ text: some StringProtocol) throws(SubtensorError) -> [UInt8] {
        var utf8 = Array(text.utf8)
        while let last = utf8.last, last == 32 || last == 10 || last == 13 || last == 9 { utf8.removeLast() }
        var start = 0
        while start < utf8.count, utf8[start] == 32 || utf8[start] == 10 || utf8[start] == 13 || utf8[start] == 9 { start += 1 }
        if utf8.count - start >= 2, utf8[start] == 48, utf8[start + 1] == 120 || utf8[start + 1] == 88 { start += 2 }
        let count = utf8.count - start
        guard count % 2 == 0 else { throw SubtensorError(.invalidHex, "odd number of hex digits (\(count))") }
        var out = [UInt8]()
        out.reserveCapacity(count / 2)
        var i = start
        while i < utf8.count {
            guard let high = value(utf8[i]), let low = value(utf8[i + 1]) else {
                throw SubtensorError(.invalidHex, "non-hex character at offset \(i - start)")
            }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
}
