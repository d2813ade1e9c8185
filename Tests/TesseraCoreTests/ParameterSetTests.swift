import Foundation
import Synchronization
import Testing
import TesseraCore

/// Expects `body` to throw a ``CoreError`` with `code`, reporting failures at the caller's line.
private func expectCoreError<R>(
    _ code: CoreError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) {
    let error = #expect(throws: CoreError.self, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
}

/// A layout of several tensors whose total size (200 057) is large enough for the parallel path
/// of `axpy` and `scale` (chunks of 65 536) and not a multiple of 8 (the reduction's tail).
private func largeLayout() throws -> ParameterLayout {
    try ParameterLayout([
        ("embed", [300, 256]),
        ("bias", [3]),
        ("scalar", []),
        ("empty", [0, 4]),
        ("weight", [499, 247]),
    ])
}

/// A set of normal values with the given layout, from a seeded generator.
private func randomSet(_ layout: ParameterLayout, seed: UInt64) throws -> ParameterSet {
    var generator = Xoshiro256StarStar(seed: seed)
    return try ParameterSet(
        layout: layout, scalars: generator.normalFloats(count: layout.scalarCount, standardDeviation: 1))
}

@Suite("ParameterLayout")
struct ParameterLayoutTests {
    @Test("Tensors are packed back to back in the order given")
    func offsets() throws {
        let layout = try ParameterLayout([("a", [2, 3]), ("b", []), ("c", [4]), ("d", [0, 5]), ("e", [1, 1, 2])])
        #expect(layout.names == ["a", "b", "c", "d", "e"])
        #expect(layout.descriptors.map(\.offset) == [0, 6, 7, 11, 11])
        #expect(layout.descriptors.map(\.count) == [6, 1, 4, 0, 2])
        #expect(layout.scalarCount == 13)
        #expect(layout["c"]?.range == 7..<11)
        #expect(layout["c"]?.shape == [4])
        #expect(layout["e"]?.range == 11..<13)
        #expect(layout["missing"] == nil)
    }

    @Test("An empty layout has no tensors and no scalars")
    func empty() throws {
        let layout = try ParameterLayout([])
        #expect(layout.descriptors.isEmpty)
        #expect(layout.scalarCount == 0)
    }

    @Test("A repeated name throws .duplicateName")
    func duplicateName() {
        expectCoreError(.duplicateName) { try ParameterLayout([("w", [2]), ("b", [1]), ("w", [3])]) }
    }

    @Test(
        "A negative or overflowing shape throws .invalidArgument",
        arguments: [[-1], [3, -2], [Int.max, 2], [1 << 32, 1 << 32]])
    func invalidShape(shape: [Int]) {
        expectCoreError(.invalidArgument) { try ParameterLayout([("ok", [2]), ("bad", shape)]) }
    }

    @Test("A total size beyond Int.max throws .invalidArgument")
    func totalOverflow() {
        expectCoreError(.invalidArgument) { try ParameterLayout([("a", [Int.max]), ("b", [1])]) }
    }

    @Test("Equality depends on names, shapes and order")
    func equality() throws {
        let a = try ParameterLayout([("x", [2]), ("y", [3])])
        #expect(a == (try ParameterLayout([("x", [2]), ("y", [3])])))
        #expect(a.hashValue == (try ParameterLayout([("x", [2]), ("y", [3])])).hashValue)
        #expect(a != (try ParameterLayout([("y", [3]), ("x", [2])])))
        #expect(a != (try ParameterLayout([("x", [2]), ("y", [3, 1])])))
        #expect(a != (try ParameterLayout([("x", [2]), ("z", [3])])))
    }

    @Test("JSON round trip keeps names, shapes, offsets and lookup")
    func codableRoundTrip() throws {
        let layout = try ParameterLayout([("a", [2, 3]), ("b", []), ("c", [4, 0]), ("d", [5])])
        let decoded = try JSONDecoder().decode(ParameterLayout.self, from: try JSONEncoder().encode(layout))
        #expect(decoded == layout)
        #expect(decoded.descriptors == layout.descriptors)
        #expect(decoded.scalarCount == 12)
        #expect(decoded["d"]?.range == 7..<12)
    }

    @Test("Decoding checks the entries like the initializer does")
    func decodingValidates() {
        let duplicate = #"{"tensors":[{"name":"a","shape":[1]},{"name":"a","shape":[2]}]}"#
        let negative = #"{"tensors":[{"name":"a","shape":[-1]}]}"#
        expectCoreError(.duplicateName) { try JSONDecoder().decode(ParameterLayout.self, from: Data(duplicate.utf8)) }
        expectCoreError(.invalidArgument) { try JSONDecoder().decode(ParameterLayout.self, from: Data(negative.utf8)) }
    }
}

