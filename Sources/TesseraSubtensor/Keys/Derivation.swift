import Foundation

extension KeyPair {
    /// Substrate's development phrase, used when a secret URI starts with a path (`//Alice`).
    public static let developmentPhrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"

    /// The key pair of a Substrate secret URI: `PHRASE` or `0xSEED`, then hard junctions
    /// (`//Alice`, `//0`), then an optional `///password` for the phrase. Derivation follows
    /// Substrate: a junction's chain code is its SCALE encoding (a decimal number as `u64`,
    /// anything else as a string), zero-padded to 32 bytes or BLAKE2b-256-hashed when longer;
    /// sr25519 uses schnorrkel's `hard_derive_mini_secret_key` (Merlin `"SchnorrRistrettoHDKD"`),
    /// ed25519 BLAKE2b-256 of `("Ed25519HDKD", seed, chain code)`.
    /// - Throws: ``SubtensorError`` `.invalidKey` for a malformed URI, a bad phrase or seed, or a
    ///   soft junction (`/x`, not supported).
    public init(scheme: SignatureScheme, uri: String) throws(SubtensorError) {
        var rest = Substring(uri)
        var password = ""
        if let range = rest.range(of: "///") {
            password = String(rest[range.upperBound...])
            rest = rest[..<range.lowerBound]
        }
        var phrase = rest
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            phrase = rest[..<slash]
            path = rest[slash...]
        }
        let trimmed = phrase.trimmingCharacters(in: .whitespaces)
        var seed: [UInt8]
        if trimmed.isEmpty {
            seed = try Mnemonic.miniSecret(phrase: Self.developmentPhrase, password: password)
        } else if trimmed.hasPrefix("0x") {
            seed = try Hex.decode(trimmed)
            guard seed.count == 32 else { throw SubtensorError(.invalidKey, "a hex seed has 32 bytes, got \(seed.count)") }
        } else {
            seed = try Mnemonic.miniSecret(phrase: trimmed, password: password)
        }
        var remaining = path
        while !remaining.isEmpty {
            guard remaining.hasPrefix("//") else {
                throw SubtensorError(.invalidKey, "soft derivation (\"/…\") is not supported; use hard junctions (\"//…\")")
            }
            remaining = remaining.dropFirst(2)
            let end = remaining.firstIndex(of: "/") ?? remaining.endIndex
            let junction = remaining[..<end]
            remaining = remaining[end...]
            guard !junction.isEmpty else { throw SubtensorError(.invalidKey, "empty junction in \(uri)") }
            seed = Self.hardDerive(scheme: scheme, seed: seed, chainCode: Self.chainCode(String(junction)))
        }
        try self.init(scheme: scheme, seed: seed)
    }

    /// The 32-byte chain code of a junction.
    static func chainCode(_ junction: String) -> [UInt8] {
        var e = ScaleEncoder()
        if let number = UInt64(junction) {
            e.append(littleEndian: number)
        } else {
            e.appendString(junction)
        }
        if e.bytes.count > 32 { return SubstrateHash.blake2b256(e.bytes) }
        return e.bytes + [UInt8](repeating: 0, count: 32 - e.bytes.count)
    }

    /// The seed (mini secret) one hard junction below `seed`.
    static func hardDerive(scheme: SignatureScheme, seed: [UInt8], chainCode: [UInt8]) -> [UInt8] {
        switch scheme {
        case .ed25519:
            var e = ScaleEncoder()
            e.appendString("Ed25519HDKD")
            e.append(seed)
            e.append(chainCode)
            return SubstrateHash.blake2b256(e.bytes)
        case .sr25519:
            let key = Sr25519.SecretKey(miniSecret: seed)
            var t = MerlinTranscript(label: Array("SchnorrRistrettoHDKD".utf8))
            t.append(label: Array("sign-bytes".utf8), message: [])
            t.append(label: Array("chain-code".utf8), message: chainCode)
            t.append(label: Array("secret-key".utf8), message: key.scalar)
            return t.challengeBytes(label: Array("HDKD-hard".utf8), count: 32)
        }
    }
}
