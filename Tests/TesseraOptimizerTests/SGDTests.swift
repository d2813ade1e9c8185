import Foundation
import Testing
import TesseraCore
import TesseraOptimizer

/// Reference values written by `torch.optim.SGD` and the closed-form schedules, cross-checked
/// against torch's schedulers (Tests/TesseraTensorTests/Golden/make_sgd_schedule_golden.py).
/// The file belongs to the TesseraTensorTests target's resources, so it is read here by a path
/// relative to this file. Shared with LearningRateScheduleTests.swift.
struct SGDScheduleGolden: Decodable {
    struct Run: Decodable {
        struct Schedule: Decodable {
            let peak: Double
            let warmupSteps: Int
            let decaySteps: Int
            let minimum: Double
            enum CodingKeys: String, CodingKey {
                case peak, minimum, warmupSteps = "warmup_steps", decaySteps = "decay_steps"
            }
        }
        let name: String
        let lr: Double
        let momentum: Double
        let dampening: Double
        let weightDecay: Double
        let nesterov: Bool
        let trajectory: [[Double]]
        let schedule: Schedule?
        let learningRates: [Double]?
        enum CodingKeys: String, CodingKey {
            case name, lr, momentum, dampening, nesterov, trajectory, schedule
            case weightDecay = "weight_decay", learningRates = "learning_rates"
        }
    }

    struct ScheduleCase: Decodable, CustomStringConvertible {
        let kind: String
        let peak: Double
        let warmupSteps: Int
        let decaySteps: Int?
        let minimum: Double?
        let steps: [Int]
        let learningRates: [Double]
        let torchChecked: Bool
        enum CodingKeys: String, CodingKey {
            case kind, peak, minimum, steps
            case warmupSteps = "warmup_steps", decaySteps = "decay_steps", learningRates = "learning_rates"
            case torchChecked = "torch_checked"
        }
        var description: String {
            "\(kind) P \(peak) W \(warmupSteps) D \(decaySteps.map(String.init) ?? "-") M \(minimum.map { "\($0)" } ?? "-")"
        }
    }

    let initial: [Double]
    let gradients: [[Double]]
    let sgd: [Run]
    let schedules: [ScheduleCase]

    static func load() throws -> SGDScheduleGolden {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../TesseraTensorTests/Golden/sgd_schedules.json").standardizedFileURL
        return try JSONDecoder().decode(SGDScheduleGolden.self, from: Data(contentsOf: url))
    }
}

private func vector(_ values: [Float], name: String = "p") throws -> ParameterSet {
    try ParameterSet([(name: name, shape: [values.count], scalars: values)])
}

