internal import CSodium
internal import Crypto

/// Schnorrkel (sr25519): Schnorr signatures on ristretto255 with Merlin transcripts, as
/// Substrate uses them. Group and scalar arithmetic come from libsodium
/// (`crypto_core_ristretto255_*`, `crypto_scalarmult_ristretto255*`).
public enum Sr25519 {
    /// A schnorrkel secret key: the scalar and the 32-byte nonce seed.
    struct SecretKey: Sendable {
        let scalar: [UInt8]
        let nonce: [UInt8]
        let publicKey: [UInt8]

        /// Expands a 32-byte mini secret as Substrate does (`ExpansionMode::Ed25519`):
        /// SHA-512, clamp the low half, divide it by the cofactor 8, reduce mod ℓ; the high half
        /// is the nonce seed.
        init(miniSecret: [UInt8]) {
            Sodium.ensureInitialized()
            let h = Array(SHA512.hash(data: miniSecret))
            var key = Array(h[0..<32])
            key[0] &= 248
            key[31] &= 63
            key[31] |= 64
            var low: UInt8 = 0
            for i in stride(from: 31, through: 0, by: -1) {
                let remainder = key[i] & 7
                key[i] = (key[i] >> 3) &+ low
                low = remainder << 5
            }
            scalar = Sr25519.reduce(key)
            nonce = Array(h[32..<64])
            publicKey = Sr25519.basepointTimes(scalar)
        }

        /// A secret key from schnorrkel's 64-byte encoding: the scalar (little-endian, reduced
        /// here mod ℓ) then the nonce seed.
        init(bytes: [UInt8]) {
            Sodium.ensureInitialized()
            scalar = Sr25519.reduce(Array(bytes[0..<32]))
            nonce = Array(bytes[32..<64])
            publicKey = Sr25519.basepointTimes(scalar)
        }

        /// Signs `message` under the signing context `context`.
        func sign(_ message: [UInt8], context: [UInt8]) -> [UInt8] {
            var generator = SystemRandomNumberGenerator()
            let randomness = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            return sign(message, context: context, randomness: randomness)
        }

        /// Signs with explicit external randomness (for tests; production uses fresh randomness).
        func sign(_ message: [UInt8], context: [UInt8], randomness: [UInt8]) -> [UInt8] {
            var t = Sr25519.transcript(message, context: context)
            t.append(label: Array("proto-name".utf8), message: Array("Schnorr-sig".utf8))
            t.append(label: Array("sign:pk".utf8), message: publicKey)
            let r = Sr25519.reduce(t.witnessBytes(label: Array("signing".utf8), witness: nonce, randomness: randomness, count: 64))
            let bigR = Sr25519.basepointTimes(r)
            t.append(label: Array("sign:R".utf8), message: bigR)
            let k = Sr25519.reduce(t.challengeBytes(label: Array("sign:c".utf8), count: 64))
            var s = [UInt8](repeating: 0, count: 32)
            var ka = [UInt8](repeating: 0, count: 32)
            crypto_core_ristretto255_scalar_mul(&ka, k, scalar)
            crypto_core_ristretto255_scalar_add(&s, ka, r)
            s[31] |= 128  // schnorrkel's marker distinguishing it from ed25519 signatures
            return bigR + s
        }
    }

    /// The public key of a 32-byte mini secret.
    /// - Throws: ``SubtensorError`` `.invalidKey` unless it has 32 bytes.
    public static func publicKey(miniSecret: [UInt8]) throws(SubtensorError) -> [UInt8] {
        guard miniSecret.count == 32 else { throw SubtensorError(.invalidKey, "an sr25519 mini secret has 32 bytes") }
        return SecretKey(miniSecret: miniSecret).publicKey
    }

