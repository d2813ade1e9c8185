#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A learning rate as a function of the optimizer step.
///
/// Contract: `learningRate(atStep:)` is a pure function of `step`, counted from 0 for the first
/// update, so every peer computes the same rate for the same step. Steps below 0 are treated as
/// step 0. Use it by setting the optimizer's rate before each update:
///
/// ```swift
/// optimizer.learningRate = schedule.learningRate(atStep: optimizer.stepCount)
/// try optimizer.step(&parameters, gradients: gradients)
/// ```
public protocol LearningRateSchedule: Sendable {
    /// The learning rate for the update numbered `step` (0 for the first update).
    func learningRate(atStep step: Int) -> Float
}

/// The same learning rate at every step.
public struct ConstantLearningRate: LearningRateSchedule, Codable, Hashable, Sendable {
    /// The rate returned at every step.
    public let learningRate: Float

    /// Creates a constant schedule.
    /// - Parameter learningRate: The rate, finite and ≥ 0.
    /// - Throws: ``OptimizerError`` `.invalidHyperparameter` for a negative or non-finite rate.
    public init(_ learningRate: Float) throws {
        try ScheduleChecks.requireRate(learningRate, "learning rate")
        self.learningRate = learningRate
    }

    public func learningRate(atStep step: Int) -> Float { learningRate }

    private enum CodingKeys: String, CodingKey { case learningRate }

    /// Decodes a schedule, validating it as ``init(_:)`` does.
    /// - Throws: `DecodingError.dataCorrupted` if the values are out of range.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let rate = try container.decode(Float.self, forKey: .learningRate)
        self = try ScheduleChecks.decoding(codingPath: decoder.codingPath) { try ConstantLearningRate(rate) }
    }
}

/// Linear warm-up from 0 to a peak rate, then constant at the peak.
///
/// With peak P and warm-up W, step s (from 0) gets
///
///     s < W:  P · (s + 1) / W
///     s ≥ W:  P
///
/// so the first update already uses P / W and step W − 1 reaches P. This is
/// `torch.optim.lr_scheduler.LinearLR(start_factor: 1/W, end_factor: 1, total_iters: W − 1)`.
/// With W = 0 the rate is P from the start.
public struct LinearWarmup: LearningRateSchedule, Codable, Hashable, Sendable {
    /// The rate P reached at the end of the warm-up.
    public let peakLearningRate: Float
    /// The number of warm-up steps W.
    public let warmupSteps: Int

    /// Creates a linear warm-up.
    /// - Parameters:
    ///   - peakLearningRate: P, finite and ≥ 0.
    ///   - warmupSteps: W ≥ 0.
    /// - Throws: ``OptimizerError`` `.invalidHyperparameter` for a value out of range.
    public init(peakLearningRate: Float, warmupSteps: Int) throws {
        try ScheduleChecks.requireRate(peakLearningRate, "peak learning rate")
        try ScheduleChecks.requireSteps(warmupSteps, "warm-up steps")
        self.peakLearningRate = peakLearningRate
        self.warmupSteps = warmupSteps
    }

    public func learningRate(atStep step: Int) -> Float {
        let s = max(step, 0)
        guard s < warmupSteps else { return peakLearningRate }
        return Float(Double(peakLearningRate) * Double(s + 1) / Double(warmupSteps))
    }

    private enum CodingKeys: String, CodingKey { case peakLearningRate, warmupSteps }

    /// Decodes a schedule, validating it as ``init(peakLearningRate:warmupSteps:)`` does.
    /// - Throws: `DecodingError.dataCorrupted` if the values are out of range.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let peak = try container.decode(Float.self, forKey: .peakLearningRate)
        let warmup = try container.decode(Int.self, forKey: .warmupSteps)
        self = try ScheduleChecks.decoding(codingPath: decoder.codingPath) {
            try LinearWarmup(peakLearningRate: peak, warmupSteps: warmup)
        }
    }
}

