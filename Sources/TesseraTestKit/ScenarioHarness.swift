public import Tessera

/// Runs scripted windows of a small network — a tiny Llama, the synthetic corpus, the real codec
/// and wire format — with a chosen mix of miner strategies, scores them with any ``Scorer`` and
/// reports each miner's weight.
///
/// Per window: derive the block hashes; each miner (in uid order) uploads; the validator side
/// rejects uploads outside the time bounds, decodes under limits, checks metadata against the
/// window and uid; the scorer evaluates; the updates of the peers with positive weight (all valid
/// ones while nobody has any) are aggregated with ``MedianNormClippedMean`` and applied.
public struct ScenarioHarness: Sendable {
    /// Settings of a scenario.
    public struct Configuration: Sendable {
        /// The model.
        public var model = LlamaConfiguration(vocabularySize: 64, dimension: 32, layerCount: 1, headCount: 2, keyValueHeadCount: 2, feedForwardDimension: 64, contextLength: 32)
        /// The corpus (its vocabulary must equal the model's).
        public var corpus = SyntheticCorpus.Configuration(vocabularySize: 64, support: 8, extendedFraction: 0.5, groups: 4, concentration: 1.5, seed: 5)
        /// Samples in the corpus.
        public var sampleCount = 100_000
        /// Samples assigned per miner per window.
        public var samplesPerSlice = 16
        /// Inner steps per window.
        public var innerSteps = 2
        /// Inner learning rate.
        public var innerLearningRate: Float = 3e-3
        /// Samples per inner step.
        public var batchSize = 8
        /// The codec.
        public var codec = ChunkedTopKCodec.Configuration(maximumChunkSide: 16, topK: 16)
        /// Seconds the upload interval stays open.
        public var uploadWindowSeconds = 70.0
        /// Seed of block hashes and initialization.
        public var seed: UInt64 = 1
        /// Creates the defaults (a model small enough for debug-build tests).
        public init() {}
    }

    /// What a scenario produced.
    public struct Report: Sendable {
        /// The role of each uid.
        public var roles: [UID: String]
        /// Every window's scores.
        public var windows: [WindowScores]
        /// Weights after the last window.
        public var finalWeights: [UID: Double] { windows.last?.weights ?? [:] }
        /// The share of the final weight held by honest miners (1 when nobody has weight).
        public var honestShare: Double {
            let total = finalWeights.values.reduce(0, +)
            guard total > 0 else { return 1 }
            return finalWeights.filter { roles[$0.key] == "honest" }.values.reduce(0, +) / total
        }
        /// Final weight per role (summed over uids with that role).
        public var weightByRole: [String: Double] {
            var out: [String: Double] = [:]
            for (uid, role) in roles { out[role, default: 0] += finalWeights[uid] ?? 0 }
            return out
        }
        /// The global model's loss on the validator's samples, per window.
        public var losses: [Double] { windows.compactMap(\.randomLossBefore) }
    }

    /// The settings.
    public let configuration: Configuration

    /// Creates a harness.
    public init(configuration: Configuration = Configuration()) { self.configuration = configuration }

    /// Runs `windows` windows with `miners` (uid = position) and `scorer`.
    public func run<S: Scorer>(windows: Int, miners: [any MinerStrategy], scorer: inout S) throws -> Report {
        let c = configuration
        let codec = try ChunkedTopKCodec(configuration: c.codec)
        let corpus = try SyntheticCorpus(configuration: c.corpus, sampleLength: c.model.contextLength, sampleCount: c.sampleCount)
        var model = try LlamaModel(configuration: c.model, seed: c.seed)
        let layout = model.parameters.layout
        let sampler = try DeterministicSliceSampler(count: c.samplesPerSlice, sampleCount: UInt64(c.sampleCount))
        var strategies = miners
        var roles: [UID: String] = [:]
        for (i, m) in strategies.enumerated() { roles[UID(rawValue: UInt16(i))] = m.role }
        var reports: [WindowScores] = []
        for w in 1...max(1, windows) {
            let window = Window(rawValue: UInt64(w))
            let firstBlock = Self.blockHash(seed: c.seed, block: UInt64(w) * 2)
            let lastBlock = Self.blockHash(seed: c.seed, block: UInt64(w) * 2 + 1)
            let tMin = Double(w) * 1000, tMax = tMin + c.uploadWindowSeconds
            var uploads: [UID: Upload] = [:]
            var slices: [UID: DataSlice] = [:]
            for i in strategies.indices {
                let uid = UID(rawValue: UInt16(i))
                let slice = try sampler.slice(uid: uid, window: window, seed: firstBlock)
                slices[uid] = slice
                let context = MinerContext(
                    window: window, uid: uid, model: model, data: corpus, slice: slice, codec: codec,
                    uploadWindow: tMin...tMax, visibleUploads: uploads, innerSteps: c.innerSteps,
                    innerLearningRate: c.innerLearningRate, batchSize: c.batchSize)
                if let u = try strategies[i].upload(context) { uploads[uid] = u }
            }
            var peers: [PeerEvidence] = []
            for i in strategies.indices {
                let uid = UID(rawValue: UInt16(i))
                let submission = Self.validate(uploads[uid], uid: uid, window: window, bounds: tMin...tMax, codec: codec, layout: layout)
                peers.append(PeerEvidence(uid: uid, submission: submission, uploadTime: uploads[uid]?.uploadTime,
                                          ownSampleIDs: slices[uid]?.sampleIDs ?? [], stepsBehind: 0))
            }
            let random = sampler.validatorDraw(window: window, revealBlockHash: lastBlock, hotkey: "validator").sampleIDs
            let evidence = WindowEvidence(window: window, model: model, data: TokenSourceBatches(corpus), randomSampleIDs: random, peers: peers)
            let scores = try scorer.evaluate(evidence)
            reports.append(scores)
            // The outer step over the rewarded peers' updates.
            let valid = peers.compactMap { p -> SparseUpdate? in if case .update(let u) = p.submission { return u } else { return nil } }
            let rewarded = peers.compactMap { p -> SparseUpdate? in
                guard (scores.weights[p.uid] ?? 0) > 0, case .update(let u) = p.submission else { return nil }
                return u
            }
            let chosen = rewarded.isEmpty ? valid : rewarded
            if !chosen.isEmpty {
                let aggregate = try MedianNormClippedMean().aggregate(chosen, layout: layout)
                try model.parameters.axpy(-1, aggregate)
            }
        }
        return Report(roles: roles, windows: reports)
    }

    /// The validator's checks (``UpdateGatherer/check(_:uploadTime:uid:window:interval:expectedHotkey:)``):
    /// time bounds on the server's clock, decode under limits, metadata.
    public static func validate(_ upload: Upload?, uid: UID, window: Window, bounds: ClosedRange<Double>,
                                codec: ChunkedTopKCodec, layout: ParameterLayout) -> Submission {
        guard let upload else { return .missing }
        return UpdateGatherer(codec: codec, layout: layout, limits: codec.limits)
            .check(upload.bytes, uploadTime: upload.uploadTime, uid: uid, window: window, interval: bounds)
    }

    /// A deterministic stand-in for a chain's block hash.
    public static func blockHash(seed: UInt64, block: UInt64) -> Digest32 {
        var g = Xoshiro256StarStar(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ block)
        var bytes: [UInt8] = []
        for _ in 0..<4 { withUnsafeBytes(of: g.next().littleEndian) { bytes.append(contentsOf: $0) } }
        return try! Digest32(bytes)
    }
}
