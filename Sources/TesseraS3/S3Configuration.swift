public import Foundation
import TesseraStorage

/// Where a bucket is and how to talk to it.
///
/// ```swift
/// // AWS S3
/// let aws = try S3Configuration.amazonS3(bucket: "my-bucket", region: "eu-west-1", credentials: key)
/// // Cloudflare R2: https://ACCOUNT.r2.cloudflarestorage.com, region "auto"
/// let r2 = try S3Configuration.cloudflareR2(accountID: "0123abcd", bucket: "my-bucket", credentials: key)
/// // Any S3-compatible server (MinIO, SeaweedFS), path-style
/// let local = try S3Configuration(endpoint: "http://127.0.0.1:8333", bucket: "tessera", region: "us-east-1", credentials: key)
/// ```
public struct S3Configuration: Sendable {
    /// How the bucket appears in request URLs.
    public enum Addressing: String, Hashable, Sendable {
        /// `https://endpoint/bucket/key`: works everywhere, required for IP endpoints and buckets
        /// with dots under TLS.
        case path
        /// `https://bucket.endpoint/key`: AWS's default.
        case virtualHosted
    }

    /// The service URL without the bucket: scheme, host and optional port, e.g.
    /// `https://s3.eu-west-1.amazonaws.com`, `https://ACCOUNT.r2.cloudflarestorage.com`,
    /// `http://127.0.0.1:8333`.
    public let endpoint: URL
    /// The bucket.
    public let bucket: String
    /// The signing region (`auto` for R2).
    public var region: String
    /// Path-style or virtual-hosted URLs.
    public var addressing: Addressing
    /// The keys requests are signed with.
    public var credentials: S3Credentials

    /// Objects of at least this many bytes are uploaded in parts (default 64 MiB).
    public var multipartThreshold: Int
    /// The size of each part but the last (default 16 MiB; S3's minimum is 5 MiB). Grows
    /// automatically if an object would need more than 10,000 parts.
    public var partSize: Int
    /// Parts uploaded at once (default 4).
    public var multipartConcurrency: Int
    /// Whether bodies are hashed into the signature (`true`, the default) or sent as
    /// `UNSIGNED-PAYLOAD` (cheaper; rely on TLS). AWS S3 rejects a body that does not match the
    /// signed hash; not every server checks it (SeaweedFS 4.48 does not).
    public var signsPayload: Bool
    /// Whether uploads carry `Content-MD5` (default `true`), which AWS S3, R2, MinIO and
    /// SeaweedFS all verify, refusing a body altered in transit with `BadDigest` (retried).
    public var sendsContentMD5: Bool
    /// After a put, `HEAD` the object so the returned ``ObjectInfo`` carries the server's exact
    /// `LastModified` (default `true`). When `false`, the response's `Date` header stands in.
    public var fetchesLastModifiedAfterPut: Bool

    /// When and how failed requests are retried.
    public var retry: RetryPolicy
    /// The deadline of one request attempt without a large body, in seconds (default 60).
    public var requestTimeout: Double
    /// The slowest acceptable transfer, in bytes per second: an attempt that moves *n* bytes has
    /// ``requestTimeout`` + *n* / this to finish (default 1 MiB/s).
    public var minimumThroughput: Double
    /// The largest listing or error response accepted, in bytes (default 8 MiB).
    public var maximumResponseSize: Int

