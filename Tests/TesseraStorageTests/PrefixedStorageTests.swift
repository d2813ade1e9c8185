import Testing
import TesseraStorage

@Suite struct PrefixedStorageTests {
    private func key(_ s: String) throws -> ObjectKey { try ObjectKey(s) }

    /// Objects land under the prefix in the base store; the view sees its own keys only, in
    /// order, across pages.
    @Test func keysAreMappedBothWays() async throws {
        let base = InMemoryStorage()
        let view = try PrefixedStorage(base, prefix: "runs/7")
        let other = try PrefixedStorage(base, prefix: "runs/8")
        _ = try await other.put(key("v1/gradient/1/1"), [9])
        for uid in 1...5 {
            let info = try await view.put(key("v1/gradient/1/\(uid)"), [UInt8(uid)])
            #expect(info.key.rawValue == "v1/gradient/1/\(uid)")
        }
        #expect(try await base.head(key("runs/7/v1/gradient/1/3")) != nil)
        #expect(try await view.get(key("v1/gradient/1/3"), limit: 10).bytes == [3])
        #expect(try await view.get(key("v1/gradient/1/3"), limit: 10).info.key.rawValue == "v1/gradient/1/3")
        #expect(try await view.head(key("v1/gradient/1/9")) == nil)
        let listed = try await view.list(prefix: "v1/gradient/1/", pageSize: 2)
        #expect(listed.map(\.key.rawValue) == (1...5).map { "v1/gradient/1/\($0)" })
        #expect(try await view.list(prefix: "").count == 5)
        try await view.delete(key("v1/gradient/1/2"))
        #expect(try await base.head(key("runs/7/v1/gradient/1/2")) == nil)
        #expect(try await other.list(prefix: "").map(\.key.rawValue) == ["v1/gradient/1/1"])
    }

    @Test func invalidPrefixesAndKeysAreTypedErrors() async throws {
        #expect(throws: StorageError.self) { try PrefixedStorage(InMemoryStorage(), prefix: "") }
        #expect(throws: StorageError.self) { try PrefixedStorage(InMemoryStorage(), prefix: "a/../b") }
        #expect(throws: StorageError.self) { try PrefixedStorage(InMemoryStorage(), prefix: "/a") }
        let view = try PrefixedStorage(InMemoryStorage(), prefix: "a")
        await #expect(throws: StorageError.self) { _ = try await view.list(prefix: "../x") }
    }
}
