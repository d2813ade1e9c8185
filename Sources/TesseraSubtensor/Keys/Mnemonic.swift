internal import Crypto

/// BIP-39 mnemonics as Substrate uses them: the phrase's *entropy* (not the BIP-39 seed)
/// goes through PBKDF2-HMAC-SHA512 with salt `"mnemonic" + password` and 2,048 iterations;
/// the first 32 bytes are the mini secret (sr25519) or seed (ed25519).
public enum Mnemonic {
    private static let index: [Substring: Int] = Dictionary(uniqueKeysWithValues: BIP39Words.english.enumerated().map { ($1, $0) })

    /// The entropy of a phrase of 12, 15, 18, 21 or 24 English words, checksum verified.
    /// - Throws: ``SubtensorError`` `.invalidKey` for an unknown word, a wrong word count or a bad checksum.
    public static func entropy(phrase: String) throws(SubtensorError) -> [UInt8] {
        let words = phrase.lowercased().split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard [12, 15, 18, 21, 24].contains(words.count) else {
            throw SubtensorError(.invalidKey, "a mnemonic has 12, 15, 18, 21 or 24 words, got \(words.count)")
        }
        var bits: [Bool] = []
        for word in words {
            guard let i = index[word] else { throw SubtensorError(.invalidKey, "'\(word)' is not a BIP-39 English word") }
            for b in stride(from: 10, through: 0, by: -1) { bits.append(i >> b & 1 == 1) }
        }
        let entropyBits = bits.count * 32 / 33
        var entropy = [UInt8](repeating: 0, count: entropyBits / 8)
        for (i, bit) in bits.prefix(entropyBits).enumerated() where bit { entropy[i / 8] |= 0x80 >> UInt8(i % 8) }
        let hash = Array(SHA256.hash(data: entropy))
        for i in 0..<(bits.count - entropyBits) where bits[entropyBits + i] != (hash[i / 8] & (0x80 >> UInt8(i % 8)) != 0) {
            throw SubtensorError(.invalidKey, "mnemonic checksum mismatch")
        }
        return entropy
    }

    /// The 32-byte mini secret (sr25519) or seed (ed25519) of a phrase, as Substrate derives it.
    /// - Throws: ``SubtensorError`` `.invalidKey` for an invalid phrase.
    /// - Complexity: 2,048 HMAC-SHA512 computations.
    public static func miniSecret(phrase: String, password: String = "") throws(SubtensorError) -> [UInt8] {
        let entropy = try entropy(phrase: phrase)
        return Array(pbkdf2SHA512(password: entropy, salt: Array(("mnemonic" + password).utf8), iterations: 2048).prefix(32))
    }

    /// A new phrase of `words` words (12, 15, 18, 21 or 24) from the system's secure random generator.
    public static func generate(words: Int = 12) -> String {
        let count = [12, 15, 18, 21, 24].contains(words) ? words : 12
        var generator = SystemRandomNumberGenerator()
        let entropy = (0..<(count * 4 / 3)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let hash = Array(SHA256.hash(data: entropy))
        var bits: [Bool] = []
        for byte in entropy { for b in stride(from: 7, through: 0, by: -1) { bits.append(byte >> UInt8(b) & 1 == 1) } }
        for i in 0..<(entropy.count / 4) { bits.append(hash[i / 8] & (0x80 >> UInt8(i % 8)) != 0) }
        var out: [Substring] = []
        for w in 0..<count {
            var i = 0
            for b in 0..<11 { i = i << 1 | (bits[w * 11 + b] ? 1 : 0) }
            out.append(BIP39Words.english[i])
        }
        return out.joined(separator: " ")
    }

    /// PBKDF2-HMAC-SHA512, one 64-byte block.
    static func pbkdf2SHA512(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var u = Array(HMAC<SHA512>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var t = u
        for _ in 1..<max(iterations, 1) {
            u = Array(HMAC<SHA512>.authenticationCode(for: u, using: key))
            for i in 0..<t.count { t[i] ^= u[i] }
        }
        return t
    }
}

extension KeyPair {
    /// The key pair of a BIP-39 phrase, derived as Substrate does (no derivation path).
    /// - Throws: ``SubtensorError`` `.invalidKey` for an invalid phrase.
    public init(scheme: SignatureScheme, mnemonic: String, password: String = "") throws(SubtensorError) {
        try self.init(scheme: scheme, seed: Mnemonic.miniSecret(phrase: mnemonic, password: password))
    }
}
