public import TesseraCore
import Crypto

/// The sample ids one miner trains on in one window (or that a validator draws).
public struct DataSlice: Hashable, Sendable, Codable {
    /// The uid the slice belongs to.
    public var uid: UID
    /// The window.
    public var window: Window
    /// Distinct sample ids in `0..<sampleCount`, in the sampler's (shuffled) order.
    public var sampleIDs: [UInt64]

    /// Creates a slice.
    public init(uid: UID, window: Window, sampleIDs: [UInt64]) {
        self.uid = uid
        self.window = window
        self.sampleIDs = sampleIDs
    }

    /// The digest miners put in their update's metadata (see ``SampleDigest``).
    public var digest: Digest32 { SampleDigest.digest(of: sampleIDs) }
}

/// Chooses which samples a uid trains on in a window.
///
/// Contract: a pure function of its inputs (every validator reproduces every miner's slice), and
/// unpredictable before `seed` exists: `seed` is the hash of the window's first block.
public protocol SliceSampler: Sendable {
    /// The slice of `uid` in `window`.
    /// - Throws: ``DataError`` `.invalidArgument` if the sampler cannot draw its count.
    func slice(uid: UID, window: Window, seed: Digest32) throws -> DataSlice
}

/// Tessera's default sampler, specified in Documentation/Sampling.md:
///
/// 1. seed = SHA-256("tessera/slice/v1" ‖ blockHash ‖ u64le(window) ‖ u16le(uid));
/// 2. a ``Xoshiro256StarStar`` whose four state words are the seed's four little-endian u64s;
/// 3. Floyd's algorithm draws `count` distinct ids from `0..<sampleCount`, with bounded draws
///    by Lemire's multiply-and-reject method (``BoundedRandom``);
/// 4. the ids are sorted and then Fisher–Yates shuffled with the same generator.
public struct DeterministicSliceSampler: SliceSampler {
    /// Samples per slice (Templar: 30·1024).
    public let count: Int
    /// Samples in the source.
    public let sampleCount: UInt64

    /// Creates a sampler.
    /// - Throws: ``DataError`` `.invalidArgument` unless 0 ≤ count ≤ sampleCount.
    public init(count: Int, sampleCount: UInt64) throws {
        guard count >= 0, UInt64(count) <= sampleCount else {
            throw DataError(.invalidArgument, "cannot draw \(count) distinct samples out of \(sampleCount)")
        }
        self.count = count
        self.sampleCount = sampleCount
    }

    public func slice(uid: UID, window: Window, seed: Digest32) throws -> DataSlice {
        let digest = SeedDerivation.sliceSeed(blockHash: seed, window: window, uid: uid)
        var generator = SeedDerivation.generator(from: digest)
        let ids = try Self.draw(count: count, from: sampleCount, using: &generator)
        return DataSlice(uid: uid, window: window, sampleIDs: ids)
    }

    /// The validator's own draw for `window`: seeded by the hash of the first block produced
    /// after the window's upload deadline (so no miner knows it before its update is final) and
    /// the validator's hotkey.
    ///
    /// seed = SHA-256("tessera/validator-draw/v1" ‖ revealBlockHash ‖ u64le(window) ‖ u16le(len) ‖ hotkey UTF-8)
    public func validatorDraw(window: Window, revealBlockHash: Digest32, hotkey: String) -> DataSlice {
        let digest = SeedDerivation.validatorSeed(revealBlockHash: revealBlockHash, window: window, hotkey: hotkey)
        var generator = SeedDerivation.generator(from: digest)
        // count ≤ sampleCount is checked at init, so the draw cannot fail.
        let ids = (try? Self.draw(count: count, from: sampleCount, using: &generator)) ?? []
        return DataSlice(uid: UID(rawValue: .max), window: window, sampleIDs: ids)
    }

