#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import TesseraCore
public import TesseraCodec
public import TesseraData
import TesseraOptimizer
public import TesseraStorage
public import TesseraChain
public import TesseraScoring

/// A ``Scorer`` whose state can be saved and restored (a validator checkpoints it).
public protocol CheckpointableScorer: Scorer {
    /// Everything the scorer carries between windows.
    associatedtype State: Codable & Sendable & Equatable
    /// The current state.
    var state: State { get set }
}

extension GauntletScorer: CheckpointableScorer {}

/// What a validator did in one window.
public struct ValidatorWindowReport: Sendable {
    /// The window.
    public var window: Window
    /// Every miner's upload after the checks, in uid order.
    public var uploads: [GatheredUpload]
    /// The scorer's output.
    public var scores: WindowScores
    /// The peers aggregated into the outer step (published as the window's peer list).
    public var aggregated: [UID]
    /// Whether weights went on chain this window.
    public var weightsSet: Bool
    /// Why setting weights failed, if it did.
    public var weightsError: String?
    /// Whether a checkpoint was written.
    public var checkpointed: Bool
    /// Wall-clock seconds the window's work took.
    public var seconds: Double
}

/// A validator: per window, gather every miner's upload (server-timestamp bounds, decode under
/// limits), score (copy detection, the ``Scorer``), aggregate the best peers with the rule every
/// node applies, publish the peer list, set weights every ``NetworkParameters/weightInterval``
/// windows and checkpoint the model (safetensors) and its state (JSON) every
/// ``NetworkParameters/checkpointInterval`` windows.
///
/// **Restart equivalence.** ``process(window:)`` is a function of the validator's state, the
/// chain and storage; everything it writes is idempotent (the same bytes under the same key).
/// ``resume(before:)`` loads the newest checkpoint and replays the windows after it from
/// storage, so a validator killed at any point and restarted reaches exactly the state of an
/// uninterrupted run.
public struct Validator<Model: TrainableModel, Codec: GradientCodec, S: CheckpointableScorer, Sampler: SliceSampler, Storage: StorageBackend, Chain: ChainClient>: Sendable {
    /// The network's settings.
    public let parameters: NetworkParameters
    /// The validator's hotkey.
    public let hotkey: Hotkey
    /// The global model.
    public private(set) var model: Model
    /// The scorer.
    public private(set) var scorer: S
    /// The slice sampler every node shares.
    public let sampler: Sampler
    /// The data.
    public let data: any TokenSource
    /// The validator's store (uploads are read from it; peer lists and checkpoints go to it).
    public let storage: Storage
    /// The chain.
    public let chain: Chain
    /// Checks uploads.
    public let gatherer: UpdateGatherer<Codec>
    /// Samples in the validator's random draw.
    public var randomSampleCount = 8
    /// The last window processed.
    public private(set) var lastWindow: Window?
    /// The weights last computed.
    public private(set) var weights: [UID: Double] = [:]
    private var outer: SparseLoCo<Codec>
    private let initialModel: ParameterSet

    /// Creates a validator with the network's initial model.
    /// - Throws: ``NodeError`` `.invalidConfiguration` or `.notRegistered`.
    public init(parameters: NetworkParameters, hotkey: Hotkey, model: Model, scorer: S, codec: Codec, sampler: Sampler,
                data: any TokenSource, storage: Storage, chain: Chain, limits: DecodeLimits = DecodeLimits()) async throws {
        try parameters.validate()
        guard try await chain.metagraph(netuid: parameters.netuid).uid(of: hotkey) != nil else {
            throw NodeError(.notRegistered, "hotkey \(hotkey) has no uid on subnet \(parameters.netuid)")
        }
        self.parameters = parameters
        self.hotkey = hotkey
        self.model = model
        self.initialModel = model.parameters
        self.scorer = scorer
        self.sampler = sampler
        self.data = data
        self.storage = storage
        self.chain = chain
        self.gatherer = UpdateGatherer(codec: codec, layout: model.parameters.layout, limits: limits)
        self.outer = try SparseLoCo(codec: codec, errorFeedbackDecay: parameters.errorFeedbackDecay, outerLearningRate: parameters.outerLearningRate)
    }

    /// Publishes the storage commitment on chain.
    public func announce(_ commitment: StorageCommitment) async throws {
        try await chain.commit(try commitment.encoded(), netuid: parameters.netuid)
    }

