import Foundation
import Testing
import TesseraCore
import TesseraTensor

// Forward correctness of the Tensor operations against straightforward reference loops written
// here, accumulating in Double. Every comparison states its tolerance: absolute + relative·|expected|.
// Elementwise +, −, ×, ÷ are single correctly rounded Float operations, so they are held to 1e-6;
// reductions, matrix products and the fused kernels (fast exp) to 1e-5 … 1e-4 as stated per test.

// MARK: - Helpers

private enum Reference {
    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    static func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        var index = [Int](repeating: 0, count: shape.count)
        var rest = flat
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            index[d] = rest % shape[d]
            rest /= shape[d]
        }
        return index
    }

    static func ravel(_ index: [Int], _ shape: [Int]) -> Int {
        var flat = 0
        for (i, n) in zip(index, shape) { flat = flat * n + i }
        return flat
    }

    /// The flat offset into an operand of shape `shape` broadcast to `outIndex` (right-aligned).
    static func broadcastOffset(_ outIndex: [Int], into shape: [Int]) -> Int {
        let lead = outIndex.count - shape.count
        let index = shape.indices.map { d in shape[d] == 1 ? 0 : outIndex[d + lead] }
        return ravel(index, shape)
    }

    static func binary(
        _ a: Tensor, _ b: Tensor, outShape: [Int], _ op: (Double, Double) -> Double
    ) -> [Double] {
        let x = a.scalars, y = b.scalars
        return (0..<count(outShape)).map { o in
            let index = unravel(o, outShape)
            return op(Double(x[broadcastOffset(index, into: a.shape)]), Double(y[broadcastOffset(index, into: b.shape)]))
        }
    }

    /// op(A)[i, p] for A stored row-major as `[m, k]` or, transposed, as `[k, m]`.
    static func element(_ a: [Float], transposed: Bool, rows m: Int, cols k: Int, _ i: Int, _ p: Int) -> Double {
        Double(transposed ? a[p * m + i] : a[i * k + p])
    }

    static func matmul(
        _ a: [Float], _ b: [Float], m: Int, k: Int, n: Int, transposeLeft: Bool, transposeRight: Bool
    ) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    s += element(a, transposed: transposeLeft, rows: m, cols: k, i, p)
                        * element(b, transposed: transposeRight, rows: k, cols: n, p, j)
                }
                c[i * n + j] = s
            }
        }
        return c
    }

    static func logSumExp(_ row: ArraySlice<Double>) -> Double {
        let m = row.max()!
        return m + log(row.reduce(0) { $0 + exp($1 - m) })
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// Naive causal attention with grouped heads: query head h reads key/value head h / (H / Hkv).
    static func causalAttention(
        q: [Float], k: [Float], v: [Float], batch B: Int, positions T: Int, heads H: Int, kvHeads Hkv: Int, headDim hd: Int
    ) -> [Double] {
        var out = [Double](repeating: 0, count: B * T * H * hd)
        let groups = H / Hkv
        let scale = 1 / Double(hd).squareRoot()
        func qi(_ b: Int, _ t: Int, _ h: Int, _ d: Int) -> Int { ((b * T + t) * H + h) * hd + d }
        func kvi(_ b: Int, _ t: Int, _ h: Int, _ d: Int) -> Int { ((b * T + t) * Hkv + h) * hd + d }
        for b in 0..<B {
            for h in 0..<H {
                let kh = h / groups
                for t in 0..<T {
                    var scores = [Double](repeating: 0, count: t + 1)
                    for j in 0...t {
                        var s = 0.0
                        for d in 0..<hd { s += Double(q[qi(b, t, h, d)]) * Double(k[kvi(b, j, kh, d)]) }
                        scores[j] = s * scale
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let z = e.reduce(0, +)
                    for d in 0..<hd {
                        var acc = 0.0
                        for j in 0...t { acc += e[j] / z * Double(v[kvi(b, j, kh, d)]) }
                        out[qi(b, t, h, d)] = acc
                    }
                }
            }
        }
        return out
    }
}

private func randomTensor(_ shape: [Int], seed: UInt64, standardDeviation: Float = 1) throws -> Tensor {
    var generator = Xoshiro256StarStar(seed: seed)
    return try Tensor(randomNormal: shape, standardDeviation: standardDeviation, using: &generator)
}

private func uniformScalars(_ count: Int, in range: ClosedRange<Double>, seed: UInt64) -> [Float] {
    var generator = Xoshiro256StarStar(seed: seed)
    return (0..<count).map { _ in
        Float(range.lowerBound + (range.upperBound - range.lowerBound) * generator.nextUnitDouble())
    }
}

/// Compares elementwise; NaN must match NaN and infinities must match exactly.
private func expectClose(
    _ actual: [Float], _ expected: [Double], absolute: Double, relative: Double = 0, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) elements, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var failures = 0
    var first = ""
    for i in actual.indices {
        let a = Double(actual[i]), e = expected[i]
        let ok: Bool
        if e.isNaN {
            ok = a.isNaN
        } else if e.isInfinite {
            ok = a == e
        } else {
            ok = abs(a - e) <= absolute + relative * abs(e)
        }
        if !ok {
            if failures == 0 { first = "element \(i): \(a), expected \(e)" }
            failures += 1
        }
    }
    #expect(
        failures == 0,
        "\(what): \(failures) of \(actual.count) elements outside ±(\(absolute) + \(relative)·|expected|); first \(first)",
        sourceLocation: sourceLocation)
}

private func expectClose(
    _ actual: Tensor, shape: [Int], _ expected: [Double], absolute: Double, relative: Double = 0, _ what: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.shape == shape, "\(what): shape \(actual.shape), expected \(shape)", sourceLocation: sourceLocation)
    expectClose(actual.scalars, expected, absolute: absolute, relative: relative, what, sourceLocation: sourceLocation)
}

/// Expects `body` to throw a ``TensorError`` with `code` whose message contains every fragment.
@discardableResult
private func expectTensorError<R>(
    _ code: TensorError.Code, mentioning fragments: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) -> TensorError? {
    let error = #expect(throws: TensorError.self, sourceLocation: sourceLocation) { _ = try body() }
    guard let error else { return nil }
    #expect(error.code == code, "expected .\(code), got \(error)", sourceLocation: sourceLocation)
    for fragment in fragments {
        #expect(
            error.message.contains(fragment), "message \"\(error.message)\" does not mention \"\(fragment)\"",
            sourceLocation: sourceLocation)
    }
    return error
}

/// Values away from zero, for denominators.
private func awayFromZero(_ t: Tensor) throws -> Tensor {
    try Tensor(shape: t.shape, scalars: t.scalars.map { $0 >= 0 ? $0 + 0.5 : $0 - 0.5 })
}

// MARK: - Elementwise

struct BroadcastCase: Sendable, CustomTestStringConvertible {
    let lhs: [Int], rhs: [Int], out: [Int]
    var testDescription: String { "\(lhs) ⊕ \(rhs) → \(out)" }
}

