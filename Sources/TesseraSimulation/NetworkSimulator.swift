#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import Tessera
import TesseraTestKit

/// Progress of a running simulation.
public struct SimulationProgress: Sendable {
    /// Windows completed.
    public var completed: Int
    /// Windows in the run.
    public var total: Int
    /// The window just completed (nil while the baseline trains).
    public var window: SimulatedWindow?
    /// What is happening.
    public var phase: String
}

/// Runs a whole network in one process on a virtual clock: a ``LocalChain``, storage whose
/// timestamps follow the chain's clock (or, with ``run(storage:description:progress:)``, a real
/// server's storage with the chain paced in real time), honest ``Miner``s, one ``Validator`` with the
/// ``GauntletScorer``, and adversaries from the zoo acting only through storage.
///
/// Each window W, in chain time:
/// 1. at W's first block: the uploads of window W−1 land at their server times (honest miners
///    a second or two after T_min; adversaries whenever their strategy chooses), and the
///    miners train W from their current model — the overlap of computation with W−1's
///    communication;
/// 2. at the first block past T_max(W−1): the validator processes W−1 (gather, checks, scores,
///    aggregate, peer list, weights, checkpoint), then every miner gathers W−1 from the
///    published peer list and takes the same outer step.
public struct NetworkSimulator: Sendable {
    /// The run's settings.
    public let configuration: SimulationConfiguration

    /// Creates a simulator.
    /// - Throws: ``NodeError`` `.invalidConfiguration`.
    public init(configuration: SimulationConfiguration = SimulationConfiguration()) throws {
        try configuration.validate()
        self.configuration = configuration
    }

    /// Runs the network; `progress` is called after every window. Storage is
    /// ``SimulationConfiguration/storage``: memory or a directory (given, or a temporary one
    /// removed afterwards) whose timestamps follow the simulated clock.
    /// - Throws: ``NodeError`` `.invalidConfiguration` for ``SimulationConfiguration/StorageKind/external(_:)``
    ///   storage (pass the backend to ``run(storage:description:progress:)``), or whatever a
    ///   node, the chain or the storage throws.
    public func run(progress: @Sendable (SimulationProgress) -> Void = { _ in }) async throws -> SimulationReport {
        let c = configuration
        let genesis = 1_700_000_000.0
        let clock = ManualWallClock(Date(timeIntervalSince1970: genesis))
        switch c.storage {
        case .memory:
            return try await run(storage: InMemoryStorage(clock: clock), pacing: .virtual(clock), genesis: genesis, progress: progress)
        case .directory(let path):
            return try await run(storage: FileSystemStorage(root: path, clock: clock), pacing: .virtual(clock), genesis: genesis, progress: progress)
        case .temporaryDirectory:
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-simulate-\(UInt64.random(in: 0...UInt64.max))").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            return try await run(storage: FileSystemStorage(root: root, clock: clock), pacing: .virtual(clock), genesis: genesis, progress: progress)
        case .external:
            throw NodeError(.invalidConfiguration, "external storage: pass the backend to run(storage:description:progress:)")
        }
    }

    /// Runs the network on a storage backend that stamps objects with its own real clock (an S3
    /// server): the chain is paced in real time, ``SimulationConfiguration/blockSeconds`` per
    /// block starting now, every upload is made at its planned moment, and the validator judges
    /// timeliness by the server's timestamps exactly as in production. The backend should be
    /// empty (a checkpoint left by an earlier run would be resumed from).
    /// - Parameters:
    ///   - storage: The backend.
    ///   - description: How the report names it (e.g. `s3:http://127.0.0.1:8333/sim`).
    /// - Throws: ``NodeError`` `.invalidConfiguration` for an invalid configuration, or whatever
    ///   a node, the chain or the storage throws.
    public func run(storage: some StorageBackend, description: String,
                    progress: @Sendable (SimulationProgress) -> Void = { _ in }) async throws -> SimulationReport {
        var configuration = self.configuration
        configuration.storage = .external(description)
        let copy = try NetworkSimulator(configuration: configuration)
        // Genesis whole seconds in the past, so that the first window's first block is now.
        let firstBlock = Double(copy.configuration.network.firstBlock(of: Window(rawValue: 1)))
        let genesis = Date().timeIntervalSince1970.rounded(.down) - firstBlock * copy.configuration.blockSeconds
        return try await copy.run(storage: storage, pacing: .realTime, genesis: genesis, progress: progress)
    }