@Suite("ParameterSet")
struct ParameterSetTests {
    /// `a: [2, 2]`, `b: [3]`, `c: []`, scalars 1…8.
    static func small() throws -> ParameterSet {
        try ParameterSet([
            ("a", [2, 2], [1, 2, 3, 4]),
            ("b", [3], [5, 6, 7]),
            ("c", [], [8]),
        ])
    }

    @Test("init(layout:scalars:) with the wrong count throws .shapeMismatch", arguments: [0, 7, 9])
    func initScalarCountMismatch(count: Int) throws {
        let layout = try Self.small().layout
        expectCoreError(.shapeMismatch) {
            try ParameterSet(layout: layout, scalars: [Float](repeating: 1, count: count))
        }
    }

    @Test("init from named tensors checks every tensor's count and the names")
    func initFromTensorsErrors() {
        expectCoreError(.shapeMismatch) { try ParameterSet([("a", [2, 2], [1, 2, 3]), ("b", [1], [4])]) }
        expectCoreError(.shapeMismatch) { try ParameterSet([("a", [1], [1]), ("b", [2], [1, 2, 3])]) }
        expectCoreError(.duplicateName) { try ParameterSet([("a", [1], [1]), ("a", [1], [2])]) }
        expectCoreError(.invalidArgument) { try ParameterSet([("a", [-1], [])]) }
    }

    @Test("init(zerosLike:) is all zeros with the given layout")
    func zeros() throws {
        let layout = try largeLayout()
        let zeros = ParameterSet(zerosLike: layout)
        #expect(zeros.layout == layout)
        #expect(zeros.scalarCount == 200_057)
        #expect(zeros.count == 5)
        #expect(zeros.scalars.allSatisfy { $0 == 0 })
        #expect(zeros.norm() == 0)
    }

    @Test("The subscript returns each tensor's scalars, or nil for an unknown name")
    func subscriptByName() throws {
        let set = try Self.small()
        #expect(set.scalars == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(set["a"] == [1, 2, 3, 4])
        #expect(set["b"] == [5, 6, 7])
        #expect(set["c"] == [8])
        #expect(set["d"] == nil)
    }

    @Test("setTensor replaces one tensor and nothing else")
    func setTensor() throws {
        var set = try Self.small()
        let copy = set
        try set.setTensor(named: "b", to: [-5, -6, -7])
        #expect(set.scalars == [1, 2, 3, 4, -5, -6, -7, 8])
        #expect(copy.scalars == [1, 2, 3, 4, 5, 6, 7, 8], "copies are values")
    }

    @Test("setTensor throws .unknownName or .shapeMismatch and leaves the set unchanged")
    func setTensorErrors() throws {
        var set = try Self.small()
        expectCoreError(.unknownName) { try set.setTensor(named: "z", to: [1]) }
        expectCoreError(.shapeMismatch) { try set.setTensor(named: "b", to: [1, 2]) }
        expectCoreError(.shapeMismatch) { try set.setTensor(named: "c", to: []) }
        #expect(set == (try Self.small()))
    }

    @Test("withTensor reads one tensor with its descriptor")
    func withTensor() throws {
        let set = try Self.small()
        let (values, offset) = try set.withTensor(named: "b") { buffer, descriptor in
            (Array(buffer), descriptor.offset)
        }
        #expect(values == [5, 6, 7])
        #expect(offset == 4)
        expectCoreError(.unknownName) { try set.withTensor(named: "nope") { buffer, _ in buffer.count } }
    }

    @Test("withMutableTensor writes exactly one tensor's range, copy-on-write")
    func withMutableTensor() throws {
        var set = try Self.small()
        let copy = set
        let count = try set.withMutableTensor(named: "a") { buffer, descriptor in
            #expect(descriptor.name == "a")
            #expect(descriptor.shape == [2, 2])
            for i in buffer.indices { buffer[i] *= 10 }
            return buffer.count
        }
        #expect(count == 4)
        #expect(set.scalars == [10, 20, 30, 40, 5, 6, 7, 8])
        #expect(copy.scalars == [1, 2, 3, 4, 5, 6, 7, 8])
        expectCoreError(.unknownName) { try set.withMutableTensor(named: "nope") { buffer, _ in buffer.count } }
    }

    @Test("withMutableTensor passes on the body's error")
    func withMutableTensorRethrows() throws {
        struct Stop: Error {}
        var set = try Self.small()
        #expect(throws: Stop.self) { try set.withMutableTensor(named: "b") { _, _ in throw Stop() } }
    }

