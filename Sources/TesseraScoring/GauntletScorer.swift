#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import TesseraCore
import TesseraCodec

/// Every parameter of the Gauntlet scorer, with Templar's values as defaults
/// (../shared/PROTOCOL.md, "Scoring").
public struct GauntletConfiguration: Hashable, Sendable, Codable {
    /// Own and random samples evaluated per peer (Templar: 8 each).
    public var evaluationSamples = 8
    /// Scale of a peer's update when applied for evaluation (Templar: 0.2).
    public var evaluationScale: Float = 0.2
    /// Decay of the own-vs-random indicator's moving average (Templar: 0.95).
    public var indicatorDecay = 0.95
    /// With ``indicatorMinimumT`` nil: the own-vs-random indicator is +1 only when the relative improvement on the peer's own
    /// samples exceeds that on the random samples by more than this fraction of the random
    /// improvement's magnitude. Tessera's default 0.1; Templar uses 0, a bare comparison that is a
    /// coin flip for a miner that trained on the wrong data (measured advantage: honest 0.17…1.16,
    /// wrong data −0.35…0.45).
    public var indicatorMargin = 0.1
    /// When set (Tessera's default), the indicator is a Welch t-test instead of a comparison
    /// of two means: per evaluated sample, the relative improvement (L_before − L_after) /
    /// L_before; the indicator is +1 when the own samples' mean improvement exceeds the random
    /// samples' by more than this many standard errors, t = (m_own − m_rand) /
    /// √(s²_own/n_own + s²_rand/n_rand) (sample variances, n − 1). The bare comparison of
    /// batch means is noise when both improvements are small — a miner trained on the wrong
    /// data then passes it in about 40 % of windows and now and then builds a positive average;
    /// the t-test scales the bar by the measured noise. Measured in the default simulation over
    /// six seeds (1,620 honest and 270 wrong-data evaluations): t > 1 for 96.7 % of honest
    /// updates and 18.9 % of wrong-data ones (the margin rule: 99.5 % and 40.7 %). `nil`: the
    /// margin comparison below (Templar's rule with `indicatorMargin` 0).
    public var indicatorMinimumT: Double? = 1.0
    /// Indicator averages at or below this earn no score. Tessera's default 0.1 (an honest miner
    /// passes it after 3 windows); Templar uses 0. A miner must prove, window after window, that it
    /// trains on its own slice before it is paid.
    public var minimumIndicatorAverage = 0.1
    /// Lag (outer steps) at which the sync score reaches 0 (Templar: 5).
    public var syncMaximumLag = 5
    /// Exponent of the sync score (Templar: 2.5).
    public var syncExponent = 2.5
    /// Factor on the score for a missing, late or early upload (Templar: 0.75).
    public var missingPenalty = 0.75
    /// Steps behind beyond which a peer is penalized (Templar: 3).
    public var behindThreshold = 3
    /// Factor for being behind (Templar: 0.75).
    public var behindPenalty = 0.75
    /// Consecutive windows without a valid update after which a peer's state is reset (Templar: 3).
    public var inactiveResetWindows = 3
    /// Copy detection thresholds and penalties (Templar: 0.4 → ×0.5, 0.5 → reset, 0.6 → reset + ban).
    public var copyThreshold = 0.4
    /// Factor on the score of a copier below the reset threshold.
    public var copyPenalty = 0.5
    /// Overlap at which a copier's state is reset.
    public var copyResetThreshold = 0.5
    /// Overlap at which a copier is also banned.
    public var copyBanThreshold = 0.6
    /// Length of a copy ban, in windows (Templar: 200).
    public var banWindows: UInt64 = 200
    /// The OpenSkill model (Templar: β 7, τ 0.1, μ₀ 25, σ₀ 25/3).
    public var openSkill = PlackettLuce.templar
    /// How scores become weights.
    public var weights = WeightPolicy()

    /// Templar's values.
    public init() {}

    /// Checks every range.
    /// - Throws: ``ScoringError`` `.invalidConfiguration`.
    public func validate() throws {
        guard evaluationSamples >= 1, evaluationScale > 0, indicatorMinimumT.map({ $0.isFinite && $0 >= 0 }) ?? true, evaluationScale.isFinite, (0..<1).contains(indicatorDecay),
              syncMaximumLag >= 1, syncExponent > 0, (0...1).contains(missingPenalty), behindThreshold >= 0,
              (0...1).contains(behindPenalty), inactiveResetWindows >= 1, copyThreshold > 0, copyThreshold <= copyResetThreshold,
              copyResetThreshold <= copyBanThreshold, (0...1).contains(copyPenalty)
        else { throw ScoringError(.invalidConfiguration, "Gauntlet configuration out of range") }
        try weights.validate()
    }
}