@Suite("Tensor elementwise operations")
struct TensorElementwiseTests {
    static let broadcastCases: [BroadcastCase] = [
        BroadcastCase(lhs: [3, 4], rhs: [3, 4], out: [3, 4]),
        BroadcastCase(lhs: [3, 4], rhs: [], out: [3, 4]),
        BroadcastCase(lhs: [], rhs: [3, 4], out: [3, 4]),
        BroadcastCase(lhs: [1], rhs: [5], out: [5]),
        BroadcastCase(lhs: [2, 3, 4], rhs: [4], out: [2, 3, 4]),
        BroadcastCase(lhs: [4], rhs: [2, 3, 4], out: [2, 3, 4]),
        BroadcastCase(lhs: [2, 1, 3], rhs: [4, 1], out: [2, 4, 3]),
        BroadcastCase(lhs: [3, 1], rhs: [1, 4], out: [3, 4]),
        BroadcastCase(lhs: [2, 3, 4], rhs: [3, 1], out: [2, 3, 4]),
        BroadcastCase(lhs: [2, 3, 4], rhs: [1, 3, 4], out: [2, 3, 4]),
        // Large enough to take the multi-threaded paths.
        BroadcastCase(lhs: [300, 256], rhs: [300, 256], out: [300, 256]),
        BroadcastCase(lhs: [300, 256], rhs: [256], out: [300, 256]),
        BroadcastCase(lhs: [300, 256], rhs: [1], out: [300, 256]),
    ]

    @Test("add/subtract/multiply/divide with broadcasting match a reference loop (±1e-6 relative)", arguments: broadcastCases)
    func broadcastingArithmetic(_ c: BroadcastCase) throws {
        let a = try randomTensor(c.lhs, seed: 11)
        let b = try awayFromZero(randomTensor(c.rhs, seed: 12))
        expectClose(try a + b, shape: c.out, Reference.binary(a, b, outShape: c.out, +), absolute: 1e-6, relative: 1e-6, "add")
        expectClose(try a - b, shape: c.out, Reference.binary(a, b, outShape: c.out, -), absolute: 1e-6, relative: 1e-6, "subtract")
        expectClose(try a * b, shape: c.out, Reference.binary(a, b, outShape: c.out, *), absolute: 1e-6, relative: 1e-6, "multiply")
        expectClose(try a / b, shape: c.out, Reference.binary(a, b, outShape: c.out, /), absolute: 1e-6, relative: 1e-6, "divide")
        expectClose(
            try Tensor.binary(.subtract, b, a), shape: c.out, Reference.binary(b, a, outShape: c.out, -),
            absolute: 1e-6, relative: 1e-6, "binary(.subtract) reversed")
    }

    @Test("shapes that do not broadcast throw .shapeMismatch naming the dimension")
    func broadcastMismatch() throws {
        let a = try Tensor(zeros: [2, 3])
        let b = try Tensor(zeros: [4])
        expectTensorError(.shapeMismatch, mentioning: ["add", "dimension 1", "3", "4"]) { try a + b }
        expectTensorError(.shapeMismatch, mentioning: ["subtract", "dimension 1"]) { try a - b }
        expectTensorError(.shapeMismatch, mentioning: ["multiply", "dimension 1"]) { try b * a }
        expectTensorError(.shapeMismatch, mentioning: ["divide", "dimension 1", "5 vs 4"]) {
            try Tensor(zeros: [5, 3]) / Tensor(zeros: [2, 4, 3])
        }
        var c = try Tensor(zeros: [2, 3])
        expectTensorError(.shapeMismatch, mentioning: ["[2, 3]", "[3, 2]"]) { try c.add(Tensor(zeros: [3, 2])) }
    }

    @Test("in-place add matches +, and leaves a shared copy unchanged")
    func inPlaceAdd() throws {
        let a = try randomTensor([4, 5], seed: 3)
        let b = try randomTensor([4, 5], seed: 4)
        var c = a
        try c.add(b)
        expectClose(c, shape: [4, 5], Reference.binary(a, b, outShape: [4, 5], +), absolute: 1e-6, relative: 1e-6)
        #expect(a.scalars == (try randomTensor([4, 5], seed: 3)).scalars)
    }

    static func inputs(for function: UnaryFunction, count: Int) -> [Float] {
        switch function {
        case .exp: uniformScalars(count, in: -20...20, seed: 21)
        case .log, .sqrt, .rsqrt: uniformScalars(count, in: 1e-3...100, seed: 22)
        default: uniformScalars(count, in: -8...8, seed: 23)
        }
    }

    static func reference(_ function: UnaryFunction, _ x: Double) -> Double {
        switch function {
        case .exp: exp(x)
        case .log: log(x)
        case .sqrt: x.squareRoot()
        case .rsqrt: 1 / x.squareRoot()
        case .silu: x * Reference.sigmoid(x)
        case .gelu: 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .relu: max(x, 0)
        case .negate: -x
        }
    }

    @Test(
        "applying(f) matches Foundation math (±1e-6 absolute + 2e-6 relative; silu/gelu 1e-5 relative)",
        arguments: [UnaryFunction.exp, .log, .sqrt, .rsqrt, .silu, .gelu, .relu, .negate], [13, 70_003])
    func unary(_ function: UnaryFunction, count: Int) throws {
        let x = Self.inputs(for: function, count: count)
        let t = try Tensor(shape: [count], scalars: x)
        let relative = function == .silu || function == .gelu ? 1e-5 : 2e-6
        expectClose(
            t.applying(function), shape: [count], x.map { Self.reference(function, Double($0)) },
            absolute: 1e-6, relative: relative, "\(function)")
    }

    @Test("exp at the edges of Float's range (±1e-6 relative; 0 below the underflow threshold)")
    func expEdges() throws {
        let x: [Float] = [-100, -88, -50, -1, 0, 1, 50, 88, 89, 100]
        let y = try Tensor(shape: [x.count], scalars: x).applying(.exp).scalars
        expectClose(y, x.map { Double(Foundation.exp($0)) }, absolute: 1e-37, relative: 1e-6, "exp edges")
        #expect(y[4] == 1)
        #expect(y[8] == .infinity && y[9] == .infinity)
        #expect(y[0] == 0)
    }

    @Test("scaled(by:) multiplies every element")
    func scaled() throws {
        let a = try randomTensor([3, 7], seed: 5)
        expectClose(a.scaled(by: -2.5), shape: [3, 7], a.scalars.map { Double($0) * -2.5 }, absolute: 0, relative: 1e-7)
    }
}

// MARK: - Reductions

@Suite("Tensor reductions")
struct TensorReductionTests {
    static let shape = [3, 4, 5]

    /// Sum over `axes` of `x` (shape `shape`) with the reduced axes kept as 1.
    static func referenceSum(_ x: [Float], shape: [Int], axes: Set<Int>) -> (keptShape: [Int], values: [Double]) {
        let kept = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        var out = [Double](repeating: 0, count: Reference.count(kept))
        for i in x.indices {
            var index = Reference.unravel(i, shape)
            for a in axes { index[a] = 0 }
            out[Reference.ravel(index, kept)] += Double(x[i])
        }
        return (kept, out)
    }

