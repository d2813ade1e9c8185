public import TesseraChain

/// An error from the Bittensor client: malformed input, an RPC failure, a refused transaction.
///
/// Match on ``code``; ``message`` says what and where. ``rpcCode`` carries the node's JSON-RPC
/// error code and ``customCode`` the runtime's `InvalidTransaction::Custom` number, when known.
public struct SubtensorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case invalidHex, malformedSCALE, malformedMetadata, unsupportedMetadata, notInMetadata
            case unsupportedExtension, invalidKey, invalidAddress, invalidArgument
            case transport, timeout, invalidResponse, rpc, rateLimited, notRegistered
            case transactionRejected, transactionFailed, unknownBlock, unknownSubnet
        }
        fileprivate let base: Base
        /// A hexadecimal string is malformed.
        public static let invalidHex = Code(base: .invalidHex)
        /// SCALE bytes are truncated, overlong or otherwise invalid.
        public static let malformedSCALE = Code(base: .malformedSCALE)
        /// Runtime metadata is malformed (bad magic, dangling type id, truncated).
        public static let malformedMetadata = Code(base: .malformedMetadata)
        /// Runtime metadata of a version this client does not read (only V14 and V15).
        public static let unsupportedMetadata = Code(base: .unsupportedMetadata)
        /// A pallet, call, storage entry or runtime API is missing from the metadata.
        public static let notInMetadata = Code(base: .notInMetadata)
        /// The metadata names a transaction extension this client cannot fill in.
        public static let unsupportedExtension = Code(base: .unsupportedExtension)
        /// A key, seed, mnemonic or signature is malformed.
        public static let invalidKey = Code(base: .invalidKey)
        /// An SS58 address is malformed or has a bad checksum.
        public static let invalidAddress = Code(base: .invalidAddress)
        /// An argument is out of range.
        public static let invalidArgument = Code(base: .invalidArgument)
        /// The node could not be reached, or the connection broke.
        public static let transport = Code(base: .transport)
        /// The node did not answer in time.
        public static let timeout = Code(base: .timeout)
        /// The node answered something that is not a valid JSON-RPC response of the expected shape.
        public static let invalidResponse = Code(base: .invalidResponse)
        /// The node returned a JSON-RPC error not covered by a more specific code.
        public static let rpc = Code(base: .rpc)
        /// The runtime refused the call for now (`Custom(6)`, rate limit exceeded).
        public static let rateLimited = Code(base: .rateLimited)
        /// The signing hotkey is not registered on the subnet (`Custom(10)`).
        public static let notRegistered = Code(base: .notRegistered)
        /// The transaction pool refused the extrinsic (invalid or unknown transaction).
        public static let transactionRejected = Code(base: .transactionRejected)
        /// The extrinsic was included but its dispatch failed, or it was dropped.
        public static let transactionFailed = Code(base: .transactionFailed)
        /// The block has not been produced yet.
        public static let unknownBlock = Code(base: .unknownBlock)
        /// No such subnet.
        public static let unknownSubnet = Code(base: .unknownSubnet)
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// Details.
    public let message: String
    /// The node's JSON-RPC error code, if the error came from one.
    public let rpcCode: Int?
    /// The runtime's `InvalidTransaction::Custom(n)` number, if the node reported one.
    public let customCode: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, rpcCode: Int? = nil, customCode: Int? = nil) {
        self.code = code
        self.message = message
        self.rpcCode = rpcCode
        self.customCode = customCode
    }

    public var description: String {
        var text = "SubtensorError.\(code): \(message)"
        if let rpcCode { text += " (rpc \(rpcCode))" }
        if let customCode { text += " (custom \(customCode))" }
        return text
    }

    /// The same failure as a ``ChainError``, the error type of the `ChainClient` contract.
    public var chainError: ChainError {
        switch code {
        case .notRegistered: ChainError(.notRegistered, message)
        case .rateLimited: ChainError(.rateLimited, message)
        case .unknownBlock: ChainError(.unknownBlock, message)
        case .unknownSubnet: ChainError(.unknownSubnet, message)
        case .invalidArgument: ChainError(.invalidConfiguration, message)
        default: ChainError(.transport, description)
        }
    }
}

/// `SubtensorError` shorthand for malformed SCALE.
@inline(__always)
func scaleError(_ message: String) -> SubtensorError { SubtensorError(.malformedSCALE, message) }
