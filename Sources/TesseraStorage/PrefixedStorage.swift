/// A view of another backend under a fixed key prefix: every key `k` is stored as
/// `prefix/k`, and listings return the keys with the prefix removed. Several networks (or
/// simulation runs) can then share one bucket without seeing each other's objects.
///
/// Listings keep the base backend's order (removing a common prefix preserves it) and pass its
/// continuations through unchanged.
public struct PrefixedStorage<Base: StorageBackend>: StorageBackend {
    /// The backend that holds the objects.
    public let base: Base
    /// The prefix, without its trailing `/`.
    public let prefix: String

    /// Creates a view of `base` under `prefix`.
    /// - Parameter prefix: One or more key segments, e.g. `runs/42` (no leading or trailing `/`).
    /// - Throws: ``StorageError`` `.invalidKey` if `prefix` is not a valid key.
    public init(_ base: Base, prefix: String) throws {
        _ = try ObjectKey(prefix)
        self.base = base
        self.prefix = prefix
    }

    private func outer(_ key: ObjectKey) throws -> ObjectKey { try ObjectKey(prefix + "/" + key.rawValue) }

    private func inner(_ info: ObjectInfo) throws -> ObjectInfo {
        let head = prefix + "/"
        guard info.key.rawValue.hasPrefix(head) else {
            throw StorageError(.invalidResponse, key: info.key.rawValue, "the backend listed a key outside the prefix \(prefix)")
        }
        var inner = info
        inner.key = try ObjectKey(String(info.key.rawValue.dropFirst(head.count)))
        return inner
    }

    public func put(_ key: ObjectKey, _ bytes: [UInt8]) async throws -> ObjectInfo {
        var info = try await base.put(try outer(key), bytes)
        info.key = key
        return info
    }

    public func get(_ key: ObjectKey, limit: Int) async throws -> (info: ObjectInfo, bytes: [UInt8]) {
        var result = try await base.get(try outer(key), limit: limit)
        result.info.key = key
        return result
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        guard var info = try await base.head(try outer(key)) else { return nil }
        info.key = key
        return info
    }

    public func listPage(prefix listPrefix: String, after continuation: ListContinuation?, pageSize: Int) async throws -> ObjectListing {
        if !listPrefix.isEmpty { try ObjectKey.validatePrefix(listPrefix) }
        let page = try await base.listPage(prefix: prefix + "/" + listPrefix, after: continuation, pageSize: pageSize)
        return ObjectListing(objects: try page.objects.map(inner), continuation: page.continuation)
    }

    public func delete(_ key: ObjectKey) async throws {
        try await base.delete(try outer(key))
    }
}
