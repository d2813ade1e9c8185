import ArgumentParser
import Foundation
import Tessera
import TesseraTestKit

extension BenchCommand {
    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Gauntlet evaluation throughput: peers scored per minute on a model configuration.")
        @Option(help: "Configuration JSON (reference keys) or 'small' / 'medium'.") var config: String = "small"
        @Option(help: "Peers per window.") var peers: Int = 15
        @Option(help: "Windows to time (median reported).") var windows: Int = 3
        @Option(help: "Threads.") var threads: Int = 2

        func run() throws {
            guard peers > 0, windows > 0 else { throw ValidationError("--peers and --windows must be positive") }
            TensorRuntime.setThreadCount(threads)
            let configuration = try loadConfiguration(config)
            let model = try LlamaModel(configuration: configuration, seed: 0)
            let corpus = try SyntheticCorpus(configuration: .init(vocabularySize: configuration.vocabularySize, seed: 1),
                                             sampleLength: configuration.contextLength, sampleCount: 1_000_000)
            let codec = try ChunkedTopKCodec()
            let layout = model.parameters.layout
            // Realistic updates: honest pseudo-gradients of 2 AdamW steps on 8 samples each.
            var evidence: [PeerEvidence] = []
            for p in 0..<peers {
                let ids = (0..<8).map { UInt64(p * 8 + $0) }
                let context = MinerContext(window: 1, uid: UID(rawValue: UInt16(p)), model: model, data: corpus,
                                           slice: DataSlice(uid: UID(rawValue: UInt16(p)), window: 1, sampleIDs: ids), codec: codec,
                                           uploadWindow: 0...70, visibleUploads: [:], innerSteps: 2, innerLearningRate: 1e-3, batchSize: 8)
                let update = try codec.decode(codec.encode(try context.pseudoGradient(trainingOn: ids), metadata: UpdateMetadata(uid: UInt32(p))).compressed, layout: layout)
                evidence.append(PeerEvidence(uid: UID(rawValue: UInt16(p)), submission: .update(update), uploadTime: Double(p), ownSampleIDs: ids))
            }
            var times: [Double] = []
            var scorer = try GauntletScorer()
            for w in 0..<windows {
                let window = WindowEvidence(window: Window(rawValue: UInt64(w + 1)), model: model, data: TokenSourceBatches(corpus),
                                            randomSampleIDs: Array(500_000..<500_008), peers: evidence)
                let t0 = now()
                _ = try scorer.evaluate(window)
                times.append(now() - t0)
            }
            let perWindow = median(times)
            printJSON(["config": config, "peers": peers, "threads": threads, "seconds_per_window": (perWindow * 1000).rounded() / 1000,
                       "peers_per_minute": (Double(peers) / perWindow * 60 * 10).rounded() / 10,
                       "forward_passes_per_peer": 3, "shared_forward_passes_per_window": 1])
        }
    }
}