/// What the Gauntlet scorer remembers between windows; `Codable`, so a validator that restarts
/// from its saved state continues exactly.
public struct GauntletState: Hashable, Sendable, Codable {
    /// OpenSkill ratings.
    public var ratings: [UID: OpenSkillRating] = [:]
    /// Moving average of the own-vs-random indicator.
    public var indicatorAverage: [UID: Double] = [:]
    /// Persistent scores (what weights are computed from).
    public var scores: [UID: Double] = [:]
    /// Consecutive windows without a valid update.
    public var inactiveWindows: [UID: Int] = [:]
    /// Peers banned until a window (exclusive).
    public var bannedUntil: [UID: Window] = [:]
    /// The last window evaluated.
    public var lastWindow: Window?

    /// An empty state.
    public init() {}
}

/// The Gauntlet scorer (Templar; arXiv 2505.21684), hardened.
///
/// Per window: the loss on the validator's random samples before any update, L_rb, is computed
/// once. Per peer with a valid update: the loss on 8 of its own samples (drawn with the
/// validator's randomness, ``evaluationSubset(of:count:randomSampleIDs:uid:)``) before (L_ob); the
/// update applied at 0.2 scale; the losses on its own and the random samples after (L_oa, L_ra);
/// the model restored exactly (only the touched coordinates are saved and put back). Then
///
/// - gradient score `(L_rb − L_ra) / L_rb`;
/// - indicator (proof it trained on its own slice): by default `+1` if Welch's t statistic of
///   the per-sample relative improvements, own samples against random ones, exceeds
///   ``GauntletConfiguration/indicatorMinimumT`` (1.0), else `−1` — each evaluated sample's
///   loss is then also measured on its own; with that option off, Templar's comparison of
///   `(L_ob − L_oa)/L_ob` with `(L_rb − L_ra)/L_rb` plus a margin. Its moving average
///   `MA ← 0.95·MA + 0.05·indicator`;
/// - sync `max(0, 1 − min(lag, 5)/5)^2.5`;
/// - an OpenSkill Plackett–Luce match per window ranked by gradient score;
/// - `score = ordinal · max(0, MA) · sync` when `MA` exceeds
///   ``GauntletConfiguration/minimumIndicatorAverage``, times penalties.
///
/// Missing, late or early uploads multiply the score by 0.75; three windows in a row reset the
/// peer. Invalid uploads zero it. Copies (``CopyDetector``) are penalized, reset or banned.
public struct GauntletScorer: Scorer {
    /// The parameters.
    public let configuration: GauntletConfiguration
    /// The state carried between windows.
    public var state: GauntletState

    /// Creates a scorer.
    /// - Throws: ``ScoringError`` `.invalidConfiguration`.
    public init(configuration: GauntletConfiguration = GauntletConfiguration(), state: GauntletState = GauntletState()) throws {
        try configuration.validate()
        self.configuration = configuration
        self.state = state
    }

    /// Scores a window. If anything throws, the state is left exactly as it was.
    public mutating func evaluate(_ evidence: WindowEvidence) throws -> WindowScores {
        let saved = state
        do {
            return try evaluateUpdatingState(evidence)
        } catch {
            state = saved
            throw error
        }
    }

    /// The peer's own samples that are evaluated: `evaluationSamples` of its slice chosen by a
    /// partial Fisher–Yates shuffle with xoshiro256** seeded by XXH64(the validator's random
    /// sample ids as u64le, seed: uid) — unknown to the miner while it trains, so it cannot
    /// concentrate its work on the few samples that will be checked.
    public static func evaluationSubset(of own: [UInt64], count: Int, randomSampleIDs: [UInt64], uid: UID) -> [UInt64] {
        guard own.count > count else { return own }
        let words = randomSampleIDs.map(\.littleEndian)
        let seed = words.withUnsafeBytes { XXHash64.hash($0, seed: UInt64(uid.rawValue)) }
        var generator = Xoshiro256StarStar(seed: seed)
        var pool = own
        for i in 0..<count {
            let j = i + Int(BoundedRandom.next(upTo: UInt64(pool.count - i), using: &generator))
            pool.swapAt(i, j)
        }
        return Array(pool[0..<count])
    }

