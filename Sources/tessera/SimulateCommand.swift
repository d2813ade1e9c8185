import ArgumentParser
import Foundation
import Tessera
import TesseraS3
import TesseraSimulation
import TesseraTestKit

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a whole network — chain, storage, miners, a validator, adversaries — on one machine.",
        discussion: """
            With no arguments: a LocalChain on a virtual clock, storage in a temporary directory \
            whose timestamps follow the chain, the synthetic Markov corpus, a small Llama, 6 honest miners, 1 \
            validator and 8 adversaries from the zoo, 45 windows. Prints a per-window table and \
            writes a run directory with report.json, loss.svg and weights.svg.

            --storage s3:ENDPOINT/BUCKET (credentials from AWS_ACCESS_KEY_ID and \
            AWS_SECRET_ACCESS_KEY) runs against a real S3 server: the chain then advances in real \
            time (2-second blocks and a 10-second upload window unless --block-seconds and \
            --upload-window say otherwise; about 14 s per window) and the validator judges \
            timeliness by the server's own timestamps. Each run writes under its own key prefix \
            simulate/<time>-<random>/ in the bucket.
            """)

    @Option(help: "Windows to run.") var windows: Int?
    @Option(help: "Honest miners.") var honest: Int?
    @Option(help: "Adversaries by zoo role, comma-separated; 'all' for the whole zoo, 'none' for none.") var adversaries: String?
    @Option(help: "Model: 'default', 'small', or a configuration JSON (reference keys).") var model: String = "default"
    @Option(help: "Inner steps per window.") var innerSteps: Int?
    @Option(help: "Samples per inner step.") var batch: Int?
    @Option(help: "Samples assigned per miner per window.") var slice: Int?
    @Option(help: "Inner AdamW learning rate.") var lr: Float?
    @Option(help: "Largest codec chunk side.") var chunk: Int?
    @Option(help: "Values kept per chunk.") var topk: Int?
    @Option(help: "Value quantizer: float32, float16, int8, int4, lookup2.") var quantizer: String?
    @Option(help: "Storage: 'temporary' (a temporary directory), 'memory', 'directory:PATH' (timestamps follow the simulated clock), or 's3:ENDPOINT/BUCKET' (real time, the server's timestamps).") var storage: String = "temporary"
    @Option(help: "S3 signing region (with --storage s3:…).") var s3Region: String = "us-east-1"
    @Option(help: "Seconds per chain block (default 12; 2 with S3 storage).") var blockSeconds: Double?
    @Option(help: "Seconds the upload window stays open (default 70; 10 with S3 storage).") var uploadWindow: Double?
    @Option(help: "Run directory (default: runs/simulate-<time>).") var out: String?
    @Option(help: "Seed of the chain, the model and the baseline.") var seed: UInt64?
    @Option(help: "Outer learning rate.") var outerLr: Float?
    @Option(help: "Error-feedback decay.") var errorFeedback: Float?
    @Flag(inversion: .prefixedNo, help: "Train window W+1 while window W's upload and gather are in flight (eager outer steps).") var overlap = false
    @Flag(help: "Also train a centralized AdamW baseline on the same number of tokens.") var baseline = false
    @Option(help: "Threads for the tensor engine.") var threads: Int?
    @Flag(help: "Print only the summary, not the per-window table.") var quiet = false

    func makeConfiguration() throws -> SimulationConfiguration {
        var c = SimulationConfiguration()
        if let windows { c.windows = windows }
        if let honest { c.honestMiners = honest }
        if let adversaries {
            switch adversaries {
            case "none", "": c.adversaries = []
            case "all": c.adversaries = adversaryZoo(victim: 0).map(\.role)
            default: c.adversaries = adversaries.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
        }
        switch model {
        case "default": break
        default:
            c.model = try loadConfiguration(model)
            c.corpus.vocabularySize = c.model.vocabularySize
        }
        if let innerSteps { c.network.innerSteps = innerSteps }
        if let batch { c.network.batchSize = batch }
        if let slice { c.network.samplesPerSlice = slice }
        if let lr { c.innerLearningRate = lr }
        if let chunk { c.network.codec.maximumChunkSide = chunk }
        if let topk { c.network.codec.topK = topk }
        if let quantizer {
            guard let q = ValueQuantizer.allCases.first(where: { "\($0)" == quantizer }) else {
                throw ValidationError("unknown quantizer '\(quantizer)' (known: \(ValueQuantizer.allCases.map { "\($0)" }.joined(separator: ", ")))")
            }
            c.network.codec.quantizer = q
        }
        if let seed { c.seed = seed }
        if let outerLr { c.network.outerLearningRate = outerLr }
        if let errorFeedback { c.network.errorFeedbackDecay = errorFeedback }
        c.overlapsCommunication = overlap
        c.baseline = baseline
        switch storage {
        case "temporary": c.storage = .temporaryDirectory
        case "memory": c.storage = .memory
        default:
            if storage.hasPrefix("directory:") {
                c.storage = .directory(String(storage.dropFirst("directory:".count)))
            } else if let target = try s3Target() {
                c.storage = .external("s3:\(target.endpoint)/\(target.bucket)")
                c.blockSeconds = 2
                c.network.uploadWindowSeconds = 10
            } else {
                throw ValidationError("--storage must be 'temporary', 'memory', 'directory:PATH' or 's3:ENDPOINT/BUCKET'")
            }
        }
        if let blockSeconds { c.blockSeconds = blockSeconds }
        if let uploadWindow { c.network.uploadWindowSeconds = uploadWindow }
        do { try c.validate() } catch let error as NodeError { throw ValidationError(error.message) }
        return c
    }

    func run() throws {
        if let threads { TensorRuntime.setThreadCount(threads) }
        let configuration = try makeConfiguration()
        let simulator = try NetworkSimulator(configuration: configuration)
        let directory = out ?? "runs/simulate-" + Self.timestamp()
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw CLIError("--out \(directory) exists and is not a directory")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let roles = Self.roles(configuration)
        let table = SimulationTable(roles: roles, entropyFloor: Self.entropyFloor(configuration))
        let quiet = quiet
        print("Tessera network simulation: \(configuration.honestMiners) honest miners, \(configuration.adversaries.count) adversaries, 1 validator, \(configuration.windows) windows")
        print("model: dim \(configuration.model.dimension), \(configuration.model.layerCount) layers, vocab \(configuration.model.vocabularySize), context \(configuration.model.contextLength); corpus entropy floor \(String(format: "%.4f", table.entropyFloor)) nats")
        if !quiet { print(table.legend()); print(table.header()) }
        let bar = ProgressBar(total: configuration.windows)
        let progress: @Sendable (SimulationProgress) -> Void = { p in
            if let w = p.window, !quiet {
                FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
                print(table.row(w))
            }
            bar.render(min(p.completed, p.total), suffix: p.window.map { w in w.validatorLoss.map { String(format: "loss %.4f", $0) } ?? "" } ?? p.phase)
        }
        let s3Storage = try makeS3Storage()
        let report = try runAsync {
            if let s3Storage {
                return try await simulator.run(storage: s3Storage.storage, description: s3Storage.description, progress: progress)
            }
            return try await simulator.run(progress: progress)
        }
        try Data(try report.json()).write(to: URL(fileURLWithPath: directory + "/report.json"))
        try report.lossChart().render().write(toFile: directory + "/loss.svg", atomically: true, encoding: .utf8)
        try report.weightChart().render().write(toFile: directory + "/weights.svg", atomically: true, encoding: .utf8)
        print("")
        print(Self.summary(report))
        print("run directory: \(directory) (report.json, loss.svg, weights.svg)")
    }

    /// `s3:ENDPOINT/BUCKET` split at the last `/`, or nil for another storage.
    func s3Target() throws -> (endpoint: String, bucket: String)? {
        guard storage.hasPrefix("s3:") else { return nil }
        let rest = storage.dropFirst(3)
        guard let slash = rest.lastIndex(of: "/"), rest[rest.index(after: slash)...].count > 0, rest[..<slash].contains("://") else {
            throw ValidationError("--storage s3: needs ENDPOINT/BUCKET, e.g. s3:http://127.0.0.1:8333/tessera")
        }
        return (String(rest[..<slash]), String(rest[rest.index(after: slash)...]))
    }

    /// The S3 backend under a fresh per-run prefix, when --storage names one.
    func makeS3Storage() throws -> (storage: PrefixedStorage<S3Storage>, description: String)? {
        guard let target = try s3Target() else { return nil }
        guard let credentials = S3Credentials.fromEnvironment() else {
            throw CLIError("--storage s3: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        let configuration = try S3Configuration(endpoint: target.endpoint, bucket: target.bucket, region: s3Region, credentials: credentials)
        let prefix = "simulate/\(Self.timestamp())-\(UInt32.random(in: 0...UInt32.max))"
        let storage = try PrefixedStorage(try S3Storage(configuration: configuration), prefix: prefix)
        return (storage, "s3:\(target.endpoint)/\(target.bucket)/\(prefix)")
    }

    static func summary(_ r: SimulationReport) -> String {
        var lines: [String] = []
        lines.append("final weights:")
        for (uid, f) in r.finalWeights.sorted(by: { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }) {
            let role = f.role.padding(toLength: 20, withPad: " ", startingAt: 0)
            lines.append("  uid " + uid.padding(toLength: 4, withPad: " ", startingAt: 0) + role + String(format: " weight %.4f  incentive %.4f", f.weight, f.incentive))
        }
        lines.append(String(format: "honest weight share: %.2f%%   largest adversary weight: %.4f%%", r.honestWeightShare * 100, r.maximumAdversaryWeight * 100))
        lines.append(String(format: "loss: initial %.4f → final %.4f; entropy floor %.4f (gap %.4f nats)", r.initialLoss, r.finalLoss, r.entropyFloor, r.gapToEntropyFloor))
        if let b = r.baselineLoss, let g = r.gapToBaseline {
            lines.append(String(format: "centralized AdamW baseline at %d tokens: %.4f (network is %+.2f%%)", r.tokensTrained, b, g * 100))
        } else {
            lines.append("tokens trained by honest miners: \(r.tokensTrained) (add --baseline for the centralized AdamW comparison)")
        }
        lines.append(String(format: "validator: slowest window %.2f s of a %.0f s window; run took %.1f s", r.validatorSecondsMaximum, r.windowSeconds, r.wallSeconds))
        return lines.joined(separator: "\n")
    }

    static func roles(_ c: SimulationConfiguration) -> [(uid: UInt16, role: String)] {
        // The simulator registers the validator first (uid 0), then honest miners, then adversaries.
        (0..<(c.honestMiners + c.adversaries.count)).map { i in
            (UInt16(i + 1), i < c.honestMiners ? "honest" : c.adversaries[i - c.honestMiners])
        }
    }

    static func entropyFloor(_ c: SimulationConfiguration) -> Double {
        (try? SyntheticCorpus(configuration: c.corpus, sampleLength: c.model.contextLength, sampleCount: 1).sampleLossFloor) ?? .nan
    }

    static func timestamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date())
    }
}

