/// The natural logarithm, exponential and cosine as fixed sequences of IEEE-754 double
/// operations (no C library call, no fused multiply-add), so that every CPU, C library and
/// language computes the same bits — for what two nodes must agree on, such as a model
/// initialized from a seed (Documentation/RandomNumbers.md specifies them step by step, with a
/// Python port that reproduces them exactly).
///
/// Accuracy: within about one ulp of the exact value (they are not correctly rounded: libm's
/// results and these differ in the last bit for a small fraction of inputs).
public enum PortableMath {
    /// ln 2 split so that `k · ln2High` is exact for |k| < 2²⁰: 0x1.62E42FEEp-1 and the rest.
    static let ln2High = 6.93147180369123816490e-01
    static let ln2Low = 1.90821492927058770002e-10
    /// π/2 in three parts: the first two have 33 significant bits (so `n · part` is exact for
    /// n < 2²⁰), the third is the rest rounded.
    static let halfPi1 = 1.57079632673412561417e+00
    static let halfPi2 = 6.07710050630396597660e-11
    static let halfPi3 = 2.02226624879595063154e-21
    static let inverseLn2 = 1.44269504088896338700e+00
    static let twoOverPi = 6.36619772367581382433e-01

    /// 1 / n! rounded to double, for n in 0...20 (n! converted to double first, then divided).
    static let inverseFactorials: [Double] = {
        var factorial: UInt64 = 1
        var out: [Double] = [1]
        for n in 1...20 {
            factorial *= UInt64(n)
            out.append(1.0 / Double(factorial))
        }
        return out
    }()

    /// ln x: NaN for x < 0 or NaN, −∞ for ±0, +∞ for +∞.
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return x }
        var value = x, exponent = 0
        if value.isSubnormal {
            value *= 0x1p54
            exponent = -54
        }
        // value = m · 2^e with m in [√½, √2).
        exponent += Int(value.exponent)
        var m = value.significand
        if m > 1.41421356237309514547 {
            m *= 0.5
            exponent += 1
        }
        let f = m - 1  // exact
        let s = f / (2 + f)
        let z = s * s
        // R = Σ_{k≥1} 2 z^k / (2k + 1), to z^12, by Horner from the innermost term.
        var r = 2.0 / 25.0
        for k in stride(from: 11, through: 1, by: -1) { r = 2.0 / Double(2 * k + 1) + z * r }
        r = z * r
        // ln(1 + f) = 2 atanh(s) = f − (h − s·(h + R)) with h = f²/2.
        let h = 0.5 * f * f
        let k = Double(exponent)
        return k * ln2High - ((h - (s * (h + r) + k * ln2Low)) - f)
    }

    /// eˣ: +∞ above 709.78…, +0 below −745.13…, NaN for NaN.
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709.782712893383973096 { return .infinity }
        if x < -745.133219101941108420 { return 0 }
        let k = (x * inverseLn2).rounded(.toNearestOrEven)
        let high = x - k * ln2High  // exact
        let low = k * ln2Low
        let r = high - low
        // eʳ − 1 − r = r² · Σ_{n≥2} rⁿ⁻² / n!, to r¹⁴.
        var q = inverseFactorials[14]
        for n in stride(from: 13, through: 2, by: -1) { q = inverseFactorials[n] + r * q }
        let y = 1 + (high + ((r * r) * q - low))
        return scale(y, byPowerOfTwo: Int(k))
    }

    /// cos x for finite x (NaN for ±∞ or NaN); the argument reduction is exact enough for
    /// |x| < 2²⁰ · π/2, and still deterministic (if less accurate) beyond.
    public static func cos(_ x: Double) -> Double {
        if !x.isFinite { return .nan }
        let n = (x * twoOverPi).rounded(.toNearestOrEven)
        // x − n·π/2 as r + d, with |d| ≤ ½ ulp(r).
        let a = (x - n * halfPi1) - n * halfPi2
        let t = n * halfPi3
        let r = a - t
        let d = (a - r) - t
        let z = r * r
        let quadrant = Int(n.truncatingRemainder(dividingBy: 4) + 4) % 4
        switch quadrant {
        case 0: return cosKernel(r, d, z)
        case 1: return -sinKernel(r, d, z)
        case 2: return -cosKernel(r, d, z)
        default: return sinKernel(r, d, z)
        }
    }

    /// sin(r + d) for |r| ≤ π/4: r + (d + (r·z·S(z) − ½·z·d)), S(z) = Σ_{k≥1} (−z)^(k−1)·(−1)/(2k+1)!.
    static func sinKernel(_ r: Double, _ d: Double, _ z: Double) -> Double {
        var s = -inverseFactorials[19]
        for k in stride(from: 8, through: 1, by: -1) {
            let c = k % 2 == 0 ? inverseFactorials[2 * k + 1] : -inverseFactorials[2 * k + 1]
            s = c + z * s
        }
        return r + (d + ((r * z) * s - (0.5 * z) * d))
    }

    /// cos(r + d) for |r| ≤ π/4: w + (((1 − w) − h) + (z²·C(z) − r·d)) with h = z/2, w = 1 − h,
    /// C(z) = Σ_{k≥2} (−1)^k z^(k−2) / (2k)!.
    static func cosKernel(_ r: Double, _ d: Double, _ z: Double) -> Double {
        var c = -inverseFactorials[18]
        for k in stride(from: 8, through: 2, by: -1) {
            let coefficient = k % 2 == 0 ? inverseFactorials[2 * k] : -inverseFactorials[2 * k]
            c = coefficient + z * c
        }
        let h = 0.5 * z
        let w = 1 - h
        return w + (((1 - w) - h) + ((z * z) * c - r * d))
    }

    /// y · 2ᵏ, in two exact steps when 2ᵏ alone would leave the normal range.
    static func scale(_ y: Double, byPowerOfTwo k: Int) -> Double {
        if k > 1023 { return y * 0x1p1023 * Double(sign: .plus, exponent: k - 1023, significand: 1) }
        if k < -1022 { return y * 0x1p-1022 * Double(sign: .plus, exponent: k + 1022, significand: 1) }
        return y * Double(sign: .plus, exponent: k, significand: 1)
    }
}
