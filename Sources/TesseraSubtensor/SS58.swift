/// SS58 addresses: base58 of prefix ++ public key ++ the first two bytes of
/// BLAKE2b-512("SS58PRE" ++ prefix ++ public key).
public enum SS58 {
    /// The prefix Bittensor (and generic Substrate) uses: 42, addresses starting with "5".
    public static let bittensorPrefix: UInt16 = 42

    private static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    /// The address of a 32-byte public key.
    /// - Parameters:
    ///   - publicKey: The account id (32 bytes; other lengths are encoded as given).
    ///   - prefix: The network prefix, 0…16,383.
    public static func encode(_ publicKey: [UInt8], prefix: UInt16 = bittensorPrefix) -> String {
        let prefixBytes: [UInt8]
        if prefix < 64 {
            prefixBytes = [UInt8(prefix)]
        } else {
            let p = prefix & 0x3FFF
            prefixBytes = [UInt8((p & 0xFC) >> 2) | 0x40, UInt8(p >> 8) | UInt8((p & 3) << 6)]
        }
        let body = prefixBytes + publicKey
        let checksum = SubstrateHash.blake2b512(Array("SS58PRE".utf8) + body)
        return base58Encode(body + checksum.prefix(checksumLength(publicKey.count)))
    }

    /// The prefix and 32-byte public key of an address.
    /// - Throws: ``SubtensorError`` `.invalidAddress` for a bad character, length or checksum.
    public static func decode(_ address: String) throws(SubtensorError) -> (prefix: UInt16, publicKey: [UInt8]) {
        guard address.utf8.count <= 64 else { throw SubtensorError(.invalidAddress, "address is too long") }
        let raw = try base58Decode(address)
        guard let first = raw.first else { throw SubtensorError(.invalidAddress, "empty address") }
        let prefix: UInt16
        let prefixLength: Int
        if first < 64 {
            prefix = UInt16(first)
            prefixLength = 1
        } else if first < 128, raw.count > 1 {
            let second = UInt16(raw[1])
            prefix = (UInt16(first & 0x3F) << 2) | (second >> 6) | ((second & 0x3F) << 8)
            prefixLength = 2
        } else {
            throw SubtensorError(.invalidAddress, "invalid address prefix byte \(first)")
        }
        guard raw.count == prefixLength + 32 + 2 else {
            throw SubtensorError(.invalidAddress, "address holds \(raw.count) bytes; a 32-byte key needs \(prefixLength + 34)")
        }
        let body = Array(raw[0..<(prefixLength + 32)])
        let checksum = SubstrateHash.blake2b512(Array("SS58PRE".utf8) + body)
        guard Array(checksum.prefix(2)) == Array(raw.suffix(2)) else { throw SubtensorError(.invalidAddress, "bad checksum in \(address)") }
        return (prefix, Array(body.suffix(32)))
    }

    private static func checksumLength(_ keyLength: Int) -> Int {
        switch keyLength {
        case 1, 2, 4: 1
        case 8, 32: 2
        case 33: 2
        default: 2
        }
    }

    /// Base58 (Bitcoin alphabet) of `bytes`.
    /// - Complexity: O(n²).
    static func base58Encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix { $0 == 0 }.count
        var digits: [UInt8] = []  // base-58 digits, little-endian
        for byte in bytes {
            var carry = Int(byte)
            for i in digits.indices {
                carry += Int(digits[i]) << 8
                digits[i] = UInt8(carry % 58)
                carry /= 58
            }
            while carry > 0 {
                digits.append(UInt8(carry % 58))
                carry /= 58
            }
        }
        let text = [UInt8](repeating: alphabet[0], count: zeros) + digits.reversed().map { alphabet[Int($0)] }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes of a base58 string.
    /// - Throws: ``SubtensorError`` `.invalidAddress` for a character outside the alphabet.
    static func base58Decode(_ text: String) throws(SubtensorError) -> [UInt8] {
        let utf8 = Array(text.utf8)
        let zeros = utf8.prefix { $0 == alphabet[0] }.count
        var bytes: [UInt8] = []  // little-endian
        for c in utf8 {
            guard c < 128, reverse[Int(c)] >= 0 else { throw SubtensorError(.invalidAddress, "invalid base58 character in \(text)") }
            var carry = Int(reverse[Int(c)])
            for i in bytes.indices {
                carry += Int(bytes[i]) * 58
                bytes[i] = UInt8(carry & 0xFF)
                carry >>= 8
            }
            while carry > 0 {
                bytes.append(UInt8(carry & 0xFF))
                carry >>= 8
            }
        }
        return [UInt8](repeating: 0, count: zeros) + bytes.reversed()
    }
}
