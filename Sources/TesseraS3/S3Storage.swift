public import AsyncHTTPClient
import Crypto
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
public import TesseraStorage

/// A ``StorageBackend`` over an S3-compatible service: AWS S3, Cloudflare R2, MinIO, SeaweedFS.
///
/// - **Signing**: AWS Signature Version 4 with swift-crypto; bodies hashed into the signature
///   by default (``S3Configuration/signsPayload``), with `Content-MD5` so the server refuses a
///   corrupted upload (``S3Configuration/sendsContentMD5``).
/// - **Addressing**: path-style or virtual-hosted, any endpoint (``S3Configuration``).
/// - **Large objects**: at ``S3Configuration/multipartThreshold`` and above, a multipart upload
///   with ``S3Configuration/multipartConcurrency`` parts in flight; a failed upload is aborted,
///   so the key never shows a partial object. Bodies stream from the caller's array in 1 MiB
///   buffers: a put holds no second copy of the object.
/// - **Bounded downloads**: ``get(_:limit:)`` checks `Content-Length` against the limit before
///   allocating, counts streamed bytes, and rejects a body longer or shorter than declared.
/// - **Failures**: connection errors, timeouts, 5xx and throttling are retried per
///   ``S3Configuration/retry``; authentication and other 4xx answers are not. Every error is a
///   ``StorageError`` carrying S3's code (``StorageError/s3Code``), message and request id.
///
/// Keep read and write keys apart: give a node's own ``S3Storage`` its write key, and read peers
/// with a second instance configured with the key they published
/// (``S3Configuration/with(credentials:)``), which the service should grant read access only.
public struct S3Storage: StorageBackend {
    /// Where the bucket is and how to talk to it.
    public let configuration: S3Configuration
    private let client: HTTPClient
    private let logger: Logger