    @Test(
        "sum and mean over axes match a Double reference (±1e-5)",
        arguments: [[0], [1], [2], [-1], [0, 2], [2, 0], [1, -1], [0, 1, 2], []] as [[Int]], [false, true])
    func sumAndMean(axes: [Int], keepingDimensions: Bool) throws {
        let shape = Self.shape
        let x = try randomTensor(shape, seed: 31)
        let normalized = Set(axes.map { $0 < 0 ? $0 + shape.count : $0 })
        let reduced = axes.isEmpty ? Set(0..<shape.count) : normalized
        let (kept, sums) = Self.referenceSum(x.scalars, shape: shape, axes: reduced)
        let expectedShape: [Int]
        if keepingDimensions {
            expectedShape = kept
        } else {
            expectedShape = shape.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
        }
        let n = Double(reduced.reduce(1) { $0 * shape[$1] })
        let sum = try x.sum(alongAxes: axes, keepingDimensions: keepingDimensions)
        expectClose(sum, shape: expectedShape, sums, absolute: 1e-5, relative: 1e-5, "sum \(axes)")
        let mean = try x.mean(alongAxes: axes, keepingDimensions: keepingDimensions)
        expectClose(mean, shape: expectedShape, sums.map { $0 / n }, absolute: 1e-5, relative: 1e-5, "mean \(axes)")
    }

    @Test("sum over a large tensor, each axis (±1e-4 relative)", arguments: [0, 1])
    func largeSum(axis: Int) throws {
        let shape = [200, 130]
        let x = try randomTensor(shape, seed: 32)
        let (_, sums) = Self.referenceSum(x.scalars, shape: shape, axes: [axis])
        var expectedShape = shape
        expectedShape.remove(at: axis)
        expectClose(try x.sum(alongAxes: [axis]), shape: expectedShape, sums, absolute: 1e-4, relative: 1e-4)
    }

    @Test("sum with a bad or repeated axis throws .invalidArgument")
    func badAxes() throws {
        let x = try Tensor(zeros: [2, 3])
        expectTensorError(.invalidArgument, mentioning: ["axis 2"]) { try x.sum(alongAxes: [2]) }
        expectTensorError(.invalidArgument, mentioning: ["-3"]) { try x.sum(alongAxes: [-3]) }
        expectTensorError(.invalidArgument, mentioning: ["repeated"]) { try x.sum(alongAxes: [1, -1]) }
        expectTensorError(.invalidArgument) { try x.mean(alongAxes: [5]) }
    }
}

// MARK: - Shape operations

@Suite("Tensor shape operations")
struct TensorShapeTests {
    @Test("permuted moves input dimension permutation[i] to output dimension i", arguments: [[2, 0, 1], [1, 2, 0], [0, 2, 1], [0, 1, 2]] as [[Int]])
    func permuted(_ permutation: [Int]) throws {
        let shape = [2, 3, 4]
        let x = try randomTensor(shape, seed: 41)
        let y = try x.permuted(permutation)
        let outShape = permutation.map { shape[$0] }
        #expect(y.shape == outShape)
        var expected = [Double](repeating: 0, count: x.scalarCount)
        for o in expected.indices {
            let outIndex = Reference.unravel(o, outShape)
            var inIndex = [Int](repeating: 0, count: 3)
            for d in 0..<3 { inIndex[permutation[d]] = outIndex[d] }
            expected[o] = Double(x.scalars[Reference.ravel(inIndex, shape)])
        }
        expectClose(y.scalars, expected, absolute: 0, "permute \(permutation)")
    }

    @Test("transposed swaps the last two dimensions by default, or any two")
    func transposed() throws {
        let x = try randomTensor([2, 3, 4], seed: 42)
        let t = try x.transposed()
        #expect(t.shape == [2, 4, 3])
        #expect(t.scalars == (try x.permuted([0, 2, 1])).scalars)
        let t02 = try x.transposed(0, 2)
        #expect(t02.shape == [4, 3, 2])
        #expect(t02.scalar(at: [3, 1, 0]) == x.scalar(at: [0, 1, 3]))
        #expect(t02.scalars == (try x.permuted([2, 1, 0])).scalars)
        let m = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect((try m.transposed()).scalars == [1, 4, 2, 5, 3, 6])
        #expect(try m.transposed().transposed().scalars == m.scalars)
        expectTensorError(.invalidArgument, mentioning: ["permute"]) { try x.permuted([0, 0, 1]) }
        expectTensorError(.invalidArgument) { try x.permuted([0, 1]) }
        expectTensorError(.invalidArgument, mentioning: ["axis 3"]) { try x.transposed(0, 3) }
    }

    @Test("slice keeps the chosen range of one axis")
    func slice() throws {
        let shape = [3, 5, 2]
        let x = try randomTensor(shape, seed: 43)
        for (axis, range) in [(1, 1..<4), (-1, 1..<2), (0, 0..<3), (0, 2..<2)] {
            let y = try x.slice(alongAxis: axis, range)
            let ax = axis < 0 ? axis + 3 : axis
            var outShape = shape
            outShape[ax] = range.count
            #expect(y.shape == outShape)
            let expected = (0..<Reference.count(outShape)).map { o -> Double in
                var index = Reference.unravel(o, outShape)
                index[ax] += range.lowerBound
                return Double(x.scalars[Reference.ravel(index, shape)])
            }
            expectClose(y.scalars, expected, absolute: 0, "slice axis \(axis) \(range)")
        }
        expectTensorError(.invalidArgument, mentioning: ["size 5"]) { try x.slice(alongAxis: 1, 3..<6) }
        expectTensorError(.invalidArgument) { try x.slice(alongAxis: 1, -1..<2) }
        expectTensorError(.invalidArgument, mentioning: ["axis 3"]) { try x.slice(alongAxis: 3, 0..<1) }
    }

    @Test("concatenate joins along an axis; sizes elsewhere must agree")
    func concatenate() throws {
        let a = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = try Tensor(shape: [2, 1], scalars: [7, 8])
        let c = try Tensor(shape: [2, 2], scalars: [9, 10, 11, 12])
        let joined = try Tensor.concatenate([a, b, c], alongAxis: 1)
        #expect(joined.shape == [2, 6])
        #expect(joined.scalars == [1, 2, 3, 7, 9, 10, 4, 5, 6, 8, 11, 12])
        let rows = try Tensor.concatenate([try Tensor(shape: [1, 3], scalars: [0, 0, 0]), a], alongAxis: 0)
        #expect(rows.shape == [3, 3])
        #expect(rows.scalars == [0, 0, 0, 1, 2, 3, 4, 5, 6])
        let x = try randomTensor([2, 3, 4], seed: 44)
        let y = try randomTensor([2, 2, 4], seed: 45)
        let z = try Tensor.concatenate([x, y], alongAxis: -2)
        #expect(z.shape == [2, 5, 4])
        #expect(try z.slice(alongAxis: 1, 0..<3).scalars == x.scalars)
        #expect(try z.slice(alongAxis: 1, 3..<5).scalars == y.scalars)

        expectTensorError(.shapeMismatch, mentioning: ["tensor 1", "dimension 0", "3", "2"]) {
            try Tensor.concatenate([a, Tensor(zeros: [3, 3])], alongAxis: 1)
        }
        expectTensorError(.shapeMismatch, mentioning: ["rank"]) { try Tensor.concatenate([a, Tensor(zeros: [2])], alongAxis: 0) }
        expectTensorError(.invalidArgument) { try Tensor.concatenate([], alongAxis: 0) }
        expectTensorError(.invalidArgument) { try Tensor.concatenate([a, a], alongAxis: 2) }
    }

