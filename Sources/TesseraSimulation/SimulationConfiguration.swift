public import Tessera
import TesseraTestKit

/// Everything a simulated network run is made of; `report.json` embeds it.
///
/// The defaults are the main job's: a small Llama on the synthetic Markov corpus, 6 honest
/// miners, 1 validator and 8 adversaries from the zoo, 45 windows on a virtual clock with
/// storage in a temporary directory (each miner
/// trains H = 2 steps of 8 samples on its 16-sample slice per window) — well under a minute on
/// 2 cores in a release build.
///
/// ``overlapsCommunication`` is off by default: at this scale a one-window-stale
/// pseudo-gradient costs far more loss per token than it saves in (simulated) time; see
/// Documentation/Network.md for the measurements.
public struct SimulationConfiguration: Codable, Hashable, Sendable {
    /// Where uploads and checkpoints live.
    public enum StorageKind: Codable, Hashable, Sendable {
        /// In memory; timestamps from the simulated clock.
        case memory
        /// Files under a directory; timestamps from the simulated clock (file modification times).
        case directory(String)
        /// Files under a fresh temporary directory, removed after the run (the default).
        case temporaryDirectory
        /// A backend passed to ``NetworkSimulator/run(storage:description:progress:)`` that
        /// stamps objects with its own real clock (an S3 server); the string describes it for
        /// the report. The chain then runs in real time, ``blockSeconds`` per block.
        case external(String)
    }

    /// The network's shared settings.
    public var network: NetworkParameters
    /// The model.
    public var model: LlamaConfiguration
    /// The corpus (its vocabulary equals the model's).
    public var corpus: SyntheticCorpus.Configuration
    /// Samples in the corpus.
    public var sampleCount: Int
    /// The miners' inner AdamW learning rate.
    public var innerLearningRate: Float
    /// Windows to run.
    public var windows: Int
    /// Honest miners.
    public var honestMiners: Int
    /// Adversaries, by zoo role (``adversaryZoo(victim:)``).
    public var adversaries: [String]
    /// Seeds the chain, the model's initialization and the baseline's data order.
    public var seed: UInt64
    /// Samples in the held-out set the final losses are measured on.
    public var evaluationSamples: Int
    /// Also train the centralized AdamW baseline at the same token count.
    public var baseline: Bool
    /// Storage.
    public var storage: StorageKind
    /// Miners train window W+1 before window W's aggregate arrives (the overlap of computation
    /// with communication; their pseudo-gradients are then one outer step stale). Off: they
    /// wait for the aggregate first.
    public var overlapsCommunication: Bool
    /// Seconds per chain block (12 on Bittensor). With a virtual clock this only sets the
    /// simulated time; with ``StorageKind/external(_:)`` storage the run waits in real time,
    /// so `tessera simulate --storage s3:…` uses 2-second blocks and a 10-second upload window.
    public var blockSeconds: Double

    /// The main job's defaults.
    public init() {
        var network = NetworkParameters()
        network.samplesPerSlice = 16
        network.innerSteps = 2
        network.batchSize = 8
        network.codec = ChunkedTopKCodec.Configuration(maximumChunkSide: 32, topK: 64)
        network.checkpointInterval = 5
        self.network = network
        model = LlamaConfiguration(vocabularySize: 64, dimension: 64, layerCount: 2, headCount: 4, keyValueHeadCount: 4,
                                   feedForwardDimension: 128, contextLength: 32)
        corpus = SyntheticCorpus.Configuration(vocabularySize: 64, support: 8, extendedFraction: 0.5, groups: 4, concentration: 1.5, seed: 5)
        sampleCount = 200_000
        innerLearningRate = 3e-3
        windows = 45
        honestMiners = 6
        adversaries = Self.defaultAdversaries
        seed = 1
        evaluationSamples = 64
        baseline = false
        storage = .temporaryDirectory
        overlapsCommunication = false
        blockSeconds = 12
    }

    /// The default mix: one adversary per kind of attack the scorer must stop.
    public static let defaultAdversaries = ["nan-injector", "huge-norm", "noise", "sign-flip", "copier", "free-rider", "late", "wrong-data"]

    /// Checks the settings.
    /// - Throws: ``NodeError`` `.invalidConfiguration`.
    public func validate() throws {
        try network.validate()
        func require(_ ok: Bool, _ what: String) throws { if !ok { throw NodeError(.invalidConfiguration, what) } }
        try require(windows >= 1, "windows must be ≥ 1")
        try require(honestMiners >= 1, "at least one honest miner is needed")
        try require(honestMiners + adversaries.count <= 250, "at most 250 miners")
        try require(corpus.vocabularySize == model.vocabularySize, "the corpus vocabulary (\(corpus.vocabularySize)) must equal the model's (\(model.vocabularySize))")
        try require(evaluationSamples >= 1 && evaluationSamples <= sampleCount, "evaluationSamples must be in 1...sampleCount")
        try require(innerLearningRate.isFinite && innerLearningRate > 0, "innerLearningRate must be > 0")
        try require(blockSeconds.isFinite && blockSeconds > 0, "blockSeconds must be > 0")
        if case .external = storage {
            // Real servers stamp objects to the second (HTTP Last-Modified): block times must be
            // whole seconds, the window wide enough to tell on-time from late, and nothing can
            // be uploaded in the past.
            try require(blockSeconds >= 1 && blockSeconds.rounded() == blockSeconds, "with real-time storage blockSeconds must be a whole number ≥ 1")
            try require(network.uploadWindowSeconds >= 4, "with real-time storage the upload window must be at least 4 s")
            try require(!adversaries.contains("early"), "the 'early' adversary uploads in the past: it needs a virtual clock (memory or directory storage)")
        }
        let zoo = Set(adversaryZoo(victim: 0).map(\.role))
        for a in adversaries where !zoo.contains(a) {
            throw NodeError(.invalidConfiguration, "unknown adversary '\(a)' (known: \(zoo.sorted().joined(separator: ", ")))")
        }
    }
}
