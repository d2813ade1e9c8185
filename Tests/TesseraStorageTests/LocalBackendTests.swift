import Foundation
import Testing
import TesseraCore
import TesseraStorage
#if canImport(Glibc)
import Glibc
#endif

@Suite("InMemoryStorage")
struct InMemoryStorageTests {
    @Test("keeps the backend contract")
    func contract() async throws {
        try await checkBackendContract(InMemoryStorage(), prefix: "t/")
    }

    @Test("stamps lastModified with the injected clock, not the writer's")
    func injectedClock() async throws {
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let clock = ManualWallClock(start)
        let storage = InMemoryStorage(clock: clock)
        let first = try await storage.put(try key("a"), [1])
        #expect(first.lastModified == start)
        clock.advance(by: 84)
        let second = try await storage.put(try key("b"), [2])
        #expect(second.lastModified == start.addingTimeInterval(84))
        #expect(try await storage.head(try key("a"))?.lastModified == start)
        clock.set(Date(timeIntervalSince1970: 0))
        #expect(try await storage.put(try key("a"), [3]).lastModified == Date(timeIntervalSince1970: 0))
        #expect(await storage.count == 2)
    }

    @Test("the ETag is the contents' XXH64")
    func etag() async throws {
        let storage = InMemoryStorage()
        let info = try await storage.put(try key("k"), Array("hello".utf8))
        let expected = String(XXHash64.hash(Array("hello".utf8)), radix: 16)
        #expect(info.etag == String(repeating: "0", count: 16 - expected.count) + expected)
    }

    @Test("listing 2,500 objects in pages of 1,000 returns each once, in order")
    func manyPages() async throws {
        let storage = InMemoryStorage()
        let keys = try (0..<2500).map { try key(String(format: "p/%05d", $0)) }
        for k in keys { _ = try await storage.put(k, []) }
        var pages = 0
        var continuation: ListContinuation? = nil
        var seen: [ObjectKey] = []
        repeat {
            let page = try await storage.listPage(prefix: "p/", after: continuation, pageSize: 1000)
            seen += page.objects.map(\.key)
            continuation = page.continuation
            pages += 1
        } while continuation != nil
        #expect(pages == 3 && seen == keys)
    }
}

@Suite("FileSystemStorage")
struct FileSystemStorageTests {
    @Test("keeps the backend contract")
    func contract() async throws {
        let directory = try TemporaryDirectory()
        try await checkBackendContract(try FileSystemStorage(root: directory.path + "/store"), prefix: "t/")
    }

    @Test("objects are files under the root and survive a new instance")
    func layoutOnDisk() async throws {
        let directory = try TemporaryDirectory()
        let storage = try FileSystemStorage(root: directory.path)
        let info = try await storage.put(try key("v1/gradient/3/4"), [1, 2, 3])
        #expect(FileManager.default.contents(atPath: directory.path + "/v1/gradient/3/4") == Data([1, 2, 3]))
        // lastModified is the file's modification time, as the filesystem recorded it.
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/v1/gradient/3/4")
        let modified = try #require(attributes[.modificationDate] as? Date)
        #expect(abs(modified.timeIntervalSince(info.lastModified)) < 0.001)
        let reopened = try FileSystemStorage(root: directory.path, create: false)
        #expect(try await reopened.get(try key("v1/gradient/3/4"), limit: 3).bytes == [1, 2, 3])
    }

