public import TesseraCore

/// Stochastic gradient descent with optional momentum, dampening, coupled (L2) weight decay and
/// Nesterov momentum, exactly as `torch.optim.SGD` computes it. With gradient g, parameters θ,
/// learning rate lr, weight decay λ, momentum μ and dampening τ, step t (from 1) computes:
///
///     d ← g + λθ
///     if μ ≠ 0:
///         b ← d                      at t = 1 (the buffer starts as the first d, undampened)
///         b ← μb + (1 − τ)d          at t > 1
///         d ← d + μb   if nesterov,  else  d ← b
///     θ ← θ − lr · d
///
/// Weight decay is *coupled*: λθ is added to the gradient (and so enters the momentum buffer),
/// unlike ``AdamW``'s decoupled decay. The momentum buffer is allocated on the first step that
/// has μ ≠ 0. Set ``learningRate`` before each step to follow a ``LearningRateSchedule``:
///
/// ```swift
/// optimizer.learningRate = schedule.learningRate(atStep: optimizer.stepCount)
/// try optimizer.step(&parameters, gradients: gradients)
/// ```
public struct SGD: Optimizer, Sendable {
    /// Step size lr.
    public var learningRate: Float
    /// Momentum factor μ in [0, 1); 0 disables momentum.
    public var momentum: Float
    /// Dampening τ in [0, 1], applied to the gradient in the momentum update from the second step on.
    public var dampening: Float
    /// Coupled (L2) weight decay λ, added to the gradient as λθ.
    public var weightDecay: Float
    /// Whether to use Nesterov momentum; requires μ > 0 and τ = 0.
    public var nesterov: Bool
    /// Steps taken.
    public private(set) var stepCount: Int = 0
    /// The momentum buffer b (same layout as the parameters once a step with momentum was taken),
    /// or `nil` before that and whenever momentum is 0.
    public private(set) var momentumBuffer: ParameterSet?

    /// Creates an optimizer with PyTorch's defaults unless given: learning rate 1e-3, no momentum,
    /// no dampening, no weight decay and no Nesterov momentum.
    /// - Parameters:
    ///   - learningRate: Step size lr, finite and ≥ 0.
    ///   - momentum: Momentum factor μ in [0, 1).
    ///   - dampening: Dampening τ in [0, 1].
    ///   - weightDecay: Coupled weight decay λ, finite and ≥ 0.
    ///   - nesterov: Whether to use Nesterov momentum (default `false`).
    /// - Throws: ``OptimizerError`` `.invalidHyperparameter` for a value out of range, or for
    ///   `nesterov` without momentum (μ = 0) or with dampening (τ ≠ 0), as PyTorch rejects.
    public init(
        learningRate: Float = 1e-3, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0,
        nesterov: Bool = false
    ) throws {
        try Self.validate(
            learningRate: learningRate, momentum: momentum, dampening: dampening, weightDecay: weightDecay,
            nesterov: nesterov)
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    /// Applies one update.
    ///
    /// The hyper-parameters are checked again, since they are mutable; nothing changes when a
    /// check fails.
    /// - Throws: ``OptimizerError`` `.layoutMismatch` if the gradients' layout (or the momentum
    ///   buffer's) differs from the parameters', `.nonFiniteGradient` if a gradient is NaN or
    ///   infinite, or `.invalidHyperparameter` if a hyper-parameter was set out of range.
    /// - Complexity: O(n) in the number of scalars.
    public mutating func step(_ parameters: inout ParameterSet, gradients: ParameterSet) throws {
        try Self.validate(
            learningRate: learningRate, momentum: momentum, dampening: dampening, weightDecay: weightDecay,
            nesterov: nesterov)
        try OptimizerChecks.requireCompatible(parameters, gradients)
        try OptimizerChecks.requireFinite(gradients)
        if let buffer = momentumBuffer, buffer.layout != parameters.layout {
            throw OptimizerError(.layoutMismatch, "optimizer state was created for a different parameter layout")
        }
        stepCount += 1
        let lr = learningRate, lambda = weightDecay, mu = momentum
        let n = parameters.scalarCount
        let chunk = 1 << 15
        guard mu != 0 else {
            gradients.withUnsafeBufferPointer { g in
                parameters.withUnsafeMutableBufferPointer { pb in
                    let gp = g.baseAddress!, pp = pb.baseAddress!
                    ParallelLoop.forEachRange(count: n, minimumChunk: chunk) { range in
                        for i in range {
                            let d = lambda == 0 ? gp[i] : gp[i] + lambda * pp[i]
                            pp[i] = pp[i] - lr * d
                        }
                    }
                }
            }
            return
        }
        let isFirst = momentumBuffer == nil
        var buffer = momentumBuffer ?? ParameterSet(zerosLike: parameters.layout)
        momentumBuffer = nil  // keep the buffer uniquely referenced so it is updated in place
        let keep = 1 - dampening, isNesterov = nesterov
        gradients.withUnsafeBufferPointer { g in
            buffer.withUnsafeMutableBufferPointer { bb in
                parameters.withUnsafeMutableBufferPointer { pb in
                    let gp = g.baseAddress!, bp = bb.baseAddress!, pp = pb.baseAddress!
                    ParallelLoop.forEachRange(count: n, minimumChunk: chunk) { range in
                        for i in range {
                            let d = lambda == 0 ? gp[i] : gp[i] + lambda * pp[i]
                            let b = isFirst ? d : mu * bp[i] + keep * d
                            bp[i] = b
                            let direction = isNesterov ? d + mu * b : b
                            pp[i] = pp[i] - lr * direction
                        }
                    }
                }
            }
        }
        momentumBuffer = buffer
    }

    private static func validate(
        learningRate: Float, momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool
    ) throws {
        guard learningRate >= 0, learningRate.isFinite else {
            throw OptimizerError(.invalidHyperparameter, "learning rate must be finite and ≥ 0, got \(learningRate)")
        }
        guard (0..<1).contains(momentum) else {
            throw OptimizerError(.invalidHyperparameter, "momentum must lie in [0, 1), got \(momentum)")
        }
        guard (0...1).contains(dampening) else {
            throw OptimizerError(.invalidHyperparameter, "dampening must lie in [0, 1], got \(dampening)")
        }
        guard weightDecay >= 0, weightDecay.isFinite else {
            throw OptimizerError(.invalidHyperparameter, "weight decay must be finite and ≥ 0, got \(weightDecay)")
        }
        guard !nesterov || (momentum > 0 && dampening == 0) else {
            throw OptimizerError(
                .invalidHyperparameter,
                "Nesterov momentum requires momentum > 0 and dampening 0, got momentum \(momentum), dampening \(dampening)")
        }
    }
}
