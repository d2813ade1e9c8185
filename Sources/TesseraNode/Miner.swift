public import TesseraCore
public import TesseraCodec
public import TesseraData
public import TesseraOptimizer
public import TesseraStorage
public import TesseraChain

/// A miner's finished work for one window, ready to upload.
public struct PreparedUpload: Sendable {
    /// The window trained.
    public var window: Window
    /// The wire-format file.
    public var bytes: [UInt8]
    /// Mean training loss over the inner steps (the miner's view of the model).
    public var meanLoss: Double
    /// Tokens trained on.
    public var tokens: Int
    /// The sample ids trained on.
    public var sampleIDs: [UInt64]
}

/// The aggregate of one window as a node reproduces it from the published peer list.
public struct GatheredAggregate: Sendable {
    /// The window.
    public var window: Window
    /// The peers the validator aggregated.
    public var peers: [UID]
    /// The peers whose uploads this node could read and decode (normally all of ``peers``).
    public var used: [UID]
    /// The aggregate (nil when no peer was usable: the model does not move).
    public var aggregate: ParameterSet?

    /// Creates a gathered aggregate (a window with no usable peer when `aggregate` is nil).
    public init(window: Window, peers: [UID], used: [UID], aggregate: ParameterSet?) {
        self.window = window
        self.peers = peers
        self.used = used
        self.aggregate = aggregate
    }
}

/// A miner: for each window, its slice → H inner steps → pseudo-gradient → error feedback and
/// compression (SparseLoCo) → upload inside [T_min, T_max]; then the published peer set of the
/// window → the same deterministic aggregate as every other node → the outer step.
///
/// The pieces are separate so the same miner runs under a wall-clock service
/// (``run(from:windows:log:)`` overlaps training window W+1 with window W's upload and gather)
/// and under a simulator that drives virtual time:
/// ``train(window:seed:)`` (compute only), ``upload(_:)``, ``gather(window:)``, ``apply(_:)``.
///
/// Generic over the model, codec, sampler, storage and chain; the inner optimizer is any
/// ``Optimizer`` (state kept across windows).
public struct Miner<Model: TrainableModel, Codec: GradientCodec, Sampler: SliceSampler, Storage: StorageBackend, Chain: ChainClient>: Sendable {
    /// The network's settings.
    public let parameters: NetworkParameters
    /// This miner's hotkey.
    public let hotkey: Hotkey
    /// This miner's uid.
    public let uid: UID
    /// The model (θ: the global model as far as this miner has applied it).
    public private(set) var model: Model
    /// The inner optimizer.
    public var innerOptimizer: any Optimizer
    /// The outer optimizer (error feedback, compression, outer step).
    public private(set) var outer: SparseLoCo<Codec>
    /// The slice sampler every node shares.
    public let sampler: Sampler
    /// The training data.
    public let data: any TokenSource
    /// Where this miner uploads (and, by default, where peers and the validator's files are read).
    public let storage: Storage
    /// The chain.
    public let chain: Chain
    /// Checks peers' uploads during the gather.
    public let gatherer: UpdateGatherer<Codec>
    /// A version string written into every update's metadata.
    public var modelVersion = "tessera"
    /// The last window whose aggregate was applied.
    public private(set) var appliedWindow: Window?
    /// This miner's own transmitted updates whose window's aggregate has not been applied yet.
    private var inFlight: [Window: SparseUpdate] = [:]

    /// Creates a miner.
    /// - Throws: ``NodeError`` `.invalidConfiguration` for bad parameters, `.notRegistered` if
    ///   `hotkey` has no uid on the subnet.
    public init(parameters: NetworkParameters, hotkey: Hotkey, model: Model, innerOptimizer: any Optimizer, codec: Codec,
                sampler: Sampler, data: any TokenSource, storage: Storage, chain: Chain, limits: DecodeLimits = DecodeLimits()) async throws {
        try parameters.validate()
        guard let uid = try await chain.metagraph(netuid: parameters.netuid).uid(of: hotkey) else {
            throw NodeError(.notRegistered, "hotkey \(hotkey) has no uid on subnet \(parameters.netuid)")
        }
        self.parameters = parameters
        self.hotkey = hotkey
        self.uid = uid
        self.model = model
        self.innerOptimizer = innerOptimizer
        self.outer = try SparseLoCo(codec: codec, errorFeedbackDecay: parameters.errorFeedbackDecay, outerLearningRate: parameters.outerLearningRate)
        self.sampler = sampler
        self.data = data
        self.storage = storage
        self.chain = chain
        self.gatherer = UpdateGatherer(codec: codec, layout: model.parameters.layout, limits: limits)
    }