    @Test("reshaped infers one -1 dimension and rejects impossible shapes")
    func reshaped() throws {
        let x = try randomTensor([2, 3, 4], seed: 46)
        let a = try x.reshaped(to: [-1, 4])
        #expect(a.shape == [6, 4])
        #expect(a.scalars == x.scalars)
        #expect(try x.reshaped(to: [4, -1]).shape == [4, 6])
        #expect(try x.reshaped(to: [2, -1, 3]).shape == [2, 4, 3])
        #expect(try x.reshaped(to: [-1]).shape == [24])
        #expect(try Tensor(zeros: [0, 3]).reshaped(to: [-1, 3]).shape == [0, 3])
        expectTensorError(.shapeMismatch, mentioning: ["[5, -1]"]) { try x.reshaped(to: [5, -1]) }
        expectTensorError(.shapeMismatch) { try x.reshaped(to: [-1, -1]) }
        expectTensorError(.shapeMismatch) { try x.reshaped(to: [-1, 0]) }
        expectTensorError(.shapeMismatch, mentioning: ["[7, 3]", "24"]) { try x.reshaped(to: [7, 3]) }
        expectTensorError(.shapeMismatch) { try x.reshaped(to: [-2, -12]) }
    }

    @Test("initializers validate shapes")
    func initializers() throws {
        expectTensorError(.shapeMismatch, mentioning: ["[2, 3]", "6", "5"]) { try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5]) }
        expectTensorError(.invalidArgument) { try Tensor(zeros: [2, -1]) }
        expectTensorError(.invalidArgument) { try Tensor(repeating: 1, shape: [Int.max, 3]) }
        let empty = try Tensor(shape: [0, 3], scalars: [])
        #expect(empty.scalarCount == 0 && empty.shape == [0, 3])
        #expect(Tensor(scalar: 4).scalarValue == 4 && Tensor(scalar: 4).rank == 0)
        #expect(try Tensor(repeating: 2, shape: [2, 2]).scalars == [2, 2, 2, 2])
        let m = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(m.scalar(at: [1, 2]) == 6)
        #expect(m.scalar(at: [2, 0]) == nil)
        #expect(m.scalar(at: [0]) == nil)
        #expect(m.scalarValue == nil)
    }

    @Test("copy-on-write: mutating a copy leaves the original unchanged")
    func copyOnWrite() throws {
        let original = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        var copy = original
        copy.withUnsafeMutableBufferPointer { $0[0] = 99 }
        #expect(original.scalars == [1, 2, 3, 4, 5, 6])
        #expect(copy.scalars == [99, 2, 3, 4, 5, 6])

        // A reshaped view shares storage until it is written.
        var view = try original.reshaped(to: [3, 2])
        view.withUnsafeMutableBufferPointer { $0[5] = -1 }
        #expect(original.scalars == [1, 2, 3, 4, 5, 6])
        #expect(view.scalars == [1, 2, 3, 4, 5, -1])

        // A uniquely held tensor is mutated in place (no copy).
        var unique = try Tensor(zeros: [4])
        let before = unique.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        unique.withUnsafeMutableBufferPointer { $0[1] = 7 }
        let after = unique.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        #expect(before == after)
        #expect(unique.scalars == [0, 7, 0, 0])
    }
}

// MARK: - Linear algebra

@Suite("Tensor linear algebra")
struct TensorLinearAlgebraTests {
    @Test("matmul matches a naive triple loop for every transpose combination (±1e-4 + 1e-5 relative)", arguments: [false, true], [false, true])
    func matmul(transposeLeft: Bool, transposeRight: Bool) throws {
        for (m, k, n) in [(5, 7, 3), (1, 1, 1), (33, 65, 17)] {
            let a = try randomTensor(transposeLeft ? [k, m] : [m, k], seed: 51)
            let b = try randomTensor(transposeRight ? [n, k] : [k, n], seed: 52)
            let c = try Tensor.matmul(a, b, transposeLeft: transposeLeft, transposeRight: transposeRight)
            let expected = Reference.matmul(
                a.scalars, b.scalars, m: m, k: k, n: n, transposeLeft: transposeLeft, transposeRight: transposeRight)
            expectClose(c, shape: [m, n], expected, absolute: 1e-4, relative: 1e-5, "matmul \(m)×\(k)×\(n)")
        }
    }

    @Test("matmul with an empty inner dimension is all zeros")
    func matmulEmptyInner() throws {
        let c = try Tensor.matmul(Tensor(zeros: [2, 0]), Tensor(zeros: [0, 3]))
        #expect(c.shape == [2, 3])
        #expect(c.scalars == [Float](repeating: 0, count: 6))
    }

    @Test("matmul shape errors name the inner dimensions")
    func matmulErrors() throws {
        let a = try Tensor(zeros: [2, 7])
        let b = try Tensor(zeros: [9, 5])
        expectTensorError(.shapeMismatch, mentioning: ["matmul", "7", "9"]) { try Tensor.matmul(a, b) }
        expectTensorError(.shapeMismatch, mentioning: ["2", "5"]) { try Tensor.matmul(a, b, transposeLeft: true, transposeRight: true) }
        expectTensorError(.shapeMismatch, mentioning: ["rank-2"]) { try Tensor.matmul(Tensor(zeros: [2, 2, 2]), b) }
        // With the right transposes the same operands are fine.
        #expect(try Tensor.matmul(a, Tensor(zeros: [5, 7]), transposeRight: true).shape == [2, 5])
    }

