#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import TesseraCore

/// The peers whose updates were aggregated into a window's outer step, as the validator
/// publishes it (`v1/peers/{window}`, JSON). Miners read it to reproduce the same aggregate.
///
/// JSON: `{"format":"tessera-peers/v1","peers":[3,5,8],"window":12}` — keys sorted, uids
/// ascending and distinct.
public struct PeerList: Hashable, Sendable, Codable {
    /// The format tag.
    public static let format = "tessera-peers/v1"
    /// Largest accepted file.
    public static let maximumBytes = 1 << 20

    /// Always ``format``.
    public var format: String
    /// The window.
    public var window: Window
    /// The aggregated peers, ascending.
    public var peers: [UID]

    /// Creates a list (sorted, de-duplicated).
    public init(window: Window, peers: [UID]) {
        format = Self.format
        self.window = window
        self.peers = Array(Set(peers)).sorted()
    }

    /// The JSON bytes.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Parses and checks a published list.
    /// - Throws: ``NodeError`` `.invalidPeerList` for oversized or malformed JSON, another
    ///   format, another window, or uids not strictly ascending.
    public init(decoding bytes: [UInt8], window expected: Window) throws {
        guard bytes.count <= Self.maximumBytes else { throw NodeError(.invalidPeerList, "peer list is \(bytes.count) bytes") }
        let list: PeerList
        do { list = try JSONDecoder().decode(PeerList.self, from: Data(bytes)) } catch {
            throw NodeError(.invalidPeerList, "peer list is not valid JSON: \(error)")
        }
        guard list.format == Self.format else { throw NodeError(.invalidPeerList, "peer list format \(list.format), expected \(Self.format)") }
        guard list.window == expected else { throw NodeError(.invalidPeerList, "peer list names window \(list.window), expected \(expected)") }
        guard zip(list.peers, list.peers.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw NodeError(.invalidPeerList, "peer list uids are not strictly ascending")
        }
        self = list
    }
}
