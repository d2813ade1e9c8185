#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// What a store knows about one object.
public struct ObjectInfo: Hashable, Sendable {
    /// The object's key.
    public var key: ObjectKey
    /// Its size in bytes.
    public var size: Int
    /// The store's entity tag (without quotes): changes whenever the object does. Opaque; not
    /// necessarily an MD5.
    public var etag: String
    /// When the **store** last wrote the object, by the store's clock, at the store's precision
    /// (S3's `HEAD` reports whole seconds). Tessera's window check trusts this, not a local clock.
    public var lastModified: Date

    /// Creates a description of an object.
    public init(key: ObjectKey, size: Int, etag: String, lastModified: Date) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// Where a paginated listing resumes: opaque, valid only for the backend and prefix it came from.
public struct ListContinuation: Hashable, Sendable {
    /// The backend's token (S3's `NextContinuationToken`, a key for local backends).
    public let token: String
    /// Wraps a backend's token.
    public init(_ token: String) { self.token = token }
}

/// One page of a listing.
public struct ObjectListing: Hashable, Sendable {
    /// Objects in ascending key order (UTF-8 bytes).
    public var objects: [ObjectInfo]
    /// Where the next page starts, or nil when this is the last page.
    public var continuation: ListContinuation?

    /// Creates a page.
    public init(objects: [ObjectInfo], continuation: ListContinuation?) {
        self.objects = objects
        self.continuation = continuation
    }
}

/// An object store: where miners publish updates and everyone reads them.
///
/// The contract every backend keeps (``InMemoryStorage``, ``FileSystemStorage``, `S3Storage`):
///
/// - **Atomic objects.** A reader sees a whole object or none: never a partial write, never a
///   mix of two writes. ``put(_:_:)`` replaces an existing object atomically.
/// - **The store's clock.** ``ObjectInfo/lastModified`` comes from the store (the S3 server, the
///   filesystem), never from the writer, because the protocol's time check must not trust peers.
/// - **Bounded reads.** ``get(_:limit:)`` refuses an object larger than `limit` *before*
///   allocating for it; ``list(prefix:limit:)`` refuses listings longer than its limit.
/// - **Ordered listings.** ``listPage(prefix:after:pageSize:)`` returns keys in ascending UTF-8
///   order, at most `pageSize` per page, with a continuation until the last page.
/// - **Idempotent delete.** Deleting a missing object succeeds, as in S3.
/// - **Typed failures.** Every error is a ``StorageError``; a missing object is
///   ``StorageError/Code/notFound`` for ``get(_:limit:)`` and `nil` for ``head(_:)``.
///
/// Backends are `Sendable` and safe to call concurrently.
public protocol StorageBackend: Sendable {
    /// Stores `bytes` under `key`, replacing any previous object.
    /// - Returns: The stored object's description, with the store's `lastModified`.
    /// - Throws: ``StorageError``.
    func put(_ key: ObjectKey, _ bytes: [UInt8]) async throws -> ObjectInfo

    /// Reads a whole object, refusing it before buffering if it is larger than `limit` bytes.
    /// - Parameters:
    ///   - key: The object.
    ///   - limit: The largest acceptable size in bytes (≥ 0).
    /// - Returns: The object's description and its bytes.
    /// - Throws: ``StorageError`` `.notFound`, `.sizeLimitExceeded`, `.invalidArgument`, …
    func get(_ key: ObjectKey, limit: Int) async throws -> (info: ObjectInfo, bytes: [UInt8])

    /// Describes an object without reading it.
    /// - Returns: The description, or nil if there is no such object.
    /// - Throws: ``StorageError`` for anything but absence.
    func head(_ key: ObjectKey) async throws -> ObjectInfo?

    /// One page of the objects whose keys start with `prefix`.
    /// - Parameters:
    ///   - prefix: Empty, or a valid prefix (see ``ObjectKey/validatePrefix(_:)``).
    ///   - continuation: Nil for the first page, then the previous page's continuation.
    ///   - pageSize: At most this many objects (1...1000).
    /// - Throws: ``StorageError`` `.invalidKey` for a bad prefix, `.invalidArgument` for a bad
    ///   page size.
    func listPage(prefix: String, after continuation: ListContinuation?, pageSize: Int) async throws -> ObjectListing

    /// Removes an object; succeeds if it does not exist.
    /// - Throws: ``StorageError``.
    func delete(_ key: ObjectKey) async throws
}

extension StorageBackend {
    /// Every object whose key starts with `prefix`, following continuations page by page.
    /// - Parameters:
    ///   - prefix: Empty, or a valid prefix.
    ///   - limit: The most objects to accept; a store holding more (a peer flooding its bucket)
    ///     makes this throw rather than exhaust memory.
    ///   - pageSize: Objects per request (1...1000).
    /// - Returns: The objects in ascending key order.
    /// - Throws: ``StorageError`` `.sizeLimitExceeded` past `limit` objects, or any error of
    ///   ``listPage(prefix:after:pageSize:)``.
    /// - Complexity: O(*n*) objects, ⌈*n* / `pageSize`⌉ requests.
    public func list(prefix: String, limit: Int = 100_000, pageSize: Int = 1000) async throws -> [ObjectInfo] {
        guard limit >= 0 else { throw StorageError(.invalidArgument, "a listing limit must be ≥ 0, got \(limit)") }
        var objects: [ObjectInfo] = []
        var continuation: ListContinuation? = nil
        repeat {
            let page = try await listPage(prefix: prefix, after: continuation, pageSize: pageSize)
            guard objects.count + page.objects.count <= limit else {
                throw StorageError(.sizeLimitExceeded, key: prefix, "more than \(limit) objects under the prefix")
            }
            if let last = objects.last, let first = page.objects.first, !(last.key < first.key) {
                throw StorageError(.invalidResponse, key: prefix, "a listing page did not continue in key order")
            }
            objects += page.objects
            // A continuation that does not move would loop forever.
            if let next = page.continuation, next == continuation {
                throw StorageError(.invalidResponse, key: prefix, "a listing returned the same continuation twice")
            }
            continuation = page.continuation
        } while continuation != nil
        return objects
    }
}

/// Checks the arguments every backend's ``StorageBackend/listPage(prefix:after:pageSize:)``
/// shares.
package func validateListArguments(prefix: String, pageSize: Int) throws {
    try ObjectKey.validatePrefix(prefix)
    guard (1...1000).contains(pageSize) else {
        throw StorageError(.invalidArgument, "a page size is in 1...1000, got \(pageSize)")
    }
}

/// Checks a size limit.
package func validateLimit(_ limit: Int, key: ObjectKey) throws {
    guard limit >= 0 else {
        throw StorageError(.invalidArgument, key: key.rawValue, "a size limit must be ≥ 0, got \(limit)")
    }
}