    @Test("batchedMatmul matches per-batch reference products", arguments: [false, true], [false, true])
    func batchedMatmul(transposeLeft: Bool, transposeRight: Bool) throws {
        let batch = [2, 3], (m, k, n) = (4, 5, 6)
        let a = try randomTensor(batch + (transposeLeft ? [k, m] : [m, k]), seed: 53)
        let b = try randomTensor(batch + (transposeRight ? [n, k] : [k, n]), seed: 54)
        let c = try Tensor.batchedMatmul(a, b, transposeLeft: transposeLeft, transposeRight: transposeRight)
        var expected: [Double] = []
        for i in 0..<6 {
            expected += Reference.matmul(
                Array(a.scalars[(i * m * k)..<((i + 1) * m * k)]), Array(b.scalars[(i * k * n)..<((i + 1) * k * n)]),
                m: m, k: k, n: n, transposeLeft: transposeLeft, transposeRight: transposeRight)
        }
        expectClose(c, shape: batch + [m, n], expected, absolute: 1e-5, relative: 1e-5)

        // A rank-2 right operand is shared by every batch.
        let shared = try randomTensor(transposeRight ? [n, k] : [k, n], seed: 55)
        let d = try Tensor.batchedMatmul(a, shared, transposeLeft: transposeLeft, transposeRight: transposeRight)
        var expectedShared: [Double] = []
        for i in 0..<6 {
            expectedShared += Reference.matmul(
                Array(a.scalars[(i * m * k)..<((i + 1) * m * k)]), shared.scalars,
                m: m, k: k, n: n, transposeLeft: transposeLeft, transposeRight: transposeRight)
        }
        expectClose(d, shape: batch + [m, n], expectedShared, absolute: 1e-5, relative: 1e-5, "shared right operand")
    }

    @Test("batchedMatmul shape errors")
    func batchedMatmulErrors() throws {
        expectTensorError(.shapeMismatch, mentioning: ["[2, 3]", "[3, 2]"]) {
            try Tensor.batchedMatmul(Tensor(zeros: [2, 3, 4, 5]), Tensor(zeros: [3, 2, 5, 6]))
        }
        expectTensorError(.shapeMismatch, mentioning: ["k = 5", "k = 4"]) {
            try Tensor.batchedMatmul(Tensor(zeros: [2, 4, 5]), Tensor(zeros: [2, 4, 6]))
        }
        expectTensorError(.shapeMismatch, mentioning: ["rank"]) { try Tensor.batchedMatmul(Tensor(zeros: [4]), Tensor(zeros: [4, 2])) }
        expectTensorError(.shapeMismatch) { try Tensor.batchedMatmul(Tensor(zeros: [2, 4, 5]), Tensor(zeros: [6, 3])) }
    }

    @Test("linear is x · Wᵀ over all leading dimensions (±1e-5)")
    func linear() throws {
        let x = try randomTensor([2, 3, 5], seed: 56)
        let w = try randomTensor([4, 5], seed: 57)
        let y = try Tensor.linear(x, weight: w)
        let expected = Reference.matmul(x.scalars, w.scalars, m: 6, k: 5, n: 4, transposeLeft: false, transposeRight: true)
        expectClose(y, shape: [2, 3, 4], expected, absolute: 1e-5, relative: 1e-5)
        expectTensorError(.shapeMismatch, mentioning: ["linear", "5", "6"]) { try Tensor.linear(x, weight: Tensor(zeros: [4, 6])) }
        expectTensorError(.shapeMismatch) { try Tensor.linear(x, weight: Tensor(zeros: [5])) }
    }
}

// MARK: - Neural-network operations

@Suite("Tensor neural-network operations")
struct TensorNeuralNetworkTests {
    @Test("softmax and logSoftmax match a stable Double reference (±1e-6 / ±1e-5)", arguments: [1, 10, 37])
    func softmax(columns: Int) throws {
        let rows = 4
        var x = try randomTensor([rows, columns], seed: 61, standardDeviation: 3).scalars
        // Row 2 is huge and row 3 hugely negative: a naive exp overflows or underflows.
        for j in 0..<columns {
            x[2 * columns + j] += 1000
            x[3 * columns + j] -= 1000
        }
        let input = try Tensor(shape: [rows, columns], scalars: x)
        var expectedLog: [Double] = []
        for r in 0..<rows {
            let row = x[(r * columns)..<((r + 1) * columns)].map(Double.init)
            let lse = Reference.logSumExp(row[...])
            expectedLog += row.map { $0 - lse }
        }
        let s = try Tensor.softmax(input)
        expectClose(s, shape: [rows, columns], expectedLog.map { exp($0) }, absolute: 1e-6, relative: 1e-5, "softmax")
        let l = try Tensor.logSoftmax(input)
        // Rows 2 and 3 hold values near ±1000, where a Float ulp is 6e-5: log-sum-exp there is
        // only good to half an ulp, so logSoftmax is held to 1e-4.
        expectClose(l, shape: [rows, columns], expectedLog, absolute: 1e-4, relative: 1e-5, "logSoftmax")
        for r in 0..<rows {
            let total = s.scalars[(r * columns)..<((r + 1) * columns)].reduce(0.0) { $0 + Double($1) }
            #expect(abs(total - 1) <= 1e-5, "softmax row \(r) sums to \(total)")
            let logTotal = l.scalars[(r * columns)..<((r + 1) * columns)].reduce(0.0) { $0 + exp(Double($1)) }
            #expect(abs(logTotal - 1) <= 1e-4, "exp(logSoftmax) row \(r) sums to \(logTotal)")
        }
        #expect(s.scalars.allSatisfy { $0.isFinite } && l.scalars.allSatisfy { $0.isFinite })
    }

    @Test("softmax of [1000, 1001, 1002] is finite and exact (±1e-6)")
    func softmaxLargeValues() throws {
        let s = try Tensor.softmax(Tensor(shape: [1, 3], scalars: [1000, 1001, 1002]))
        let z = 1 + exp(-1.0) + exp(-2.0)
        expectClose(s.scalars, [exp(-2.0) / z, exp(-1.0) / z, 1 / z], absolute: 1e-6)
    }

    @Test("softmax rejects a rank-0 or empty last dimension")
    func softmaxErrors() throws {
        expectTensorError(.shapeMismatch, mentioning: ["softmax"]) { try Tensor.softmax(Tensor(scalar: 1)) }
        expectTensorError(.shapeMismatch, mentioning: ["logSoftmax", "[3, 0]"]) { try Tensor.logSoftmax(Tensor(zeros: [3, 0])) }
    }

