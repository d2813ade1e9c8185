internal import CSodium
import TesseraCore

/// The hashes Substrate uses for storage keys, addresses and signing payloads.
///
/// `twox` is xxHash64 (``TesseraCore/XXHash64``) run with seeds 0, 1, … and concatenated
/// little-endian; BLAKE2b comes from libsodium (`crypto_generichash`, unkeyed).
public enum SubstrateHash {
    /// xxHash64 with seed 0, 8 bytes little-endian.
    public static func twox64(_ data: [UInt8]) -> [UInt8] { twox(data, words: 1) }
    /// xxHash64 with seeds 0 and 1, 16 bytes.
    public static func twox128(_ data: [UInt8]) -> [UInt8] { twox(data, words: 2) }
    /// xxHash64 with seeds 0 to 3, 32 bytes.
    public static func twox256(_ data: [UInt8]) -> [UInt8] { twox(data, words: 4) }

    private static func twox(_ data: [UInt8], words: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(words * 8)
        for seed in 0..<UInt64(words) {
            var h = XXHash64.hash(data, seed: seed)
            for _ in 0..<8 {
                out.append(UInt8(truncatingIfNeeded: h))
                h >>= 8
            }
        }
        return out
    }

    /// Unkeyed BLAKE2b with an output of `length` bytes (16…64).
    public static func blake2b(_ data: [UInt8], length: Int) -> [UInt8] {
        precondition((16...64).contains(length), "BLAKE2b output length must be 16...64")
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: length)
        _ = data.withUnsafeBufferPointer { input in
            crypto_generichash(&out, length, input.baseAddress, UInt64(input.count), nil, 0)
        }
        return out
    }

    /// BLAKE2b-128 (16 bytes).
    public static func blake2b128(_ data: [UInt8]) -> [UInt8] { blake2b(data, length: 16) }
    /// BLAKE2b-256 (32 bytes).
    public static func blake2b256(_ data: [UInt8]) -> [UInt8] { blake2b(data, length: 32) }
    /// BLAKE2b-512 (64 bytes).
    public static func blake2b512(_ data: [UInt8]) -> [UInt8] { blake2b(data, length: 64) }
}

/// How a storage map hashes each key (the metadata's `StorageHasher`).
public enum StorageHasher: UInt8, Sendable, Hashable, CaseIterable {
    /// BLAKE2b-128 of the key.
    case blake2_128 = 0
    /// BLAKE2b-256 of the key.
    case blake2_256 = 1
    /// BLAKE2b-128 of the key, then the key.
    case blake2_128Concat = 2
    /// twox128 of the key.
    case twox128 = 3
    /// twox256 of the key.
    case twox256 = 4
    /// twox64 of the key, then the key.
    case twox64Concat = 5
    /// The key itself.
    case identity = 6

    /// The hashed form of an encoded key.
    public func hash(_ key: [UInt8]) -> [UInt8] {
        switch self {
        case .blake2_128: SubstrateHash.blake2b128(key)
        case .blake2_256: SubstrateHash.blake2b256(key)
        case .blake2_128Concat: SubstrateHash.blake2b128(key) + key
        case .twox128: SubstrateHash.twox128(key)
        case .twox256: SubstrateHash.twox256(key)
        case .twox64Concat: SubstrateHash.twox64(key) + key
        case .identity: key
        }
    }

    /// Bytes of hash that precede the key in a stored key, and whether the key follows them.
    public var prefixLength: (hashBytes: Int, keyFollows: Bool) {
        switch self {
        case .blake2_128: (16, false)
        case .blake2_256: (32, false)
        case .blake2_128Concat: (16, true)
        case .twox128: (16, false)
        case .twox256: (32, false)
        case .twox64Concat: (8, true)
        case .identity: (0, true)
        }
    }
}

/// libsodium's one-time initialization.
enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0
    /// Runs `sodium_init` once.
    static func ensureInitialized() { precondition(initialized, "libsodium failed to initialize") }
}
