import Testing
@testable import TesseraCore

/// Every instruction-set path of the vector kernels against plain Swift references, bit for bit:
/// the paths may differ in speed only. Levels the CPU lacks are capped to the best it has (the
/// test name says which level actually ran).
@Suite("Vector kernels")
struct VectorKernelsTests {
    static let levels = VectorKernels.Level.allCases

    /// Normals with NaN, ±infinity, ±0 and repeated magnitudes sprinkled in.
    static func awkwardValues(count: Int, seed: UInt64) -> [Float] {
        var generator = Xoshiro256StarStar(seed: seed)
        var values = generator.normalFloats(count: count, standardDeviation: 1)
        for i in values.indices {
            switch generator.next() % 23 {
            case 0: values[i] = .nan
            case 1: values[i] = generator.next() & 1 == 0 ? .infinity : -.infinity
            case 2: values[i] = generator.next() & 1 == 0 ? 0 : -0.0
            case 3, 4: values[i] = generator.next() & 1 == 0 ? 1.5 : -1.5
            default: break
            }
        }
        return values
    }

    static func magnitudeBits(_ v: Float) -> UInt32 { v.bitPattern & 0x7FFF_FFFF }

    /// Same bits, or both NaN (a NaN's payload may depend on operand order when two meet).
    static func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    @Test("largest magnitude bits, any length and alignment", arguments: levels)
    func largestMagnitude(level: VectorKernels.Level) {
        VectorKernels.withThreadLevel(level) { _ in
            for count in [0, 1, 7, 15, 16, 17, 63, 64, 65, 200, 1_001] {
                for offset in 0..<3 {
                    let values = Self.awkwardValues(count: count + offset, seed: UInt64(count * 7 + offset))
                    let expected = values[offset...].map(Self.magnitudeBits).max() ?? 0
                    let actual = values.withUnsafeBufferPointer { VectorKernels.maximumMagnitudeBits($0.baseAddress! + offset, count: count) }
                    #expect(actual == expected, "count \(count) offset \(offset)")
                }
            }
            // Finite input stays below the infinity pattern; one infinity anywhere reaches it.
            var finite = [Float](repeating: -3.25, count: 100)
            #expect(finite.withUnsafeBufferPointer { VectorKernels.maximumMagnitudeBits($0.baseAddress!, count: 100) } == Float(3.25).bitPattern)
            finite[97] = -.infinity
            #expect(finite.withUnsafeBufferPointer { VectorKernels.maximumMagnitudeBits($0.baseAddress!, count: 100) } >= 0x7F80_0000)
        }
    }