/// Linear warm-up to a peak rate, cosine decay to a minimum, then constant at the minimum.
///
/// With peak P, minimum M, warm-up W and decay D, step s (from 0) gets
///
///     s < W:          P · (s + 1) / W
///     W ≤ s < W + D:  M + (P − M) · (1 + cos(π · (s − W) / D)) / 2
///     s ≥ W + D:      M
///
/// The rate is evaluated in `Double` and rounded once to `Float`. Step W − 1 and step W both get
/// P (when D > 0); step W + D gets M. Over steps 0 … W + D this equals PyTorch's
/// `SequentialLR([LinearLR(1/W, 1, W − 1), CosineAnnealingLR(T_max: D, eta_min: M)], milestones: [W])`,
/// which, unlike this schedule, turns back up after W + D.
/// With W = 0 decay starts at once; with D = 0 the rate drops from P to M at step W.
public struct WarmupCosineSchedule: LearningRateSchedule, Codable, Hashable, Sendable {
    /// The rate P at the end of the warm-up.
    public let peakLearningRate: Float
    /// The rate M at the end of the decay and afterwards.
    public let minimumLearningRate: Float
    /// The number of warm-up steps W.
    public let warmupSteps: Int
    /// The number of decay steps D.
    public let decaySteps: Int

    /// Creates a warm-up + cosine schedule.
    /// - Parameters:
    ///   - peakLearningRate: P, finite and ≥ 0.
    ///   - warmupSteps: W ≥ 0.
    ///   - decaySteps: D ≥ 0.
    ///   - minimumLearningRate: M with 0 ≤ M ≤ P; 0 unless given.
    /// - Throws: ``OptimizerError`` `.invalidHyperparameter` for a value out of range.
    public init(peakLearningRate: Float, warmupSteps: Int, decaySteps: Int, minimumLearningRate: Float = 0) throws {
        try ScheduleChecks.requireRate(peakLearningRate, "peak learning rate")
        try ScheduleChecks.requireRate(minimumLearningRate, "minimum learning rate")
        guard minimumLearningRate <= peakLearningRate else {
            throw OptimizerError(
                .invalidHyperparameter,
                "minimum learning rate \(minimumLearningRate) exceeds the peak \(peakLearningRate)")
        }
        try ScheduleChecks.requireSteps(warmupSteps, "warm-up steps")
        try ScheduleChecks.requireSteps(decaySteps, "decay steps")
        self.peakLearningRate = peakLearningRate
        self.minimumLearningRate = minimumLearningRate
        self.warmupSteps = warmupSteps
        self.decaySteps = decaySteps
    }

    public func learningRate(atStep step: Int) -> Float {
        let s = max(step, 0)
        let peak = Double(peakLearningRate)
        if s < warmupSteps { return Float(peak * Double(s + 1) / Double(warmupSteps)) }
        let intoDecay = s - warmupSteps  // no overflow: s ≥ warmupSteps ≥ 0
        guard intoDecay < decaySteps else { return minimumLearningRate }
        let minimum = Double(minimumLearningRate)
        let progress = Double(intoDecay) / Double(decaySteps)
        return Float(minimum + (peak - minimum) * (1 + cos(Double.pi * progress)) / 2)
    }

    private enum CodingKeys: String, CodingKey { case peakLearningRate, minimumLearningRate, warmupSteps, decaySteps }

    /// Decodes a schedule, validating it as ``init(peakLearningRate:warmupSteps:decaySteps:minimumLearningRate:)`` does.
    /// - Throws: `DecodingError.dataCorrupted` if the values are out of range.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let peak = try container.decode(Float.self, forKey: .peakLearningRate)
        let minimum = try container.decode(Float.self, forKey: .minimumLearningRate)
        let warmup = try container.decode(Int.self, forKey: .warmupSteps)
        let decay = try container.decode(Int.self, forKey: .decaySteps)
        self = try ScheduleChecks.decoding(codingPath: decoder.codingPath) {
            try WarmupCosineSchedule(
                peakLearningRate: peak, warmupSteps: warmup, decaySteps: decay, minimumLearningRate: minimum)
        }
    }
}

/// Argument checks shared by the schedules.
enum ScheduleChecks {
    static func requireRate(_ rate: Float, _ what: String) throws {
        guard rate >= 0, rate.isFinite else {
            throw OptimizerError(.invalidHyperparameter, "\(what) must be finite and ≥ 0, got \(rate)")
        }
    }

    static func requireSteps(_ steps: Int, _ what: String) throws {
        guard steps >= 0 else { throw OptimizerError(.invalidHyperparameter, "\(what) must be ≥ 0, got \(steps)") }
    }

    /// Runs a validating initializer, turning its error into `DecodingError.dataCorrupted`.
    static func decoding<T>(codingPath: [any CodingKey], _ make: () throws -> T) throws -> T {
        do {
            return try make()
        } catch let error as OptimizerError {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: codingPath, debugDescription: error.message, underlyingError: error))
        }
    }
}
