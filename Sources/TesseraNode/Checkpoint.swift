#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import TesseraCore
import TesseraTensor

/// The global model after a window's outer step, stored as safetensors
/// (`v1/checkpoint/{window}`) with `__metadata__` `{"format": "tessera-checkpoint/v1",
/// "window": "<n>"}` — readable by any safetensors library.
public enum ModelCheckpoint {
    /// The format tag in the metadata.
    public static let format = "tessera-checkpoint/v1"

    /// The safetensors bytes of `parameters` after `window`.
    public static func encode(_ parameters: ParameterSet, window: Window) throws -> [UInt8] {
        var writer = SafeTensorsWriter()
        writer.metadata = ["format": format, "window": String(window.rawValue)]
        try writer.add(parameters)
        return try writer.bytes()
    }

    /// Reads a checkpoint made for `layout`.
    /// - Throws: ``NodeError`` `.invalidCheckpoint` for a malformed file, another format, or
    ///   tensors that do not match `layout`.
    public static func decode(_ bytes: [UInt8], layout: ParameterLayout) throws -> (window: Window, parameters: ParameterSet) {
        do {
            let file = try SafeTensorsFile(bytes: bytes)
            guard file.metadata["format"] == format, let text = file.metadata["window"], let n = UInt64(text) else {
                throw NodeError(.invalidCheckpoint, "not a \(format) file (metadata \(file.metadata))")
            }
            let parameters = try file.parameterSet(layout: layout)
            guard parameters.isFinite else { throw NodeError(.invalidCheckpoint, "checkpoint holds non-finite values") }
            return (Window(rawValue: n), parameters)
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.invalidCheckpoint, "\(error)")
        }
    }
}

/// What a validator saves beside each model checkpoint (`v1/validator-state/{window}`, JSON):
/// everything it needs to continue exactly where it stopped.
public struct ValidatorSnapshot<ScorerState: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    /// The format tag.
    public static var format: String { "tessera-validator-state/v1" }
    /// Always ``format``.
    public var format: String
    /// The last window fully processed.
    public var window: Window
    /// The scorer's state after that window.
    public var scorer: ScorerState
    /// The weights last computed.
    public var weights: [UID: Double]

    /// Creates a snapshot.
    public init(window: Window, scorer: ScorerState, weights: [UID: Double]) {
        format = Self.format
        self.window = window
        self.scorer = scorer
        self.weights = weights
    }

    /// Deterministic JSON (sorted keys).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Parses a snapshot.
    /// - Throws: ``NodeError`` `.invalidCheckpoint`.
    public init(decoding bytes: [UInt8]) throws {
        do { self = try JSONDecoder().decode(Self.self, from: Data(bytes)) } catch {
            throw NodeError(.invalidCheckpoint, "validator state is not valid JSON: \(error)")
        }
        guard format == Self.format else { throw NodeError(.invalidCheckpoint, "validator state format \(format), expected \(Self.format)") }
    }
}