    /// Floyd's algorithm, then sort, then Fisher–Yates, all from `generator`.
    /// - Throws: ``DataError`` `.invalidArgument` unless 0 ≤ count ≤ n.
    /// - Complexity: O(count log count) expected.
    public static func draw<G: RandomNumberGenerator>(count: Int, from n: UInt64, using generator: inout G) throws -> [UInt64] {
        guard count >= 0, UInt64(count) <= n else {
            throw DataError(.invalidArgument, "cannot draw \(count) distinct values out of \(n)")
        }
        guard count > 0 else { return [] }
        var chosen = Set<UInt64>(minimumCapacity: count)
        var j = n - UInt64(count)
        while j < n {
            let t = BoundedRandom.next(upTo: j + 1, using: &generator)
            chosen.insert(chosen.contains(t) ? j : t)
            j += 1
        }
        var ids = chosen.sorted()
        var i = ids.count - 1
        while i > 0 {
            let k = Int(BoundedRandom.next(upTo: UInt64(i + 1), using: &generator))
            ids.swapAt(i, k)
            i -= 1
        }
        return ids
    }
}

/// How seeds are derived from public chain data.
public enum SeedDerivation {
    /// Domain tag of slice seeds.
    public static let sliceTag = Array("tessera/slice/v1".utf8)
    /// Domain tag of validator draws.
    public static let validatorTag = Array("tessera/validator-draw/v1".utf8)

    /// SHA-256("tessera/slice/v1" ‖ blockHash ‖ u64le(window) ‖ u16le(uid)).
    public static func sliceSeed(blockHash: Digest32, window: Window, uid: UID) -> Digest32 {
        var h = SHA256()
        h.update(data: sliceTag)
        h.update(data: blockHash.bytes)
        withUnsafeBytes(of: window.rawValue.littleEndian) { h.update(bufferPointer: $0) }
        withUnsafeBytes(of: uid.rawValue.littleEndian) { h.update(bufferPointer: $0) }
        return try! Digest32(Array(h.finalize()))
    }

    /// SHA-256("tessera/validator-draw/v1" ‖ revealBlockHash ‖ u64le(window) ‖ u16le(len) ‖ hotkey).
    public static func validatorSeed(revealBlockHash: Digest32, window: Window, hotkey: String) -> Digest32 {
        let key = Array(hotkey.utf8.prefix(Int(UInt16.max)))
        var h = SHA256()
        h.update(data: validatorTag)
        h.update(data: revealBlockHash.bytes)
        withUnsafeBytes(of: window.rawValue.littleEndian) { h.update(bufferPointer: $0) }
        withUnsafeBytes(of: UInt16(key.count).littleEndian) { h.update(bufferPointer: $0) }
        h.update(data: key)
        return try! Digest32(Array(h.finalize()))
    }

    /// A xoshiro256** generator whose state words are the digest's four little-endian u64s
    /// (an all-zero state, which xoshiro cannot leave, is replaced by seeding from 0).
    public static func generator(from digest: Digest32) -> Xoshiro256StarStar {
        var words: [UInt64] = []
        for w in 0..<4 {
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(digest.bytes[w * 8 + b]) << (8 * UInt64(b)) }
            words.append(v)
        }
        if words.allSatisfy({ $0 == 0 }) { return Xoshiro256StarStar(seed: 0) }
        return Xoshiro256StarStar(state: (words[0], words[1], words[2], words[3]))
    }
}

/// The digest of the samples an update was trained on: SHA-256("tessera/samples/v1" ‖
/// u64le(count) ‖ the ids sorted ascending, each u64le). Miners put it in their update's
/// metadata; validators recompute it from the slice.
public enum SampleDigest {
    /// Domain tag.
    public static let tag = Array("tessera/samples/v1".utf8)

    /// The digest of `ids` (order does not matter).
    /// - Complexity: O(n log n).
    public static func digest(of ids: [UInt64]) -> Digest32 {
        var h = SHA256()
        h.update(data: tag)
        withUnsafeBytes(of: UInt64(ids.count).littleEndian) { h.update(bufferPointer: $0) }
        let sorted = ids.sorted().map(\.littleEndian)
        sorted.withUnsafeBytes { h.update(bufferPointer: $0) }
        return try! Digest32(Array(h.finalize()))
    }
}
