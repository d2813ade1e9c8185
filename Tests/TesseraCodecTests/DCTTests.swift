import Foundation
import Testing
@testable import TesseraCodec
import TesseraCore

/// The chunked DCT against its spec (Documentation/WireFormat.md §6): the matrix entries against
/// mpmath, the transforms against numpy's sequential float32 sums (Golden/make_dct_vectors.py),
/// and every kernel level and thread count against a plain Swift reference, bit for bit.
@Suite("DCT: the spec's bits at every kernel level")
struct DCTTests {
    struct Matrices: Decodable {
        var sizes: [Int]
        var matrices: [String: String]
    }

    struct Case: Decodable {
        var name: String
        var chunkRows: Int
        var chunkColumns: Int
        var rows: Int
        var columns: Int
        var inverse: Bool
        var input: String
        var output: String
    }

    struct Cases: Decodable {
        var cases: [Case]
    }

    /// Little-endian float32s from hex.
    static func floats(hex: String) -> [Float] {
        let bytes = Array(hex.utf8)
        func nibble(_ c: UInt8) -> UInt32 { UInt32(c <= 57 ? c - 48 : c - 87) }
        return stride(from: 0, to: bytes.count, by: 8).map { start in
            var bits: UInt32 = 0
            for byte in 0..<4 {
                let value = nibble(bytes[start + 2 * byte]) << 4 | nibble(bytes[start + 2 * byte + 1])
                bits |= value << (8 * UInt32(byte))
            }
            return Float(bitPattern: bits)
        }
    }

    static func load<T: Decodable>(_ file: String, as: T.Type) throws -> T {
        let url = try goldenDirectory().appendingPathComponent("dct").appendingPathComponent(file)
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }

    static let caseNames = ["forward-6x8", "inverse-6x8", "forward-1x5", "inverse-5x12-sparse", "forward-3x7-signed-zeros",
                            "forward-64x64", "inverse-64x64-sparse", "inverse-16x40"]

    @Test("every matrix entry is the float32 nearest the exact value (mpmath)")
    func matricesMatchGolden() throws {
        let golden = try Self.load("matrices.json", as: Matrices.self)
        #expect(golden.sizes.count == 14)
        for n in golden.sizes {
            let expected = Self.floats(hex: try #require(golden.matrices[String(n)]))
            expectSame(DCT.matrix(n).map(\.bitPattern), expected.map(\.bitPattern), "n = \(n)")
        }
    }

    @Test("every matrix up to n = 160 is within one ulp of libm's double-precision entries, and orthonormal")
    func matricesCloseToLibm() {
        for n in 1...160 {
            let m = DCT.matrix(n)
            var worst = 0
            for k in 0..<n {
                let alpha = k == 0 ? (1 / Double(n)).squareRoot() : (2 / Double(n)).squareRoot()
                for i in 0..<n {
                    let approximate = Float(alpha * cos(Double.pi * Double(2 * i + 1) * Double(k) / Double(2 * n)))
                    let exact = m[k * n + i]
                    if approximate != exact {
                        // Zeros of the cosine: libm gives a tiny value, the table an exact 0.
                        if exact == 0 { #expect(abs(approximate) < 1e-6, "n \(n) k \(k) i \(i)"); continue }
                        worst = max(worst, abs(Int(approximate.bitPattern) - Int(exact.bitPattern)))
                    }
                }
            }
            #expect(worst <= 1, "n = \(n): \(worst) ulps from libm")
            // D·Dᵀ = I to float32 accuracy (in Double, so only the entries' rounding shows).
            for a in 0..<n {
                for b in 0..<n {
                    var s = 0.0
                    for i in 0..<n { s += Double(m[a * n + i]) * Double(m[b * n + i]) }
                    #expect(abs(s - (a == b ? 1 : 0)) < 1e-6 * Double(n), "n \(n): row \(a) · row \(b) = \(s)")
                }
            }
        }
    }

    @Test("the chunked transforms give numpy's bits at every kernel level and thread count", arguments: caseNames)
    func transformsMatchGolden(name: String) throws {
        let golden = try #require(try Self.load("transforms.json", as: Cases.self).cases.first { $0.name == name })
        let geometry = try ChunkGeometry(rows: golden.rows, columns: golden.columns, chunkRows: golden.chunkRows,
                                         chunkColumns: golden.chunkColumns, tensor: name)
        let input = Self.floats(hex: golden.input), expected = Self.floats(hex: golden.output)
        for level in VectorKernels.Level.allCases {
            for threads in [1, 2] {
                let (output, used) = try withThreads(threads, level: level) { used in
                    (Self.transformed(input, geometry: geometry, inverse: golden.inverse), used)
                }
                expectSame(output.map(\.bitPattern), expected.map(\.bitPattern), "\(name) at \(used), \(threads) threads")
            }
        }
    }

    @Test("random shapes, signed zeros and sparsity: every level and thread count equals a plain Swift reference")
    func againstScalarReference() throws {
        var generator = Xoshiro256StarStar(seed: 77)
        let shapes = [(1, 1, 1, 1), (1, 3, 2, 9), (7, 5, 14, 10), (4, 33, 8, 66), (9, 17, 18, 34), (16, 40, 32, 80),
                      (64, 64, 128, 192), (32, 60, 96, 120), (2, 48, 6, 96), (64, 7, 64, 21), (5, 64, 10, 128)]
        for (shapeIndex, (r, c, rows, columns)) in shapes.enumerated() {
            let geometry = try ChunkGeometry(rows: rows, columns: columns, chunkRows: r, chunkColumns: c, tensor: "t")
            for zeros in [0.0, 0.6, 0.99] {
                let input: [Float] = (0..<(rows * columns)).map { _ in
                    let u = Double(generator.next() >> 11) / 0x1p53
                    if u < zeros { return generator.next() & 1 == 0 ? 0 : -0.0 }
                    return Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()) & 0x3FFF_FFFF | 0x3000_0000)
                        * (generator.next() & 1 == 0 ? 1 : -1)
                }
                for inverse in [false, true] {
                    let expected = Self.reference(input, geometry: geometry, inverse: inverse)
                    for level in VectorKernels.Level.allCases {
                        for threads in [1, 2] {
                            let (output, used) = try withThreads(threads, level: level) { used in
                                (Self.transformed(input, geometry: geometry, inverse: inverse), used)
                            }
                            expectSame(output.map(\.bitPattern), expected.map(\.bitPattern),
                                       "shape \(shapeIndex) (\(r)×\(c) of \(rows)×\(columns)), zeros \(zeros), inverse \(inverse), \(used), \(threads) threads")
                        }
                    }
                }
            }
        }
    }

