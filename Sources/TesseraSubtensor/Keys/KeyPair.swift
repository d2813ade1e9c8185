internal import Crypto

/// The signature schemes Substrate accounts use.
public enum SignatureScheme: String, Sendable, Hashable, CaseIterable {
    /// Schnorr signatures on ristretto255 (schnorrkel), Bittensor's default wallet key.
    case sr25519
    /// Ed25519 (RFC 8032).
    case ed25519

    /// The variant index of `MultiSignature` (Ed25519 = 0, Sr25519 = 1, Ecdsa = 2).
    public var multiSignatureIndex: UInt8 {
        switch self {
        case .ed25519: 0
        case .sr25519: 1
        }
    }
}

/// A signing key pair: its scheme, 32-byte public key (the account id) and secret.
///
/// Made from a 32-byte seed exactly as Substrate does (`Pair::from_seed`): for ed25519 the seed
/// is the RFC 8032 secret key; for sr25519 it is the schnorrkel *mini secret*, expanded with
/// `ExpansionMode::Ed25519`. ``init(scheme:mnemonic:password:)`` derives the seed from a BIP-39
/// phrase as Substrate does (the entropy, not the BIP-39 seed, goes into PBKDF2).
public struct KeyPair: Sendable {
    /// The scheme.
    public let scheme: SignatureScheme
    /// The public key (the account id).
    public let publicKey: [UInt8]
    private let secret: Secret

    private enum Secret: Sendable {
        case ed25519(Curve25519.Signing.PrivateKey)
        case sr25519(Sr25519.SecretKey)
    }

    /// The key pair of a 32-byte seed.
    /// - Throws: ``SubtensorError`` `.invalidKey` unless the seed has 32 bytes.
    public init(scheme: SignatureScheme, seed: [UInt8]) throws(SubtensorError) {
        guard seed.count == 32 else { throw SubtensorError(.invalidKey, "a seed has 32 bytes, got \(seed.count)") }
        self.scheme = scheme
        switch scheme {
        case .ed25519:
            do {
                let key = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
                secret = .ed25519(key)
                publicKey = Array(key.publicKey.rawRepresentation)
            } catch {
                throw SubtensorError(.invalidKey, "ed25519 seed rejected: \(error)")
            }
        case .sr25519:
            let key = Sr25519.SecretKey(miniSecret: seed)
            secret = .sr25519(key)
            publicKey = key.publicKey
        }
    }

    /// An sr25519 key pair from schnorrkel's 64-byte secret key (scalar ‖ nonce), as
    /// `sr25519.pair_from_seed` and bittensor keyfiles' `privateKey` hold it.
    /// - Throws: ``SubtensorError`` `.invalidKey` unless it has 64 bytes and a non-zero scalar.
    public init(sr25519SecretKey bytes: [UInt8]) throws(SubtensorError) {
        guard bytes.count == 64 else { throw SubtensorError(.invalidKey, "an sr25519 secret key has 64 bytes, got \(bytes.count)") }
        let key = Sr25519.SecretKey(bytes: bytes)
        guard key.publicKey.contains(where: { $0 != 0 }) else { throw SubtensorError(.invalidKey, "the sr25519 secret scalar is zero") }
        scheme = .sr25519
        secret = .sr25519(key)
        publicKey = key.publicKey
    }

    /// A new key pair from the system's secure random number generator, with its seed.
    public static func generate(scheme: SignatureScheme) -> (keyPair: KeyPair, seed: [UInt8]) {
        var generator = SystemRandomNumberGenerator()
        let seed = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // A 32-byte seed is always accepted.
        guard let pair = try? KeyPair(scheme: scheme, seed: seed) else { preconditionFailure("32-byte seed rejected") }
        return (pair, seed)
    }

    /// The SS58 address of the public key.
    public func address(prefix: UInt16 = SS58.bittensorPrefix) -> String { SS58.encode(publicKey, prefix: prefix) }

    /// Signs `message` (64-byte signature). Ed25519 signatures are deterministic; sr25519
    /// signatures use the `"substrate"` signing context and fresh randomness.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        switch secret {
        case .ed25519(let key):
            // Signing with a valid key cannot fail in BoringSSL.
            return (try? Array(key.signature(for: message))) ?? []
        case .sr25519(let key):
            return key.sign(message, context: Array("substrate".utf8))
        }
    }

    /// Whether `signature` is a valid signature of `message` by `publicKey` under `scheme`.
    public static func verify(scheme: SignatureScheme, publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool {
        guard publicKey.count == 32, signature.count == 64 else { return false }
        switch scheme {
        case .ed25519:
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
            return key.isValidSignature(signature, for: message)
        case .sr25519:
            return Sr25519.verify(message, signature: signature, publicKey: publicKey, context: Array("substrate".utf8))
        }
    }
}

extension KeyPair: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The scheme and SS58 address; never the secret.
    public var description: String { "KeyPair(\(scheme.rawValue), \(address()))" }
    /// Same as ``description``: secrets never reach logs or test output.
    public var debugDescription: String { description }
    /// Only the scheme and public key are reflected.
    public var customMirror: Mirror { Mirror(self, children: ["scheme": scheme, "publicKey": Hex.encode(publicKey)]) }
}
