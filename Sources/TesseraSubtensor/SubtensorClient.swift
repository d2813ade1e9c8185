import Foundation
public import Logging
import Synchronization
public import TesseraChain
public import TesseraCore

/// Settings of a ``SubtensorClient``.
public struct SubtensorConfiguration: Sendable {
    /// SS58 prefix of addresses (42 on Bittensor).
    public var ss58Prefix: UInt16 = SS58.bittensorPrefix
    /// `version_key` sent with `set_weights`; `nil` reads the subnet's
    /// `SubtensorModule.WeightsVersionKey` from the chain before each call.
    public var weightsVersionKey: UInt64? = nil
    /// Mortality of submitted transactions, in blocks (rounded to a power of two).
    public var eraPeriod: UInt64 = 64
    /// Whether `commit` and `setWeights` wait until the extrinsic is in a block and check its
    /// outcome (`System.ExtrinsicFailed`).
    public var waitForInclusion = true
    /// How long to wait for inclusion.
    public var inclusionTimeout: Duration = .seconds(120)
    /// How often new blocks are polled (block streams, inclusion tracking).
    public var pollInterval: Duration = .seconds(2)

    /// The defaults.
    public init() {}
}

/// Where a submitted extrinsic ended up.
public struct ExtrinsicReceipt: Sendable, Hashable {
    /// The extrinsic's hash (BLAKE2b-256 of its bytes), as `author_submitExtrinsic` returns it.
    public var hash: [UInt8]
    /// The block that included it, if inclusion was awaited.
    public var blockHash: [UInt8]?
    /// That block's number.
    public var blockNumber: UInt64?
    /// Its index in the block.
    public var index: Int?
}

/// A `ChainClient` for a real subtensor node over JSON-RPC.
///
/// Reads: the head is the *finalized* head (so `block(n)` of a past n never changes);
/// `Timestamp.Now` at that block; the metagraph from `SubnetInfoRuntimeApi_get_subnet_state`;
/// commitments from `Commitments.CommitmentOf` (`state_getKeysPaged` + `state_queryStorageAt`).
/// Writes: signed extrinsics v4 built from the metadata read at connection (re-read after a
/// runtime upgrade), mortal for ``SubtensorConfiguration/eraPeriod`` blocks, tracked until
/// included. The `ChainClient` methods throw `ChainError`s (the ``SubtensorError`` is in the
/// message); the `…Detailed` methods throw ``SubtensorError``.
public final class SubtensorClient: ChainClient {
    /// The JSON-RPC transport.
    public let transport: any JSONRPCTransport
    /// The signing key (the hotkey), if this client writes.
    public let signer: KeyPair?
    /// Settings.
    public let configuration: SubtensorConfiguration
    private let logger: Logger
    private let state: Mutex<(metadata: RuntimeMetadata, specVersion: UInt32, transactionVersion: UInt32, genesis: [UInt8]?)>

    /// The runtime metadata in use.
    public var metadata: RuntimeMetadata { state.withLock { $0.metadata } }

    /// A client over `transport` whose runtime is described by `metadata`.
    public init(transport: any JSONRPCTransport, metadata: RuntimeMetadata, signer: KeyPair? = nil,
                configuration: SubtensorConfiguration = SubtensorConfiguration(),
                logger: Logger = Logger(label: "tessera.subtensor")) throws(SubtensorError) {
        let version = try metadata.runtimeVersion()
        self.transport = transport
        self.signer = signer
        self.configuration = configuration
        self.logger = logger
        state = Mutex((metadata, version.specVersion, version.transactionVersion, nil))
    }

    /// Connects: reads the runtime metadata (V15 through `Metadata_metadata_at_version`, else
    /// `state_getMetadata`) and returns a client.
    /// - Throws: ``SubtensorError``.
    public static func connect(transport: any JSONRPCTransport, signer: KeyPair? = nil,
                               configuration: SubtensorConfiguration = SubtensorConfiguration(),
                               logger: Logger = Logger(label: "tessera.subtensor")) async throws(SubtensorError) -> SubtensorClient {
        let metadata = try await fetchMetadata(transport, at: nil)
        return try SubtensorClient(transport: transport, metadata: metadata, signer: signer, configuration: configuration, logger: logger)
    }