    /// Signs with explicit external randomness, reproducibly (for test vectors; ``KeyPair/sign(_:)``
    /// uses fresh randomness). The transcript RNG still mixes in the secret nonce.
    /// - Throws: ``SubtensorError`` `.invalidKey` unless seed and randomness have 32 bytes.
    public static func sign(miniSecret: [UInt8], message: [UInt8], context: [UInt8], randomness: [UInt8]) throws(SubtensorError) -> [UInt8] {
        guard miniSecret.count == 32, randomness.count == 32 else { throw SubtensorError(.invalidKey, "mini secret and randomness have 32 bytes") }
        return SecretKey(miniSecret: miniSecret).sign(message, context: context, randomness: randomness)
    }

    /// Whether `signature` (R ‖ s with the schnorrkel marker bit) signs `message` under
    /// `context` for `publicKey`: checks s is canonical and s·B − k·A = R.
    public static func verify(_ message: [UInt8], signature: [UInt8], publicKey: [UInt8], context: [UInt8]) -> Bool {
        Sodium.ensureInitialized()
        guard signature.count == 64, publicKey.count == 32, signature[63] & 128 != 0 else { return false }
        let bigR = Array(signature[0..<32])
        var s = Array(signature[32..<64])
        s[31] &= 127
        guard isCanonical(s), crypto_core_ristretto255_is_valid_point(publicKey) == 1,
              crypto_core_ristretto255_is_valid_point(bigR) == 1
        else { return false }
        var t = transcript(message, context: context)
        t.append(label: Array("proto-name".utf8), message: Array("Schnorr-sig".utf8))
        t.append(label: Array("sign:pk".utf8), message: publicKey)
        t.append(label: Array("sign:R".utf8), message: bigR)
        let k = reduce(t.challengeBytes(label: Array("sign:c".utf8), count: 64))
        // R' = s·B − k·A, computed as s·B + (−k)·A.
        var negK = [UInt8](repeating: 0, count: 32)
        crypto_core_ristretto255_scalar_negate(&negK, k)
        var sB = [UInt8](repeating: 0, count: 32), kA = [UInt8](repeating: 0, count: 32), result = [UInt8](repeating: 0, count: 32)
        let identity = [UInt8](repeating: 0, count: 32)
        if crypto_scalarmult_ristretto255_base(&sB, s) != 0 { sB = identity }
        if crypto_scalarmult_ristretto255(&kA, negK, publicKey) != 0 { kA = identity }
        guard crypto_core_ristretto255_add(&result, sB, kA) == 0 else { return false }
        return result == bigR
    }

    /// The signing transcript of schnorrkel's `SigningContext::new(context).bytes(message)`.
    static func transcript(_ message: [UInt8], context: [UInt8]) -> MerlinTranscript {
        var t = MerlinTranscript(label: Array("SigningContext".utf8))
        t.append(label: [], message: context)
        t.append(label: Array("sign-bytes".utf8), message: message)
        return t
    }

    /// `x mod ℓ` for 32 or 64 little-endian bytes.
    static func reduce(_ bytes: [UInt8]) -> [UInt8] {
        var wide = bytes + [UInt8](repeating: 0, count: 64 - bytes.count)
        var out = [UInt8](repeating: 0, count: 32)
        crypto_core_ristretto255_scalar_reduce(&out, &wide)
        return out
    }

    /// `scalar · B` in ristretto255 (the identity, all zeros, for a zero scalar).
    static func basepointTimes(_ scalar: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        if crypto_scalarmult_ristretto255_base(&out, scalar) != 0 { return [UInt8](repeating: 0, count: 32) }
        return out
    }

    /// ℓ = 2²⁵² + 27742317777372353535851937790883648493, little-endian.
    private static let order: [UInt8] = [
        0xED, 0xD3, 0xF5, 0x5C, 0x1A, 0x63, 0x12, 0x58, 0xD6, 0x9C, 0xF7, 0xA2, 0xDE, 0xF9, 0xDE, 0x14,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ]

    /// Whether a little-endian scalar is below ℓ.
    static func isCanonical(_ s: [UInt8]) -> Bool {
        for i in stride(from: 31, through: 0, by: -1) where s[i] != order[i] { return s[i] < order[i] }
        return false
    }
}
