// Assembles a miner with a user-supplied inner optimizer — from the public API only — and runs it
// for a few windows against a LocalChain and in-memory storage, beside a validator.
//
//   swift run CustomMiner [--windows N]
import Foundation
import Tessera

/// A user-written inner optimizer: sign-SGD with momentum ("signum").
struct Signum: Optimizer {
    var learningRate: Float
    var momentum: Float
    private var velocity: ParameterSet?

    init(learningRate: Float, momentum: Float = 0.9) {
        self.learningRate = learningRate
        self.momentum = momentum
    }

    mutating func step(_ parameters: inout ParameterSet, gradients: ParameterSet) throws {
        guard gradients.layout == parameters.layout else { throw OptimizerError(.layoutMismatch, "gradients do not match the parameters") }
        guard gradients.isFinite else { throw OptimizerError(.nonFiniteGradient, "a gradient is not finite") }
        var v = velocity ?? ParameterSet(zerosLike: parameters.layout)
        v.scale(by: momentum)
        try v.axpy(1 - momentum, gradients)
        velocity = v
        let lr = learningRate
        v.withUnsafeBufferPointer { m in
            parameters.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count where m[i] != 0 { p[i] -= lr * (m[i] > 0 ? 1 : -1) }
            }
        }
    }
}

@main
struct CustomMinerExample {
    static func main() async throws {
        var windows = 6
        if let i = CommandLine.arguments.firstIndex(of: "--windows"), i + 1 < CommandLine.arguments.count, let n = Int(CommandLine.arguments[i + 1]) {
            windows = n
        }

        // The network: parameters every node shares, a small model, the synthetic corpus.
        var parameters = NetworkParameters()
        parameters.samplesPerSlice = 16
        parameters.innerSteps = 2
        parameters.codec = ChunkedTopKCodec.Configuration(maximumChunkSide: 16, topK: 16)
        let modelConfiguration = LlamaConfiguration(vocabularySize: 32, dimension: 32, layerCount: 1, headCount: 2, keyValueHeadCount: 2,
                                                    feedForwardDimension: 64, contextLength: 16)
        let corpus = try SyntheticCorpus(configuration: .init(vocabularySize: 32, support: 6, seed: 1), sampleLength: 16, sampleCount: 50_000)
        let initial = try LlamaModel(configuration: modelConfiguration, seed: 7)
        let codec = try ChunkedTopKCodec(configuration: parameters.codec)
        let sampler = try DeterministicSliceSampler(count: parameters.samplesPerSlice, sampleCount: 50_000)

        // A chain on a virtual clock and storage whose timestamps follow it.
        let genesis = 1_700_000_000.0
        let clock = ManualWallClock(Date(timeIntervalSince1970: genesis))
        let storage = InMemoryStorage(clock: clock)
        let chain = try LocalChain(configuration: .init(genesisTime: genesis, validatorPermits: 1))
        _ = try await chain.register("validator", netuid: parameters.netuid, stake: 100)
        _ = try await chain.register("my-miner", netuid: parameters.netuid)
        func advance(to block: UInt64) async throws {
            let head = await chain.headNumber
            if block > head { clock.set(Date(timeIntervalSince1970: try await chain.advance(blocks: block - head).timestamp)) }
        }

        var miner = try await Miner(parameters: parameters, hotkey: "my-miner", model: initial, innerOptimizer: Signum(learningRate: 1e-3),
                                    codec: codec, sampler: sampler, data: corpus, storage: storage, chain: chain.client(as: "my-miner"))
        var validator = try await Validator(parameters: parameters, hotkey: "validator", model: initial, scorer: try GauntletScorer(), codec: codec,
                                            sampler: sampler, data: corpus, storage: storage, chain: chain.client(as: "validator"))
        try await advance(to: parameters.firstBlock(of: 1))
        _ = try await validator.resume(before: 1)

        for w in 1...UInt64(windows) {
            let window = Window(rawValue: w)
            try await advance(to: parameters.firstBlock(of: window))
            let work = try miner.train(window: window, seed: try await WindowSchedule.seed(of: window, parameters: parameters, chain: chain.client(as: "my-miner")))
            // The upload interval opens with the next window's first block.
            try await advance(to: parameters.firstBlock(of: Window(rawValue: w + 1)))
            clock.set(Date(timeIntervalSince1970: clock.now().timeIntervalSince1970 + 1))
            try await miner.upload(work)
            while try await WindowSchedule.revealBlock(of: window, parameters: parameters, chain: chain.client(as: "validator")) == nil {
                try await advance(to: await chain.headNumber + 1)
            }
            let report = try await validator.process(window: window)
            if let gathered = try await miner.gather(window: window) { try miner.apply(gathered) }
            let loss = report.scores.randomLossBefore.map { String(format: "%.4f", $0) } ?? "-"
            print("window \(w): miner loss \(String(format: "%.4f", work.meanLoss)), validator loss \(loss), \(work.bytes.count) bytes uploaded, aggregated \(report.aggregated.map(\.rawValue))")
        }
        precondition(miner.model.parameters == validator.model.parameters, "the miner and the validator disagree on the model")
        print("the miner's model equals the validator's after \(windows) windows")
    }
}