    @Test("axpy equals a Double reference loop to 2⁻²² · (|y| + |αx|)", arguments: [Float(0.5), -3, 0])
    func axpy(alpha: Float) throws {
        let layout = try largeLayout()
        var y = try randomSet(layout, seed: 1)
        let x = try randomSet(layout, seed: 2)
        let original = y.scalars
        try y.axpy(alpha, x)
        var worst = 0.0
        for i in 0..<layout.scalarCount {
            let exact = Double(original[i]) + Double(alpha) * Double(x.scalars[i])
            let bound = 0x1.0p-22 * (abs(Double(original[i])) + abs(Double(alpha) * Double(x.scalars[i])))
            worst = max(worst, abs(Double(y.scalars[i]) - exact) - bound)
        }
        #expect(worst <= 0)
        #expect(y.layout == layout)
    }

    @Test("axpy of a set with itself doubles it")
    func axpySelf() throws {
        var set = try Self.small()
        try set.axpy(1, set)
        #expect(set.scalars == [2, 4, 6, 8, 10, 12, 14, 16])
    }

    @Test("scale equals a Double reference loop to 2⁻²³ · |αy|", arguments: [Float(2), -0.3, 0])
    func scale(alpha: Float) throws {
        let layout = try largeLayout()
        var y = try randomSet(layout, seed: 3)
        let original = y.scalars
        y.scale(by: alpha)
        var worst = 0.0
        for i in 0..<layout.scalarCount {
            let exact = Double(alpha) * Double(original[i])
            worst = max(worst, abs(Double(y.scalars[i]) - exact) - 0x1.0p-23 * abs(exact))
        }
        #expect(worst <= 0)
    }

    @Test("dot, squaredNorm and norm equal Double reference loops to 1e-12 relative")
    func reductions() throws {
        let layout = try largeLayout()
        let a = try randomSet(layout, seed: 4)
        let b = try randomSet(layout, seed: 5)
        var dot = 0.0, absoluteDot = 0.0, squares = 0.0
        for i in 0..<layout.scalarCount {
            let product = Double(a.scalars[i]) * Double(b.scalars[i])
            dot += product
            absoluteDot += abs(product)
            squares += Double(a.scalars[i]) * Double(a.scalars[i])
        }
        // Relative to Σ|aᵢbᵢ|, the scale of the rounding errors of any order of summation.
        #expect(abs(try a.dot(b) - dot) <= 1e-12 * absoluteDot)
        #expect(abs(try b.dot(a) - dot) <= 1e-12 * absoluteDot)
        #expect(abs(a.squaredNorm() - squares) <= 1e-12 * squares)
        #expect(abs(a.norm() - squares.squareRoot()) <= 1e-12 * squares.squareRoot())
        #expect(try a.dot(a) == a.squaredNorm())
    }

    @Test("Reductions on a small set are exact")
    func smallReductions() throws {
        let set = try Self.small()
        #expect(set.squaredNorm() == 204)
        #expect(try set.dot(set) == 204)
        #expect(set.norm() == Double(204).squareRoot())
    }

    @Test("axpy and dot with a different layout throw .layoutMismatch and change nothing")
    func layoutMismatch() throws {
        var set = try Self.small()
        let renamed = try ParameterSet([("a", [2, 2], [1, 2, 3, 4]), ("b", [3], [5, 6, 7]), ("d", [], [8])])
        let reshaped = try ParameterSet([("a", [4], [1, 2, 3, 4]), ("b", [3], [5, 6, 7]), ("c", [], [8])])
        let shorter = try ParameterSet([("a", [2, 2], [1, 2, 3, 4]), ("b", [3], [5, 6, 7])])
        for other in [renamed, reshaped, shorter] {
            expectCoreError(.layoutMismatch) { try set.axpy(1, other) }
            expectCoreError(.layoutMismatch) { try set.dot(other) }
        }
        #expect(set == (try Self.small()))
    }

    @Test("isFinite detects NaN and infinity")
    func isFinite() throws {
        var set = try Self.small()
        #expect(set.isFinite)
        try set.setTensor(named: "c", to: [.nan])
        #expect(!set.isFinite)
        try set.setTensor(named: "c", to: [-.infinity])
        #expect(!set.isFinite)
    }

    @Test("Operations on an empty set do nothing")
    func emptySet() throws {
        var set = ParameterSet(zerosLike: try ParameterLayout([("nothing", [0])]))
        try set.axpy(2, set)
        set.scale(by: 3)
        #expect(set.scalars.isEmpty)
        #expect(try set.dot(set) == 0)
        #expect(set.norm() == 0)
    }
}

