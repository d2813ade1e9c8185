import Foundation
import Testing
import TesseraCore
@testable import TesseraS3
import TesseraStorage

@Suite("S3 dates")
struct AmazonDateTests {
    @Test("x-amz-date and the scope date")
    func format() {
        #expect(AmazonDate.format(Date(timeIntervalSince1970: 1_440_938_160)) == ("20150830T123600Z", "20150830"))
        #expect(AmazonDate.format(Date(timeIntervalSince1970: 0)) == ("19700101T000000Z", "19700101"))
        #expect(AmazonDate.format(Date(timeIntervalSince1970: 951_782_399.9)) == ("20000228T235959Z", "20000228"))
        #expect(AmazonDate.format(Date(timeIntervalSince1970: 951_782_400)) == ("20000229T000000Z", "20000229"))
        #expect(AmazonDate.format(Date(timeIntervalSince1970: 4_102_444_800)) == ("21000101T000000Z", "21000101"))
    }

    @Test("agrees with Foundation's ISO 8601 formatter on 2,000 seeded instants")
    func crossCheck() {
        var generator = Xoshiro256StarStar(seed: 11)
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        for _ in 0..<2000 {
            let seconds = Double(generator.next() % 8_000_000_000) - 1_000_000_000
            let date = Date(timeIntervalSince1970: seconds)
            let iso = formatter.string(from: date)
            #expect(AmazonDate.parseISO8601(iso) == date, "\(iso)")
            let compact = iso.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
            #expect(AmazonDate.format(date).amzDate == compact)
        }
    }

    @Test("HTTP dates (Last-Modified)")
    func httpDates() {
        #expect(AmazonDate.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
        #expect(AmazonDate.parseHTTPDate("Wed, 29 Feb 2012 00:00:00 GMT") == Date(timeIntervalSince1970: 1_330_473_600))
        for bad in ["", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                    "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                    "Sun, 06 Nov 1994 08:49:3x GMT"] {
            #expect(AmazonDate.parseHTTPDate(bad) == nil, "\(bad)")
        }
    }