    private mutating func evaluateUpdatingState(_ evidence: WindowEvidence) throws -> WindowScores {
        let c = configuration
        let uids = evidence.peers.map(\.uid)
        guard Set(uids).count == uids.count else { throw ScoringError(.invalidEvidence, "a peer appears twice in window \(evidence.window)") }
        let peers = evidence.peers.sorted { $0.uid < $1.uid }
        let randomIDs = Array(evidence.randomSampleIDs.prefix(c.evaluationSamples))
        guard !randomIDs.isEmpty else { throw ScoringError(.invalidEvidence, "no random samples to evaluate on") }
        let randomBatch = try evidence.data.tokenBatch(randomIDs)
        var working = evidence.model
        let randomBefore = Double(try working.loss(randomBatch))
        guard randomBefore.isFinite, randomBefore > 0 else { throw ScoringError(.modelFailure, "the model's loss on the random samples is \(randomBefore)") }
        let randomSingles = try c.indicatorMinimumT == nil ? [] : randomIDs.map { try evidence.data.tokenBatch([$0]) }
        let randomSinglesBefore = try randomSingles.map { Double(try working.loss($0)) }

        var updates: [(uid: UID, update: SparseUpdate, uploadTime: Double)] = []
        for p in peers { if case .update(let u) = p.submission { updates.append((p.uid, u, p.uploadTime ?? 0)) } }
        let copies = CopyDetector(threshold: c.copyThreshold).offenders(updates)

        var results: [UID: PeerScore] = [:]
        var match: [(uid: UID, gradientScore: Double)] = []
        var pending: [UID: (sync: Double, penalty: Double)] = [:]
        for p in peers {
            var reasons: [ScoreReason] = []
            if let until = state.bannedUntil[p.uid], evidence.window < until {
                state.scores[p.uid] = 0
                results[p.uid] = PeerScore(uid: p.uid, score: 0, gradientScore: nil, indicator: nil, ownAdvantage: nil, sync: 0, reasons: [.banned(until: until)])
                continue
            }
            switch p.submission {
            case .missing, .late, .early:
                reasons.append(p.submission.reason)
                state.scores[p.uid, default: 0] *= c.missingPenalty
                let inactive = state.inactiveWindows[p.uid, default: 0] + 1
                state.inactiveWindows[p.uid] = inactive
                if inactive >= c.inactiveResetWindows { reset(p.uid) }
                results[p.uid] = PeerScore(uid: p.uid, score: state.scores[p.uid, default: 0], gradientScore: nil, indicator: nil, ownAdvantage: nil, sync: 0, reasons: reasons)
            case .invalid(let why):
                state.scores[p.uid] = 0
                state.inactiveWindows[p.uid, default: 0] += 1
                results[p.uid] = PeerScore(uid: p.uid, score: 0, gradientScore: nil, indicator: nil, ownAdvantage: nil, sync: 0, reasons: [.invalid(why)])
            case .update(let update):
                state.inactiveWindows[p.uid] = 0
                try ModelPatch.requireMatch(update, working.parameters.layout)
                let ownIDs = Self.evaluationSubset(of: p.ownSampleIDs, count: c.evaluationSamples, randomSampleIDs: evidence.randomSampleIDs, uid: p.uid)
                let (gradientScore, indicator, advantage) = try evaluate(
                    update, ownIDs: ownIDs, data: evidence.data, randomBatch: randomBatch, randomBefore: randomBefore,
                    randomSingles: zip(randomSingles, randomSinglesBefore).map { ($0, $1) }, model: &working)
                let ma = c.indicatorDecay * state.indicatorAverage[p.uid, default: 0] + (1 - c.indicatorDecay) * indicator
                state.indicatorAverage[p.uid] = ma
                let lag = max(0, p.stepsBehind ?? 0)
                let sync = pow(max(0, 1 - Double(min(lag, c.syncMaximumLag)) / Double(c.syncMaximumLag)), c.syncExponent)
                var penalty = 1.0
                if lag > c.behindThreshold {
                    penalty *= c.behindPenalty
                    reasons.append(.behind(steps: lag))
                }
                match.append((p.uid, gradientScore))
                pending[p.uid] = (sync, penalty)
                results[p.uid] = PeerScore(uid: p.uid, score: 0, gradientScore: gradientScore, indicator: indicator, ownAdvantage: advantage, sync: sync, reasons: [.evaluated] + reasons)
            }
        }

        // One OpenSkill match among the evaluated peers, ranked by gradient score.
        if match.count >= 2 {
            let ordered = match.sorted { $0.uid < $1.uid }
            let ratings = ordered.map { state.ratings[$0.uid] ?? c.openSkill.initialRating }
            let updated = try c.openSkill.rate(ratings, scores: ordered.map(\.gradientScore))
            for (entry, rating) in zip(ordered, updated) { state.ratings[entry.uid] = rating }
        } else if let only = match.first, state.ratings[only.uid] == nil {
            state.ratings[only.uid] = c.openSkill.initialRating
        }
        for (uid, (sync, penalty)) in pending {
            let average = state.indicatorAverage[uid, default: 0]
            var score = average > c.minimumIndicatorAverage ? (state.ratings[uid]?.ordinal ?? 0) * max(0, average) * sync * penalty : 0
            if let copy = copies[uid] {
                results[uid]?.reasons.append(.copied(from: copy.source, overlap: copy.overlap))
                if copy.overlap >= c.copyResetThreshold {
                    reset(uid)
                    score = 0
                    if copy.overlap >= c.copyBanThreshold {
                        state.bannedUntil[uid] = Window(rawValue: evidence.window.rawValue &+ c.banWindows)
                    }
                } else {
                    score *= c.copyPenalty
                }
            }
            state.scores[uid] = score
            results[uid]?.score = score
        }
        state.lastWindow = evidence.window
        for (uid, until) in state.bannedUntil where evidence.window >= until { state.bannedUntil[uid] = nil }
        let eligible = state.scores.filter { state.bannedUntil[$0.key] == nil }
        return WindowScores(
            window: evidence.window, peers: results.values.sorted { $0.uid < $1.uid },
            weights: c.weights.weights(eligible), randomLossBefore: randomBefore)
    }

