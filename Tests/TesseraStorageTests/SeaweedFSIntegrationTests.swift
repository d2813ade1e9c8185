import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import TesseraS3
import TesseraStorage

/// ``S3Storage`` against a real SeaweedFS S3 gateway on loopback, which enforces SigV4, keeps a
/// read-only identity read-only, and can be killed and restarted under a running upload.
///
/// The server comes from scripts/test.sh (via scripts/seaweedfs.sh), which exports
/// `TESSERA_S3_*`. Under a plain `swift test` there is no server and this suite is disabled with
/// that reason. Tests run one at a time because some of them restart the server.
@Suite(
    "S3Storage against SeaweedFS",
    .enabled(if: SeaweedFS.isAvailable, "needs the SeaweedFS S3 gateway that scripts/test.sh starts and describes in TESSERA_S3_* variables"),
    .serialized
)
struct SeaweedFSIntegrationTests {
    func writer(_ adjust: (inout S3Configuration) -> Void = { _ in }, logger: RecordingLogHandler? = nil) throws -> S3Storage {
        let configuration = try SeaweedFS.configuration(adjust: adjust)
        if let logger { return try S3Storage(configuration: configuration, logger: logger.logger()) }
        return try S3Storage(configuration: configuration)
    }

    func reader() throws -> S3Storage {
        try S3Storage(configuration: SeaweedFS.configuration(SeaweedFS.reader))
    }

    @Test("keeps the backend contract")
    func contract() async throws {
        try await checkBackendContract(writer(), prefix: SeaweedFS.uniquePrefix("contract"))
    }

    @Test("put, head and get agree, and LastModified is the server's, near now")
    func putGetHead() async throws {
        let storage = try writer()
        let prefix = SeaweedFS.uniquePrefix("roundtrip")
        for (index, size) in [0, 1, 4096, 1 << 20, 3 * (1 << 20) + 17].enumerated() {
            let target = try key(prefix + "object-\(index)")
            let bytes = randomBytes(size, seed: UInt64(index))
            let written = try await storage.put(target, bytes)
            let headed = try #require(try await storage.head(target))
            let (info, read) = try await storage.get(target, limit: size)
            #expect(read == bytes)
            #expect(written == headed && info == headed)
            #expect(headed.size == size && !headed.etag.isEmpty)
            #expect(abs(headed.lastModified.timeIntervalSinceNow) < 300)
        }
        // A single PUT's ETag is the MD5 of the contents, as in S3.
        let md5 = try key(prefix + "md5")
        #expect(try await storage.put(md5, Array("hello\n".utf8)).etag == "b1946ac92492d2347c6235b4d2611184")
    }

    @Test("a body altered in flight is refused (Content-MD5), and UNSIGNED-PAYLOAD bodies are accepted")
    func payloadSigning() async throws {
        let prefix = SeaweedFS.uniquePrefix("unsigned")
        let unsigned = try writer { $0.signsPayload = false }
        let target = try key(prefix + "object")
        let bytes = randomBytes(300_000, seed: 5)
        _ = try await unsigned.put(target, bytes)
        #expect(try await writer().get(target, limit: bytes.count).bytes == bytes)

        // What S3Storage sends, with the body altered after signing: the server must refuse it.
        // (SeaweedFS does not compare the body with x-amz-content-sha256, but it does check
        // Content-MD5, which S3Storage sends by default.)
        let tampered = try key(prefix + "tampered")
        let url = URL(string: SeaweedFS.endpoint)!
        let host = "\(url.host!):\(url.port!)"
        let path = "/\(SeaweedFS.bucket)/\(tampered.rawValue)"
        let claimed = SignatureV4.hexSHA256(bytes)
        let signed = SignatureV4(credentials: SeaweedFS.writer, region: SeaweedFS.region).sign(
            method: "PUT", path: path, query: [],
            headers: [("Host", host), ("x-amz-content-sha256", claimed), ("Content-MD5", Data(Insecure.MD5.hash(data: bytes)).base64EncodedString())],
            payloadHash: claimed, date: Date())
        var request = HTTPClientRequest(url: SeaweedFS.endpoint + path)
        request.method = .PUT
        for (name, value) in signed.headers { request.headers.add(name: name, value: value) }
        var altered = bytes
        altered[1000] ^= 0xFF
        request.body = .bytes(altered)
        let response = try await S3Storage.sharedHTTPClient.execute(request, timeout: .seconds(30))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        #expect(response.status.code == 400, "\(response.status) \(body)")
        #expect(body.contains("<Code>BadDigest</Code>"), "\(body)")
        #expect(try await writer().head(tampered) == nil)
    }

