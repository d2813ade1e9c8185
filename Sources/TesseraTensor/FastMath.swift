#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Vectorized single-precision exp (Cephes polynomial after range reduction by ln 2).
/// Relative error ≤ 2 ulp on [-87, 88]; returns 0 below -87.33 and +inf above 88.72.
@inline(__always)
func vexp(_ input: SIMD8<Float>) -> SIMD8<Float> {
    // No clamp: out-of-range lanes produce garbage that the masks below replace.
    let x = input
    // Round x·log2(e) to the nearest integer n with the 1.5·2²³ trick: the integer lands in the
    // low mantissa bits of t, so 2ⁿ needs integer adds and a shift only.
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let t = x * 1.442_695_04 + magic
    let n = t - magic
    var r = x - n * 0.693_359_375
    r = r + n * 2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let y = p * (r * r) + r + 1
    let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    var result = y * unsafeBitCast(bits, to: SIMD8<Float>.self)
    result.replace(with: 0, where: input .< -87.33)
    result.replace(with: .infinity, where: input .> 88.72)
    return result
}

/// Scalar exp with the same algorithm (and operation order) as the engine kernels' exp in
/// TesseraEngineKernels.h, so scalar and array paths agree.
@inline(__always)
func sexp(_ x: Float) -> Float { vexp(SIMD8(repeating: x))[0] }

/// Logistic sigmoid via the fast exp.
@inline(__always)
func ssigmoid(_ x: Float) -> Float { 1 / (1 + sexp(-x)) }
