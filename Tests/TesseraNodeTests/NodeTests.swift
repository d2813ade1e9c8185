import Foundation
import Testing
import Tessera
import TesseraSimulation

@Suite("Node pieces")
struct NodeTests {
    static let layout = try! LlamaModel(configuration: NetworkFixture.model, seed: 2).parameters.layout
    static let codec = try! ChunkedTopKCodec(configuration: NetworkFixture.parameters.codec)

    static func upload(window: UInt64 = 5, uid: UInt32 = 3, hotkey: String = "miner-3", scale: Float = 1e-3) throws -> [UInt8] {
        var g = Xoshiro256StarStar(seed: 4)
        let values = try ParameterSet(layout: layout, scalars: g.normalFloats(count: layout.scalarCount, standardDeviation: scale))
        return try WireFormat.serialize(codec.encode(values, metadata: UpdateMetadata(window: window, uid: uid, hotkey: hotkey)).compressed)
    }

    @Test func gathererAppliesTimeBoundsAndMetadataChecks() throws {
        let gatherer = UpdateGatherer(codec: Self.codec, layout: Self.layout)
        let bytes = try Self.upload()
        let interval = 100.0...170.0
        func verdict(_ b: [UInt8], time: Double = 120, uid: UID = 3, window: Window = 5, hotkey: String? = "miner-3") -> String {
            switch gatherer.check(b, uploadTime: time, uid: uid, window: window, interval: interval, expectedHotkey: hotkey) {
            case .update: "update"
            case .early: "early"
            case .late: "late"
            case .missing: "missing"
            case .invalid(let why): "invalid: \(why)"
            }
        }
        #expect(verdict(bytes) == "update")
        #expect(verdict(bytes, time: 100) == "update")  // bounds are inclusive
        #expect(verdict(bytes, time: 170) == "update")
        #expect(verdict(bytes, time: 99.9) == "early")
        #expect(verdict(bytes, time: 170.1) == "late")
        #expect(verdict(bytes, window: 6).hasPrefix("invalid: metadata names window 5"))
        #expect(verdict(bytes, uid: 4).hasPrefix("invalid: metadata names uid 3"))
        #expect(verdict(bytes, hotkey: "miner-9").hasPrefix("invalid: metadata names hotkey miner-3"))
        #expect(verdict(Array(bytes.prefix(40))).hasPrefix("invalid: "))
        var flipped = bytes
        flipped[flipped.count / 2] ^= 0x40
        #expect(verdict(flipped).hasPrefix("invalid: "))
        #expect(verdict([]).hasPrefix("invalid: "))
    }

