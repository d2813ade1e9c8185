import Foundation
import Testing
import TesseraStorage

/// The ``StorageBackend`` contract, checked the same way against every backend (in memory, the
/// filesystem, and S3 against SeaweedFS). `prefix` isolates this run's keys.
func checkBackendContract(_ storage: some StorageBackend, prefix: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let a = try key(prefix + "a")
    let nested = try key(prefix + "dir/nested/object.bin")
    let empty = try key(prefix + "empty")

    // Missing objects: head is nil, get is notFound, delete succeeds.
    #expect(try await storage.head(a) == nil, sourceLocation: sourceLocation)
    await expectStorageError(.notFound, sourceLocation: sourceLocation) { try await storage.get(a, limit: 100) }
    try await storage.delete(a)

    // Put, head and get agree.
    let bytes = randomBytes(70_001, seed: 1)
    let written = try await storage.put(a, bytes)
    #expect(written.key == a && written.size == bytes.count, sourceLocation: sourceLocation)
    #expect(!written.etag.isEmpty, sourceLocation: sourceLocation)
    let headed = try #require(try await storage.head(a), sourceLocation: sourceLocation)
    #expect(headed.size == bytes.count && headed.etag == written.etag, sourceLocation: sourceLocation)
    let (info, read) = try await storage.get(a, limit: bytes.count)
    #expect(read == bytes, sourceLocation: sourceLocation)
    #expect(info.size == bytes.count && info.etag == written.etag, sourceLocation: sourceLocation)
    #expect(abs(info.lastModified.timeIntervalSince(headed.lastModified)) < 0.001, sourceLocation: sourceLocation)

    // The size limit refuses before reading; a limit equal to the size is fine.
    await expectStorageError(.sizeLimitExceeded, sourceLocation: sourceLocation) { try await storage.get(a, limit: bytes.count - 1) }
    await expectStorageError(.invalidArgument, sourceLocation: sourceLocation) { try await storage.get(a, limit: -1) }

    // Empty objects and nested keys.
    _ = try await storage.put(empty, [])
    #expect(try await storage.get(empty, limit: 0).bytes == [], sourceLocation: sourceLocation)
    _ = try await storage.put(nested, [1, 2, 3])
    #expect(try await storage.get(nested, limit: 3).bytes == [1, 2, 3], sourceLocation: sourceLocation)

    // Replacing changes the contents and the ETag.
    let replaced = try await storage.put(a, [9, 9])
    #expect(replaced.etag != written.etag, sourceLocation: sourceLocation)
    #expect(try await storage.get(a, limit: 10).bytes == [9, 9], sourceLocation: sourceLocation)

    // Listing: ordered, prefix-bounded, paginated with the same result at every page size.
    let all = try await storage.list(prefix: prefix)
    #expect(all.map(\.key) == [a, nested, empty], sourceLocation: sourceLocation)
    #expect(all.map(\.size) == [2, 3, 0], sourceLocation: sourceLocation)
    for pageSize in [1, 2, 1000] {
        #expect(try await storage.list(prefix: prefix, pageSize: pageSize).map(\.key) == [a, nested, empty], sourceLocation: sourceLocation)
    }
    let first = try await storage.listPage(prefix: prefix, after: nil, pageSize: 2)
    #expect(first.objects.map(\.key) == [a, nested] && first.continuation != nil, sourceLocation: sourceLocation)
    let second = try await storage.listPage(prefix: prefix, after: first.continuation, pageSize: 2)
    #expect(second.objects.map(\.key) == [empty] && second.continuation == nil, sourceLocation: sourceLocation)
    #expect(try await storage.list(prefix: prefix + "dir/").map(\.key) == [nested], sourceLocation: sourceLocation)
    #expect(try await storage.list(prefix: prefix + "e").map(\.key) == [empty], sourceLocation: sourceLocation)
    #expect(try await storage.list(prefix: prefix + "zzz").isEmpty, sourceLocation: sourceLocation)
    await expectStorageError(.sizeLimitExceeded, sourceLocation: sourceLocation) { try await storage.list(prefix: prefix, limit: 2) }
    await expectStorageError(.invalidKey, sourceLocation: sourceLocation) { try await storage.list(prefix: "../") }
    await expectStorageError(.invalidArgument, sourceLocation: sourceLocation) {
        try await storage.listPage(prefix: prefix, after: nil, pageSize: 0)
    }
    await expectStorageError(.invalidArgument, sourceLocation: sourceLocation) {
        try await storage.listPage(prefix: prefix, after: nil, pageSize: 1001)
    }

    // Delete removes; deleting twice is fine.
    for key in [a, nested, empty] {
        try await storage.delete(key)
        try await storage.delete(key)
        #expect(try await storage.head(key) == nil, sourceLocation: sourceLocation)
    }
    #expect(try await storage.list(prefix: prefix).isEmpty, sourceLocation: sourceLocation)
}
