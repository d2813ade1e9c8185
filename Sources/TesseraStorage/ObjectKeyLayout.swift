public import TesseraCore

/// Where every object of the protocol lives: the one definition of Tessera's key layout.
///
/// All keys start with the format version, `v{N}/`, so nodes running incompatible formats never
/// read each other's objects; within a version, updates are listable by window:
///
/// | object | key |
/// |---|---|
/// | a miner's update for a window | `v1/gradient/{window}/{uid}` |
/// | a model checkpoint | `v1/checkpoint/{window}` |
/// | the peers chosen for a window | `v1/peers/{window}` |
/// | a validator's saved state | `v1/validator-state/{window}` |
/// | the window training started at | `v1/start-window` |
///
/// Numbers are decimal without leading zeros, so each object has exactly one key;
/// ``parse(_:)`` inverts every builder and rejects anything else.
public struct ObjectKeyLayout: Hashable, Sendable {
    /// The format version this build writes.
    public static let currentFormatVersion = 1
    /// The layout of ``currentFormatVersion``.
    public static let current = ObjectKeyLayout(checkedVersion: currentFormatVersion)

    /// The format version in every key of this layout.
    public let formatVersion: Int

    /// The layout of another format version (to read an older peer's objects, for instance).
    /// - Throws: ``StorageError`` `.invalidArgument` unless `formatVersion` is in 1...999_999.
    public init(formatVersion: Int) throws {
        guard (1...999_999).contains(formatVersion) else {
            throw StorageError(.invalidArgument, "a key format version is in 1...999999, got \(formatVersion)")
        }
        self.init(checkedVersion: formatVersion)
    }

    private init(checkedVersion: Int) {
        formatVersion = checkedVersion
    }

    /// `v{N}/`: the prefix of every key of this version.
    public var versionPrefix: String { "v\(formatVersion)/" }

    /// A miner's compressed update for `window`: `v1/gradient/{window}/{uid}`.
    public func gradient(window: Window, uid: UID) -> ObjectKey {
        ObjectKey(unchecked: gradientPrefix(window: window) + String(uid.rawValue))
    }

    /// The prefix listing every update of `window`: `v1/gradient/{window}/`.
    public func gradientPrefix(window: Window) -> String {
        versionPrefix + "gradient/\(window.rawValue)/"
    }

    /// A model checkpoint taken at `window`: `v1/checkpoint/{window}`.
    public func checkpoint(window: Window) -> ObjectKey {
        ObjectKey(unchecked: checkpointPrefix + String(window.rawValue))
    }

    /// The prefix listing every checkpoint: `v1/checkpoint/`.
    public var checkpointPrefix: String { versionPrefix + "checkpoint/" }

    /// The peers chosen to aggregate in `window`: `v1/peers/{window}`.
    public func peerList(window: Window) -> ObjectKey {
        ObjectKey(unchecked: peerListPrefix + String(window.rawValue))
    }

    /// The prefix listing every peer list: `v1/peers/`.
    public var peerListPrefix: String { versionPrefix + "peers/" }

    /// A validator's state (ratings, scores) saved at `window`: `v1/validator-state/{window}`.
    public func validatorState(window: Window) -> ObjectKey {
        ObjectKey(unchecked: validatorStatePrefix + String(window.rawValue))
    }

    /// The prefix listing every saved validator state: `v1/validator-state/`.
    public var validatorStatePrefix: String { versionPrefix + "validator-state/" }

    /// The window the run started at: `v1/start-window`.
    public var startWindow: ObjectKey { ObjectKey(unchecked: versionPrefix + "start-window") }

    /// An object of the layout, as ``parse(_:)`` recognizes it.
    public enum Entry: Hashable, Sendable {
        case gradient(window: Window, uid: UID)
        case checkpoint(window: Window)
        case peerList(window: Window)
        case validatorState(window: Window)
        case startWindow
    }

    /// What `key` names in this layout, or nil if it is not one of its keys (another version, an
    /// unknown kind, a number with leading zeros or out of range, trailing segments).
    public func parse(_ key: ObjectKey) -> Entry? {
        let segments = key.segments
        guard segments.count >= 2, segments[0] == versionPrefix.dropLast() else { return nil }
        switch (segments[1], segments.count) {
        case ("gradient", 4):
            guard let window = Self.number(segments[2], as: UInt64.self),
                  let uid = Self.number(segments[3], as: UInt16.self) else { return nil }
            return .gradient(window: Window(rawValue: window), uid: UID(rawValue: uid))
        case ("checkpoint", 3):
            return Self.number(segments[2], as: UInt64.self).map { .checkpoint(window: Window(rawValue: $0)) }
        case ("peers", 3):
            return Self.number(segments[2], as: UInt64.self).map { .peerList(window: Window(rawValue: $0)) }
        case ("validator-state", 3):
            return Self.number(segments[2], as: UInt64.self).map { .validatorState(window: Window(rawValue: $0)) }
        case ("start-window", 2):
            return .startWindow
        default:
            return nil
        }
    }

    /// The key an entry is stored under.
    public func key(for entry: Entry) -> ObjectKey {
        switch entry {
        case let .gradient(window, uid): gradient(window: window, uid: uid)
        case let .checkpoint(window): checkpoint(window: window)
        case let .peerList(window): peerList(window: window)
        case let .validatorState(window): validatorState(window: window)
        case .startWindow: startWindow
        }
    }

    /// Canonical decimal: digits only, no leading zero (except "0"), within `T`'s range.
    private static func number<T: FixedWidthInteger>(_ text: Substring, as: T.Type) -> T? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        if text.count > 1, text.first == "0" { return nil }
        return T(text, radix: 10)
    }
}
