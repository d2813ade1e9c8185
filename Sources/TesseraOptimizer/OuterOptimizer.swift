public import TesseraCore
public import TesseraCodec

/// What a node sends for one outer step.
public enum OuterContribution: Sendable {
    /// A compressed update (SparseLoCo, DeMo).
    case compressed(EncodedUpdate)
    /// The dense pseudo-gradient (DiLoCo).
    case dense(ParameterSet)
}

/// The outer loop of communication-efficient training: turns a node's pseudo-gradient into what
/// it transmits, and applies the network's aggregate to the global parameters.
///
/// Contract: ``contribution(pseudoGradient:metadata:)`` updates the node's own state (error
/// feedback, momentum) from the pseudo-gradient Δ = θ₀ − θ_H; ``apply(aggregate:to:)`` is
/// identical on every node, so that the same aggregate gives the same next model everywhere.
public protocol OuterOptimizer: Sendable {
    /// Folds Δ into the node's state and returns what to send.
    mutating func contribution(pseudoGradient: ParameterSet, metadata: UpdateMetadata) throws -> OuterContribution
    /// Applies the aggregate of every gathered contribution to `parameters`.
    mutating func apply(aggregate: ParameterSet, to parameters: inout ParameterSet) throws
}

/// SparseLoCo (arXiv 2508.15706): error feedback `e ← β·e + Δ`, transmit the compressed `e`
/// (chunked top-k, 2-bit values), `e ← e − transmitted`; outer step `θ ← θ − lr · aggregate`.
public struct SparseLoCo<Codec: GradientCodec>: OuterOptimizer {
    /// The codec every peer uses.
    public let codec: Codec
    /// Error-feedback decay β (Templar: 0.95).
    public var errorFeedbackDecay: Float
    /// Outer learning rate (Templar: 1.0).
    public var outerLearningRate: Float
    /// The residual not yet transmitted (allocated on first use).
    public private(set) var errorFeedback: ParameterSet?
    /// An upper bound on max |errorFeedback| (0 before first use).
    private var errorFeedbackBound: Double = 0

    /// Creates the optimizer.
    /// - Throws: ``OptimizerError`` `.invalidHyperparameter` for β outside [0, 1] or a negative rate.
    public init(codec: Codec, errorFeedbackDecay: Float = 0.95, outerLearningRate: Float = 1.0) throws {
        try Self.validate(decay: errorFeedbackDecay, rate: outerLearningRate)
        self.codec = codec
        self.errorFeedbackDecay = errorFeedbackDecay
        self.outerLearningRate = outerLearningRate
    }

    /// Sets the residual, e.g. one saved by a process that is restarting, so that the error it
    /// had not yet transmitted is not lost.
    /// - Throws: ``OptimizerError`` `.layoutMismatch` if a residual of another layout is already
    ///   held, `.nonFiniteValue` if `residual` holds a NaN or infinity.
    public mutating func restoreErrorFeedback(_ residual: ParameterSet) throws {
        if let existing = errorFeedback, existing.layout != residual.layout {
            throw OptimizerError(.layoutMismatch, "the restored error feedback's layout differs from the one in use")
        }
        try OptimizerChecks.requireFinite(residual)
        errorFeedback = residual
        errorFeedbackBound = Double(OuterKernels.maximumMagnitude(residual))
    }

    static func validate(decay: Float, rate: Float) throws {
        guard (0...1).contains(decay) else { throw OptimizerError(.invalidHyperparameter, "error-feedback decay must be in [0, 1], got \(decay)") }
        guard rate >= 0, rate.isFinite else { throw OptimizerError(.invalidHyperparameter, "outer learning rate must be finite and ≥ 0, got \(rate)") }
    }

