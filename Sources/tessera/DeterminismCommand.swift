import ArgumentParser
import Foundation
import Tessera
import TesseraTestKit

/// `tessera determinism`: does this build, on this CPU, compute the network's bits?
struct DeterminismCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "determinism",
        abstract: "Check that this machine computes every consensus result (seeded numbers, model initialization, data slices, "
            + "wire bytes, decoding, aggregation, outer steps) bit for bit as the network does.",
        discussion: "Exits with status 1 when a digest differs from the expected one. The model's loss is printed too; it "
            + "goes through BLAS and agrees between CPUs only to float32 rounding.")

    @Option(help: "Threads for parallel loops (the digests must not depend on it).") var threads: Int = 2
    @Option(help: "Vector kernel level: portable, avx2 or avx512 (default: the best this CPU supports; capped at it).")
    var kernels: String?
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        TensorRuntime.setThreadCount(threads)
        try applyKernelLevel(kernels)
        let digests = try ConsensusProbe.run()
        let mismatches = ConsensusProbe.mismatches(in: digests)
        let loss = try ConsensusProbe.modelLoss()
        if json {
            let entries = digests.map { "\"\($0.name)\": \"\($0.hex)\"" }.joined(separator: ", ")
            print("{\"kernels\": \"\(VectorKernels.levelInUse)\", \"threads\": \(threads), \"digests\": {\(entries)}, "
                + "\"mismatches\": \(mismatches.count), \"model_loss_bits\": \(loss.bitPattern), \"model_loss\": \(loss)}")
        } else {
            print("kernels \(VectorKernels.levelInUse), \(threads) threads")
            for d in digests {
                let expected = ConsensusProbe.expected[d.name].map { String($0, radix: 16) } ?? "none"
                print("\(d.name.padding(toLength: 54, withPad: " ", startingAt: 0)) \(d.hex)  \(ConsensusProbe.expected[d.name] == d.value ? "ok" : "MISMATCH (expected \(expected))")")
            }
            print("model loss (float32 rounding only): \(loss)")
            print(mismatches.isEmpty ? "every consensus result matches" : "\(mismatches.count) consensus results differ from the network's")
        }
        if !mismatches.isEmpty { throw ExitCode(1) }
    }
}