    @Test("listing pages past 1,000 keys, with the same result at every page size")
    func listPagination() async throws {
        let storage = try writer { $0.fetchesLastModifiedAfterPut = false }
        let prefix = SeaweedFS.uniquePrefix("pages")
        let keys = try (0..<1_234).map { try key(prefix + String(format: "k%05d", $0)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, target) in keys.enumerated() {
                if index >= 32 { try await group.next() }
                group.addTask { _ = try await storage.put(target, [UInt8(truncatingIfNeeded: index)]) }
            }
            try await group.waitForAll()
        }
        let first = try await storage.listPage(prefix: prefix, after: nil, pageSize: 1000)
        #expect(first.objects.count == 1000 && first.continuation != nil)
        let second = try await storage.listPage(prefix: prefix, after: first.continuation, pageSize: 1000)
        #expect(second.objects.count == 234 && second.continuation == nil)
        #expect((first.objects + second.objects).map(\.key) == keys)
        #expect(try await storage.list(prefix: prefix).map(\.key) == keys)
        #expect(try await storage.list(prefix: prefix, pageSize: 97).map(\.key) == keys)
        #expect(try await storage.list(prefix: prefix + "k0123").map(\.key) == Array(keys[1230...1233]))
        #expect(try await storage.list(prefix: prefix + "k0012").map(\.key) == Array(keys[120...129]))
        await expectStorageError(.sizeLimitExceeded) { try await storage.list(prefix: prefix, limit: 1_000) }
    }

    @Test("a put at or above the (lowered) threshold goes up in parts and reads back whole")
    func multipart() async throws {
        let log = RecordingLogHandler()
        let storage = try writer({
            $0.multipartThreshold = 6 << 20
            $0.partSize = 5 << 20
            $0.multipartConcurrency = 2
        }, logger: log)
        let prefix = SeaweedFS.uniquePrefix("multipart")
        let big = try key(prefix + "big")
        let bytes = randomBytes(13 * (1 << 20) + 7, seed: 42)
        let info = try await storage.put(big, bytes)
        #expect(log.count("uploaded part") == 3)
        #expect(info.size == bytes.count)
        #expect(try await storage.get(big, limit: bytes.count).bytes == bytes)
        #expect(try await storage.list(prefix: prefix).map(\.size) == [bytes.count])
        // Just below the threshold: one PUT.
        let small = try key(prefix + "small")
        _ = try await storage.put(small, randomBytes((6 << 20) - 1, seed: 43))
        #expect(log.count("uploaded part") == 3)
        #expect(log.count("started multipart upload") == 1)
    }

    @Test("LastModified follows the order of writes, and listings agree with HEAD")
    func lastModifiedOrdering() async throws {
        let storage = try writer()
        let prefix = SeaweedFS.uniquePrefix("order")
        let first = try key(prefix + "b-first"), second = try key(prefix + "a-second")
        let one = try await storage.put(first, [1])
        try await Task.sleep(for: .milliseconds(1_100))  // HEAD reports whole seconds
        let two = try await storage.put(second, [2])
        #expect(one.lastModified < two.lastModified)
        let listed = try await storage.list(prefix: prefix)
        #expect(listed.map(\.key) == [second, first])  // key order, not time order
        for object in listed {
            let headed = try #require(try await storage.head(object.key))
            #expect(abs(object.lastModified.timeIntervalSince(headed.lastModified)) < 1)
            #expect(object.etag == headed.etag && object.size == headed.size)
        }
        // Rewriting moves LastModified forward.
        try await Task.sleep(for: .milliseconds(1_100))
        let rewritten = try await storage.put(first, [3])
        #expect(rewritten.lastModified > two.lastModified)
    }

    @Test("the read-only key reads and lists, and is refused on put and delete")
    func readOnlyKey() async throws {
        let storage = try writer()
        let readOnly = try reader()
        let target = try key(SeaweedFS.uniquePrefix("readonly") + "object")
        _ = try await storage.put(target, [1, 2, 3])
        #expect(try await readOnly.get(target, limit: 3).bytes == [1, 2, 3])
        #expect(try await readOnly.head(target)?.size == 3)
        #expect(try await readOnly.list(prefix: target.rawValue).count == 1)
        await expectStorageError(.accessDenied, s3Code: .accessDenied) { try await readOnly.put(target, [9]) }
        await expectStorageError(.accessDenied, s3Code: .accessDenied) {
            try await readOnly.put(try key(target.rawValue + "-new"), [9])
        }
        await expectStorageError(.accessDenied, s3Code: .accessDenied) { try await readOnly.delete(target) }
        // Nothing changed.
        #expect(try await storage.get(target, limit: 3).bytes == [1, 2, 3])
        #expect(try await storage.head(try key(target.rawValue + "-new")) == nil)
    }

