#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CTesseraKernels
import TesseraCore

/// The binary arithmetic operations that broadcast.
public enum BinaryOperation: Sendable, Hashable {
    case add, subtract, multiply, divide

    @inline(__always)
    func apply(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .add: a + b
        case .subtract: a - b
        case .multiply: a * b
        case .divide: a / b
        }
    }

    /// The C kernel's code for the operation.
    var kernelCode: tessera_engine_operation {
        switch self {
        case .add: TESSERA_ENGINE_ADD
        case .subtract: TESSERA_ENGINE_SUBTRACT
        case .multiply: TESSERA_ENGINE_MULTIPLY
        case .divide: TESSERA_ENGINE_DIVIDE
        }
    }

    var name: String {
        switch self {
        case .add: "add"
        case .subtract: "subtract"
        case .multiply: "multiply"
        case .divide: "divide"
        }
    }
}

/// Elementwise unary functions.
public enum UnaryFunction: Sendable, Hashable {
    case exp, log, sqrt, rsqrt, silu, gelu, relu, negate

    @inline(__always)
    func apply(_ x: Float) -> Float {
        switch self {
        case .exp: sexp(x)
        case .log: Glibc.logf(x)
        case .sqrt: x.squareRoot()
        case .rsqrt: 1 / x.squareRoot()
        case .silu: x * ssigmoid(x)
        case .gelu: 0.5 * x * (1 + erff(x * 0.707_106_77))
        case .relu: x > 0 ? x : 0
        case .negate: -x
        }
    }

    /// d f(x)/dx given x and y = f(x).
    @inline(__always)
    func derivative(x: Float, y: Float) -> Float {
        switch self {
        case .exp: return y
        case .log: return 1 / x
        case .sqrt: return 0.5 / y
        case .rsqrt: return -0.5 * y * y * y
        case .silu:
            let s = ssigmoid(x)
            return s * (1 + x * (1 - s))
        case .gelu:
            let cdf = 0.5 * (1 + erff(x * 0.707_106_77))
            let pdf = Glibc.expf(-0.5 * x * x) * 0.398_942_28
            return cdf + x * pdf
        case .relu: return x > 0 ? 1 : 0
        case .negate: return -1
        }
    }
}

/// Numpy-style broadcasting of two shapes.
func broadcastShape(_ a: [Int], _ b: [Int], operation: String) throws -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if da == db || db == 1 {
            out[i] = da
        } else if da == 1 {
            out[i] = db
        } else {
            throw TensorError(
                .shapeMismatch,
                "\(operation): shapes \(Shape.describe(a)) and \(Shape.describe(b)) do not broadcast (dimension \(i): \(da) vs \(db))")
        }
    }
    return out
}

