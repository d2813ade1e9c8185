import Crypto
import Foundation
import TesseraTestKit
import Synchronization
import TesseraSubtensor
#if canImport(Glibc)
import Glibc
#endif

/// A JSON-RPC server speaking WebSocket (RFC 6455) on 127.0.0.1: answers each text frame with
/// `handler`'s reply, can push subscription notifications to every client and can drop every
/// connection (to test reconnection). Pings from the server are not needed; frames are unmasked.
final class MockWebSocketServer: Sendable {
    let port: Int
    private let listener: Int32
    private let handler: @Sendable (MockJSONRPCServer.Request) -> MockJSONRPCServer.Reply
    private let state = Mutex<(connections: [Int32], accepted: Int, requests: [String], stopped: Bool)>(([], 0, [], false))

    init(_ handler: @escaping @Sendable (MockJSONRPCServer.Request) -> MockJSONRPCServer.Reply) throws {
        (listener, port) = try LoopbackListener.open(backlog: 16)
        self.handler = handler
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var url: String { "ws://127.0.0.1:\(port)/" }
    var accepted: Int { state.withLock { $0.accepted } }
    var requests: [String] { state.withLock { $0.requests } }

    func stop() {
        state.withLock { $0.stopped = true }
        dropConnections()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Closes every open connection abruptly.
    func dropConnections() {
        let connections = state.withLock { state in
            defer { state.connections = [] }
            return state.connections
        }
        for c in connections { shutdown(c, Int32(SHUT_RDWR)) }
    }

    /// Sends a notification to every client.
    func push(_ value: JSONValue) {
        let connections = state.withLock { $0.connections }
        for c in connections { _ = sendFrame(c, Array(value.description.utf8)) }
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

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        guard handshake(connection) else { return }
        state.withLock {
            $0.connections.append(connection)
            $0.accepted += 1
        }
        var buffer: [UInt8] = []
        while let (opcode, payload) = readFrame(connection, &buffer) {
            if opcode == 8 { return }
            guard opcode == 1, let request = try? JSONDecoder().decode(Body.self, from: Data(payload)) else { continue }
            state.withLock { $0.requests.append(request.method) }
            let id = request.id ?? .null
            let reply: JSONValue
            switch handler(MockJSONRPCServer.Request(method: request.method, params: request.params ?? [])) {
            case .result(let value):
                reply = .object(["jsonrpc": .string("2.0"), "id": id, "result": value])
            case let .error(code, message, data):
                var error: [String: JSONValue] = ["code": .integer(Int64(code)), "message": .string(message)]
                if let data { error["data"] = data }
                reply = .object(["jsonrpc": .string("2.0"), "id": id, "error": .object(error)])
            case .stall, .http:
                continue
            case .hangUp:
                return
            }
            if !sendFrame(connection, Array(reply.description.utf8)) { return }
        }
    }

    private struct Body: Decodable {
        var id: JSONValue?
        var method: String
        var params: [JSONValue]?
    }

    private func handshake(_ connection: Int32) -> Bool {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while buffer.firstRange(of: Array("\r\n\r\n".utf8)) == nil {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count <= 0 || buffer.count > 65536 { return false }
            buffer += chunk[0..<count]
        }
        let head = String(decoding: buffer, as: UTF8.self)
        guard let line = head.components(separatedBy: "\r\n").first(where: { $0.lowercased().hasPrefix("sec-websocket-key:") }) else { return false }
        let key = line.dropFirst("sec-websocket-key:".count).trimmingCharacters(in: .whitespaces)
        let accept = Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
        let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"
        return sendAll(connection, Array(response.utf8))
    }

    private func fill(_ connection: Int32, _ buffer: inout [UInt8], _ count: Int) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while buffer.count < count {
            let n = recv(connection, &chunk, chunk.count, 0)
            if n <= 0 { return false }
            buffer += chunk[0..<n]
        }
        return true
    }

    /// Reads one (client, masked) frame.
    private func readFrame(_ connection: Int32, _ buffer: inout [UInt8]) -> (UInt8, [UInt8])? {
        guard fill(connection, &buffer, 2) else { return nil }
        let opcode = buffer[0] & 0x0F
        var length = Int(buffer[1] & 0x7F)
        var offset = 2
        if length == 126 {
            guard fill(connection, &buffer, 4) else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            offset = 4
        } else if length == 127 {
            guard fill(connection, &buffer, 10) else { return nil }
            length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[$1]) }
            offset = 10
        }
        let masked = buffer[1] & 0x80 != 0
        guard fill(connection, &buffer, offset + (masked ? 4 : 0) + length) else { return nil }
        let mask = masked ? Array(buffer[offset..<offset + 4]) : [0, 0, 0, 0]
        if masked { offset += 4 }
        let payload = (0..<length).map { buffer[offset + $0] ^ mask[$0 % 4] }
        buffer.removeFirst(offset + length)
        return (opcode, payload)
    }

    private func sendFrame(_ connection: Int32, _ payload: [UInt8]) -> Bool {
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(UInt8(payload.count))
        } else if payload.count < 65536 {
            frame += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: payload.count >> shift)) }
        }
        return sendAll(connection, frame + payload)
    }

    private func sendAll(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }
}
