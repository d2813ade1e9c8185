import Foundation
import Testing
import TesseraCore
import TesseraOptimizer

/// Reference values written by `torch.optim.AdamW` and `torch.nn.utils.clip_grad_norm_`
/// (Tests/TesseraTensorTests/Golden/make_adamw_golden.py). The file belongs to the
/// TesseraTensorTests target's resources, so it is read here by a path relative to this file.
private struct AdamWGolden: Decodable {
    let initial: [Double]
    let gradients: [[Double]]
    let lr: Double
    let betas: [Double]
    let eps: Double
    let weightDecay: Double
    let trajectory: [[Double]]
    let clipInput: [Double]
    let clipMaxNorm: Double
    let clipNorm: Double
    let clipOutput: [Double]

    enum CodingKeys: String, CodingKey {
        case initial, gradients, lr, betas, eps, trajectory
        case weightDecay = "weight_decay", clipInput = "clip_input", clipMaxNorm = "clip_max_norm"
        case clipNorm = "clip_norm", clipOutput = "clip_output"
    }

    static func load() throws -> AdamWGolden {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../TesseraTensorTests/Golden/adamw.json").standardizedFileURL
        return try JSONDecoder().decode(AdamWGolden.self, from: Data(contentsOf: url))
    }
}

private func vector(_ values: [Float], name: String = "p") throws -> ParameterSet {
    try ParameterSet([(name: name, shape: [values.count], scalars: values)])
}

private func expectClose(
    _ actual: [Float], _ expected: [Double], absolute: Double = 0, relative: Double = 0, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let tolerance = absolute + relative * abs(e)
        #expect(
            abs(Double(a) - e) <= tolerance, "\(what)[\(i)]: \(a), expected \(e) ± \(tolerance)",
            sourceLocation: sourceLocation)
    }
}

