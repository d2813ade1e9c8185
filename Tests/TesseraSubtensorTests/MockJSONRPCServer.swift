import Foundation
import TesseraTestKit
import Synchronization
import TesseraSubtensor
#if canImport(Glibc)
import Glibc
#endif

/// A JSON-RPC 2.0 server on 127.0.0.1 that answers each POST with what `handler` says for the
/// request's method and params: a replayed result, a JSON-RPC error, a raw HTTP status, garbage,
/// a stall or a hang-up. Every request is recorded. One request per connection.
final class MockJSONRPCServer: Sendable {
    enum Reply: Sendable {
        case result(JSONValue)
        case error(code: Int, message: String, data: JSONValue?)
        case http(status: Int, body: String)
        case stall(seconds: Double)
        case hangUp
    }

    struct Request: Sendable {
        var method: String
        var params: [JSONValue]
    }

    let port: Int
    private let listener: Int32
    private let handler: @Sendable (Request, Int) -> Reply
    private let state = Mutex<(requests: [Request], stopped: Bool)>(([], false))

    /// `handler` gets the request and how many earlier requests had the same method.
    init(_ handler: @escaping @Sendable (Request, Int) -> Reply) throws {
        (listener, port) = try LoopbackListener.open(backlog: 64)
        self.handler = handler
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { state.withLock { $0.requests } }
    func requests(_ method: String) -> [Request] { requests.filter { $0.method == method } }

    func stop() {
        state.withLock { $0.stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if state.withLock({ $0.stopped }) { return }
                continue
            }
            let thread = Thread { [self] in serve(connection) }
            thread.start()
        }
    }

    private struct Body: Decodable {
        var id: JSONValue?
        var method: String
        var params: [JSONValue]?
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        guard let body = readBody(connection), let parsed = try? JSONDecoder().decode(Body.self, from: Data(body)) else {
            send(connection, status: 400, body: "bad request")
            return
        }
        let request = Request(method: parsed.method, params: parsed.params ?? [])
        let earlier = state.withLock { state in
            defer { state.requests.append(request) }
            return state.requests.filter { $0.method == request.method }.count
        }
        let id = parsed.id ?? .null
        switch handler(request, earlier) {
        case .result(let value):
            send(connection, status: 200, body: JSONValue.object(["jsonrpc": .string("2.0"), "id": id, "result": value]).description)
        case let .error(code, message, data):
            var error: [String: JSONValue] = ["code": .integer(Int64(code)), "message": .string(message)]
            if let data { error["data"] = data }
            send(connection, status: 200, body: JSONValue.object(["jsonrpc": .string("2.0"), "id": id, "error": .object(error)]).description)
        case let .http(status, body):
            send(connection, status: status, body: body)
        case .stall(let seconds):
            Thread.sleep(forTimeInterval: seconds)
        case .hangUp:
            return
        }
    }

    private func readBody(_ connection: Int32) -> [UInt8]? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headEnd: Int? = nil
        while headEnd == nil {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            buffer += chunk[0..<count]
            if let range = buffer.firstRange(of: Array("\r\n\r\n".utf8)) { headEnd = range.upperBound }
            if buffer.count > 1 << 20 { return nil }
        }
        guard let headEnd else { return nil }
        let head = String(decoding: buffer[0..<headEnd], as: UTF8.self).lowercased()
        var length = 0
        for line in head.components(separatedBy: "\r\n") where line.hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        while buffer.count - headEnd < length {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            buffer += chunk[0..<count]
        }
        return Array(buffer[headEnd..<(headEnd + length)])
    }

    private func send(_ connection: Int32, status: Int, body: String) {
        let payload = Array(body.utf8)
        let head = "HTTP/1.1 \(status) Mock\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array(head.utf8) + payload
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }
}
