#if canImport(Glibc)
import Glibc
#endif

/// Hints to the operating system about large buffers.
enum MemoryAdvice {
    /// Buffers at least this large are worth backing with huge pages.
    static let hugePageThreshold = 8 << 20

    /// Asks Linux to back the page-aligned interior of a fresh, untouched buffer with
    /// transparent huge pages (2 MiB), so filling it costs a few dozen page faults instead of
    /// thousands. A no-op elsewhere, for small buffers, or when the kernel declines.
    static func preferHugePages(_ base: UnsafeMutableRawPointer, byteCount: Int) {
        #if os(Linux)
        guard byteCount >= hugePageThreshold else { return }
        let page = 2 << 20
        let start = (Int(bitPattern: base) + page - 1) & ~(page - 1)
        let end = (Int(bitPattern: base) + byteCount) & ~(page - 1)
        guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(pointer, end - start, MADV_HUGEPAGE)
        #endif
    }
}
