import Foundation
import TesseraTestKit
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real HTTP/1.1 server on 127.0.0.1 that answers each connection's request with the next
/// scripted step: used to drive ``S3Storage`` through failures SeaweedFS cannot be made to
/// produce on demand (503 SlowDown, 429, a stalled response, a truncated body, a lying
/// Content-Length). Every request is recorded. One request per connection (`Connection: close`).
final class ScriptedHTTPServer: Sendable {
    enum Step: Sendable {
        /// A complete response.
        case respond(status: Int, headers: [(String, String)] = [], body: [UInt8] = [])
        /// Headers declaring `declaredLength` bytes, then `sentLength` bytes, then close.
        case truncated(declaredLength: Int, sentLength: Int)
        /// A chunked response of `chunks` chunks of `chunkSize` bytes.
        case chunked(chunks: Int, chunkSize: Int)
        /// Read the request, then say nothing for `seconds` before closing.
        case stall(seconds: Double)
        /// Headers declaring `declaredLength` bytes, then silence for `seconds` before closing:
        /// a client that tries to read the body waits or times out.
        case headersThenStall(declaredLength: Int, seconds: Double)
        /// Close the connection without answering.
        case hangUp
    }

    struct Request: Sendable {
        var method: String
        var target: String
        var headers: [String: String]
        var bodyLength: Int
    }

    let port: Int
    private let listener: Int32
    private let state: Mutex<(steps: [Step], requests: [Request], stopped: Bool)>

    /// Starts listening; `steps` are consumed in order, and the last one repeats.
    init(_ steps: [Step]) throws {
        precondition(!steps.isEmpty)
        (listener, port) = try LoopbackListener.open(backlog: 16)
        state = Mutex((steps, [], false))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { state.withLock { $0.requests } }

    func stop() {
        state.withLock { $0.stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func nextStep() -> Step {
        state.withLock { state in
            state.steps.count > 1 ? state.steps.removeFirst() : state.steps[0]
        }
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if state.withLock({ $0.stopped }) { return }
                continue
            }
            let step = nextStep()
            let thread = Thread { [self] in serve(connection, step) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32, _ step: Step) {
        defer { close(connection) }
        guard let request = readRequest(connection) else { return }
        state.withLock { $0.requests.append(request) }
        switch step {
        case let .respond(status, headers, body):
            var head = "HTTP/1.1 \(status) Scripted\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            send(connection, Array((head + "\r\n").utf8) + body)
        case let .truncated(declared, sent):
            let head = "HTTP/1.1 200 OK\r\nContent-Length: \(declared)\r\nLast-Modified: Wed, 25 Nov 2026 00:18:22 GMT\r\nETag: \"t\"\r\nConnection: close\r\n\r\n"
            send(connection, Array(head.utf8))
            var remaining = sent
            let chunk = [UInt8](repeating: 7, count: 65536)
            while remaining > 0 {
                let count = min(remaining, chunk.count)
                if !send(connection, Array(chunk[0..<count])) { break }
                remaining -= count
            }
        case let .chunked(chunks, size):
            let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nLast-Modified: Wed, 25 Nov 2026 00:18:22 GMT\r\nConnection: close\r\n\r\n"
            send(connection, Array(head.utf8))
            let body = [UInt8](repeating: 1, count: size)
            for _ in 0..<chunks {
                if !send(connection, Array((String(size, radix: 16) + "\r\n").utf8) + body + Array("\r\n".utf8)) { return }
            }
            send(connection, Array("0\r\n\r\n".utf8))
        case let .stall(seconds):
            Thread.sleep(forTimeInterval: seconds)
        case let .headersThenStall(declared, seconds):
            let head = "HTTP/1.1 200 OK\r\nContent-Length: \(declared)\r\nLast-Modified: Wed, 25 Nov 2026 00:18:22 GMT\r\nConnection: close\r\n\r\n"
            send(connection, Array(head.utf8))
            Thread.sleep(forTimeInterval: seconds)
        case .hangUp:
            return
        }
    }

    /// Reads the request head and its body (by Content-Length).
    private func readRequest(_ connection: Int32) -> Request? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headEnd: Int? = nil
        while headEnd == nil {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            buffer += chunk[0..<count]
            if let range = buffer.firstRange(of: Array("\r\n\r\n".utf8)) { headEnd = range.upperBound }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where line.contains(":") {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var bodyRead = buffer.count - headEnd!
        while bodyRead < length {
            let count = recv(connection, &chunk, min(chunk.count, length - bodyRead), 0)
            if count <= 0 { break }
            bodyRead += count
        }
        return Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, bodyLength: bodyRead)
    }

    @discardableResult
    private func send(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }
}
