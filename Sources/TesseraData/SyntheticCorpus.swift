#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TesseraCore

/// A seeded variable-order Markov source of tokens whose entropy rate is computed exactly: the
/// loss floor no model can beat, so training can report its gap to the floor.
///
/// **The source.** Each token `a` is either order-1 (the next token depends on `a` only) or,
/// with probability ``Configuration/extendedFraction``, order-2 (it also depends on the group
/// `x mod groups` of the token `x` before `a`). Each context — `(a)` or `(a, g)` — has its own
/// next-token distribution over a random support of ``Configuration/support`` tokens with
/// log-normal weights `exp(σ·N(0,1))`. The process is a Markov chain over these contexts; its
/// stationary distribution π is found by power iteration (lazy, so it converges for any chain),
/// and the entropy rate is `Σ_s π(s)·H(p_s)` in nats.
///
/// **Samples.** Sample `i` is generated on the fly from its own seeded generator: a start
/// context drawn from π, then `sampleLength` tokens. Any index is available at any time; nothing
/// is stored but the distributions.
///
/// Construction is specified in Documentation/Sampling.md ("Synthetic corpus").
public struct SyntheticCorpus: TokenSource {
    /// The source's parameters.
    public struct Configuration: Hashable, Sendable, Codable {
        /// Vocabulary size V (2…65,536).
        public var vocabularySize: Int
        /// Tokens each context can emit (1…V).
        public var support: Int
        /// Fraction of tokens whose successor also depends on the group of their predecessor.
        public var extendedFraction: Double
        /// Number of predecessor groups for order-2 tokens (≥ 1).
        public var groups: Int
        /// Log-normal weight spread σ (larger: more peaked, lower entropy).
        public var concentration: Double
        /// Seed of the distributions and samples.
        public var seed: UInt64

        /// Creates a configuration.
        public init(vocabularySize: Int = 256, support: Int = 16, extendedFraction: Double = 0.5, groups: Int = 4,
                    concentration: Double = 1.5, seed: UInt64 = 0) {
            self.vocabularySize = vocabularySize
            self.support = support
            self.extendedFraction = extendedFraction
            self.groups = groups
            self.concentration = concentration
            self.seed = seed
        }

        /// Checks the ranges.
        /// - Throws: ``DataError`` `.invalidArgument`.
        public func validate() throws {
            guard (2...65_536).contains(vocabularySize) else { throw DataError(.invalidArgument, "vocabulary size must be in 2…65536, got \(vocabularySize)") }
            guard (1...vocabularySize).contains(support) else { throw DataError(.invalidArgument, "support must be in 1…\(vocabularySize), got \(support)") }
            guard (0...1).contains(extendedFraction) else { throw DataError(.invalidArgument, "extended fraction must be in [0, 1], got \(extendedFraction)") }
            guard (1...256).contains(groups) else { throw DataError(.invalidArgument, "groups must be in 1…256, got \(groups)") }
            guard concentration.isFinite, concentration >= 0, concentration <= 20 else { throw DataError(.invalidArgument, "concentration must be in [0, 20], got \(concentration)") }
            let states = vocabularySize * (1 + groups)
            guard states * support <= 1 << 26 else { throw DataError(.invalidArgument, "vocabulary × groups × support is too large for an exact entropy computation") }
        }
    }

    /// The parameters.
    public let configuration: Configuration
    /// Tokens per sample (L).
    public let sampleLength: Int
    /// Samples offered (any number: they are generated on demand).
    public let sampleCount: Int
    /// The exact entropy rate of the source, in nats per token: the loss floor.
    public let entropyRate: Double
    /// The expected mean loss per predicted position of a perfect model that sees only the
    /// sample (slightly above ``entropyRate``: the first prediction cannot see the context
    /// before the sample).
    public let sampleLossFloor: Double

    let extended: [Bool]
    let stateOffset: [Int]
    let stateToken: [Int32]
    let supportTokens: [Int32]      // states × support
    let cumulative: [Double]        // states × support, last entry of each row = 1
    let stationaryCumulative: [Double]