    /// Creates a configuration for any S3-compatible endpoint.
    /// - Parameters:
    ///   - endpoint: `scheme://host[:port]` without a path (http or https).
    ///   - bucket: The bucket name (3–63 characters of `a–z 0–9 . -`).
    ///   - region: The signing region.
    ///   - credentials: The signing keys.
    ///   - addressing: Path-style (default) or virtual-hosted.
    /// - Throws: ``StorageError`` `.invalidConfiguration` naming what is wrong.
    public init(endpoint: String, bucket: String, region: String, credentials: S3Credentials, addressing: Addressing = .path) throws {
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw StorageError(.invalidConfiguration, "the endpoint must be http(s)://host[:port], got '\(endpoint)'")
        }
        guard url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil, url.user == nil else {
            throw StorageError(.invalidConfiguration, "the endpoint must not have a path, query or user part: '\(endpoint)'")
        }
        try Self.validateBucket(bucket)
        guard !region.isEmpty, region.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw StorageError(.invalidConfiguration, "the region must be a non-empty token such as us-east-1 or auto, got '\(region)'")
        }
        if addressing == .virtualHosted, bucket.contains("."), scheme == "https" {
            throw StorageError(.invalidConfiguration, "a bucket name with dots cannot be virtual-hosted over TLS (the certificate will not match); use path addressing")
        }
        self.endpoint = url
        self.bucket = bucket
        self.region = region
        self.addressing = addressing
        self.credentials = credentials
        multipartThreshold = 64 << 20
        partSize = 16 << 20
        multipartConcurrency = 4
        signsPayload = true
        sendsContentMD5 = true
        fetchesLastModifiedAfterPut = true
        retry = RetryPolicy()
        requestTimeout = 60
        minimumThroughput = 1_048_576
        maximumResponseSize = 8 << 20
    }

    /// AWS S3 in `region`, virtual-hosted (`https://bucket.s3.region.amazonaws.com`), or
    /// path-style for bucket names with dots.
    public static func amazonS3(bucket: String, region: String, credentials: S3Credentials) throws -> S3Configuration {
        try S3Configuration(
            endpoint: "https://s3.\(region).amazonaws.com", bucket: bucket, region: region,
            credentials: credentials, addressing: bucket.contains(".") ? .path : .virtualHosted)
    }

    /// Cloudflare R2: `https://ACCOUNT.r2.cloudflarestorage.com`, region `auto`, path-style.
    public static func cloudflareR2(accountID: String, bucket: String, credentials: S3Credentials) throws -> S3Configuration {
        guard !accountID.isEmpty, accountID.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) }) else {
            throw StorageError(.invalidConfiguration, "an R2 account id is alphanumeric, got '\(accountID)'")
        }
        return try S3Configuration(
            endpoint: "https://\(accountID.lowercased()).r2.cloudflarestorage.com", bucket: bucket, region: "auto",
            credentials: credentials, addressing: .path)
    }

    /// The same bucket with other keys: how a node reads a peer's bucket with the read key the
    /// peer published.
    public func with(credentials: S3Credentials) -> S3Configuration {
        var copy = self
        copy.credentials = credentials
        return copy
    }

    /// S3's bucket naming rules (the subset every provider accepts).
    static func validateBucket(_ bucket: String) throws {
        let bytes = Array(bucket.utf8)
        let allowed = bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
        guard (3...63).contains(bytes.count), allowed,
              let first = bytes.first, let last = bytes.last,
              first != UInt8(ascii: "-"), first != UInt8(ascii: "."), last != UInt8(ascii: "-"), last != UInt8(ascii: "."),
              !bucket.contains("..") else {
            throw StorageError(.invalidConfiguration, "'\(bucket)' is not a valid bucket name (3-63 characters of a-z 0-9 . -, starting and ending with a letter or digit)")
        }
    }

    /// Checks the tunables.
    func validate() throws {
        guard partSize >= 5 << 20 else {
            throw StorageError(.invalidConfiguration, "partSize must be at least 5 MiB (S3's minimum), got \(partSize)")
        }
        guard multipartThreshold >= 1, multipartConcurrency >= 1, requestTimeout > 0, minimumThroughput > 0,
              maximumResponseSize >= 1024 else {
            throw StorageError(.invalidConfiguration, "multipartThreshold, multipartConcurrency, requestTimeout, minimumThroughput must be positive and maximumResponseSize ≥ 1 KiB")
        }
    }
}
