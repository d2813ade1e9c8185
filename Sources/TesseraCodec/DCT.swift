import Synchronization
import TesseraCore

/// Orthonormal DCT-II on every chunk of a matrix, bit-exact on every CPU:
/// forward `Y = D_r · X · D_cᵀ`, inverse `X = D_rᵀ · Y · D_c`, with
/// `D[k][i] = α_k · cos(π (2i + 1) k / 2n)`, `α_0 = √(1/n)`, `α_k = √(2/n)`.
///
/// Two validators must turn the same update into the same bytes, so nothing here depends on the
/// CPU, the BLAS library or the thread count (Documentation/WireFormat.md §6):
/// - `D`'s entries are the float32 values nearest the exact reals, computed in double-double
///   arithmetic from an exact integer reduction of the angle (no libm call);
/// - the two matrix products run in ``VectorKernels/transformBand(_:rowStride:rows:width:segments:left:right:scratch:)``
///   in one fixed summation order (first the left product, then the right; each element a
///   sequential sum of rounded products in ascending order of the inner index, never fused),
///   the same bits at every vector level;
/// - bands go to threads whole, and a band's result does not depend on which thread computes it.
enum DCT {
    /// The two matrices one direction of the transform multiplies a chunk by.
    private struct Plan: Sendable {
        /// r × r, row-major: `D_r` (forward) or `D_rᵀ` (inverse).
        let left: [Float]
        /// c × c, row-major with row stride ``VectorKernels/transformMatrixStride(width:)``:
        /// `D_cᵀ` (forward) or `D_c` (inverse).
        let right: [Float]
    }

    private struct PlanKey: Hashable {
        let rows: Int, columns: Int, inverse: Bool
    }

    private static let matrices = Mutex<[Int: [Float]]>([:])
    private static let plans = Mutex<[PlanKey: Plan]>([:])

    /// Bands are handed to threads in runs of at least this many elements.
    private static let minimumElementsPerThread = 1 << 15

    /// The n×n orthonormal DCT-II matrix, row-major: each entry the float32 nearest
    /// `α_k · cos(π (2i + 1) k / 2n)` (an exact zero for the angles where the cosine is zero).
    static func matrix(_ n: Int) -> [Float] {
        if let m = matrices.withLock({ $0[n] }) { return m }
        var m = [Float](repeating: 0, count: n * n)
        let alphaZero = DoubleDouble.squareRoot(of: DoubleDouble.quotient(1, n))
        let alpha = DoubleDouble.squareRoot(of: DoubleDouble.quotient(2, n))
        for k in 0..<n {
            for i in 0..<n {
                let cosine = DoubleDouble.cosineOfHalfPi(times: (2 * i + 1) * k, over: n)
                m[k * n + i] = (k == 0 ? alphaZero : alpha).times(cosine).nearestFloat()
            }
        }
        matrices.withLock { $0[n] = m }
        return m
    }

    static func forward(_ x: UnsafeMutablePointer<Float>, geometry g: ChunkGeometry) { apply(x, geometry: g, inverse: false) }
    static func inverse(_ x: UnsafeMutablePointer<Float>, geometry g: ChunkGeometry) { apply(x, geometry: g, inverse: true) }

    private static func plan(rows r: Int, columns c: Int, inverse: Bool) -> Plan {
        let key = PlanKey(rows: r, columns: c, inverse: inverse)
        if let plan = plans.withLock({ $0[key] }) { return plan }
        let dr = matrix(r), dc = matrix(c)
        var left = [Float](repeating: 0, count: r * r)
        for k in 0..<r {
            for i in 0..<r { left[k * r + i] = inverse ? dr[i * r + k] : dr[k * r + i] }
        }
        let stride = VectorKernels.transformMatrixStride(width: c)
        var right = [Float](repeating: 0, count: c * stride)
        for j in 0..<c {
            for l in 0..<c { right[j * stride + l] = inverse ? dc[j * c + l] : dc[l * c + j] }
        }
        let plan = Plan(left: left, right: right)
        plans.withLock { $0[key] = plan }
        return plan
    }

    /// In place on the `rows × columns` matrix `x`.
    private static func apply(_ x: UnsafeMutablePointer<Float>, geometry g: ChunkGeometry, inverse: Bool) {
        guard g.elementCount > 0 else { return }
        let r = g.chunkRows, c = g.chunkColumns
        let plan = plan(rows: r, columns: c, inverse: inverse)
        let bandElements = r * g.columns
        let scratchBytes = VectorKernels.transformScratchBytes(rows: r, width: c)
        nonisolated(unsafe) let x = x
        plan.left.withUnsafeBufferPointer { left in
            plan.right.withUnsafeBufferPointer { right in
                ParallelLoop.forEachRange(count: g.rows / r, minimumChunk: max(1, minimumElementsPerThread / bandElements)) { bands in
                    let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
                    defer { scratch.deallocate() }
                    for band in bands {
                        VectorKernels.transformBand(
                            x + band * bandElements, rowStride: g.columns, rows: r, width: c, segments: g.chunksPerRow,
                            left: left.baseAddress!, right: right.baseAddress!, scratch: scratch)
                    }
                }
            }
        }
    }
}

