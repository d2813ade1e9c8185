import Foundation
import Logging
import Synchronization
import Testing
import TesseraChain
import TesseraCore
import TesseraSubtensor

/// A small simulated chain behind the mock JSON-RPC server: blocks 0…`finalized` exist, the
/// best block is one ahead, a submitted extrinsic lands in the next block.
final class SimulatedNode: Sendable {
    let metadata: RuntimeMetadata
    let metadataHex: String
    let subnetStateHex: String
    let commitments: [([UInt8], [UInt8])]  // (hotkey, data)
    let submitError: MockJSONRPCServer.Reply?
    /// `System.Events` of the block that includes a submitted extrinsic, if any.
    let events: [UInt8]?
    private let state = Mutex<(finalized: UInt64, submitted: [(hex: String, block: UInt64)])>((100, []))

    init(metadata: RuntimeMetadata, metadataHex: String, subnetStateHex: String,
         commitments: [([UInt8], [UInt8])] = [], submitError: MockJSONRPCServer.Reply? = nil, events: [UInt8]? = nil) {
        self.events = events
        self.metadata = metadata
        self.metadataHex = metadataHex
        self.subnetStateHex = subnetStateHex
        self.commitments = commitments
        self.submitError = submitError
    }

    static func hash(_ n: UInt64) -> [UInt8] { SubstrateHash.blake2b256(Array("block \(n)".utf8)) }
    static func milliseconds(_ n: UInt64) -> UInt64 { 1_700_000_000_000 + n * 12_000 }
    var submitted: [String] { state.withLock { $0.submitted.map(\.hex) } }
    func advance() { state.withLock { $0.finalized += 1 } }

    private func number(ofHash hex: String) -> UInt64? {
        let best = state.withLock { state in max(state.finalized + 1, state.submitted.last?.block ?? 0) }
        return (0...best).first { Hex.encode(Self.hash($0)) == hex }
    }