@discardableResult
private func expectOptimizerError<R>(
    _ code: OptimizerError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) -> OptimizerError? {
    let error = #expect(throws: OptimizerError.self, sourceLocation: sourceLocation) { _ = try body() }
    if let error { #expect(error.code == code, "expected .\(code), got \(error)", sourceLocation: sourceLocation) }
    return error
}

@Suite("AdamW and gradient clipping")
struct AdamWTests {
    @Test("five AdamW steps follow torch.optim.AdamW within 1e-6")
    func goldenTrajectory() throws {
        let golden = try AdamWGolden.load()
        #expect(golden.trajectory.count == 5 && golden.gradients.count == 5)
        var optimizer = try AdamW(
            learningRate: Float(golden.lr), beta1: Float(golden.betas[0]), beta2: Float(golden.betas[1]),
            epsilon: Float(golden.eps), weightDecay: Float(golden.weightDecay))
        var parameters = try vector(golden.initial.map(Float.init))
        for (step, (gradient, expected)) in zip(golden.gradients, golden.trajectory).enumerated() {
            try optimizer.step(&parameters, gradients: vector(gradient.map(Float.init)))
            expectClose(parameters.scalars, expected, absolute: 1e-6, "step \(step + 1)")
        }
        #expect(optimizer.stepCount == 5)
        #expect(optimizer.firstMoment?.layout == parameters.layout)
        #expect(optimizer.secondMoment?.layout == parameters.layout)
    }

    @Test("clipByGlobalNorm matches torch.nn.utils.clip_grad_norm_ within 1e-6 relative")
    func goldenClipping() throws {
        let golden = try AdamWGolden.load()
        var gradients = try ParameterSet([(name: "g", shape: [2, 7], scalars: golden.clipInput.map(Float.init))])
        let norm = try GradientClipping.clipByGlobalNorm(&gradients, maximumNorm: Float(golden.clipMaxNorm))
        #expect(abs(Double(norm) - golden.clipNorm) <= 1e-6 * golden.clipNorm, "norm \(norm) vs \(golden.clipNorm)")
        expectClose(gradients.scalars, golden.clipOutput, relative: 1e-6, "clipped gradient")
        #expect(abs(gradients.norm() - golden.clipMaxNorm) <= 1e-5)
    }

    @Test("clipping below the threshold is a no-op and returns the norm")
    func clippingBelowThreshold() throws {
        let values: [Float] = [0.3, -0.4, 0, 1.2]  // norm 1.3
        var gradients = try vector(values)
        let norm = try GradientClipping.clipByGlobalNorm(&gradients, maximumNorm: 2)
        #expect(abs(norm - 1.3) <= 1e-6)
        #expect(gradients.scalars == values)
        // Above the threshold the same call scales.
        let clippedNorm = try GradientClipping.clipByGlobalNorm(&gradients, maximumNorm: 0.65)
        #expect(abs(clippedNorm - 1.3) <= 1e-6)
        expectClose(gradients.scalars, values.map { Double($0) * 0.5 }, absolute: 1e-6, "clipped to half")
    }

    @Test("gradients with another layout throw .layoutMismatch and change nothing")
    func layoutMismatch() throws {
        var optimizer = try AdamW()
        var parameters = try vector([1, 2, 3])
        expectOptimizerError(.layoutMismatch) { try optimizer.step(&parameters, gradients: vector([1, 2, 3], name: "q")) }
        expectOptimizerError(.layoutMismatch) { try optimizer.step(&parameters, gradients: vector([1, 2])) }
        #expect(parameters.scalars == [1, 2, 3])
        #expect(optimizer.stepCount == 0)
        #expect(optimizer.firstMoment == nil)

        // State built for one layout does not apply to another.
        try optimizer.step(&parameters, gradients: vector([0.1, 0.2, 0.3]))
        var other = try vector([1, 2, 3, 4])
        expectOptimizerError(.layoutMismatch) { try optimizer.step(&other, gradients: vector([1, 1, 1, 1])) }
        #expect(other.scalars == [1, 2, 3, 4])
        #expect(optimizer.stepCount == 1)
        #expect(optimizer.firstMoment?.layout == parameters.layout)
    }

    @Test("a NaN or infinite gradient throws .nonFiniteGradient and leaves parameters and state unchanged", arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteGradient(_ bad: Float) throws {
        var optimizer = try AdamW(learningRate: 0.1)
        var parameters = try ParameterSet([
            (name: "a", shape: [2], scalars: [1, 2]),
            (name: "b", shape: [2], scalars: [3, 4]),
        ])
        let good = try ParameterSet(layout: parameters.layout, scalars: [0.5, -0.5, 0.25, 1])
        try optimizer.step(&parameters, gradients: good)
        let parametersBefore = parameters
        let firstMoment = optimizer.firstMoment, secondMoment = optimizer.secondMoment

        let badGradients = try ParameterSet(layout: parameters.layout, scalars: [0.5, -0.5, bad, 1])
        let error = expectOptimizerError(.nonFiniteGradient) { try optimizer.step(&parameters, gradients: badGradients) }
        #expect(error?.message.contains("'b'") == true, "message should name tensor b: \(String(describing: error))")
        #expect(parameters == parametersBefore)
        #expect(optimizer.stepCount == 1)
        #expect(optimizer.firstMoment == firstMoment && optimizer.secondMoment == secondMoment)
    }

    struct Hyperparameters: Sendable, CustomTestStringConvertible {
        var learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01
        var testDescription: String { "lr \(learningRate) β (\(beta1), \(beta2)) ε \(epsilon) λ \(weightDecay)" }
    }

    static let invalidCases: [Hyperparameters] = [
        Hyperparameters(learningRate: -1e-3), Hyperparameters(learningRate: .nan), Hyperparameters(learningRate: .infinity),
        Hyperparameters(beta1: 1), Hyperparameters(beta1: -0.1), Hyperparameters(beta1: .nan),
        Hyperparameters(beta2: 1), Hyperparameters(beta2: 1.5),
        Hyperparameters(epsilon: 0), Hyperparameters(epsilon: -1e-8), Hyperparameters(epsilon: .nan), Hyperparameters(epsilon: .infinity),
        Hyperparameters(weightDecay: -0.1), Hyperparameters(weightDecay: .infinity), Hyperparameters(weightDecay: .nan),
    ]

    @Test("invalid hyper-parameters throw .invalidHyperparameter", arguments: invalidCases)
    func invalidHyperparameters(_ h: Hyperparameters) {
        expectOptimizerError(.invalidHyperparameter) {
            try AdamW(learningRate: h.learningRate, beta1: h.beta1, beta2: h.beta2, epsilon: h.epsilon, weightDecay: h.weightDecay)
        }
    }

    @Test("valid edge hyper-parameters are accepted")
    func validHyperparameters() throws {
        let optimizer = try AdamW(learningRate: 0, beta1: 0, beta2: 0, epsilon: 1e-12, weightDecay: 0)
        #expect(optimizer.learningRate == 0 && optimizer.beta1 == 0 && optimizer.weightDecay == 0)
        let defaults = try AdamW()
        #expect(defaults.learningRate == 1e-3 && defaults.beta1 == 0.9 && defaults.beta2 == 0.999)
        #expect(defaults.epsilon == 1e-8 && defaults.weightDecay == 0.01)
    }

    @Test("a zero learning rate leaves parameters unchanged but advances the moments")
    func zeroLearningRate() throws {
        var optimizer = try AdamW(learningRate: 0, weightDecay: 0.1)
        let initial: [Float] = [1, -2, 3.5, 0]
        var parameters = try vector(initial)
        for step in 1...3 {
            try optimizer.step(&parameters, gradients: vector([0.5, -1, 2, 4].map { $0 * Float(step) }))
        }
        #expect(parameters.scalars == initial)
        #expect(optimizer.stepCount == 3)
        #expect(optimizer.firstMoment.map { $0.squaredNorm() > 0 } == true)
    }

    @Test("the first step moves each parameter by about lr against the sign of its gradient")
    func firstStepMagnitude() throws {
        // With bias correction the first Adam step is lr · g / (|g| + ε) ≈ lr · sign(g).
        var optimizer = try AdamW(learningRate: 0.01, weightDecay: 0)
        var parameters = try vector([0, 0, 0])
        try optimizer.step(&parameters, gradients: vector([3, -0.001, 100]))
        expectClose(parameters.scalars, [-0.01, 0.01, -0.01], absolute: 1e-6, "first step")
    }
}

@Suite("Hyper-parameters changed after init")
struct HyperparameterRevalidationTests {
    @Test func nanLearningRateSetLaterIsRejected() throws {
        var parameters = try ParameterSet([("w", [2], [1, 2])])
        let gradients = try ParameterSet([("w", [2], [0.5, -0.5])])
        var adam = try AdamW()
        adam.learningRate = .nan
        #expect { try adam.step(&parameters, gradients: gradients) } throws: { ($0 as? OptimizerError)?.code == .invalidHyperparameter }
        #expect(parameters.scalars == [1, 2])
    }

    @Test func negativeClipNormIsRejected() throws {
        var gradients = try ParameterSet([("w", [2], [3, 4])])
        #expect { try GradientClipping.clipByGlobalNorm(&gradients, maximumNorm: -1) } throws: { ($0 as? OptimizerError)?.code == .invalidHyperparameter }
        #expect(gradients.scalars == [3, 4])
    }
}