    /// A process-wide HTTP client configured for S3 (no redirects, no decompression, 10 s connect
    /// timeout, 60 s read timeout, up to 16 connections per host, connection failures left to
    /// ``RetryPolicy``). Never shut down, like `HTTPClient.shared`.
    public static let sharedHTTPClient: HTTPClient = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: recommendedHTTPClientConfiguration)

    /// The configuration of ``sharedHTTPClient``, to start from when building your own client.
    public static var recommendedHTTPClientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(60), write: .seconds(60)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// Creates a backend.
    /// - Parameters:
    ///   - configuration: The bucket, endpoint, keys and tunables.
    ///   - httpClient: The client to send requests with; the caller owns its lifetime (the default
    ///     never needs shutting down).
    ///   - logger: Receives retries (`notice`), requests and uploaded parts (`debug`). Silent by
    ///     default.
    /// - Throws: ``StorageError`` `.invalidConfiguration` for out-of-range tunables.
    public init(
        configuration: S3Configuration,
        httpClient: HTTPClient = S3Storage.sharedHTTPClient,
        logger: Logger = Logger(label: "tessera.s3", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.client = httpClient
        self.logger = logger
    }

    // MARK: - StorageBackend

    public func put(_ key: ObjectKey, _ bytes: [UInt8]) async throws -> ObjectInfo {
        let payload = Payload(bytes: bytes, range: 0..<bytes.count)
        let written: (etag: String, serverDate: Date?)
        if bytes.count >= configuration.multipartThreshold {
            written = try await multipartUpload(key, payload)
        } else {
            written = try await singleUpload(key, payload)
        }
        // The object is written; a failed HEAD (a write-only key, a brief outage) must not turn
        // that into an error, so fall back to the response's Date.
        if configuration.fetchesLastModifiedAfterPut, let info = try? await head(key), info.size == bytes.count {
            return info
        }
        return ObjectInfo(key: key, size: bytes.count, etag: written.etag, lastModified: written.serverDate ?? Date())
    }

    public func get(_ key: ObjectKey, limit: Int) async throws -> (info: ObjectInfo, bytes: [UInt8]) {
        try validateLimit(limit, key: key)
        let operation = Operation(method: .GET, key: key)
        let result = try await withRetries("GET", key: key) { _ in
            let response = try await execute(operation, payloadHash: SignatureV4.emptyPayloadHash, transferBytes: limit)
            try await requireSuccess(response, key: key)
            return try await readObject(response, key: key, limit: limit)
        }
        return (result.info, result.bytes)
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        let operation = Operation(method: .HEAD, key: key)
        return try await withRetries("HEAD", key: key) { _ in
            let response = try await execute(operation, payloadHash: SignatureV4.emptyPayloadHash, transferBytes: 0)
            if response.status == .notFound {
                try await drain(response)
                return nil
            }
            try await requireSuccess(response, key: key)
            try await drain(response)
            guard let length = response.headers.first(name: "content-length").flatMap(Int.init), length >= 0 else {
                throw AttemptFailure(StorageError(.invalidResponse, key: key.rawValue, "HEAD without a valid Content-Length"), retryable: false)
            }
            return try objectInfo(key: key, size: length, headers: response.headers)
        }
    }

    public func listPage(prefix: String, after continuation: ListContinuation?, pageSize: Int) async throws -> ObjectListing {
        try validateListArguments(prefix: prefix, pageSize: pageSize)
        var query: [(name: String, value: String)] = [
            ("list-type", "2"), ("max-keys", String(pageSize)), ("encoding-type", "url"),
        ]
        if !prefix.isEmpty { query.append(("prefix", prefix)) }
        if let continuation { query.append(("continuation-token", continuation.token)) }
        let operation = Operation(method: .GET, key: nil, query: query)
        let page = try await withRetries("ListObjectsV2", key: nil, prefix: prefix) { _ in
            let response = try await execute(operation, payloadHash: SignatureV4.emptyPayloadHash, transferBytes: 0)
            try await requireSuccess(response, key: nil, prefix: prefix)
            let body = try await collect(response, context: "ListObjectsV2")
            do {
                return try S3XML.parseListObjectsV2(body, urlEncoded: true)
            } catch let error as StorageError {
                throw AttemptFailure(error, retryable: false)
            }
        }
        guard page.objects.count <= pageSize else {
            throw StorageError(.invalidResponse, key: prefix, "the server returned \(page.objects.count) objects for a page of \(pageSize)")
        }
        var objects: [ObjectInfo] = []
        objects.reserveCapacity(page.objects.count)
        var previous: String? = nil
        for listed in page.objects {
            guard listed.key.utf8.starts(with: prefix.utf8) else {
                throw StorageError(.invalidResponse, key: prefix, "the server listed '\(ObjectKey.printable(listed.key))' outside the prefix")
            }
            if let previous, !previous.utf8.lexicographicallyPrecedes(listed.key.utf8) {
                throw StorageError(.invalidResponse, key: prefix, "the server listed keys out of order")
            }
            previous = listed.key
            // Objects that other tools stored under names outside the key grammar are skipped:
            // no ObjectKey can address them.
            guard let key = try? ObjectKey(listed.key) else {
                logger.debug("skipping an object whose name is not a valid key", metadata: ["name": "\(ObjectKey.printable(listed.key))"])
                continue
            }
            objects.append(ObjectInfo(key: key, size: listed.size, etag: listed.etag, lastModified: listed.lastModified))
        }
        return ObjectListing(objects: objects, continuation: page.nextContinuationToken.map(ListContinuation.init))
    }

    public func delete(_ key: ObjectKey) async throws {
        let operation = Operation(method: .DELETE, key: key)
        try await withRetries("DELETE", key: key) { _ in
            let response = try await execute(operation, payloadHash: SignatureV4.emptyPayloadHash, transferBytes: 0)
            if response.status == .notFound {
                // Deleting a missing object succeeds (S3 itself answers 204); a missing bucket does not.
                let body = try await collect(response, context: "DELETE", allowTruncation: true)
                let parsed = S3XML.parseError(body)
                if parsed?.code == nil || parsed?.code == "NoSuchKey" { return }
                throw failure(status: 404, body: body, headers: response.headers, key: key, prefix: nil)
            }
            try await requireSuccess(response, key: key)
            try await drain(response)
        }
    }

    // MARK: - Uploads

    /// One PUT.
    private func singleUpload(_ key: ObjectKey, _ payload: Payload) async throws -> (etag: String, serverDate: Date?) {
        let hash = payloadHash(payload)
        let operation = Operation(
            method: .PUT, key: key, headers: [("Content-Type", "application/octet-stream")] + contentMD5(payload), payload: payload)
        return try await withRetries("PUT", key: key) { _ in
            let response = try await execute(operation, payloadHash: hash, transferBytes: payload.count)
            try await requireSuccess(response, key: key)
            try await drain(response)
            let etag = response.headers.first(name: "etag").map(S3XML.unquote) ?? ""
            return (etag, response.headers.first(name: "date").flatMap(AmazonDate.parseHTTPDate))
        }
    }

    /// The part size for an object of `count` bytes: the configured size, grown so that no more
    /// than 10,000 parts are needed.
    func effectivePartSize(for count: Int) -> Int {
        let minimum = (count + 9_999) / 10_000
        return max(configuration.partSize, minimum)
    }

    /// CreateMultipartUpload, UploadPart × n (concurrently), CompleteMultipartUpload; on any
    /// failure, AbortMultipartUpload.
    private func multipartUpload(_ key: ObjectKey, _ payload: Payload) async throws -> (etag: String, serverDate: Date?) {
        let partSize = effectivePartSize(for: payload.count)
        let parts: [Range<Int>] = stride(from: 0, to: payload.count, by: partSize).map { start in
            start..<min(start + partSize, payload.count)
        }
        let uploadID = try await withRetries("CreateMultipartUpload", key: key) { _ in
            let operation = Operation(method: .POST, key: key, query: [("uploads", "")], headers: [("Content-Type", "application/octet-stream")])
            let response = try await execute(operation, payloadHash: SignatureV4.emptyPayloadHash, transferBytes: 0)
            try await requireSuccess(response, key: key)
            let body = try await collect(response, context: "CreateMultipartUpload")
            do { return try S3XML.parseInitiateMultipartUpload(body) } catch let error as StorageError {
                throw AttemptFailure(error, retryable: false)
            }
        }
        logger.debug("started multipart upload", metadata: ["key": "\(key)", "parts": "\(parts.count)", "uploadId": "\(uploadID)"])
        do {
            let etags = try await uploadParts(key, payload, parts: parts, uploadID: uploadID)
            return try await completeUpload(key, uploadID: uploadID, etags: etags, size: payload.count)
        } catch {
            if Task.isCancelled {
                // A cancelled task cannot send requests; clean up from outside it.
                Task.detached { [self] in await abortUpload(key, uploadID: uploadID) }
            } else {
                await abortUpload(key, uploadID: uploadID)
            }
            throw error
        }
    }

    private func uploadParts(_ key: ObjectKey, _ payload: Payload, parts: [Range<Int>], uploadID: String) async throws -> [String] {
        var etags = [String](repeating: "", count: parts.count)
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var next = 0
            func addPart() {
                let index = next
                next += 1
                group.addTask {
                    let part = Payload(bytes: payload.bytes, range: parts[index])
                    let hash = payloadHash(part)
                    let operation = Operation(
                        method: .PUT, key: key,
                        query: [("partNumber", String(index + 1)), ("uploadId", uploadID)], headers: contentMD5(part), payload: part)
                    let etag = try await withRetries("UploadPart", key: key) { _ in
                        let response = try await execute(operation, payloadHash: hash, transferBytes: part.count)
                        try await requireSuccess(response, key: key)
                        try await drain(response)
                        guard let etag = response.headers.first(name: "etag").map(S3XML.unquote), !etag.isEmpty else {
                            throw AttemptFailure(StorageError(.invalidResponse, key: key.rawValue, "UploadPart \(index + 1) answered without an ETag"), retryable: false)
                        }
                        return etag
                    }
                    return (index, etag)
                }
            }
            for _ in 0..<min(configuration.multipartConcurrency, parts.count) { addPart() }
            while let (index, etag) = try await group.next() {
                etags[index] = etag
                logger.debug("uploaded part", metadata: [
                    "key": "\(key)", "part": "\(index + 1)", "parts": "\(parts.count)", "bytes": "\(parts[index].count)",
                ])
                if next < parts.count { addPart() }
            }
        }
        return etags
    }

    private func completeUpload(_ key: ObjectKey, uploadID: String, etags: [String], size: Int) async throws -> (etag: String, serverDate: Date?) {
        let body = S3XML.completeMultipartUploadBody(etags: etags)
        let payload = Payload(bytes: body, range: 0..<body.count)
        let hash = payloadHash(payload)
        let operation = Operation(
            method: .POST, key: key, query: [("uploadId", uploadID)], headers: [("Content-Type", "application/xml")], payload: payload)
        return try await withRetries("CompleteMultipartUpload", key: key) { attempt in
            let response = try await execute(operation, payloadHash: hash, transferBytes: payload.count)
            if response.status == .notFound, attempt > 1 {
                // An earlier attempt may have completed the upload and lost only its answer:
                // the upload id is gone because the object exists.
                try await drain(response)
                if let info = try? await head(key), info.size == size {
                    return (info.etag, info.lastModified)
                }
                throw AttemptFailure(StorageError(.notFound, key: key.rawValue, "the multipart upload vanished before it completed", serviceCode: "NoSuchUpload", statusCode: 404), retryable: false)
            }
            try await requireSuccess(response, key: key)
            // A 200 may still carry an <Error> (S3 reports late failures in the body).
            let reply = try await collect(response, context: "CompleteMultipartUpload")
            if let error = S3XML.parseError(reply) {
                let classification = S3ErrorClassifier.classify(status: 200, code: error.code)
                throw AttemptFailure(
                    StorageError(classification.code, key: key.rawValue, error.message ?? "CompleteMultipartUpload failed",
                                 serviceCode: error.code, statusCode: 200, requestID: error.requestID),
                    retryable: classification.retryable)
            }
            let etag = (try? S3XML.parse(reply, context: "CompleteMultipartUpload"))?.text(of: "ETag").map(S3XML.unquote) ?? ""
            return (etag, response.headers.first(name: "date").flatMap(AmazonDate.parseHTTPDate))
        }
    }

    /// Best effort: the upload is invisible either way; aborting frees the stored parts.
    private func abortUpload(_ key: ObjectKey, uploadID: String) async {
        let operation = Operation(method: .DELETE, key: key, query: [("uploadId", uploadID)])
        do {
            try await withRetries("AbortMultipartUpload", key: key, policy: RetryPolicy(maximumAttempts: 3, initialDelay: 0.2, maximumDelay: 1)) { _ in
                let response = try await execute(operation, payloadHash: SignatureV4.emptyPayloadHash, transferBytes: 0)
                if response.status == .notFound { try await drain(response); return }
                try await requireSuccess(response, key: key)
                try await drain(response)
            }
            logger.debug("aborted multipart upload", metadata: ["key": "\(key)", "uploadId": "\(uploadID)"])
        } catch {
            logger.notice("could not abort a multipart upload; a lifecycle rule will have to remove its parts",
                          metadata: ["key": "\(key)", "uploadId": "\(uploadID)", "error": "\(error)"])
        }
    }

    // MARK: - Requests

    /// What to send (everything but the signature and the date).
    struct Operation: Sendable {
        var method: HTTPMethod
        var key: ObjectKey?
        var query: [(name: String, value: String)] = []
        var headers: [(name: String, value: String)] = []
        var payload: Payload = .empty
    }

    /// The hex SHA-256 of a body, or `UNSIGNED-PAYLOAD`.
    private func payloadHash(_ payload: Payload) -> String {
        guard configuration.signsPayload else { return SignatureV4.unsignedPayload }
        if payload.count == 0 { return SignatureV4.emptyPayloadHash }
        return payload.bytes.withUnsafeBytes { buffer in
            SignatureV4.hexSHA256(UnsafeRawBufferPointer(rebasing: buffer[payload.range]))
        }
    }

    /// `Content-MD5` for a body, if configured.
    private func contentMD5(_ payload: Payload) -> [(name: String, value: String)] {
        guard configuration.sendsContentMD5 else { return [] }
        let digest = payload.bytes.withUnsafeBytes { buffer in
            Insecure.MD5.hash(data: UnsafeRawBufferPointer(rebasing: buffer[payload.range]))
        }
        return [("Content-MD5", Data(digest).base64EncodedString())]
    }

    /// The request's URL, `Host` header and unencoded path.
    func address(for key: ObjectKey?) -> (url: String, host: String, path: String) {
        let endpoint = configuration.endpoint
        let scheme = endpoint.scheme!.lowercased()
        var host = endpoint.host!
        if host.contains(":") { host = "[" + host + "]" }  // IPv6 literal
        if let port = endpoint.port, port != (scheme == "https" ? 443 : 80) { host += ":\(port)" }
        let path: String
        switch configuration.addressing {
        case .path:
            path = "/" + configuration.bucket + (key.map { "/" + $0.rawValue } ?? "")
        case .virtualHosted:
            host = configuration.bucket + "." + host
            path = "/" + (key?.rawValue ?? "")
        }
        return (scheme + "://" + host + SignatureV4.encodePath(path), host, path)
    }

    /// Signs and sends one attempt; transport errors become ``AttemptFailure``s.
    private func execute(_ operation: Operation, payloadHash: String, transferBytes: Int) async throws -> HTTPClientResponse {
        let (url, host, path) = address(for: operation.key)
        var headers = operation.headers
        headers.append(("Host", host))
        headers.append(("x-amz-content-sha256", payloadHash))
        let signer = SignatureV4(credentials: configuration.credentials, region: configuration.region)
        let signed = signer.sign(
            method: operation.method.rawValue, path: path, query: operation.query, headers: headers,
            payloadHash: payloadHash, date: Date())
        let query = SignatureV4.canonicalQuery(operation.query)
        var request = HTTPClientRequest(url: query.isEmpty ? url : url + "?" + query)
        request.method = operation.method
        for (name, value) in signed.headers { request.headers.add(name: name, value: value) }
        if operation.payload.count > 0 {
            request.body = .stream(PayloadChunks(payload: operation.payload), length: .known(Int64(operation.payload.count)))
        } else if operation.method == .PUT || operation.method == .POST {
            request.body = .bytes(ByteBuffer())
        }
        let seconds = configuration.requestTimeout + Double(max(0, transferBytes)) / configuration.minimumThroughput
        let deadline = NIODeadline.now() + .nanoseconds(Int64(min(seconds, 86_400 * 7) * 1e9))
        logger.debug("request", metadata: ["method": "\(operation.method.rawValue)", "url": "\(url)"])
        do {
            return try await client.execute(request, deadline: deadline, logger: logger)
        } catch {
            throw transportFailure(error, key: operation.key)
        }
    }

    /// Maps an HTTP client error to a retryable or final failure (cancellation passes through).
    private func transportFailure(_ error: any Error, key: ObjectKey?) -> any Error {
        if error is CancellationError || error is AttemptFailure || error is StorageError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .cancelled:
                return CancellationError()
            case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout:
                return AttemptFailure(StorageError(.timeout, key: key?.rawValue, "the request timed out (\(error))"), retryable: true)
            case .invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown, .bodyLengthMismatch,
                 .invalidRedirectConfiguration, .invalidHTTPVersionConfiguration, .traceRequestWithBody:
                return AttemptFailure(StorageError(.invalidConfiguration, key: key?.rawValue, "the request could not be sent: \(error)"), retryable: false)
            default:
                break
            }
        }
        return AttemptFailure(StorageError(.unavailable, key: key?.rawValue, "the connection failed: \(error)"), retryable: true)
    }

    /// Throws the S3 error of a non-2xx response.
    private func requireSuccess(_ response: HTTPClientResponse, key: ObjectKey?, prefix: String? = nil) async throws {
        let status = Int(response.status.code)
        guard !(200..<300).contains(status) else { return }
        let body = (try? await collect(response, context: "error response", allowTruncation: true)) ?? []
        throw failure(status: status, body: body, headers: response.headers, key: key, prefix: prefix)
    }

    private func failure(status: Int, body: [UInt8], headers: HTTPHeaders, key: ObjectKey?, prefix: String?) -> AttemptFailure {
        let parsed = S3XML.parseError(body)
        let code = parsed?.code ?? headers.first(name: "x-amz-error-code")
        let classification = S3ErrorClassifier.classify(status: status, code: code)
        let message = parsed?.message ?? headers.first(name: "x-amz-error-message")
            ?? "HTTP \(status) \(HTTPResponseStatus(statusCode: status).reasonPhrase)"
        let retryAfter = headers.first(name: "retry-after").flatMap(Double.init)
        return AttemptFailure(
            StorageError(classification.code, key: key?.rawValue ?? (prefix?.isEmpty == false ? prefix : nil), message, serviceCode: code, statusCode: status,
                         requestID: parsed?.requestID ?? headers.first(name: "x-amz-request-id")),
            retryable: classification.retryable, retryAfter: retryAfter)
    }

    /// Reads a small response body, bounded by ``S3Configuration/maximumResponseSize``.
    private func collect(_ response: HTTPClientResponse, context: String, allowTruncation: Bool = false) async throws -> [UInt8] {
        let limit = configuration.maximumResponseSize
        if let declared = response.headers.first(name: "content-length").flatMap(Int.init), declared > limit, !allowTruncation {
            throw AttemptFailure(StorageError(.invalidResponse, "\(context): a \(declared)-byte response exceeds the \(limit)-byte limit"), retryable: false)
        }
        var bytes: [UInt8] = []
        do {
            for try await buffer in response.body {
                if bytes.count + buffer.readableBytes > limit {
                    if allowTruncation { return bytes }
                    throw AttemptFailure(StorageError(.invalidResponse, "\(context): the response exceeds the \(limit)-byte limit"), retryable: false)
                }
                buffer.withUnsafeReadableBytes { bytes.append(contentsOf: $0) }
            }
        } catch {
            throw transportFailure(error, key: nil)
        }
        return bytes
    }

    /// Consumes a response body we do not need, so the connection can be reused.
    private func drain(_ response: HTTPClientResponse) async throws {
        _ = try await collect(response, context: "response", allowTruncation: true)
    }

    /// Streams an object's body into one exactly sized array.
    private func readObject(_ response: HTTPClientResponse, key: ObjectKey, limit: Int) async throws -> (info: ObjectInfo, bytes: [UInt8]) {
        let declared = response.headers.first(name: "content-length").flatMap(Int.init)
        if let declared {
            guard declared >= 0 else {
                throw AttemptFailure(StorageError(.invalidResponse, key: key.rawValue, "a negative Content-Length"), retryable: false)
            }
            // Refuse before reading or allocating anything. Dropping the response closes the connection.
            guard declared <= limit else {
                throw AttemptFailure(StorageError(.sizeLimitExceeded, key: key.rawValue, "the object has \(declared) bytes, the limit is \(limit)"), retryable: false)
            }
        }
        var bytes: [UInt8]
        var received = 0
        do {
            if let declared {
                bytes = [UInt8](repeating: 0, count: declared)
                for try await buffer in response.body {
                    let count = buffer.readableBytes
                    guard received + count <= declared else {
                        throw AttemptFailure(StorageError(.invalidResponse, key: key.rawValue, "the body is longer than its Content-Length \(declared)"), retryable: true)
                    }
                    bytes.withUnsafeMutableBytes { destination in
                        buffer.withUnsafeReadableBytes { source in
                            destination.baseAddress!.advanced(by: received).copyMemory(from: source.baseAddress!, byteCount: count)
                        }
                    }
                    received += count
                }
                guard received == declared else {
                    throw AttemptFailure(StorageError(.invalidResponse, key: key.rawValue, "the body ended after \(received) of \(declared) bytes"), retryable: true)
                }
            } else {
                // No length announced (chunked): count as it streams.
                bytes = []
                for try await buffer in response.body {
                    guard bytes.count + buffer.readableBytes <= limit else {
                        throw AttemptFailure(StorageError(.sizeLimitExceeded, key: key.rawValue, "the object exceeds the limit of \(limit) bytes"), retryable: false)
                    }
                    buffer.withUnsafeReadableBytes { bytes.append(contentsOf: $0) }
                }
            }
        } catch {
            throw transportFailure(error, key: key)
        }
        return (try objectInfo(key: key, size: bytes.count, headers: response.headers), bytes)
    }

    /// An ``ObjectInfo`` from a GET or HEAD response's headers.
    private func objectInfo(key: ObjectKey, size: Int, headers: HTTPHeaders) throws -> ObjectInfo {
        guard let text = headers.first(name: "last-modified"), let lastModified = AmazonDate.parseHTTPDate(text) else {
            throw AttemptFailure(StorageError(.invalidResponse, key: key.rawValue, "the response has no valid Last-Modified header"), retryable: false)
        }
        let etag = headers.first(name: "etag").map(S3XML.unquote) ?? ""
        return ObjectInfo(key: key, size: size, etag: etag, lastModified: lastModified)
    }

    // MARK: - Retries

    /// Runs `attempt` until it succeeds, fails for good, or the policy runs out.
    private func withRetries<T: Sendable>(
        _ action: String, key: ObjectKey?, prefix: String? = nil, policy: RetryPolicy? = nil,
        _ attempt: (Int) async throws -> T
    ) async throws -> T {
        let policy = policy ?? configuration.retry
        var generator = SystemRandomNumberGenerator()
        var number = 1
        while true {
            do {
                return try await attempt(number)
            } catch let failure as AttemptFailure {
                guard failure.retryable, number < policy.maximumAttempts else { throw failure.error }
                let wait = policy.delay(beforeRetry: number, retryAfter: failure.retryAfter, using: &generator)
                logger.notice("retrying", metadata: [
                    "action": "\(action)", "key": "\(key?.rawValue ?? prefix ?? "")", "attempt": "\(number + 1)",
                    "of": "\(policy.maximumAttempts)", "wait": "\(String(format: "%.2f", wait))s", "error": "\(failure.error)",
                ])
                try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                number += 1
            }
        }
    }
}

