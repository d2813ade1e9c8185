import Foundation
import Testing
import TesseraCore
@testable import TesseraTensor

/// The Llama model against PyTorch: golden files written by `llama_reference.py export`
/// (see Golden/make_golden.sh). Tolerances from the issue: loss relative error ≤ 1e-5, every
/// gradient tensor's max |Δ| ≤ 1e-3 × that tensor's max |value|.
@Suite("Llama parity with PyTorch")
struct LlamaParityTests {
    static func goldenDirectory(_ name: String) throws -> URL {
        let root = try #require(Bundle.module.url(forResource: "Golden", withExtension: nil))
        return root.appendingPathComponent(name)
    }

    struct Golden {
        let configuration: LlamaConfiguration
        let model: LlamaModel
        let batch: TokenBatch
        let loss: Double
        let gradients: SafeTensorsFile
    }

    static func load(_ name: String) throws -> Golden {
        let dir = try goldenDirectory(name)
        let configuration = try JSONDecoder().decode(
            LlamaConfiguration.self, from: Data(contentsOf: dir.appendingPathComponent("config.json")))
        let weights = try SafeTensorsFile(contentsOf: dir.appendingPathComponent("weights.safetensors").path)
        let model = try LlamaModel(configuration: configuration, parameters: weights.parameterSet(layout: configuration.parameterLayout()))
        let tokens = try SafeTensorsFile(contentsOf: dir.appendingPathComponent("tokens.safetensors").path).integers(named: "tokens")
        let batch = try TokenBatch(batchSize: tokens.shape[0], sequenceLength: tokens.shape[1] - 1, tokens: tokens.values.map { Int32($0) })
        let lossJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("loss.json"))) as? [String: Any]
        let loss = try #require(lossJSON?["loss"] as? Double)
        let gradients = try SafeTensorsFile(contentsOf: dir.appendingPathComponent("gradients.safetensors").path)
        return Golden(configuration: configuration, model: model, batch: batch, loss: loss, gradients: gradients)
    }

    @Test(arguments: ["llama-tiny", "llama-mha"])
    func lossMatchesPyTorch(_ name: String) throws {
        let golden = try Self.load(name)
        let loss = try golden.model.loss(golden.batch)
        #expect(abs(Double(loss) - golden.loss) / golden.loss <= 1e-5, "loss \(loss) vs PyTorch \(golden.loss)")
    }

    @Test(arguments: ["llama-tiny", "llama-mha"])
    func gradientsMatchPyTorch(_ name: String) throws {
        let golden = try Self.load(name)
        let (loss, gradients) = try golden.model.lossAndGradients(golden.batch)
        #expect(abs(Double(loss) - golden.loss) / golden.loss <= 1e-5)
        #expect(gradients.layout == golden.model.parameters.layout)
        for descriptor in gradients.layout.descriptors {
            let expected = try golden.gradients.floats(named: descriptor.name).scalars
            let actual = try #require(gradients[descriptor.name])
            let scale = expected.map { abs($0) }.max() ?? 0
            let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(scale > 0, "\(descriptor.name): reference gradient is all zeros")
            #expect(worst <= 1e-3 * scale, "\(descriptor.name): max |Δ| \(worst) vs max |g| \(scale)")
        }
    }

    @Test func lossAndGradientsAgreeWithLossOnly() throws {
        let golden = try Self.load("llama-tiny")
        let a = try golden.model.loss(golden.batch)
        let b = try golden.model.lossAndGradients(golden.batch).loss
        #expect(a == b)
    }

    @Test func seededInitializationIsReproducible() throws {
        let c = LlamaConfiguration(vocabularySize: 32, dimension: 16, layerCount: 1, headCount: 2, keyValueHeadCount: 1, feedForwardDimension: 24, contextLength: 8)
        let a = try LlamaModel(configuration: c, seed: 5), b = try LlamaModel(configuration: c, seed: 5), d = try LlamaModel(configuration: c, seed: 6)
        #expect(a.parameters == b.parameters)
        #expect(a.parameters != d.parameters)
        #expect(a.parameters["model.norm.weight"] == [Float](repeating: 1, count: 16))
        let std = (a.parameters["model.embed_tokens.weight"] ?? []).map { Double($0 * $0) }.reduce(0, +) / Double(32 * 16)
        #expect(abs(std.squareRoot() - 0.02) < 0.003)
    }

    @Test func trainingReducesLossOnAFixedBatch() throws {
        // A tiny model memorizing one batch: the loss must fall well below ln(vocab).
        let c = LlamaConfiguration(vocabularySize: 16, dimension: 32, layerCount: 1, headCount: 2, keyValueHeadCount: 2, feedForwardDimension: 48, contextLength: 12)
        var model = try LlamaModel(configuration: c, seed: 1)
        var g = Xoshiro256StarStar(seed: 2)
        let batch = try TokenBatch(batchSize: 4, sequenceLength: 12, tokens: (0..<52).map { _ in Int32(g.next() % 16) })
        var adam = AdamWLite(count: model.parameters.scalarCount)
        let initial = try model.loss(batch)
        for _ in 0..<60 {
            let (_, grads) = try model.lossAndGradients(batch)
            adam.step(&model.parameters, grads)
        }
        let final = try model.loss(batch)
        #expect(initial > 2.5)
        #expect(final < 0.5 * initial, "loss \(initial) → \(final)")
    }
}

/// A minimal Adam for the test above (TesseraTensor's tests must not depend on TesseraOptimizer).
private struct AdamWLite {
    var m: [Float], v: [Float], t: Float = 0
    init(count: Int) { m = .init(repeating: 0, count: count); v = m }
    mutating func step(_ p: inout ParameterSet, _ g: ParameterSet) {
        t += 1
        let gs = g.scalars
        p.withUnsafeMutableBufferPointer { pb in
            for i in 0..<pb.count {
                m[i] = 0.9 * m[i] + 0.1 * gs[i]
                v[i] = 0.999 * v[i] + 0.001 * gs[i] * gs[i]
                let mh = m[i] / (1 - Float(pow(0.9, Double(t)))), vh = v[i] / (1 - Float(pow(0.999, Double(t))))
                pb[i] -= 1e-2 * mh / (vh.squareRoot() + 1e-8)
            }
        }
    }
}
