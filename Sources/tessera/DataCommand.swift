import ArgumentParser
import Foundation
import Tessera

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Slice sampling and token files.",
        subcommands: [Sample.self, Inspect.self, Tokenize.self])

    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the sample ids of a uid's slice in a window as JSON.")
        @Option(help: "The miner's uid.") var uid: UInt16
        @Option(help: "The window.") var window: UInt64
        @Option(help: "Hash of the window's first block (0x + 64 hex digits).") var blockHash: String
        @Option(help: "Samples in the slice.") var count: Int
        @Option(help: "Samples in the source.") var samples: UInt64

        func run() throws {
            let sampler = try DeterministicSliceSampler(count: count, sampleCount: samples)
            let slice = try sampler.slice(uid: UID(rawValue: uid), window: Window(rawValue: window), seed: Digest32(hex: blockHash))
            print("{\"uid\": \(uid), \"window\": \(window), \"digest\": \"\(slice.digest.hex)\", \"ids\": [" +
                  slice.sampleIDs.map(String.init).joined(separator: ", ") + "]}")
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe a token file (llm.c .bin, .npy) or a shard directory.")
        @Argument(help: "The file or directory.") var path: String
        @Option(help: "Tokens per sample, to count samples.") var sampleLength: Int = 1024

        func run() throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CLIError("no such file: \(path)") }
            let source: any TokenSource
            let kind: String
            var tokens = 0
            if isDirectory.boolValue {
                source = try ShardDirectory(directory: path, sampleLength: sampleLength)
                kind = "shard directory"
            } else if path.hasSuffix(".npy") {
                let s = try NumpyTokens(path: path, sampleLength: sampleLength)
                (source, kind, tokens) = (s, "numpy array", s.tokenCount)
            } else {
                let s = try LLMCShard(path: path, sampleLength: sampleLength)
                (source, kind, tokens) = (s, "llm.c shard", s.tokenCount)
            }
            var maximum: Int32 = 0
            if source.sampleCount > 0 {
                let probe = try source.batch(0..<min(source.sampleCount, 64))
                maximum = probe.maximumToken
            }
            print("{\"path\": \"\(path)\", \"kind\": \"\(kind)\", \"tokens\": \(tokens), \"sample_length\": \(sampleLength), " +
                  "\"samples\": \(source.sampleCount), \"max_token_in_first_samples\": \(maximum)}")
        }
    }

    struct Tokenize: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn a text file into an llm.c shard of byte tokens.")
        @Option(name: .customLong("in"), help: "Text file.") var input: String
        @Option(help: "Output shard (.bin).") var out: String

        func run() throws {
            let count = try ByteTokenizer.tokenizeFile(at: input, toShard: out)
            print("{\"tokens\": \(count), \"out\": \"\(out)\"}")
        }
    }
}

extension BenchCommand {
    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Time drawing a slice (Floyd + shuffle) and reading a batch from a mapped shard.")
        @Option var count: Int = 30_720
        @Option var samples: UInt64 = 50_000_000
        @Option var repeats: Int = 20

        func run() throws {
            let sampler = try DeterministicSliceSampler(count: count, sampleCount: samples)
            var times: [Double] = []
            for r in 0..<(repeats + 2) {
                let t0 = now()
                _ = try sampler.slice(uid: UID(rawValue: UInt16(r % 256)), window: Window(rawValue: UInt64(r)), seed: .zero)
                if r >= 2 { times.append(now() - t0) }
            }
            printJSON(["count": count, "samples": samples, "ms_median": (median(times) * 1e5).rounded() / 100])
        }
    }
}
