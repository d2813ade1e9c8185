import Foundation
import Synchronization
import Tessera

/// The error a "killed" storage throws: the process is gone, nothing after it happens.
struct Killed: Error {}

/// Counts writes and dies at the `killAt`-th one; once dead, every call fails (a killed
/// process does not retry).
final class KillSwitch: Sendable {
    private let state: Mutex<(writes: Int, dead: Bool)> = Mutex((0, false))
    let killAt: Int?
    init(killAt: Int?) { self.killAt = killAt }
    func write() throws {
        try state.withLock { s in
            if s.dead { throw Killed() }
            if let killAt, s.writes == killAt { s.dead = true; throw Killed() }
            s.writes += 1
        }
    }
    func check() throws { if state.withLock({ $0.dead }) { throw Killed() } }
    var writes: Int { state.withLock { $0.writes } }
    var fired: Bool { state.withLock { $0.dead } }
}

/// A storage that dies like a killed process, at a chosen write.
struct KillableStorage<Base: StorageBackend>: StorageBackend {
    let base: Base
    let kill: KillSwitch
    func put(_ key: ObjectKey, _ bytes: [UInt8]) async throws -> ObjectInfo {
        try kill.write()
        return try await base.put(key, bytes)
    }
    func get(_ key: ObjectKey, limit: Int) async throws -> (info: ObjectInfo, bytes: [UInt8]) {
        try kill.check()
        return try await base.get(key, limit: limit)
    }
    func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        try kill.check()
        return try await base.head(key)
    }
    func listPage(prefix: String, after continuation: ListContinuation?, pageSize: Int) async throws -> ObjectListing {
        try kill.check()
        return try await base.listPage(prefix: prefix, after: continuation, pageSize: pageSize)
    }
    func delete(_ key: ObjectKey) async throws {
        try kill.write()
        try await base.delete(key)
    }
}

/// A tiny network (3 honest miners, 1 zero-update miner, 1 validator) on a virtual clock.
struct NetworkFixture {
    static let model = LlamaConfiguration(vocabularySize: 16, dimension: 8, layerCount: 1, headCount: 2, keyValueHeadCount: 2,
                                          feedForwardDimension: 16, contextLength: 8)
    static var parameters: NetworkParameters {
        var p = NetworkParameters()
        p.samplesPerSlice = 8
        p.innerSteps = 2
        p.batchSize = 4
        p.codec = ChunkedTopKCodec.Configuration(maximumChunkSide: 8, topK: 8)
        p.weightInterval = 1
        p.checkpointInterval = 2
        return p
    }

    /// The validator's state at the end of a run.
    struct Outcome: Equatable {
        var parameters: [Float]
        var scorer: GauntletState
        var weights: [UID: Double]
        var peerLists: [[UInt8]]
        var minerParameters: [[Float]]
    }

    /// Runs `windows` windows. With `killAt`, the validator's storage dies at that write; the
    /// validator is then rebuilt from nothing (a new process) and resumes from storage.
    /// Returns the outcome and whether the kill fired.
    static func run(windows: Int, killAt: Int? = nil) async throws -> (Outcome, Bool) {
        let (outcome, fired, _, _) = try await runKeepingState(windows: windows, killAt: killAt)
        return (outcome, fired)
    }

