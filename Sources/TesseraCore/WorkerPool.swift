#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CTesseraKernels
import Synchronization

/// Persistent worker threads for ``ParallelLoop``: after a loop they poll (with the CPU's
/// spin-wait hint) for 50 µs before sleeping, so the next loop of a training step (which follows within
/// microseconds) starts without waking a thread. One loop runs on the pool at a time; a loop
/// started while it is busy (nested, or from another thread) returns `false` from ``run(parts:_:)``
/// and the caller uses `DispatchQueue.concurrentPerform` instead.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long a worker polls for the next loop before it sleeps, and how long a caller polls
    /// for the last parts before it yields its core between polls.
    private static let spinNanoseconds: UInt64 = 50_000

    /// Monotonic nanoseconds.
    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    private let busy = Atomic<Bool>(false)
    /// The loop's generation in the high 32 bits and the next unclaimed part in the low 32.
    private let ticket = Atomic<UInt64>(0)
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let workers = Atomic<Int>(0)
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    // The running loop; written by the caller before it publishes the ticket, read by workers
    // only after they claimed a part of that generation.
    nonisolated(unsafe) private var body: ((Int) -> Void)?
    private let parts = Atomic<Int>(0)
    nonisolated(unsafe) private var generation: UInt64 = 0

    private init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    /// Runs `body(0) … body(parts − 1)` on the calling thread and the workers, returning when all
    /// have finished; `false` (nothing run) when the pool is busy or cannot start its threads.
    func run(parts: Int, _ body: (Int) -> Void) -> Bool {
        guard parts > 1 else {
            if parts == 1 { body(0) }
            return true
        }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        guard ensureWorkers(parts - 1) else { return false }
        withoutActuallyEscaping(body) { body in
            self.body = body
            self.parts.store(parts, ordering: .relaxed)
            generation &+= 1
            let current = generation & 0xFFFF_FFFF
            finished.store(0, ordering: .relaxed)
            ticket.store(current << 32, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(condition)
                pthread_mutex_unlock(mutex)
            }
            while let part = claim(current) {
                body(part)
                finished.add(1, ordering: .releasing)
            }
            var spins = 0
            var deadline: UInt64 = 0
            while finished.load(ordering: .acquiring) < parts {
                tessera_spin_pause()
                spins += 1
                if spins & 63 == 0 {
                    let time = Self.now()
                    if deadline == 0 { deadline = time + Self.spinNanoseconds } else if time > deadline { sched_yield() }
                }
            }
            self.body = nil
        }
        return true
    }

    /// The next part of generation `current`, or nil when none is left or the loop is another's.
    private func claim(_ current: UInt64) -> Int? {
        var value = ticket.load(ordering: .acquiring)
        while true {
            guard value >> 32 == current, Int(value & 0xFFFF_FFFF) < parts.load(ordering: .relaxed) else { return nil }
            let (exchanged, original) = ticket.compareExchange(
                expected: value, desired: value + 1, ordering: .acquiringAndReleasing)
            if exchanged { return Int(value & 0xFFFF_FFFF) }
            value = original
        }
    }

    /// Starts workers until there are at least `count`.
    private func ensureWorkers(_ count: Int) -> Bool {
        while workers.load(ordering: .relaxed) < count {
            var thread = pthread_t()
            let context = Unmanaged.passUnretained(self).toOpaque()
            let result = pthread_create(&thread, nil, { context in
                Unmanaged<WorkerPool>.fromOpaque(context!).takeUnretainedValue().work()
                return nil
            }, context)
            guard result == 0 else { return workers.load(ordering: .relaxed) >= count }
            pthread_detach(thread)
            workers.add(1, ordering: .relaxed)
        }
        return true
    }

    /// A worker's life (it never returns): wait for a new generation (spinning, then sleeping),
    /// help run its parts.
    private func work() {
        var seen = ticket.load(ordering: .acquiring) >> 32
        while true {
            var value = ticket.load(ordering: .acquiring)
            var spins = 0
            var deadline: UInt64 = 0
            while value >> 32 == seen {
                tessera_spin_pause()
                spins += 1
                var sleep = false
                if spins & 63 == 0 {
                    let time = Self.now()
                    if deadline == 0 { deadline = time + Self.spinNanoseconds } else { sleep = time > deadline }
                }
                if sleep {
                    pthread_mutex_lock(mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    value = ticket.load(ordering: .sequentiallyConsistent)
                    while value >> 32 == seen {
                        pthread_cond_wait(condition, mutex)
                        value = ticket.load(ordering: .sequentiallyConsistent)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(mutex)
                    break
                }
                value = ticket.load(ordering: .acquiring)
            }
            seen = value >> 32
            while let part = claim(seen) {
                body?(part)
                finished.add(1, ordering: .releasing)
            }
        }
    }
}
