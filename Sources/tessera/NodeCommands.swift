import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import Tessera

/// Everything the processes of one local cluster share: the chain (a wall-clock LocalChain
/// every process rebuilds from the same genesis), its metagraph (hotkeys in uid order, with
/// stake), the network's parameters, the model and the data.
struct ClusterFile: Codable, Sendable {
    struct Registration: Codable, Sendable {
        var hotkey: String
        var stake: Double
    }
    var chain: LocalChain.Configuration
    var neurons: [Registration]
    var network: NetworkParameters
    var model: LlamaConfiguration
    var corpus: SyntheticCorpus.Configuration
    var sampleCount: Int
    var modelSeed: UInt64
    var innerLearningRate: Float

    static func load(_ path: String) throws -> ClusterFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw CLIError("cannot read cluster file \(path): \(error.localizedDescription)") }
        let file: ClusterFile
        do { file = try JSONDecoder().decode(ClusterFile.self, from: data) } catch { throw CLIError("cluster file \(path) is invalid: \(error)") }
        try file.network.validate()
        try file.model.validate()
        guard file.corpus.vocabularySize == file.model.vocabularySize else { throw CLIError("cluster file: corpus and model vocabularies differ") }
        return file
    }

    /// The shared chain on the wall clock, with every neuron registered in file order.
    func makeChain() async throws -> LocalChain {
        let chain = try LocalChain(configuration: chain, clock: .wall({ Date().timeIntervalSince1970 }))
        for n in neurons { _ = try await chain.register(Hotkey(rawValue: n.hotkey), netuid: network.netuid, stake: n.stake) }
        return chain
    }

    func makeCorpus() throws -> SyntheticCorpus {
        try SyntheticCorpus(configuration: corpus, sampleLength: model.contextLength, sampleCount: sampleCount)
    }
}

/// Options every node process takes.
struct ClusterNodeOptions: ParsableArguments {
    @Option(help: "The cluster file (chain genesis, metagraph, network parameters, model, data).") var cluster: String
    @Option(help: "This node's hotkey (must be in the cluster file).") var hotkey: String
    @Option(help: "Windows to run before exiting (default: until SIGINT/SIGTERM).") var windows: Int?
    @Option(help: "Seconds between chain and storage polls.") var pollSeconds: Double = 0.5
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"
    @OptionGroup var storage: StorageOptions

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        return logger
    }
}

/// Runs `body` as a service: SIGINT/SIGTERM cancel it gracefully, then `flush` runs.
struct NodeService: Service {
    let body: @Sendable () async throws -> Void
    func run() async throws {
        try await cancelWhenGracefulShutdown { try await body() }
    }
}

func runService(_ logger: Logger, _ body: @escaping @Sendable () async throws -> Void) throws {
    try runAsync {
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: NodeService(body: body), successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct MinerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "miner",
        abstract: "Run a miner process: train each window's slice, upload, gather, take the outer step.")
    @OptionGroup var options: ClusterNodeOptions
    @Option(help: "Keep the miner's error feedback here across restarts (saved on shutdown, restored on start).") var stateDir: String?

    func run() throws {
        let logger = options.logger("tessera.miner.\(options.hotkey)")
        let file = try ClusterFile.load(options.cluster)
        let storage = AnyStorageBackend(try options.storage.makeStorage())
        let options = options
        let stateDir = stateDir
        try runService(logger) {
            let chain = try await file.makeChain()
            let client = chain.client(as: Hotkey(rawValue: options.hotkey))
            let corpus = try file.makeCorpus()
            var miner = try await Miner(
                parameters: file.network, hotkey: Hotkey(rawValue: options.hotkey), model: try LlamaModel(configuration: file.model, seed: file.modelSeed),
                innerOptimizer: try AdamW(learningRate: file.innerLearningRate, beta1: 0.9, beta2: 0.95, weightDecay: 0),
                codec: try ChunkedTopKCodec(configuration: file.network.codec),
                sampler: try DeterministicSliceSampler(count: file.network.samplesPerSlice, sampleCount: UInt64(file.sampleCount)),
                data: corpus, storage: storage, chain: client)
            try await miner.announce(StorageCommitment(bucket: options.storage.bucket ?? options.storage.dir ?? "", endpoint: options.storage.endpoint))
            let head = try await client.head()
            let current = file.network.window(ofBlock: head.number)
            let first = Window(rawValue: current.rawValue + 1)
            let replayed = try await miner.catchUp(before: first)
            logger.info("miner uid \(miner.uid) starts at window \(first) (caught up \(replayed) windows)")
            let feedbackPath = stateDir.map { $0 + "/error-feedback.safetensors" }
            if let feedbackPath, let data = FileManager.default.contents(atPath: feedbackPath) {
                do {
                    let (saved, residual) = try ModelCheckpoint.decode([UInt8](data), layout: miner.model.parameters.layout)
                    try miner.restoreErrorFeedback(residual)
                    logger.info("restored the error feedback saved after window \(saved)")
                } catch {
                    logger.warning("ignoring the saved error feedback at \(feedbackPath): \(error)")
                }
            }
            do {
                try await miner.run(from: first, windows: options.windows, pollSeconds: options.pollSeconds) { logger.info("\($0)") }
            } catch is CancellationError {
                logger.info("shutting down: the last window's work is abandoned; the network state lives in storage")
            }
            if let stateDir, let feedbackPath, let residual = miner.errorFeedback {
                // Written beside and renamed over, so a crash mid-write leaves the old file.
                try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
                let bytes = try ModelCheckpoint.encode(residual, window: miner.appliedWindow ?? Window(rawValue: 0))
                try Data(bytes).write(to: URL(fileURLWithPath: feedbackPath), options: .atomic)
                logger.info("saved the error feedback to \(feedbackPath)")
            }
        }
    }
}