    @Test("a wrong secret and an unknown key are refused at once, with S3's code")
    func wrongCredentials() async throws {
        let target = try key(SeaweedFS.uniquePrefix("auth") + "object")
        _ = try await writer().put(target, [1])
        let log = RecordingLogHandler()
        var wrongSecret = SeaweedFS.writer
        wrongSecret.secretAccessKey += "x"
        let bad = try S3Storage(configuration: SeaweedFS.configuration(wrongSecret), logger: log.logger())
        await expectStorageError(.authenticationFailed, s3Code: .signatureDoesNotMatch) { try await bad.get(target, limit: 10) }
        await expectStorageError(.authenticationFailed, s3Code: .signatureDoesNotMatch) { try await bad.put(target, [2]) }
        await expectStorageError(.authenticationFailed, s3Code: .signatureDoesNotMatch) { try await bad.list(prefix: "it/") }
        let unknown = try S3Storage(
            configuration: SeaweedFS.configuration(S3Credentials(accessKeyID: "TSUNKNOWNKEY0000", secretAccessKey: "whatever")),
            logger: log.logger())
        await expectStorageError(.authenticationFailed, s3Code: .invalidAccessKeyID) { try await unknown.get(target, limit: 10) }
        #expect(log.count("retrying") == 0)
        #expect(try await writer().get(target, limit: 1).bytes == [1])
    }

    @Test("a missing key: get throws NoSuchKey, head is nil, delete succeeds")
    func missingKey() async throws {
        let storage = try writer()
        let missing = try key(SeaweedFS.uniquePrefix("missing") + "nothing")
        await expectStorageError(.notFound, s3Code: .noSuchKey) { try await storage.get(missing, limit: 10) }
        #expect(try await storage.head(missing) == nil)
        try await storage.delete(missing)
        #expect(try await reader().head(missing) == nil)
    }

    @Test("the size limit refuses a larger object, even for a reader")
    func sizeLimit() async throws {
        let storage = try writer()
        let target = try key(SeaweedFS.uniquePrefix("limit") + "object")
        let bytes = randomBytes(100_000, seed: 9)
        _ = try await storage.put(target, bytes)
        await expectStorageError(.sizeLimitExceeded) { try await storage.get(target, limit: 99_999) }
        await expectStorageError(.sizeLimitExceeded) { try await reader().get(target, limit: 0) }
        #expect(try await storage.get(target, limit: 100_000).bytes == bytes)
    }

    @Test("virtual-hosted addressing reaches the same objects")
    func virtualHosted() async throws {
        let target = try key(SeaweedFS.uniquePrefix("vhost") + "object")
        _ = try await writer().put(target, [4, 2])
        // SeaweedFS serves {bucket}.{domain} when started with -s3.domainName; scripts/seaweedfs.sh
        // uses s3.tessera.test, and the client maps those names to 127.0.0.1.
        let port = try #require(URL(string: SeaweedFS.endpoint)?.port)
        var configuration = try S3Configuration(
            endpoint: "http://s3.tessera.test:\(port)", bucket: SeaweedFS.bucket, region: SeaweedFS.region,
            credentials: SeaweedFS.writer, addressing: .virtualHosted)
        configuration.retry = RetryPolicy(maximumAttempts: 2, initialDelay: 0.1, maximumDelay: 0.2)
        var httpConfiguration = S3Storage.recommendedHTTPClientConfiguration
        httpConfiguration.dnsOverride = ["\(SeaweedFS.bucket).s3.tessera.test": "127.0.0.1"]
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpConfiguration)
        do {
            let storage = try S3Storage(configuration: configuration, httpClient: client)
            #expect(try await storage.get(target, limit: 2).bytes == [4, 2])
            let other = try key(target.rawValue + "-vh")
            _ = try await storage.put(other, [7])
            #expect(try await writer().get(other, limit: 1).bytes == [7])
            #expect(try await storage.list(prefix: target.rawValue).map(\.key) == [target, other])
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