/// The per-window table: loss, floor, then each uid's weight (percent) and score.
struct SimulationTable: Sendable {
    let roles: [(uid: UInt16, role: String)]
    let entropyFloor: Double

    func legend() -> String {
        "uids: " + roles.map { "\($0.uid)=\($0.role)" }.joined(separator: " ")
    }

    func header() -> String {
        let uids = roles.map { String(format: "%6@", "u\($0.uid)") }.joined()
        return String(format: "%6@ %8@ %7@ %8@ %4@ ", "window", "val.loss", "floor", "miners", "agg") + uids
    }

    func row(_ w: SimulatedWindow) -> String {
        let minerMean = w.minerLosses.isEmpty ? Double.nan : w.minerLosses.values.reduce(0, +) / Double(w.minerLosses.count)
        let weights = roles.map { r in String(format: "%6.1f", (w.weights[String(r.uid)] ?? 0) * 100) }.joined()
        let scores = roles.map { r in String(format: "%6.2f", w.scores[String(r.uid)] ?? 0) }.joined()
        var lines = [String(format: "%6llu %8.4f %7.4f %8.4f %4d ", w.window, w.validatorLoss ?? .nan, entropyFloor, minerMean, w.aggregated.count) + weights + "  weight %"]
        lines.append(String(repeating: " ", count: 38) + scores + "  score")
        for r in w.rejected {
            lines.append(String(repeating: " ", count: 9) + "rejected uid \(r.uid) (\(r.role)): \(r.reason)")
        }
        return lines.joined(separator: "\n")
    }
}
