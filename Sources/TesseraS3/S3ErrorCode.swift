public import TesseraStorage

/// An S3 error code (`<Code>` in an error response), with the ones Tessera acts on named.
///
/// ``S3Storage`` throws ``StorageError``; its ``StorageError/serviceCode`` holds the raw code and
/// ``StorageError/s3Code`` wraps it in this type:
///
/// ```swift
/// do { _ = try await storage.get(key, limit: 1 << 20) }
/// catch let error as StorageError where error.s3Code == .noSuchKey { … }
/// ```
public struct S3ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as S3 sent it.
    public let rawValue: String
    /// Wraps a code.
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let accessDenied = S3ErrorCode(rawValue: "AccessDenied")
    public static let signatureDoesNotMatch = S3ErrorCode(rawValue: "SignatureDoesNotMatch")
    public static let invalidAccessKeyID = S3ErrorCode(rawValue: "InvalidAccessKeyId")
    public static let expiredToken = S3ErrorCode(rawValue: "ExpiredToken")
    public static let invalidToken = S3ErrorCode(rawValue: "InvalidToken")
    public static let requestTimeTooSkewed = S3ErrorCode(rawValue: "RequestTimeTooSkewed")
    public static let noSuchKey = S3ErrorCode(rawValue: "NoSuchKey")
    public static let noSuchBucket = S3ErrorCode(rawValue: "NoSuchBucket")
    public static let noSuchUpload = S3ErrorCode(rawValue: "NoSuchUpload")
    public static let slowDown = S3ErrorCode(rawValue: "SlowDown")
    public static let internalError = S3ErrorCode(rawValue: "InternalError")
    public static let serviceUnavailable = S3ErrorCode(rawValue: "ServiceUnavailable")
    public static let requestTimeout = S3ErrorCode(rawValue: "RequestTimeout")
    public static let operationAborted = S3ErrorCode(rawValue: "OperationAborted")
    public static let entityTooSmall = S3ErrorCode(rawValue: "EntityTooSmall")
    public static let invalidPart = S3ErrorCode(rawValue: "InvalidPart")
    public static let permanentRedirect = S3ErrorCode(rawValue: "PermanentRedirect")
    public static let badDigest = S3ErrorCode(rawValue: "BadDigest")

    public var description: String { rawValue }
}

extension StorageError {
    /// The S3 error code, when the error came from an S3 response.
    public var s3Code: S3ErrorCode? { serviceCode.map(S3ErrorCode.init(rawValue:)) }
}

/// How one failed response is handled.
struct ResponseClassification {
    var code: StorageError.Code
    var retryable: Bool
}

enum S3ErrorClassifier {
    /// Maps an HTTP status and S3 code to a storage error code and whether to retry.
    static func classify(status: Int, code: String?) -> ResponseClassification {
        switch code {
        case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
             "ServiceUnavailable", "InternalError", "RequestThrottled", "BandwidthLimitExceeded":
            return .init(code: .unavailable, retryable: true)
        case "RequestTimeout":
            return .init(code: .timeout, retryable: true)
        case "BadDigest", "XAmzContentSHA256Mismatch", "IncompleteBody":
            // The body arrived altered or short: send it again.
            return .init(code: .serviceError, retryable: true)
        case "OperationAborted":
            return .init(code: .conflict, retryable: true)
        case "SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
             "RequestTimeTooSkewed", "AuthorizationHeaderMalformed", "InvalidSecurity", "MissingSecurityHeader":
            return .init(code: .authenticationFailed, retryable: false)
        case "AccessDenied", "AllAccessDisabled", "AccountProblem":
            return .init(code: .accessDenied, retryable: false)
        case "NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NoSuchVersion":
            return .init(code: .notFound, retryable: false)
        case "PermanentRedirect", "TemporaryRedirect", "IncorrectEndpoint", "InvalidBucketName", "InvalidRegion":
            return .init(code: .invalidConfiguration, retryable: false)
        default:
            break
        }
        switch status {
        case 429, 500, 502, 503, 504: return .init(code: .unavailable, retryable: true)
        case 501, 505: return .init(code: .serviceError, retryable: false)
        case 500...599: return .init(code: .unavailable, retryable: true)
        case 401: return .init(code: .authenticationFailed, retryable: false)
        case 403: return .init(code: .accessDenied, retryable: false)
        case 404: return .init(code: .notFound, retryable: false)
        case 408: return .init(code: .timeout, retryable: true)
        case 409, 412: return .init(code: .conflict, retryable: false)
        case 300...399: return .init(code: .invalidConfiguration, retryable: false)
        default: return .init(code: .serviceError, retryable: false)
        }
    }
}