    /// Folds Δ into the error feedback and encodes it. On any error the state is unchanged.
    public mutating func contribution(pseudoGradient: ParameterSet, metadata: UpdateMetadata) throws -> OuterContribution {
        try Self.validate(decay: errorFeedbackDecay, rate: outerLearningRate)
        let gradientBound = OuterKernels.maximumMagnitude(pseudoGradient)
        if !gradientBound.isFinite { try OptimizerChecks.requireFinite(pseudoGradient) }
        if let existing = errorFeedback, existing.layout != pseudoGradient.layout {
            throw OptimizerError(.layoutMismatch, "pseudo-gradient layout differs from the error feedback's")
        }
        if let chunked = codec as? ChunkedTopKCodec, let folded = inPlaceBound(chunked, gradientBound: gradientBound) {
            // The residual is updated where it lies (no 4-byte-per-parameter copy), fused with the
            // codec's selection pass: the codec can only fail on non-finite values, and the
            // bounds rule those out in advance, so the state-unchanged-on-error contract holds.
            var e = errorFeedback ?? ParameterSet(zerosLike: pseudoGradient.layout)
            errorFeedback = nil  // `e` is now the only reference: the passes below write in place
            let encoded: EncodedUpdate
            do {
                encoded = try chunked.encode(folding: pseudoGradient, into: &e, decay: errorFeedbackDecay, metadata: metadata)
                try encoded.transmitted.addScaled(-1, into: &e)
            } catch {
                preconditionFailure("ChunkedTopKCodec failed on bounded finite input: \(error)")
            }
            // |e − sent| ≤ |e| + |sent| wherever a value was sent.
            errorFeedbackBound = folded + Double(OuterKernels.maximumMagnitude(encoded.transmitted))
            errorFeedback = e
            return .compressed(encoded)
        }
        var e = errorFeedback ?? ParameterSet(zerosLike: pseudoGradient.layout)
        let foldedBound = OuterKernels.decayAndAdd(&e, decay: errorFeedbackDecay, pseudoGradient)
        let encoded = try codec.encode(e, metadata: metadata)
        try encoded.transmitted.addScaled(-1, into: &e)
        errorFeedbackBound = Double(foldedBound) + Double(OuterKernels.maximumMagnitude(encoded.transmitted))
        errorFeedback = e
        return .compressed(encoded)
    }

    /// An upper bound on max |β·e + Δ| when this step may update the residual in place: the
    /// codec has no transform (its encoder throws only for non-finite kept values) and
    /// β·max|e| + max|Δ| stays far below the largest float, so no value can overflow — not the
    /// folded residual, nor anything the codec derives from it. `nil` otherwise.
    private func inPlaceBound(_ codec: ChunkedTopKCodec, gradientBound: Float) -> Double? {
        guard codec.configuration.transform == .none else { return nil }
        let folded = (Double(errorFeedbackDecay) * errorFeedbackBound + Double(gradientBound)) * (1 + 1e-6)
        return folded.isFinite && folded <= Double(Float.greatestFiniteMagnitude) / 65536 ? folded : nil
    }

    public mutating func apply(aggregate: ParameterSet, to parameters: inout ParameterSet) throws {
        try Self.validate(decay: errorFeedbackDecay, rate: outerLearningRate)
        try OptimizerChecks.requireCompatible(parameters, aggregate)
        try OptimizerChecks.requireFinite(aggregate)
        try parameters.axpy(-outerLearningRate, aggregate)
    }
}

/// DeMo (the Gauntlet paper's era): momentum `m ← β·m + Δ`, transmit the DCT-domain top-k of `m`
/// (use a codec with ``ChunkTransform/dct``), `m ← m − transmitted`; outer step
/// `θ ← θ − lr · sign(aggregate)`.
public struct DeMo<Codec: GradientCodec>: OuterOptimizer {
    /// The codec every peer uses (DCT transform, Templar: top-32).
    public let codec: Codec
    /// Momentum decay β (Templar: 0.999).
    public var momentumDecay: Float
    /// Step size of the sign update (Templar: 4e-4).
    public var learningRate: Float
    /// The momentum residual (allocated on first use).
    public private(set) var momentum: ParameterSet?

