import Foundation
import Testing
import TesseraOptimizer

private func expectRelativelyClose(
    _ actual: Float, _ expected: Double, relative: Double = 1e-7, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let tolerance = relative * abs(expected)
    #expect(
        abs(Double(actual) - expected) <= tolerance, "\(what): \(actual), expected \(expected) ± \(tolerance)",
        sourceLocation: sourceLocation)
}

@discardableResult
private func expectInvalid<R>(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R) -> OptimizerError? {
    let error = #expect(throws: OptimizerError.self, sourceLocation: sourceLocation) { _ = try body() }
    if let error {
        #expect(error.code == .invalidHyperparameter, "expected .invalidHyperparameter, got \(error)", sourceLocation: sourceLocation)
    }
    return error
}

private func roundTrip<S: Codable & Hashable>(_ schedule: S) throws -> S {
    try JSONDecoder().decode(S.self, from: JSONEncoder().encode(schedule))
}

@Suite("Learning-rate schedules")
struct LearningRateScheduleTests {
    /// Indices into the golden file's `schedules` array; the count is checked by `goldenCoverage`.
    static let goldenIndices = Array(0..<9)

    @Test("the golden file covers both kinds, with and without a torch cross-check")
    func goldenCoverage() throws {
        let golden = try SGDScheduleGolden.load()
        #expect(golden.schedules.count == Self.goldenIndices.count)
        #expect(Set(golden.schedules.map(\.kind)) == ["warmup_cosine", "linear_warmup"])
        #expect(golden.schedules.contains { $0.torchChecked } && golden.schedules.contains { !$0.torchChecked })
    }

