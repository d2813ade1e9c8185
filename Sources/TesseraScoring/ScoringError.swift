/// An error raised by ``TesseraScoring``: an invalid configuration or inconsistent evidence.
public struct ScoringError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable { case invalidConfiguration, invalidEvidence, modelFailure }
        fileprivate let base: Base
        /// A scorer or rating parameter is out of range.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// The window's evidence is inconsistent (e.g. a peer listed twice).
        public static let invalidEvidence = Code(base: .invalidEvidence)
        /// Evaluating the model failed.
        public static let modelFailure = Code(base: .modelFailure)
        public var description: String { base.rawValue }
    }
    /// What went wrong.
    public let code: Code
    /// Details.
    public let message: String
    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "ScoringError.\(code): \(message)" }
}