    /// A transport for `url`: ``WebSocketJSONRPCTransport`` for `ws://`/`wss://`,
    /// ``HTTPJSONRPCTransport`` for `http://`/`https://`.
    /// - Throws: ``SubtensorError`` `.invalidArgument` for another scheme.
    public static func transport(for url: String, timeout: Duration = .seconds(30)) throws(SubtensorError) -> any JSONRPCTransport {
        if url.hasPrefix("ws://") || url.hasPrefix("wss://") {
            return try WebSocketJSONRPCTransport(url: url, timeout: timeout)
        }
        return try HTTPJSONRPCTransport(url: url, timeout: timeout)
    }

    static func fetchMetadata(_ transport: any JSONRPCTransport, at hash: [UInt8]?) async throws(SubtensorError) -> RuntimeMetadata {
        var params: [JSONValue] = [.string("Metadata_metadata_at_version"), .string("0x0f000000")]
        if let hash { params.append(.string(Hex.encode(hash))) }
        if let v15 = try? await transport.call("state_call", params), let bytes = try? v15.hexBytes(), bytes.first == 1 {
            return try RuntimeMetadata(bytes: bytes)
        }
        let plain = try await transport.call("state_getMetadata", hash.map { [.string(Hex.encode($0))] } ?? [])
        return try RuntimeMetadata(bytes: plain.hexBytes("metadata"))
    }

    // MARK: ChainClient

    /// The finalized head.
    public func head() async throws -> BlockInfo { try await chain { () async throws(SubtensorError) in try await self.headDetailed() } }
    /// Block `number`, only once it is finalized (so it can never change afterwards).
    public func block(_ number: UInt64) async throws -> BlockInfo {
        try await chain { () async throws(SubtensorError) in
            let finalized = try await self.finalizedNumber()
            guard number <= finalized else {
                throw SubtensorError(.unknownBlock, "block \(number) is not finalized yet (finalized head \(finalized))")
            }
            return try await self.blockDetailed(number)
        }
    }
    /// The subnet's metagraph at the finalized head.
    public func metagraph(netuid: UInt16) async throws -> Metagraph {
        try await chain { () async throws(SubtensorError) in try await self.metagraphDetailed(netuid: netuid) }
    }
    /// Every hotkey's commitment on the subnet at the finalized head.
    public func commitments(netuid: UInt16) async throws -> [Hotkey: [UInt8]] {
        try await chain { () async throws(SubtensorError) in try await self.commitmentsDetailed(netuid: netuid) }
    }
    /// Publishes `data` with `Commitments.set_commitment` as one `Raw{n}` field.
    public func commit(_ data: [UInt8], netuid: UInt16) async throws {
        let call: [UInt8]
        do { call = try metadata.setCommitmentCall(netuid: netuid, data: data) } catch {
            throw ChainError(.commitmentTooLarge, "a commitment of \(data.count) bytes cannot be stored: \(error.message)")
        }
        _ = try await chain { () async throws(SubtensorError) in try await self.submit(call: call) }
    }
    /// Sets weights with `SubtensorModule.set_weights`, normalized to u16 as bittensor does.
    public func setWeights(netuid: UInt16, _ weights: [UID: Double]) async throws {
        let (uids, values) = try WeightNormalization.toU16(weights)
        let call = try await chain { () async throws(SubtensorError) in
            var versionKey = self.configuration.weightsVersionKey
            if versionKey == nil { versionKey = try await self.weightsVersionKey(netuid: netuid) }
            return try self.metadata.setWeightsCall(netuid: netuid, uids: uids, weights: values, versionKey: versionKey ?? 0)
        }
        _ = try await chain { () async throws(SubtensorError) in try await self.submit(call: call) }
    }