    @Test("schedules match the PyTorch-checked closed form within 1e-7 relative", arguments: goldenIndices)
    func golden(_ index: Int) throws {
        let golden = try SGDScheduleGolden.load()
        let c = try #require(golden.schedules.indices.contains(index) ? golden.schedules[index] : nil)
        try #require(c.steps.count == c.learningRates.count && !c.steps.isEmpty)
        let schedule: any LearningRateSchedule
        switch c.kind {
        case "warmup_cosine":
            schedule = try WarmupCosineSchedule(
                peakLearningRate: Float(c.peak), warmupSteps: c.warmupSteps, decaySteps: #require(c.decaySteps),
                minimumLearningRate: Float(#require(c.minimum)))
        case "linear_warmup":
            schedule = try LinearWarmup(peakLearningRate: Float(c.peak), warmupSteps: c.warmupSteps)
        default:
            Issue.record("unknown schedule kind '\(c.kind)'")
            return
        }
        for (step, expected) in zip(c.steps, c.learningRates) {
            expectRelativelyClose(schedule.learningRate(atStep: step), expected, "\(c), step \(step)")
        }
    }

    @Test("warm-up starts at P/W, reaches P at step W − 1, decays to M at W + D and stays there")
    func warmupCosineShape() throws {
        let schedule = try WarmupCosineSchedule(peakLearningRate: 0.8, warmupSteps: 4, decaySteps: 10, minimumLearningRate: 0.1)
        #expect(schedule.learningRate(atStep: 0) == 0.2)
        #expect(schedule.learningRate(atStep: 3) == 0.8)
        #expect(schedule.learningRate(atStep: 4) == 0.8)
        // Half-way through the decay cos is 0: M + (P − M) / 2, with P and M as stored (Float).
        let peak = Double(Float(0.8)), minimum = Double(Float(0.1))
        expectRelativelyClose(schedule.learningRate(atStep: 9), minimum + (peak - minimum) / 2, "half-way through the decay")
        #expect(schedule.learningRate(atStep: 14) == 0.1)
        #expect(schedule.learningRate(atStep: 1_000_000) == 0.1)
        #expect(schedule.learningRate(atStep: .max) == 0.1)
        let rates = (0..<20).map { schedule.learningRate(atStep: $0) }
        #expect(zip(rates[0..<3], rates[1..<4]).allSatisfy { $0 < $1 }, "warm-up rises: \(rates)")
        #expect(zip(rates[4..<14], rates[5..<15]).allSatisfy { $0 > $1 }, "decay falls: \(rates)")
    }

    @Test("steps below 0 are treated as step 0")
    func negativeSteps() throws {
        let cosine = try WarmupCosineSchedule(peakLearningRate: 1, warmupSteps: 4, decaySteps: 4)
        #expect(cosine.learningRate(atStep: -1) == 0.25)
        #expect(cosine.learningRate(atStep: .min) == 0.25)
        let warmup = try LinearWarmup(peakLearningRate: 1, warmupSteps: 8)
        #expect(warmup.learningRate(atStep: -5) == 0.125)
    }

    @Test("without warm-up the decay starts at the peak; without decay the rate drops to M at step W")
    func degenerateLengths() throws {
        let noWarmup = try WarmupCosineSchedule(peakLearningRate: 0.5, warmupSteps: 0, decaySteps: 2, minimumLearningRate: 0.1)
        #expect(noWarmup.learningRate(atStep: 0) == 0.5)
        expectRelativelyClose(noWarmup.learningRate(atStep: 1), 0.3, "middle of a 2-step decay")
        #expect(noWarmup.learningRate(atStep: 2) == 0.1)
        let noDecay = try WarmupCosineSchedule(peakLearningRate: 0.5, warmupSteps: 2, decaySteps: 0, minimumLearningRate: 0.1)
        #expect((0..<4).map { noDecay.learningRate(atStep: $0) } == [0.25, 0.5, 0.1, 0.1])
        let flat = try WarmupCosineSchedule(peakLearningRate: 0.5, warmupSteps: 0, decaySteps: 0)
        #expect(flat.learningRate(atStep: 0) == 0)
        let instant = try LinearWarmup(peakLearningRate: 0.5, warmupSteps: 0)
        #expect(instant.learningRate(atStep: 0) == 0.5)
    }

    @Test("a constant schedule returns its rate at every step")
    func constant() throws {
        let schedule = try ConstantLearningRate(3e-4)
        for step in [Int.min, -1, 0, 1, 1000, .max] { #expect(schedule.learningRate(atStep: step) == 3e-4) }
        #expect(try ConstantLearningRate(0).learningRate(atStep: 7) == 0)
    }

    @Test("invalid constant rates throw .invalidHyperparameter", arguments: [Float(-1e-3), .nan, .infinity])
    func invalidConstant(_ rate: Float) {
        expectInvalid { try ConstantLearningRate(rate) }
    }

    struct CosineArguments: Sendable, CustomTestStringConvertible {
        var peak: Float = 1e-3, warmup = 10, decay = 100, minimum: Float = 0
        var testDescription: String { "P \(peak) W \(warmup) D \(decay) M \(minimum)" }
    }

    static let invalidCosine: [CosineArguments] = [
        CosineArguments(peak: -1e-3), CosineArguments(peak: .nan), CosineArguments(peak: .infinity),
        CosineArguments(warmup: -1), CosineArguments(decay: -1),
        CosineArguments(minimum: -1e-5), CosineArguments(minimum: .nan), CosineArguments(minimum: 2e-3),
    ]

    @Test("invalid warm-up cosine arguments throw .invalidHyperparameter", arguments: invalidCosine)
    func invalidWarmupCosine(_ a: CosineArguments) {
        expectInvalid {
            try WarmupCosineSchedule(peakLearningRate: a.peak, warmupSteps: a.warmup, decaySteps: a.decay, minimumLearningRate: a.minimum)
        }
    }

    @Test("invalid linear warm-up arguments throw .invalidHyperparameter")
    func invalidLinearWarmup() {
        expectInvalid { try LinearWarmup(peakLearningRate: -1, warmupSteps: 10) }
        expectInvalid { try LinearWarmup(peakLearningRate: .nan, warmupSteps: 10) }
        expectInvalid { try LinearWarmup(peakLearningRate: 1, warmupSteps: -1) }
    }

    @Test("schedules survive a JSON round trip unchanged")
    func codableRoundTrip() throws {
        let cosine = try WarmupCosineSchedule(peakLearningRate: 6e-4, warmupSteps: 100, decaySteps: 900, minimumLearningRate: 6e-5)
        let decodedCosine = try roundTrip(cosine)
        #expect(decodedCosine == cosine)
        #expect(decodedCosine.hashValue == cosine.hashValue)
        #expect((0..<1100).allSatisfy { decodedCosine.learningRate(atStep: $0) == cosine.learningRate(atStep: $0) })

        let warmup = try LinearWarmup(peakLearningRate: 0.1, warmupSteps: 7)
        #expect(try roundTrip(warmup) == warmup)
        let constant = try ConstantLearningRate(0.25)
        #expect(try roundTrip(constant) == constant)
        #expect(cosine != (try WarmupCosineSchedule(peakLearningRate: 6e-4, warmupSteps: 100, decaySteps: 901, minimumLearningRate: 6e-5)))
    }

    @Test("decoding out-of-range values throws instead of bypassing validation")
    func decodingValidates() throws {
        let decoder = JSONDecoder()
        let invalidCosine = #"{"peakLearningRate": 1e-3, "minimumLearningRate": 1e-2, "warmupSteps": 1, "decaySteps": 1}"#
        let error = #expect(throws: DecodingError.self) {
            try decoder.decode(WarmupCosineSchedule.self, from: Data(invalidCosine.utf8))
        }
        if case .dataCorrupted(let context)? = error {
            #expect((context.underlyingError as? OptimizerError)?.code == .invalidHyperparameter)
        } else {
            Issue.record("expected DecodingError.dataCorrupted, got \(String(describing: error))")
        }
        #expect(throws: DecodingError.self) {
            try decoder.decode(LinearWarmup.self, from: Data(#"{"peakLearningRate": 1, "warmupSteps": -3}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try decoder.decode(ConstantLearningRate.self, from: Data(#"{"learningRate": -1}"#.utf8))
        }
        let valid = #"{"peakLearningRate": 1e-2, "minimumLearningRate": 1e-3, "warmupSteps": 2, "decaySteps": 3}"#
        let decoded = try decoder.decode(WarmupCosineSchedule.self, from: Data(valid.utf8))
        #expect(decoded == (try WarmupCosineSchedule(peakLearningRate: 1e-2, warmupSteps: 2, decaySteps: 3, minimumLearningRate: 1e-3)))
    }

    @Test("schedules are usable through the protocol, as a configuration edge holds them")
    func existential() throws {
        let schedules: [any LearningRateSchedule] = [
            try ConstantLearningRate(0.5),
            try LinearWarmup(peakLearningRate: 0.5, warmupSteps: 2),
            try WarmupCosineSchedule(peakLearningRate: 0.5, warmupSteps: 2, decaySteps: 2),
        ]
        #expect(schedules.map { $0.learningRate(atStep: 0) } == [0.5, 0.25, 0.25])
        #expect(schedules.map { $0.learningRate(atStep: 4) } == [0.5, 0.5, 0])
    }
}
