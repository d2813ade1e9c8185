/// A type-erased ``StorageBackend``: lets code generic over the backend (a `Miner`, a
/// `Validator`) take one chosen at run time.
public struct AnyStorageBackend: StorageBackend {
    /// The wrapped backend.
    public let base: any StorageBackend

    /// Wraps `base`.
    public init(_ base: any StorageBackend) { self.base = base }

    public func put(_ key: ObjectKey, _ bytes: [UInt8]) async throws -> ObjectInfo { try await base.put(key, bytes) }
    public func get(_ key: ObjectKey, limit: Int) async throws -> (info: ObjectInfo, bytes: [UInt8]) { try await base.get(key, limit: limit) }
    public func head(_ key: ObjectKey) async throws -> ObjectInfo? { try await base.head(key) }
    public func listPage(prefix: String, after continuation: ListContinuation?, pageSize: Int) async throws -> ObjectListing {
        try await base.listPage(prefix: prefix, after: continuation, pageSize: pageSize)
    }
    public func delete(_ key: ObjectKey) async throws { try await base.delete(key) }
}