    @Test func gathererReadsStorageUnderItsLimits() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 120))
        let storage = InMemoryStorage(clock: clock)
        var limits = DecodeLimits()
        limits.maximumStoredBytes = 4096
        let gatherer = UpdateGatherer(codec: Self.codec, layout: Self.layout, limits: limits)
        let keys = ObjectKeyLayout.current
        _ = try await storage.put(keys.gradient(window: 5, uid: 3), try Self.upload())
        _ = try await storage.put(keys.gradient(window: 5, uid: 4), [UInt8](repeating: 7, count: 5000))
        clock.set(Date(timeIntervalSince1970: 200))
        _ = try await storage.put(keys.gradient(window: 5, uid: 5), try Self.upload(uid: 5, hotkey: "miner-5"))
        let all = await gatherer.fetchAll([5, 3, 4, 6, 3], window: 5, interval: 100...170, from: storage)
        #expect(all.map(\.uid) == [3, 4, 5, 6])
        #expect(all[0].update != nil && all[0].uploadTime == 120)
        guard case .invalid(let why) = all[1].submission else { Issue.record("oversized object accepted"); return }
        #expect(why.contains("over the 4096-byte limit"))
        guard case .late = all[2].submission else { Issue.record("late object accepted"); return }
        guard case .missing = all[3].submission else { Issue.record("absent object not missing"); return }
    }

    @Test func peerListsAreCanonicalAndCheckedOnRead() throws {
        let list = PeerList(window: 7, peers: [5, 3, 5, 9])
        #expect(list.peers == [3, 5, 9])
        let bytes = try list.encoded()
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"format":"tessera-peers\/v1","peers":[3,5,9],"window":7}"#)
        #expect(try PeerList(decoding: bytes, window: 7) == list)
        #expect(throws: NodeError.self) { try PeerList(decoding: bytes, window: 8) }
        #expect(throws: NodeError.self) { try PeerList(decoding: Array(#"{"format":"tessera-peers/v1","peers":[5,3],"window":7}"#.utf8), window: 7) }
        #expect(throws: NodeError.self) { try PeerList(decoding: Array(#"{"format":"x","peers":[],"window":7}"#.utf8), window: 7) }
        #expect(throws: NodeError.self) { try PeerList(decoding: Array("not json".utf8), window: 7) }
        #expect(throws: NodeError.self) { try PeerList(decoding: [UInt8](repeating: 32, count: PeerList.maximumBytes + 1), window: 7) }
    }

    @Test func commitmentsRoundTripAndRejectGarbage() throws {
        let c = StorageCommitment(bucket: "tessera", readKey: "READ", endpoint: "http://127.0.0.1:8333")
        let bytes = try c.encoded()
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"bucket":"tessera","endpoint":"http:\/\/127.0.0.1:8333","format":"tessera-commitment\/v1","read_key":"READ"}"#)
        #expect(try StorageCommitment(decoding: bytes) == c)
        #expect(throws: NodeError.self) { try StorageCommitment(decoding: Array("{}".utf8)) }
        #expect(throws: NodeError.self) { try StorageCommitment(decoding: [UInt8](repeating: 0, count: 2000)) }
    }

    @Test func checkpointsRoundTripAndRejectMismatches() throws {
        let model = try LlamaModel(configuration: NetworkFixture.model, seed: 2)
        let bytes = try ModelCheckpoint.encode(model.parameters, window: 12)
        let (window, parameters) = try ModelCheckpoint.decode(bytes, layout: model.parameters.layout)
        #expect(window == 12 && parameters == model.parameters)
        let other = try LlamaModel(configuration: LlamaConfiguration(vocabularySize: 16, dimension: 16, layerCount: 1, headCount: 2, keyValueHeadCount: 2,
                                                                     feedForwardDimension: 16, contextLength: 8), seed: 2)
        #expect(throws: NodeError.self) { try ModelCheckpoint.decode(bytes, layout: other.parameters.layout) }
        #expect(throws: NodeError.self) { try ModelCheckpoint.decode(Array(bytes.prefix(100)), layout: model.parameters.layout) }
        var plain = SafeTensorsWriter()
        try plain.add(model.parameters)
        #expect(throws: NodeError.self) { try ModelCheckpoint.decode(try plain.bytes(), layout: model.parameters.layout) }
        let snapshot = ValidatorSnapshot(window: 12, scorer: GauntletState(), weights: [3: 0.5, 4: 0.5])
        #expect(try ValidatorSnapshot<GauntletState>(decoding: try snapshot.encoded()) == snapshot)
        #expect(throws: NodeError.self) { try ValidatorSnapshot<GauntletState>(decoding: Array("{}".utf8)) }
    }

    @Test func parametersAreValidated() throws {
        var p = NetworkParameters()
        #expect(throws: Never.self) { try p.validate() }
        p.uploadWindowSeconds = .nan
        #expect(throws: NodeError.self) { try p.validate() }
        p = NetworkParameters()
        p.codec.topK = 0
        #expect(throws: NodeError.self) { try p.validate() }
        p = NetworkParameters()
        #expect(p.firstBlock(of: 3) == 21 && p.window(ofBlock: 27) == 3)
    }

    @Test func peersChosenByWeightThenUID() throws {
        let parsed = try WireFormat.parse(try Self.upload(), layout: Self.layout)
        let dummy = try Self.codec.decode(parsed, layout: Self.layout)
        let uploads = [GatheredUpload(uid: 1, submission: .update(dummy)), GatheredUpload(uid: 2, submission: .update(dummy)),
                       GatheredUpload(uid: 3, submission: .late), GatheredUpload(uid: 4, submission: .update(dummy))]
        typealias V = Validator<LlamaModel, ChunkedTopKCodec, GauntletScorer, DeterministicSliceSampler, InMemoryStorage, LocalChainClient>
        #expect(V.choosePeers(uploads: uploads, weights: [:], maximum: 10) == [1, 2, 4])
        #expect(V.choosePeers(uploads: uploads, weights: [:], maximum: 2) == [1, 2])
        #expect(V.choosePeers(uploads: uploads, weights: [3: 0.9, 4: 0.5, 2: 0.5, 1: 0], maximum: 1) == [2])
        #expect(V.choosePeers(uploads: uploads, weights: [3: 0.9, 4: 0.6, 2: 0.5], maximum: 5) == [2, 4])
    }

    @Test func aLateMinerCatchesUpFromCheckpointsAndPeerLists() async throws {
        let (outcome, _, storage, chain) = try await NetworkFixture.runKeepingState(windows: 5)
        let p = NetworkFixture.parameters
        _ = try await chain.register("late-miner", netuid: p.netuid)
        let corpus = try SyntheticCorpus(configuration: .init(vocabularySize: 16, support: 4, seed: 3), sampleLength: 8, sampleCount: 4096)
        var late = try await Miner(parameters: p, hotkey: "late-miner", model: try LlamaModel(configuration: NetworkFixture.model, seed: 2),
                                   innerOptimizer: try AdamW(learningRate: 1e-2), codec: Self.codec,
                                   sampler: try DeterministicSliceSampler(count: 8, sampleCount: 4096), data: corpus, storage: storage,
                                   chain: chain.client(as: "late-miner"))
        let replayed = try await late.catchUp(before: 6)
        // Checkpoint of window 4, then window 5's aggregate.
        #expect(replayed == 1)
        #expect(late.appliedWindow == 5)
        #expect(late.model.parameters.scalars == outcome.parameters)
    }

    /// A miner that restarts with its saved error feedback sends exactly what it would have
    /// sent without the restart; without the saved feedback it sends something else. (A
    /// stateless inner optimizer, plain SGD, so that the error feedback is the only state.)
    @Test func aRestartedMinerResumesWithItsSavedErrorFeedback() async throws {
        let (_, _, storage, chain) = try await NetworkFixture.runKeepingState(windows: 5)
        let p = NetworkFixture.parameters
        _ = try await chain.register("restarting-miner", netuid: p.netuid)
        let corpus = try SyntheticCorpus(configuration: .init(vocabularySize: 16, support: 4, seed: 3), sampleLength: 8, sampleCount: 4096)
        func makeMiner() async throws -> Miner<LlamaModel, ChunkedTopKCodec, DeterministicSliceSampler, InMemoryStorage, LocalChainClient> {
            var miner = try await Miner(parameters: p, hotkey: "restarting-miner", model: try LlamaModel(configuration: NetworkFixture.model, seed: 2),
                                        innerOptimizer: try SGD(learningRate: 0.05), codec: Self.codec,
                                        sampler: try DeterministicSliceSampler(count: 8, sampleCount: 4096), data: corpus, storage: storage,
                                        chain: chain.client(as: "restarting-miner"))
            _ = try await miner.catchUp(before: 6)
            return miner
        }
        let seed6 = chain.blockInfo(p.firstBlock(of: 6)).hash, seed7 = chain.blockInfo(p.firstBlock(of: 7)).hash
        // Window 6 closes with nobody aggregated: the model stays, only the feedback moved.
        let empty = GatheredAggregate(window: 6, peers: [], used: [], aggregate: nil)
        var uninterrupted = try await makeMiner()
        _ = try uninterrupted.train(window: 6, seed: seed6)
        try uninterrupted.apply(empty)
        let saved = try ModelCheckpoint.encode(try #require(uninterrupted.errorFeedback), window: 6)
        let expected = try uninterrupted.train(window: 7, seed: seed7).bytes

        var restarted = try await makeMiner()
        try restarted.apply(empty)
        let (_, residual) = try ModelCheckpoint.decode(saved, layout: restarted.model.parameters.layout)
        try restarted.restoreErrorFeedback(residual)
        #expect(try restarted.train(window: 7, seed: seed7).bytes == expected)

        var fresh = try await makeMiner()
        try fresh.apply(empty)
        #expect(try fresh.train(window: 7, seed: seed7).bytes != expected)

        // Invalid residuals are typed errors and change nothing.
        var bad = residual
        bad.withUnsafeMutableBufferPointer { $0[0] = .nan }
        #expect(throws: NodeError.self) { try fresh.restoreErrorFeedback(bad) }
    }

    @Test func theSimulatorRunsATinyNetworkAndReports() async throws {
        var c = SimulationConfiguration.tiny(windows: 4, honestMiners: 3, adversaries: ["nan-injector", "late", "copier"])
        c.baseline = true
        let report = try await NetworkSimulator(configuration: c).run()
        #expect(report.windows.map(\.window) == [1, 2, 3, 4])
        #expect(report.finalWeights.count == 6)
        #expect(report.finalWeights["4"]?.role == "nan-injector" && report.finalWeights["4"]?.weight == 0)
        #expect(report.windows.allSatisfy { w in w.rejected.contains { $0.uid == 4 && $0.reason.hasPrefix("invalid") } })
        #expect(report.windows.allSatisfy { w in w.rejected.contains { $0.uid == 5 && $0.reason == "late" } })
        #expect(report.windows.allSatisfy { $0.minerLosses.count == 3 })
        #expect(report.baselineLoss != nil && report.finalLoss < report.initialLoss)
        #expect(report.tokensTrained == 4 * 3 * c.network.innerSteps * c.network.batchSize * 16)
        let json = try JSONSerialization.jsonObject(with: Data(try report.json())) as? [String: Any]
        for key in ["honest_weight_share", "final_weights", "windows", "entropy_floor", "tokens_trained", "baseline_loss"] {
            #expect(json?[key] != nil, "report.json lacks \(key)")
        }
        let svg = report.lossChart().render()
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline") && svg.hasSuffix("</svg>\n"))
    }
}

extension SimulationConfiguration {
    /// A network small enough for a unit test: a one-layer Llama of width 16 on a 32-token
    /// vocabulary, 16 × 16 chunks keeping 16 values.
    static func tiny(windows: Int, honestMiners: Int, adversaries: [String]) -> SimulationConfiguration {
        var c = SimulationConfiguration()
        c.model = LlamaConfiguration(vocabularySize: 32, dimension: 16, layerCount: 1, headCount: 2, keyValueHeadCount: 2, feedForwardDimension: 32, contextLength: 16)
        c.corpus.vocabularySize = 32
        c.sampleCount = 10_000
        c.network.codec = ChunkedTopKCodec.Configuration(maximumChunkSide: 16, topK: 16)
        c.windows = windows
        c.honestMiners = honestMiners
        c.adversaries = adversaries
        c.evaluationSamples = 16
        return c
    }
}