    /// New finalized blocks. Over a ``JSONRPCSubscribing`` transport (WebSocket) they come from
    /// `chain_subscribeFinalizedHeads`; when the subscription cannot be opened or drops, the
    /// head is polled every ``SubtensorConfiguration/pollInterval`` until it can be reopened.
    /// Missed blocks are filled in (at most 64 at once), so numbers are consecutive.
    public func blocks() -> AsyncThrowingStream<BlockInfo, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var last = try await self.headDetailed().number
                    while !Task.isCancelled {
                        if let subscriber = self.transport as? any JSONRPCSubscribing,
                           let heads = try? await subscriber.subscribe("chain_subscribeFinalizedHeads", [], unsubscribe: "chain_unsubscribeFinalizedHeads") {
                            do {
                                for try await header in heads {
                                    let number = try (header["number"] ?? .null).unsignedValue("block number")
                                    last = try await self.emitBlocks(after: last, through: number, to: continuation)
                                }
                            } catch let error as SubtensorError where error.code == .transport || error.code == .timeout {
                                self.logger.info("head subscription dropped; polling", metadata: ["error": "\(error)"])
                            }
                        }
                        try? await Task.sleep(for: self.configuration.pollInterval)
                        do {
                            let head = try await self.headDetailed().number
                            last = try await self.emitBlocks(after: last, through: head, to: continuation)
                        } catch let error as SubtensorError where error.code == .transport || error.code == .timeout {
                            self.logger.info("polling the head failed; retrying", metadata: ["error": "\(error)"])
                        }
                    }
                    continuation.finish()
                } catch let error as SubtensorError {
                    continuation.finish(throwing: error.chainError)
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Yields blocks `last + 1 … head` (at most the newest 64) and returns the new last number.
    private func emitBlocks(after last: UInt64, through head: UInt64,
                            to continuation: AsyncThrowingStream<BlockInfo, any Error>.Continuation) async throws -> UInt64 {
        guard head > last else { return last }
        for n in max(last + 1, head >= 64 ? head - 63 : 0)...head {
            continuation.yield(try await blockDetailed(n))
        }
        return head
    }

    private func chain<T>(_ body: () async throws(SubtensorError) -> T) async throws(ChainError) -> T {
        do { return try await body() } catch { throw error.chainError }
    }

    // MARK: Reads

    /// The finalized head.
    /// - Throws: ``SubtensorError``.
    public func headDetailed() async throws(SubtensorError) -> BlockInfo {
        let hash = try await transport.call("chain_getFinalizedHead", []).hexBytes("finalized head")
        let header = try await transport.call("chain_getHeader", [.string(Hex.encode(hash))])
        guard let number = header["number"] else { throw SubtensorError(.invalidResponse, "header without number") }
        return try await blockInfo(number: number.unsignedValue("block number"), hash: hash)
    }

    private func finalizedNumber() async throws(SubtensorError) -> UInt64 {
        let hash = try await transport.call("chain_getFinalizedHead", []).hexBytes("finalized head")
        let header = try await transport.call("chain_getHeader", [.string(Hex.encode(hash))])
        return try (header["number"] ?? .null).unsignedValue("block number")
    }

    /// Block `number` of the canonical chain (finalized or not).
    /// - Throws: ``SubtensorError`` `.unknownBlock` if it does not exist (yet).
    public func blockDetailed(_ number: UInt64) async throws(SubtensorError) -> BlockInfo {
        let hash = try await blockHash(number)
        return try await blockInfo(number: number, hash: hash)
    }

    /// The hash of block `number`.
    /// - Throws: ``SubtensorError`` `.unknownBlock` if it does not exist (yet).
    public func blockHash(_ number: UInt64) async throws(SubtensorError) -> [UInt8] {
        let result = try await transport.call("chain_getBlockHash", [.integer(Int64(clamping: number))])
        if result.isNull { throw SubtensorError(.unknownBlock, "block \(number) does not exist yet") }
        return try result.hexBytes("block hash")
    }

    private func blockInfo(number: UInt64, hash: [UInt8]) async throws(SubtensorError) -> BlockInfo {
        guard let digest = try? Digest32(hash) else { throw SubtensorError(.invalidResponse, "block hash of \(hash.count) bytes") }
        let milliseconds = try await timestamp(at: hash)
        return BlockInfo(number: number, hash: digest, timestamp: Double(milliseconds) / 1000)
    }

    /// `Timestamp.Now` (milliseconds since the epoch) at block `hash`.
    /// - Throws: ``SubtensorError``.
    public func timestamp(at hash: [UInt8]) async throws(SubtensorError) -> UInt64 {
        let key = try metadata.storageKey("Timestamp", "Now")
        let value = try await transport.call("state_getStorage", [.string(Hex.encode(key)), .string(Hex.encode(hash))])
        if value.isNull { return 0 }
        var d = ScaleDecoder(try value.hexBytes("Timestamp.Now"))
        let ms: UInt64 = try d.read()
        try d.expectEnd("Timestamp.Now")
        return ms
    }

    /// The subnet's state at the finalized head.
    /// - Throws: ``SubtensorError``; `.unknownSubnet` if the subnet does not exist.
    public func subnetState(netuid: UInt16, at hash: [UInt8]) async throws(SubtensorError) -> SubnetState {
        var input = ScaleEncoder()
        let method = try? metadata.runtimeAPI("SubnetInfoRuntimeApi", "get_subnet_state")
        if let method, method.inputs.count == 1 {
            try metadata.registry.encodeUnsigned(UInt128(netuid), as: method.inputs[0].type, into: &input)
        } else {
            input.append(littleEndian: netuid)
        }
        let result = try await transport.call("state_call", [
            .string("SubnetInfoRuntimeApi_get_subnet_state"), .string(Hex.encode(input.bytes)), .string(Hex.encode(hash)),
        ])
        let bytes = try result.hexBytes("subnet state")
        // V15 metadata describes the method's output: decode by field name through it. Only a
        // V14 runtime (no runtime APIs in its metadata) falls back to the fixed layout.
        let decoded: SubnetState?
        if let method {
            decoded = try SubnetState.decode(bytes, as: method.output, in: metadata.registry)
        } else {
            decoded = try SubnetState.decode(bytes)
        }
        guard let state = decoded else {
            throw SubtensorError(.unknownSubnet, "subnet \(netuid) does not exist")
        }
        return state
    }

    /// The metagraph at the finalized head.
    /// - Throws: ``SubtensorError``.
    public func metagraphDetailed(netuid: UInt16) async throws(SubtensorError) -> Metagraph {
        let hash = try await transport.call("chain_getFinalizedHead", []).hexBytes("finalized head")
        let header = try await transport.call("chain_getHeader", [.string(Hex.encode(hash))])
        let number = try (header["number"] ?? .null).unsignedValue("block number")
        return try await subnetState(netuid: netuid, at: hash).metagraph(block: number, ss58Prefix: configuration.ss58Prefix)
    }

    /// Every `Commitments.CommitmentOf` entry of the subnet at the finalized head: the raw
    /// bytes of each hotkey's `Raw…` fields, concatenated.
    /// - Throws: ``SubtensorError``.
    public func commitmentsDetailed(netuid: UInt16) async throws(SubtensorError) -> [Hotkey: [UInt8]] {
        let metadata = self.metadata
        let hash = Hex.encode(try await transport.call("chain_getFinalizedHead", []).hexBytes("finalized head"))
        let (_, entry) = try metadata.storage("Commitments", "CommitmentOf")
        guard case .map(let hashers, let keyType, let valueType) = entry.kind, hashers.count == 2,
              case .tuple(let parts) = try metadata.registry.type(keyType).definition, parts.count == 2,
              let netuidSize = try metadata.registry.fixedSize(parts[0]), let accountSize = try metadata.registry.fixedSize(parts[1])
        else { throw SubtensorError(.unsupportedMetadata, "Commitments.CommitmentOf is not a (netuid, account) double map") }
        var netuidBytes = ScaleEncoder()
        try metadata.registry.encodeUnsigned(UInt128(netuid), as: parts[0], into: &netuidBytes)
        let prefix = Hex.encode(try metadata.storageKey("Commitments", "CommitmentOf", keys: [netuidBytes.bytes]))
        var keys: [String] = []
        var start: JSONValue = .null
        while true {
            let page = try await transport.call("state_getKeysPaged", [.string(prefix), .integer(1000), start, .string(hash)])
            guard let items = page.arrayValue else { throw SubtensorError(.invalidResponse, "state_getKeysPaged did not return an array") }
            let strings = items.compactMap(\.stringValue)
            guard strings.count == items.count else { throw SubtensorError(.invalidResponse, "state_getKeysPaged returned a non-string key") }
            keys += strings
            guard strings.count == 1000, let last = strings.last, keys.count < 1 << 20 else { break }
            start = .string(last)
        }
        var out: [Hotkey: [UInt8]] = [:]
        var index = 0
        while index < keys.count {
            let chunk = Array(keys[index..<min(index + 256, keys.count)])
            index += chunk.count
            let result = try await transport.call("state_queryStorageAt", [.array(chunk.map { .string($0) }), .string(hash)])
            for set in result.arrayValue ?? [] {
                for change in set["changes"]?.arrayValue ?? [] {
                    guard let pair = change.arrayValue, pair.count == 2 else { throw SubtensorError(.invalidResponse, "malformed storage change") }
                    if pair[1].isNull { continue }
                    let key = try pair[0].hexBytes("storage key")
                    let fields = try StorageKeyDecoder.parts(of: key, hashers: hashers, partSizes: [netuidSize, accountSize])
                    var decoder = ScaleDecoder(try pair[1].hexBytes("commitment"))
                    let value = try metadata.registry.decode(valueType, from: &decoder)
                    try decoder.expectEnd("CommitmentOf value")
                    out[Hotkey(rawValue: SS58.encode(fields[1], prefix: configuration.ss58Prefix))] = value.rawVariantBytes
                }
            }
        }
        return out
    }

    /// The subnet's `SubtensorModule.WeightsVersionKey` at the best block (its default when unset).
    /// - Throws: ``SubtensorError``.
    public func weightsVersionKey(netuid: UInt16) async throws(SubtensorError) -> UInt64 {
        let metadata = self.metadata
        let (_, entry) = try metadata.storage("SubtensorModule", "WeightsVersionKey")
        guard case .map(let hashers, let keyType, let valueType) = entry.kind, hashers.count == 1 else {
            throw SubtensorError(.unsupportedMetadata, "SubtensorModule.WeightsVersionKey is not a map by netuid")
        }
        var key = ScaleEncoder()
        try metadata.registry.encodeUnsigned(UInt128(netuid), as: keyType, into: &key)
        let storageKey = try metadata.storageKey("SubtensorModule", "WeightsVersionKey", keys: [key.bytes])
        let raw = try await transport.call("state_getStorage", [.string(Hex.encode(storageKey))])
        var d = ScaleDecoder(raw.isNull ? entry.defaultValue : try raw.hexBytes("WeightsVersionKey"))
        guard case .unsigned(let value) = try metadata.registry.decode(valueType, from: &d), let result = UInt64(exactly: value) else {
            throw SubtensorError(.invalidResponse, "WeightsVersionKey is not a u64")
        }
        try d.expectEnd("WeightsVersionKey")
        return result
    }

    // MARK: Writes

    /// Signs `call` with the client's key, submits it, and (if configured) waits until it is in
    /// a block and checks that it succeeded.
    /// - Throws: ``SubtensorError``: `.invalidArgument` without a signer; `.rateLimited`,
    ///   `.notRegistered` or `.transactionRejected` when the pool refuses it;
    ///   `.transactionFailed` when its dispatch fails or it is not included in time.
    @discardableResult
    public func submit(call: [UInt8]) async throws(SubtensorError) -> ExtrinsicReceipt {
        guard let signer else { throw SubtensorError(.invalidArgument, "this client has no signing key") }
        try await refreshRuntimeIfUpgraded()
        let (metadata, spec, txVersion, cachedGenesis) = state.withLock { ($0.metadata, $0.specVersion, $0.transactionVersion, $0.genesis) }
        let genesis: [UInt8]
        if let cachedGenesis { genesis = cachedGenesis } else {
            genesis = try await blockHash(0)
            state.withLock { $0.genesis = genesis }
        }
        let nonce = try await transport.call("system_accountNextIndex", [.string(signer.address(prefix: configuration.ss58Prefix))])
            .unsignedValue("account nonce")
        let head = try await transport.call("chain_getHeader", [])
        let current = try (head["number"] ?? .null).unsignedValue("block number")
        let era = Era.mortal(period: configuration.eraPeriod, currentBlock: current)
        let birthHash = try await blockHash(era.birth(currentBlock: current))
        let parameters = TransactionParameters(nonce: nonce, era: era, eraBlockHash: birthHash, genesisHash: genesis,
                                               specVersion: spec, transactionVersion: txVersion)
        let extrinsic = try ExtrinsicBuilder(metadata: metadata).signedExtrinsic(call: call, signer: signer, parameters: parameters)
        let hex = Hex.encode(extrinsic)
        let hash = try await transport.call("author_submitExtrinsic", [.string(hex)]).hexBytes("extrinsic hash")
        logger.info("submitted extrinsic", metadata: ["hash": "\(Hex.encode(hash))", "nonce": "\(nonce)"])
        var receipt = ExtrinsicReceipt(hash: hash)
        guard configuration.waitForInclusion else { return receipt }
        let (blockHash, number, index) = try await waitForInclusion(hex, after: current)
        receipt.blockHash = blockHash
        receipt.blockNumber = number
        receipt.index = index
        try await checkOutcome(blockHash: blockHash, index: index, metadata: metadata)
        return receipt
    }

    private func refreshRuntimeIfUpgraded() async throws(SubtensorError) {
        let version = try await transport.call("state_getRuntimeVersion", [])
        let spec = try (version["specVersion"] ?? .null).unsignedValue("specVersion")
        let tx = try (version["transactionVersion"] ?? .null).unsignedValue("transactionVersion")
        let current = state.withLock { $0.specVersion }
        if UInt64(current) != spec {
            logger.info("runtime upgraded; reloading metadata", metadata: ["from": "\(current)", "to": "\(spec)"])
            let metadata = try await Self.fetchMetadata(transport, at: nil)
            state.withLock { $0.metadata = metadata }
        }
        state.withLock {
            $0.specVersion = UInt32(truncatingIfNeeded: spec)
            $0.transactionVersion = UInt32(truncatingIfNeeded: tx)
        }
    }

    private func waitForInclusion(_ extrinsicHex: String, after start: UInt64) async throws(SubtensorError) -> ([UInt8], UInt64, Int) {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.inclusionTimeout
        var next = start + 1
        while clock.now < deadline {
            let head = try await transport.call("chain_getHeader", [])
            let best = try (head["number"] ?? .null).unsignedValue("block number")
            while next <= best {
                let hash = try await blockHash(next)
                let block = try await transport.call("chain_getBlock", [.string(Hex.encode(hash))])
                let extrinsics = block["block"]?["extrinsics"]?.arrayValue ?? []
                if let index = extrinsics.firstIndex(where: { $0.stringValue?.lowercased() == extrinsicHex }) {
                    return (hash, next, index)
                }
                next += 1
            }
            try? await Task.sleep(for: configuration.pollInterval)
        }
        throw SubtensorError(.transactionFailed, "extrinsic not included within \(configuration.inclusionTimeout)")
    }

    /// Reads `System.Events` at the block and throws if the extrinsic's dispatch failed.
    private func checkOutcome(blockHash: [UInt8], index: Int, metadata: RuntimeMetadata) async throws(SubtensorError) {
        let key = try metadata.storageKey("System", "Events")
        guard case .plain(let type) = try metadata.storage("System", "Events").entry.kind else { return }
        let raw = try await transport.call("state_getStorage", [.string(Hex.encode(key)), .string(Hex.encode(blockHash))])
        if raw.isNull { return }
        var d = ScaleDecoder(try raw.hexBytes("events"))
        guard case .sequence(let records) = try metadata.registry.decode(type, from: &d) else { return }
        for record in records {
            guard case .composite(let fields) = record, fields.count >= 2,
                  case .variant("ApplyExtrinsic", let phase) = fields[0], phase.first == .unsigned(UInt128(index)),
                  case .variant("System", let inner) = fields[1], case .variant(let event, let details)? = inner.first
            else { continue }
            if event == "ExtrinsicFailed" {
                throw SubtensorError(.transactionFailed, "dispatch failed: \(describeDispatchError(details.first, metadata))")
            }
        }
    }

    private func describeDispatchError(_ value: ScaleValue?, _ metadata: RuntimeMetadata) -> String {
        guard case .variant("Module", let fields)? = value, case .composite(let module)? = fields.first, module.count == 2,
              case .unsigned(let palletIndex) = module[0], case .bytes(let error) = module[1], let first = error.first,
              let pallet = metadata.pallets.first(where: { UInt128($0.index) == palletIndex }), let errorType = pallet.errorType,
              case .variant(let variants)? = try? metadata.registry.type(errorType).definition,
              let variant = variants.first(where: { $0.index == first })
        else { return value.map { "\($0)" } ?? "unknown" }
        return "\(pallet.name).\(variant.name)"
    }
}
