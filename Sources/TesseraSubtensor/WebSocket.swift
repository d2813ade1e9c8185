import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// A transport that can also open JSON-RPC subscriptions (`chain_subscribeFinalizedHeads`).
public protocol JSONRPCSubscribing: JSONRPCTransport {
    /// Subscribes with `method`; the stream yields each notification's `result` and ends (with
    /// a `.transport` error) when the connection drops.
    /// - Throws: ``SubtensorError`` if the subscription is refused or the node is unreachable.
    func subscribe(_ method: String, _ params: [JSONValue], unsubscribe: String) async throws(SubtensorError) -> AsyncThrowingStream<JSONValue, any Error>
}

/// JSON-RPC 2.0 over a WebSocket (`ws://` or `wss://`, SwiftNIO + NIOSSL), with subscriptions.
///
/// One connection, opened on first use and reopened after it drops: requests in flight when it
/// drops fail with `.transport` and are retried (per the ``JSONRPCRetryPolicy``) on a new connection;
/// subscriptions end with `.transport` so their owner can resubscribe or fall back to polling.
/// Each request has its own deadline; messages larger than `maximumMessageBytes` close the
/// connection. Pings are answered.
public actor WebSocketJSONRPCTransport: JSONRPCSubscribing {
    /// The node's URL, e.g. `wss://entrypoint-finney.opentensor.ai:443`.
    public let url: String
    private let host: String
    private let port: Int
    private let path: String
    private let tls: Bool
    private let timeout: Duration
    private let retry: JSONRPCRetryPolicy
    private let maximumMessageBytes: Int
    private let logger: Logger

    private struct Connection {
        let generation: Int
        let outbound: AsyncStream<WebSocketFrame>.Continuation
    }

    private enum UpgradeResult: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case notUpgraded
    }

    private var connection: Connection?
    private var connecting: Task<Connection, any Error>?
    private var generation = 0
    private var nextID = 0
    private var pending: [Int: CheckedContinuation<JSONValue, any Error>] = [:]
    private var timers: [Int: Task<Void, Never>] = [:]
    private var subscriptions: [String: AsyncThrowingStream<JSONValue, any Error>.Continuation] = [:]
    private var early: [String: [JSONValue]] = [:]

    /// A transport for `url` (`ws://` or `wss://`).
    /// - Throws: ``SubtensorError`` `.invalidArgument` for any other URL.
    public init(url: String, timeout: Duration = .seconds(30), retry: JSONRPCRetryPolicy = JSONRPCRetryPolicy(),
                maximumMessageBytes: Int = 64 << 20, logger: Logger = Logger(label: "tessera.subtensor.ws")) throws(SubtensorError) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "ws" || scheme == "wss",
              let host = parsed.host, !host.isEmpty
        else { throw SubtensorError(.invalidArgument, "a WebSocket URL starts with ws:// or wss://, got \(url)") }
        self.url = url
        self.host = host
        tls = scheme == "wss"
        port = parsed.port ?? (scheme == "wss" ? 443 : 80)
        let rawPath = parsed.path.isEmpty ? "/" : parsed.path
        path = parsed.query.map { rawPath + "?" + $0 } ?? rawPath
        self.timeout = timeout
        self.retry = retry
        self.maximumMessageBytes = maximumMessageBytes
        self.logger = logger
    }

    /// Closes the connection (the next call reopens it).
    public func close() {
        connection?.outbound.finish()
    }

    /// Sends the call on the connection (opening it if needed), retrying transport failures and
    /// timeouts on a new connection per the retry policy.
    public func call(_ method: String, _ params: [JSONValue]) async throws(SubtensorError) -> JSONValue {
        var attempt = 1
        while true {
            do {
                return try await JSONRPCCodec.result(of: send(method, params), method: method)
            } catch where error.code == .transport || error.code == .timeout {
                guard attempt < retry.attempts else { throw error }
                logger.debug("retrying JSON-RPC call", metadata: ["method": "\(method)", "attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: retry.delay(beforeRetry: attempt))
                attempt += 1
            }
        }
    }

    /// Opens a subscription; unsubscribes with `unsubscribe` when the stream is dropped.
    public func subscribe(_ method: String, _ params: [JSONValue], unsubscribe: String) async throws(SubtensorError) -> AsyncThrowingStream<JSONValue, any Error> {
        let result = try await call(method, params)
        guard let id = result.stringValue ?? { if case .integer(let i) = result { "\(i)" } else { nil } }() else {
            throw SubtensorError(.invalidResponse, "\(method) returned no subscription id")
        }
        let (stream, continuation) = AsyncThrowingStream<JSONValue, any Error>.makeStream()
        subscriptions[id] = continuation
        for value in early.removeValue(forKey: id) ?? [] { continuation.yield(value) }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            Task { await self.endSubscription(id, unsubscribe: unsubscribe) }
        }
        return stream
    }

    private func endSubscription(_ id: String, unsubscribe: String) async {
        guard subscriptions.removeValue(forKey: id) != nil, connection != nil else { return }
        _ = try? await send(unsubscribe, [.string(id)])
    }

    /// Sends one request on the current connection and waits for its response object.
    private func send(_ method: String, _ params: [JSONValue]) async throws(SubtensorError) -> JSONValue {
        let connection = try await connected()
        nextID += 1
        let id = nextID
        let body = JSONRPCCodec.encode(id: id, method: method, params: params)
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(bytes: body))
        let timeout = self.timeout
        do {
            return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSONValue, any Error>) in
                pending[id] = continuation
                connection.outbound.yield(frame)
                timers[id] = Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    if Task.isCancelled { return }
                    await self?.fail(id, SubtensorError(.timeout, "\(method): no answer within \(timeout)"))
                }
            }
        } catch let error as SubtensorError {
            throw error
        } catch {
            throw SubtensorError(.transport, "\(method): \(error)")
        }
    }

    private func fail(_ id: Int, _ error: SubtensorError) {
        timers.removeValue(forKey: id)?.cancel()
        pending.removeValue(forKey: id)?.resume(throwing: error)
    }

    private func connected() async throws(SubtensorError) -> Connection {
        if let connection { return connection }
        let task: Task<Connection, any Error>
        if let connecting {
            task = connecting
        } else {
            task = Task { try await self.open() }
            connecting = task
        }
        do {
            let opened = try await task.value
            connecting = nil
            return opened
        } catch let error as SubtensorError {
            connecting = nil
            throw error
        } catch {
            connecting = nil
            throw SubtensorError(.transport, "cannot connect to \(url): \(error)")
        }
    }

    private func open() async throws -> Connection {
        let host = self.host, path = self.path, tls = self.tls, maximum = maximumMessageBytes
        let sslContext = tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        let upgrade: EventLoopFuture<UpgradeResult> = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount.nanoseconds(Int64(clamping: timeout.components.seconds * 1_000_000_000)))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: host))
                    }
                    let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeResult>(maxFrameSize: maximum) { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            .websocket(try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel))
                        }
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: host)
                    headers.add(name: "Content-Length", value: "0")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in channel.eventLoop.makeCompletedFuture { .notUpgraded } })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                }
            }
        guard case .websocket(let channel) = try await upgrade.get() else {
            throw SubtensorError(.transport, "\(url) refused the WebSocket upgrade")
        }
        generation += 1
        let (outgoing, outbound) = AsyncStream<WebSocketFrame>.makeStream()
        let connection = Connection(generation: generation, outbound: outbound)
        self.connection = connection
        let generation = self.generation
        Task { [weak self] in
            do {
                try await channel.executeThenClose { inbound, writer in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await frame in outgoing { try await writer.write(frame) }
                        }
                        group.addTask {
                            var message: [UInt8] = []
                            for try await frame in inbound {
                                switch frame.opcode {
                                case .text, .binary, .continuation:
                                    let data = frame.unmaskedData
                                    guard message.count + data.readableBytes <= maximum else {
                                        throw SubtensorError(.invalidResponse, "WebSocket message exceeds \(maximum) bytes")
                                    }
                                    message += data.readableBytesView
                                    if frame.fin {
                                        await self?.receive(message)
                                        message = []
                                    }
                                case .ping:
                                    outbound.yield(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
                                case .connectionClose:
                                    return
                                default:
                                    break
                                }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                }
            } catch {
                self?.logger.debug("WebSocket connection ended", metadata: ["error": "\(error)"])
            }
            outbound.finish()
            await self?.disconnected(generation)
        }
        return connection
    }

    private func receive(_ message: [UInt8]) {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(message)) else {
            logger.debug("ignoring a WebSocket message that is not JSON")
            return
        }
        if case .integer(let id)? = value["id"] {
            timers.removeValue(forKey: Int(id))?.cancel()
            pending.removeValue(forKey: Int(id))?.resume(returning: value)
            return
        }
        guard let params = value["params"], let subscription = params["subscription"], let result = params["result"] else { return }
        let key = subscription.stringValue ?? subscription.description
        if let continuation = subscriptions[key] {
            continuation.yield(result)
        } else if early[key, default: []].count < 64 {
            early[key, default: []].append(result)
        }
    }

    private func disconnected(_ ended: Int) {
        guard connection?.generation == ended else { return }
        connection = nil
        early = [:]
        let error = SubtensorError(.transport, "connection to \(url) closed")
        for (_, continuation) in pending { continuation.resume(throwing: error) }
        pending = [:]
        for (_, timer) in timers { timer.cancel() }
        timers = [:]
        for (_, continuation) in subscriptions { continuation.finish(throwing: error) }
        subscriptions = [:]
    }
}
