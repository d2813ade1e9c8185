import Dispatch
import Synchronization

/// Splits large loops across cores: on Tessera's own worker threads (``WorkerPool``), or with
/// `DispatchQueue.concurrentPerform` when those are busy with another loop.
///
/// The width is process-wide (``maximumThreads``), so a benchmark can pin it to the same thread
/// count as a peer. Work is split into contiguous ranges whose boundaries depend only on the
/// count and the width, never on timing.
public enum ParallelLoop {
    private static let width = Atomic<Int>(0)

    /// The most threads a loop uses; defaults to the number of active processors.
    public static var maximumThreads: Int {
        get {
            let value = width.load(ordering: .relaxed)
            return value > 0 ? value : ProcessInfoLite.activeProcessorCount
        }
        set { width.store(max(1, newValue), ordering: .relaxed) }
    }

    /// Calls `body` on disjoint contiguous ranges covering `0..<count`, in parallel when
    /// `count` is at least twice `minimumChunk`.
    /// - Parameters:
    ///   - count: Number of iterations.
    ///   - minimumChunk: The smallest range worth handing to a thread.
    ///   - body: Called once per range; must be safe to run concurrently on disjoint ranges.
    public static func forEachRange(count: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let threads = min(maximumThreads, max(1, count / max(1, minimumChunk)))
        if threads <= 1 {
            body(0..<count)
            return
        }
        let chunk = (count + threads - 1) / threads
        withoutActuallyEscaping(body) { body in
            // The contract above makes `body` safe to call concurrently on disjoint ranges, and
            // `concurrentPerform` returns before `body` goes out of scope.
            nonisolated(unsafe) let body = body
            let part: @Sendable (Int) -> Void = { part in
                let start = part * chunk
                let end = min(count, start + chunk)
                if start < end { body(start..<end) }
            }
            if !WorkerPool.shared.run(parts: threads, part) {
                DispatchQueue.concurrentPerform(iterations: threads, execute: part)
            }
        }
    }

    /// Like ``forEachRange(count:minimumChunk:_:)``, collecting each range's result: the
    /// results come back in range order, so a reduction over them is deterministic for a given
    /// count and width.
    public static func mapRanges<T>(count: Int, minimumChunk: Int, _ body: (Range<Int>) -> T) -> [T] {
        guard count > 0 else { return [] }
        let threads = min(maximumThreads, max(1, count / max(1, minimumChunk)))
        if threads <= 1 { return [body(0..<count)] }
        let chunk = (count + threads - 1) / threads
        let parts = (count + chunk - 1) / chunk
        let results = UnsafeMutablePointer<T>.allocate(capacity: parts)
        defer {
            results.deinitialize(count: parts)
            results.deallocate()
        }
        withoutActuallyEscaping(body) { body in
            // As in forEachRange; each part initializes its own slot.
            nonisolated(unsafe) let body = body
            nonisolated(unsafe) let results = results
            let run: @Sendable (Int) -> Void = { part in
                let start = part * chunk
                (results + part).initialize(to: body(start..<min(count, start + chunk)))
            }
            if !WorkerPool.shared.run(parts: parts, run) {
                DispatchQueue.concurrentPerform(iterations: parts, execute: run)
            }
        }
        return Array(UnsafeBufferPointer(start: results, count: parts))
    }

    /// Calls `body(i)` for every `i` in `0..<count`, spreading indices across threads in
    /// contiguous blocks. Use for loops whose iterations are each substantial (rows, heads).
    public static func forEach(count: Int, minimumChunk: Int = 1, _ body: (Int) -> Void) {
        forEachRange(count: count, minimumChunk: minimumChunk) { range in
            for i in range { body(i) }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ProcessInfoLite {
    static let activeProcessorCount: Int = {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
    }()
}
