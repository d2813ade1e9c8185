#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import TesseraCore

/// A ``StorageBackend`` in process memory, stamped by an injected clock: for tests and the
/// network simulator.
///
/// It keeps the whole contract (atomic objects, bounded reads, ordered paginated listings), so
/// code tested against it behaves the same against ``FileSystemStorage`` or S3. Its
/// `lastModified` is its clock's time at the moment of the write, which lets a simulation put an
/// upload exactly inside or outside a window's time bounds.
///
/// ETags are the XXH64 of the contents, as 16 hex digits.
public actor InMemoryStorage: StorageBackend {
    private struct Entry {
        var bytes: [UInt8]
        var info: ObjectInfo
    }

    private var objects: [ObjectKey: Entry] = [:]
    private let clock: any WallClock

    /// Creates an empty store.
    /// - Parameter clock: Stamps every write's `lastModified`.
    public init(clock: any WallClock = SystemWallClock()) {
        self.clock = clock
    }

    /// How many objects the store holds.
    public var count: Int { objects.count }

    public func put(_ key: ObjectKey, _ bytes: [UInt8]) async throws -> ObjectInfo {
        let etag = String(XXHash64.hash(bytes), radix: 16).leftPadded(to: 16)
        let info = ObjectInfo(key: key, size: bytes.count, etag: etag, lastModified: clock.now())
        objects[key] = Entry(bytes: bytes, info: info)
        return info
    }

    public func get(_ key: ObjectKey, limit: Int) async throws -> (info: ObjectInfo, bytes: [UInt8]) {
        try validateLimit(limit, key: key)
        guard let entry = objects[key] else {
            throw StorageError(.notFound, key: key.rawValue, "no such object")
        }
        guard entry.info.size <= limit else {
            throw StorageError(.sizeLimitExceeded, key: key.rawValue, "the object has \(entry.info.size) bytes, the limit is \(limit)")
        }
        return (entry.info, entry.bytes)
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        objects[key]?.info
    }

    /// - Complexity: O(*n* log *n*) in the number of objects in the store.
    public func listPage(prefix: String, after continuation: ListContinuation?, pageSize: Int) async throws -> ObjectListing {
        try validateListArguments(prefix: prefix, pageSize: pageSize)
        let after = continuation?.token
        let matching = objects.keys
            .filter { key in
                key.rawValue.utf8.starts(with: prefix.utf8)
                    && (after.map { $0.utf8.lexicographicallyPrecedes(key.rawValue.utf8) } ?? true)
            }
            .sorted()
        let page = matching.prefix(pageSize)
        let next = matching.count > pageSize ? page.last.map { ListContinuation($0.rawValue) } : nil
        return ObjectListing(objects: page.compactMap { objects[$0]?.info }, continuation: next)
    }

    public func delete(_ key: ObjectKey) async throws {
        objects[key] = nil
    }
}

extension String {
    /// Left-pads with zeros to `width` characters.
    package func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
