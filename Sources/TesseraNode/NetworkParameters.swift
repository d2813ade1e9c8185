public import TesseraCore
public import TesseraCodec

/// The settings every miner and validator of one network must share: window timing, the data
/// slice size, the inner loop, the codec and the outer step.
///
/// Defaults are Templar's published constants where the mechanism has one (7-block windows,
/// a 70-second upload interval, β = 0.95 error feedback, outer rate 1, 20 gathered peers,
/// weights every 2 windows); the inner-loop sizes default to what a laptop can run.
public struct NetworkParameters: Hashable, Sendable, Codable {
    /// The subnet.
    public var netuid: UInt16 = 3
    /// Blocks per window (`window = block / blocksPerWindow`; Templar: 7).
    public var blocksPerWindow: UInt64 = 7
    /// Δt: an upload for window W counts if its storage timestamp lies in
    /// [T_min, T_min + Δt], T_min = the timestamp of window W+1's first block (Templar: 70 s).
    public var uploadWindowSeconds: Double = 70
    /// Samples assigned per miner per window.
    public var samplesPerSlice = 64
    /// Inner optimizer steps per window (H).
    public var innerSteps = 8
    /// Samples per inner step.
    public var batchSize = 8
    /// Global-norm clip on every inner gradient (Templar: 1.0; 0 disables).
    public var gradientClip: Float = 1
    /// The codec every peer uses.
    public var codec = ChunkedTopKCodec.Configuration()
    /// Error-feedback decay β (Templar: 0.95).
    public var errorFeedbackDecay: Float = 0.95
    /// Outer learning rate (Templar: 1.0).
    public var outerLearningRate: Float = 1
    /// Most peers aggregated per window (Templar: 20).
    public var maximumPeers = 20
    /// Validators set weights every this many windows (Templar: 2).
    public var weightInterval: UInt64 = 2
    /// Validators checkpoint the model and their state every this many windows.
    public var checkpointInterval: UInt64 = 5

    /// Creates the defaults.
    public init() {}

    /// Checks every range.
    /// - Throws: ``NodeError`` `.invalidConfiguration` naming the first bad field.
    public func validate() throws {
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw NodeError(.invalidConfiguration, what) }
        }
        try require(blocksPerWindow >= 1, "blocksPerWindow must be ≥ 1")
        try require(uploadWindowSeconds.isFinite && uploadWindowSeconds > 0, "uploadWindowSeconds must be finite and > 0")
        try require(samplesPerSlice >= 1, "samplesPerSlice must be ≥ 1")
        try require(innerSteps >= 1, "innerSteps must be ≥ 1")
        try require(batchSize >= 1, "batchSize must be ≥ 1")
        try require(gradientClip.isFinite && gradientClip >= 0, "gradientClip must be finite and ≥ 0")
        try require((0...1).contains(errorFeedbackDecay), "errorFeedbackDecay must be in [0, 1]")
        try require(outerLearningRate.isFinite && outerLearningRate >= 0, "outerLearningRate must be finite and ≥ 0")
        try require(maximumPeers >= 1, "maximumPeers must be ≥ 1")
        try require(weightInterval >= 1, "weightInterval must be ≥ 1")
        try require(checkpointInterval >= 1, "checkpointInterval must be ≥ 1")
        do { try codec.validate() } catch { throw NodeError(.invalidConfiguration, "codec: \(error)") }
    }

    /// The first block of `window`.
    public func firstBlock(of window: Window) -> UInt64 { window.rawValue &* blocksPerWindow }

    /// The window holding `block`.
    public func window(ofBlock block: UInt64) -> Window { Window(rawValue: block / blocksPerWindow) }
}
