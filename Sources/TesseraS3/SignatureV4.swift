public import Foundation
import Crypto

/// AWS Signature Version 4 (header-based), the authentication every S3-compatible service
/// accepts: AWS S3, Cloudflare R2 (region `auto`), MinIO, SeaweedFS.
///
/// ``sign(method:path:query:headers:payloadHash:date:)`` builds the canonical request, the string
/// to sign and the `Authorization` header exactly as AWS specifies; the test suite checks it
/// against AWS's published Signature Version 4 test-suite vectors and the S3 documentation's
/// examples. Paths are encoded once, as S3 expects (S3 does not normalize `.` or `//`).
public struct SignatureV4: Sendable {
    /// The signing key's owner.
    public let credentials: S3Credentials
    /// The region in the credential scope (`us-east-1`, `auto` for R2).
    public let region: String
    /// The service in the credential scope (`s3`).
    public let service: String

    /// The SHA-256 of an empty payload, in hex.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// The payload hash that tells S3 the body is not signed (for TLS connections).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Creates a signer.
    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// A signed request's parts, intermediate steps included (to check against published vectors).
    public struct SignedRequest: Sendable {
        /// The canonical request that was hashed.
        public let canonicalRequest: String
        /// The string that was signed.
        public let stringToSign: String
        /// The hex signature.
        public let signature: String
        /// The value of the `Authorization` header.
        public let authorization: String
        /// The `;`-separated lowercase names of the signed headers.
        public let signedHeaders: String
        /// Every header to send: the input headers, `x-amz-date`, `x-amz-security-token` when the
        /// credentials have a session token, and `Authorization`.
        public let headers: [(name: String, value: String)]
    }

    /// Signs a request.
    /// - Parameters:
    ///   - method: `GET`, `PUT`, …
    ///   - path: The absolute path as it will be sent, *not yet percent-encoded* (`/bucket/key`);
    ///     every byte but unreserved characters and `/` is encoded once.
    ///   - query: Query parameters, unencoded; sorted and encoded here.
    ///   - headers: Headers to sign, `Host` included. Names are case-insensitive; repeated names
    ///     are joined with commas in order; values are trimmed and inner runs of spaces collapsed.
    ///   - payloadHash: The hex SHA-256 of the body, or ``unsignedPayload``.
    ///   - date: The signing time (sent as `x-amz-date`).
    /// - Returns: The signature and the headers to send.
    public func sign(
        method: String, path: String, query: [(name: String, value: String)],
        headers: [(name: String, value: String)], payloadHash: String, date: Date
    ) -> SignedRequest {
        let (amzDate, dateStamp) = AmazonDate.format(date)
        var allHeaders = headers
        if !allHeaders.contains(where: { $0.name.lowercased() == "x-amz-date" }) {
            allHeaders.append(("x-amz-date", amzDate))
        }
        if let token = credentials.sessionToken, !allHeaders.contains(where: { $0.name.lowercased() == "x-amz-security-token" }) {
            allHeaders.append(("x-amz-security-token", token))
        }

        // Canonical headers: lowercase names, sorted; values trimmed, inner spaces collapsed;
        // repeated names joined with ',' in their original order.
        var grouped: [String: [String]] = [:]
        for (name, value) in allHeaders {
            grouped[name.lowercased(), default: []].append(Self.trimmed(value))
        }
        let names = grouped.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var canonicalHeaders = ""
        for name in names {
            canonicalHeaders += name + ":" + grouped[name]!.joined(separator: ",") + "\n"
        }
        let signedHeaders = names.joined(separator: ";")

        let canonicalRequest = [
            method,
            Self.encodePath(path),
            Self.canonicalQuery(query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")

        let scope = "\(dateStamp)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256",
            amzDate,
            scope,
            Self.hexSHA256(Array(canonicalRequest.utf8)),
        ].joined(separator: "\n")

        let signingKey = signingKey(dateStamp: dateStamp)
        let signature = Self.hex(Array(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey)))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        allHeaders.append(("Authorization", authorization))
        return SignedRequest(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
            authorization: authorization, signedHeaders: signedHeaders, headers: allHeaders)
    }

    /// HMAC chain: `AWS4`+secret → date → region → service → `aws4_request`.
    private func signingKey(dateStamp: String) -> SymmetricKey {
        func step(_ key: SymmetricKey, _ message: String) -> SymmetricKey {
            SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: key))
        }
        var key = SymmetricKey(data: Array(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [dateStamp, region, service, "aws4_request"] { key = step(key, part) }
        return key
    }

    // MARK: - Encoding

    /// The canonical query string: each name and value encoded, pairs sorted by name then value
    /// (as encoded bytes), joined `name=value` with `&`.
    public static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query
            .map { (encode($0.name), encode($0.value)) }
            .sorted { a, b in
                a.0 == b.0 ? a.1.utf8.lexicographicallyPrecedes(b.1.utf8) : a.0.utf8.lexicographicallyPrecedes(b.0.utf8)
            }
            .map { $0.0 + "=" + $0.1 }
            .joined(separator: "&")
    }

    /// Percent-encodes every UTF-8 byte except `A–Z a–z 0–9 - . _ ~` (RFC 3986 unreserved), with
    /// uppercase hex.
    public static func encode(_ string: String) -> String {
        encode(string, keepingSlash: false)
    }

    /// Like ``encode(_:)`` but keeps `/`: for paths.
    public static func encodePath(_ path: String) -> String {
        encode(path, keepingSlash: true)
    }

    private static func encode(_ string: String, keepingSlash: Bool) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepingSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Trims surrounding whitespace and collapses inner runs of spaces to one.
    private static func trimmed(_ value: String) -> String {
        var out = ""
        var pendingSpace = false
        for character in value {
            if character == " " || character == "\t" || character == "\n" || character == "\r" {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(character)
            }
        }
        return out
    }

    /// Lowercase hex SHA-256.
    public static func hexSHA256(_ bytes: [UInt8]) -> String {
        hex(Array(SHA256.hash(data: bytes)))
    }

    /// Lowercase hex SHA-256 of a region of memory.
    static func hexSHA256(_ bytes: UnsafeRawBufferPointer) -> String {
        hex(Array(SHA256.hash(data: bytes)))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
