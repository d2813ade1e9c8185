import Foundation
import Testing
import TesseraCodec
import TesseraCore
import TesseraOptimizer

private func outerLayout() throws -> ParameterLayout {
    try ParameterLayout([(name: "w", shape: [128, 192]), (name: "b", shape: [96]), (name: "c", shape: [2, 4, 16])])
}

private func normals(_ layout: ParameterLayout, seed: UInt64, standardDeviation: Float = 1) throws -> ParameterSet {
    var generator = Xoshiro256StarStar(seed: seed)
    return try ParameterSet(layout: layout, scalars: generator.normalFloats(count: layout.scalarCount, standardDeviation: standardDeviation))
}

private func vector(_ values: [Float]) throws -> ParameterSet {
    try ParameterSet([(name: "p", shape: [values.count], scalars: values)])
}

private func expectClose(
    _ actual: [Float], _ expected: [Float], absolute: Float, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    let bad = actual.indices.filter { !(abs(actual[$0] - expected[$0]) <= absolute) }
    if let i = bad.first {
        Issue.record("\(what): \(bad.count) of \(actual.count) values differ by more than \(absolute); first at \(i): \(actual[i]) vs \(expected[i])",
                     sourceLocation: sourceLocation)
    }
}

private func expectOptimizerError<R>(
    _ code: OptimizerError.Code, _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) {
    do {
        _ = try body()
        Issue.record("\(what): expected OptimizerError.\(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as OptimizerError {
        #expect(error.code == code, "\(what): \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(what): expected OptimizerError.\(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// `actual == expected` without dumping large values into the failure message.
private func expectSame<T: Equatable>(_ actual: T, _ expected: T, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if actual != expected { Issue.record("\(what): values differ", sourceLocation: sourceLocation) }
}

private func transmitted(_ contribution: OuterContribution, sourceLocation: SourceLocation = #_sourceLocation) throws -> EncodedUpdate {
    guard case .compressed(let encoded) = contribution else {
        Issue.record("expected a compressed contribution", sourceLocation: sourceLocation)
        throw OptimizerError(.layoutMismatch, "not compressed")
    }
    return encoded
}

/// Error feedback: nothing is lost between the residual and what is sent.
@Suite("Outer optimizers: error feedback")
struct OuterOptimizerErrorFeedbackTests {
    struct Setting: Sendable, CustomTestStringConvertible {
        var quantizer: ValueQuantizer
        var decay: Float
        var testDescription: String { "\(quantizer), β = \(decay)" }
    }

    @Test("SparseLoCo: e_after + transmitted = β·e_before + Δ", arguments: [
        Setting(quantizer: .lookup2, decay: 0.95), Setting(quantizer: .float32, decay: 0.95),
        Setting(quantizer: .int4, decay: 0.5), Setting(quantizer: .float16, decay: 0), Setting(quantizer: .lookup2, decay: 1),
    ])
    func sparseLoCoConservesMass(setting: Setting) throws {
        let layout = try outerLayout()
        let codec = try ChunkedTopKCodec(configuration: .init(topK: 32, quantizer: setting.quantizer))
        var optimizer = try SparseLoCo(codec: codec, errorFeedbackDecay: setting.decay)
        #expect(optimizer.errorFeedback?.scalarCount == nil)
        for step in 0..<4 {
            let delta = try normals(layout, seed: 100 + UInt64(step), standardDeviation: 0.5)
            let before = optimizer.errorFeedback ?? ParameterSet(zerosLike: layout)
            let encoded = try transmitted(optimizer.contribution(pseudoGradient: delta, metadata: UpdateMetadata(window: UInt64(step))))
            let after = try #require(optimizer.errorFeedback)
            let sent = try encoded.transmitted.dense(layout: layout)
            let lhs = zip(after.scalars, sent.scalars).map { $0 + $1 }
            let rhs = zip(before.scalars, delta.scalars).map { setting.decay * $0 + $1 }
            expectClose(lhs, rhs, absolute: 1e-6, "step \(step)")
            // What was sent is what a receiver decodes.
            expectSame(try codec.decode(encoded.compressed, layout: layout), encoded.transmitted, "decoded vs transmitted")
            if setting.quantizer == .float32 {
                // Exact values: the residual is exactly zero where a value was sent.
                let zeroed = sent.scalars.indices.filter { sent.scalars[$0] != 0 }
                #expect(zeroed.allSatisfy { after.scalars[$0] == 0 }, "step \(step)")
            }
        }
    }

    @Test("DeMo: m_after + inverse-DCT(transmitted) = β·m_before + Δ", arguments: [ValueQuantizer.float32, .lookup2])
    func deMoConservesMomentum(quantizer: ValueQuantizer) throws {
        let layout = try outerLayout()
        let codec = try ChunkedTopKCodec(configuration: .init(topK: 32, quantizer: quantizer, transform: .dct))
        var optimizer = try DeMo(codec: codec, momentumDecay: 0.999)
        for step in 0..<4 {
            let delta = try normals(layout, seed: 200 + UInt64(step), standardDeviation: 0.5)
            let before = optimizer.momentum ?? ParameterSet(zerosLike: layout)
            let encoded = try transmitted(optimizer.contribution(pseudoGradient: delta, metadata: UpdateMetadata()))
            #expect(encoded.transmitted.transform == .dct)
            let after = try #require(optimizer.momentum)
            let sent = try encoded.transmitted.dense(layout: layout)
            let lhs = zip(after.scalars, sent.scalars).map { $0 + $1 }
            let rhs = zip(before.scalars, delta.scalars).map { 0.999 * $0 + $1 }
            expectClose(lhs, rhs, absolute: 1e-6, "step \(step)")
            // The DCT spreads each kept coefficient over its chunk: the sent part is dense.
            #expect(sent.scalars.filter { $0 != 0 }.count > layout.scalarCount / 2)
        }
    }

    @Test("SparseLoCo's outer step is θ − lr·aggregate")
    func sparseLoCoApply() throws {
        var optimizer = try SparseLoCo(codec: ChunkedTopKCodec(), outerLearningRate: 0.5)
        var parameters = try vector([1, 2, 3])
        try optimizer.apply(aggregate: vector([0.5, -1, 0]), to: &parameters)
        #expect(parameters.scalars == [0.75, 2.5, 3])
    }

    @Test("DeMo's outer step is θ − lr·sign(aggregate), 0 where the aggregate is 0")
    func deMoApply() throws {
        var optimizer = try DeMo(codec: ChunkedTopKCodec(configuration: .init(transform: .dct)), learningRate: 0.25)
        var parameters = try vector([1, 2, 3, 4])
        try optimizer.apply(aggregate: vector([0.001, -7, 0, -0.0]), to: &parameters)
        #expect(parameters.scalars == [0.75, 2.25, 3, 4])
    }

    /// SparseLoCo with ChunkedTopKCodec updates the residual in place, fused with the codec's
    /// selection pass; it must give exactly what folding first and encoding separately gives.
    @Test("SparseLoCo's fused in-place step equals fold-then-encode, bit for bit", arguments: [1, 2])
    func fusedStepMatchesReference(threads: Int) throws {
        // A banded matrix, a 1-D tensor, a k ≥ chunk tensor and prime sides (1×1 chunks).
        let layout = try ParameterLayout([(name: "w", shape: [256, 320]), (name: "b", shape: [96]), (name: "s", shape: [4, 4]),
                                          (name: "p", shape: [67, 13])])
        let codec = try ChunkedTopKCodec(configuration: .init(topK: 32))
        var optimizer = try SparseLoCo(codec: codec, errorFeedbackDecay: 0.9)
        var e = ParameterSet(zerosLike: layout)
        let previous = ParallelLoop.maximumThreads
        ParallelLoop.maximumThreads = threads
        defer { ParallelLoop.maximumThreads = previous }
        for step in 0..<5 {
            let delta = try normals(layout, seed: 300 + UInt64(step), standardDeviation: step == 3 ? 1e34 : 0.5)  // step 3: too large for the in-place path
            let fused = try transmitted(optimizer.contribution(pseudoGradient: delta, metadata: UpdateMetadata(window: UInt64(step))))
            e = try ParameterSet(layout: layout, scalars: zip(e.scalars, delta.scalars).map { 0.9 * $0 + $1 })
            let reference = try codec.encode(e, metadata: UpdateMetadata(window: UInt64(step)))
            try reference.transmitted.addScaled(-1, into: &e)
            expectSame(fused.compressed, reference.compressed, "compressed, step \(step)")
            expectSame(fused.transmitted, reference.transmitted, "transmitted, step \(step)")
            expectSame(try #require(optimizer.errorFeedback).scalars.map(\.bitPattern), e.scalars.map(\.bitPattern), "residual, step \(step)")
        }
    }

    @Test("a residual that would overflow is rejected and kept as it was")
    func overflowingResidualKeepsState() throws {
        let layout = try outerLayout()
        var optimizer = try SparseLoCo(codec: ChunkedTopKCodec(configuration: .init(topK: 32, quantizer: .float32)), errorFeedbackDecay: 1)
        let huge = try ParameterSet(layout: layout, scalars: [Float](repeating: 3e38, count: layout.scalarCount))
        _ = try optimizer.contribution(pseudoGradient: huge, metadata: UpdateMetadata())
        let residual = try #require(optimizer.errorFeedback)
        // 3e38 (unsent) + 3e38 overflows: the codec rejects the non-finite value.
        #expect(throws: CodecError.self) { try optimizer.contribution(pseudoGradient: huge, metadata: UpdateMetadata()) }
        expectSame(optimizer.errorFeedback, residual, "residual after an overflow")
    }

    @Test("a rejected pseudo-gradient leaves the residual as it was")
    func failedContributionKeepsState() throws {
        let layout = try outerLayout()
        let codec = try ChunkedTopKCodec(configuration: .init(topK: 32))
        var sparseLoCo = try SparseLoCo(codec: codec)
        var deMo = try DeMo(codec: ChunkedTopKCodec(configuration: .init(topK: 32, transform: .dct)))
        _ = try sparseLoCo.contribution(pseudoGradient: normals(layout, seed: 1), metadata: UpdateMetadata())
        _ = try deMo.contribution(pseudoGradient: normals(layout, seed: 1), metadata: UpdateMetadata())
        let residual = try #require(sparseLoCo.errorFeedback)
        let momentum = try #require(deMo.momentum)

        var bad = try normals(layout, seed: 2)
        bad.withUnsafeMutableBufferPointer { $0[7] = .nan }
        expectOptimizerError(.nonFiniteGradient, "SparseLoCo, NaN") { try sparseLoCo.contribution(pseudoGradient: bad, metadata: UpdateMetadata()) }
        expectOptimizerError(.nonFiniteGradient, "DeMo, NaN") { try deMo.contribution(pseudoGradient: bad, metadata: UpdateMetadata()) }
        expectSame(sparseLoCo.errorFeedback, residual, "SparseLoCo's error feedback after a NaN")
        expectSame(deMo.momentum, momentum, "DeMo's momentum after a NaN")

        let other = try normals(ParameterLayout([(name: "w", shape: [128, 192])]), seed: 3)
        expectOptimizerError(.layoutMismatch, "SparseLoCo, other layout") { try sparseLoCo.contribution(pseudoGradient: other, metadata: UpdateMetadata()) }
        expectOptimizerError(.layoutMismatch, "DeMo, other layout") { try deMo.contribution(pseudoGradient: other, metadata: UpdateMetadata()) }
        expectSame(sparseLoCo.errorFeedback, residual, "SparseLoCo's error feedback after a rejected layout")
        expectSame(deMo.momentum, momentum, "DeMo's momentum after a rejected layout")
    }
}

@Suite("Outer optimizers: DiLoCo and hyper-parameters")
struct OuterOptimizerTests {
    @Test("DiLoCo's outer step matches torch.optim.SGD(lr 0.7, momentum 0.9, nesterov=True)")
    func diLoCoNesterov() throws {
        // torch 2.x, float64: p = [0.5, −1, 2, 0]; SGD([p], lr=0.7, momentum=0.9, nesterov=True);
        // p.grad = g; opt.step() for each g below. Printed p after each step.
        let gradients: [[Float]] = [[0.1, -0.2, 0.3, 1.0], [0.05, 0.4, -0.3, 0.0], [-0.25, 0.125, 0.5, -2.0]]
        let torch: [[Float]] = [
            [0.367, -0.734, 1.601, -1.33],
            [0.2438, -1.1526, 1.8299, -1.897],
            [0.49692, -1.44359, 1.18191, 0.2527],
        ]
        var optimizer = try DiLoCo(outerLearningRate: 0.7, momentum: 0.9)
        var parameters = try vector([0.5, -1, 2, 0])
        for (step, g) in gradients.enumerated() {
            let gradient = try vector(g)
            guard case .dense(let sent) = try optimizer.contribution(pseudoGradient: gradient, metadata: UpdateMetadata()) else {
                Issue.record("DiLoCo sends the dense pseudo-gradient")
                return
            }
            expectSame(sent, gradient, "dense contribution")
            try optimizer.apply(aggregate: DiLoCo.average([sent]), to: &parameters)
            expectClose(parameters.scalars, torch[step], absolute: 1e-6, "step \(step + 1)")
        }
        // Written out by hand for the first coordinate: v = 0.1, 0.14, −0.124;
        // p = 0.5 − 0.7·(0.1 + 0.09) = 0.367, − 0.7·(0.05 + 0.126) = 0.2438, − 0.7·(−0.25 − 0.1116) = 0.49692.
        let velocity = try #require(optimizer.velocity)
        expectClose([velocity.scalars[0]], [-0.124], absolute: 1e-6, "velocity")
    }

    @Test("DiLoCo.average is the mean, and rejects mixed or missing contributions")
    func diLoCoAverage() throws {
        let a = try vector([1, 2, 3]), b = try vector([3, -2, 0]), c = try vector([2, 3, 3])
        #expect(try DiLoCo.average([a, b, c]).scalars == [2, 1, 2])
        #expect(try DiLoCo.average([b]).scalars == b.scalars)
        expectOptimizerError(.layoutMismatch, "empty") { try DiLoCo.average([]) }
        let other = try ParameterSet([(name: "q", shape: [3], scalars: [1, 2, 3])])
        expectOptimizerError(.layoutMismatch, "mixed layouts") { try DiLoCo.average([a, other]) }
        expectOptimizerError(.layoutMismatch, "mixed shapes") { try DiLoCo.average([a, vector([1, 2])]) }
    }

    @Test("DiLoCo rejects a non-finite or mismatched aggregate and keeps its velocity")
    func diLoCoRejects() throws {
        var optimizer = try DiLoCo()
        var parameters = try vector([1, 2])
        try optimizer.apply(aggregate: vector([0.5, 0.5]), to: &parameters)
        let saved = (parameters, optimizer.velocity)
        expectOptimizerError(.nonFiniteGradient, "NaN aggregate") { try optimizer.apply(aggregate: vector([.nan, 0]), to: &parameters) }
        expectOptimizerError(.layoutMismatch, "other layout") { try optimizer.apply(aggregate: vector([1, 2, 3]), to: &parameters) }
        expectSame(parameters, saved.0, "parameters")
        expectSame(optimizer.velocity, saved.1, "velocity")
        expectOptimizerError(.nonFiniteGradient, "NaN pseudo-gradient") { try optimizer.contribution(pseudoGradient: vector([.infinity, 0]), metadata: UpdateMetadata()) }
    }

    @Test("invalid hyper-parameters are rejected at init")
    func invalidAtInit() throws {
        let codec = try ChunkedTopKCodec()
        for decay: Float in [-0.1, 1.5, .nan, .infinity] {
            expectOptimizerError(.invalidHyperparameter, "SparseLoCo β \(decay)") { try SparseLoCo(codec: codec, errorFeedbackDecay: decay) }
            expectOptimizerError(.invalidHyperparameter, "DeMo β \(decay)") { try DeMo(codec: codec, momentumDecay: decay) }
        }
        for rate: Float in [-1, .nan, .infinity, -.infinity] {
            expectOptimizerError(.invalidHyperparameter, "SparseLoCo lr \(rate)") { try SparseLoCo(codec: codec, outerLearningRate: rate) }
            expectOptimizerError(.invalidHyperparameter, "DeMo lr \(rate)") { try DeMo(codec: codec, learningRate: rate) }
            expectOptimizerError(.invalidHyperparameter, "DiLoCo lr \(rate)") { try DiLoCo(outerLearningRate: rate) }
        }
        for momentum: Float in [1, -0.1, 1.5, .nan] {
            expectOptimizerError(.invalidHyperparameter, "DiLoCo μ \(momentum)") { try DiLoCo(momentum: momentum) }
        }
        // The boundaries that are allowed.
        #expect(throws: Never.self) {
            _ = try SparseLoCo(codec: codec, errorFeedbackDecay: 0, outerLearningRate: 0)
            _ = try SparseLoCo(codec: codec, errorFeedbackDecay: 1)
            _ = try DeMo(codec: codec, momentumDecay: 1, learningRate: 0)
            _ = try DiLoCo(outerLearningRate: 0, momentum: 0)
        }
    }

    /// AdamW and SGD re-check their public, mutable hyper-parameters on every step
    /// (HyperparameterRevalidationTests); the outer optimizers' are just as mutable.
    @Test("hyper-parameters set after init are checked before they are used")
    func revalidated() throws {
        let layout = try outerLayout()
        let delta = try normals(layout, seed: 9)
        let aggregate = try normals(layout, seed: 10)
        let start = try normals(layout, seed: 11)

        var sparseLoCo = try SparseLoCo(codec: ChunkedTopKCodec(configuration: .init(topK: 8)))
        sparseLoCo.errorFeedbackDecay = 1.5
        expectOptimizerError(.invalidHyperparameter, "SparseLoCo β 1.5") { try sparseLoCo.contribution(pseudoGradient: delta, metadata: UpdateMetadata()) }
        sparseLoCo.errorFeedbackDecay = 0.95
        sparseLoCo.outerLearningRate = .nan
        var parameters = start
        expectOptimizerError(.invalidHyperparameter, "SparseLoCo lr NaN") { try sparseLoCo.apply(aggregate: aggregate, to: &parameters) }
        expectSame(parameters, start, "parameters")

        var deMo = try DeMo(codec: ChunkedTopKCodec(configuration: .init(topK: 8, transform: .dct)))
        deMo.momentumDecay = -1
        expectOptimizerError(.invalidHyperparameter, "DeMo β −1") { try deMo.contribution(pseudoGradient: delta, metadata: UpdateMetadata()) }
        deMo.momentumDecay = 0.9
        deMo.learningRate = -.infinity
        expectOptimizerError(.invalidHyperparameter, "DeMo lr −∞") { try deMo.apply(aggregate: aggregate, to: &parameters) }
        expectSame(parameters, start, "parameters")

        var diLoCo = try DiLoCo()
        diLoCo.momentum = 1
        expectOptimizerError(.invalidHyperparameter, "DiLoCo μ 1") { try diLoCo.apply(aggregate: aggregate, to: &parameters) }
        diLoCo.momentum = 0.9
        diLoCo.outerLearningRate = .nan
        expectOptimizerError(.invalidHyperparameter, "DiLoCo lr NaN") { try diLoCo.apply(aggregate: aggregate, to: &parameters) }
        expectSame(parameters, start, "parameters")
    }
}

/// The fused error-feedback pass runs in vector kernels chosen by the CPU; every level must give
/// the same wire bytes and the same residual, step after step.
@Suite("Outer optimizers: kernel levels", .serialized)
struct OuterOptimizerKernelLevelTests {
    @Test("SparseLoCo: the same bytes and residual bits at every vector kernel level")
    func sameBitsAtEveryLevel() throws {
        let layout = try ParameterLayout([(name: "w", shape: [512, 768]), (name: "u", shape: [130, 70]), (name: "b", shape: [1000])])
        let codec = try ChunkedTopKCodec(configuration: .init(topK: 32))
        let saved = VectorKernels.levelInUse
        defer { VectorKernels.setLevel(saved) }
        var runs: [(level: VectorKernels.Level, wire: [[UInt8]], residual: [UInt32])] = []
        for level in VectorKernels.Level.allCases {
            let used = VectorKernels.setLevel(level)
            var optimizer = try SparseLoCo(codec: codec)
            var wire: [[UInt8]] = []
            for step in 0..<3 {
                let delta = try normals(layout, seed: 300 + UInt64(step), standardDeviation: 0.5)
                let encoded = try transmitted(optimizer.contribution(pseudoGradient: delta, metadata: UpdateMetadata(window: UInt64(step))))
                wire.append(try WireFormat.serialize(encoded.compressed))
            }
            runs.append((used, wire, try #require(optimizer.errorFeedback).scalars.map(\.bitPattern)))
        }
        for run in runs.dropFirst() {
            #expect(run.wire == runs[0].wire, "\(run.level) vs \(runs[0].level): wire bytes")
            #expect(run.residual == runs[0].residual, "\(run.level) vs \(runs[0].level): residual")
        }
    }
}