    func reply(_ request: MockJSONRPCServer.Request) -> MockJSONRPCServer.Reply {
        let (finalized, submitted) = state.withLock { ($0.finalized, $0.submitted) }
        let best = max(finalized + 1, submitted.last?.block ?? 0)
        let p = request.params
        switch request.method {
        case "chain_getFinalizedHead":
            return .result(.string(Hex.encode(Self.hash(finalized))))
        case "chain_getHeader":
            let n = p.first.flatMap { $0.stringValue }.flatMap(number(ofHash:)) ?? best
            return .result(.object(["number": .string("0x" + String(n, radix: 16))]))
        case "chain_getBlockHash":
            guard case .integer(let n)? = p.first, n >= 0, UInt64(n) <= best else { return .result(.null) }
            return .result(.string(Hex.encode(Self.hash(UInt64(n)))))
        case "chain_getBlock":
            let n = p.first?.stringValue.flatMap(number(ofHash:)) ?? 0
            let extrinsics: [JSONValue] = submitted.filter { $0.block == n }.map { .string($0.hex) }
            return .result(.object(["block": .object(["extrinsics": .array([.string("0x280402000bc0")] + extrinsics)])]))
        case "state_getStorage":
            let key = p.first?.stringValue ?? ""
            if key == Hex.encode((try? metadata.storageKey("Timestamp", "Now")) ?? []) {
                let n = p.count > 1 ? p[1].stringValue.flatMap(number(ofHash:)) ?? 0 : finalized
                var e = ScaleEncoder()
                e.append(littleEndian: Self.milliseconds(n))
                return .result(.string(Hex.encode(e.bytes)))
            }
            if key == Hex.encode((try? metadata.storageKey("SubtensorModule", "WeightsVersionKey", keys: [[1, 0]])) ?? []) {
                return .result(.string("0xb90f000000000000"))  // 4025
            }
            if key == Hex.encode((try? metadata.storageKey("System", "Events")) ?? []), let events {
                return .result(.string(Hex.encode(events)))
            }
            return .result(.null)
        case "state_call":
            switch p.first?.stringValue {
            case "Metadata_metadata_at_version": return .result(.string(metadataHex))
            case "SubnetInfoRuntimeApi_get_subnet_state":
                return .result(.string(p.count > 1 && p[1].stringValue == "0x0100" ? subnetStateHex : "0x00"))
            default: return .error(code: -32000, message: "unknown runtime call", data: nil)
            }
        case "state_getKeysPaged":
            let keys = commitments.compactMap { hotkey, _ in
                try? metadata.storageKey("Commitments", "CommitmentOf", keys: [[1, 0], hotkey])
            }
            return .result(.array(keys.map { .string(Hex.encode($0)) }))
        case "state_queryStorageAt":
            var changes: [JSONValue] = []
            for (hotkey, data) in commitments {
                guard let key = try? metadata.storageKey("Commitments", "CommitmentOf", keys: [[1, 0], hotkey]) else { continue }
                var e = ScaleEncoder()
                e.append(littleEndian: UInt64(0))  // deposit
                e.append(littleEndian: UInt32(99))  // block
                e.appendCompact(UInt8(1))  // one field
                e.append(UInt8(data.count + 1))  // Raw{n}
                e.append(data)
                changes.append(.array([.string(Hex.encode(key)), .string(Hex.encode(e.bytes))]))
            }
            return .result(.array([.object(["block": .string(Hex.encode(Self.hash(finalized))), "changes": .array(changes)])]))
        case "system_accountNextIndex":
            return .result(.integer(7))
        case "state_getRuntimeVersion":
            return .result(.object(["specVersion": .integer(343), "transactionVersion": .integer(1)]))
        case "author_submitExtrinsic":
            if let submitError { return submitError }
            let hex = p.first?.stringValue ?? ""
            state.withLock { state in
                state.submitted.append((hex, max(state.finalized + 1, state.submitted.last?.block ?? 0) + 1))
            }
            return .result(.string(Hex.encode(SubstrateHash.blake2b256((try? Hex.decode(hex)) ?? []))))
        default:
            return .error(code: -32601, message: "Method not found", data: nil)
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct ClientTests {
    static func node(commitments: [([UInt8], [UInt8])] = [], submitError: MockJSONRPCServer.Reply? = nil, events: [UInt8]? = nil) throws -> SimulatedNode {
        SimulatedNode(metadata: try Fixtures.metadata(), metadataHex: try Fixtures.text("metadata_at_version15.hex").trimmingCharacters(in: .whitespacesAndNewlines),
                      subnetStateHex: try Fixtures.subnetStateHex(), commitments: commitments, submitError: submitError, events: events)
    }

    /// A value of type `id` made of zeros, empty vectors and first variants.
    static func zeroValue(_ registry: TypeRegistry, _ id: UInt32) throws -> ScaleValue {
        switch try registry.type(id).definition {
        case .primitive(.bool): return .bool(false)
        case .primitive(.str): return .string("")
        case .primitive, .compact: return .unsigned(0)
        case .sequence: return .sequence([])
        case .array(let n, let element): return .sequence(try (0..<n).map { _ in try zeroValue(registry, element) })
        case .tuple(let elements): return .sequence(try elements.map { try zeroValue(registry, $0) })
        case .composite(let fields): return .composite(try fields.map { try zeroValue(registry, $0.type) })
        case .variant(let variants):
            let v = try #require(variants.min { $0.index < $1.index })
            return .variant(v.name, try v.fields.map { try zeroValue(registry, $0.type) })
        case .bitSequence: return .sequence([])
        }
    }

    /// `System.Events` holding one `System.ExtrinsicFailed(Module { pallet, error })` for extrinsic `index`.
    static func failedEvents(_ metadata: RuntimeMetadata, index: Int, pallet: String, error: String) throws -> [UInt8] {
        guard case .plain(let eventsType) = try metadata.storage("System", "Events").entry.kind,
              case .sequence(let recordType) = try metadata.registry.type(eventsType).definition,
              case .composite(let recordFields) = try metadata.registry.type(recordType).definition,
              case .variant(let outer) = try metadata.registry.type(recordFields[1].type).definition,
              let system = outer.first(where: { $0.name == "System" }),
              case .variant(let systemEvents) = try metadata.registry.type(system.fields[0].type).definition,
              let failed = systemEvents.first(where: { $0.name == "ExtrinsicFailed" }),
              let errorType = try metadata.pallet(pallet).errorType,
              case .variant(let errors) = try metadata.registry.type(errorType).definition,
              let errorVariant = errors.first(where: { $0.name == error })
        else { throw SubtensorError(.notInMetadata, "unexpected event layout") }
        let module = ScaleValue.variant("Module", [.composite([.unsigned(UInt128(try metadata.pallet(pallet).index)), .bytes([errorVariant.index, 0, 0, 0])])])
        let info = try zeroValue(metadata.registry, failed.fields[1].type)
        let record = ScaleValue.composite([
            .variant("ApplyExtrinsic", [.unsigned(UInt128(index))]),
            .variant("System", [.variant("ExtrinsicFailed", [module, info])]),
            .sequence([]),
        ])
        var e = ScaleEncoder()
        try metadata.registry.encode(.sequence([record]), as: eventsType, into: &e)
        return e.bytes
    }

    @Test func failedDispatchIsReportedWithThePalletError() async throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata()
        let events = try Self.failedEvents(metadata, index: 1, pallet: "SubtensorModule", error: "NotEnoughStakeToSetWeights")
        let node = try Self.node(events: events)
        let server = try MockJSONRPCServer { request, _ in node.reply(request) }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .seconds(20))
        let signer = try KeyPair(scheme: .sr25519, seed: [UInt8](repeating: 5, count: 32))
        let client = try SubtensorClient(transport: transport, metadata: metadata, signer: signer, configuration: Self.fastConfiguration(), logger: ClientTests.quiet)
        do {
            try await client.submit(call: metadata.setWeightsCall(netuid: 1, uids: [0], weights: [1], versionKey: 0))
            Issue.record("expected a failed dispatch")
        } catch {
            #expect(error.code == .transactionFailed)
            #expect(error.message.contains("SubtensorModule.NotEnoughStakeToSetWeights"), "\(error)")
        }
    }

    /// A logger that keeps test output quiet (the client logs submissions and fallbacks at info).
    static let quiet: Logger = {
        var logger = Logger(label: "tessera.subtensor.tests")
        logger.logLevel = .error
        return logger
    }()

    static func fastConfiguration() -> SubtensorConfiguration {
        var c = SubtensorConfiguration()
        c.pollInterval = .milliseconds(20)
        c.inclusionTimeout = .seconds(30)
        return c
    }

    @Test func readsHeadBlocksMetagraphAndCommitments() async throws {
        guard Fixtures.available() else { return }
        let hotkeys = [[UInt8](repeating: 1, count: 32), [UInt8](repeating: 2, count: 32)]
        let node = try Self.node(commitments: [(hotkeys[0], Array("bucket-a:key".utf8)), (hotkeys[1], Array("bucket-b:other".utf8))])
        let server = try MockJSONRPCServer { request, _ in node.reply(request) }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .seconds(20))
        let client = try await SubtensorClient.connect(transport: transport, configuration: Self.fastConfiguration(), logger: ClientTests.quiet)
        #expect(client.metadata.version == 15)

        let head = try await client.head()
        #expect(head.number == 100)
        #expect(head.hash.bytes == SimulatedNode.hash(100))
        #expect(head.timestamp == Double(SimulatedNode.milliseconds(100)) / 1000)
        let past = try await client.block(42)
        #expect(past.hash.bytes == SimulatedNode.hash(42))
        await #expect(throws: ChainError.self) { try await client.block(10_000) }
        // Block 101 exists (the best block) but is not finalized: not served as a past block.
        do {
            _ = try await client.block(101)
            Issue.record("an unfinalized block was served")
        } catch let error as ChainError {
            #expect(error.code == .unknownBlock)
        }

        let metagraph = try await client.metagraph(netuid: 1)
        #expect(metagraph.neurons.count == 1024)
        #expect(metagraph.block == 100)
        #expect(metagraph.neurons[395].hotkey == "5HCFWvRqzSHWRPecN7q8J6c7aKQnrCZTMHstPv39xL1wgDHh")
        do {
            _ = try await client.metagraph(netuid: 2)
            Issue.record("subnet 2 should not exist")
        } catch let error as ChainError {
            #expect(error.code == .unknownSubnet)
        }

        let commitments = try await client.commitments(netuid: 1)
        #expect(commitments[Hotkey(rawValue: SS58.encode(hotkeys[0]))] == Array("bucket-a:key".utf8))
        #expect(commitments[Hotkey(rawValue: SS58.encode(hotkeys[1]))] == Array("bucket-b:other".utf8))
    }

