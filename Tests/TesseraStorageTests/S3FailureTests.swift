import Foundation
import Testing
import TesseraS3
import TesseraStorage

/// ``S3Storage`` against a scripted HTTP server: the failures a real service produces only
/// under load or breakage (throttling, 5xx, stalls, truncated or oversized bodies), each checked
/// for how many requests were made and what error surfaced.
@Suite("S3Storage under scripted failures")
struct S3FailureTests {
    static let credentials = S3Credentials(accessKeyID: "AKID", secretAccessKey: "secret")
    static let lastModified = ("Last-Modified", "Wed, 25 Nov 2026 00:18:22 GMT")

    func storage(_ server: ScriptedHTTPServer, attempts: Int = 5, timeout: Double = 10, logger: RecordingLogHandler? = nil) throws -> S3Storage {
        var configuration = try S3Configuration(endpoint: server.endpoint, bucket: "bucket", region: "us-east-1", credentials: Self.credentials)
        configuration.retry = RetryPolicy(maximumAttempts: attempts, initialDelay: 0.01, maximumDelay: 0.05)
        configuration.requestTimeout = timeout
        configuration.fetchesLastModifiedAfterPut = false
        if let logger { return try S3Storage(configuration: configuration, logger: logger.logger()) }
        return try S3Storage(configuration: configuration)
    }

    static func errorBody(_ code: String, _ message: String = "scripted") -> [UInt8] {
        Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>\(message)</Message><RequestId>RQ</RequestId></Error>".utf8)
    }

    @Test("503 SlowDown, 429, 500 and BadDigest are retried until the put succeeds")
    func throttlingIsRetried() async throws {
        let server = try ScriptedHTTPServer([
            .respond(status: 503, body: Self.errorBody("SlowDown", "Please reduce your request rate.")),
            .respond(status: 429, headers: [("Retry-After", "0")]),
            .respond(status: 500, body: Self.errorBody("InternalError")),
            .respond(status: 400, body: Self.errorBody("BadDigest", "The Content-MD5 you specified did not match what we received.")),
            .respond(status: 200, headers: [("ETag", "\"abc\""), ("Date", "Wed, 25 Nov 2026 00:18:22 GMT")]),
        ])
        defer { server.stop() }
        let log = RecordingLogHandler()
        let info = try await storage(server, logger: log).put(try key("k"), [1, 2, 3])
        #expect(info.etag == "abc" && info.size == 3)
        #expect(server.requests.count == 5)
        #expect(server.requests.allSatisfy { $0.method == "PUT" && $0.target == "/bucket/k" && $0.bodyLength == 3 })
        #expect(log.count("retrying") == 4)
        // Every attempt is signed afresh, with the body's hash.
        #expect(server.requests.allSatisfy { $0.headers["authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKID/") == true })
        #expect(server.requests.allSatisfy { $0.headers["x-amz-content-sha256"] == "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81" })
        #expect(server.requests.allSatisfy { $0.headers["content-md5"] == "Uonfc331cyb83SJZevsfrA==" })
    }

    @Test("authentication and authorization failures are not retried", arguments: [
        (403, "AccessDenied", StorageError.Code.accessDenied),
        (403, "SignatureDoesNotMatch", .authenticationFailed),
        (403, "InvalidAccessKeyId", .authenticationFailed),
        (400, "InvalidArgument", .serviceError),
    ] as [(Int, String, StorageError.Code)])
    func notRetried(_ status: Int, _ code: String, _ expected: StorageError.Code) async throws {
        let server = try ScriptedHTTPServer([.respond(status: status, headers: [("x-amz-request-id", "HDR")], body: Self.errorBody(code, "nope"))])
        defer { server.stop() }
        let error = await expectStorageError(expected, s3Code: S3ErrorCode(rawValue: code)) {
            try await storage(server).put(try key("k"), [1])
        }
        #expect(error?.message == "nope" && error?.statusCode == status && error?.requestID == "RQ")
        #expect(server.requests.count == 1)
    }