private func expectClose(
    _ actual: [Float], _ expected: [Double], absolute: Double, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        #expect(
            abs(Double(a) - e) <= absolute, "\(what)[\(i)]: \(a), expected \(e) ± \(absolute)",
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

@Suite("SGD")
struct SGDTests {
    static let goldenRuns = ["plain", "momentum", "dampened momentum with weight decay", "nesterov"]

    @Test("five SGD steps follow torch.optim.SGD within 1e-6", arguments: goldenRuns)
    func goldenTrajectory(_ name: String) throws {
        let golden = try SGDScheduleGolden.load()
        let run = try #require(golden.sgd.first { $0.name == name }, "no golden run '\(name)'")
        try #require(run.trajectory.count == 5 && golden.gradients.count == 5)
        var optimizer = try SGD(
            learningRate: Float(run.lr), momentum: Float(run.momentum), dampening: Float(run.dampening),
            weightDecay: Float(run.weightDecay), nesterov: run.nesterov)
        var parameters = try vector(golden.initial.map(Float.init))
        for (step, (gradient, expected)) in zip(golden.gradients, run.trajectory).enumerated() {
            try optimizer.step(&parameters, gradients: vector(gradient.map(Float.init)))
            expectClose(parameters.scalars, expected, absolute: 1e-6, "\(name), step \(step + 1)")
        }
        #expect(optimizer.stepCount == 5)
        if run.momentum == 0 {
            #expect(optimizer.momentumBuffer == nil)
        } else {
            #expect(optimizer.momentumBuffer?.layout == parameters.layout)
        }
    }

    @Test("a warm-up cosine schedule set before each step follows torch SGD with LambdaLR within 1e-6")
    func goldenScheduledTrajectory() throws {
        let golden = try SGDScheduleGolden.load()
        let run = try #require(golden.sgd.first { $0.schedule != nil })
        let s = try #require(run.schedule)
        let rates = try #require(run.learningRates)
        let schedule = try WarmupCosineSchedule(
            peakLearningRate: Float(s.peak), warmupSteps: s.warmupSteps, decaySteps: s.decaySteps,
            minimumLearningRate: Float(s.minimum))
        var optimizer = try SGD(learningRate: Float(run.lr), momentum: Float(run.momentum))
        var parameters = try vector(golden.initial.map(Float.init))
        for (step, (gradient, expected)) in zip(golden.gradients, run.trajectory).enumerated() {
            optimizer.learningRate = schedule.learningRate(atStep: optimizer.stepCount)
            let rate = Double(optimizer.learningRate)
            #expect(abs(rate - rates[step]) <= 1e-7 * rates[step], "rate at step \(step): \(rate) vs \(rates[step])")
            try optimizer.step(&parameters, gradients: vector(gradient.map(Float.init)))
            expectClose(parameters.scalars, expected, absolute: 1e-6, "scheduled, step \(step + 1)")
        }
        #expect(optimizer.stepCount == run.trajectory.count)
    }

    @Test("the momentum buffer starts as the first gradient (plus weight decay), undampened")
    func firstStepBuffer() throws {
        var optimizer = try SGD(learningRate: 0.5, momentum: 0.9, dampening: 0.5, weightDecay: 0.25)
        var parameters = try vector([2, -4, 0, 8])
        try optimizer.step(&parameters, gradients: vector([1, 1, -3, 0.5]))
        // d = g + λθ = [1.5, 0, -3, 2.5]; b = d; θ ← θ − lr·b.
        #expect(optimizer.momentumBuffer?.scalars == [1.5, 0, -3, 2.5])
        #expect(parameters.scalars == [1.25, -4, 1.5, 6.75])
        // Second step: b ← μb + (1 − τ)d with d = g + λθ = [0.3125, -1, 0.375, 1.6875] for g = 0.
        try optimizer.step(&parameters, gradients: vector([0, 0, 0, 0]))
        let expectedBuffer: [Double] = [0.9 * 1.5 + 0.5 * 0.3125, 0.5 * -1, 0.9 * -3 + 0.5 * 0.375, 0.9 * 2.5 + 0.5 * 1.6875]
        let buffer = try #require(optimizer.momentumBuffer)
        expectClose(buffer.scalars, expectedBuffer, absolute: 1e-6, "buffer after step 2")
        expectClose(
            parameters.scalars, zip([1.25, -4, 1.5, 6.75], expectedBuffer).map { $0 - 0.5 * $1 }, absolute: 1e-6,
            "parameters after step 2")
    }

    @Test("Nesterov steps along d + μb rather than b")
    func nesterovDirection() throws {
        var heavyBall = try SGD(learningRate: 1, momentum: 0.5)
        var nesterov = try SGD(learningRate: 1, momentum: 0.5, nesterov: true)
        var a = try vector([0]), b = try vector([0])
        for _ in 0..<2 {
            try heavyBall.step(&a, gradients: vector([1]))
            try nesterov.step(&b, gradients: vector([1]))
        }
        // Buffer: 1 then 1.5. Heavy ball moves 1 + 1.5; Nesterov moves (1 + 0.5) + (1 + 0.75).
        #expect(a.scalars == [-2.5])
        #expect(b.scalars == [-3.25])
        #expect(heavyBall.momentumBuffer == nesterov.momentumBuffer)
    }

    @Test("splitting the parameters into several tensors changes no bit")
    func multipleTensors() throws {
        let golden = try SGDScheduleGolden.load()
        let initial = golden.initial.map(Float.init)
        var whole = try vector(initial)
        let layout = try ParameterLayout([(name: "w", shape: [2, 4]), (name: "b", shape: [5])])
        var split = try ParameterSet(layout: layout, scalars: initial)
        var one = try SGD(learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01)
        var two = one
        for gradient in golden.gradients.map({ $0.map(Float.init) }) {
            try one.step(&whole, gradients: vector(gradient))
            try two.step(&split, gradients: ParameterSet(layout: layout, scalars: gradient))
        }
        #expect(whole.scalars == split.scalars)
        #expect(whole.scalars != initial)
        #expect(one.momentumBuffer?.scalars == two.momentumBuffer?.scalars)
    }

    @Test("a large set (split across threads) matches an element-by-element reference bit for bit")
    func largeSetMatchesScalarReference() throws {
        let n = (1 << 17) + 3
        let initial: [Float] = (0..<n).map { i in Float(i % 97 - 48) / 16 }
        let gradients: [[Float]] = (0..<3).map { (step: Int) -> [Float] in
            (0..<n).map { (i: Int) -> Float in Float((i * 7 + step * 13) % 31 - 15) / 8 }
        }
        var parameters = try vector(initial)
        var optimizer = try SGD(learningRate: 0.05, momentum: 0.8, weightDecay: 0.1, nesterov: true)
        for g in gradients { try optimizer.step(&parameters, gradients: vector(g)) }

        var p = initial, b = [Float](repeating: 0, count: n)
        for (t, g) in gradients.enumerated() {
            for i in 0..<n {
                let d = g[i] + 0.1 * p[i]
                b[i] = t == 0 ? d : 0.8 * b[i] + 1 * d
                p[i] = p[i] - 0.05 * (d + 0.8 * b[i])
            }
        }
        #expect(parameters.scalars == p)
        #expect(optimizer.momentumBuffer?.scalars == b)
    }

    @Test("gradients with another layout throw .layoutMismatch and change nothing")
    func layoutMismatch() throws {
        var optimizer = try SGD(learningRate: 0.1, momentum: 0.9)
        var parameters = try vector([1, 2, 3])
        expectOptimizerError(.layoutMismatch) { try optimizer.step(&parameters, gradients: vector([1, 2, 3], name: "q")) }
        expectOptimizerError(.layoutMismatch) { try optimizer.step(&parameters, gradients: vector([1, 2])) }
        #expect(parameters.scalars == [1, 2, 3])
        #expect(optimizer.stepCount == 0)
        #expect(optimizer.momentumBuffer == nil)

        // A momentum buffer built for one layout does not apply to another.
        try optimizer.step(&parameters, gradients: vector([0.1, 0.2, 0.3]))
        let buffer = optimizer.momentumBuffer
        var other = try vector([1, 2, 3, 4])
        expectOptimizerError(.layoutMismatch) { try optimizer.step(&other, gradients: vector([1, 1, 1, 1])) }
        #expect(other.scalars == [1, 2, 3, 4])
        #expect(optimizer.stepCount == 1)
        #expect(optimizer.momentumBuffer == buffer && buffer?.layout == parameters.layout)
    }

    @Test(
        "a NaN or infinite gradient throws .nonFiniteGradient and leaves parameters and state unchanged",
        arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteGradient(_ bad: Float) throws {
        var optimizer = try SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        var parameters = try ParameterSet([
            (name: "a", shape: [2], scalars: [1, 2]),
            (name: "b", shape: [2], scalars: [3, 4]),
        ])
        try optimizer.step(&parameters, gradients: ParameterSet(layout: parameters.layout, scalars: [0.5, -0.5, 0.25, 1]))
        let parametersBefore = parameters, bufferBefore = optimizer.momentumBuffer

        let badGradients = try ParameterSet(layout: parameters.layout, scalars: [0.5, -0.5, bad, 1])
        let error = expectOptimizerError(.nonFiniteGradient) { try optimizer.step(&parameters, gradients: badGradients) }
        #expect(error?.message.contains("'b'") == true, "message should name tensor b: \(String(describing: error))")
        #expect(parameters == parametersBefore)
        #expect(optimizer.stepCount == 1)
        #expect(optimizer.momentumBuffer == bufferBefore)
    }

    struct Hyperparameters: Sendable, CustomTestStringConvertible {
        var learningRate: Float = 0.1, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0
        var nesterov = false
        var testDescription: String {
            "lr \(learningRate) μ \(momentum) τ \(dampening) λ \(weightDecay) nesterov \(nesterov)"
        }
    }

    static let invalidCases: [Hyperparameters] = [
        Hyperparameters(learningRate: -0.1), Hyperparameters(learningRate: .nan), Hyperparameters(learningRate: .infinity),
        Hyperparameters(momentum: -0.1), Hyperparameters(momentum: 1), Hyperparameters(momentum: .nan),
        Hyperparameters(dampening: -0.1), Hyperparameters(dampening: 1.5), Hyperparameters(dampening: .nan),
        Hyperparameters(weightDecay: -0.01), Hyperparameters(weightDecay: .infinity), Hyperparameters(weightDecay: .nan),
        Hyperparameters(momentum: 0, nesterov: true),
        Hyperparameters(momentum: 0.9, dampening: 0.1, nesterov: true),
    ]

    @Test("invalid hyper-parameters throw .invalidHyperparameter", arguments: invalidCases)
    func invalidHyperparameters(_ h: Hyperparameters) {
        expectOptimizerError(.invalidHyperparameter) {
            try SGD(
                learningRate: h.learningRate, momentum: h.momentum, dampening: h.dampening, weightDecay: h.weightDecay,
                nesterov: h.nesterov)
        }
    }

    @Test("hyper-parameters set out of range after creation are rejected by step, which changes nothing")
    func invalidAfterMutation() throws {
        var optimizer = try SGD(learningRate: 0.1, momentum: 0.9, nesterov: true)
        var parameters = try vector([1, 2])
        try optimizer.step(&parameters, gradients: vector([1, 1]))
        let before = parameters, buffer = optimizer.momentumBuffer
        optimizer.dampening = 0.5
        expectOptimizerError(.invalidHyperparameter) { try optimizer.step(&parameters, gradients: vector([1, 1])) }
        optimizer.dampening = 0
        optimizer.learningRate = -1
        expectOptimizerError(.invalidHyperparameter) { try optimizer.step(&parameters, gradients: vector([1, 1])) }
        #expect(parameters == before)
        #expect(optimizer.stepCount == 1)
        #expect(optimizer.momentumBuffer == buffer)
    }

    @Test("defaults are PyTorch's: lr 1e-3, no momentum, dampening or weight decay, Nesterov off")
    func defaults() throws {
        let optimizer = try SGD()
        #expect(optimizer.learningRate == 1e-3)
        #expect(optimizer.momentum == 0 && optimizer.dampening == 0 && optimizer.weightDecay == 0)
        #expect(optimizer.nesterov == false)
        #expect(optimizer.stepCount == 0 && optimizer.momentumBuffer == nil)
        let edge = try SGD(learningRate: 0, momentum: 0.999, dampening: 1, weightDecay: 0)
        #expect(edge.momentum == 0.999 && edge.dampening == 1)
    }

    @Test("plain SGD is θ − lr·g and keeps no buffer")
    func plainStep() throws {
        var optimizer = try SGD(learningRate: 0.5)
        var parameters = try vector([1, -1, 0.25])
        try optimizer.step(&parameters, gradients: vector([2, -4, 0]))
        #expect(parameters.scalars == [0, 1, 0.25])
        #expect(optimizer.momentumBuffer == nil)
        #expect(optimizer.stepCount == 1)
    }

    @Test("a zero learning rate leaves parameters unchanged but advances the momentum buffer")
    func zeroLearningRate() throws {
        var optimizer = try SGD(learningRate: 0, momentum: 0.5)
        let initial: [Float] = [1, -2, 3.5]
        var parameters = try vector(initial)
        try optimizer.step(&parameters, gradients: vector([1, 2, 4]))
        try optimizer.step(&parameters, gradients: vector([1, 2, 4]))
        #expect(parameters.scalars == initial)
        #expect(optimizer.momentumBuffer?.scalars == [1.5, 3, 6])
    }
}
