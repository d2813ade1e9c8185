#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import TesseraCore
import Crypto

/// An in-process chain for simulations, tests and single-machine clusters.
///
/// Blocks come every ``Configuration/blockSeconds`` of a clock that is either **virtual** (the
/// simulator calls ``advance(blocks:)``) or the **wall** clock. Block n's hash is
/// `SHA-256("tessera/local-chain/v1" ‖ u64le(genesisSeed) ‖ u64le(n))` and its timestamp
/// `genesisTime + n · blockSeconds`, so every process that shares a configuration agrees on every
/// block. Hotkeys register into uids with a stake; the top ``Configuration/validatorPermits``
/// stakers may set weights; every ``Configuration/tempo`` blocks an epoch turns the weights into
/// incentive by a Yuma-like rule (Documentation/LocalChain.md):
///
/// 1. validators' stakes normalized to sum 1, each validator's weights normalized to sum 1;
/// 2. consensus `c_i` = the largest weight given to uid i by validators holding more than half
///    the stake together (a stake-weighted median);
/// 3. weights clipped at consensus, `W_vi = min(w_vi, c_i)`;
/// 4. `rank_i = Σ_v s_v W_vi`, incentive = rank normalized to sum 1.
public actor LocalChain {
    /// Chain settings; processes that share them agree on every block.
    public struct Configuration: Hashable, Sendable, Codable {
        /// Seeds the block hashes.
        public var genesisSeed: UInt64
        /// Timestamp of block 0, seconds since the epoch.
        public var genesisTime: Double
        /// Seconds between blocks (Bittensor: 12).
        public var blockSeconds: Double
        /// Blocks per epoch (Bittensor's tempo: 360).
        public var tempo: UInt64
        /// Slots per subnet.
        public var maximumNeurons: Int
        /// How many of the largest stakers hold a validator permit (Bittensor: 64).
        public var validatorPermits: Int
        /// Largest commitment in bytes.
        public var maximumCommitmentBytes: Int

        /// Creates settings.
        public init(genesisSeed: UInt64 = 0, genesisTime: Double = 1_700_000_000, blockSeconds: Double = 12, tempo: UInt64 = 360,
                    maximumNeurons: Int = 256, validatorPermits: Int = 64, maximumCommitmentBytes: Int = 1024) {
            self.genesisSeed = genesisSeed
            self.genesisTime = genesisTime
            self.blockSeconds = blockSeconds
            self.tempo = tempo
            self.maximumNeurons = maximumNeurons
            self.validatorPermits = validatorPermits
            self.maximumCommitmentBytes = maximumCommitmentBytes
        }
    }

    /// Where time comes from.
    public enum Clock: Sendable {
        /// Blocks advance only through ``LocalChain/advance(blocks:)``.
        case virtual
        /// Blocks follow this time source (seconds since the epoch), e.g. the system clock.
        case wall(@Sendable () -> Double)
    }

    struct Subnet {
        var neurons: [Neuron] = []
        var commitments: [Hotkey: [UInt8]] = [:]
        var weights: [UID: [UInt16: UInt16]] = [:]   // validator → (uid → u16)
    }

    /// The settings.
    public nonisolated let configuration: Configuration
    private let clock: Clock
    private var virtualHead: UInt64 = 0
    private var subnets: [UInt16: Subnet] = [:]
    private var lastEpoch: UInt64 = 0
    private var subscribers: [UInt64: AsyncThrowingStream<BlockInfo, any Error>.Continuation] = [:]
    private var nextSubscriber: UInt64 = 0

    /// Creates a chain.
    /// - Throws: ``ChainError`` `.invalidConfiguration`.
    public init(configuration: Configuration = Configuration(), clock: Clock = .virtual) throws {
        guard configuration.blockSeconds > 0, configuration.blockSeconds.isFinite, configuration.tempo >= 1,
              (1...65_536).contains(configuration.maximumNeurons), configuration.validatorPermits >= 1,
              configuration.maximumCommitmentBytes >= 0, configuration.genesisTime.isFinite
        else { throw ChainError(.invalidConfiguration, "local chain settings out of range") }
        self.configuration = configuration
        self.clock = clock
    }

    /// Block `n`'s hash: SHA-256("tessera/local-chain/v1" ‖ u64le(seed) ‖ u64le(n)).
    public nonisolated func hash(ofBlock n: UInt64) -> Digest32 {
        var h = SHA256()
        h.update(data: Array("tessera/local-chain/v1".utf8))
        withUnsafeBytes(of: configuration.genesisSeed.littleEndian) { h.update(bufferPointer: $0) }
        withUnsafeBytes(of: n.littleEndian) { h.update(bufferPointer: $0) }
        return try! Digest32(Array(h.finalize()))
    }

    /// Block `n` (whether or not produced yet).
    public nonisolated func blockInfo(_ n: UInt64) -> BlockInfo {
        BlockInfo(number: n, hash: hash(ofBlock: n), timestamp: configuration.genesisTime + Double(n) * configuration.blockSeconds)
    }

    /// The current head number.
    public var headNumber: UInt64 {
        switch clock {
        case .virtual: return virtualHead
        case .wall(let now):
            let elapsed = (now() - configuration.genesisTime) / configuration.blockSeconds
            return elapsed > 0 ? UInt64(elapsed.rounded(.down)) : 0
        }
    }

    /// Produces `blocks` blocks on a virtual clock, running any epochs they complete and
    /// notifying block streams. Returns the new head.
    /// - Throws: ``ChainError`` `.invalidConfiguration` on a wall clock.
    @discardableResult
    public func advance(blocks: UInt64 = 1) throws -> BlockInfo {
        guard case .virtual = clock else { throw ChainError(.invalidConfiguration, "a wall-clock chain advances by itself") }
        for _ in 0..<blocks {
            virtualHead += 1
            runEpochs()
            let block = blockInfo(virtualHead)
            for continuation in subscribers.values { continuation.yield(block) }
        }
        return blockInfo(virtualHead)
    }

    /// Registers `hotkey` on `netuid` (creating the subnet on first use) with `stake`; returns its
    /// uid (an already registered hotkey keeps its uid and gets the new stake).
    /// - Throws: ``ChainError`` `.invalidConfiguration` when the subnet is full or the stake is invalid.
    @discardableResult
    public func register(_ hotkey: Hotkey, netuid: UInt16, stake: Double = 0) throws -> UID {
        guard stake >= 0, stake.isFinite else { throw ChainError(.invalidConfiguration, "stake must be finite and ≥ 0") }
        var subnet = subnets[netuid] ?? Subnet()
        defer { subnets[netuid] = subnet }
        if let i = subnet.neurons.firstIndex(where: { $0.hotkey == hotkey }) {
            subnet.neurons[i].stake = stake
            refreshPermits(&subnet)
            return subnet.neurons[i].uid
        }
        guard subnet.neurons.count < configuration.maximumNeurons else {
            throw ChainError(.invalidConfiguration, "subnet \(netuid) is full (\(configuration.maximumNeurons) slots)")
        }
        let uid = UID(rawValue: UInt16(subnet.neurons.count))
        subnet.neurons.append(Neuron(uid: uid, hotkey: hotkey, stake: stake, incentive: 0, validatorPermit: false))
        refreshPermits(&subnet)
        return uid
    }

    private func refreshPermits(_ subnet: inout Subnet) {
        let ranked = subnet.neurons.filter { $0.stake > 0 }.sorted { ($0.stake, $1.uid) > ($1.stake, $0.uid) }
        let permitted = Set(ranked.prefix(configuration.validatorPermits).map(\.uid))
        for i in subnet.neurons.indices { subnet.neurons[i].validatorPermit = permitted.contains(subnet.neurons[i].uid) }
    }

    /// A client acting as `hotkey`.
    public nonisolated func client(as hotkey: Hotkey) -> LocalChainClient { LocalChainClient(chain: self, hotkey: hotkey) }

    // MARK: Calls made by clients

    func head() -> BlockInfo {
        runEpochs()
        return blockInfo(headNumber)
    }

    func block(_ n: UInt64) throws -> BlockInfo {
        guard n <= headNumber else { throw ChainError(.unknownBlock, "block \(n) is after the head \(headNumber)") }
        return blockInfo(n)
    }

    func metagraph(netuid: UInt16) throws -> Metagraph {
        runEpochs()
        guard let subnet = subnets[netuid] else { throw ChainError(.unknownSubnet, "no subnet \(netuid)") }
        return Metagraph(netuid: netuid, block: headNumber, neurons: subnet.neurons)
    }

    func commitments(netuid: UInt16) throws -> [Hotkey: [UInt8]] {
        guard let subnet = subnets[netuid] else { throw ChainError(.unknownSubnet, "no subnet \(netuid)") }
        return subnet.commitments
    }

    func commit(_ data: [UInt8], netuid: UInt16, hotkey: Hotkey) throws {
        guard var subnet = subnets[netuid] else { throw ChainError(.unknownSubnet, "no subnet \(netuid)") }
        guard subnet.neurons.contains(where: { $0.hotkey == hotkey }) else {
            throw ChainError(.notRegistered, "\(hotkey) is not registered on subnet \(netuid)")
        }
        guard data.count <= configuration.maximumCommitmentBytes else {
            throw ChainError(.commitmentTooLarge, "\(data.count) bytes exceed the limit of \(configuration.maximumCommitmentBytes)")
        }
        subnet.commitments[hotkey] = data
        subnets[netuid] = subnet
    }

    func setWeights(netuid: UInt16, _ weights: [UID: Double], hotkey: Hotkey) throws {
        runEpochs()
        guard var subnet = subnets[netuid] else { throw ChainError(.unknownSubnet, "no subnet \(netuid)") }
        guard let validator = subnet.neurons.first(where: { $0.hotkey == hotkey }) else {
            throw ChainError(.notRegistered, "\(hotkey) is not registered on subnet \(netuid)")
        }
        guard validator.validatorPermit else { throw ChainError(.noValidatorPermit, "\(hotkey) (uid \(validator.uid)) has no validator permit") }
        if let unknown = weights.keys.first(where: { Int($0.rawValue) >= subnet.neurons.count }) {
            throw ChainError(.invalidWeights, "uid \(unknown) is not registered on subnet \(netuid)")
        }
        let (uids, values) = try WeightNormalization.toU16(weights)
        subnet.weights[validator.uid] = Dictionary(uniqueKeysWithValues: zip(uids, values))
        subnets[netuid] = subnet
    }

    /// The u16 weights `validator` last set on `netuid`.
    public func weights(netuid: UInt16, validator: UID) -> [UInt16: UInt16] { subnets[netuid]?.weights[validator] ?? [:] }

    func subscribe() -> AsyncThrowingStream<BlockInfo, any Error> {
        let id = nextSubscriber
        nextSubscriber += 1
        let (stream, continuation) = AsyncThrowingStream<BlockInfo, any Error>.makeStream()
        switch clock {
        case .virtual:
            subscribers[id] = continuation
            continuation.onTermination = { [weak self] _ in Task { await self?.unsubscribe(id) } }
        case .wall:
            let seconds = configuration.blockSeconds
            let task = Task { [weak self] in
                var last = await self?.headNumber ?? 0
                while !Task.isCancelled, let chain = self {
                    try? await Task.sleep(nanoseconds: UInt64(min(seconds, 1) * 1e9))
                    let head = await chain.headNumber
                    while last < head {
                        last += 1
                        continuation.yield(chain.blockInfo(last))
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return stream
    }

    private func unsubscribe(_ id: UInt64) { subscribers[id] = nil }

    // MARK: Epochs

    /// Runs every epoch boundary passed since the last one.
    private func runEpochs() {
        let head = headNumber
        while lastEpoch + configuration.tempo <= head {
            lastEpoch += configuration.tempo
            for netuid in subnets.keys.sorted() {
                guard var subnet = subnets[netuid] else { continue }
                let incentive = Self.yumaIncentive(neurons: subnet.neurons, weights: subnet.weights)
                for i in subnet.neurons.indices { subnet.neurons[i].incentive = incentive[i] }
                subnets[netuid] = subnet
            }
        }
    }

    /// The Yuma-like incentive (see the type's documentation), in uid order.
    static func yumaIncentive(neurons: [Neuron], weights: [UID: [UInt16: UInt16]]) -> [Double] {
        let n = neurons.count
        let validators = neurons.filter { $0.validatorPermit && $0.stake > 0 && weights[$0.uid] != nil }.sorted { $0.uid < $1.uid }
        let totalStake = validators.reduce(0) { $0 + $1.stake }
        guard n > 0, totalStake > 0 else { return [Double](repeating: 0, count: n) }
        var rows: [[Double]] = []
        var stakes: [Double] = []
        for v in validators {
            var row = [Double](repeating: 0, count: n)
            let entries = weights[v.uid] ?? [:]
            let sum = entries.values.reduce(0.0) { $0 + Double($1) }
            guard sum > 0 else { continue }
            for (uid, w) in entries where Int(uid) < n { row[Int(uid)] = Double(w) / sum }
            rows.append(row)
            stakes.append(v.stake / totalStake)
        }
        var rank = [Double](repeating: 0, count: n)
        for i in 0..<n {
            // Stake-weighted median of column i: the largest x whose supporters (validators giving
            // at least x) hold more than half the stake.
            let column = zip(rows.map { $0[i] }, stakes).sorted { $0.0 > $1.0 }
            var cumulative = 0.0
            var consensus = 0.0
            for (w, s) in column {
                cumulative += s
                if cumulative > 0.5 {
                    consensus = w
                    break
                }
            }
            for (row, s) in zip(rows, stakes) { rank[i] += s * min(row[i], consensus) }
        }
        let total = rank.reduce(0, +)
        return total > 0 ? rank.map { $0 / total } : rank
    }
}

/// A ``ChainClient`` acting as one hotkey on a ``LocalChain``.
public struct LocalChainClient: ChainClient {
    /// The chain.
    public let chain: LocalChain
    /// The identity calls are made as.
    public let hotkey: Hotkey

    public func head() async throws -> BlockInfo { await chain.head() }
    public func block(_ number: UInt64) async throws -> BlockInfo { try await chain.block(number) }
    public func blocks() -> AsyncThrowingStream<BlockInfo, any Error> {
        let (stream, continuation) = AsyncThrowingStream<BlockInfo, any Error>.makeStream()
        let chain = self.chain
        let task = Task {
            do {
                for try await block in await chain.subscribe() { continuation.yield(block) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
    public func metagraph(netuid: UInt16) async throws -> Metagraph { try await chain.metagraph(netuid: netuid) }
    public func commitments(netuid: UInt16) async throws -> [Hotkey: [UInt8]] { try await chain.commitments(netuid: netuid) }
    public func commit(_ data: [UInt8], netuid: UInt16) async throws { try await chain.commit(data, netuid: netuid, hotkey: hotkey) }
    public func setWeights(netuid: UInt16, _ weights: [UID: Double]) async throws {
        try await chain.setWeights(netuid: netuid, weights, hotkey: hotkey)
    }
}