    @Test("fold and gather a row: the fold's bits, every candidate in order, nothing else", arguments: levels)
    func foldAndGather(level: VectorKernels.Level) {
        VectorKernels.withThreadLevel(level) { _ in
            for (segments, length) in [(1, 1), (3, 7), (2, 16), (4, 17), (5, 64), (2, 100)] {
                for folding in [false, true] {
                    let n = segments * length
                    let row = Self.awkwardValues(count: n, seed: UInt64(n * 3 + (folding ? 1 : 0)))
                    let delta = Self.awkwardValues(count: n, seed: UInt64(n * 5 + 99))
                    let decay: Float = 0.95
                    var generator = Xoshiro256StarStar(seed: UInt64(n))
                    // Floors: none (0), everything (1), a typical one, and above every finite value.
                    let floors: [UInt32] = (0..<segments).map { s in [0, 1, Float(0.8).bitPattern, 0x7F80_0000][(s + Int(generator.next() % 4)) % 4] }
                    let localBase = 128
                    let stride = length + 40
                    let prior = [Int]((0..<segments).map { $0 % 3 })  // lists that already hold entries
                    // Reference.
                    var expectedRow = row
                    if folding { for i in 0..<n { expectedRow[i] = decay * row[i] + delta[i] } }
                    var expectedLists: [[(UInt16, Float)]] = []
                    for s in 0..<segments {
                        var list: [(UInt16, Float)] = []
                        if floors[s] != 0 {
                            for i in 0..<length where Self.magnitudeBits(expectedRow[s * length + i]) >= floors[s] {
                                list.append((UInt16(localBase + i), expectedRow[s * length + i]))
                            }
                        }
                        expectedLists.append(list)
                    }
                    // Kernel.
                    var actualRow = row
                    var candidates = [UInt16](repeating: 0xBEEF, count: stride * segments)
                    var values = [Float](repeating: 42, count: stride * segments)
                    var counts = prior
                    actualRow.withUnsafeMutableBufferPointer { r in
                        delta.withUnsafeBufferPointer { d in
                            floors.withUnsafeBufferPointer { f in
                                VectorKernels.foldAndGatherRow(
                                    r.baseAddress!, fold: folding ? (d.baseAddress!, decay) : nil, segments: segments, segmentLength: length,
                                    floors: f.baseAddress!, localBase: localBase, candidates: &candidates, values: &values, stride: stride, counts: &counts)
                            }
                        }
                    }
                    let label = "\(segments)×\(length) fold \(folding)"
                    #expect(zip(actualRow, expectedRow).allSatisfy { Self.same($0, $1) }, "\(label): row")
                    for s in 0..<segments {
                        #expect(counts[s] == prior[s] + expectedLists[s].count, "\(label): count of segment \(s)")
                        guard counts[s] == prior[s] + expectedLists[s].count else { continue }
                        for (e, (index, value)) in expectedLists[s].enumerated() {
                            #expect(candidates[s * stride + prior[s] + e] == index && Self.same(values[s * stride + prior[s] + e], value),
                                    "\(label): segment \(s) entry \(e)")
                        }
                        // Entries already in the list are untouched.
                        for e in 0..<prior[s] { #expect(candidates[s * stride + e] == 0xBEEF, "\(label): segment \(s) prior entry \(e)") }
                    }
                }
            }
        }
    }

    /// The k largest keys (bits(|v|) << 32 | ~index), ascending by index.
    static func referenceTopK(_ indices: [UInt16], _ values: [Float], k: Int) -> (indices: [UInt16], bits: [UInt32], kth: UInt32) {
        let keys = zip(indices, values).map { (UInt64(magnitudeBits($1)) << 32) | UInt64(UInt32.max - UInt32($0)) }
        let threshold = keys.sorted(by: >)[k - 1]
        let chosen = indices.indices.filter { keys[$0] >= threshold }
        return (chosen.map { indices[$0] }, chosen.map { values[$0].bitPattern }, UInt32(threshold >> 32))
    }

    @Test("top k of candidates equals ranking the 64-bit keys, ties to the lower index", arguments: levels)
    func topK(level: VectorKernels.Level) {
        VectorKernels.withThreadLevel(level) { _ in
            var generator = Xoshiro256StarStar(seed: 5)
            for trial in 0..<300 {
                let m = 1 + Int(generator.next() % 300)
                let k = 1 + Int(generator.next() % UInt64(m))
                // Ascending, distinct local indices; values with many exact magnitude ties.
                var pool = Array(0..<4096).map(UInt16.init)
                for i in 0..<m { pool.swapAt(i, i + Int(generator.next() % UInt64(4096 - i))) }
                let indices = pool[0..<m].sorted()
                let values: [Float] = trial % 3 == 0
                    ? (0..<m).map { _ in [-2, 2, 1, -1, 0.5, 0][Int(generator.next() % 6)] }
                    : Self.awkwardValues(count: m, seed: UInt64(trial))
                let expected = Self.referenceTopK(indices, values, k: k)
                var selectedIndices = [UInt16](repeating: 0, count: k)
                var selectedValues = [Float](repeating: 0, count: k)
                let kth = VectorKernels.selectTopK(indices: indices, values: values, count: m, k: k,
                                                    selectedIndices: &selectedIndices, selectedValues: &selectedValues)
                #expect(selectedIndices == expected.indices, "trial \(trial): m \(m) k \(k) indices")
                #expect(selectedValues.map(\.bitPattern) == expected.bits, "trial \(trial): values")
                #expect(kth == expected.kth, "trial \(trial): k-th magnitude")
            }
        }
    }

