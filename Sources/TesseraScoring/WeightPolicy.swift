public import TesseraCore

/// Turns scores into on-chain weights: the top ``topCount`` share ``topShare`` on a linear ramp
/// (the first gets ``rampRatio`` times the last), the next ``reserveCount`` share the rest,
/// each getting half the previous; an optional burn uid takes ``burnFraction`` first. Only
/// positive scores earn weight; ties are broken by lower uid. Weights sum to 1 when anyone
/// earns (or when there is a burn uid).
public struct WeightPolicy: Hashable, Sendable, Codable {
    /// Peers in the top tier (Templar: 20).
    public var topCount: Int
    /// Share of the top tier (Templar: 0.75).
    public var topShare: Double
    /// First-to-last weight ratio in the top tier (Templar: 2).
    public var rampRatio: Double
    /// Peers in the reserve tier (Templar: 10).
    public var reserveCount: Int
    /// Fraction sent to ``burnUID`` before the rest is shared (default 0).
    public var burnFraction: Double
    /// Receives ``burnFraction`` when set.
    public var burnUID: UID?

    /// Creates a policy (Templar's values by default, no burn).
    public init(topCount: Int = 20, topShare: Double = 0.75, rampRatio: Double = 2, reserveCount: Int = 10,
                burnFraction: Double = 0, burnUID: UID? = nil) {
        self.topCount = topCount
        self.topShare = topShare
        self.rampRatio = rampRatio
        self.reserveCount = reserveCount
        self.burnFraction = burnFraction
        self.burnUID = burnUID
    }

    /// Checks the ranges.
    public func validate() throws {
        guard topCount >= 1, reserveCount >= 0, (0...1).contains(topShare), rampRatio >= 1, (0...1).contains(burnFraction) else {
            throw ScoringError(.invalidConfiguration, "weight policy out of range: top \(topCount), share \(topShare), ramp \(rampRatio), reserves \(reserveCount), burn \(burnFraction)")
        }
    }

    /// The weights for `scores`.
    public func weights(_ scores: [UID: Double]) -> [UID: Double] {
        let ranked = scores.filter { $0.value > 0 && $0.value.isFinite }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
        var raw: [UID: Double] = [:]
        let top = Array(ranked.prefix(topCount))
        if !top.isEmpty {
            // Linear ramp from rampRatio down to 1 over the top tier's positions.
            let positions = top.count
            let ramp = (0..<positions).map { i in positions == 1 ? 1.0 : rampRatio - (rampRatio - 1) * Double(i) / Double(positions - 1) }
            let sum = ramp.reduce(0, +)
            for (i, uid) in top.enumerated() { raw[uid] = topShare * ramp[i] / sum }
        }
        let reserves = Array(ranked.dropFirst(topCount).prefix(reserveCount))
        if !reserves.isEmpty {
            let halves = (0..<reserves.count).map { pow(0.5, Double($0)) }
            let sum = halves.reduce(0, +)
            for (i, uid) in reserves.enumerated() { raw[uid] = (1 - topShare) * halves[i] / sum }
        }
        var out: [UID: Double] = [:]
        // Sum in rank order (never in Dictionary order, which differs between processes).
        let total = (top + reserves).reduce(0.0) { $0 + (raw[$1] ?? 0) }
        let shared = burnUID == nil ? 1.0 : 1 - burnFraction
        if total > 0 { for (uid, w) in raw { out[uid, default: 0] += shared * w / total } }
        if let burn = burnUID, burnFraction > 0 || total == 0 { out[burn, default: 0] += total > 0 ? burnFraction : 1 }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