/// A failed attempt: the error to report and whether another attempt may succeed.
struct AttemptFailure: Error {
    var error: StorageError
    var retryable: Bool
    var retryAfter: Double?

    init(_ error: StorageError, retryable: Bool, retryAfter: Double? = nil) {
        self.error = error
        self.retryable = retryable
        self.retryAfter = retryAfter
    }
}

/// A region of a caller's array, sent without copying it whole.
struct Payload: Sendable {
    let bytes: [UInt8]
    let range: Range<Int>
    var count: Int { range.count }
    static let empty = Payload(bytes: [], range: 0..<0)
}

/// A payload as 1 MiB `ByteBuffer`s, made one at a time as the connection asks for them.
struct PayloadChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let payload: Payload
    var chunkSize = 1 << 20

    struct AsyncIterator: AsyncIteratorProtocol {
        let payload: Payload
        let chunkSize: Int
        var offset: Int
        let allocator = ByteBufferAllocator()

        mutating func next() async -> ByteBuffer? {
            guard offset < payload.range.upperBound else { return nil }
            let end = Swift.min(offset + chunkSize, payload.range.upperBound)
            let buffer = payload.bytes.withUnsafeBytes { bytes in
                allocator.buffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
            }
            offset = end
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(payload: payload, chunkSize: chunkSize, offset: payload.range.lowerBound)
    }
}
