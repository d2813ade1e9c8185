import Foundation
import Testing
import TesseraCodec
import TesseraCore

/// Per-chunk top-k selection (through the public codec with fp32 values, so the transmitted
/// values are the inputs themselves) against a brute-force sort by (|v| desc, index asc).
@Suite("Top-k selection")
struct TopKTests {
    enum Data: String, CaseIterable, Sendable {
        /// Standard normals (ties are measure-zero).
        case normal
        /// Values from {−1, 0, 1, 2}: most magnitudes tie, across signs too.
        case ties
        /// Every value 0.5.
        case allEqual
        /// ±0 and ±1e-43 (subnormal): ties between signed zeros and between subnormals.
        case zerosAndSubnormals
        /// 1 + 0.06·u: every magnitude falls in one histogram bucket (exponent + 4 mantissa bits).
        case oneBucket
        /// Spread over many binades: ±2^(−20…20)·(1 + u).
        case wideRange

        func values(count: Int, seed: UInt64) -> [Float] {
            var g = Xoshiro256StarStar(seed: seed)
            switch self {
            case .normal: return g.normalFloats(count: count, standardDeviation: 1)
            case .ties: return (0..<count).map { _ in [Float(-1), 0, 1, 2][Int(g.next() % 4)] }
            case .allEqual: return [Float](repeating: 0.5, count: count)
            case .zerosAndSubnormals:
                let tiny = Float.leastNonzeroMagnitude * 70  // ≈ 1e-43, subnormal
                return (0..<count).map { _ in [Float(-0.0), 0, tiny, -tiny][Int(g.next() % 4)] }
            case .oneBucket: return (0..<count).map { _ in 1 + 0.06 * Float(g.nextUnitDouble()) }
            case .wideRange:
                return (0..<count).map { _ in
                    let e = Int(g.next() % 41) - 20
                    let sign: Float = g.next() & 1 == 0 ? 1 : -1
                    return sign * Float(sign: .plus, exponent: e, significand: 1 + Float(g.nextUnitDouble()))
                }
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var shape: [Int]
        var side: Int
        var k: Int
        var testDescription: String { "shape \(shape) side \(side) k \(k)" }
    }

    static let cases: [Case] = [
        Case(shape: [128, 128], side: 64, k: 64),  // 4 full 64×64 chunks (histogram + quickselect path)
        Case(shape: [64, 192], side: 64, k: 1),
        Case(shape: [96, 40], side: 64, k: 200),  // 48×40 chunks
        Case(shape: [100], side: 64, k: 7),  // 1-D: runs of 50
        Case(shape: [3, 4, 40], side: 64, k: 10),  // 3-D: a 12×40 matrix
        Case(shape: [67, 13], side: 64, k: 5),  // prime rows: 1×13 chunks
        Case(shape: [8, 8], side: 64, k: 100),  // k ≥ chunk size: everything kept
        Case(shape: [16, 24], side: 8, k: 64),  // k = chunk size exactly
        Case(shape: [31, 62], side: 16, k: 3),  // prime rows > 16: 1×2 chunks, k capped at 2
    ]

    @Test("selection equals a brute-force sort", arguments: Data.allCases, cases)
    func matchesBruteForce(data: Data, c: Case) throws {
        let layout = try makeLayout([("t", c.shape)])
        let values = data.values(count: layout.scalarCount, seed: UInt64(layout.scalarCount) &* 31 &+ UInt64(c.k))
        let input = try ParameterSet(layout: layout, scalars: values)
        let codec = try makeCodec(side: c.side, k: c.k, quantizer: .float32)
        let encoded = try codec.encode(input, metadata: UpdateMetadata())
        let tensor = try #require(encoded.transmitted.tensors.first)
        let g = ChunkGeometry(shape: c.shape, maximumSide: c.side)
        #expect(tensor.geometry == g)
        #expect(tensor.k == min(c.k, g.chunkSize))
        #expect(tensor.indices.count == g.chunkCount * tensor.k)
        var mismatched: [Int] = []
        for chunk in 0..<g.chunkCount {
            let local = chunkValues(values, geometry: g, chunk: chunk)
            let expected = bruteForceTopK(local, k: tensor.k)
            let actual = chunkIndices(tensor, chunk)
            if actual != expected { mismatched.append(chunk) }
            let sent = Array(tensor.values[(chunk * tensor.k)..<(chunk * tensor.k + tensor.k)])
            expectBitwiseEqual(sent, actual.map { local[$0] }, "values of chunk \(chunk)")
        }
        #expect(mismatched.isEmpty, "chunks whose selection differs from the brute force: \(mismatched.prefix(10))")
    }

    @Test("ties go to the lower local index, whatever the sign")
    func tieBreak() throws {
        // One 1×8 chunk: magnitudes 2, 2, 1, 2, 1, 2, 0, 2 → the five 2s tie; k = 3 keeps 0, 1, 3.
        let layout = try makeLayout([("t", [8])])
        let input = try ParameterSet(layout: layout, scalars: [-2, 2, 1, -2, -1, 2, 0, 2])
        let codec = try makeCodec(k: 3, quantizer: .float32)
        let t = try #require(try codec.encode(input, metadata: UpdateMetadata()).transmitted.tensors.first)
        #expect(t.indices == [0, 1, 3])
        #expect(t.values == [-2, 2, -2])
    }

    @Test("selection does not depend on the thread count")
    func threadIndependent() throws {
        let layout = try makeLayout([("a", [256, 128]), ("b", [64, 64])])
        let input = try tiedSet(layout, seed: 5, alphabet: [-3, -1, 0, 1, 3])
        let codec = try makeCodec(k: 32, quantizer: .float32)
        let one = try withThreads(1) { try codec.encode(input, metadata: UpdateMetadata()).transmitted }
        let two = try withThreads(2) { try codec.encode(input, metadata: UpdateMetadata()).transmitted }
        expectSame(one, two, "1 vs 2 threads")
    }

    /// A 256×256 chunk (the largest side the configuration accepts) holds 65,536 elements; when
    /// they all fall into one histogram bucket (all zeros — a frozen tensor's pseudo-gradient —
    /// or all equal), a 16-bit bucket count wraps to 0. Run in a child process: the selection
    /// writes past its buffers if the count wraps.
    @Test("a 256×256 chunk of equal values keeps its first k indices")
    func fullSizeChunkOfEqualValues() async {
        await #expect(processExitsWith: .success) {
            for value: Float in [0, 0.25] {
                let layout = try makeLayout([("t", [256, 256])])
                let input = try ParameterSet(layout: layout, scalars: [Float](repeating: value, count: 65536))
                let codec = try makeCodec(side: 256, k: 64, quantizer: .float32)
                let t = try codec.encode(input, metadata: UpdateMetadata()).transmitted.tensors[0]
                guard t.indices == (0..<64).map({ UInt16($0) }), t.values == [Float](repeating: value, count: 64) else {
                    throw CodecError(.invalidConfiguration, "selected \(t.indices.prefix(8))… for value \(value)")
                }
            }
        }
    }
}

@Suite("Chunk geometry")
struct ChunkGeometryTests {
    @Test("largest divisor ≤ limit, by exhaustive search", arguments: [1, 7, 16, 64, 256])
    func largestDivisor(limit: Int) {
        for n in 0...300 {
            let expected = n <= 1 ? 1 : (1...min(n, limit)).last { n % $0 == 0 }!
            #expect(ChunkGeometry.largestDivisor(of: n, atMost: limit) == expected, "n = \(n), limit = \(limit)")
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var shape: [Int]
        var side: Int
        var rows: Int, columns: Int, chunkRows: Int, chunkColumns: Int
        var testDescription: String { "\(shape) side \(side)" }
    }

    @Test("matrix view and chunk sides", arguments: [
        Case(shape: [4096, 4096], side: 64, rows: 4096, columns: 4096, chunkRows: 64, chunkColumns: 64),
        Case(shape: [768, 3072], side: 64, rows: 768, columns: 3072, chunkRows: 64, chunkColumns: 64),
        Case(shape: [100, 60], side: 64, rows: 100, columns: 60, chunkRows: 50, chunkColumns: 60),
        Case(shape: [4096], side: 64, rows: 1, columns: 4096, chunkRows: 1, chunkColumns: 64),  // 1-D: runs of ≤ 64
        Case(shape: [100], side: 64, rows: 1, columns: 100, chunkRows: 1, chunkColumns: 50),
        Case(shape: [2, 3, 40], side: 64, rows: 6, columns: 40, chunkRows: 6, chunkColumns: 40),  // 3-D
        Case(shape: [4, 8, 16, 96], side: 64, rows: 512, columns: 96, chunkRows: 64, chunkColumns: 48),
        Case(shape: [67, 131], side: 64, rows: 67, columns: 131, chunkRows: 1, chunkColumns: 1),  // primes > 64
        Case(shape: [61, 59], side: 64, rows: 61, columns: 59, chunkRows: 61, chunkColumns: 59),  // primes ≤ 64
        Case(shape: [], side: 64, rows: 1, columns: 1, chunkRows: 1, chunkColumns: 1),  // scalar
        Case(shape: [12, 18], side: 5, rows: 12, columns: 18, chunkRows: 4, chunkColumns: 3),
    ])
    func sides(c: Case) {
        let g = ChunkGeometry(shape: c.shape, maximumSide: c.side)
        #expect(g.rows == c.rows)
        #expect(g.columns == c.columns)
        #expect(g.chunkRows == c.chunkRows)
        #expect(g.chunkColumns == c.chunkColumns)
        #expect(g.chunkCount == (c.rows / c.chunkRows) * (c.columns / c.chunkColumns))
        #expect(g.elementCount == c.rows * c.columns)
    }

    @Test("chunk positions cover every element exactly once, row-major inside each chunk",
          arguments: [[12, 18], [7], [2, 3, 40], [64, 128], [67, 13]])
    func positionsAreABijection(shape: [Int]) {
        let g = ChunkGeometry(shape: shape, maximumSide: 8)
        var seen = [Int](repeating: 0, count: g.elementCount)
        for chunk in 0..<g.chunkCount {
            let chunkRow = chunk / g.chunksPerRow, chunkColumn = chunk % g.chunksPerRow
            for local in 0..<g.chunkSize {
                let p = g.position(chunk: chunk, local: local)
                let expected = (chunkRow * g.chunkRows + local / g.chunkColumns) * g.columns + chunkColumn * g.chunkColumns + local % g.chunkColumns
                #expect(p == expected, "chunk \(chunk) local \(local)")
                if (0..<seen.count).contains(p) { seen[p] += 1 }
            }
        }
        #expect(seen.allSatisfy { $0 == 1 })
    }

    @Test("a header geometry must tile its matrix", arguments: [(10, 10, 3, 5), (10, 10, 0, 5), (10, 10, 5, -1), (10, 10, 20, 5)])
    func headerGeometryRejected(rows: Int, columns: Int, chunkRows: Int, chunkColumns: Int) {
        expectCodecError(.malformedHeader) {
            try ChunkGeometry(rows: rows, columns: columns, chunkRows: chunkRows, chunkColumns: chunkColumns, tensor: "t")
        }
    }
}
