import Dispatch
import Synchronization
import Testing
@testable import TesseraCore

/// ParallelLoop on its worker pool: every index exactly once, results in range order, loops back
/// to back with no lost or repeated parts, nested loops and loops from several threads at once
/// (which fall back to Dispatch), and the pool's threads sleeping and waking between loops.
@Suite("Parallel loops on the worker pool")
struct WorkerPoolTests {
    @Test("every index exactly once, for counts around the thread count, 20,000 loops back to back")
    func everyIndexOnce() {
        let counts = [1, 2, 3, 5, 17, 64, 1_000]
        for round in 0..<20_000 {
            let count = counts[round % counts.count]
            let hits = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: count)
            for i in 0..<count { (hits + i).initialize(to: Atomic(0)) }
            nonisolated(unsafe) let shared = hits
            ParallelLoop.forEachRange(count: count, minimumChunk: 1) { range in
                for i in range { shared[i].add(1, ordering: .relaxed) }
            }
            var wrong = 0
            for i in 0..<count where hits[i].load(ordering: .relaxed) != 1 { wrong += 1 }
            hits.deinitialize(count: count)
            hits.deallocate()
            if wrong != 0 {
                Issue.record("round \(round), count \(count): \(wrong) indices not hit exactly once")
                return
            }
        }
    }

    @Test("mapRanges returns the ranges' results in order")
    func mapRangesInOrder() {
        for count in [1, 2, 9, 1_000, 65_537] {
            let sums = ParallelLoop.mapRanges(count: count, minimumChunk: 1) { range in range.reduce(0, +) }
            #expect(sums.reduce(0, +) == count * (count - 1) / 2)
            let firsts = ParallelLoop.mapRanges(count: count, minimumChunk: 1) { $0.lowerBound }
            #expect(firsts == firsts.sorted(), "count \(count)")
        }
    }

    @Test("a loop inside a loop, and loops from four threads at once, all complete")
    func nestedAndConcurrent() {
        let total = Atomic<Int>(0)
        ParallelLoop.forEach(count: 8) { _ in
            ParallelLoop.forEach(count: 8) { _ in total.add(1, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 64)
        let concurrent = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<500 {
                ParallelLoop.forEachRange(count: 100, minimumChunk: 1) { range in concurrent.add(range.count, ordering: .relaxed) }
            }
        }
        #expect(concurrent.load(ordering: .relaxed) == 4 * 500 * 100)
    }

    @Test("workers that went to sleep wake for the next loop")
    func sleepAndWake() async throws {
        for _ in 0..<5 {
            let hits = Atomic<Int>(0)
            ParallelLoop.forEachRange(count: 64, minimumChunk: 1) { range in hits.add(range.count, ordering: .relaxed) }
            #expect(hits.load(ordering: .relaxed) == 64)
            try await Task.sleep(for: .milliseconds(20))  // far longer than the spin
        }
    }
}
