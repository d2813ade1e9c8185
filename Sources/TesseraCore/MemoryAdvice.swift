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

/// Process-wide memory allocation policy for programs that allocate and free many model-sized
/// buffers (a validator decoding and aggregating every window, a miner's per-window deltas).
public enum MemoryPolicy {
    /// Keeps freed large buffers in the process for reuse instead of returning them to the
    /// kernel, so the next model-sized allocation reuses pages that are already mapped.
    ///
    /// By default glibc serves every allocation above 32 MiB with a fresh `mmap` and unmaps it
    /// on free; the kernel then zeroes every page again on first touch, which on a virtual
    /// machine costs 30–40 ms per 64 MiB — more than the work done on the buffer. This raises
    /// glibc's mmap and trim thresholds to `limit` and serves all threads from one arena (a
    /// secondary arena cannot hold a buffer larger than 64 MiB, so it would fall back to
    /// `mmap`). Memory the process has freed stays mapped: its resident size stays at its peak.
    ///
    /// Call it once, first thing in `main`, from an executable — never from library code: it
    /// changes the allocator for the whole process, and a thread that has already allocated
    /// keeps its own arena. The `tessera` command-line tool calls it at start-up.
    /// A no-op (returning `false`) where the C library is not glibc.
    /// - Parameter limit: Allocations up to this many bytes are recycled (at most 1 GiB).
    /// - Returns: Whether the allocator accepted every setting.
    @discardableResult
    public static func recycleLargeAllocations(upTo limit: Int = 1 << 30) -> Bool {
        #if os(Linux) && canImport(Glibc)
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        let bytes = Int32(clamping: min(max(limit, 1 << 20), 1 << 30))
        // glibc's option numbers (malloc.h): M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3, M_ARENA_MAX -8.
        let trim = mallopt(-1, bytes)
        let mmap = mallopt(-3, bytes)
        let arenas = mallopt(-8, 1)
        return trim == 1 && mmap == 1 && arenas == 1
        #else
        return false
        #endif
    }
}
