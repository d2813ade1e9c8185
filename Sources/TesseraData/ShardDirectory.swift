import Foundation

/// A directory of token shards (llm.c `.bin` or numpy `.npy`) described by `manifest.json`:
///
/// ```json
/// {"format": "tessera-shards", "version": 1,
///  "shards": [{"file": "train_000.bin", "tokens": 100000000}, …]}
/// ```
///
/// Samples never cross a shard boundary: shard s contributes ⌊(tokens − 1) / L⌋ samples, and
/// global sample ids number them shard after shard in manifest order.
public struct ShardDirectory: TokenSource {
    /// The manifest's shape.
    public struct Manifest: Codable, Sendable, Hashable {
        /// Must be "tessera-shards".
        public var format: String
        /// Must be 1.
        public var version: Int
        /// The shards in order.
        public var shards: [Entry]

        /// One shard.
        public struct Entry: Codable, Sendable, Hashable {
            /// File name relative to the directory (no path separators).
            public var file: String
            /// Tokens the file holds (checked against the file).
            public var tokens: Int
        }
    }

    /// Tokens per sample (L).
    public let sampleLength: Int
    let shards: [any TokenSource]
    let firstSample: [Int]
    public let sampleCount: Int

    /// Opens every shard listed in `directory/manifest.json` and checks it against the manifest.
    /// - Throws: ``DataError`` `.invalidManifest`, or the shard's own error.
    public init(directory: String, sampleLength: Int) throws {
        let manifestPath = (directory as NSString).appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: manifestPath) else {
            throw DataError(.invalidManifest, "no manifest.json in \(directory)")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw DataError(.invalidManifest, "\(manifestPath) is not a valid manifest: \(error)")
        }
        guard manifest.format == "tessera-shards", manifest.version == 1 else {
            throw DataError(.invalidManifest, "\(manifestPath): format '\(manifest.format)' version \(manifest.version); expected tessera-shards version 1")
        }
        guard !manifest.shards.isEmpty else { throw DataError(.invalidManifest, "\(manifestPath) lists no shards") }
        var shards: [any TokenSource] = []
        var first: [Int] = []
        var total = 0
        for entry in manifest.shards {
            guard !entry.file.isEmpty, !entry.file.contains("/"), !entry.file.contains("\0"), entry.file != "..", entry.file != "." else {
                throw DataError(.invalidManifest, "\(manifestPath): shard name '\(entry.file)' must be a plain file name")
            }
            let path = (directory as NSString).appendingPathComponent(entry.file)
            let shard: any TokenSource
            let tokens: Int
            if entry.file.hasSuffix(".npy") {
                let s = try NumpyTokens(path: path, sampleLength: sampleLength)
                (shard, tokens) = (s, s.tokenCount)
            } else {
                let s = try LLMCShard(path: path, sampleLength: sampleLength)
                (shard, tokens) = (s, s.tokenCount)
            }
            guard tokens == entry.tokens else {
                throw DataError(.invalidManifest, "\(entry.file) holds \(tokens) tokens; the manifest says \(entry.tokens)")
            }
            first.append(total)
            total += shard.sampleCount
            shards.append(shard)
        }
        self.sampleLength = sampleLength
        self.shards = shards
        self.firstSample = first
        self.sampleCount = total
    }

    public func readSample(_ index: Int, into buffer: UnsafeMutableBufferPointer<Int32>) throws {
        try checkSample(index, buffer)
        // The last shard whose first sample is ≤ index.
        var lo = 0, hi = firstSample.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if firstSample[mid] <= index { lo = mid } else { hi = mid - 1 }
        }
        try shards[lo].readSample(index - firstSample[lo], into: buffer)
    }

    /// Writes a manifest for the given shard files (reading their token counts).
    /// - Throws: ``DataError`` if a shard cannot be read, `.fileSystem` if the manifest cannot be written.
    public static func writeManifest(directory: String, files: [String]) throws {
        var entries: [Manifest.Entry] = []
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            let tokens = file.hasSuffix(".npy")
                ? try NumpyTokens(path: path, sampleLength: 1).tokenCount
                : try LLMCShard(path: path, sampleLength: 1).tokenCount
            entries.append(Manifest.Entry(file: file, tokens: tokens))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let data = try encoder.encode(Manifest(format: "tessera-shards", version: 1, shards: entries))
            try data.write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("manifest.json")), options: .atomic)
        } catch {
            throw DataError(.fileSystem, "cannot write the manifest in \(directory): \(error.localizedDescription)")
        }
    }
}