    @Test("rmsNorm is x / √(mean(x²) + ε) · w (±1e-5 relative)")
    func rmsNorm() throws {
        let (rows, cols) = (5, 19)
        let x = try randomTensor([rows, cols], seed: 62)
        let w = try randomTensor([cols], seed: 63)
        let epsilon: Float = 1e-5
        let y = try Tensor.rmsNorm(x, weight: w, epsilon: epsilon)
        var expected: [Double] = []
        for r in 0..<rows {
            let row = x.scalars[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let ms = row.reduce(0) { $0 + $1 * $1 } / Double(cols)
            let s = 1 / (ms + Double(epsilon)).squareRoot()
            expected += row.enumerated().map { $0.element * s * Double(w.scalars[$0.offset]) }
        }
        expectClose(y, shape: [rows, cols], expected, absolute: 1e-6, relative: 1e-5)
        expectTensorError(.shapeMismatch, mentioning: ["rmsNorm", "[18]", "19"]) { try Tensor.rmsNorm(x, weight: Tensor(zeros: [18])) }
        expectTensorError(.invalidArgument, mentioning: ["epsilon"]) { try Tensor.rmsNorm(x, weight: w, epsilon: -1) }
    }

    @Test("crossEntropy is the mean of log-sum-exp − logit[target] (±1e-5; ±1e-4 at offset 1000, where a Float ulp is 6e-5)", arguments: [0, 1000] as [Float])
    func crossEntropy(offset: Float) throws {
        let (rows, classes) = (6, 11)
        let logits = try Tensor(
            shape: [rows, classes], scalars: (try randomTensor([rows, classes], seed: 64, standardDeviation: 2)).scalars.map { $0 + offset })
        let targets: [Int32] = [0, 10, 3, 3, 7, 5]
        let loss = try Tensor.crossEntropy(logits: logits, targets: targets)
        #expect(loss.shape == [])
        var total = 0.0
        for r in 0..<rows {
            let row = logits.scalars[(r * classes)..<((r + 1) * classes)].map(Double.init)
            total += Reference.logSumExp(row[...]) - row[Int(targets[r])]
        }
        let value = try #require(loss.scalarValue)
        let tolerance = offset == 0 ? 1e-5 : 1e-4
        let expected = total / Double(rows)
        #expect(abs(Double(value) - expected) <= tolerance, "loss \(value) vs \(expected)")
    }

    @Test("crossEntropy rejects bad targets and shapes")
    func crossEntropyErrors() throws {
        let logits = try Tensor(zeros: [3, 4])
        expectTensorError(.indexOutOfRange, mentioning: ["4", "position 1", "0..<4"]) { try Tensor.crossEntropy(logits: logits, targets: [0, 4, 1]) }
        expectTensorError(.indexOutOfRange, mentioning: ["-1"]) { try Tensor.crossEntropy(logits: logits, targets: [0, 1, -1]) }
        expectTensorError(.shapeMismatch, mentioning: ["3 rows", "2 targets"]) { try Tensor.crossEntropy(logits: logits, targets: [0, 1]) }
        expectTensorError(.shapeMismatch, mentioning: ["[12]"]) { try Tensor.crossEntropy(logits: Tensor(zeros: [12]), targets: [0]) }
    }

    @Test("embedding gathers rows of the table")
    func embedding() throws {
        let table = try randomTensor([6, 4], seed: 65)
        let indices: [Int32] = [5, 0, 3, 3]
        let y = try Tensor.embedding(table, indices: indices, indexShape: [2, 2])
        #expect(y.shape == [2, 2, 4])
        let expected = indices.flatMap { table.scalars[(Int($0) * 4)..<(Int($0) * 4 + 4)] }
        #expect(y.scalars == expected)
        expectTensorError(.indexOutOfRange, mentioning: ["index 6", "position 2", "0..<6"]) {
            try Tensor.embedding(table, indices: [0, 1, 6], indexShape: [3])
        }
        expectTensorError(.indexOutOfRange, mentioning: ["-1"]) { try Tensor.embedding(table, indices: [-1], indexShape: [1]) }
        expectTensorError(.shapeMismatch, mentioning: ["[3]", "4"]) { try Tensor.embedding(table, indices: indices, indexShape: [3]) }
        expectTensorError(.shapeMismatch, mentioning: ["[24]"]) { try Tensor.embedding(Tensor(zeros: [24]), indices: [0], indexShape: [1]) }
    }

    @Test("rotaryEmbedding matches a Double rotation; position 0 is the identity; pair norms are kept", arguments: [10_000, 500] as [Float])
    func rotaryEmbedding(theta: Float) throws {
        let (B, T, H, hd) = (2, 5, 3, 8)
        let half = hd / 2
        let x = try randomTensor([B, T, H, hd], seed: 66)
        let y = try Tensor.rotaryEmbedding(x, theta: theta)
        #expect(y.shape == x.shape)
        var expected = [Double](repeating: 0, count: x.scalarCount)
        var normFailures = 0
        for b in 0..<B {
            for t in 0..<T {
                for h in 0..<H {
                    let base = ((b * T + t) * H + h) * hd
                    for i in 0..<half {
                        let angle = Double(t) * pow(Double(theta), -Double(2 * i) / Double(hd))
                        let a = Double(x.scalars[base + i]), c = Double(x.scalars[base + i + half])
                        expected[base + i] = a * cos(angle) - c * sin(angle)
                        expected[base + i + half] = c * cos(angle) + a * sin(angle)
                        let inNorm = (a * a + c * c).squareRoot()
                        let ya = Double(y.scalars[base + i]), yc = Double(y.scalars[base + i + half])
                        let outNorm = (ya * ya + yc * yc).squareRoot()
                        if abs(inNorm - outNorm) > 1e-5 * max(1, inNorm) { normFailures += 1 }
                        if t == 0 {
                            #expect(ya == a && yc == c, "position 0 must be the identity at b \(b) h \(h) i \(i)")
                        }
                    }
                }
            }
        }
        #expect(normFailures == 0, "\(normFailures) (i, i + hd/2) pairs changed norm by more than 1e-5")
        expectClose(y.scalars, expected, absolute: 1e-5, relative: 1e-5, "rope θ = \(theta)")
        // A non-zero position really rotates.
        #expect(y.scalars != x.scalars)
    }

    @Test("rotaryEmbedding rejects bad shapes and θ")
    func rotaryEmbeddingErrors() throws {
        expectTensorError(.shapeMismatch, mentioning: ["[2, 3, 4]"]) { try Tensor.rotaryEmbedding(Tensor(zeros: [2, 3, 4])) }
        expectTensorError(.shapeMismatch, mentioning: ["even", "[1, 2, 1, 5]"]) { try Tensor.rotaryEmbedding(Tensor(zeros: [1, 2, 1, 5])) }
        expectTensorError(.invalidArgument, mentioning: ["theta"]) { try Tensor.rotaryEmbedding(Tensor(zeros: [1, 2, 1, 4]), theta: 0) }
    }

    @Test("swiGLU is silu(gate) · up (±1e-6 + 1e-5 relative)")
    func swiGLU() throws {
        let gate = try randomTensor([7, 9], seed: 67, standardDeviation: 3)
        let up = try randomTensor([7, 9], seed: 68)
        let y = try Tensor.swiGLU(gate: gate, up: up)
        let expected = zip(gate.scalars, up.scalars).map { g, u in Double(g) * Reference.sigmoid(Double(g)) * Double(u) }
        expectClose(y, shape: [7, 9], expected, absolute: 1e-6, relative: 1e-5)
        expectTensorError(.shapeMismatch, mentioning: ["[7, 9]", "[9, 7]"]) { try Tensor.swiGLU(gate: gate, up: Tensor(zeros: [9, 7])) }
    }

    struct AttentionCase: Sendable, CustomTestStringConvertible {
        let batch: Int, positions: Int, heads: Int, kvHeads: Int, headDim: Int
        var testDescription: String { "B \(batch) T \(positions) H \(heads) Hkv \(kvHeads) hd \(headDim)" }
    }

    @Test(
        "causalAttention matches a naive per-head reference (±2e-5)",
        arguments: [
            AttentionCase(batch: 2, positions: 5, heads: 4, kvHeads: 2, headDim: 8),
            AttentionCase(batch: 1, positions: 7, heads: 4, kvHeads: 1, headDim: 4),
            AttentionCase(batch: 2, positions: 3, heads: 3, kvHeads: 3, headDim: 6),
            AttentionCase(batch: 1, positions: 1, heads: 2, kvHeads: 2, headDim: 2),
            AttentionCase(batch: 1, positions: 40, heads: 4, kvHeads: 2, headDim: 16),
            AttentionCase(batch: 2, positions: 150, heads: 4, kvHeads: 2, headDim: 8),
            AttentionCase(batch: 1, positions: 128, heads: 2, kvHeads: 2, headDim: 16),
            AttentionCase(batch: 2, positions: 33, heads: 6, kvHeads: 2, headDim: 64),
            AttentionCase(batch: 1, positions: 150, heads: 4, kvHeads: 4, headDim: 12),
        ])
    func causalAttention(_ c: AttentionCase) throws {
        let q = try randomTensor([c.batch, c.positions, c.heads, c.headDim], seed: 71)
        let k = try randomTensor([c.batch, c.positions, c.kvHeads, c.headDim], seed: 72)
        let v = try randomTensor([c.batch, c.positions, c.kvHeads, c.headDim], seed: 73)
        let y = try Tensor.causalAttention(query: q, key: k, value: v)
        let expected = Reference.causalAttention(
            q: q.scalars, k: k.scalars, v: v.scalars, batch: c.batch, positions: c.positions, heads: c.heads,
            kvHeads: c.kvHeads, headDim: c.headDim)
        expectClose(y, shape: q.shape, expected, absolute: 2e-5, relative: 1e-5)
    }

    @Test("causalAttention: the output at position t ignores later keys and values (±1e-6)")
    func causality() throws {
        let (B, T, H, Hkv, hd) = (2, 6, 4, 2, 8)
        let cut = 2
        let q = try randomTensor([B, T, H, hd], seed: 74)
        let k = try randomTensor([B, T, Hkv, hd], seed: 75)
        let v = try randomTensor([B, T, Hkv, hd], seed: 76)
        // Replace keys and values at positions > cut.
        var k2 = k, v2 = v
        let noise = try randomTensor([B, T, Hkv, hd], seed: 77, standardDeviation: 5).scalars
        let stride = Hkv * hd
        for b in 0..<B {
            for t in (cut + 1)..<T {
                for j in 0..<stride {
                    let i = (b * T + t) * stride + j
                    k2.withUnsafeMutableBufferPointer { $0[i] = noise[i] }
                    v2.withUnsafeMutableBufferPointer { $0[i] = -noise[i] }
                }
            }
        }
        let y = try Tensor.causalAttention(query: q, key: k, value: v).scalars
        let y2 = try Tensor.causalAttention(query: q, key: k2, value: v2).scalars
        let rowLength = H * hd
        var earlier: [Float] = [], earlier2: [Float] = []
        var laterDifference: Float = 0
        for b in 0..<B {
            for t in 0..<T {
                let row = ((b * T + t) * rowLength)..<((b * T + t + 1) * rowLength)
                if t <= cut {
                    earlier += y[row]
                    earlier2 += y2[row]
                } else {
                    laterDifference = max(laterDifference, zip(y[row], y2[row]).map { abs($0 - $1) }.max()!)
                }
            }
        }
        expectClose(earlier2, earlier.map(Double.init), absolute: 1e-6, "positions ≤ \(cut)")
        // The perturbation is real: later positions do see it.
        #expect(laterDifference > 1e-2)
        // The original keys and values were not touched by the edits of the copies.
        #expect(try Tensor.causalAttention(query: q, key: k, value: v).scalars == y)
    }

    @Test("causalAttention shape errors name the dimension")
    func causalAttentionErrors() throws {
        let q = try Tensor(zeros: [1, 4, 4, 8])
        let kv = try Tensor(zeros: [1, 4, 2, 8])
        expectTensorError(.shapeMismatch, mentioning: ["[1, 4, 2, 8]", "[1, 4, 2, 6]"]) {
            try Tensor.causalAttention(query: q, key: kv, value: Tensor(zeros: [1, 4, 2, 6]))
        }
        expectTensorError(.shapeMismatch, mentioning: ["dimension 1", "4", "3"]) {
            try Tensor.causalAttention(query: q, key: Tensor(zeros: [1, 3, 2, 8]), value: Tensor(zeros: [1, 3, 2, 8]))
        }
        expectTensorError(.shapeMismatch, mentioning: ["dimension 3"]) {
            try Tensor.causalAttention(query: q, key: Tensor(zeros: [1, 4, 2, 4]), value: Tensor(zeros: [1, 4, 2, 4]))
        }
        expectTensorError(.shapeMismatch, mentioning: ["dimension 0"]) {
            try Tensor.causalAttention(query: q, key: Tensor(zeros: [2, 4, 2, 8]), value: Tensor(zeros: [2, 4, 2, 8]))
        }
        expectTensorError(.shapeMismatch, mentioning: ["(4)", "(3)"]) {
            try Tensor.causalAttention(query: q, key: Tensor(zeros: [1, 4, 3, 8]), value: Tensor(zeros: [1, 4, 3, 8]))
        }
        expectTensorError(.shapeMismatch) {
            try Tensor.causalAttention(query: Tensor(zeros: [4, 4, 8]), key: kv, value: kv)
        }
    }
}

// MARK: - Llama configuration and model errors

@Suite("Llama configuration and model validation")
struct LlamaValidationTests {
    static let tiny = LlamaConfiguration(
        vocabularySize: 16, dimension: 8, layerCount: 1, headCount: 2, keyValueHeadCount: 1,
        feedForwardDimension: 12, contextLength: 4)

