extension RuntimeMetadata {
    /// The storage key of `pallet.entry` for the given SCALE-encoded key parts.
    ///
    /// `twox128(prefix) ++ twox128(entry)`, then each key part hashed with its hasher. Give fewer
    /// parts than the map has to get a prefix for `state_getKeysPaged` (e.g. every
    /// `CommitmentOf` entry of one subnet: only the netuid).
    /// - Parameters:
    ///   - pallet: The pallet name, e.g. `Commitments`.
    ///   - entry: The entry name, e.g. `CommitmentOf`.
    ///   - keys: SCALE-encoded key parts, at most one per hasher.
    /// - Throws: ``SubtensorError`` `.notInMetadata`, or `.invalidArgument` for too many parts.
    public func storageKey(_ pallet: String, _ entry: String, keys: [[UInt8]] = []) throws(SubtensorError) -> [UInt8] {
        let (prefix, storage) = try self.storage(pallet, entry)
        var key = SubstrateHash.twox128(Array(prefix.utf8)) + SubstrateHash.twox128(Array(entry.utf8))
        switch storage.kind {
        case .plain:
            guard keys.isEmpty else { throw SubtensorError(.invalidArgument, "\(pallet).\(entry) is a plain value and takes no key") }
        case .map(let hashers, _, _):
            guard keys.count <= hashers.count else {
                throw SubtensorError(.invalidArgument, "\(pallet).\(entry) has \(hashers.count) key parts, \(keys.count) given")
            }
            for (hasher, part) in zip(hashers, keys) { key += hasher.hash(part) }
        }
        return key
    }
}

/// Splits a full storage key back into its key parts, for maps whose hashers keep the key
/// (`Blake2_128Concat`, `Twox64Concat`, `Identity`).
public enum StorageKeyDecoder {
    /// The raw key bytes after the 32-byte pallet/entry prefix, hasher by hasher, where
    /// `partSizes[i]` is the encoded size of key part `i` (needed to find where it ends).
    /// - Throws: ``SubtensorError`` `.malformedSCALE` if the key is too short or too long, or
    ///   `.invalidArgument` if a hasher discards its key.
    public static func parts(of key: [UInt8], hashers: [StorageHasher], partSizes: [Int]) throws(SubtensorError) -> [[UInt8]] {
        guard hashers.count == partSizes.count else { throw SubtensorError(.invalidArgument, "one size per hasher is needed") }
        var decoder = ScaleDecoder(key)
        try decoder.skip(32)
        var parts: [[UInt8]] = []
        for (hasher, size) in zip(hashers, partSizes) {
            let (hashBytes, keyFollows) = hasher.prefixLength
            guard keyFollows else { throw SubtensorError(.invalidArgument, "hasher \(hasher) does not keep the key") }
            try decoder.skip(hashBytes)
            parts.append(try decoder.readBytes(size))
        }
        try decoder.expectEnd("storage key")
        return parts
    }
}