    /// Publishes the storage commitment (bucket and read key) on chain.
    public func announce(_ commitment: StorageCommitment) async throws {
        try await chain.commit(try commitment.encoded(), netuid: parameters.netuid)
    }

    /// The window's work, computation only: H inner steps on the slice, Δ = θ₀ − θ_H, error
    /// feedback and compression. θ itself is left unchanged.
    ///
    /// θ₀ is the current θ, or — when earlier windows' aggregates are still in flight (the
    /// overlapped schedule) — θ minus this miner's own transmitted updates of those windows,
    /// the best local estimate of the model the aggregates will produce ("eager" outer steps,
    /// arXiv 2502.12996). Without it, each pseudo-gradient would repeat the step still in
    /// flight and the outer loop would overshoot.
    public mutating func train(window: Window, seed: Digest32) throws -> PreparedUpload {
        let slice = try sampler.slice(uid: uid, window: window, seed: seed)
        let ids = slice.sampleIDs
        guard !ids.isEmpty else { throw NodeError(.invalidConfiguration, "the sampler assigned no samples") }
        let current = model.parameters
        var start = current
        for w in inFlight.keys.sorted() where w < window {
            if let own = inFlight[w] { try own.addScaled(-parameters.outerLearningRate, into: &start) }
        }
        model.parameters = start
        var lossSum = 0.0
        var tokens = 0
        for step in 0..<parameters.innerSteps {
            let first = (step * parameters.batchSize) % ids.count
            let batchIDs = (0..<parameters.batchSize).map { ids[(first + $0) % ids.count] }
            let batch = try data.batch(batchIDs)
            var (loss, gradients) = try model.lossAndGradients(batch)
            if parameters.gradientClip > 0 { try GradientClipping.clipByGlobalNorm(&gradients, maximumNorm: parameters.gradientClip) }
            try innerOptimizer.step(&model.parameters, gradients: gradients)
            lossSum += Double(loss)
            tokens += batch.batchSize * batch.sequenceLength
        }
        var delta = start
        try delta.axpy(-1, model.parameters)
        model.parameters = current
        let metadata = UpdateMetadata(window: window.rawValue, uid: UInt32(uid.rawValue), hotkey: hotkey.rawValue, modelVersion: modelVersion,
                                      sampleDigest: SampleDigest.digest(of: ids).bytes, innerSteps: UInt32(parameters.innerSteps))
        guard case .compressed(let encoded) = try outer.contribution(pseudoGradient: delta, metadata: metadata) else {
            throw NodeError(.invalidConfiguration, "the outer optimizer did not compress")
        }
        inFlight[window] = encoded.transmitted
        return PreparedUpload(window: window, bytes: try WireFormat.serialize(encoded.compressed),
                              meanLoss: lossSum / Double(parameters.innerSteps), tokens: tokens, sampleIDs: ids)
    }

    /// The residual the outer optimizer has not transmitted yet (nil before the first window).
    /// Save it when the process stops and give it back to ``restoreErrorFeedback(_:)`` after a
    /// restart: otherwise that part of the miner's past work is never sent.
    public var errorFeedback: ParameterSet? { outer.errorFeedback }

    /// Restores a residual saved by ``errorFeedback``.
    /// - Throws: ``NodeError`` `.invalidCheckpoint` if its layout is not the model's or it holds
    ///   a non-finite value.
    public mutating func restoreErrorFeedback(_ residual: ParameterSet) throws {
        guard residual.layout == model.parameters.layout else {
            throw NodeError(.invalidCheckpoint, "the saved error feedback does not match the model's layout")
        }
        do { try outer.restoreErrorFeedback(residual) } catch {
            throw NodeError(.invalidCheckpoint, "the saved error feedback is unusable: \(error)")
        }
    }

    /// Puts the upload under `gradient/{window}/{uid}` (retried on transient failures).
    @discardableResult
    public func upload(_ prepared: PreparedUpload) async throws -> ObjectInfo {
        let key = gatherer.keys.gradient(window: prepared.window, uid: uid)
        return try await Retry.run(attempts: 3) { try await storage.put(key, prepared.bytes) }
    }