/// Strides of `shape` (right-aligned into `rank` dimensions) with 0 where it is broadcast.
func broadcastStrides(_ shape: [Int], into outShape: [Int]) -> [Int] {
    let rank = outShape.count
    var strides = [Int](repeating: 0, count: rank)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let o = i + rank - shape.count
        strides[o] = shape[i] == 1 && outShape[o] != 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// Visits every output index of `outShape`, giving the flat offsets into two broadcast inputs.
func forEachBroadcastIndex(
    _ outShape: [Int], _ stridesA: [Int], _ stridesB: [Int], _ body: (Int, Int, Int) -> Void
) {
    let rank = outShape.count
    let total = Shape.elementCount(outShape) ?? 0
    guard total > 0 else { return }
    if rank == 0 {
        body(0, 0, 0)
        return
    }
    var index = [Int](repeating: 0, count: rank)
    var offA = 0, offB = 0
    let last = rank - 1
    let n = outShape[last], sa = stridesA[last], sb = stridesB[last]
    var out = 0
    while out < total {
        for j in 0..<n { body(out + j, offA + j * sa, offB + j * sb) }
        out += n
        // Advance the outer index.
        var d = last - 1
        while d >= 0 {
            index[d] += 1
            offA += stridesA[d]
            offB += stridesB[d]
            if index[d] < outShape[d] { break }
            offA -= stridesA[d] * outShape[d]
            offB -= stridesB[d] * outShape[d]
            index[d] = 0
            d -= 1
        }
    }
}

extension Tensor {
    /// `lhs op rhs` with numpy broadcasting.
    /// - Throws: ``TensorError`` `.shapeMismatch` naming the dimension that does not broadcast.
    /// - Complexity: O(n); same-shape and trailing-broadcast cases are vectorized and parallel.
    public static func binary(_ operation: BinaryOperation, _ lhs: Tensor, _ rhs: Tensor) throws -> Tensor {
        let outShape = try broadcastShape(lhs.shape, rhs.shape, operation: operation.name)
        let out = Tensor(uninitializedShape: outShape)
        let n = out.scalarCount
        let a = lhs.base, b = rhs.base, c = out.storage.base
        if n == 0 { return out }
        if lhs.shape == rhs.shape {
            let code = operation.kernelCode
            ParallelLoop.forEachRange(count: n, minimumChunk: 1 << 15) { range in
                let o = range.lowerBound
                tessera_engine_binary(code, a + o, b + o, c + o, range.count)
            }
        } else if rhs.scalarCount == 1 || lhs.scalarCount == 1 {
            let scalarOnRight = rhs.scalarCount == 1
            let s = scalarOnRight ? b[0] : a[0]
            let v = scalarOnRight ? a : b
            let code = operation.kernelCode
            ParallelLoop.forEachRange(count: n, minimumChunk: 1 << 15) { range in
                let o = range.lowerBound
                tessera_engine_binary_scalar(code, v + o, s, scalarOnRight ? 0 : 1, c + o, range.count)
            }
        } else if lhs.shape == outShape, rhs.shape.count <= outShape.count,
            Array(outShape.suffix(rhs.shape.count)) == rhs.shape
        {
            let inner = rhs.scalarCount
            let code = operation.kernelCode
            ParallelLoop.forEach(count: n / inner, minimumChunk: max(1, (1 << 15) / inner)) { row in
                let o = row * inner
                tessera_engine_binary(code, a + o, b, c + o, inner)
            }
        } else {
            let sa = broadcastStrides(lhs.shape, into: outShape)
            let sb = broadcastStrides(rhs.shape, into: outShape)
            forEachBroadcastIndex(outShape, sa, sb) { o, i, j in c[o] = operation.apply(a[i], b[j]) }
        }
        return out
    }

    /// Sums `self` (a broadcast result) down to `shape`, the inverse of broadcasting: the
    /// gradient of a broadcast operand.
    func reduced(toBroadcastShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let out = (try? Tensor(zeros: target)) ?? Tensor(scalar: 0)
        let c = out.storage.base
        let a = base
        let targetCount = out.scalarCount
        if target.count <= shape.count, Array(shape.suffix(target.count)) == target, targetCount > 0 {
            let rows = scalarCount / targetCount
            for r in 0..<rows {
                let o = r * targetCount
                for j in 0..<targetCount { c[j] += a[o + j] }
            }
        } else {
            let st = broadcastStrides(target, into: shape)
            let zero = [Int](repeating: 0, count: shape.count)
            forEachBroadcastIndex(shape, st, zero) { o, t, _ in c[t] += a[o] }
        }
        return out
    }

    /// Applies `function` to every element.
    /// - Complexity: O(n), through the dispatched vector kernels for `exp` and `silu`, split across cores when large.
    public func applying(_ function: UnaryFunction) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let n = scalarCount
        let a = base, c = out.storage.base
        ParallelLoop.forEachRange(count: n, minimumChunk: 1 << 15) { range in
            let o = range.lowerBound
            switch function {
            case .exp: tessera_engine_exp(a + o, c + o, range.count)
            case .silu: tessera_engine_silu(a + o, c + o, range.count)
            default: for i in range { c[i] = function.apply(a[i]) }
            }
        }
        return out
    }

    /// `self · alpha` for a scalar `alpha`.
    public func scaled(by alpha: Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let a = base, c = out.storage.base
        ParallelLoop.forEachRange(count: scalarCount, minimumChunk: 1 << 15) { range in
            let o = range.lowerBound
            tessera_engine_binary_scalar(TESSERA_ENGINE_MULTIPLY, a + o, alpha, 0, c + o, range.count)
        }
        return out
    }

    /// Adds `other` (same shape) into `self` in place.
    /// - Throws: ``TensorError`` `.shapeMismatch` if the shapes differ.
    public mutating func add(_ other: Tensor) throws {
        guard shape == other.shape else {
            throw TensorError(.shapeMismatch, "add in place: \(Shape.describe(shape)) vs \(Shape.describe(other.shape))")
        }
        makeUnique()
        let a = storage.base, b = other.base
        ParallelLoop.forEachRange(count: scalarCount, minimumChunk: 1 << 15) { range in
            let o = range.lowerBound
            tessera_engine_accumulate(a + o, b + o, range.count)
        }
    }

    /// `lhs + rhs` with broadcasting; throws ``TensorError`` `.shapeMismatch` if they do not broadcast.
    public static func + (lhs: Tensor, rhs: Tensor) throws -> Tensor { try binary(.add, lhs, rhs) }
    /// `lhs - rhs` with broadcasting.
    public static func - (lhs: Tensor, rhs: Tensor) throws -> Tensor { try binary(.subtract, lhs, rhs) }
    /// `lhs * rhs` elementwise with broadcasting.
    public static func * (lhs: Tensor, rhs: Tensor) throws -> Tensor { try binary(.multiply, lhs, rhs) }
    /// `lhs / rhs` elementwise with broadcasting.
    public static func / (lhs: Tensor, rhs: Tensor) throws -> Tensor { try binary(.divide, lhs, rhs) }
}
