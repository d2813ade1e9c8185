import ArgumentParser
import Foundation
import Tessera
import TesseraSimulation
import TesseraTestKit

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a whole network — chain, storage, miners, a validator, adversaries — on one machine.",
        discussion: """
            With no arguments: a LocalChain on a virtual clock, in-memory storage whose timestamps \
            follow the chain, the synthetic Markov corpus, a small Llama, 6 honest miners, 1 \
            validator and 8 adversaries from the zoo, 45 windows. Prints a per-window table and \
            writes a run directory with report.json, loss.svg and weights.svg.
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
    @Option(help: "Storage: 'memory' or 'directory:PATH' (timestamps follow the simulated clock).") var storage: String = "memory"
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
        if storage == "memory" {
            c.storage = .memory
        } else if storage.hasPrefix("directory:") {
            c.storage = .directory(String(storage.dropFirst("directory:".count)))
        } else {
            throw ValidationError("--storage must be 'memory' or 'directory:PATH' (S3 storage is for `tessera miner` / `tessera validator`)")
        }
        do { try c.validate() } catch let error as NodeError { throw ValidationError(error.message) }
        return c
    }

    func run() throws {
        if let threads { TensorRuntime.setThreadCount(threads) }
        let configuration = try makeConfiguration()
        let simulator = try NetworkSimulator(configuration: configuration)
        let directory = out ?? "runs/simulate-" + Self.timestamp()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let roles = Self.roles(configuration)
        let table = SimulationTable(roles: roles, entropyFloor: Self.entropyFloor(configuration))
        let quiet = quiet
        print("Tessera network simulation: \(configuration.honestMiners) honest miners, \(configuration.adversaries.count) adversaries, 1 validator, \(configuration.windows) windows")
        print("model: dim \(configuration.model.dimension), \(configuration.model.layerCount) layers, vocab \(configuration.model.vocabularySize), context \(configuration.model.contextLength); corpus entropy floor \(String(format: "%.4f", table.entropyFloor)) nats")
        if !quiet { print(table.legend()); print(table.header()) }
        let bar = ProgressBar(total: configuration.windows)
        let report = try runAsync {
            try await simulator.run { p in
                if let w = p.window, !quiet {
                    FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
                    print(table.row(w))
                }
                bar.render(min(p.completed, p.total), suffix: p.window.map { w in w.validatorLoss.map { String(format: "loss %.4f", $0) } ?? "" } ?? p.phase)
            }
        }
        try Data(try report.json()).write(to: URL(fileURLWithPath: directory + "/report.json"))
        try report.lossChart().render().write(toFile: directory + "/loss.svg", atomically: true, encoding: .utf8)
        try report.weightChart().render().write(toFile: directory + "/weights.svg", atomically: true, encoding: .utf8)
        print("")
        print(Self.summary(report))
        print("run directory: \(directory) (report.json, loss.svg, weights.svg)")
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