    /// ``run(windows:killAt:)``, also returning the storage and chain for further checks.
    /// `published` holds peer lists to store before the validator processes their window (as
    /// if an earlier run of the validator had published them).
    static func runKeepingState(windows: Int, killAt: Int? = nil, published: [Window: [UID]] = [:]) async throws
        -> (Outcome, Bool, InMemoryStorage, LocalChain) {
        let p = parameters
        let genesis = 1_700_000_000.0
        let clock = ManualWallClock(Date(timeIntervalSince1970: genesis))
        let storage = InMemoryStorage(clock: clock)
        let chain = try LocalChain(configuration: .init(genesisSeed: 9, genesisTime: genesis, tempo: 7, validatorPermits: 1))
        _ = try await chain.register("validator", netuid: p.netuid, stake: 100)
        var miners: [Miner<LlamaModel, ChunkedTopKCodec, DeterministicSliceSampler, InMemoryStorage, LocalChainClient>] = []
        let corpus = try SyntheticCorpus(configuration: .init(vocabularySize: 16, support: 4, seed: 3), sampleLength: 8, sampleCount: 4096)
        let initial = try LlamaModel(configuration: model, seed: 2)
        let codec = try ChunkedTopKCodec(configuration: p.codec)
        let sampler = try DeterministicSliceSampler(count: p.samplesPerSlice, sampleCount: 4096)
        for i in 1...4 {
            let key = Hotkey(rawValue: "miner-\(i)")
            _ = try await chain.register(key, netuid: p.netuid)
            miners.append(try await Miner(parameters: p, hotkey: key, model: initial, innerOptimizer: try AdamW(learningRate: 1e-2), codec: codec,
                                          sampler: sampler, data: corpus, storage: storage, chain: chain.client(as: key)))
        }
        let kill = KillSwitch(killAt: killAt)
        func makeValidator(_ s: KillableStorage<InMemoryStorage>) async throws
            -> Validator<LlamaModel, ChunkedTopKCodec, GauntletScorer, DeterministicSliceSampler, KillableStorage<InMemoryStorage>, LocalChainClient> {
            try await Validator(parameters: p, hotkey: "validator", model: initial, scorer: try GauntletScorer(), codec: codec, sampler: sampler,
                                data: corpus, storage: s, chain: chain.client(as: "validator"))
        }
        var validator = try await makeValidator(KillableStorage(base: storage, kill: kill))
        let client = chain.client(as: "validator")

        func advance(to block: UInt64) async throws {
            let head = await chain.headNumber
            if block > head {
                let info = try await chain.advance(blocks: block - head)
                clock.set(Date(timeIntervalSince1970: info.timestamp))
            }
        }
        let start = Window(rawValue: 1)
        try await advance(to: p.firstBlock(of: start))
        var next: Window
        do { next = try await validator.resume(before: start) } catch is Killed {
            validator = try await makeValidator(KillableStorage(base: storage, kill: KillSwitch(killAt: nil)))
            next = try await validator.resume(before: start)
        }
        var prepared: [PreparedUpload] = []
        for k in 0...windows {
            let window = Window(rawValue: start.rawValue + UInt64(k))
            if k > 0 {
                let previous = Window(rawValue: window.rawValue - 1)
                let interval = try await WindowSchedule.uploadInterval(of: previous, parameters: p, chain: client)
                for (i, upload) in prepared.enumerated() {
                    clock.set(Date(timeIntervalSince1970: interval.lowerBound + 1 + Double(i)))
                    if i == 3 {
                        // uid 4 uploads zeros: valid, useless.
                        let zeros = try codec.encode(ParameterSet(zerosLike: initial.parameters.layout),
                                                     metadata: UpdateMetadata(window: previous.rawValue, uid: 4, hotkey: "miner-4"))
                        _ = try await storage.put(ObjectKeyLayout.current.gradient(window: previous, uid: 4), try WireFormat.serialize(zeros.compressed))
                    } else {
                        try await miners[i].upload(upload)
                    }
                }
                while try await WindowSchedule.revealBlock(of: previous, parameters: p, chain: client) == nil {
                    try await advance(to: await chain.headNumber + 1)
                }
                if let peers = published[previous] {
                    _ = try await storage.put(ObjectKeyLayout.current.peerList(window: previous), try PeerList(window: previous, peers: peers).encoded())
                }
                // Process every window up to W−1 (more than one after a restart).
                while next <= previous {
                    do {
                        _ = try await validator.process(window: next)
                        next = Window(rawValue: next.rawValue + 1)
                    } catch is Killed {
                        // The process died: a new one starts from storage alone.
                        validator = try await makeValidator(KillableStorage(base: storage, kill: KillSwitch(killAt: nil)))
                        next = try await validator.resume(before: Window(rawValue: previous.rawValue + 1))
                    }
                }
                for i in miners.indices {
                    guard let gathered = try await miners[i].gather(window: previous) else { throw NodeError(.invalidPeerList, "no peer list") }
                    try miners[i].apply(gathered)
                }
            }
            prepared = []
            if k < windows {
                let seed = try await WindowSchedule.seed(of: window, parameters: p, chain: client)
                for i in miners.indices { prepared.append(try miners[i].train(window: window, seed: seed)) }
            }
            try await advance(to: p.firstBlock(of: Window(rawValue: window.rawValue + 1)))
        }
        var lists: [[UInt8]] = []
        for w in 1...UInt64(windows) {
            lists.append(try await storage.get(ObjectKeyLayout.current.peerList(window: Window(rawValue: w)), limit: 1 << 20).bytes)
        }
        let outcome = Outcome(parameters: validator.model.parameters.scalars, scorer: validator.scorer.state, weights: validator.weights,
                              peerLists: lists, minerParameters: miners.map(\.model.parameters.scalars))
        return (outcome, kill.fired, storage, chain)
    }
}