    private mutating func reset(_ uid: UID) {
        state.ratings[uid] = nil
        state.indicatorAverage[uid] = nil
        state.scores[uid] = 0
        state.inactiveWindows[uid] = 0
    }

    /// Losses before and after applying `update` at the evaluation scale; the model is restored
    /// exactly afterwards. Returns the gradient score, the indicator and the own-data advantage
    /// (the t statistic under ``GauntletConfiguration/indicatorMinimumT``, else the difference
    /// of relative improvements over the random one's magnitude). A batch loss for the gradient
    /// score; with the t-test, each own and random sample on its own, else the own samples as a
    /// batch.
    private func evaluate(
        _ update: SparseUpdate, ownIDs: [UInt64], data: any TokenBatchProvider, randomBatch: TokenBatch,
        randomBefore: Double, randomSingles: [(batch: TokenBatch, before: Double)], model: inout any TrainableModel
    ) throws -> (Double, Double, Double?) {
        // The own samples as one batch serve only the margin rule; the t-test measures them one by one.
        let ownBatch = ownIDs.isEmpty || configuration.indicatorMinimumT != nil ? nil : try data.tokenBatch(ownIDs)
        var ownBefore: Double?
        if let ownBatch { ownBefore = Double(try model.loss(ownBatch)) }
        let ownSingles = try configuration.indicatorMinimumT == nil ? [] : ownIDs.map { try data.tokenBatch([$0]) }
        let ownSinglesBefore = try ownSingles.map { Double(try model.loss($0)) }
        let saved = try ModelPatch.apply(update, scale: -configuration.evaluationScale, to: &model.parameters)
        defer { ModelPatch.restore(saved, to: &model.parameters) }
        let randomAfter = Double(try model.loss(randomBatch))
        var ownAfter: Double?
        if let ownBatch { ownAfter = Double(try model.loss(ownBatch)) }
        guard randomAfter.isFinite else { return (-1, -1, nil) }
        let gradientScore = (randomBefore - randomAfter) / randomBefore
        var indicator = -1.0
        var advantage: Double?
        if let minimumT = configuration.indicatorMinimumT {
            guard !ownSingles.isEmpty else { return (gradientScore, indicator, nil) }
            let own = try zip(ownSingles, ownSinglesBefore).map { (batch, before) in Self.relativeImprovement(before, Double(try model.loss(batch))) }
            let random = try randomSingles.map { Self.relativeImprovement($0.before, Double(try model.loss($0.batch))) }
            let t = Self.welchT(own, random)
            advantage = t
            if t > minimumT { indicator = 1 }
        } else if let before = ownBefore, let after = ownAfter, before > 0, after.isFinite {
            let own = (before - after) / before
            advantage = (own - gradientScore) / max(abs(gradientScore), 1e-12)
            if own > gradientScore + configuration.indicatorMargin * abs(gradientScore) { indicator = 1 }
        }
        return (gradientScore, indicator, advantage)
    }

