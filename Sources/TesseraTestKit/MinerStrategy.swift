public import Tessera

/// One upload: the bytes a miner put in storage and the storage server's timestamp.
public struct Upload: Sendable {
    /// The file (Tessera's wire format, or anything a hostile miner chose).
    public var bytes: [UInt8]
    /// The server's LastModified, seconds.
    public var uploadTime: Double

    /// Creates an upload.
    public init(bytes: [UInt8], uploadTime: Double) {
        self.bytes = bytes
        self.uploadTime = uploadTime
    }
}

/// Everything a miner strategy sees in one window.
public struct MinerContext: Sendable {
    /// The window.
    public var window: Window
    /// The miner's uid.
    public var uid: UID
    /// The global model at the start of the window.
    public var model: LlamaModel
    /// The training data.
    public var data: any TokenSource
    /// The miner's assigned slice.
    public var slice: DataSlice
    /// The network's codec.
    public var codec: ChunkedTopKCodec
    /// The window's upload interval [T_min, T_max] on the server's clock.
    public var uploadWindow: ClosedRange<Double>
    /// Uploads other miners already made this window (public: read keys are public).
    public var visibleUploads: [UID: Upload]
    /// Inner steps and learning rate honest work uses.
    public var innerSteps: Int
    /// Inner learning rate.
    public var innerLearningRate: Float
    /// Samples per inner step.
    public var batchSize: Int

    /// Creates a context.
    public init(window: Window, uid: UID, model: LlamaModel, data: any TokenSource, slice: DataSlice, codec: ChunkedTopKCodec,
                uploadWindow: ClosedRange<Double>, visibleUploads: [UID: Upload], innerSteps: Int, innerLearningRate: Float, batchSize: Int) {
        self.window = window
        self.uid = uid
        self.model = model
        self.data = data
        self.slice = slice
        self.codec = codec
        self.uploadWindow = uploadWindow
        self.visibleUploads = visibleUploads
        self.innerSteps = innerSteps
        self.innerLearningRate = innerLearningRate
        self.batchSize = batchSize
    }

    /// Honest work on `sampleIDs`: `innerSteps` AdamW steps from the global model; returns the
    /// pseudo-gradient Δ = θ₀ − θ_H.
    public func pseudoGradient(trainingOn sampleIDs: [UInt64]) throws -> ParameterSet {
        var local = model
        var optimizer = try AdamW(learningRate: innerLearningRate, beta1: 0.9, beta2: 0.95, weightDecay: 0)
        for step in 0..<innerSteps {
            let start = (step * batchSize) % max(sampleIDs.count, 1)
            let ids = (0..<batchSize).map { sampleIDs[(start + $0) % sampleIDs.count] }
            var (_, gradients) = try local.lossAndGradients(try data.batch(ids))
            try GradientClipping.clipByGlobalNorm(&gradients, maximumNorm: 1)
            try optimizer.step(&local.parameters, gradients: gradients)
        }
        var delta = model.parameters
        try delta.axpy(-1, local.parameters)
        return delta
    }

    /// Metadata an honest miner attaches.
    public func metadata(sampleIDs: [UInt64]) -> UpdateMetadata {
        UpdateMetadata(window: window.rawValue, uid: UInt32(uid.rawValue), hotkey: "miner-\(uid)", modelVersion: "llama",
                       sampleDigest: SampleDigest.digest(of: sampleIDs).bytes, innerSteps: UInt32(innerSteps))
    }

    /// Encodes `values` with the network's codec and serializes them.
    public func encode(_ values: ParameterSet, metadata: UpdateMetadata) throws -> [UInt8] {
        try WireFormat.serialize(codec.encode(values, metadata: metadata).compressed)
    }

    /// A time comfortably inside the upload interval.
    public var onTime: Double { uploadWindow.lowerBound + 0.25 * (uploadWindow.upperBound - uploadWindow.lowerBound) }
}

/// A miner's behaviour: honest, or one of the attacks seen in the wild.
///
/// The harness calls ``upload(_:)`` once per window; the strategy returns what it puts in
/// storage (or nothing). Strategies act only through uploads, so a scorer is tested exactly as
/// a validator would face them.
public protocol MinerStrategy: Sendable {
    /// `honest`, or the adversary's name.
    var role: String { get }
    /// The upload for this window, if any.
    mutating func upload(_ context: MinerContext) throws -> Upload?
}
