public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Sends JSON-RPC 2.0 calls to a node.
///
/// Contract: `call` returns the `result` member or throws a ``SubtensorError``: a JSON-RPC
/// error object becomes `.rpc`, `.rateLimited`, `.notRegistered` or `.transactionRejected`
/// (see ``SubtensorError/fromRPC(code:message:data:)``); an unreachable node `.transport`; a
/// late answer `.timeout`; anything that is not a JSON-RPC response `.invalidResponse`.
public protocol JSONRPCTransport: Sendable {
    /// Calls `method` with positional `params`.
    func call(_ method: String, _ params: [JSONValue]) async throws(SubtensorError) -> JSONValue
}

extension SubtensorError {
    /// The typed error for a JSON-RPC error object. Transaction-pool errors (1010–1019) carry
    /// the runtime's reason in `data`, e.g. `"Custom error: 6"`: custom 6 (rate limit exceeded)
    /// becomes `.rateLimited`, custom 10 (hotkey not registered on the subnet) `.notRegistered`.
    public static func fromRPC(code: Int, message: String, data: JSONValue?) -> SubtensorError {
        let detail = data.map { $0.stringValue ?? $0.description } ?? ""
        var custom: Int? = nil
        if let range = detail.range(of: "Custom error: ") {
            custom = Int(detail[range.upperBound...].prefix { $0.isNumber })
        }
        let text = detail.isEmpty ? message : "\(message): \(detail)"
        switch (code, custom) {
        case (_, 6?): return SubtensorError(.rateLimited, text, rpcCode: code, customCode: 6)
        case (_, 10?): return SubtensorError(.notRegistered, text, rpcCode: code, customCode: 10)
        case (1010...1019, _): return SubtensorError(.transactionRejected, text, rpcCode: code, customCode: custom)
        default: return SubtensorError(.rpc, text, rpcCode: code, customCode: custom)
        }
    }
}

/// Builds request bodies and parses responses; shared by the HTTP and WebSocket transports.
enum JSONRPCCodec {
    struct Request: Encodable {
        let jsonrpc = "2.0"
        let id: Int
        let method: String
        let params: [JSONValue]
    }

    static func encode(id: Int, method: String, params: [JSONValue]) -> [UInt8] {
        // Encoding plain JSON values cannot fail.
        (try? Array(JSONEncoder().encode(Request(id: id, method: method, params: params)))) ?? []
    }

    /// The `result` of a response, or the typed error it carries.
    static func result(of body: [UInt8], method: String) throws(SubtensorError) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            throw SubtensorError(.invalidResponse, "\(method): response is not JSON (\(body.count) bytes)")
        }
        return try result(of: value, method: method)
    }

    static func result(of value: JSONValue, method: String) throws(SubtensorError) -> JSONValue {
        guard case .object(let object) = value else { throw SubtensorError(.invalidResponse, "\(method): response is not a JSON object") }
        if let error = object["error"], !error.isNull {
            guard case .integer(let code) = error["code"] ?? .null else {
                throw SubtensorError(.invalidResponse, "\(method): malformed error object \(error.description.prefix(200))")
            }
            return try { () throws(SubtensorError) -> JSONValue in
                throw SubtensorError.fromRPC(code: Int(code), message: error["message"]?.stringValue ?? "", data: error["data"])
            }()
        }
        guard let result = object["result"] else { throw SubtensorError(.invalidResponse, "\(method): response has neither result nor error") }
        return result
    }
}

/// When and how often a transport retries.
public struct JSONRPCRetryPolicy: Sendable, Hashable {
    /// Attempts in all (1 = no retry).
    public var attempts: Int
    /// Wait before the first retry; doubles each time.
    public var initialDelay: Duration
    /// Longest wait between attempts.
    public var maximumDelay: Duration

    /// Creates a policy.
    public init(attempts: Int = 3, initialDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(4)) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// The wait before retry number `retry` (1-based).
    public func delay(beforeRetry retry: Int) -> Duration {
        var d = initialDelay
        for _ in 1..<max(retry, 1) { d = min(d * 2, maximumDelay) }
        return min(d, maximumDelay)
    }
}