    static func modified(_ change: (inout LlamaConfiguration) -> Void) -> LlamaConfiguration {
        var c = tiny
        change(&c)
        return c
    }

    struct BadConfiguration: Sendable, CustomTestStringConvertible {
        let configuration: LlamaConfiguration
        let mentions: [String]
        let testDescription: String
    }

    static let badConfigurations: [BadConfiguration] = [
        BadConfiguration(
            configuration: modified { $0.dimension = 30; $0.headCount = 4; $0.keyValueHeadCount = 2 },
            mentions: ["dim (30)", "heads (4)"], testDescription: "dim not divisible by heads"),
        BadConfiguration(
            configuration: modified { $0.dimension = 32; $0.headCount = 4; $0.keyValueHeadCount = 3 },
            mentions: ["heads (4)", "kv_heads (3)"], testDescription: "heads not a multiple of kv_heads"),
        BadConfiguration(configuration: modified { $0.layerCount = 0 }, mentions: ["layers"], testDescription: "zero layers"),
        BadConfiguration(
            configuration: modified { $0.dimension = 12; $0.headCount = 4; $0.keyValueHeadCount = 2 },
            mentions: ["3", "even"], testDescription: "odd head dimension"),
        BadConfiguration(configuration: modified { $0.vocabularySize = 0 }, mentions: ["vocab"], testDescription: "zero vocabulary"),
        BadConfiguration(configuration: modified { $0.keyValueHeadCount = -1 }, mentions: ["kv_heads"], testDescription: "negative kv_heads"),
        BadConfiguration(configuration: modified { $0.contextLength = 0 }, mentions: ["context"], testDescription: "zero context"),
        BadConfiguration(configuration: modified { $0.ropeTheta = 0 }, mentions: ["rope_theta"], testDescription: "zero θ"),
        BadConfiguration(configuration: modified { $0.normEpsilon = .nan }, mentions: ["norm_eps"], testDescription: "NaN ε"),
    ]