    @Test func setWeightsAndCommitSubmitSignedExtrinsics() async throws {
        guard Fixtures.available() else { return }
        let node = try Self.node()
        let server = try MockJSONRPCServer { request, _ in node.reply(request) }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .seconds(20))
        let signer = try KeyPair(scheme: .sr25519, seed: [UInt8](repeating: 3, count: 32))
        let client = try await SubtensorClient.connect(transport: transport, signer: signer, configuration: Self.fastConfiguration(), logger: ClientTests.quiet)
        try await client.setWeights(netuid: 1, [UID(rawValue: 4): 2.0, UID(rawValue: 1): 1.0])
        #expect(node.submitted.count == 1)

        // The submitted bytes: signed v4, our key, a valid sr25519 signature over the payload.
        let extrinsic = try Hex.decode(try #require(node.submitted.first))
        let metadata = client.metadata
        let call = try metadata.setWeightsCall(netuid: 1, uids: [1, 4], weights: [32768, 65535], versionKey: 4025)
        #expect(Array(extrinsic.suffix(call.count)) == call)
        var d = ScaleDecoder(extrinsic)
        _ = try d.readLength()
        #expect(try d.readByte() == 0x84)
        #expect(try d.readByte() == 0)
        #expect(try d.readBytes(32) == signer.publicKey)
        #expect(try d.readByte() == 1)
        let signature = try d.readBytes(64)
        let era = Era.mortal(period: 64, currentBlock: 101)
        let parameters = TransactionParameters(nonce: 7, era: era, eraBlockHash: SimulatedNode.hash(era.birth(currentBlock: 101)),
                                               genesisHash: SimulatedNode.hash(0), specVersion: 343, transactionVersion: 1)
        let payload = try ExtrinsicBuilder(metadata: metadata).signingPayload(call: call, parameters: parameters)
        #expect(KeyPair.verify(scheme: .sr25519, publicKey: signer.publicKey, message: payload, signature: signature))

        node.advance()
        try await client.commit(Array("my-bucket:read-key".utf8), netuid: 1)
        #expect(node.submitted.count == 2)
        let commitment = Array("my-bucket:read-key".utf8)
        #expect(Array(try Hex.decode(node.submitted[1]).suffix(commitment.count)) == commitment)
        await #expect(throws: ChainError.self) { try await client.commit([UInt8](repeating: 0, count: 200), netuid: 1) }
    }

