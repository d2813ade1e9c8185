#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Tessera

/// One window of a simulation, as `report.json` records it.
public struct SimulatedWindow: Codable, Hashable, Sendable {
    /// A rejected or penalized upload.
    public struct Rejection: Codable, Hashable, Sendable {
        /// The uid.
        public var uid: UInt16
        /// Its role.
        public var role: String
        /// Why (missing, late, early, invalid: …, copied …).
        public var reason: String
    }

    /// The window.
    public var window: UInt64
    /// The global model's loss on the validator's random samples before the window's outer step.
    public var validatorLoss: Double?
    /// Each honest miner's mean inner-step training loss in the window, by uid.
    public var minerLosses: [String: Double]
    /// The weight of every uid after the window.
    public var weights: [String: Double]
    /// The score of every uid after the window.
    public var scores: [String: Double]
    /// Each evaluated uid's own-data advantage this window (how much more the update improved
    /// the loss on its own samples than on random ones, relative to the latter): the evidence
    /// behind the proof-of-data indicator.
    public var ownAdvantages: [String: Double]
    /// Each evaluated uid's gradient score this window (relative loss improvement on the
    /// validator's random samples).
    public var gradientScores: [String: Double]
    /// Uploads rejected or penalized.
    public var rejected: [Rejection]
    /// The peers aggregated into the outer step.
    public var aggregated: [UInt16]
    /// Whether the validator set weights on chain.
    public var weightsSet: Bool
    /// Wall-clock seconds of the validator's work for the window.
    public var validatorSeconds: Double

    enum CodingKeys: String, CodingKey {
        case window, weights, scores, rejected, aggregated
        case validatorLoss = "validator_loss"
        case minerLosses = "miner_losses"
        case ownAdvantages = "own_advantages"
        case gradientScores = "gradient_scores"
        case weightsSet = "weights_set"
        case validatorSeconds = "validator_seconds"
    }
}

/// A uid's final standing.
public struct FinalWeight: Codable, Hashable, Sendable {
    /// `honest` or the adversary's zoo role.
    public var role: String
    /// The validator's final weight (sums to 1 over uids).
    public var weight: Double
    /// The chain's incentive after the last epoch.
    public var incentive: Double
}

/// What a simulation produced; written as `report.json`.
public struct SimulationReport: Codable, Hashable, Sendable {
    /// The configuration that was run.
    public var configuration: SimulationConfiguration
    /// Per-window records.
    public var windows: [SimulatedWindow]
    /// Final weight, role and incentive per uid.
    public var finalWeights: [String: FinalWeight]
    /// The honest miners' share of the final weight (0…1).
    public var honestWeightShare: Double
    /// The largest final weight of any adversary.
    public var maximumAdversaryWeight: Double
    /// The corpus's exact per-sample loss floor (nats): no model can beat it on average.
    public var entropyFloor: Double
    /// Tokens the honest miners trained on, in total.
    public var tokensTrained: Int
    /// The initial model's loss on the evaluation set.
    public var initialLoss: Double
    /// The final global model's loss on the evaluation set.
    public var finalLoss: Double
    /// A centralized AdamW run's loss on the evaluation set after the same number of tokens
    /// (with `--baseline`).
    public var baselineLoss: Double?
    /// finalLoss / baselineLoss − 1 (with `--baseline`).
    public var gapToBaseline: Double?
    /// finalLoss − entropyFloor.
    public var gapToEntropyFloor: Double
    /// The slowest validator window, wall-clock seconds.
    public var validatorSecondsMaximum: Double
    /// The window's length on the chain's clock, seconds.
    public var windowSeconds: Double
    /// Wall-clock seconds of the whole run.
    public var wallSeconds: Double

    enum CodingKeys: String, CodingKey {
        case configuration, windows
        case finalWeights = "final_weights"
        case honestWeightShare = "honest_weight_share"
        case maximumAdversaryWeight = "maximum_adversary_weight"
        case entropyFloor = "entropy_floor"
        case tokensTrained = "tokens_trained"
        case initialLoss = "initial_loss"
        case finalLoss = "final_loss"
        case baselineLoss = "baseline_loss"
        case gapToBaseline = "gap_to_baseline"
        case gapToEntropyFloor = "gap_to_entropy_floor"
        case validatorSecondsMaximum = "validator_seconds_max"
        case windowSeconds = "window_seconds"
        case wallSeconds = "wall_seconds"
    }

    /// Pretty, key-sorted JSON.
    public func json() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array(try encoder.encode(self))
    }
}
