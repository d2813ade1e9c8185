import Foundation
import Testing
import TesseraChain
import TesseraCore
import TesseraSubtensor

@Suite(.timeLimit(.minutes(2))) struct WebSocketTests {
    static let fast = JSONRPCRetryPolicy(attempts: 3, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(50))

    @Test func callsTypedErrorsAndLargeMessages() async throws {
        let big = String(repeating: "ab", count: 300_000)
        let server = try MockWebSocketServer { request in
            switch request.method {
            case "chain_getFinalizedHead": .result(.string("0x1234"))
            case "big": .result(.string(big))
            case "limited": .error(code: 1010, message: "Invalid Transaction", data: .string("Custom error: 6"))
            default: .error(code: -32601, message: "Method not found", data: nil)
            }
        }
        defer { server.stop() }
        let transport = try WebSocketJSONRPCTransport(url: server.url, timeout: .seconds(20), retry: Self.fast)
        #expect(try await transport.call("chain_getFinalizedHead", []) == .string("0x1234"))
        #expect(try await transport.call("big", []) == .string(big))
        do {
            _ = try await transport.call("limited", [])
            Issue.record("expected rate limiting")
        } catch {
            #expect(error.code == .rateLimited)
        }
        // Concurrent calls share one connection and each gets its own answer.
        try await withThrowingTaskGroup(of: JSONValue.self) { group in
            for _ in 0..<16 { group.addTask { try await transport.call("chain_getFinalizedHead", []) } }
            for try await value in group { #expect(value == .string("0x1234")) }
        }
        #expect(server.accepted == 1)
        await transport.close()
    }

    @Test func reconnectsAfterTheConnectionDrops() async throws {
        let server = try MockWebSocketServer { _ in .result(.integer(7)) }
        defer { server.stop() }
        let transport = try WebSocketJSONRPCTransport(url: server.url, timeout: .seconds(20), retry: Self.fast)
        #expect(try await transport.call("system_accountNextIndex", []) == .integer(7))
        server.dropConnections()
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await transport.call("system_accountNextIndex", []) == .integer(7))
        #expect(server.accepted == 2)
        await transport.close()
    }

    @Test func unreachableNodeIsATransportError() async throws {
        let transport = try WebSocketJSONRPCTransport(url: "ws://127.0.0.1:1/", timeout: .seconds(2), retry: JSONRPCRetryPolicy(attempts: 1))
        do {
            _ = try await transport.call("chain_getHeader", [])
            Issue.record("expected a transport error")
        } catch {
            #expect(error.code == .transport)
        }
        #expect(throws: SubtensorError.self) { try WebSocketJSONRPCTransport(url: "http://x") }
    }

    /// The whole client over a WebSocket: the 1.2 MB V15 metadata and the 470 kB subnet state
    /// arrive as single large frames.
    @Test func clientConnectsAndReadsOverWebSocket() async throws {
        guard Fixtures.available() else { return }
        let node = try ClientTests.node()
        let server = try MockWebSocketServer { request in node.reply(request) }
        defer { server.stop() }
        let transport = try SubtensorClient.transport(for: server.url, timeout: .seconds(10))
        let client = try await SubtensorClient.connect(transport: transport, configuration: ClientTests.fastConfiguration(), logger: ClientTests.quiet)
        #expect(client.metadata.version == 15)
        let metagraph = try await client.metagraph(netuid: 1)
        #expect(metagraph.neurons.count == 1024)
        #expect(try await client.head().number == 100)
        #expect(server.accepted == 1)
    }

    /// Blocks come from the head subscription; after the connection drops, polling (and a new
    /// subscription) keep the stream going with consecutive numbers.
    @Test(.timeLimit(.minutes(1)))
    func headSubscriptionWithPollingFallback() async throws {
        guard Fixtures.available() else { return }
        let node = try ClientTests.node()
        let server = try MockWebSocketServer { request in
            if request.method == "chain_subscribeFinalizedHeads" { return .result(.string("sub-1")) }
            if request.method == "chain_unsubscribeFinalizedHeads" { return .result(.bool(true)) }
            return node.reply(request)
        }
        defer { server.stop() }
        let transport = try WebSocketJSONRPCTransport(url: server.url, timeout: .seconds(20), retry: Self.fast)
        let client = try SubtensorClient(transport: transport, metadata: try Fixtures.metadata(), configuration: ClientTests.fastConfiguration(), logger: ClientTests.quiet)
        var iterator = client.blocks().makeAsyncIterator()
        let pusher = Task {
            // Wait for the subscription, then announce block 101 through it.
            while !server.requests.contains("chain_subscribeFinalizedHeads") { try await Task.sleep(for: .milliseconds(10)) }
            node.advance()
            server.push(.object(["jsonrpc": .string("2.0"), "method": .string("chain_finalizedHead"),
                                 "params": .object(["subscription": .string("sub-1"), "result": .object(["number": .string("0x65")])])]))
        }
        let first = try await iterator.next()
        #expect(first?.number == 101)
        try await pusher.value
        server.dropConnections()
        node.advance()
        let second = try await iterator.next()
        #expect(second?.number == 102)
        #expect(second?.hash.bytes == SimulatedNode.hash(102))
        await transport.close()
    }
}