    @Test(arguments: [(6, ChainError.Code.rateLimited), (10, .notRegistered), (1, .transport)])
    func refusedTransactionsBecomeTypedErrors(custom: Int, expected: ChainError.Code) async throws {
        guard Fixtures.available() else { return }
        let node = try Self.node(submitError: .error(code: 1010, message: "Invalid Transaction", data: .string("Custom error: \(custom)")))
        let server = try MockJSONRPCServer { request, _ in node.reply(request) }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .seconds(20))
        let signer = try KeyPair(scheme: .ed25519, seed: [UInt8](repeating: 3, count: 32))
        let client = try await SubtensorClient.connect(transport: transport, signer: signer, configuration: Self.fastConfiguration(), logger: ClientTests.quiet)
        do {
            try await client.setWeights(netuid: 1, [UID(rawValue: 0): 1])
            Issue.record("expected a refusal")
        } catch let error as ChainError {
            #expect(error.code == expected)
        }
        do {
            _ = try await client.submit(call: client.metadata.setCommitmentCall(netuid: 1, data: [1]))
        } catch {
            #expect(error.customCode == custom)
            #expect(error.rpcCode == 1010)
        }
    }

    @Test func clientWithoutSignerCannotWrite() async throws {
        guard Fixtures.available() else { return }
        let node = try Self.node()
        let server = try MockJSONRPCServer { request, _ in node.reply(request) }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .seconds(20))
        let client = try SubtensorClient(transport: transport, metadata: try Fixtures.metadata())
        await #expect(throws: ChainError.self) { try await client.setWeights(netuid: 1, [UID(rawValue: 0): 1]) }
        #expect(try await client.weightsVersionKey(netuid: 1) == 4025)
        #expect(try await client.weightsVersionKey(netuid: 2) == 0)  // unset: the storage default
    }

    /// The stream starts after the head it read first; the advance waits until that read is
    /// complete (its timestamp was fetched), so the test holds however slowly the machine runs.
    @Test(.timeLimit(.minutes(1)))
    func blockStreamYieldsNewFinalizedBlocks() async throws {
        guard Fixtures.available() else { return }
        let node = try Self.node()
        let server = try MockJSONRPCServer { request, _ in node.reply(request) }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .seconds(20))
        let client = try SubtensorClient(transport: transport, metadata: try Fixtures.metadata(), configuration: Self.fastConfiguration(), logger: ClientTests.quiet)
        var iterator = client.blocks().makeAsyncIterator()
        Task {
            while server.requests("state_getStorage").isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            node.advance()
            node.advance()
        }
        let first = try await iterator.next()
        let second = try await iterator.next()
        #expect(first?.number == 101)
        #expect(second?.number == 102)
    }
}