    @Test("validate() rejects inconsistent configurations with .invalidConfiguration", arguments: badConfigurations)
    func invalidConfiguration(_ bad: BadConfiguration) throws {
        expectTensorError(.invalidConfiguration, mentioning: bad.mentions) { try bad.configuration.validate() }
        expectTensorError(.invalidConfiguration) { try bad.configuration.parameterLayout() }
        expectTensorError(.invalidConfiguration) { try LlamaModel(configuration: bad.configuration, seed: 1) }
    }

    @Test("valid configurations pass; JSON uses the reference keys and defaults kv_heads to heads")
    func validConfigurations() throws {
        try Self.tiny.validate()
        try LlamaConfiguration.small.validate()
        try LlamaConfiguration.medium.validate()
        let json = #"{"vocab": 64, "dim": 32, "layers": 2, "heads": 4, "ffn": 48, "context": 16}"#
        let decoded = try JSONDecoder().decode(LlamaConfiguration.self, from: Data(json.utf8))
        #expect(decoded.keyValueHeadCount == 4)
        #expect(decoded.headDimension == 8)
        #expect(decoded.ropeTheta == 10_000 && decoded.normEpsilon == 1e-5)
        let layout = try Self.tiny.parameterLayout()
        #expect(layout.descriptors.count == 2 + 9 * Self.tiny.layerCount)
        #expect(layout["model.layers.0.self_attn.k_proj.weight"]?.shape == [4, 8])
    }

    @Test("LlamaModel(configuration:parameters:) names the tensor with a wrong shape")
    func wrongParameterShape() throws {
        let layout = try Self.tiny.parameterLayout()
        let bad = "model.layers.0.mlp.up_proj.weight"
        let wrong = try ParameterLayout(layout.descriptors.map { d in (name: d.name, shape: d.name == bad ? [12, 7] : d.shape) })
        expectTensorError(.shapeMismatch, mentioning: [bad, "[12, 7]", "[12, 8]"]) {
            try LlamaModel(configuration: Self.tiny, parameters: ParameterSet(zerosLike: wrong))
        }
        let missingName = "model.layers.0.self_attn.v_proj.weight"
        let missing = try ParameterLayout(layout.descriptors.filter { $0.name != missingName }.map { (name: $0.name, shape: $0.shape) })
        expectTensorError(.missingTensor, mentioning: [missingName]) {
            try LlamaModel(configuration: Self.tiny, parameters: ParameterSet(zerosLike: missing))
        }
    }

    @Test("LlamaModel(configuration:parameters:) reorders tensors given in another order")
    func reorderedParameters() throws {
        let model = try LlamaModel(configuration: Self.tiny, seed: 9)
        let reversed = try ParameterSet(
            model.parameters.layout.descriptors.reversed().map { (name: $0.name, shape: $0.shape, scalars: model.parameters[$0.name]!) })
        let reloaded = try LlamaModel(configuration: Self.tiny, parameters: reversed)
        #expect(reloaded.parameters == model.parameters)
    }

    @Test("loss and lossAndGradients reject tokens outside the vocabulary and sequences beyond the context")
    func badBatches() throws {
        let model = try LlamaModel(configuration: Self.tiny, seed: 3)
        let good = try TokenBatch(batchSize: 2, sequenceLength: 3, tokens: [1, 2, 3, 4, 15, 0, 7, 9])
        let loss = try model.loss(good)
        // Small initial weights give nearly uniform predictions.
        #expect(abs(Double(loss) - log(16.0)) < 0.1, "initial loss \(loss)")

        let outOfVocabulary = try TokenBatch(batchSize: 1, sequenceLength: 3, tokens: [1, 2, 16, 3])
        expectTensorError(.indexOutOfRange, mentioning: ["16", "0..<16"]) { try model.loss(outOfVocabulary) }
        expectTensorError(.indexOutOfRange) { try model.lossAndGradients(outOfVocabulary) }
        // Only the last (target-only) token out of range.
        let targetOutOfVocabulary = try TokenBatch(batchSize: 1, sequenceLength: 2, tokens: [1, 2, 99])
        expectTensorError(.indexOutOfRange, mentioning: ["99"]) { try model.loss(targetOutOfVocabulary) }

        let tooLong = try TokenBatch(batchSize: 1, sequenceLength: 5, tokens: [1, 2, 3, 4, 5, 6])
        expectTensorError(.invalidArgument, mentioning: ["5", "context length 4"]) { try model.loss(tooLong) }
        expectTensorError(.invalidArgument) { try model.lossAndGradients(tooLong) }
    }
}

// MARK: - Inputs that must throw, not trap

/// Each body runs in a child process (Swift Testing exit tests): a trap fails the test without
/// taking the rest of the suite down. Throwing a TensorError or returning are both acceptable.
@Suite("Tensor edge cases that must not trap")
struct TensorNoTrapTests {
    @Test("sum/mean along axis 0 of a rank-0 tensor")
    func reduceScalarAlongAxis() async {
        await #expect(processExitsWith: .success) {
            _ = try? Tensor(scalar: 1).sum(alongAxes: [0])
            _ = try? Tensor(scalar: 1).mean(alongAxes: [0])
        }
    }

    @Test("slice of a rank-0 tensor")
    func sliceScalar() async {
        await #expect(processExitsWith: .success) {
            _ = try? Tensor(scalar: 1).slice(alongAxis: 0, 0..<1)
        }
    }

    @Test("concatenate rank-0 tensors")
    func concatenateScalars() async {
        await #expect(processExitsWith: .success) {
            _ = try? Tensor.concatenate([Tensor(scalar: 1), Tensor(scalar: 2)], alongAxis: 0)
        }
    }

    @Test("broadcasting onto an empty trailing dimension ([2, 0] + [0])")
    func broadcastEmptyTrailing() async {
        await #expect(processExitsWith: .success) {
            let a = try? Tensor(zeros: [2, 0])
            let b = try? Tensor(zeros: [0])
            if let a, let b { _ = try? a + b }
        }
    }

    @Test("LlamaConfiguration.validate() with a dimension whose square overflows Int")
    func validateHugeDimension() async {
        await #expect(processExitsWith: .success) {
            let c = LlamaConfiguration(
                vocabularySize: 8, dimension: 1 << 32, layerCount: 1, headCount: 1, keyValueHeadCount: 1,
                feedForwardDimension: 1, contextLength: 1)
            _ = try? c.validate()
        }
    }
}
