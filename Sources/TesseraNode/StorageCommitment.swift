#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a node publishes on chain so others can read its objects: its bucket and a read key.
///
/// Bytes on chain: compact JSON with sorted keys, e.g.
/// `{"bucket":"tessera","endpoint":"http://127.0.0.1:8333","format":"tessera-commitment/v1","read_key":"AKIA…"}`.
public struct StorageCommitment: Hashable, Sendable, Codable {
    /// The format tag.
    public static let format = "tessera-commitment/v1"
    /// Largest accepted commitment.
    public static let maximumBytes = 1024

    /// Always ``format``.
    public var format: String
    /// The bucket (or directory name) holding the node's objects.
    public var bucket: String
    /// A read-only access key for the bucket (public by design), if the store needs one.
    public var readKey: String?
    /// The storage endpoint, if not the network's default.
    public var endpoint: String?

    enum CodingKeys: String, CodingKey {
        case format, bucket, endpoint
        case readKey = "read_key"
    }

    /// Creates a commitment.
    public init(bucket: String, readKey: String? = nil, endpoint: String? = nil) {
        format = Self.format
        self.bucket = bucket
        self.readKey = readKey
        self.endpoint = endpoint
    }

    /// The bytes to commit.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Parses a commitment read from the chain.
    /// - Throws: ``NodeError`` `.invalidConfiguration` for anything else.
    public init(decoding bytes: [UInt8]) throws {
        guard bytes.count <= Self.maximumBytes else { throw NodeError(.invalidConfiguration, "commitment is \(bytes.count) bytes") }
        do { self = try JSONDecoder().decode(Self.self, from: Data(bytes)) } catch {
            throw NodeError(.invalidConfiguration, "commitment is not a storage commitment: \(error)")
        }
        guard format == Self.format else { throw NodeError(.invalidConfiguration, "commitment format \(format)") }
    }
}