@Suite(.timeLimit(.minutes(2))) struct TransportTests {
    static let fast = JSONRPCRetryPolicy(attempts: 3, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(20))

    @Test func retriesServerErrorsThenSucceeds() async throws {
        let server = try MockJSONRPCServer { request, earlier in
            earlier < 2 ? .http(status: 503, body: "busy") : .result(.string("0x01"))
        }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .seconds(20), retry: Self.fast)
        #expect(try await transport.call("chain_getFinalizedHead", []) == .string("0x01"))
        #expect(server.requests.count == 3)
    }

    @Test func givesUpAfterTheLastAttempt() async throws {
        let server = try MockJSONRPCServer { _, _ in .hangUp }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .seconds(20), retry: Self.fast)
        do {
            _ = try await transport.call("chain_getHeader", [])
            Issue.record("expected a transport error")
        } catch {
            #expect(error.code == .transport)
        }
        #expect(server.requests.count == 3)
    }

    @Test func timesOut() async throws {
        let server = try MockJSONRPCServer { _, _ in .stall(seconds: 2) }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .milliseconds(200), retry: JSONRPCRetryPolicy(attempts: 1))
        do {
            _ = try await transport.call("chain_getHeader", [])
            Issue.record("expected a timeout")
        } catch {
            #expect(error.code == .timeout)
        }
    }

    @Test func rpcErrorsAreTypedAndNotRetried() async throws {
        let server = try MockJSONRPCServer { request, _ in
            switch request.method {
            case "a": .error(code: 1010, message: "Invalid Transaction", data: .string("Custom error: 6"))
            case "b": .error(code: 1010, message: "Invalid Transaction", data: .string("Custom error: 10"))
            case "c": .error(code: 1012, message: "Transaction is temporarily banned", data: nil)
            case "d": .http(status: 200, body: "this is not json")
            case "e": .http(status: 200, body: "{\"jsonrpc\":\"2.0\",\"id\":1}")
            case "f": .http(status: 200, body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\"}}")
            default: .error(code: -32601, message: "Method not found", data: nil)
            }
        }
        defer { server.stop() }
        let transport = try HTTPJSONRPCTransport(url: server.url, timeout: .seconds(20), retry: Self.fast)
        let expected: [(String, SubtensorError.Code)] = [
            ("a", .rateLimited), ("b", .notRegistered), ("c", .transactionRejected), ("d", .invalidResponse),
            ("e", .invalidResponse), ("f", .invalidResponse), ("g", .rpc),
        ]
        for (method, code) in expected {
            do {
                _ = try await transport.call(method, [])
                Issue.record("\(method) should fail")
            } catch {
                #expect(error.code == code, "\(method)")
            }
        }
        #expect(server.requests.count == expected.count)
    }

    @Test func rejectsNonHTTPURLs() {
        #expect(throws: SubtensorError.self) { try HTTPJSONRPCTransport(url: "ftp://x") }
    }
}

/// Opt-in live checks against a real node: set TESSERA_SUBTENSOR_URL (e.g. an archive or lite
/// node's HTTP endpoint). CI never sets it.
@Suite struct LiveNodeTests {
    @Test func readsARealNode() async throws {
        guard let url = ProcessInfo.processInfo.environment["TESSERA_SUBTENSOR_URL"], !url.isEmpty else {
            print("skipping live node test: TESSERA_SUBTENSOR_URL is not set")
            return
        }
        let client = try await SubtensorClient.connect(transport: SubtensorClient.transport(for: url))
        let head = try await client.head()
        #expect(head.number > 0)
        #expect(head.timestamp > 1_600_000_000)
        let metagraph = try await client.metagraph(netuid: 1)
        #expect(!metagraph.neurons.isEmpty)
        let past = try await client.block(head.number - 1)
        #expect(past.timestamp <= head.timestamp)
        _ = try await client.commitments(netuid: 1)
    }
}