    @Test("a persistent 5xx fails after exactly maximumAttempts requests, with S3's code")
    func retriesRunOut() async throws {
        let server = try ScriptedHTTPServer([.respond(status: 503, body: Self.errorBody("SlowDown"))])
        defer { server.stop() }
        await expectStorageError(.unavailable, s3Code: .slowDown) { try await storage(server, attempts: 3).get(try key("k"), limit: 10) }
        #expect(server.requests.count == 3)
    }

    @Test("a stalled server times out, is retried, then fails as a timeout")
    func stallTimesOut() async throws {
        // The server stays silent for 20 s per request; only the 0.4 s deadline can end an attempt
        // with a timeout (the server closing would be a connection error instead, and the HTTP
        // client's own read timeout is 60 s).
        let server = try ScriptedHTTPServer([.stall(seconds: 20)])
        defer { server.stop() }
        // (No wall-clock bound: the suite shares two cores with heavy tests. The error code is the
        // proof: the server never answers or closes within the test.)
        await expectStorageError(.timeout) { try await storage(server, attempts: 2, timeout: 0.4).head(try key("k")) }
        #expect(server.requests.count == 2)
    }

    @Test("a server that hangs up is retried like a connection error")
    func hangUpIsRetried() async throws {
        let server = try ScriptedHTTPServer([
            .hangUp,
            .respond(status: 200, headers: [Self.lastModified, ("ETag", "\"e\"")], body: [5, 6]),
        ])
        defer { server.stop() }
        let (info, bytes) = try await storage(server).get(try key("k"), limit: 10)
        #expect(bytes == [5, 6] && info.etag == "e")
        #expect(server.requests.count == 2)
    }

    @Test("a Content-Length above the limit is refused before the body is read")
    func oversizedRefusedEarly() async throws {
        // Declares 64 GiB, then sends nothing for 30 s: a client that allocated for the body
        // would run out of memory, one that read it would time out (and retry). Refusing on the
        // header alone gives sizeLimitExceeded from a single request.
        let server = try ScriptedHTTPServer([.headersThenStall(declaredLength: 64 << 30, seconds: 30)])
        defer { server.stop() }
        await expectStorageError(.sizeLimitExceeded) { try await storage(server, timeout: 5).get(try key("k"), limit: 1 << 20) }
        #expect(server.requests.count == 1)
    }

    @Test("a body shorter than its Content-Length is retried, never returned")
    func truncatedBodyRetried() async throws {
        let server = try ScriptedHTTPServer([
            .truncated(declaredLength: 1000, sentLength: 400),
            .respond(status: 200, headers: [Self.lastModified], body: [UInt8](repeating: 9, count: 1000)),
        ])
        defer { server.stop() }
        let (_, bytes) = try await storage(server).get(try key("k"), limit: 1000)
        #expect(bytes == [UInt8](repeating: 9, count: 1000))
        #expect(server.requests.count == 2)
    }

    @Test("a body that keeps truncating fails without returning partial bytes")
    func truncatedBodyFails() async throws {
        let server = try ScriptedHTTPServer([.truncated(declaredLength: 1000, sentLength: 400)])
        defer { server.stop() }
        let error = await expectStorageError(.unavailable) { try await storage(server, attempts: 2).get(try key("k"), limit: 1000) }
        #expect(error != nil)
        #expect(server.requests.count == 2)
    }

    @Test("a chunked body is counted as it streams and refused past the limit")
    func chunkedOverLimit() async throws {
        let server = try ScriptedHTTPServer([.chunked(chunks: 64, chunkSize: 16 << 10)])
        defer { server.stop() }
        await expectStorageError(.sizeLimitExceeded) { try await storage(server).get(try key("k"), limit: 100_000) }
        let within = try ScriptedHTTPServer([.chunked(chunks: 4, chunkSize: 1000)])
        defer { within.stop() }
        #expect(try await storage(within).get(try key("k"), limit: 4000).bytes.count == 4000)
    }