    /// Restores the newest saved state before `window` (model checkpoint and scorer state of the
    /// same window) and returns the first window still to process: the one after the
    /// checkpoint, or the network's start window, or `window` for a new network (whose start
    /// window it then publishes, with a checkpoint of the initial model).
    public mutating func resume(before window: Window) async throws -> Window {
        let keys = gatherer.keys
        let states = try await storage.list(prefix: keys.validatorStatePrefix).compactMap { info -> Window? in
            if case .validatorState(window: let w) = keys.parse(info.key), w < window { return w }
            return nil
        }.sorted(by: >)
        for w in states {
            guard let stateBytes = try? await storage.get(keys.validatorState(window: w), limit: 64 << 20).bytes,
                  let snapshot = try? ValidatorSnapshot<S.State>(decoding: stateBytes),
                  let modelBytes = try? await storage.get(keys.checkpoint(window: w), limit: 1 << 34).bytes,
                  let checkpoint = try? ModelCheckpoint.decode(modelBytes, layout: model.parameters.layout),
                  checkpoint.window == w, snapshot.window == w else { continue }
            model.parameters = checkpoint.parameters
            scorer.state = snapshot.scorer
            weights = snapshot.weights
            lastWindow = w
            return Window(rawValue: w.rawValue + 1)
        }
        let sync = Synchronizer(parameters: parameters, gatherer: gatherer)
        if let start = try await sync.startWindow(storage: storage) {
            // Started before but never checkpointed: replay from the initial model.
            model.parameters = initialModel
            lastWindow = nil
            return Window(rawValue: start)
        }
        try await Retry.run(attempts: 3) { try await storage.put(keys.startWindow, Array(String(window.rawValue).utf8)) }
        if window.rawValue > 0 {
            let initial = try ModelCheckpoint.encode(model.parameters, window: Window(rawValue: window.rawValue - 1))
            try await Retry.run(attempts: 3) { try await storage.put(keys.checkpoint(window: Window(rawValue: window.rawValue - 1)), initial) }
        }
        return window
    }

    /// The peer list this validator already published for `window`, if any (nil when there is
    /// none, or when the stored one does not parse: it is then written anew).
    func publishedPeerList(window: Window) async throws -> PeerList? {
        let key = gatherer.keys.peerList(window: window)
        guard try await Retry.run(attempts: 3, { try await storage.head(key) }) != nil else { return nil }
        let bytes = try await Retry.run(attempts: 3) { try await storage.get(key, limit: PeerList.maximumBytes).bytes }
        return try? PeerList(decoding: bytes, window: window)
    }

