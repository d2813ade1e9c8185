/// An error raised by a ``StorageBackend``.
///
/// Every backend throws this one type, so code that is generic over its storage can match on
/// ``code`` (``Code/notFound``, ``Code/accessDenied``, …) whatever sits behind it. A remote service
/// adds what it said in ``serviceCode`` (S3's `<Code>`, e.g. `NoSuchKey`, `SignatureDoesNotMatch`),
/// ``statusCode`` and ``requestID``, so a log line carries everything an operator needs.
public struct StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, in a form a caller can `switch` on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case invalidKey, invalidArgument, invalidConfiguration, notFound, sizeLimitExceeded
            case accessDenied, authenticationFailed, conflict, unavailable, timeout
            case invalidResponse, ioFailure, serviceError
        }
        fileprivate let base: Base
        /// A string is not a valid ``ObjectKey`` or key prefix.
        public static let invalidKey = Code(base: .invalidKey)
        /// A numeric argument (a size limit, a page size) is out of range.
        public static let invalidArgument = Code(base: .invalidArgument)
        /// The backend is configured wrongly (a bad endpoint, bucket name or directory).
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// The object (or the bucket) does not exist.
        public static let notFound = Code(base: .notFound)
        /// The object, or a listing, is larger than the caller's limit. Nothing was buffered.
        public static let sizeLimitExceeded = Code(base: .sizeLimitExceeded)
        /// The credentials are valid but not allowed to do this (e.g. a read-only key writing).
        public static let accessDenied = Code(base: .accessDenied)
        /// The service did not accept the credentials (unknown key, wrong secret, expired token).
        public static let authenticationFailed = Code(base: .authenticationFailed)
        /// The key collides with another object: on a filesystem, `a/b` cannot exist beside `a`.
        public static let conflict = Code(base: .conflict)
        /// The service could not be reached or kept failing (connection errors, 5xx, throttling)
        /// after every retry.
        public static let unavailable = Code(base: .unavailable)
        /// A request did not complete in time, after every retry.
        public static let timeout = Code(base: .timeout)
        /// The service answered with something malformed or inconsistent (bad XML, a body shorter
        /// than its declared length, a missing header).
        public static let invalidResponse = Code(base: .invalidResponse)
        /// The local filesystem failed (a full disk, a permission error).
        public static let ioFailure = Code(base: .ioFailure)
        /// The service refused the request for another reason; see ``StorageError/serviceCode``.
        public static let serviceError = Code(base: .serviceError)
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// The key (or prefix) concerned, if any.
    public let key: String?
    /// A human-readable explanation.
    public let message: String
    /// The service's own error code, e.g. S3's `NoSuchKey`, `AccessDenied`, `SignatureDoesNotMatch`.
    public let serviceCode: String?
    /// The HTTP status of the failed response, if there was one.
    public let statusCode: Int?
    /// The service's request identifier, for its operator.
    public let requestID: String?

    /// Creates an error.
    public init(
        _ code: Code, key: String? = nil, _ message: String,
        serviceCode: String? = nil, statusCode: Int? = nil, requestID: String? = nil
    ) {
        self.code = code
        self.key = key
        self.message = message
        self.serviceCode = serviceCode
        self.statusCode = statusCode
        self.requestID = requestID
    }

    public var description: String {
        var text = "StorageError.\(code)"
        if let key { text += " [\(key)]" }
        var details: [String] = []
        if let serviceCode { details.append(serviceCode) }
        if let statusCode { details.append("HTTP \(statusCode)") }
        if let requestID { details.append("request \(requestID)") }
        if !details.isEmpty { text += " (" + details.joined(separator: ", ") + ")" }
        return text + ": " + message
    }
}