    @Test("404 NoSuchKey: get throws notFound, head is nil, delete succeeds; NoSuchBucket is an error")
    func missing() async throws {
        let server = try ScriptedHTTPServer([.respond(status: 404, body: Self.errorBody("NoSuchKey"))])
        defer { server.stop() }
        let s3 = try storage(server)
        await expectStorageError(.notFound, s3Code: .noSuchKey) { try await s3.get(try key("k"), limit: 1) }
        #expect(try await s3.head(try key("k")) == nil)
        try await s3.delete(try key("k"))
        let noBucket = try ScriptedHTTPServer([.respond(status: 404, body: Self.errorBody("NoSuchBucket"))])
        defer { noBucket.stop() }
        await expectStorageError(.notFound, s3Code: .noSuchBucket) { try await storage(noBucket).delete(try key("k")) }
        #expect(server.requests.count == 3)
    }

    @Test("a CompleteMultipartUpload answered 200 with an <Error> body is retried")
    func completeWithErrorBody() async throws {
        let initiate = Array("<InitiateMultipartUploadResult><Bucket>bucket</Bucket><Key>big</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>".utf8)
        let complete = Array("<CompleteMultipartUploadResult><ETag>\"final-2\"</ETag></CompleteMultipartUploadResult>".utf8)
        let server = try ScriptedHTTPServer([
            .respond(status: 200, body: initiate),
            .respond(status: 200, headers: [("ETag", "\"p1\"")]),
            .respond(status: 200, headers: [("ETag", "\"p2\"")]),
            .respond(status: 200, body: Self.errorBody("InternalError")),
            .respond(status: 200, body: complete),
        ])
        defer { server.stop() }
        var configuration = try S3Configuration(endpoint: server.endpoint, bucket: "bucket", region: "us-east-1", credentials: Self.credentials)
        configuration.retry = RetryPolicy(maximumAttempts: 3, initialDelay: 0.01, maximumDelay: 0.02)
        configuration.multipartThreshold = 6 << 20
        configuration.partSize = 5 << 20
        configuration.multipartConcurrency = 1
        configuration.fetchesLastModifiedAfterPut = false
        let info = try await S3Storage(configuration: configuration).put(try key("big"), randomBytes(7 << 20, seed: 2))
        #expect(info.etag == "final-2")
        let requests = server.requests
        #expect(requests.map(\.method) == ["POST", "PUT", "PUT", "POST", "POST"])
        #expect(requests[0].target == "/bucket/big?uploads=")
        #expect(requests[1].target == "/bucket/big?partNumber=1&uploadId=U1" && requests[1].bodyLength == 5 << 20)
        #expect(requests[2].target == "/bucket/big?partNumber=2&uploadId=U1" && requests[2].bodyLength == 2 << 20)
        #expect(requests[4].target == "/bucket/big?uploadId=U1")
    }

    @Test("a failed multipart upload is aborted")
    func failedUploadIsAborted() async throws {
        let initiate = Array("<InitiateMultipartUploadResult><UploadId>U9</UploadId></InitiateMultipartUploadResult>".utf8)
        let server = try ScriptedHTTPServer([
            .respond(status: 200, body: initiate),
            .respond(status: 403, body: Self.errorBody("AccessDenied")),
            .respond(status: 204),
        ])
        defer { server.stop() }
        var configuration = try S3Configuration(endpoint: server.endpoint, bucket: "bucket", region: "us-east-1", credentials: Self.credentials)
        configuration.multipartThreshold = 5 << 20
        configuration.partSize = 5 << 20
        configuration.multipartConcurrency = 1
        await expectStorageError(.accessDenied) { try await S3Storage(configuration: configuration).put(try key("big"), randomBytes(5 << 20, seed: 3)) }
        let requests = server.requests
        #expect(requests.map(\.method) == ["POST", "PUT", "DELETE"])
        #expect(requests.last?.target == "/bucket/big?uploadId=U9")
    }
}