    /// How simulated time relates to the storage's timestamps.
    enum Pacing {
        /// The storage reads this clock; the simulator sets it.
        case virtual(ManualWallClock)
        /// The storage stamps with the real clock; the simulator waits for it.
        case realTime

        /// How far behind its schedule a real-time run may fall before it stops: past this, an
        /// upload planned on time could land late and the run would no longer be the network it
        /// describes.
        static let maximumLag = 0.5

        /// Brings the storage's clock to `time` (seconds since the epoch): sets the virtual
        /// clock, or sleeps until the real clock has passed it.
        /// - Throws: ``NodeError`` `.invalidConfiguration` in real time when `onTime` and `time`
        ///   passed more than ``maximumLag`` seconds ago (the machine cannot keep up with the
        ///   block time). Blocks may be produced late; uploads may not.
        func reach(_ time: Double, onTime: Bool = false) async throws {
            switch self {
            case .virtual(let clock):
                clock.set(Date(timeIntervalSince1970: time))
            case .realTime:
                let wait = time - Date().timeIntervalSince1970
                if wait > 0 { try await Task.sleep(nanoseconds: UInt64((wait * 1e9).rounded(.up))) }
                if onTime, -wait > Self.maximumLag {
                    let lag = (-wait * 10).rounded() / 10
                    throw NodeError(.invalidConfiguration, "the real-time simulation fell \(lag) s behind its schedule: this machine cannot keep up with blocks this short (use longer block seconds or a smaller network)")
                }
            }
        }
    }

