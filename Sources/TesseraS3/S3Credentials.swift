public import Foundation

/// An access key for an S3-compatible service.
///
/// Tessera keeps a node's keys apart, as Templar does: the **write** key (``S3Storage`` used for
/// `put` and `delete`) stays private; the **read** key, which peers use to fetch the node's
/// objects, is published on chain and must be a read-only key at the service, so that publishing
/// it grants nothing else. The description never prints the secret.
public struct S3Credentials: Hashable, Sendable, CustomStringConvertible {
    /// The access key id (`AKIA…`, an R2 token id, a SeaweedFS identity's key).
    public var accessKeyID: String
    /// The secret access key.
    public var secretAccessKey: String
    /// A session token for temporary credentials (sent as `x-amz-security-token`), if any.
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, if set, `AWS_SESSION_TOKEN`.
    /// - Parameter environment: The variables to read (the process's by default).
    /// - Returns: The credentials, or nil unless both the key id and the secret are set and non-empty.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> S3Credentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
              let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else { return nil }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
    }

    public var description: String {
        "S3Credentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>\(sessionToken == nil ? "" : ", sessionToken: <redacted>"))"
    }
}