/// JSON-RPC 2.0 over HTTP(S) POST (AsyncHTTPClient), with a per-request timeout and retries
/// of what another attempt can fix (connection failures, timeouts, HTTP 429 and 5xx). JSON-RPC
/// errors are answers, never retried.
public final class HTTPJSONRPCTransport: JSONRPCTransport {
    /// The node's URL, e.g. `https://entrypoint-finney.opentensor.ai`.
    public let url: String
    private let client: HTTPClient
    private let timeout: Duration
    private let retry: JSONRPCRetryPolicy
    private let maximumResponseBytes: Int
    private let logger: Logger
    private let counter = Mutex(0)

    /// A transport for `url`.
    /// - Parameters:
    ///   - url: `http://` or `https://` endpoint.
    ///   - timeout: Deadline of one attempt.
    ///   - retry: Retry policy.
    ///   - maximumResponseBytes: Larger responses are refused (metadata is about 1 MiB of hex).
    ///   - httpClient: The HTTP client (default: AsyncHTTPClient's process-wide shared client).
    ///   - logger: Where retries are logged.
    /// - Throws: ``SubtensorError`` `.invalidArgument` for a URL that is not http(s).
    public init(url: String, timeout: Duration = .seconds(30), retry: JSONRPCRetryPolicy = JSONRPCRetryPolicy(),
                maximumResponseBytes: Int = 64 << 20, httpClient: HTTPClient = .shared,
                logger: Logger = Logger(label: "tessera.subtensor.rpc")) throws(SubtensorError) {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw SubtensorError(.invalidArgument, "an HTTP JSON-RPC URL starts with http:// or https://, got \(url)")
        }
        self.url = url
        self.timeout = timeout
        self.retry = retry
        self.maximumResponseBytes = maximumResponseBytes
        self.logger = logger
        client = httpClient
    }

    /// Posts the call, retrying transport failures and timeouts per the retry policy.
    public func call(_ method: String, _ params: [JSONValue]) async throws(SubtensorError) -> JSONValue {
        var attempt = 1
        while true {
            do {
                return try await attemptCall(method, params)
            } catch where error.code == .transport || error.code == .timeout {
                guard attempt < retry.attempts else { throw error }
                let delay = retry.delay(beforeRetry: attempt)
                logger.debug("retrying JSON-RPC call", metadata: ["method": "\(method)", "attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: delay)
                attempt += 1
            }
        }
    }

    private func attemptCall(_ method: String, _ params: [JSONValue]) async throws(SubtensorError) -> JSONValue {
        var prepared = HTTPClientRequest(url: url)
        prepared.method = .POST
        prepared.headers.add(name: "Content-Type", value: "application/json")
        prepared.body = .bytes(ByteBuffer(bytes: JSONRPCCodec.encode(id: counter.withLock { $0 += 1; return $0 }, method: method, params: params)))
        let request = prepared
        let timeout = self.timeout, client = self.client, limit = maximumResponseBytes, url = self.url
        let deadline = TimeAmount.nanoseconds(Int64(clamping: timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
        let status: UInt
        let body: [UInt8]
        do {
            // Our own deadline races the request, so a stalled server always ends in `.timeout`.
            (status, body) = try await withThrowingTaskGroup(of: (UInt, [UInt8]).self) { group in
                group.addTask {
                    let response = try await client.execute(request, timeout: deadline)
                    let code = response.status.code
                    if code == 429 || code >= 500 { return (code, []) }
                    let buffer = try await response.body.collect(upTo: limit)
                    return (code, Array(buffer.readableBytesView))
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw SubtensorError(.timeout, "\(method): no answer from \(url) within \(timeout)")
                }
                defer { group.cancelAll() }
                guard let first = try await group.next() else { throw SubtensorError(.transport, "\(method): no result") }
                return first
            }
        } catch let error as SubtensorError {
            throw error
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw SubtensorError(.timeout, "\(method): no answer from \(url) within \(timeout)")
        } catch let error as NIOTooManyBytesError {
            throw SubtensorError(.invalidResponse, "\(method): response exceeds \(maximumResponseBytes) bytes (\(error))")
        } catch {
            throw SubtensorError(.transport, "\(method): \(url): \(error)")
        }
        if status == 429 || status >= 500 { throw SubtensorError(.transport, "\(method): HTTP \(status)") }
        if status != 200, (try? JSONRPCCodec.result(of: body, method: method)) == nil {
            throw SubtensorError(.invalidResponse, "\(method): HTTP \(status)")
        }
        return try JSONRPCCodec.result(of: body, method: method)
    }
}
