#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#elseif canImport(ucrt)
internal import ucrt
#endif

/// A player's skill belief in the Weng–Lin (OpenSkill) model: a Gaussian with mean ``mu`` and
/// standard deviation ``sigma``.
///
/// New players start at the model's prior, ``PlackettLuce/initialRating`` (μ₀ = 25, σ₀ = 25/3
/// by default). Ratings are plain values: ``PlackettLuce/rate(_:ranks:)`` returns new ones and
/// never mutates its input.
public struct OpenSkillRating: Codable, Hashable, Sendable {
    /// The mean μ of the skill belief.
    public var mu: Double
    /// The standard deviation σ of the skill belief (the uncertainty); positive.
    public var sigma: Double

    /// Creates a rating.
    ///
    /// - Parameters:
    ///   - mu: The mean skill μ; 25 by default, the OpenSkill prior.
    ///   - sigma: The uncertainty σ; 25/3 by default, the OpenSkill prior. Must be positive for
    ///     ``PlackettLuce/rate(_:ranks:)`` to accept the rating.
    public init(mu: Double = 25, sigma: Double = 25.0 / 3.0) {
        self.mu = mu
        self.sigma = sigma
    }

    /// The conservative skill estimate μ − 3σ: the player's true skill is above it with ≈ 99.87%
    /// probability. This is what Templar ranks peers by (`rating.ordinal()` in openskill).
    public var ordinal: Double { ordinal(z: 3) }

    /// The conservative skill estimate μ − z·σ.
    ///
    /// Matches openskill's `ordinal(z, alpha=1, target=0)`.
    ///
    /// - Parameter z: How many standard deviations to subtract; 3 by default.
    /// - Returns: `mu - z * sigma`.
    public func ordinal(z: Double) -> Double {
        mu - z * sigma
    }
}

/// The Weng–Lin Bayesian approximation of the Plackett–Luce ranking model (Weng & Lin, JMLR 12,
/// 2011, Algorithm 4), for matches where every team is one player — computed exactly as the
/// Python `openskill` package's `PlackettLuce.rate` (version 6.2.0) does.
///
/// One call to ``rate(_:ranks:)`` rates one match of k players. In the order openskill uses:
///
/// 1. **Dynamics.** Every σ is inflated first: σᵢ ← √(σᵢ² + τ²).
/// 2. **Sort.** Players are stably sorted by rank (ascending; lower is better) and each rank is
///    truncated toward zero, as openskill's `int(rank)` does — so ranks 1.2 and 1.9 tie.
///    Below, r(i) is player i's truncated rank.
/// 3. **Match constants.**
///    c = √(Σᵢ (σᵢ² + β²)); Aq = |{s : r(s) = r(q)}|;
///    Sq = Σ_{s : r(s) ≥ r(q)} e^{μₛ/c}  (summed in sorted order).
/// 4. **Per player i**, with pᵢ,q = e^{μᵢ/c} / Sq and the sums over q with r(q) ≤ r(i):
///    Ωᵢ = (σᵢ²/c) · Σ_q ([q = i] − pᵢ,q) / Aq,
///    Δᵢ = γᵢ · (σᵢ²/c²) · Σ_q pᵢ,q (1 − pᵢ,q) / Aq,  with γᵢ = σᵢ / c.
/// 5. **Update.** μᵢ ← μᵢ + Ωᵢ; σᵢ ← σᵢ · √max(1 − Δᵢ, κ).
///    (openskill multiplies each term by σᵢ²/σ_team² = 1 for one-player teams; it is kept.)
/// 6. **Optional limit.** With ``limitSigma``, σᵢ ← min(σᵢ, σᵢ before step 1).
///
/// openskill also averages the μ change within each tied group, but in 6.2.0 that step reads
/// the already-updated ratings, so it always adds zero; tied players therefore keep their
/// individual updates here too. Everything is computed in `Double`, in a fixed order, with
/// the same operations as openskill, so results agree to the last few ulps (the tests hold
/// them to 1e-9 against vectors made by the package).
///
/// Parameters: openskill's defaults are μ₀ = 25, σ₀ = 25/3, β = 25/6, κ = 0.0001, τ = 25/300.
/// Templar constructs `PlackettLuce(beta=7, tau=0.1)` — see ``templar`` — and rates each window
/// with `rate(teams, scores=gradient_scores)`, which is ``rate(_:scores:)``.
///
/// Not supported (they do not apply to one-player teams, or are off by default): team weights,
/// `balance`, `margin` (0 by default, when it has no effect), a custom `gamma`, and the per-call
/// `tau` / `limit_sigma` overrides (openskill's `limit_sigma` override also changes the model
/// for later calls; here it is the stored property ``limitSigma``).
public struct PlackettLuce: Codable, Hashable, Sendable {
    /// The prior mean μ₀ given to new players; openskill's default 25.
    public var mu: Double
    /// The prior standard deviation σ₀ given to new players; openskill's default 25/3.
    public var sigma: Double
    /// The performance noise β: how much a single match outcome varies around skill. Larger β
    /// means each match moves ratings less. openskill's default is 25/6 (= σ₀/2); Templar uses 7.
    public var beta: Double
    /// The floor κ on the factor by which σ² may shrink in one match (σ ← σ·√max(1 − Δ, κ)),
    /// keeping the variance positive; openskill's default 0.0001.
    public var kappa: Double
    /// The additive dynamics τ: before each match every σ becomes √(σ² + τ²), so uncertainty
    /// never collapses and ratings keep tracking peers whose skill changes. openskill's default
    /// is 25/300; Templar uses 0.1.
    public var tau: Double
    /// Whether a match may not raise σ: after the update σ ← min(σ_new, σ_before) (openskill's
    /// `limit_sigma`, off by default and in Templar).
    public var limitSigma: Bool