    @Test("ISO 8601 with fractions (listings)")
    func isoFractions() throws {
        let base = 1_795_566_651.0
        #expect(AmazonDate.parseISO8601("2026-11-25T00:30:51.000Z") == Date(timeIntervalSince1970: base))
        let fractional = try #require(AmazonDate.parseISO8601("2026-11-25T00:30:51.25Z"))
        #expect(abs(fractional.timeIntervalSince1970 - (base + 0.25)) < 1e-6)
        for bad in ["2026-11-25T00:30:51", "2026-11-25 00:30:51Z", "2026-13-25T00:30:51Z", "2026-11-25T00:30:51.Z",
                    "2026-11-25T00:30:51.1234567890Z", "2026-11-25T00:30:51+00:00"] {
            #expect(AmazonDate.parseISO8601(bad) == nil, "\(bad)")
        }
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    @Test("waits grow exponentially with equal jitter, capped")
    func delays() {
        let policy = RetryPolicy(maximumAttempts: 10, initialDelay: 0.5, maximumDelay: 4)
        var generator = Xoshiro256StarStar(seed: 3)
        for retry in 1...9 {
            let cap = min(4, 0.5 * pow(2, Double(retry - 1)))
            for _ in 0..<200 {
                let wait = policy.delay(beforeRetry: retry, using: &generator)
                #expect(wait >= cap / 2 && wait <= cap, "retry \(retry): \(wait)")
            }
        }
    }

    @Test("jitter spreads clients: 1,000 draws are not all equal")
    func spread() {
        let policy = RetryPolicy(maximumAttempts: 5, initialDelay: 1, maximumDelay: 8)
        var generator = Xoshiro256StarStar(seed: 4)
        let waits = Set((0..<1000).map { _ in policy.delay(beforeRetry: 3, using: &generator) })
        #expect(waits.count > 900)
    }

    @Test("a server's Retry-After raises the wait, never past the maximum")
    func retryAfter() {
        let policy = RetryPolicy(maximumAttempts: 5, initialDelay: 0.1, maximumDelay: 3)
        var generator = Xoshiro256StarStar(seed: 5)
        #expect(policy.delay(beforeRetry: 1, retryAfter: 2, using: &generator) == 2)
        #expect(policy.delay(beforeRetry: 1, retryAfter: 60, using: &generator) == 3)
        #expect(policy.delay(beforeRetry: 1, retryAfter: .nan, using: &generator) <= 0.1)
    }

    @Test("out-of-range settings are clamped")
    func clamping() {
        let policy = RetryPolicy(maximumAttempts: 0, initialDelay: -1, maximumDelay: -5)
        #expect(policy.maximumAttempts == 1 && policy.initialDelay == 0 && policy.maximumDelay == 0)
        var generator = Xoshiro256StarStar(seed: 6)
        #expect(policy.delay(beforeRetry: 100, using: &generator) == 0)
    }

    @Test("which failures are retried", arguments: [
        (503, "SlowDown", true), (429, nil, true), (500, "InternalError", true), (502, nil, true), (504, nil, true),
        (400, "RequestTimeout", true), (409, "OperationAborted", true), (400, "BadDigest", true),
        (403, "AccessDenied", false), (403, "SignatureDoesNotMatch", false), (403, "InvalidAccessKeyId", false),
        (403, "RequestTimeTooSkewed", false), (400, "ExpiredToken", false), (404, "NoSuchKey", false),
        (400, "InvalidArgument", false), (501, "NotImplemented", false), (301, "PermanentRedirect", false),
    ] as [(Int, String?, Bool)])
    func classification(_ status: Int, _ code: String?, _ retryable: Bool) {
        #expect(S3ErrorClassifier.classify(status: status, code: code).retryable == retryable)
    }

    @Test("how S3 codes map to storage error codes")
    func mapping() {
        #expect(S3ErrorClassifier.classify(status: 403, code: "AccessDenied").code == .accessDenied)
        #expect(S3ErrorClassifier.classify(status: 403, code: "SignatureDoesNotMatch").code == .authenticationFailed)
        #expect(S3ErrorClassifier.classify(status: 403, code: "InvalidAccessKeyId").code == .authenticationFailed)
        #expect(S3ErrorClassifier.classify(status: 404, code: "NoSuchKey").code == .notFound)
        #expect(S3ErrorClassifier.classify(status: 503, code: "SlowDown").code == .unavailable)
        #expect(S3ErrorClassifier.classify(status: 403, code: nil).code == .accessDenied)
        #expect(S3ErrorClassifier.classify(status: 418, code: "Teapot").code == .serviceError)
    }
}

@Suite("S3 XML responses")
struct S3XMLTests {
    @Test("a ListObjectsV2 page with url-encoded keys and a continuation")
    func listPage() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>b</Name><Prefix>v1%2F</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType>
              <IsTruncated>true</IsTruncated><NextContinuationToken>tok/+=</NextContinuationToken>
              <Contents><Key>v1%2Fa</Key><LastModified>2026-11-25T00:18:22.000Z</LastModified>
                <ETag>&quot;b1946ac92492d2347c6235b4d2611184&quot;</ETag><Size>6</Size><StorageClass>STANDARD</StorageClass></Contents>
              <Contents><Key>v1%2Fb%20c</Key><LastModified>2026-11-25T00:18:23.500Z</LastModified>
                <ETag>"abc-2"</ETag><Size>0</Size></Contents>
            </ListBucketResult>
            """
        let page = try S3XML.parseListObjectsV2(Array(xml.utf8), urlEncoded: true)
        #expect(page.objects.map(\.key) == ["v1/a", "v1/b c"])
        #expect(page.objects.map(\.size) == [6, 0])
        #expect(page.objects.map(\.etag) == ["b1946ac92492d2347c6235b4d2611184", "abc-2"])
        #expect(page.objects[1].lastModified.timeIntervalSince(page.objects[0].lastModified) == 1.5)
        #expect(page.isTruncated && page.nextContinuationToken == "tok/+=")
    }

    @Test("malformed listings are refused", arguments: [
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size><LastModified>2026-11-25T00:18:22Z</LastModified></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>1</Size><LastModified>yesterday</LastModified></Contents></ListBucketResult>",
        "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
        "<Other/>", "not xml", "<ListBucketResult>",
        String(repeating: "<a>", count: 40) + String(repeating: "</a>", count: 40),
    ])
    func malformed(_ xml: String) async {
        await expectStorageError(.invalidResponse) { try S3XML.parseListObjectsV2(Array(xml.utf8), urlEncoded: false) }
    }

    @Test("error bodies give their code, message and request id")
    func errorBody() throws {
        let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>R1</RequestId></Error>"
        let parsed = try #require(S3XML.parseError(Array(xml.utf8)))
        #expect(parsed.code == "NoSuchKey" && parsed.message == "The specified key does not exist." && parsed.requestID == "R1")
        #expect(S3XML.parseError(Array("<html>".utf8)) == nil)
        #expect(S3XML.parseError([]) == nil)
    }

    @Test("the completion body lists parts in order with quoted, escaped ETags")
    func completionBody() {
        let body = String(decoding: S3XML.completeMultipartUploadBody(etags: ["e1", "a&b"]), as: UTF8.self)
        #expect(body.contains("<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;a&amp;b&quot;</ETag></Part>"))
    }

    @Test("percent decoding")
    func decoding() {
        #expect(S3XML.percentDecode("a%2Fb+c%C3%A9") == "a/b cé")
        #expect(S3XML.percentDecode("%zz") == nil)
        #expect(S3XML.percentDecode("%4") == nil)
        #expect(S3XML.percentDecode("%FF") == nil)  // not UTF-8
    }
}

@Suite("S3 configuration and addressing")
struct S3ConfigurationTests {
    static let credentials = S3Credentials(accessKeyID: "AKID", secretAccessKey: "secret")

    @Test("path-style URLs keep the port and put the bucket first")
    func pathStyle() throws {
        let storage = try S3Storage(configuration: S3Configuration(endpoint: "http://127.0.0.1:8333", bucket: "tessera", region: "us-east-1", credentials: Self.credentials))
        let address = storage.address(for: try ObjectKey("v1/gradient/1/2"))
        #expect(address.url == "http://127.0.0.1:8333/tessera/v1/gradient/1/2")
        #expect(address.host == "127.0.0.1:8333" && address.path == "/tessera/v1/gradient/1/2")
        #expect(storage.address(for: nil).url == "http://127.0.0.1:8333/tessera")
    }

    @Test("virtual-hosted URLs put the bucket in the host and drop default ports")
    func virtualHosted() async throws {
        let configuration = try S3Configuration.amazonS3(bucket: "my-bucket", region: "eu-west-1", credentials: Self.credentials)
        #expect(configuration.addressing == .virtualHosted)
        let storage = try S3Storage(configuration: configuration)
        let address = storage.address(for: try ObjectKey("a/b"))
        #expect(address.url == "https://my-bucket.s3.eu-west-1.amazonaws.com/a/b")
        #expect(address.host == "my-bucket.s3.eu-west-1.amazonaws.com" && address.path == "/a/b")
        // Dotted bucket names cannot be virtual-hosted under TLS.
        #expect(try S3Configuration.amazonS3(bucket: "my.bucket", region: "eu-west-1", credentials: Self.credentials).addressing == .path)
        await expectStorageError(.invalidConfiguration) {
            try S3Configuration(endpoint: "https://s3.amazonaws.com", bucket: "my.bucket", region: "us-east-1", credentials: Self.credentials, addressing: .virtualHosted)
        }
    }

    @Test("Cloudflare R2: the account's endpoint, region auto, path-style")
    func cloudflareR2() async throws {
        let configuration = try S3Configuration.cloudflareR2(accountID: "0123ABCDef", bucket: "weights", credentials: Self.credentials)
        #expect(configuration.endpoint.absoluteString == "https://0123abcdef.r2.cloudflarestorage.com")
        #expect(configuration.region == "auto" && configuration.addressing == .path)
        let storage = try S3Storage(configuration: configuration)
        #expect(storage.address(for: try ObjectKey("k")).url == "https://0123abcdef.r2.cloudflarestorage.com/weights/k")
        await expectStorageError(.invalidConfiguration) { try S3Configuration.cloudflareR2(accountID: "a.b/c", bucket: "weights", credentials: Self.credentials) }
    }

    @Test("bad endpoints, buckets and regions are refused", arguments: [
        ("ftp://host", "bucket", "us-east-1"), ("http://", "bucket", "us-east-1"), ("http://host/path", "bucket", "us-east-1"),
        ("http://host?x=1", "bucket", "us-east-1"), ("http://host", "Bucket", "us-east-1"), ("http://host", "ab", "us-east-1"),
        ("http://host", "-bucket", "us-east-1"), ("http://host", "bu..cket", "us-east-1"), ("http://host", "bucket", ""),
        ("http://host", "bucket", "us east"), ("not a url", "bucket", "us-east-1"),
    ])
    func invalid(_ endpoint: String, _ bucket: String, _ region: String) async {
        await expectStorageError(.invalidConfiguration) {
            try S3Configuration(endpoint: endpoint, bucket: bucket, region: region, credentials: Self.credentials)
        }
    }

    @Test("tunables are validated when the storage is made")
    func tunables() async throws {
        var configuration = try S3Configuration(endpoint: "http://h", bucket: "bucket", region: "auto", credentials: Self.credentials)
        #expect(configuration.multipartThreshold == 64 << 20 && configuration.partSize == 16 << 20)
        configuration.partSize = 1 << 20
        await expectStorageError(.invalidConfiguration) { try S3Storage(configuration: configuration) }
        configuration.partSize = 5 << 20
        configuration.multipartConcurrency = 0
        await expectStorageError(.invalidConfiguration) { try S3Storage(configuration: configuration) }
    }

    @Test("parts grow so that no object needs more than 10,000")
    func partSizes() throws {
        let storage = try S3Storage(configuration: S3Configuration(endpoint: "http://h", bucket: "bucket", region: "auto", credentials: Self.credentials))
        #expect(storage.effectivePartSize(for: 1 << 30) == 16 << 20)
        let huge = 400 << 30  // 400 GiB
        let part = storage.effectivePartSize(for: huge)
        #expect((huge + part - 1) / part <= 10_000 && part > 16 << 20)
    }
}