    /// Reads the validator's peer list for `window` and reproduces its aggregate. Returns nil
    /// while the list is not published.
    public func gather(window: Window) async throws -> GatheredAggregate? {
        try await Synchronizer(parameters: parameters, gatherer: gatherer).aggregate(window: window, storage: storage, chain: chain)
    }

    /// Applies a gathered aggregate (the outer step).
    public mutating func apply(_ gathered: GatheredAggregate) throws {
        if let aggregate = gathered.aggregate { try outer.apply(aggregate: aggregate, to: &model.parameters) }
        appliedWindow = gathered.window
        inFlight = inFlight.filter { $0.key > gathered.window }
    }

    /// Replaces θ (catch-up from a checkpoint).
    public mutating func load(_ parameters: ParameterSet, window: Window) throws {
        guard parameters.layout == model.parameters.layout else { throw NodeError(.invalidCheckpoint, "checkpoint layout differs from the model's") }
        model.parameters = parameters
        appliedWindow = window
        inFlight = inFlight.filter { $0.key > window }
    }

    /// Brings θ to the network's state before `window`: the latest checkpoint, then every
    /// published aggregate after it. Returns the number of aggregates replayed.
    @discardableResult
    public mutating func catchUp(before window: Window) async throws -> Int {
        let sync = Synchronizer(parameters: parameters, gatherer: gatherer)
        var replayed = 0
        if let (w, p) = try await sync.latestCheckpoint(before: window, storage: storage) { try load(p, window: w) }
        let start = try await sync.startWindow(storage: storage) ?? window.rawValue
        var next = Window(rawValue: appliedWindow.map { $0.rawValue + 1 } ?? start)
        while next < window, let gathered = try await gather(window: next) {
            try apply(gathered)
            replayed += 1
            next = Window(rawValue: next.rawValue + 1)
        }
        return replayed
    }

    /// The wall-clock service loop: from `first`, for `windows` windows (nil: until cancelled).
    /// Training window W+1 overlaps window W's upload and gather; every failure of storage or
    /// the chain costs at most that window's contribution, never the process.
    public mutating func run(from first: Window, windows: Int?, pollSeconds: Double = 1,
                             log: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        var window = first
        var pending: Task<GatheredAggregate?, Never>?
        var done = 0
        while windows.map({ done < $0 }) ?? true {
            try Task.checkCancellation()
            let block = try await WindowSchedule.waitForBlock(parameters.firstBlock(of: window), chain: chain, pollSeconds: pollSeconds)
            let prepared: PreparedUpload?
            do { prepared = try train(window: window, seed: block.hash) } catch {
                log("window \(window): training failed: \(error)")
                prepared = nil
            }
            if let gathered = await pending?.value { try? apply(gathered) }
            pending = nil
            if let prepared {
                log("window \(window): trained \(prepared.tokens) tokens, loss \(Double(Int(prepared.meanLoss * 10_000)) / 10_000)")
                // Upload once the interval opens, then gather — in the background while the
                // next window trains.
                let me = self
                let w = window
                pending = Task {
                    do {
                        _ = try await WindowSchedule.waitForBlock(me.parameters.firstBlock(of: Window(rawValue: w.rawValue + 1)), chain: me.chain, pollSeconds: pollSeconds)
                        try await me.upload(prepared)
                        log("window \(w): uploaded \(prepared.bytes.count) bytes")
                    } catch {
                        log("window \(w): upload failed: \(error)")
                    }
                    return await me.waitForAggregate(window: w, pollSeconds: pollSeconds, log: log)
                }
            }
            window = Window(rawValue: window.rawValue + 1)
            done += 1
        }
        if let gathered = await pending?.value { try? apply(gathered) }
    }

    /// Polls for `window`'s peer list until the next window's upload interval closes.
    func waitForAggregate(window: Window, pollSeconds: Double, log: @Sendable (String) -> Void) async -> GatheredAggregate? {
        let deadlineWindow = Window(rawValue: window.rawValue + 2)
        while !Task.isCancelled {
            do {
                if let gathered = try await gather(window: window) {
                    log("window \(window): applied the aggregate of \(gathered.used.count) peers")
                    return gathered
                }
                let head = try await chain.head().number
                if head >= parameters.firstBlock(of: deadlineWindow) {
                    log("window \(window): no peer list published in time; skipping its outer step")
                    return nil
                }
            } catch {
                log("window \(window): gather failed: \(error)")
            }
            try? await Task.sleep(nanoseconds: UInt64(max(0.01, pollSeconds) * 1e9))
        }
        return nil
    }
}