    /// Creates a model. The defaults are the openskill package's.
    ///
    /// - Parameters:
    ///   - mu: Prior mean μ₀ for ``initialRating``; 25.
    ///   - sigma: Prior standard deviation σ₀ for ``initialRating``; 25/3.
    ///   - beta: Performance noise β; 25/6 (Templar: 7).
    ///   - kappa: Variance floor κ; 0.0001.
    ///   - tau: Additive dynamics τ; 25/300 (Templar: 0.1).
    ///   - limitSigma: Keep σ from rising in a match; `false`.
    public init(
        mu: Double = 25,
        sigma: Double = 25.0 / 3.0,
        beta: Double = 25.0 / 6.0,
        kappa: Double = 0.0001,
        tau: Double = 25.0 / 300.0,
        limitSigma: Bool = false
    ) {
        self.mu = mu
        self.sigma = sigma
        self.beta = beta
        self.kappa = kappa
        self.tau = tau
        self.limitSigma = limitSigma
    }

    /// Templar's model: β = 7, τ = 0.1, everything else at openskill's defaults
    /// (μ₀ = 25, σ₀ = 25/3, κ = 0.0001, no sigma limit).
    public static let templar = PlackettLuce(beta: 7, tau: 0.1)

    /// The rating a new player starts with: μ₀ = ``mu``, σ₀ = ``sigma``.
    public var initialRating: OpenSkillRating {
        OpenSkillRating(mu: mu, sigma: sigma)
    }

