import Testing
import TesseraCore

@Suite struct MemoryPolicyTests {
    /// glibc accepts every setting (its effect — no page faults when a freed model-sized buffer
    /// is allocated again — only shows in a process that applies it before starting threads,
    /// like the `tessera` tool; `tessera bench codec` measures it). Elsewhere the call reports
    /// that it did nothing.
    @Test func glibcAcceptsTheSettings() {
        #if os(Linux) && canImport(Glibc)
        #expect(MemoryPolicy.recycleLargeAllocations())
        #expect(MemoryPolicy.recycleLargeAllocations(upTo: 256 << 20))
        #else
        #expect(!MemoryPolicy.recycleLargeAllocations())
        #endif
    }
}
