#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit generator with one word of state.
///
/// Specified in Documentation/RandomNumbers.md so any language reproduces it bit for bit:
/// `state ← state + 0x9E3779B97F4A7C15; z ← state; z ← (z ⊕ (z ≫ 30)) · 0xBF58476D1CE4E5B9;
/// z ← (z ⊕ (z ≫ 27)) · 0x94D049BB133111EB; return z ⊕ (z ≫ 31)` (all mod 2⁶⁴).
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable, Codable {
    /// The generator's whole state.
    public private(set) var state: UInt64

    /// A generator whose first output is derived from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna 2018), seeded by four outputs of ``SplitMix64``.
///
/// The default generator for model initialization and synthetic data. Specified in
/// Documentation/RandomNumbers.md with test vectors.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable, Hashable, Codable {
    /// The four state words.
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose state is the first four outputs of `SplitMix64(seed: seed)`.
    public init(seed: UInt64) {
        var mixer = SplitMix64(seed: seed)
        state = (mixer.next(), mixer.next(), mixer.next(), mixer.next())
    }

    /// A generator with the given state (which must not be all zeros).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        self.state = state
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    @inline(__always)
    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public static func == (a: Self, b: Self) -> Bool {
        a.state.0 == b.state.0 && a.state.1 == b.state.1 && a.state.2 == b.state.2 && a.state.3 == b.state.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(state.0); hasher.combine(state.1); hasher.combine(state.2); hasher.combine(state.3)
    }

    private enum CodingKeys: String, CodingKey { case state }

    public init(from decoder: any Decoder) throws {
        let words = try decoder.container(keyedBy: CodingKeys.self).decode([UInt64].self, forKey: .state)
        guard words.count == 4 else {
            throw CoreError(.invalidArgument, "xoshiro256** state needs 4 words, got \(words.count)")
        }
        state = (words[0], words[1], words[2], words[3])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode([state.0, state.1, state.2, state.3], forKey: .state)
    }
}

extension RandomNumberGenerator {
    /// A uniform `Double` in [0, 1): the top 53 bits of one output times 2⁻⁵³.
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal variate by the Box–Muller transform, consuming two outputs:
    /// `u₁ = 1 − nextUnitDouble()` (in (0, 1]), `u₂ = nextUnitDouble()`,
    /// `z = √(−2 ln u₁) · cos(2π u₂)`, computed in `Double` with ``PortableMath``'s `log` and
    /// `cos` (not the C library's), so the same seed gives the same bits on every CPU.
    public mutating func nextStandardNormal() -> Double {
        let u1 = 1.0 - nextUnitDouble()
        let u2 = nextUnitDouble()
        return (-2.0 * PortableMath.log(u1)).squareRoot() * PortableMath.cos(2.0 * Double.pi * u2)
    }

    /// `count` normal variates with the given mean and standard deviation, rounded to `Float`.
    public mutating func normalFloats(count: Int, mean: Float = 0, standardDeviation: Float) -> [Float] {
        (0..<max(0, count)).map { _ in
            Float(Double(mean) + Double(standardDeviation) * nextStandardNormal())
        }
    }
}

/// Uniform integers in `0..<bound` by Lemire's method (arXiv 1805.10941), specified so other
/// languages reproduce it: `m = x · bound` (128-bit); if `low64(m) < bound`, let
/// `t = (2⁶⁴ − bound) mod bound` and redraw while `low64(m) < t`; return `high64(m)`.
public enum BoundedRandom {
    /// A uniform integer in `0..<bound`; 0 (drawing nothing) when `bound` is 0.
    @inline(__always)
    public static func next<G: RandomNumberGenerator>(upTo bound: UInt64, using generator: inout G) -> UInt64 {
        guard bound > 0 else { return 0 }
        var m = generator.next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let t = (0 &- bound) % bound
            while m.low < t { m = generator.next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }
}

