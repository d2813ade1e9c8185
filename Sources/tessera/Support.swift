import ArgumentParser
import Foundation
import Tessera

/// Loads a Llama configuration from a JSON file with the reference script's keys, or one of the
/// built-in names `small` and `medium`.
func loadConfiguration(_ pathOrName: String) throws -> LlamaConfiguration {
    let configuration: LlamaConfiguration
    if !FileManager.default.fileExists(atPath: pathOrName), pathOrName == "small" || pathOrName == "medium" {
        configuration = pathOrName == "small" ? .small : .medium
    } else {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: pathOrName))
        } catch {
            throw CLIError("cannot read configuration \(pathOrName): \(error.localizedDescription)")
        }
        do {
            configuration = try JSONDecoder().decode(LlamaConfiguration.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw CLIError("configuration \(pathOrName): missing key '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw CLIError("configuration \(pathOrName): wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'")
        } catch {
            throw CLIError("configuration \(pathOrName) is not valid JSON: \(error.localizedDescription)")
        }
    }
    try configuration.validate()
    return configuration
}

/// A command-line error with a plain message.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Resident set size of this process in MiB, from /proc/self/statm (0 where unavailable).
func residentMemoryMiB() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

/// The process's peak resident set (VmHWM) in MiB; 0 where /proc is missing.
func peakResidentMemoryMiB() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kib / 1024
}

/// Monotonic time in seconds.
func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// Prints a JSON object with keys in the given order.
func printJSON(_ pairs: KeyValuePairs<String, Any>) {
    let body = pairs.map { key, value -> String in
        let rendered: String
        switch value {
        case let s as String: rendered = "\"\(s)\""
        case let d as Double: rendered = d.isFinite ? "\(d)" : "null"
        case let f as Float: rendered = f.isFinite ? "\(f)" : "null"
        default: rendered = "\(value)"
        }
        return "\"\(key)\": \(rendered)"
    }
    print("{" + body.joined(separator: ", ") + "}")
}

/// Where training batches come from.
struct BatchSource {
    private var generator: Xoshiro256StarStar
    private let corpus: [Int32]
    private var synthetic: SyntheticCorpus?
    /// Whether batches come from the fixed pool of 64 random sequences.
    let isRandomPool: Bool
    let batchSize: Int
    let sequenceLength: Int

    /// Batches of the synthetic Markov corpus (uniformly drawn sample ids).
    init(synthetic: SyntheticCorpus, batchSize: Int, seed: UInt64) {
        generator = Xoshiro256StarStar(seed: seed)
        corpus = []
        self.synthetic = synthetic
        self.isRandomPool = false
        self.batchSize = batchSize
        self.sequenceLength = synthetic.sampleLength
    }

    /// The loss floor of the data, when known.
    var lossFloor: Double? { synthetic?.sampleLossFloor }

    /// Byte-level tokens of the given files (vocabulary ≥ 256), or, without files, a fixed pool
    /// of 64 seeded random sequences (which a model can learn by heart).
    init(textFiles: [String], vocabularySize: Int, batchSize: Int, sequenceLength: Int, seed: UInt64) throws {
        generator = Xoshiro256StarStar(seed: seed)
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        isRandomPool = textFiles.isEmpty
        if textFiles.isEmpty {
            var g = Xoshiro256StarStar(seed: seed ^ 0x5EED)
            corpus = (0..<(64 * (sequenceLength + 1))).map { _ in Int32(g.next() % UInt64(vocabularySize)) }
        } else {
            guard vocabularySize >= 256 else {
                throw CLIError("byte-level text needs a vocabulary of at least 256, the configuration has \(vocabularySize)")
            }
            var bytes: [Int32] = []
            for path in textFiles {
                guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
                bytes += data.map { Int32($0) }
            }
            guard bytes.count > sequenceLength + 1 else {
                throw CLIError("the text has \(bytes.count) bytes; it needs more than one sequence of \(sequenceLength + 1)")
            }
            corpus = bytes
        }
    }

    mutating func next() throws -> TokenBatch {
        if let corpus = synthetic {
            var ids: [UInt64] = []
            for _ in 0..<batchSize { ids.append(BoundedRandom.next(upTo: UInt64(corpus.sampleCount), using: &generator)) }
            return try corpus.batch(ids)
        }
        let row = sequenceLength + 1
        var tokens: [Int32] = []
        tokens.reserveCapacity(batchSize * row)
        for _ in 0..<batchSize {
            let start: Int
            if isRandomPool {
                start = Int(generator.next() % 64) * row
            } else {
                start = Int(generator.next() % UInt64(corpus.count - row + 1))
            }
            tokens += corpus[start..<(start + row)]
        }
        return try TokenBatch(batchSize: batchSize, sequenceLength: sequenceLength, tokens: tokens)
    }
}

/// A one-line progress bar on standard error.
struct ProgressBar {
    let total: Int
    let width = 30

    func render(_ done: Int, suffix: String) {
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) \(suffix)\u{1B}[K".utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Sets the vector kernels' level from a `--kernels` option (nil: the best this CPU supports).
/// - Throws: `ValidationError` for a name other than portable, avx2 or avx512.
func applyKernelLevel(_ name: String?) throws {
    guard let name else { return }
    guard let level = VectorKernels.Level.allCases.first(where: { $0.description == name }) else {
        throw ValidationError("--kernels must be portable, avx2 or avx512, got \(name)")
    }
    VectorKernels.setLevel(level)
}