    @Test("deleting prunes the directories it emptied, and only those")
    func pruning() async throws {
        let directory = try TemporaryDirectory()
        let storage = try FileSystemStorage(root: directory.path)
        _ = try await storage.put(try key("a/b/c/one"), [1])
        _ = try await storage.put(try key("a/two"), [2])
        try await storage.delete(try key("a/b/c/one"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/a/b"))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/a/two"))
        try await storage.delete(try key("a/two"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/a"))
        #expect(FileManager.default.fileExists(atPath: directory.path))
    }

    @Test("a missing root is created, or refused when creation is off")
    func root() async throws {
        let directory = try TemporaryDirectory()
        await expectStorageError(.invalidConfiguration) { try FileSystemStorage(root: directory.path + "/missing", create: false) }
        _ = try FileSystemStorage(root: directory.path + "/x/y/z")
        #expect(FileManager.default.fileExists(atPath: directory.path + "/x/y/z"))
        _ = FileManager.default.createFile(atPath: directory.path + "/file", contents: Data())
        await expectStorageError(.invalidConfiguration) { try FileSystemStorage(root: directory.path + "/file", create: false) }
        await expectStorageError(.invalidConfiguration) { try FileSystemStorage(root: "") }
    }

    @Test("readers never see a partial object while writers replace it")
    func atomicReplacement() async throws {
        let directory = try TemporaryDirectory()
        let storage = try FileSystemStorage(root: directory.path)
        let target = try key("hot/object")
        let size = 2 << 20
        let versions: [[UInt8]] = [UInt8(0xAA), 0xBB, 0xCC].map { [UInt8](repeating: $0, count: size) }
        _ = try await storage.put(target, versions[0])
        let reads = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for round in 0..<40 { _ = try await storage.put(target, versions[round % 3]) }
                return 0
            }
            for _ in 0..<2 {
                group.addTask {
                    var checked = 0
                    for _ in 0..<60 {
                        let bytes = try await storage.get(target, limit: size).bytes
                        // One whole version: right length, one byte value throughout.
                        #expect(bytes.count == size)
                        let first = bytes.first ?? 0
                        #expect(versions.contains { $0[0] == first } && bytes.allSatisfy { $0 == first })
                        checked += 1
                    }
                    return checked
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(reads == 120)
        // No temporary file is left behind by completed writes.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/hot").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    @Test("an interrupted write is invisible, and the sweep removes its temporary file")
    func interruptedWrite() async throws {
        let directory = try TemporaryDirectory()
        let storage = try FileSystemStorage(root: directory.path)
        _ = try await storage.put(try key("w/5/kept"), [7])
        // What a writer killed mid-write leaves: a temporary file beside the target.
        let temporary = directory.path + "/w/5/.tessera-tmp-deadbeef"
        _ = FileManager.default.createFile(atPath: temporary, contents: Data([1, 2]))
        #expect(try await storage.list(prefix: "w/").map(\.key.rawValue) == ["w/5/kept"])
        #expect(try await storage.removeAbandonedTemporaryFiles(olderThan: 3600) == 0)  // too recent
        #expect(try await storage.removeAbandonedTemporaryFiles(olderThan: -1) == 1)
        #expect(!FileManager.default.fileExists(atPath: temporary))
        #expect(try await storage.get(try key("w/5/kept"), limit: 1).bytes == [7])
    }

    @Test("a symbolic link inside the root never leads a read or write outside it")
    func symbolicLinks() async throws {
        let directory = try TemporaryDirectory()
        let root = directory.path + "/root", outside = directory.path + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: outside + "/secret", contents: Data("secret".utf8))
        let storage = try FileSystemStorage(root: root)
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: root + "/file-link", withDestinationPath: outside + "/secret")

        await expectStorageError(.ioFailure) { try await storage.put(try key("link/planted"), [1]) }
        #expect(!FileManager.default.fileExists(atPath: outside + "/planted"))
        await expectStorageError(.ioFailure) { try await storage.get(try key("link/secret"), limit: 100) }
        await expectStorageError(.ioFailure) { try await storage.get(try key("file-link"), limit: 100) }
        await expectStorageError(.ioFailure) { try await storage.head(try key("link/secret")) }
        #expect(try await storage.head(try key("file-link")) == nil)
        // Listing shows neither the links nor what they point at.
        _ = try await storage.put(try key("real"), [1])
        #expect(try await storage.list(prefix: "").map(\.key.rawValue) == ["real"])
        // A FIFO is not an object, and opening one must not block.
        #expect(mkfifo(root + "/fifo", 0o644) == 0)
        await expectStorageError(.notFound) { try await storage.get(try key("fifo"), limit: 100) }
        #expect(try await storage.head(try key("fifo")) == nil)
        // Deleting through a link does nothing outside.
        try? await storage.delete(try key("link/secret"))
        #expect(FileManager.default.fileExists(atPath: outside + "/secret"))
    }

    @Test("an object cannot also be a directory of objects")
    func conflicts() async throws {
        let directory = try TemporaryDirectory()
        let storage = try FileSystemStorage(root: directory.path)
        _ = try await storage.put(try key("a"), [1])
        await expectStorageError(.conflict) { try await storage.put(try key("a/b"), [2]) }
        _ = try await storage.put(try key("c/d"), [3])
        await expectStorageError(.conflict) { try await storage.put(try key("c"), [4]) }
        // Reads of the impossible shapes are plain absence.
        #expect(try await storage.head(try key("a/b")) == nil)
        #expect(try await storage.head(try key("c")) == nil)
        await expectStorageError(.notFound) { try await storage.get(try key("c"), limit: 10) }
        try await storage.delete(try key("c"))
        #expect(try await storage.get(try key("c/d"), limit: 1).bytes == [3])
    }

    @Test("files other tools put in the root with names outside the key grammar are not listed")
    func foreignFiles() async throws {
        let directory = try TemporaryDirectory()
        let storage = try FileSystemStorage(root: directory.path)
        _ = try await storage.put(try key("ok"), [1])
        for name in ["bad name", "ü", ".hidden", "semi;colon"] {
            _ = FileManager.default.createFile(atPath: directory.path + "/" + name, contents: Data([0]))
        }
        #expect(try await storage.list(prefix: "").map(\.key.rawValue) == ["ok"])
    }

    @Test("listing order is by bytes across directories ('a-c' < 'a/b' < 'ab')")
    func listingOrder() async throws {
        let directory = try TemporaryDirectory()
        let storage = try FileSystemStorage(root: directory.path)
        for name in ["b", "ab", "a/b", "a-c", "a/a/z"] { _ = try await storage.put(try key(name), []) }
        #expect(try await storage.list(prefix: "").map(\.key.rawValue) == ["a-c", "a/a/z", "a/b", "ab", "b"])
        #expect(try await storage.list(prefix: "a").map(\.key.rawValue) == ["a-c", "a/a/z", "a/b", "ab"])
        #expect(try await storage.list(prefix: "a/").map(\.key.rawValue) == ["a/a/z", "a/b"])
        #expect(try await storage.list(prefix: "a/a").map(\.key.rawValue) == ["a/a/z"])
        #expect(try await storage.list(prefix: "q/").isEmpty)
    }

    @Test("the limit is checked against the file's size before anything is read or allocated")
    func hugeFileRefusedBeforeReading() async throws {
        let directory = try TemporaryDirectory()
        let storage = try FileSystemStorage(root: directory.path)
        // A sparse 64 GiB file (no disk used) that a hostile peer or a bug put in the store.
        _ = FileManager.default.createFile(atPath: directory.path + "/huge", contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: directory.path + "/huge"))
        try handle.truncate(atOffset: 64 << 30)
        try handle.close()
        #expect(try await storage.head(try key("huge"))?.size == 64 << 30)
        // Allocating or reading 64 GiB would exhaust the machine; the refusal comes from fstat.
        await expectStorageError(.sizeLimitExceeded) { try await storage.get(try key("huge"), limit: 1 << 20) }
    }
}