    /// Checks that the parameters are usable: μ₀ finite, σ₀ > 0, β > 0, κ > 0, τ ≥ 0, all finite.
    ///
    /// ``rate(_:ranks:)`` calls this, so a model decoded from JSON is checked before use.
    ///
    /// - Throws: ``ScoringError`` with code ``ScoringError/Code/invalidConfiguration``.
    public func validate() throws {
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
            if !condition { throw ScoringError(.invalidConfiguration, message()) }
        }
        try require(mu.isFinite, "PlackettLuce.mu must be finite, got \(mu)")
        try require(sigma.isFinite && sigma > 0, "PlackettLuce.sigma must be finite and > 0, got \(sigma)")
        try require(beta.isFinite && beta > 0, "PlackettLuce.beta must be finite and > 0, got \(beta)")
        try require(kappa.isFinite && kappa > 0, "PlackettLuce.kappa must be finite and > 0, got \(kappa)")
        try require(tau.isFinite && tau >= 0, "PlackettLuce.tau must be finite and >= 0, got \(tau)")
    }

    /// Rates one match of single-player teams.
    ///
    /// Implements the update in the type's documentation, as openskill's
    /// `PlackettLuce.rate([[r] for r in ratings], ranks=ranks)`.
    ///
    /// openskill rejects matches with fewer than two teams; here a single player is accepted and
    /// only gets the τ inflation (the formulas give Ω = Δ = 0 for k = 1).
    ///
    /// - Parameters:
    ///   - ratings: Each player's rating before the match, in any order.
    ///   - ranks: Each player's placing, parallel to `ratings`; lower is better, equal values
    ///     tie. Values are truncated toward zero before comparing, as openskill does.
    /// - Returns: The players' new ratings, in the order of `ratings`.
    /// - Throws: ``ScoringError`` — ``ScoringError/Code/invalidConfiguration`` if the model's
    ///   parameters are invalid (see ``validate()``); ``ScoringError/Code/invalidEvidence`` if
    ///   the counts differ, there are no players, a number is not finite, or a σ is not positive,
    ///   or if the update overflows (openskill would return NaN there).
    /// - Complexity: O(k²) for k players, plus O(k log k) for the sort.
    public func rate(_ ratings: [OpenSkillRating], ranks: [Double]) throws -> [OpenSkillRating] {
        try validate()
        guard !ratings.isEmpty else {
            throw ScoringError(.invalidEvidence, "OpenSkill match needs at least one player")
        }
        guard ranks.count == ratings.count else {
            throw ScoringError(.invalidEvidence, "OpenSkill match has \(ratings.count) ratings but \(ranks.count) ranks")
        }
        for (index, rating) in ratings.enumerated() {
            guard rating.mu.isFinite else {
                throw ScoringError(.invalidEvidence, "OpenSkill rating \(index) has non-finite mu \(rating.mu)")
            }
            guard rating.sigma.isFinite, rating.sigma > 0 else {
                throw ScoringError(.invalidEvidence, "OpenSkill rating \(index) needs a finite sigma > 0, got \(rating.sigma)")
            }
        }
        for (index, rank) in ranks.enumerated() where !rank.isFinite {
            throw ScoringError(.invalidEvidence, "OpenSkill rank \(index) is not finite: \(rank)")
        }

        let count = ratings.count

        // 1. Dynamics: σ ← √(σ² + τ²), with τ² formed first as openskill does.
        let tauSquared = tau * tau

        // 2. Stable sort by the given rank (index breaks ties, as Python's stable `sorted`),
        //    then truncate toward zero like `int(rank)`.
        let order = (0..<count).sorted { left, right in
            ranks[left] != ranks[right] ? ranks[left] < ranks[right] : left < right
        }
        var mus = [Double](repeating: 0, count: count)
        var sigmas = [Double](repeating: 0, count: count)
        var variances = [Double](repeating: 0, count: count)
        var placing = [Double](repeating: 0, count: count)
        for (position, original) in order.enumerated() {
            let rating = ratings[original]
            let sigma = (rating.sigma * rating.sigma + tauSquared).squareRoot()
            mus[position] = rating.mu
            sigmas[position] = sigma
            variances[position] = sigma * sigma
            placing[position] = ranks[original].rounded(.towardZero)
        }

        // 3. c = √Σ(σ² + β²); S_q = Σ_{r(s) ≥ r(q)} e^{μ_s/c}; A_q = |{s: r(s) = r(q)}|.
        let betaSquared = beta * beta
        var collectiveVariance = 0.0
        for position in 0..<count {
            collectiveVariance += variances[position] + betaSquared
        }
        let c = collectiveVariance.squareRoot()
        let strengths = mus.map { exp($0 / c) }
        var sumQ = [Double](repeating: 0, count: count)
        var started = [Bool](repeating: false, count: count)
        for s in 0..<count {
            for q in 0..<count where placing[s] >= placing[q] {
                if started[q] {
                    sumQ[q] += strengths[s]
                } else {
                    sumQ[q] = strengths[s]
                    started[q] = true
                }
            }
        }
        var tieCounts = [Double](repeating: 0, count: count)
        for q in 0..<count {
            var tied = 0
            for s in 0..<count where placing[s] == placing[q] { tied += 1 }
            tieCounts[q] = Double(tied)
        }

        // 4–6. Ω, Δ and the update, per player.
        var result = [OpenSkillRating](repeating: OpenSkillRating(), count: count)
        for i in 0..<count {
            var omega = 0.0
            var delta = 0.0
            let strength = strengths[i]
            for q in 0..<count {
                let p = strength / sumQ[q]
                if placing[q] <= placing[i] {
                    delta += p * (1 - p) / tieCounts[q]
                    if q == i {
                        omega += (1 - p) / tieCounts[q]
                    } else {
                        omega -= p / tieCounts[q]
                    }
                }
            }
            let variance = variances[i]
            omega *= variance / c
            delta *= variance / (c * c)
            let gamma = variance.squareRoot() / c
            delta *= gamma

            let sigma = sigmas[i]
            let share = (sigma * sigma) / variance  // σ²/σ_team²: 1 for one-player teams.
            let newMu = mus[i] + share * omega
            let shrink = 1 - share * delta
            var newSigma = sigma * (kappa > shrink ? kappa : shrink).squareRoot()
            let original = order[i]
            if limitSigma {
                let before = ratings[original].sigma
                if before < newSigma { newSigma = before }
            }
            guard newMu.isFinite, newSigma.isFinite, newSigma > 0 else {
                throw ScoringError(
                    .invalidEvidence,
                    "OpenSkill update overflowed for player \(original) (mu \(newMu), sigma \(newSigma)); ratings are too far apart"
                )
            }
            result[original] = OpenSkillRating(mu: newMu, sigma: newSigma)
        }
        return result
    }

    /// Rates one match of single-player teams by score: higher is better, equal scores tie.
    ///
    /// This is openskill's `rate(teams, scores=scores)`, Templar's call: the ranks are the
    /// competition ranks of −score (the number of players with a strictly higher score), then
    /// ``rate(_:ranks:)`` runs. openskill's `margin` is 0, so scores carry no margin of victory.
    ///
    /// - Parameters:
    ///   - ratings: Each player's rating before the match.
    ///   - scores: Each player's score, parallel to `ratings`; higher is better.
    /// - Returns: The players' new ratings, in the order of `ratings`.
    /// - Throws: ``ScoringError`` as ``rate(_:ranks:)``, and
    ///   ``ScoringError/Code/invalidEvidence`` if the counts differ or a score is not finite.
    /// - Complexity: O(k²) for k players.
    public func rate(_ ratings: [OpenSkillRating], scores: [Double]) throws -> [OpenSkillRating] {
        guard scores.count == ratings.count else {
            throw ScoringError(.invalidEvidence, "OpenSkill match has \(ratings.count) ratings but \(scores.count) scores")
        }
        for (index, score) in scores.enumerated() where !score.isFinite {
            throw ScoringError(.invalidEvidence, "OpenSkill score \(index) is not finite: \(score)")
        }
        let ranks = scores.map { score in
            Double(scores.reduce(0) { $1 > score ? $0 + 1 : $0 })
        }
        return try rate(ratings, ranks: ranks)
    }
}
