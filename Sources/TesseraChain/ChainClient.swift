public import TesseraCore

/// A block as a node sees it.
public struct BlockInfo: Hashable, Sendable, Codable {
    /// Block number.
    public var number: UInt64
    /// Block hash.
    public var hash: Digest32
    /// The chain's timestamp (`Timestamp.Now`), seconds since the epoch.
    public var timestamp: Double

    /// Creates a block.
    public init(number: UInt64, hash: Digest32, timestamp: Double) {
        self.number = number
        self.hash = hash
        self.timestamp = timestamp
    }
}

/// A registered key's account name (SS58 for Bittensor; any string locally).
public struct Hotkey: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The address.
    public var rawValue: String
    /// Creates a hotkey.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Creates a hotkey from a literal.
    public init(stringLiteral value: String) { rawValue = value }
    public static func < (a: Hotkey, b: Hotkey) -> Bool { a.rawValue < b.rawValue }
    public var description: String { rawValue }
}

extension Hotkey: CodingKeyRepresentable {
    /// The address as a JSON object key.
    public var codingKey: any CodingKey { Key(stringValue: rawValue) }
    /// Decodes an address key.
    public init?<T: CodingKey>(codingKey: T) { rawValue = codingKey.stringValue }
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// One slot of a subnet.
public struct Neuron: Hashable, Sendable, Codable {
    /// The slot.
    public var uid: UID
    /// The key registered in it.
    public var hotkey: Hotkey
    /// Stake behind it (TAO).
    public var stake: Double
    /// Its share of the last epoch's incentive (0…1).
    public var incentive: Double
    /// Whether it may set weights.
    public var validatorPermit: Bool

    /// Creates a neuron.
    public init(uid: UID, hotkey: Hotkey, stake: Double, incentive: Double, validatorPermit: Bool) {
        self.uid = uid
        self.hotkey = hotkey
        self.stake = stake
        self.incentive = incentive
        self.validatorPermit = validatorPermit
    }
}

/// A subnet's neurons at a block.
public struct Metagraph: Hashable, Sendable, Codable {
    /// The subnet.
    public var netuid: UInt16
    /// The block read at.
    public var block: UInt64
    /// The neurons in uid order.
    public var neurons: [Neuron]

    /// Creates a metagraph.
    public init(netuid: UInt16, block: UInt64, neurons: [Neuron]) {
        self.netuid = netuid
        self.block = block
        self.neurons = neurons
    }

    /// The uid of `hotkey`, if registered.
    public func uid(of hotkey: Hotkey) -> UID? { neurons.first { $0.hotkey == hotkey }?.uid }
}

/// Everything a miner or validator needs from a chain: time and randomness (blocks), identity
/// and stake (the metagraph), a public notice board (commitments) and payment (weights).
///
/// Contract: block numbers only grow; `block(n)` for a past n always returns the same block;
/// calls made "as" a key (commit, set weights) are made with the client's own identity.
/// Failures — an unregistered key, a block not yet produced, a rate limit, a transport error —
/// are ``ChainError``s.
public protocol ChainClient: Sendable {
    /// The newest block.
    func head() async throws -> BlockInfo
    /// Block `number`.
    func block(_ number: UInt64) async throws -> BlockInfo
    /// New blocks as they are produced (starting after the current head).
    func blocks() -> AsyncThrowingStream<BlockInfo, any Error>
    /// The subnet's neurons.
    func metagraph(netuid: UInt16) async throws -> Metagraph
    /// Every hotkey's commitment on the subnet.
    func commitments(netuid: UInt16) async throws -> [Hotkey: [UInt8]]
    /// Publishes this client's commitment (e.g. its bucket and read key).
    func commit(_ data: [UInt8], netuid: UInt16) async throws
    /// Sets this client's weights on the subnet (normalized to u16 as Bittensor does).
    func setWeights(netuid: UInt16, _ weights: [UID: Double]) async throws
}

/// An error from a chain client.
public struct ChainError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case notRegistered, unknownSubnet, unknownBlock, invalidWeights, noValidatorPermit, commitmentTooLarge
            case rateLimited, transport, invalidConfiguration
        }
        fileprivate let base: Base
        /// The client's hotkey is not registered on the subnet.
        public static let notRegistered = Code(base: .notRegistered)
        /// No such subnet.
        public static let unknownSubnet = Code(base: .unknownSubnet)
        /// The block has not been produced.
        public static let unknownBlock = Code(base: .unknownBlock)
        /// Weights name an unknown uid, or are negative or non-finite.
        public static let invalidWeights = Code(base: .invalidWeights)
        /// Setting weights needs a validator permit.
        public static let noValidatorPermit = Code(base: .noValidatorPermit)
        /// A commitment exceeds the chain's size limit.
        public static let commitmentTooLarge = Code(base: .commitmentTooLarge)
        /// The chain refused the call for now (try later).
        public static let rateLimited = Code(base: .rateLimited)
        /// The node could not be reached or answered nonsense.
        public static let transport = Code(base: .transport)
        /// A chain setting is out of range.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
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
    public var description: String { "ChainError.\(code): \(message)" }
}

/// Bittensor's weight normalization: float weights scaled so the largest becomes 65,535,
/// rounded to nearest; zero weights dropped; sorted by uid.
public enum WeightNormalization {
    /// `(uids, u16 weights)`.
    /// - Throws: ``ChainError`` `.invalidWeights` for a negative or non-finite weight.
    public static func toU16(_ weights: [UID: Double]) throws -> (uids: [UInt16], weights: [UInt16]) {
        if let bad = weights.first(where: { !$0.value.isFinite || $0.value < 0 }) {
            throw ChainError(.invalidWeights, "weight \(bad.value) for uid \(bad.key) is negative or not finite")
        }
        let positive = weights.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        guard let maximum = positive.map(\.value).max(), maximum > 0 else { return ([], []) }
        var uids: [UInt16] = [], values: [UInt16] = []
        for (uid, w) in positive {
            let v = UInt16((w / maximum * 65_535).rounded())
            if v > 0 {
                uids.append(uid.rawValue)
                values.append(v)
            }
        }
        return (uids, values)
    }
}