struct ValidatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validator",
        abstract: "Run a validator process: gather, check, score, aggregate, publish peer lists, set weights, checkpoint.")
    @OptionGroup var options: ClusterNodeOptions
    @Option(help: "Write the final weights as JSON to this file on exit.") var weightsOut: String?

    func run() throws {
        let logger = options.logger("tessera.validator.\(options.hotkey)")
        let file = try ClusterFile.load(options.cluster)
        let storage = AnyStorageBackend(try options.storage.makeStorage())
        let options = options
        let weightsOut = weightsOut
        try runService(logger) {
            let chain = try await file.makeChain()
            let client = chain.client(as: Hotkey(rawValue: options.hotkey))
            let corpus = try file.makeCorpus()
            var validator = try await Validator(
                parameters: file.network, hotkey: Hotkey(rawValue: options.hotkey), model: try LlamaModel(configuration: file.model, seed: file.modelSeed),
                scorer: try GauntletScorer(), codec: try ChunkedTopKCodec(configuration: file.network.codec),
                sampler: try DeterministicSliceSampler(count: file.network.samplesPerSlice, sampleCount: UInt64(file.sampleCount)),
                data: corpus, storage: storage, chain: client)
            try await validator.announce(StorageCommitment(bucket: options.storage.bucket ?? options.storage.dir ?? "", endpoint: options.storage.endpoint))
            let head = try await client.head()
            let start = file.network.window(ofBlock: head.number)
            let metagraph = try await client.metagraph(netuid: file.network.netuid)
            var names: [UID: String] = [:]
            for n in metagraph.neurons { names[n.uid] = n.hotkey.rawValue }
            let roster = names
            do {
                try await validator.run(startingAt: start, windows: options.windows, pollSeconds: options.pollSeconds, report: { r in
                    let rejected = r.uploads.filter { $0.update == nil }.map { g -> String in
                        switch g.submission {
                        case .missing: "\(g.uid) missing"
                        case .late: "\(g.uid) late"
                        case .early: "\(g.uid) early"
                        case .invalid(let why): "\(g.uid) invalid (\(why.prefix(60)))"
                        case .update: ""
                        }
                    }
                    let loss = r.scores.randomLossBefore.map { String(format: "%.4f", $0) } ?? "-"
                    logger.info("window \(r.window): loss \(loss), aggregated \(r.aggregated.map(\.rawValue)), weights set: \(r.weightsSet), \(String(format: "%.2f", r.seconds)) s; rejected: \(rejected.isEmpty ? "none" : rejected.joined(separator: ", "))")
                }, log: { logger.warning("\($0)") })
            } catch is CancellationError {
                logger.info("shutting down: flushing the checkpoint")
            }
            try await validator.saveCheckpoint()
            let weights = validator.weights
            let lines = weights.keys.sorted().map { uid in String(format: "  uid %d %@ %.4f", Int(uid.rawValue), roster[uid] ?? "?", weights[uid] ?? 0) }
            print("final weights:\n" + lines.joined(separator: "\n"))
            if let weightsOut {
                var json: [String: [String: Any]] = [:]
                for (uid, w) in weights { json[String(uid.rawValue)] = ["hotkey": roster[uid] ?? "", "weight": w] }
                let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted])
                try data.write(to: URL(fileURLWithPath: weightsOut))
            }
        }
    }
}