    /// Builds the source and computes its entropy.
    /// - Throws: ``DataError`` `.invalidArgument` for a bad configuration or size.
    /// - Complexity: O(V · groups · support · iterations) once; sampling is O(L · support).
    public init(configuration c: Configuration, sampleLength: Int, sampleCount: Int) throws {
        try c.validate()
        guard sampleLength > 0, sampleCount >= 0 else {
            throw DataError(.invalidArgument, "sample length must be positive and sample count ≥ 0")
        }
        var rng = Xoshiro256StarStar(seed: c.seed)
        let V = c.vocabularySize, G = c.groups, m = c.support
        var extended = [Bool](repeating: false, count: V)
        var offset = [Int](repeating: 0, count: V)
        var states = 0
        for a in 0..<V {
            extended[a] = rng.nextUnitDouble() < c.extendedFraction
            offset[a] = states
            states += extended[a] ? G : 1
        }
        var stateToken = [Int32](repeating: 0, count: states)
        for a in 0..<V { for g in 0..<(extended[a] ? G : 1) { stateToken[offset[a] + g] = Int32(a) } }
        var supportTokens = [Int32](repeating: 0, count: states * m)
        var probabilities = [Double](repeating: 0, count: states * m)
        var cumulative = [Double](repeating: 0, count: states * m)
        for s in 0..<states {
            let tokens = try DeterministicSliceSampler.draw(count: m, from: UInt64(V), using: &rng)
            var weights = (0..<m).map { _ in PortableMath.exp(c.concentration * rng.nextStandardNormal()) }
            let total = weights.reduce(0, +)
            for j in 0..<m { weights[j] /= total }
            var running = 0.0
            for j in 0..<m {
                supportTokens[s * m + j] = Int32(tokens[j])
                probabilities[s * m + j] = weights[j]
                running += weights[j]
                cumulative[s * m + j] = running
            }
            cumulative[s * m + m - 1] = 1
        }
        func next(from s: Int, emitting z: Int) -> Int {
            extended[z] ? offset[z] + Int(stateToken[s]) % G : offset[z]
        }
        // Stationary distribution of the lazy chain (same π, always aperiodic).
        var pi = [Double](repeating: 1 / Double(states), count: states)
        var nextPi = pi
        for _ in 0..<20_000 {
            for i in 0..<states { nextPi[i] = 0.5 * pi[i] }
            for s in 0..<states where pi[s] > 0 {
                let w = 0.5 * pi[s]
                for j in 0..<m {
                    nextPi[next(from: s, emitting: Int(supportTokens[s * m + j]))] += w * probabilities[s * m + j]
                }
            }
            var change = 0.0
            for i in 0..<states { change += abs(nextPi[i] - pi[i]) }
            swap(&pi, &nextPi)
            if change < 1e-14 { break }
        }
        func entropy(_ p: ArraySlice<Double>) -> Double { p.reduce(0) { $1 > 0 ? $0 - $1 * log($1) : $0 } }
        var rate = 0.0
        for s in 0..<states { rate += pi[s] * entropy(probabilities[(s * m)..<(s * m + m)]) }
        // First prediction: the context's group is hidden; predict with the mixture over groups.
        var first = 0.0
        for a in 0..<V {
            let n = extended[a] ? G : 1
            let mass = (0..<n).reduce(0.0) { $0 + pi[offset[a] + $1] }
            guard mass > 0 else { continue }
            var mixture: [Int32: Double] = [:]
            for g in 0..<n {
                let s = offset[a] + g
                for j in 0..<m { mixture[supportTokens[s * m + j], default: 0] += pi[s] / mass * probabilities[s * m + j] }
            }
            first += mass * entropy(ArraySlice(mixture.values.sorted()))
        }
        var stationaryCumulative = [Double](repeating: 0, count: states)
        var running = 0.0
        for s in 0..<states {
            running += pi[s]
            stationaryCumulative[s] = running
        }
        stationaryCumulative[states - 1] = 1
        self.configuration = c
        self.sampleLength = sampleLength
        self.sampleCount = sampleCount
        self.entropyRate = rate
        self.sampleLossFloor = (first + Double(sampleLength - 1) * rate) / Double(sampleLength)
        self.extended = extended
        self.stateOffset = offset
        self.stateToken = stateToken
        self.supportTokens = supportTokens
        self.cumulative = cumulative
        self.stationaryCumulative = stationaryCumulative
    }

    /// The generator of sample `index`: xoshiro256** seeded with seed + 0x9E3779B97F4A7C15·(index + 1).
    static func sampleGenerator(seed: UInt64, index: Int) -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1))
    }

    public func readSample(_ index: Int, into buffer: UnsafeMutableBufferPointer<Int32>) throws {
        try checkSample(index, buffer)
        var rng = Self.sampleGenerator(seed: configuration.seed, index: index)
        let m = configuration.support, G = configuration.groups
        var state = Self.search(stationaryCumulative, 0, stationaryCumulative.count, rng.nextUnitDouble())
        buffer[0] = stateToken[state]
        for t in 1...sampleLength {
            let j = Self.search(cumulative, state * m, m, rng.nextUnitDouble()) - state * m
            let z = Int(supportTokens[state * m + j])
            buffer[t] = Int32(z)
            state = extended[z] ? stateOffset[z] + Int(stateToken[state]) % G : stateOffset[z]
        }
    }

    /// The first index in `start..<start+count` whose cumulative value exceeds `u`.
    @inline(__always)
    static func search(_ c: [Double], _ start: Int, _ count: Int, _ u: Double) -> Int {
        var lo = start, hi = start + count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if c[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