    /// Processes `window` (its upload interval must have closed: the reveal block must exist).
    /// - Throws: ``NodeError`` `.chain` if the reveal block does not exist yet; storage and chain
    ///   failures after retries. The state is unchanged when it throws.
    public mutating func process(window: Window) async throws -> ValidatorWindowReport {
        let started = ContinuousClock.now
        guard let reveal = try await WindowSchedule.revealBlock(of: window, parameters: parameters, chain: chain) else {
            throw NodeError(.chain, "window \(window)'s upload interval has not closed on chain yet")
        }
        let interval = try await WindowSchedule.uploadInterval(of: window, parameters: parameters, chain: chain)
        let seed = try await WindowSchedule.seed(of: window, parameters: parameters, chain: chain)
        let metagraph = try await chain.metagraph(netuid: parameters.netuid)
        let miners = metagraph.neurons.filter { $0.hotkey != hotkey && !$0.validatorPermit }
        var hotkeys: [UID: String] = [:]
        for n in miners { hotkeys[n.uid] = n.hotkey.rawValue }
        let uploads = await gatherer.fetchAll(miners.map(\.uid), window: window, interval: interval, from: storage, hotkeys: hotkeys)

        var peers: [PeerEvidence] = []
        for g in uploads {
            let slice = try sampler.slice(uid: g.uid, window: window, seed: seed)
            peers.append(PeerEvidence(uid: g.uid, submission: g.submission, uploadTime: g.uploadTime, ownSampleIDs: slice.sampleIDs, stepsBehind: 0))
        }
        let draw = try DeterministicSliceSampler(count: randomSampleCount, sampleCount: UInt64(data.sampleCount))
            .validatorDraw(window: window, revealBlockHash: reveal.hash, hotkey: hotkey.rawValue).sampleIDs
        var scorer = self.scorer
        let scores = try scorer.evaluate(WindowEvidence(window: window, model: model, data: TokenSourceBatches(data), randomSampleIDs: draw, peers: peers))
        // A list already published for this window (a replay after a restart) is what the miners
        // applied: follow it. Re-deciding from scores, whose losses go through BLAS and may differ
        // in the last bits on another CPU or thread count, could fork the model.
        let published = try await publishedPeerList(window: window)
        let chosen = published?.peers ?? Self.choosePeers(uploads: uploads, weights: scores.weights, maximum: parameters.maximumPeers)
        var next = model
        if !chosen.isEmpty {
            let updates = uploads.filter { chosen.contains($0.uid) }.compactMap(\.update)
            let aggregate = try MedianNormClippedMean().aggregate(updates, layout: next.parameters.layout)
            try outer.apply(aggregate: aggregate, to: &next.parameters)
        }
        let keys = gatherer.keys
        if published == nil {
            let list = try PeerList(window: window, peers: chosen).encoded()
            try await Retry.run(attempts: 3) { try await storage.put(keys.peerList(window: window), list) }
        }

        var weightsSet = false
        var weightsError: String?
        if window.rawValue % parameters.weightInterval == 0, scores.weights.values.contains(where: { $0 > 0 }) {
            do {
                try await Retry.run(attempts: 2) { try await chain.setWeights(netuid: parameters.netuid, scores.weights) }
                weightsSet = true
            } catch {
                weightsError = "\(error)"
            }
        }
        var checkpointed = false
        if window.rawValue % parameters.checkpointInterval == 0 {
            try await writeCheckpoint(window: window, parameters: next.parameters, scorerState: scorer.state, weights: scores.weights)
            checkpointed = true
        }
        // Commit the new state only now: a failure above leaves the validator as it was.
        self.scorer = scorer
        model = next
        weights = scores.weights
        lastWindow = window
        let elapsed = ContinuousClock.now - started
        return ValidatorWindowReport(window: window, uploads: uploads, scores: scores, aggregated: chosen, weightsSet: weightsSet,
                                     weightsError: weightsError, checkpointed: checkpointed,
                                     seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    /// Writes the model checkpoint and state of the last processed window (a graceful
    /// shutdown's flush); does nothing before the first window.
    public func saveCheckpoint() async throws {
        guard let window = lastWindow else { return }
        try await writeCheckpoint(window: window, parameters: model.parameters, scorerState: scorer.state, weights: weights)
    }

    /// Writes `checkpoint/{window}` and then `validator-state/{window}`: a state file is only
    /// ever read with its model checkpoint beside it.
    private func writeCheckpoint(window: Window, parameters: ParameterSet, scorerState: S.State, weights: [UID: Double]) async throws {
        let keys = gatherer.keys
        let modelBytes = try ModelCheckpoint.encode(parameters, window: window)
        let stateBytes = try ValidatorSnapshot(window: window, scorer: scorerState, weights: weights).encoded()
        try await Retry.run(attempts: 3) { try await storage.put(keys.checkpoint(window: window), modelBytes) }
        try await Retry.run(attempts: 3) { try await storage.put(keys.validatorState(window: window), stateBytes) }
    }

    /// The aggregation set: peers with a decoded update and positive weight, the
    /// `maximum` heaviest (ties to the lower uid); while nobody has weight, every decoded
    /// update (the first `maximum` by uid).
    public static func choosePeers(uploads: [GatheredUpload], weights: [UID: Double], maximum: Int) -> [UID] {
        let valid = uploads.filter { $0.update != nil }.map(\.uid)
        let rewarded = valid.filter { (weights[$0] ?? 0) > 0 }
            .sorted { (weights[$0] ?? 0, $1.rawValue) > (weights[$1] ?? 0, $0.rawValue) }
        let pool = rewarded.isEmpty ? valid.sorted() : rewarded
        return Array(pool.prefix(maximum)).sorted()
    }

    /// The wall-clock service loop: resumes, then processes each window once its interval has
    /// closed, for `windows` windows (nil: until cancelled). A failing window is retried on the
    /// next poll; it never ends the process.
    public mutating func run(startingAt start: Window, windows: Int?, pollSeconds: Double = 1,
                             report: @escaping @Sendable (ValidatorWindowReport) -> Void = { _ in },
                             log: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        var window = try await resume(before: start)
        if window < start { log("resuming at window \(window): replaying \(start.rawValue - window.rawValue) windows from storage") }
        var done = 0
        while windows.map({ done < $0 }) ?? true {
            try Task.checkCancellation()
            do {
                let r = try await process(window: window)
                report(r)
                window = Window(rawValue: window.rawValue + 1)
                done += 1
            } catch let error as NodeError where error.code == .chain {
                try await Task.sleep(nanoseconds: UInt64(max(0.01, pollSeconds) * 1e9))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                log("window \(window): \(error); retrying")
                try await Task.sleep(nanoseconds: UInt64(max(0.01, pollSeconds) * 1e9))
            }
        }
    }
}