    @Test("compose a band: every element written once, values in place, the last of a repeat wins",
          arguments: levels, [false, true])
    func composeBand(level: VectorKernels.Level, streaming: Bool) {
        VectorKernels.withThreadLevel(level) { _ in
            var generator = Xoshiro256StarStar(seed: 8)
            for (rows, width, segments, k, padding) in [(1, 1, 1, 1, 0), (3, 5, 4, 6, 3), (8, 16, 3, 20, 0), (64, 64, 5, 64, 16), (4, 17, 7, 68, 1)] {
                for offset in 0..<3 {
                    let stride = width * segments + padding
                    let chunkSize = rows * width
                    // Any order, repeats allowed.
                    let indices = (0..<segments * k).map { _ in UInt16(generator.next() % UInt64(chunkSize)) }
                    let values = (0..<segments * k).map { _ in Float(generator.next() % 1_000) - 500 }
                    var expected = [Float](repeating: -7, count: offset + rows * stride)
                    for r in 0..<rows { for c in 0..<width * segments { expected[offset + r * stride + c] = 0 } }
                    for s in 0..<segments {
                        for j in (s * k)..<(s * k + k) {
                            let local = Int(indices[j])
                            expected[offset + (local / width) * stride + s * width + local % width] = values[j]
                        }
                    }
                    var actual = [Float](repeating: -7, count: offset + rows * stride)
                    let ok = actual.withUnsafeMutableBufferPointer { out in
                        VectorKernels.composeBand(out.baseAddress! + offset, rowStride: stride, rows: rows, segmentLength: width, segments: segments,
                                                  indices: indices, values: values, k: k, streaming: streaming)
                    }
                    VectorKernels.storeFence()
                    #expect(ok)
                    #expect(actual.map(\.bitPattern) == expected.map(\.bitPattern), "\(rows)×\(width)×\(segments) k \(k) offset \(offset)")
                }
            }
            // An index past its chunk (just past, or as far as an index goes) is refused, and
            // nothing is written.
            for bad: UInt16 in [4, 5, .max] {
                var out = [Float](repeating: 9, count: 8)
                let refused = out.withUnsafeMutableBufferPointer { o in
                    VectorKernels.composeBand(o.baseAddress!, rowStride: 4, rows: 2, segmentLength: 2, segments: 2,
                                              indices: [0, bad, 1, 2], values: [1, 2, 3, 4], k: 2, streaming: streaming)
                }
                #expect(!refused, "index \(bad)")
                #expect(out == [Float](repeating: 9, count: 8), "index \(bad)")
            }
        }
    }

    @Test("non-temporal copy: exact for every alignment and length", arguments: levels)
    func streamCopy(level: VectorKernels.Level) {
        VectorKernels.withThreadLevel(level) { _ in
            let source = Self.awkwardValues(count: 300, seed: 3)
            for count in [0, 1, 3, 16, 17, 64, 255] {
                for offset in 0..<5 {
                    var destination = [Float](repeating: 1, count: 310)
                    destination.withUnsafeMutableBufferPointer { d in
                        source.withUnsafeBufferPointer { s in VectorKernels.streamCopy(d.baseAddress! + offset, from: s.baseAddress! + 2, count: count) }
                    }
                    VectorKernels.storeFence()
                    #expect(Array(destination[offset..<(offset + count)]).map(\.bitPattern) == Array(source[2..<(2 + count)]).map(\.bitPattern),
                            "count \(count) offset \(offset)")
                    #expect(destination[..<offset].allSatisfy { $0 == 1 } && destination[(offset + count)...].allSatisfy { $0 == 1 })
                }
            }
        }
    }

    @Test("the level in use never exceeds what the CPU supports; a thread override is undone")
    func levelBounds() {
        let supported = VectorKernels.supportedLevel
        #expect(VectorKernels.levelInUse.rawValue <= supported.rawValue)
        VectorKernels.withThreadLevel(.avx512) { chosen in #expect(chosen == supported) }
        VectorKernels.withThreadLevel(.portable) { chosen in #expect(chosen == .portable) }
    }
}