    /// (before − after) / before; a non-finite or non-positive loss counts as no improvement
    /// (−1 when the update made the loss non-finite).
    static func relativeImprovement(_ before: Double, _ after: Double) -> Double {
        guard before.isFinite, before > 0 else { return 0 }
        guard after.isFinite else { return -1 }
        return (before - after) / before
    }

    /// Welch's t statistic of mean(a) − mean(b), sample variances with n − 1 (0 for one
    /// sample), sums in order in `Double`. 0 when both means are equal; ±∞ avoided by a
    /// standard-error floor of 1e-12.
    public static func welchT(_ a: [Double], _ b: [Double]) -> Double {
        func moments(_ x: [Double]) -> (mean: Double, variance: Double) {
            guard !x.isEmpty else { return (0, 0) }
            let mean = x.reduce(0, +) / Double(x.count)
            guard x.count > 1 else { return (mean, 0) }
            let squares = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            return (mean, squares / Double(x.count - 1))
        }
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        let (ma, va) = moments(a), (mb, vb) = moments(b)
        let standardError = max((va / Double(a.count) + vb / Double(b.count)).squareRoot(), 1e-12)
        return (ma - mb) / standardError
    }
}

/// Applies a sparse update to parameters in place, remembering exactly what it overwrote.
enum ModelPatch {
    /// Throws unless the update's tensors are the model's.
    static func requireMatch(_ update: SparseUpdate, _ layout: ParameterLayout) throws {
        guard update.tensors.count == layout.descriptors.count,
              zip(update.tensors, layout.descriptors).allSatisfy({ $0.name == $1.name && $0.shape == $1.shape })
        else { throw ScoringError(.invalidEvidence, "an update does not match the model's layout") }
    }

    /// What to write back: flat offsets and their previous values, or whole tensor ranges.
    struct Saved {
        var offsets: [Int] = []
        var values: [Float] = []
        var ranges: [(Range<Int>, [Float])] = []
    }

    /// `parameters += scale · update`; returns the overwritten values.
    static func apply(_ update: SparseUpdate, scale: Float, to parameters: inout ParameterSet) throws -> Saved {
        try requireMatch(update, parameters.layout)
        for t in update.tensors { try t.validate() }
        var saved = Saved()
        if update.transform == .dct {
            // A DCT update touches whole tensors: save those ranges, then add densely.
            for d in parameters.layout.descriptors {
                saved.ranges.append((d.range, Array(parameters.scalars[d.range])))
            }
            try update.addScaled(scale, into: &parameters)
            return saved
        }
        let descriptors = parameters.layout.descriptors
        guard update.tensors.count == descriptors.count else {
            throw CodecError(.layoutMismatch, "update has \(update.tensors.count) tensors, the model \(descriptors.count)")
        }
        parameters.withUnsafeMutableBufferPointer { flat in
            for (tensor, d) in zip(update.tensors, descriptors) {
                let g = tensor.geometry, k = tensor.k
                for chunk in 0..<g.chunkCount {
                    let origin = d.offset + g.chunkOrigin(chunk)
                    for j in (chunk * k)..<(chunk * k + k) {
                        let local = Int(tensor.indices[j])
                        let offset = origin + (local / g.chunkColumns) * g.columns + local % g.chunkColumns
                        saved.offsets.append(offset)
                        saved.values.append(flat[offset])
                        flat[offset] += scale * tensor.values[j]
                    }
                }
            }
        }
        return saved
    }

    /// Writes the saved values back (in reverse, so repeated offsets end at their first value).
    static func restore(_ saved: Saved, to parameters: inout ParameterSet) {
        parameters.withUnsafeMutableBufferPointer { flat in
            for i in stride(from: saved.offsets.count - 1, through: 0, by: -1) { flat[saved.offsets[i]] = saved.values[i] }
            for (range, values) in saved.ranges { for (i, v) in zip(range, values) { flat[i] = v } }
        }
    }
}
