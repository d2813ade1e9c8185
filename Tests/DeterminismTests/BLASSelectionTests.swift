import Foundation
import Testing
import TesseraTensor
import TesseraTestKit

/// The matrix products never run on generic kernels on a capable CPU, whoever loads the BLAS
/// first, and a core the user sets is respected. Child processes of `tessera doctor --json`
/// start with the environment each case needs.
@Suite("BLAS selection: no generic GEMM kernels on a CPU with AVX2")
struct BLASSelectionTests {
    struct Doctor: Decodable {
        struct BLAS: Decodable {
            var core: String?
            var kernel_class: String
            var selection: String
            var requested_core: String?
            var library: String?
        }
        var blas: BLAS
        var generic_on_capable_cpu: Bool
    }

    static func doctor(_ environment: [String: String]) throws -> (Doctor, Int32) {
        let run = try TesseraChild.run(["doctor", "--json"], environment: environment)
        return (try JSONDecoder().decode(Doctor.self, from: Data(try run.jsonLine().utf8)), run.status)
    }

    static let cpu = HostCPU.current
    static let classNames = ["generic", "avx", "avx2", "avx512"]

    /// The class of the core Tessera would choose here.
    static var preferredClass: BLASBackend.KernelClass {
        BLASBackend.preferredCore.map(BLASBackend.KernelClass.init(openBLASCore:)) ?? .generic
    }

    @Test("in this process: a library loaded, and not a generic GEMM path when the CPU has AVX2")
    func inProcess() {
        let blas = TensorRuntime.blas
        #expect(blas.selection != .fallback, "no BLAS library loaded: \(blas)")
        if blas.selection == .user {
            // OPENBLAS_CORETYPE was set for this test run: the user's choice stands (checked below in children).
            return
        }
        if Self.cpu.has("avx2") {
            #expect(blas.kernelClass >= .avx2, "GEMM runs on \(blas) on a CPU with AVX2")
        }
        #expect(blas.kernelClass >= Self.preferredClass, "\(blas) is below the \(Self.preferredClass) kernels this CPU runs")
        #expect(!blas.runsBelowCPU)
        #expect(!blas.isGenericOnAVX2CPU)
    }

    @Test("the core class maps OpenBLAS's names")
    func coreClasses() {
        #expect(BLASBackend.KernelClass(openBLASCore: "prescott") == .generic)
        #expect(BLASBackend.KernelClass(openBLASCore: "Nehalem") == .generic)
        #expect(BLASBackend.KernelClass(openBLASCore: "Sandybridge") == .avx)
        #expect(BLASBackend.KernelClass(openBLASCore: "HASWELL") == .avx2)
        #expect(BLASBackend.KernelClass(openBLASCore: "zen") == .avx2)
        #expect(BLASBackend.KernelClass(openBLASCore: "SkylakeX") == .avx512)
        #expect(BLASBackend.KernelClass(openBLASCore: "cooperlake") == .avx512)
        #expect(BLASBackend.KernelClass(openBLASCore: "") == .generic)
        if Self.cpu.has("avx512f") && Self.cpu.has("avx512bw") && Self.cpu.has("avx512vl") && Self.cpu.has("avx512dq") {
            #expect(BLASBackend.preferredCore == "SkylakeX")
        } else if Self.cpu.has("avx2") && Self.cpu.has("fma") {
            #expect(["Haswell", "Zen"].contains(BLASBackend.preferredCore ?? ""))
        }
    }

    @Test("a fresh process picks the CPU's kernels itself (OPENBLAS_CORETYPE unset)")
    func chosenByTessera() throws {
        let (report, status) = try Self.doctor(["OPENBLAS_CORETYPE": ""])
        #expect(report.blas.selection == "chosen", "\(report.blas)")
        #expect(report.blas.kernel_class == Self.classNames[Self.preferredClass.rawValue], "\(report.blas)")
        #expect(!report.generic_on_capable_cpu)
        #expect(status == 0)
    }

    @Test("a core set in OPENBLAS_CORETYPE is respected, and doctor flags a generic one on an AVX2 CPU")
    func userChoiceRespected() throws {
        var cores = ["Prescott"]
        if Self.cpu.has("avx2") { cores.append("Haswell") }
        for core in cores {
            let (report, status) = try Self.doctor(["OPENBLAS_CORETYPE": core])
            #expect(report.blas.selection == "user", "\(core): \(report.blas)")
            #expect(report.blas.core?.lowercased() == core.lowercased(), "\(core): \(report.blas)")
            #expect(report.blas.requested_core == core)
            let generic = Self.cpu.has("avx2") && core == "Prescott"
            #expect(report.generic_on_capable_cpu == generic, "\(core)")
            #expect(status == (generic ? 1 : 0), "\(core): doctor's exit status")
        }
    }

    @Test("another CBLAS library named by TESSERA_BLAS_LIBRARY is loaded and not flagged; a missing one falls back to the portable GEMM")
    func otherLibraries() throws {
        // libblas.so.3 is the reference BLAS or an alternative (Debian's alternatives system); any CBLAS with sgemm will do.
        let (missing, missingStatus) = try Self.doctor(["TESSERA_BLAS_LIBRARY": "/nonexistent/libcblas.so", "OPENBLAS_CORETYPE": ""])
        #expect(missing.blas.selection == "fallback", "\(missing.blas)")
        #expect(missing.blas.library == nil)
        #expect(missing.generic_on_capable_cpu == Self.cpu.has("avx2"))
        #expect(missingStatus == (Self.cpu.has("avx2") ? 1 : 0))
        // The model runs on the fallback GEMM: every consensus digest, and the loss to float32 rounding.
        let fallbackRun = try ConsensusDeterminismTests.runChild(["--threads", "2"], environment: ["TESSERA_BLAS_LIBRARY": "/nonexistent/libcblas.so"])
        #expect(fallbackRun.mismatches == 0)
        let loss = try ConsensusProbe.modelLoss()
        #expect(abs(fallbackRun.model_loss - loss) <= 1e-5 * abs(loss), "fallback loss \(fallbackRun.model_loss) vs \(loss)")
        if let library = TensorRuntime.blas.library {
            // The same OpenBLAS named explicitly: still OpenBLAS, still the chosen core.
            let (named, status) = try Self.doctor(["TESSERA_BLAS_LIBRARY": library, "OPENBLAS_CORETYPE": ""])
            #expect(named.blas.selection == "chosen", "\(named.blas)")
            #expect(status == 0)
        }
    }

    #if os(Linux)
    @Test("a library the host process loaded first: used when its kernels fit the CPU, else a private copy with the right ones")
    func hostLoadedFirst() throws {
        guard let library = TensorRuntime.blas.library, TensorRuntime.blas.core != nil else { return }
        let (report, _) = try Self.doctor(["OPENBLAS_CORETYPE": "", "LD_PRELOAD": library])
        #expect(["process", "private-copy"].contains(report.blas.selection), "\(report.blas)")
        if Self.cpu.has("avx2") {
            #expect(report.blas.kernel_class == "avx2" || report.blas.kernel_class == "avx512", "\(report.blas)")
        }
        #expect(!report.generic_on_capable_cpu, "\(report.blas)")
    }
    #endif
}
