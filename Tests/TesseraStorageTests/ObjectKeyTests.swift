import Testing
import TesseraCore
import TesseraStorage

@Suite("Object keys and the key layout")
struct ObjectKeyTests {
    @Test("valid keys are accepted unchanged", arguments: [
        "a", "v1/gradient/42/7", "A-Z_a.z~0=9,", "x/y/z.tsg", String(repeating: "k", count: 255),
        (0..<4).map { _ in String(repeating: "s", count: 255) }.joined(separator: "/"),  // 1,023 bytes
    ])
    func validKeys(_ text: String) throws {
        #expect(try ObjectKey(text).rawValue == text)
    }

    @Test("escapes and malformed keys are rejected", arguments: [
        "", "/", "/etc/passwd", "../x", "a/../b", "a/./b", "..", ".", ".hidden", "a/.tessera-tmp-1",
        "a//b", "a/", "a\0b", "a\\b", "..\\x", "a b", "a\nb", "a\tb", "\u{7F}", "é", "ü/x", "a?b", "a#b",
        "a%2Fb", "a+b", "a:b", "a*b", "C:\\x", String(repeating: "k", count: 256),
        String(repeating: "a/", count: 512) + "a",
    ])
    func rejectedKeys(_ text: String) async throws {
        await expectStorageError(.invalidKey) { try ObjectKey(text) }
    }

    @Test("keys order by UTF-8 bytes, as S3 lists them")
    func ordering() throws {
        let keys = try ["b", "a/b", "ab", "a-c", "A", "a", "a0", "a~"].map { try ObjectKey($0) }
        #expect(keys.sorted().map(\.rawValue) == ["A", "a", "a-c", "a/b", "a0", "ab", "a~", "b"])
    }

    @Test("prefixes may end inside a segment or with a slash")
    func prefixes() async throws {
        for valid in ["", "v1/", "v1/gradient/4", "v1/gradient/42/", "a"] {
            try ObjectKey.validatePrefix(valid)
        }
        for invalid in ["/", "/v1", "v1//", "../", "v1/../", ".x", "a b", "v1/.", "a\0"] {
            await expectStorageError(.invalidKey) { try ObjectKey.validatePrefix(invalid) }
        }
    }

    @Test("the layout puts the format version first and updates under their window")
    func layout() throws {
        let layout = ObjectKeyLayout.current
        #expect(ObjectKeyLayout.currentFormatVersion == 1)
        #expect(layout.gradient(window: 42, uid: 7).rawValue == "v1/gradient/42/7")
        #expect(layout.gradientPrefix(window: 42) == "v1/gradient/42/")
        #expect(layout.checkpoint(window: 9).rawValue == "v1/checkpoint/9")
        #expect(layout.peerList(window: 9).rawValue == "v1/peers/9")
        #expect(layout.validatorState(window: 9).rawValue == "v1/validator-state/9")
        #expect(layout.startWindow.rawValue == "v1/start-window")
        let v2 = try ObjectKeyLayout(formatVersion: 2)
        #expect(v2.gradient(window: 42, uid: 7).rawValue == "v2/gradient/42/7")
        // Every builder's output is a valid key (the builders skip validation).
        for key in [layout.gradient(window: .max, uid: .max), layout.checkpoint(window: .max), layout.startWindow] {
            #expect(try ObjectKey(key.rawValue) == key)
        }
    }

    @Test("format versions outside 1...999999 are refused", arguments: [0, -1, 1_000_000])
    func badVersions(_ version: Int) async {
        await expectStorageError(.invalidArgument) { try ObjectKeyLayout(formatVersion: version) }
    }

    @Test("parse inverts every builder")
    func parseRoundTrip() throws {
        let layout = ObjectKeyLayout.current
        let entries: [ObjectKeyLayout.Entry] = [
            .gradient(window: 0, uid: 0), .gradient(window: Window(rawValue: .max), uid: UID(rawValue: .max)),
            .gradient(window: 123_456, uid: 255), .checkpoint(window: 5), .peerList(window: 77),
            .validatorState(window: 1), .startWindow,
        ]
        for entry in entries {
            #expect(layout.parse(layout.key(for: entry)) == entry)
        }
    }

    @Test("parse rejects other versions, kinds, non-canonical and out-of-range numbers", arguments: [
        "v2/gradient/1/2", "v1/gradient/01/2", "v1/gradient/1/02", "v1/gradient/1/65536",
        "v1/gradient/18446744073709551616/1", "v1/gradient/1", "v1/gradient/1/2/3", "v1/gradient/x/2",
        "v1/checkpoint/00", "v1/peers", "v1/start-window/1", "v1/unknown/1", "gradient/1/2", "v10/gradient/1/2",
    ])
    func parseRejects(_ text: String) throws {
        #expect(ObjectKeyLayout.current.parse(try ObjectKey(text)) == nil)
    }

    @Test("a window's prefix lists exactly that window's updates (12 is not under 1)")
    func windowPrefixIsExact() async throws {
        let storage = InMemoryStorage()
        let layout = ObjectKeyLayout.current
        for window: Window in [1, 12, 123] {
            for uid: UID in [0, 1, 10] { _ = try await storage.put(layout.gradient(window: window, uid: uid), [1]) }
        }
        let listed = try await storage.list(prefix: layout.gradientPrefix(window: 1))
        #expect(listed.map(\.key.rawValue) == ["v1/gradient/1/0", "v1/gradient/1/1", "v1/gradient/1/10"])
        #expect(listed.compactMap { layout.parse($0.key) } == [
            .gradient(window: 1, uid: 0), .gradient(window: 1, uid: 1), .gradient(window: 1, uid: 10),
        ])
    }
}