    private func run<S: StorageBackend>(storage: S, pacing: Pacing, genesis: Double,
                                        progress: @Sendable (SimulationProgress) -> Void) async throws -> SimulationReport {
        let started = ContinuousClock.now
        let c = configuration
        let p = c.network
        let chain = try LocalChain(configuration: .init(genesisSeed: c.seed, genesisTime: genesis, blockSeconds: c.blockSeconds,
                                                        tempo: p.blocksPerWindow * p.weightInterval, maximumNeurons: 256, validatorPermits: 1))
        let validatorKey: Hotkey = "validator"
        _ = try await chain.register(validatorKey, netuid: p.netuid, stake: 1_000)
        var roles: [UID: String] = [:]
        var hotkeys: [UID: Hotkey] = [:]
        let minerCount = c.honestMiners + c.adversaries.count
        for i in 0..<minerCount {
            let key = Hotkey(rawValue: "miner-\(i + 1)")
            let uid = try await chain.register(key, netuid: p.netuid)
            hotkeys[uid] = key
            roles[uid] = i < c.honestMiners ? "honest" : c.adversaries[i - c.honestMiners]
        }
        let honestUIDs = roles.filter { $0.value == "honest" }.keys.sorted()
        let adversaryUIDs = roles.filter { $0.value != "honest" }.keys.sorted()

        let corpus = try SyntheticCorpus(configuration: c.corpus, sampleLength: c.model.contextLength, sampleCount: c.sampleCount)
        let initial = try LlamaModel(configuration: c.model, seed: c.seed)
        let codec = try ChunkedTopKCodec(configuration: p.codec)
        let sampler = try DeterministicSliceSampler(count: p.samplesPerSlice, sampleCount: UInt64(c.sampleCount))

        var miners: [Miner<LlamaModel, ChunkedTopKCodec, DeterministicSliceSampler, S, LocalChainClient>] = []
        for uid in honestUIDs {
            let adam = try AdamW(learningRate: c.innerLearningRate, beta1: 0.9, beta2: 0.95, weightDecay: 0)
            miners.append(try await Miner(parameters: p, hotkey: hotkeys[uid]!, model: initial, innerOptimizer: adam, codec: codec,
                                          sampler: sampler, data: corpus, storage: storage, chain: chain.client(as: hotkeys[uid]!)))
        }
        var strategies: [UID: any MinerStrategy] = [:]
        for uid in adversaryUIDs { strategies[uid] = adversary(named: roles[uid]!, victim: honestUIDs[0]) }
        var validator = try await Validator(parameters: p, hotkey: validatorKey, model: initial, scorer: try GauntletScorer(), codec: codec,
                                            sampler: sampler, data: corpus, storage: storage, chain: chain.client(as: validatorKey))

        let start = Window(rawValue: 1)
        try await advance(chain, to: p.firstBlock(of: start), pacing: pacing)
        _ = try await validator.resume(before: start)

        var prepared: [UID: PreparedUpload] = [:]
        var trainingModel = initial
        var minerLosses: [Window: [String: Double]] = [:]
        var records: [SimulatedWindow] = []
        var tokens = 0
        for k in 0...c.windows {
            let window = Window(rawValue: start.rawValue + UInt64(k))
            let previous = Window(rawValue: window.rawValue &- 1)
            if k > 0 {
                // Window W−1's upload interval is open: uploads land.
                let interval = try await WindowSchedule.uploadInterval(of: previous, parameters: p, chain: chain.client(as: validatorKey))
                var visible: [UID: Upload] = [:]
                var planned: [(time: Double, uid: UID, bytes: [UInt8], honest: Bool)] = []
                for (i, miner) in miners.enumerated() {
                    guard let upload = prepared[miner.uid] else { continue }
                    let time = interval.lowerBound + 1 + 0.25 * Double(i)
                    planned.append((time, miner.uid, upload.bytes, true))
                    visible[miner.uid] = Upload(bytes: upload.bytes, uploadTime: time)
                }
                let seed = try await WindowSchedule.seed(of: previous, parameters: p, chain: chain.client(as: validatorKey))
                for uid in adversaryUIDs {
                    let context = MinerContext(window: previous, uid: uid, model: trainingModel, data: corpus,
                                               slice: try sampler.slice(uid: uid, window: previous, seed: seed), codec: codec,
                                               uploadWindow: interval, visibleUploads: visible, innerSteps: p.innerSteps,
                                               innerLearningRate: c.innerLearningRate, batchSize: p.batchSize)
                    guard let upload = try strategies[uid]!.upload(context) else { continue }
                    planned.append((upload.uploadTime, uid, upload.bytes, false))
                }
                // Uploads land in time order (in real time, each at its planned moment).
                for item in planned.sorted(by: { ($0.time, $0.uid) < ($1.time, $1.uid) }) {
                    try await pacing.reach(item.time, onTime: true)
                    if item.honest, let miner = miners.first(where: { $0.uid == item.uid }), let upload = prepared[item.uid] {
                        try await miner.upload(upload)
                    } else {
                        _ = try await storage.put(ObjectKeyLayout.current.gradient(window: previous, uid: item.uid), item.bytes)
                    }
                }
            }
            prepared = [:]
            // Overlapped: train W, then process W−1; otherwise the other way round.
            for phase in c.overlapsCommunication ? [0, 1] : [1, 0] {
                if phase == 0, k < c.windows {
                    // Train window W from the current model, while W−1's communication is in flight.
                    let seed = try await WindowSchedule.seed(of: window, parameters: p, chain: chain.client(as: validatorKey))
                    trainingModel = miners[0].model
                    var losses: [String: Double] = [:]
                    for i in miners.indices {
                        let upload = try miners[i].train(window: window, seed: seed)
                        prepared[miners[i].uid] = upload
                        losses[String(miners[i].uid.rawValue)] = upload.meanLoss
                        tokens += upload.tokens
                    }
                    minerLosses[window] = losses
                }
                if phase == 1, k > 0 {
                    // Past T_max(W−1): the validator processes W−1, then every miner gathers it.
                    while try await WindowSchedule.revealBlock(of: previous, parameters: p, chain: chain.client(as: validatorKey)) == nil {
                        try await advance(chain, by: 1, pacing: pacing)
                    }
                    let report = try await validator.process(window: previous)
                    for i in miners.indices {
                        guard let gathered = try await miners[i].gather(window: previous) else {
                            throw NodeError(.invalidPeerList, "window \(previous)'s peer list was not published")
                        }
                        try miners[i].apply(gathered)
                    }
                    let record = Self.record(report, roles: roles, minerLosses: minerLosses[previous] ?? [:])
                    records.append(record)
                    progress(SimulationProgress(completed: k, total: c.windows, window: record, phase: "window \(previous)"))
                }
            }
            try await advance(chain, to: p.firstBlock(of: Window(rawValue: window.rawValue + 1)), pacing: pacing)
        }

        // Final standing.
        let metagraph = try await chain.client(as: validatorKey).metagraph(netuid: p.netuid)
        var incentive: [UID: Double] = [:]
        for n in metagraph.neurons { incentive[n.uid] = n.incentive }
        let weights = validator.weights
        let total = weights.values.reduce(0, +)
        var finals: [String: FinalWeight] = [:]
        for (uid, role) in roles {
            finals[String(uid.rawValue)] = FinalWeight(role: role, weight: total > 0 ? (weights[uid] ?? 0) / total : 0, incentive: incentive[uid] ?? 0)
        }
        let honestShare = finals.values.filter { $0.role == "honest" }.map(\.weight).reduce(0, +)
        let maxAdversary = finals.values.filter { $0.role != "honest" }.map(\.weight).max() ?? 0

        let evaluation = try Self.evaluationBatch(corpus: corpus, count: c.evaluationSamples, seed: c.seed)
        let initialLoss = Double(try initial.loss(evaluation))
        let finalLoss = Double(try validator.model.loss(evaluation))
        var baselineLoss: Double?
        if c.baseline {
            progress(SimulationProgress(completed: c.windows, total: c.windows, window: nil, phase: "baseline"))
            let model = try Self.centralizedBaseline(configuration: c, initial: initial, corpus: corpus)
            baselineLoss = Double(try model.loss(evaluation))
        }
        let elapsed = ContinuousClock.now - started
        return SimulationReport(
            configuration: c, windows: records, finalWeights: finals, honestWeightShare: honestShare, maximumAdversaryWeight: maxAdversary,
            entropyFloor: corpus.sampleLossFloor, tokensTrained: tokens, initialLoss: initialLoss, finalLoss: finalLoss,
            baselineLoss: baselineLoss, gapToBaseline: baselineLoss.map { finalLoss / $0 - 1 },
            gapToEntropyFloor: finalLoss - corpus.sampleLossFloor,
            validatorSecondsMaximum: records.map(\.validatorSeconds).max() ?? 0,
            windowSeconds: Double(p.blocksPerWindow) * c.blockSeconds,
            wallSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    /// Advances the virtual chain (and the storage clock with it) to block `number`.
    private func advance(_ chain: LocalChain, to number: UInt64, pacing: Pacing) async throws {
        let head = await chain.headNumber
        if number > head { try await advance(chain, by: number - head, pacing: pacing) }
    }

    /// Produces `blocks` blocks; the storage's clock then reads the last one's timestamp (in
    /// real time: the run waits until then, so no block is stamped in the future).
    private func advance(_ chain: LocalChain, by blocks: UInt64, pacing: Pacing) async throws {
        let head = await chain.headNumber
        try await pacing.reach(chain.blockInfo(head + blocks).timestamp)
        try await chain.advance(blocks: blocks)
    }

    static func record(_ r: ValidatorWindowReport, roles: [UID: String], minerLosses: [String: Double]) -> SimulatedWindow {
        var rejected: [SimulatedWindow.Rejection] = []
        for peer in r.scores.peers {
            let problems = peer.reasons.filter { $0 != .evaluated }
            guard !problems.isEmpty else { continue }
            rejected.append(.init(uid: peer.uid.rawValue, role: roles[peer.uid] ?? "?", reason: problems.map(describe).joined(separator: "; ")))
        }
        var weights: [String: Double] = [:]
        var scores: [String: Double] = [:]
        for uid in roles.keys {
            weights[String(uid.rawValue)] = r.scores.weights[uid] ?? 0
        }
        var advantages: [String: Double] = [:]
        var gradientScores: [String: Double] = [:]
        for peer in r.scores.peers {
            if let g = peer.gradientScore { gradientScores[String(peer.uid.rawValue)] = g }
            scores[String(peer.uid.rawValue)] = peer.score
            if let advantage = peer.ownAdvantage { advantages[String(peer.uid.rawValue)] = advantage }
        }
        return SimulatedWindow(window: r.window.rawValue, validatorLoss: r.scores.randomLossBefore, minerLosses: minerLosses,
                               weights: weights, scores: scores, ownAdvantages: advantages, gradientScores: gradientScores, rejected: rejected, aggregated: r.aggregated.map(\.rawValue),
                               weightsSet: r.weightsSet, validatorSeconds: r.seconds)
    }

    /// A short description of a score reason.
    public static func describe(_ reason: ScoreReason) -> String {
        switch reason {
        case .evaluated: "evaluated"
        case .missing: "missing"
        case .late: "late"
        case .early: "early"
        case .invalid(let why): "invalid: " + String(why.prefix(80))
        case .copied(let from, let overlap): "copied uid \(from) (overlap \(Int((overlap * 100).rounded()))%)"
        case .behind(let steps): "\(steps) steps behind"
        case .banned(let until): "banned until window \(until)"
        }
    }

    /// The fixed evaluation set: `count` distinct sample ids drawn with xoshiro256** from `seed`.
    public static func evaluationBatch(corpus: SyntheticCorpus, count: Int, seed: UInt64) throws -> TokenBatch {
        var generator = Xoshiro256StarStar(seed: seed ^ 0x6576_616C_7561_7465)
        let ids = try DeterministicSliceSampler.draw(count: count, from: UInt64(corpus.sampleCount), using: &generator)
        return try corpus.batch(ids)
    }

    /// Centralized AdamW on the same token budget: `windows · innerSteps` steps with every
    /// honest miner's batch combined (`honestMiners · batchSize` samples per step), same learning
    /// rate, clipping and initial model; samples drawn uniformly.
    public static func centralizedBaseline(configuration c: SimulationConfiguration, initial: LlamaModel, corpus: SyntheticCorpus) throws -> LlamaModel {
        var model = initial
        var optimizer = try AdamW(learningRate: c.innerLearningRate, beta1: 0.9, beta2: 0.95, weightDecay: 0)
        var generator = Xoshiro256StarStar(seed: c.seed ^ 0x6261_7365_6C69_6E65)
        let batch = c.honestMiners * c.network.batchSize
        for _ in 0..<(c.windows * c.network.innerSteps) {
            let ids = (0..<batch).map { _ in BoundedRandom.next(upTo: UInt64(corpus.sampleCount), using: &generator) }
            var (_, gradients) = try model.lossAndGradients(try corpus.batch(ids))
            if c.network.gradientClip > 0 { try GradientClipping.clipByGlobalNorm(&gradients, maximumNorm: c.network.gradientClip) }
            try optimizer.step(&model.parameters, gradients: gradients)
        }
        return model
    }
}