@Suite("DeterministicSum")
struct DeterministicSumTests {
    static let counts = [0, 1, 7, 8, 9, 15, 16, 17, 1000, 100_003]

    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var generator = Xoshiro256StarStar(seed: seed)
        return generator.normalFloats(count: count, mean: 0.25, standardDeviation: 1)
    }

    /// The documented order: eight interleaved lanes (lane k sums elements ≡ k mod 8 of the
    /// leading multiple of 8, in order), lanes k and k + 4 added, then k and k + 2, then 0 and 1,
    /// then the tail summed in order and added last.
    static func fixedOrderReference(_ a: [Float], _ b: [Float]) -> Double {
        let n = min(a.count, b.count), full = n - n % 8
        var lanes = [Double](repeating: 0, count: 8)
        for i in 0..<full { lanes[i % 8] += Double(a[i]) * Double(b[i]) }
        var tail = 0.0
        for i in full..<n { tail += Double(a[i]) * Double(b[i]) }
        let s4 = (0..<4).map { lanes[$0] + lanes[$0 + 4] }
        let s2 = (0..<2).map { s4[$0] + s4[$0 + 2] }
        return (s2[0] + s2[1]) + tail
    }

    @Test("dot matches a Double reference loop to 1e-12 relative", arguments: counts)
    func dotMatchesReference(count: Int) {
        let a = Self.values(count, seed: 11), b = Self.values(count, seed: 12)
        var reference = 0.0, magnitude = 0.0
        for i in 0..<count {
            reference += Double(a[i]) * Double(b[i])
            magnitude += abs(Double(a[i]) * Double(b[i]))
        }
        let dot = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in DeterministicSum.dot(pa, pb) } }
        #expect(abs(dot - reference) <= 1e-12 * magnitude)
    }

    @Test("sum matches a Double reference loop to 1e-12 relative", arguments: counts)
    func sumMatchesReference(count: Int) {
        let a = Self.values(count, seed: 13)
        var reference = 0.0, magnitude = 0.0
        for value in a {
            reference += Double(value)
            magnitude += abs(Double(value))
        }
        let sum = a.withUnsafeBufferPointer { DeterministicSum.sum($0) }
        #expect(abs(sum - reference) <= 1e-12 * magnitude)
    }

    @Test("dot and sum give identical bits on every call and for copies", arguments: counts)
    func repeatable(count: Int) {
        let a = Self.values(count, seed: 14), b = Self.values(count, seed: 15)
        let copyA = a.map { $0 }, copyB = b.map { $0 }
        func dot(_ x: [Float], _ y: [Float]) -> Double {
            x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in DeterministicSum.dot(px, py) } }
        }
        let first = dot(a, b)
        for _ in 0..<5 { #expect(dot(a, b).bitPattern == first.bitPattern) }
        #expect(dot(copyA, copyB).bitPattern == first.bitPattern)
        let sum = a.withUnsafeBufferPointer { DeterministicSum.sum($0) }
        #expect(copyA.withUnsafeBufferPointer { DeterministicSum.sum($0) }.bitPattern == sum.bitPattern)
    }

    @Test("dot and sum add in the documented fixed order, bit for bit", arguments: counts)
    func fixedOrder(count: Int) {
        let a = Self.values(count, seed: 16), b = Self.values(count, seed: 17)
        let ones = [Float](repeating: 1, count: count)
        let dot = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in DeterministicSum.dot(pa, pb) } }
        let sum = a.withUnsafeBufferPointer { DeterministicSum.sum($0) }
        #expect(dot.bitPattern == Self.fixedOrderReference(a, b).bitPattern)
        #expect(sum.bitPattern == Self.fixedOrderReference(a, ones).bitPattern)
    }

    @Test("dot of buffers of different lengths uses the shorter length")
    func differentLengths() {
        let a: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], b: [Float] = [1, 1, 1]
        let dot = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in DeterministicSum.dot(pa, pb) } }
        #expect(dot == 6)
    }
}

@Suite("TokenBatch")
struct TokenBatchTests {
    @Test("Targets are the inputs shifted by one position within each row")
    func inputsAndTargets() throws {
        let batch = try TokenBatch(batchSize: 2, sequenceLength: 3, tokens: [10, 11, 12, 13, 20, 21, 22, 23])
        #expect(batch.inputs == [10, 11, 12, 20, 21, 22])
        #expect(batch.targets == [11, 12, 13, 21, 22, 23])
        #expect(batch.maximumToken == 23)
        #expect(batch.batchSize == 2)
        #expect(batch.sequenceLength == 3)
    }

