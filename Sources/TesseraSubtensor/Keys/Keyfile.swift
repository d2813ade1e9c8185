import Foundation

extension KeyPair {
    /// The key pair in a bittensor wallet keyfile (`~/.bittensor/wallets/NAME/hotkeys/HOTKEY`):
    /// the unencrypted JSON with `secretSeed`, `secretPhrase` or `privateKey`, checked against its
    /// `publicKey` when present. Keyfiles are sr25519 unless `scheme` says otherwise.
    /// - Throws: ``SubtensorError`` `.invalidKey` for an encrypted keyfile (`$NACL…`, Ansible
    ///   vault), malformed JSON, a bad secret, or a public key that does not match.
    public init(bittensorKeyfile data: [UInt8], scheme: SignatureScheme = .sr25519) throws(SubtensorError) {
        if data.starts(with: Array("$NACL".utf8)) || data.starts(with: Array("$ANSIBLE_VAULT".utf8)) {
            throw SubtensorError(.invalidKey, "the keyfile is encrypted; decrypt it first (only unencrypted keyfiles are read)")
        }
        guard data.count <= 1 << 16,
              let object = (try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any]
        else { throw SubtensorError(.invalidKey, "the keyfile is not a JSON object") }
        func hexField(_ name: String) throws(SubtensorError) -> [UInt8]? {
            guard let text = object[name] as? String, !text.isEmpty else { return nil }
            do { return try Hex.decode(text) } catch { throw SubtensorError(.invalidKey, "keyfile \(name): \(error.message)") }
        }
        let pair: KeyPair
        if let seed = try hexField("secretSeed") {
            pair = try KeyPair(scheme: scheme, seed: seed)
        } else if let phrase = object["secretPhrase"] as? String, !phrase.isEmpty {
            pair = try KeyPair(scheme: scheme, mnemonic: phrase)
        } else if scheme == .sr25519, let secret = try hexField("privateKey") {
            pair = try KeyPair(sr25519SecretKey: secret)
        } else {
            throw SubtensorError(.invalidKey, "the keyfile holds no secretSeed, secretPhrase or privateKey (a public-only keyfile cannot sign)")
        }
        if let expected = try hexField("publicKey"), expected != pair.publicKey {
            throw SubtensorError(.invalidKey, "the keyfile's publicKey does not match its secret (wrong scheme?)")
        }
        self = pair
    }
}
