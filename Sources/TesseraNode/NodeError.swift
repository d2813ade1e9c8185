/// An error raised by a miner, a validator or the window loop.
public struct NodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case invalidConfiguration, notRegistered, invalidCheckpoint, invalidPeerList, storage, chain, cancelled
        }
        fileprivate let base: Base
        /// A setting is out of range or inconsistent.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// The node's hotkey has no uid on the subnet.
        public static let notRegistered = Code(base: .notRegistered)
        /// A checkpoint or saved state is unreadable or does not match the model.
        public static let invalidCheckpoint = Code(base: .invalidCheckpoint)
        /// A published peer list is malformed.
        public static let invalidPeerList = Code(base: .invalidPeerList)
        /// Storage failed after the retries.
        public static let storage = Code(base: .storage)
        /// The chain failed after the retries.
        public static let chain = Code(base: .chain)
        /// The node was asked to stop.
        public static let cancelled = Code(base: .cancelled)
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// What happened, for people.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "NodeError.\(code): \(message)" }
}