    @Test("inverse(forward(x)) returns x to float32 accuracy")
    func roundTrip() throws {
        let geometry = try ChunkGeometry(rows: 128, columns: 96, chunkRows: 64, chunkColumns: 48, tensor: "t")
        var generator = Xoshiro256StarStar(seed: 5)
        let input = generator.normalFloats(count: geometry.elementCount, standardDeviation: 1)
        let coefficients = Self.transformed(input, geometry: geometry, inverse: false)
        let back = Self.transformed(coefficients, geometry: geometry, inverse: true)
        expectClose(back, input, absolute: 1e-5, "inverse(forward(x))")
    }

    static func transformed(_ input: [Float], geometry: ChunkGeometry, inverse: Bool) -> [Float] {
        var x = input
        x.withUnsafeMutableBufferPointer { inverse ? DCT.inverse($0.baseAddress!, geometry: geometry) : DCT.forward($0.baseAddress!, geometry: geometry) }
        return x
    }

    /// The spec, literally: per chunk, F[k][j] = Σ_i A[k][i]·X[i][j], then Y[k][l] = Σ_j F[k][j]·B[j][l],
    /// each sum from +0 adding every rounded product (zeros included) in ascending order.
    static func reference(_ x: [Float], geometry g: ChunkGeometry, inverse: Bool) -> [Float] {
        let r = g.chunkRows, c = g.chunkColumns
        let dr = DCT.matrix(r), dc = DCT.matrix(c)
        func a(_ k: Int, _ i: Int) -> Float { inverse ? dr[i * r + k] : dr[k * r + i] }
        func b(_ j: Int, _ l: Int) -> Float { inverse ? dc[j * c + l] : dc[l * c + j] }
        var y = x
        for band in 0..<(g.rows / r) {
            for segment in 0..<g.chunksPerRow {
                let origin = band * r * g.columns + segment * c
                var first = [Float](repeating: 0, count: r * c)
                for k in 0..<r {
                    for j in 0..<c {
                        var sum: Float = 0
                        for i in 0..<r {
                            let product = a(k, i) * x[origin + i * g.columns + j]
                            sum = sum + product
                        }
                        first[k * c + j] = sum
                    }
                }
                for k in 0..<r {
                    for l in 0..<c {
                        var sum: Float = 0
                        for j in 0..<c {
                            let product = first[k * c + j] * b(j, l)
                            sum = sum + product
                        }
                        y[origin + k * g.columns + l] = sum
                    }
                }
            }
        }
        return y
    }
}