    /// Creates the optimizer.
    /// - Throws: ``OptimizerError`` `.invalidHyperparameter` for β outside [0, 1] or a negative rate.
    public init(codec: Codec, momentumDecay: Float = 0.999, learningRate: Float = 4e-4) throws {
        try SparseLoCo<Codec>.validate(decay: momentumDecay, rate: learningRate)
        self.codec = codec
        self.momentumDecay = momentumDecay
        self.learningRate = learningRate
    }

    /// Folds Δ into the momentum and encodes it. On any error the state is unchanged.
    public mutating func contribution(pseudoGradient: ParameterSet, metadata: UpdateMetadata) throws -> OuterContribution {
        try SparseLoCo<Codec>.validate(decay: momentumDecay, rate: learningRate)
        try OptimizerChecks.requireFinite(pseudoGradient)
        if let existing = momentum, existing.layout != pseudoGradient.layout {
            throw OptimizerError(.layoutMismatch, "pseudo-gradient layout differs from the momentum's")
        }
        var m = momentum ?? ParameterSet(zerosLike: pseudoGradient.layout)
        OuterKernels.decayAndAdd(&m, decay: momentumDecay, pseudoGradient)
        let encoded = try codec.encode(m, metadata: metadata)
        try encoded.transmitted.addScaled(-1, into: &m)
        momentum = m
        return .compressed(encoded)
    }

    public mutating func apply(aggregate: ParameterSet, to parameters: inout ParameterSet) throws {
        try SparseLoCo<Codec>.validate(decay: momentumDecay, rate: learningRate)
        try OptimizerChecks.requireCompatible(parameters, aggregate)
        try OptimizerChecks.requireFinite(aggregate)
        let lr = learningRate
        aggregate.withUnsafeBufferPointer { g in
            parameters.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where g[i] != 0 { p[i] -= g[i] > 0 ? lr : -lr }
            }
        }
    }
}

/// DiLoCo (arXiv 2311.08105): transmit the dense pseudo-gradient; the outer step is SGD with
/// Nesterov momentum on the average: `v ← μ·v + g`, `θ ← θ − lr · (g + μ·v)`.
public struct DiLoCo: OuterOptimizer {
    /// Outer learning rate (the paper: 0.7).
    public var outerLearningRate: Float
    /// Nesterov momentum μ (the paper: 0.9).
    public var momentum: Float
    /// The outer velocity (allocated on first use).
    public private(set) var velocity: ParameterSet?

    static func validate(rate: Float, momentum: Float) throws {
        guard (0..<1).contains(momentum) else { throw OptimizerError(.invalidHyperparameter, "momentum must be in [0, 1), got \(momentum)") }
        guard rate >= 0, rate.isFinite else { throw OptimizerError(.invalidHyperparameter, "outer learning rate must be finite and ≥ 0, got \(rate)") }
    }

    /// Creates the optimizer.
    /// - Throws: ``OptimizerError`` `.invalidHyperparameter` for μ outside [0, 1) or a negative rate.
    public init(outerLearningRate: Float = 0.7, momentum: Float = 0.9) throws {
        try Self.validate(rate: outerLearningRate, momentum: momentum)
        self.outerLearningRate = outerLearningRate
        self.momentum = momentum
    }

    public mutating func contribution(pseudoGradient: ParameterSet, metadata: UpdateMetadata) throws -> OuterContribution {
        try OptimizerChecks.requireFinite(pseudoGradient)
        return .dense(pseudoGradient)
    }

    public mutating func apply(aggregate: ParameterSet, to parameters: inout ParameterSet) throws {
        try Self.validate(rate: outerLearningRate, momentum: momentum)
        try OptimizerChecks.requireCompatible(parameters, aggregate)
        try OptimizerChecks.requireFinite(aggregate)
        if let existing = velocity, existing.layout != aggregate.layout {
            throw OptimizerError(.layoutMismatch, "aggregate layout differs from the velocity's")
        }
        var v = velocity ?? ParameterSet(zerosLike: aggregate.layout)
        OuterKernels.decayAndAdd(&v, decay: momentum, aggregate)
        let lr = outerLearningRate, mu = momentum
        aggregate.withUnsafeBufferPointer { g in
            v.withUnsafeBufferPointer { vb in
                parameters.withUnsafeMutableBufferPointer { p in
                    for i in 0..<p.count { p[i] -= lr * (g[i] + mu * vb[i]) }
                }
            }
        }
        velocity = v
    }

