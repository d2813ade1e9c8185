import Foundation
import Testing
import Tessera
import TesseraCore
import TesseraTestKit

/// The determinism guard: every consensus-critical result (``ConsensusProbe``) must be the
/// network's bits at every vector-kernel level, at any thread count, and whichever kernels
/// OpenBLAS picks — so a CPU-dependent path cannot come back unnoticed. The digests are pinned in
/// ``ConsensusProbe/expected``: a machine whose CPU or C library computed differently fails here.
@Suite("Determinism guard: consensus results are the network's bits")
struct ConsensusDeterminismTests {
    @Test("every probe matches the pinned digests (in process, at the best kernel level)")
    func inProcess() throws {
        let digests = try ConsensusProbe.run()
        #expect(digests.count == ConsensusProbe.expected.count, "every pinned probe ran")
        let mismatches = ConsensusProbe.mismatches(in: digests)
        #expect(mismatches.isEmpty, "differ: \(mismatches.map(\.description))")
    }

    /// One child run of `tessera determinism --json`.
    struct ChildResult: Decodable {
        var kernels: String
        var threads: Int
        var digests: [String: String]
        var mismatches: Int
        var model_loss: Float
    }

    /// Runs `tessera determinism --json` with `arguments` and extra environment variables.
    static func runChild(_ arguments: [String], environment extra: [String: String]) throws -> ChildResult {
        let run = try TesseraChild.run(["determinism", "--json"] + arguments, environment: extra)
        return try JSONDecoder().decode(ChildResult.self, from: Data(try run.jsonLine().utf8))
    }

    /// The OpenBLAS cores this CPU can run: Prescott always; Haswell and Zen with AVX2; SkylakeX
    /// with AVX-512 (forcing a core the CPU lacks would crash on an illegal instruction).
    static var blasCores: [String] {
        var cores = ["Prescott"]
        if VectorKernels.supportedLevel.rawValue >= VectorKernels.Level.avx2.rawValue { cores += ["Haswell", "Zen"] }
        if VectorKernels.supportedLevel == .avx512 { cores.append("SkylakeX") }
        return cores
    }

    @Test("the same digests under every OpenBLAS core this CPU runs, and at two threads at every kernel level (child processes)")
    func underBLASCoresAndLevels() throws {
        let localLoss = try ConsensusProbe.modelLoss()
        var runs: [(String, [String], [String: String])] = Self.blasCores.map { core in
            ("OPENBLAS_CORETYPE=\(core)", ["--threads", "2"], ["OPENBLAS_CORETYPE": core])
        }
        for level in VectorKernels.Level.allCases where level.rawValue <= VectorKernels.supportedLevel.rawValue {
            runs.append(("--kernels \(level), 2 threads", ["--threads", "2", "--kernels", level.description], [:]))
        }
        runs.append(("1 thread", ["--threads", "1"], [:]))
        for (label, arguments, environment) in runs {
            let result = try Self.runChild(arguments, environment: environment)
            #expect(result.mismatches == 0, "\(label): \(result.mismatches) digests differ")
            for (name, expected) in ConsensusProbe.expected {
                #expect(result.digests[name].flatMap { UInt64($0, radix: 16) } == expected, "\(label): \(name)")
            }
            // The loss goes through BLAS: the same to float32 rounding, not necessarily to the bit.
            #expect(abs(result.model_loss - localLoss) <= 1e-5 * abs(localLoss), "\(label): loss \(result.model_loss) vs \(localLoss)")
        }
    }
}