    @Test("A single row of two tokens gives one input and one target")
    func smallest() throws {
        let batch = try TokenBatch(batchSize: 1, sequenceLength: 1, tokens: [0, 7])
        #expect(batch.inputs == [0])
        #expect(batch.targets == [7])
    }

    @Test("The wrong number of tokens throws .shapeMismatch", arguments: [0, 7, 9, 6])
    func wrongCount(count: Int) {
        expectCoreError(.shapeMismatch) {
            try TokenBatch(batchSize: 2, sequenceLength: 3, tokens: [Int32](repeating: 1, count: count))
        }
    }

    @Test("Sizes whose product overflows throw .shapeMismatch instead of trapping")
    func overflowingSizes() {
        expectCoreError(.shapeMismatch) { try TokenBatch(batchSize: Int.max, sequenceLength: 2, tokens: [1, 2, 3]) }
        expectCoreError(.shapeMismatch) { try TokenBatch(batchSize: 1, sequenceLength: Int.max, tokens: [1, 2]) }
    }

    @Test("A negative token throws .invalidArgument")
    func negativeToken() {
        expectCoreError(.invalidArgument) { try TokenBatch(batchSize: 1, sequenceLength: 2, tokens: [0, -1, 2]) }
    }

    @Test(
        "A size that is not positive throws .invalidArgument",
        arguments: [(0, 3), (2, 0), (0, 0), (-1, 3), (2, -4)])
    func nonPositiveSizes(batchSize: Int, sequenceLength: Int) {
        expectCoreError(.invalidArgument) {
            try TokenBatch(batchSize: batchSize, sequenceLength: sequenceLength, tokens: [])
        }
    }
}

@Suite("ParallelLoop")
struct ParallelLoopTests {
    /// Records the ranges `forEachRange` hands out and checks that they tile `0..<count`.
    static func ranges(count: Int, minimumChunk: Int) -> [Range<Int>] {
        let seen = Mutex<[Range<Int>]>([])
        ParallelLoop.forEachRange(count: count, minimumChunk: minimumChunk) { range in
            seen.withLock { $0.append(range) }
        }
        return seen.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
    }

    @Test(
        "forEachRange covers every index exactly once",
        arguments: [0, 1, 7, 100_000], [0, 1, 3, 7, 1000, 1 << 16])
    func forEachRangeCoversEveryIndex(count: Int, minimumChunk: Int) {
        let ranges = Self.ranges(count: count, minimumChunk: minimumChunk)
        #expect(ranges.allSatisfy { !$0.isEmpty })
        var next = 0
        for range in ranges {
            #expect(range.lowerBound == next, "gap or overlap at \(next)")
            next = range.upperBound
        }
        #expect(next == count)
        if count < 2 * max(1, minimumChunk) {
            #expect(ranges.count <= 1, "a small loop stays on one thread")
        }
    }

    @Test(
        "forEach calls its body once for every index",
        arguments: [0, 1, 7, 100_000], [1, 7, 4096])
    func forEachCoversEveryIndex(count: Int, minimumChunk: Int) {
        let hits = Mutex<[Int]>([Int](repeating: 0, count: count))
        ParallelLoop.forEach(count: count, minimumChunk: minimumChunk) { index in
            hits.withLock { $0[index] += 1 }
        }
        let counts = hits.withLock { $0 }
        #expect(counts.count == count)
        #expect(counts.allSatisfy { $0 == 1 })
    }

    @Test("Writes through disjoint ranges reach every element", arguments: [7, 100_000])
    func disjointWrites(count: Int) {
        var values = [Int](repeating: -1, count: count)
        values.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            ParallelLoop.forEachRange(count: count, minimumChunk: 1) { range in
                for i in range { base[i] = i * 2 }
            }
        }
        #expect(values == (0..<count).map { $0 * 2 })
    }

    @Test("Range boundaries depend only on the count and the width")
    func boundaries() {
        let previous = ParallelLoop.maximumThreads
        defer { ParallelLoop.maximumThreads = previous }
        ParallelLoop.maximumThreads = 3
        #expect(ParallelLoop.maximumThreads == 3)
        #expect(Self.ranges(count: 100_000, minimumChunk: 1) == [0..<33_334, 33_334..<66_668, 66_668..<100_000])
        #expect(Self.ranges(count: 100_000, minimumChunk: 40_000) == [0..<50_000, 50_000..<100_000])
        ParallelLoop.maximumThreads = 0
        #expect(ParallelLoop.maximumThreads == 1, "the width is at least one")
        #expect(Self.ranges(count: 100_000, minimumChunk: 1) == [0..<100_000])
    }
}
