#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CTesseraKernels
public import TesseraCore

/// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, exactly as
/// `torch.optim.AdamW` computes it:
///
///     θ ← θ · (1 − lr·λ)
///     m ← β₁m + (1 − β₁)g;   v ← β₂v + (1 − β₂)g²
///     θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
///
/// The moments are allocated on the first step. Set ``learningRate`` before each step to follow
/// a schedule.
public struct AdamW: Optimizer, Sendable {
    /// Step size.
    public var learningRate: Float
    /// First-moment decay β₁.
    public var beta1: Float
    /// Second-moment decay β₂.
    public var beta2: Float
    /// Denominator ε.
    public var epsilon: Float
    /// Decoupled weight decay λ.
    public var weightDecay: Float
    /// Steps taken.
    public private(set) var stepCount: Int = 0
    /// First moments (same layout as the parameters once a step was taken).
    public private(set) var firstMoment: ParameterSet?
    /// Second moments.
    public private(set) var secondMoment: ParameterSet?

    /// Creates an optimizer with PyTorch's defaults unless given.
    /// - Throws: ``OptimizerError`` `.invalidHyperparameter` for a negative rate or a β outside [0, 1).
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) throws {
        try Self.validate(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    static func validate(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float) throws {
        guard learningRate >= 0, learningRate.isFinite else { throw OptimizerError(.invalidHyperparameter, "learning rate must be finite and ≥ 0, got \(learningRate)") }
        guard (0..<1).contains(beta1), (0..<1).contains(beta2) else { throw OptimizerError(.invalidHyperparameter, "betas must lie in [0, 1), got (\(beta1), \(beta2))") }
        guard epsilon > 0, epsilon.isFinite else { throw OptimizerError(.invalidHyperparameter, "epsilon must be positive, got \(epsilon)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw OptimizerError(.invalidHyperparameter, "weight decay must be finite and ≥ 0, got \(weightDecay)") }
    }

    public mutating func step(_ parameters: inout ParameterSet, gradients: ParameterSet) throws {
        try Self.validate(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        try OptimizerChecks.requireCompatible(parameters, gradients)
        try OptimizerChecks.requireFinite(gradients)
        var m = firstMoment ?? ParameterSet(zerosLike: parameters.layout)
        var v = secondMoment ?? ParameterSet(zerosLike: parameters.layout)
        guard m.layout == parameters.layout else {
            throw OptimizerError(.layoutMismatch, "optimizer state was created for a different parameter layout")
        }
        firstMoment = nil
        secondMoment = nil
        stepCount += 1
        let t = Float(stepCount)
        let lr = learningRate, b1 = beta1, b2 = beta2, eps = epsilon
        let decay = 1 - lr * weightDecay
        let bias1 = 1 - powf(b1, t)
        let bias2Root = (1 - powf(b2, t)).squareRoot()
        let stepSize = lr / bias1
        let n = parameters.scalarCount
        gradients.withUnsafeBufferPointer { g in
            m.withUnsafeMutableBufferPointer { mb in
                v.withUnsafeMutableBufferPointer { vb in
                    parameters.withUnsafeMutableBufferPointer { pb in
                        let gp = g.baseAddress!, mp = mb.baseAddress!, vp = vb.baseAddress!, pp = pb.baseAddress!
                        let constants = tessera_adamw_constants(
                            beta1: b1, beta2: b2, epsilon: eps, decay: decay, step_size: stepSize, bias2_root: bias2Root)
                        ParallelLoop.forEachRange(count: n, minimumChunk: 1 << 15) { range in
                            let o = range.lowerBound
                            withUnsafePointer(to: constants) { k in
                                tessera_engine_adamw(pp + o, gp + o, mp + o, vp + o, range.count, k)
                            }
                        }
                    }
                }
            }
        }
        firstMoment = m
        secondMoment = v
    }
}

/// Global gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_`.
public enum GradientClipping {
    /// Scales `gradients` so their global L2 norm is at most `maximumNorm`
    /// (by `maximumNorm / (norm + 1e-6)` when the norm exceeds it).
    /// - Returns: The norm before clipping.
    /// - Throws: ``OptimizerError`` `.invalidHyperparameter` if `maximumNorm` is negative or NaN.
    /// - Complexity: O(n).
    @discardableResult
    public static func clipByGlobalNorm(_ gradients: inout ParameterSet, maximumNorm: Float) throws -> Float {
        guard maximumNorm >= 0 else {
            throw OptimizerError(.invalidHyperparameter, "maximum gradient norm must be ≥ 0, got \(maximumNorm)")
        }
        let norm = Float(gradients.norm())
        let coefficient = maximumNorm / (norm + 1e-6)
        if coefficient < 1 { gradients.scale(by: coefficient) }
        return norm
    }
}
