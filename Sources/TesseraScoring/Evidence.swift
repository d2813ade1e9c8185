public import TesseraCore
public import TesseraCodec

/// Why a peer has no usable update this window, or the update itself.
public enum Submission: Sendable {
    /// A decoded update that passed the time and decode checks.
    case update(SparseUpdate)
    /// Nothing was found for the window.
    case missing
    /// The upload's server timestamp is after T_max.
    case late
    /// The upload's server timestamp is before T_min.
    case early
    /// The file failed to decode, or its metadata did not match the window or peer.
    case invalid(reason: String)
}

/// What a validator knows about one peer in one window.
public struct PeerEvidence: Sendable {
    /// The peer.
    public var uid: UID
    /// The update, or why there is none.
    public var submission: Submission
    /// The storage server's LastModified of the upload, seconds since the epoch (if any).
    public var uploadTime: Double?
    /// The sample ids assigned to the peer this window (its slice).
    public var ownSampleIDs: [UInt64]
    /// How many outer steps the peer's model lags the global model (0 = in sync; nil = unknown,
    /// treated as in sync).
    public var stepsBehind: Int?

    /// Creates evidence.
    public init(uid: UID, submission: Submission, uploadTime: Double? = nil, ownSampleIDs: [UInt64] = [], stepsBehind: Int? = nil) {
        self.uid = uid
        self.submission = submission
        self.uploadTime = uploadTime
        self.ownSampleIDs = ownSampleIDs
        self.stepsBehind = stepsBehind
    }
}

/// Everything a scorer sees in one window.
public struct WindowEvidence: Sendable {
    /// The window.
    public var window: Window
    /// The global model before this window's outer step.
    public var model: any TrainableModel
    /// Where sample ids are turned into token batches.
    public var data: any TokenBatchProvider
    /// The validator's shared random sample ids (unknown to miners while they trained).
    public var randomSampleIDs: [UInt64]
    /// One entry per peer considered this window.
    public var peers: [PeerEvidence]

    /// Creates evidence.
    public init(window: Window, model: any TrainableModel, data: any TokenBatchProvider, randomSampleIDs: [UInt64], peers: [PeerEvidence]) {
        self.window = window
        self.model = model
        self.data = data
        self.randomSampleIDs = randomSampleIDs
        self.peers = peers
    }
}

/// Turns sample ids into a batch (a `TokenSource` from TesseraData conforms through a one-line
/// extension in the umbrella module).
public protocol TokenBatchProvider: Sendable {
    /// The batch holding these samples, in this order.
    func tokenBatch(_ sampleIDs: [UInt64]) throws -> TokenBatch
}

/// Why a peer received the score it did this window.
public enum ScoreReason: Hashable, Sendable, Codable {
    /// Evaluated normally.
    case evaluated
    /// No update found (×penalty).
    case missing
    /// Uploaded after the window closed (×penalty).
    case late
    /// Uploaded before the window opened (×penalty).
    case early
    /// Undecodable, non-finite or mismatched metadata (score reset to 0).
    case invalid(String)
    /// Overlaps an earlier upload by at least the copy threshold (×penalty, reset or ban).
    case copied(from: UID, overlap: Double)
    /// Lags the global model by more than the allowed steps (×penalty).
    case behind(steps: Int)
    /// Banned until a window.
    case banned(until: Window)
}

/// One peer's result for a window.
public struct PeerScore: Hashable, Sendable, Codable {
    /// The peer.
    public var uid: UID
    /// The persistent score after this window (what weights are computed from).
    public var score: Double
    /// Gradient score (L_rb − L_ra) / L_rb this window, when evaluated.
    public var gradientScore: Double?
    /// The own-vs-random indicator this window (+1 / −1), when evaluated.
    public var indicator: Double?
    /// Relative improvement on the peer's own samples minus that on the random samples, as a
    /// multiple of the random improvement's magnitude, when evaluated.
    public var ownAdvantage: Double?
    /// Sync score in [0, 1].
    public var sync: Double
    /// Everything that shaped the score.
    public var reasons: [ScoreReason]

    /// Creates a result.
    public init(uid: UID, score: Double, gradientScore: Double? = nil, indicator: Double? = nil, ownAdvantage: Double? = nil,
                sync: Double = 1, reasons: [ScoreReason] = []) {
        self.uid = uid
        self.score = score
        self.gradientScore = gradientScore
        self.indicator = indicator
        self.ownAdvantage = ownAdvantage
        self.sync = sync
        self.reasons = reasons
    }
}

/// A window's scores and the resulting weights.
public struct WindowScores: Hashable, Sendable, Codable {
    /// The window.
    public var window: Window
    /// Per peer, in uid order.
    public var peers: [PeerScore]
    /// Weights to set on chain (sum to 1, or empty if nobody earned any).
    public var weights: [UID: Double]
    /// Loss on the random samples before any update (shared across peers).
    public var randomLossBefore: Double?

    /// Creates a result.
    public init(window: Window, peers: [PeerScore], weights: [UID: Double], randomLossBefore: Double? = nil) {
        self.window = window
        self.peers = peers
        self.weights = weights
        self.randomLossBefore = randomLossBefore
    }
}

/// Scores one window of evidence at a time, keeping state across windows.
///
/// Contract: deterministic (the same evidence and state give the same scores), and the state is
/// `Codable` so a validator restart resumes exactly.
public protocol Scorer: Sendable {
    /// Scores a window and updates the state.
    mutating func evaluate(_ window: WindowEvidence) throws -> WindowScores
}

extension Submission {
    var reason: ScoreReason {
        switch self {
        case .missing: .missing
        case .late: .late
        case .early: .early
        case .invalid(let why): .invalid(why)
        case .update: .evaluated
        }
    }
}