    /// The mean of dense contributions, added in the order given (pass them in a canonical
    /// order, e.g. by uid, so every node gets the same bits).
    /// - Throws: ``OptimizerError`` `.layoutMismatch` if the layouts differ or none are given.
    public static func average(_ contributions: [ParameterSet]) throws -> ParameterSet {
        guard let first = contributions.first else { throw OptimizerError(.layoutMismatch, "no contributions to average") }
        var sum = ParameterSet(zerosLike: first.layout)
        for c in contributions {
            guard c.layout == first.layout else { throw OptimizerError(.layoutMismatch, "contributions have different layouts") }
            try sum.axpy(1, c)
        }
        sum.scale(by: 1 / Float(contributions.count))
        return sum
    }
}

enum OuterKernels {
    /// `state ← decay · state + x` in one pass; returns max |state| afterwards (+∞ if any
    /// value is not finite).
    @discardableResult
    static func decayAndAdd(_ state: inout ParameterSet, decay: Float, _ x: ParameterSet) -> Float {
        let n = state.scalarCount
        let largest = x.withUnsafeBufferPointer { xs in
            state.withUnsafeMutableBufferPointer { ss in
                let xp = xs.baseAddress!, sp = ss.baseAddress!
                return ParallelLoop.mapRanges(count: n, minimumChunk: 1 << 16) { range in
                    let magnitude = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
                    var bits = SIMD8<UInt32>(repeating: 0)
                    var i = range.lowerBound
                    while i + 8 <= range.upperBound {
                        let s = UnsafeRawPointer(sp + i).loadUnaligned(as: SIMD8<Float>.self)
                        let v = UnsafeRawPointer(xp + i).loadUnaligned(as: SIMD8<Float>.self)
                        let r = decay * s + v
                        UnsafeMutableRawPointer(sp + i).storeBytes(of: r, as: SIMD8<Float>.self)
                        bits = pointwiseMax(bits, unsafeBitCast(r, to: SIMD8<UInt32>.self) & magnitude)
                        i += 8
                    }
                    var top = bits.max()
                    while i < range.upperBound {
                        sp[i] = decay * sp[i] + xp[i]
                        top = max(top, sp[i].bitPattern & 0x7FFF_FFFF)
                        i += 1
                    }
                    return top
                }
            }
        }
        return magnitude(bits: largest.max() ?? 0)
    }

    /// max |x| over the set (+∞ if any value is not finite).
    static func maximumMagnitude(_ set: ParameterSet) -> Float {
        let largest = set.withUnsafeBufferPointer { xs in
            ParallelLoop.mapRanges(count: xs.count, minimumChunk: 1 << 16) { range in
                maximumMagnitudeBits(UnsafeBufferPointer(rebasing: xs[range]))
            }
        }
        return magnitude(bits: largest.max() ?? 0)
    }

    /// max |v| over every transmitted value (+∞ if any is not finite).
    static func maximumMagnitude(_ update: SparseUpdate) -> Float {
        var top: UInt32 = 0
        for t in update.tensors { top = max(top, t.values.withUnsafeBufferPointer { maximumMagnitudeBits($0) }) }
        return magnitude(bits: top)
    }

    /// The largest bits(|v|) in `values` (NaNs above +∞).
    static func maximumMagnitudeBits(_ values: UnsafeBufferPointer<Float>) -> UInt32 {
        guard let p = values.baseAddress else { return 0 }
        return VectorKernels.maximumMagnitudeBits(p, count: values.count)
    }

    static func magnitude(bits: UInt32) -> Float { bits >= 0x7F80_0000 ? .infinity : Float(bitPattern: bits) }
}