/// An unevaluated sum `hi + lo` of two doubles (|lo| ≤ ½ ulp(hi)): about 106 bits of precision,
/// enough to round the DCT matrix's entries to float32 correctly. Every operation is a fixed
/// sequence of IEEE double operations (products split exactly with a fused multiply-add, which
/// IEEE 754 defines to the bit), so the results are the same on every CPU.
struct DoubleDouble {
    var hi: Double
    var lo: Double

    init(_ hi: Double, _ lo: Double = 0) {
        self.hi = hi
        self.lo = lo
    }

    /// a + b exactly, as a normalized pair.
    private static func twoSum(_ a: Double, _ b: Double) -> DoubleDouble {
        let s = a + b
        let bb = s - a
        return DoubleDouble(s, (a - (s - bb)) + (b - bb))
    }

    /// a + b exactly when |a| ≥ |b|.
    private static func quickTwoSum(_ a: Double, _ b: Double) -> DoubleDouble {
        let s = a + b
        return DoubleDouble(s, b - (s - a))
    }

    func plus(_ other: DoubleDouble) -> DoubleDouble {
        let s = Self.twoSum(hi, other.hi)
        return Self.quickTwoSum(s.hi, s.lo + lo + other.lo)
    }

    func times(_ other: DoubleDouble) -> DoubleDouble {
        let p = hi * other.hi
        let error = (-p).addingProduct(hi, other.hi)
        return Self.quickTwoSum(p, error + (hi * other.lo + lo * other.hi))
    }

    /// `numerator / denominator` for small integers: the remainder `n − q·d` of the double
    /// quotient is exact, through one fused multiply-add.
    static func quotient(_ numerator: Int, _ denominator: Int) -> DoubleDouble {
        DoubleDouble(Double(numerator)).dividedBy(Double(denominator))
    }

    /// √x by one Newton step from the double square root.
    static func squareRoot(of x: DoubleDouble) -> DoubleDouble {
        let s = x.hi.squareRoot()
        let square = s * s
        let residual = (x.hi - square) - (-square).addingProduct(s, s) + x.lo
        return quickTwoSum(s, residual / (2 * s))
    }

    /// π/2 to about 107 bits.
    private static let halfPi = DoubleDouble(1.5707963267948966, 6.123233995736766e-17)

    /// cos(π/2 · m / n) for m ≥ 0, n ≥ 1, with the angle reduced exactly in integers to [0, π/4]
    /// (so a zero of the cosine is exactly zero).
    static func cosineOfHalfPi(times m: Int, over n: Int) -> DoubleDouble {
        let q = m % (4 * n)
        let quadrant = q / n, p = q % n
        // cos(π/2·(quadrant + p/n)) in terms of φ = π/2·p/n.
        let useSine = quadrant == 1 || quadrant == 3
        let negative = quadrant == 1 || quadrant == 2
        // Past π/4, cos φ = sin(π/2 − φ) and sin φ = cos(π/2 − φ).
        let folded = 2 * p > n
        let numerator = folded ? n - p : p
        let value = (useSine != folded)
            ? sine(halfPi.times(quotient(numerator, n)))
            : cosine(halfPi.times(quotient(numerator, n)))
        return negative ? DoubleDouble(-value.hi, -value.lo) : value
    }

    /// sin x for 0 ≤ x ≤ π/4, by its Taylor series.
    private static func sine(_ x: DoubleDouble) -> DoubleDouble { series(x, startingPower: 1) }

    /// cos x for 0 ≤ x ≤ π/4, by its Taylor series.
    private static func cosine(_ x: DoubleDouble) -> DoubleDouble { series(x, startingPower: 0) }

    /// Σ (−1)^j x^(2j+s) / (2j+s)! over j ≥ 0, summed until the terms fall below 2⁻¹²⁰.
    private static func series(_ x: DoubleDouble, startingPower s: Int) -> DoubleDouble {
        let square = x.times(x)
        var term = s == 0 ? DoubleDouble(1) : x
        var sum = term
        var power = s
        while abs(term.hi) > 0x1p-120 {
            term = term.times(square).dividedBy(Double(-(power + 1) * (power + 2)))
            power += 2
            sum = sum.plus(term)
        }
        return sum
    }

    /// self / d for a small nonzero integer d.
    func dividedBy(_ d: Double) -> DoubleDouble {
        let q = hi / d
        // hi − q·d is exact in one fused multiply-add (q is hi / d correctly rounded).
        let remainder = hi.addingProduct(-q, d) + lo
        return Self.quickTwoSum(q, remainder / d)
    }

    /// The float32 nearest hi + lo (ties to even); an exact zero is +0.
    func nearestFloat() -> Float {
        if hi == 0 { return 0 }
        let f = Float(hi)
        let back = Double(f)
        if back == hi || lo == 0 { return f }
        // hi is the double nearest the value, so Float(hi) is the nearest float unless hi lies
        // exactly halfway between two floats: then lo decides.
        let up = Double(f.nextUp), down = Double(f.nextDown)
        if hi == (back + up) / 2, lo > 0 { return f.nextUp }
        if hi == (back + down) / 2, lo < 0 { return f.nextDown }
        return f
    }
}
