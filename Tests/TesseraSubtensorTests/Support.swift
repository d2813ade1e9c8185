import Foundation
import TesseraSubtensor

/// The recorded mainnet fixtures, read in place from `../shared/fixtures/bittensor` beside the
/// package root (never copied into the repository).
enum Fixtures {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/fixtures/bittensor")

    /// Whether the fixtures are present; prints why a test skips when they are not.
    static func available(_ test: String = #function) -> Bool {
        let present = FileManager.default.fileExists(atPath: directory.appendingPathComponent("metadata_v14.hex").path)
        if !present { print("skipping \(test): fixtures not found at \(directory.path)") }
        return present
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    nonisolated(unsafe) private static var cache: [String: RuntimeMetadata] = [:]
    private static let lock = NSLock()

    /// Parsed metadata (cached: parsing takes a moment in debug builds).
    static func metadata(_ name: String = "metadata_v14.hex") throws -> RuntimeMetadata {
        lock.lock()
        defer { lock.unlock() }
        if let cached = cache[name] { return cached }
        let parsed = try RuntimeMetadata(hex: text(name))
        cache[name] = parsed
        return parsed
    }

    /// The `result_hex` of the recorded `get_subnet_state(1)` call.
    static func subnetStateHex() throws -> String {
        let data = try Data(contentsOf: directory.appendingPathComponent("subnet_state_netuid1_spec343.json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return object?["result_hex"] as? String ?? ""
    }
}

/// The golden vectors made by make_golden_vectors.py.
enum Golden {
    nonisolated(unsafe) static let vectors: [String: Any] = {
        guard let url = Bundle.module.url(forResource: "vectors", withExtension: "json", subdirectory: "Golden"),
              let data = try? Data(contentsOf: url),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { fatalError("Golden/vectors.json is missing from the test bundle") }
        return object
    }()

    static func list(_ key: String) -> [[String: Any]] { vectors[key] as? [[String: Any]] ?? [] }
    static func object(_ key: String) -> [String: Any] { vectors[key] as? [String: Any] ?? [:] }
}

func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes, prefix: false) }
func bytes(_ text: String) -> [UInt8] { (try? Hex.decode(text)) ?? [] }
