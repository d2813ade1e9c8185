import ArgumentParser
import Foundation
import Tessera

/// `tessera doctor`: what this machine gives Tessera — CPU features, the BLAS and its kernels,
/// the vector kernel level — and whether anything runs below the CPU's speed.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Print the CPU's vector features, the BLAS library in use (file, OpenBLAS core, how it was chosen) and the "
            + "vector kernel level.",
        discussion: "Warns when the matrix products run on narrower kernels than the CPU runs, and exits with status 1 when "
            + "they run on generic (SSE) kernels or the portable fallback on a CPU with AVX2. "
            + "Set OPENBLAS_CORETYPE to choose OpenBLAS's kernels yourself, TESSERA_BLAS_LIBRARY to load another CBLAS library.")

    @Flag(help: "Print one JSON object instead of lines of text.") var json = false

    func run() throws {
        let report = DoctorReport.current
        if json {
            let data = try JSONSerialization.data(withJSONObject: report.dictionary, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for (key, value) in report.lines { print("\(key.padding(toLength: 22, withPad: " ", startingAt: 0)) \(value)") }
            for warning in report.warnings { print("warning: \(warning)") }
        }
        if report.genericOnCapableCPU { throw ExitCode(1) }
    }
}

/// The facts `tessera doctor` and `tessera bench matmul` report.
struct DoctorReport {
    let cpu: HostCPU
    let blas: BLASBackend
    let preferredCore: String?
    let kernels: String
    let kernelsSupported: String
    let threads: Int

    static var current: DoctorReport {
        DoctorReport(
            cpu: .current, blas: TensorRuntime.blas, preferredCore: BLASBackend.preferredCore,
            kernels: VectorKernels.levelInUse.description, kernelsSupported: VectorKernels.supportedLevel.description,
            threads: TensorRuntime.threadCount)
    }

    /// The products run on generic kernels (or the fallback) on a CPU with AVX2: a misconfiguration.
    var genericOnCapableCPU: Bool { blas.isGenericOnAVX2CPU }

    /// The kernel class, or "unknown" for a library that is not OpenBLAS.
    var kernelClassName: String { blas.selection == .other && blas.core == nil ? "unknown" : blas.kernelClass.description }

    var warnings: [String] {
        var result: [String] = []
        if blas.runsBelowCPU {
            result.append("matrix products run on \(blas.core ?? blas.selection.rawValue) kernels (\(blas.kernelClass)) below what the CPU runs (\(preferredCore ?? "?"))")
        }
        if let message = blas.message { result.append(message) }
        return result
    }

    /// The BLAS fields, as `tessera bench matmul` adds them to its JSON.
    var blasDictionary: [String: Any] {
        [
            "library": blas.library ?? NSNull(), "core": blas.core ?? NSNull(), "kernel_class": kernelClassName,
            "selection": blas.selection.rawValue, "requested_core": blas.requestedCore ?? NSNull(),
            "configuration": blas.configuration ?? NSNull(), "message": blas.message ?? NSNull(),
        ]
    }

    var dictionary: [String: Any] {
        [
            "cpu": [
                "vendor": cpu.vendor, "brand": cpu.brand, "family": cpu.family, "model": cpu.model, "features": cpu.features,
            ] as [String: Any],
            "blas": blasDictionary, "preferred_core": preferredCore ?? NSNull(),
            "kernels": ["in_use": kernels, "supported": kernelsSupported], "threads": threads,
            "generic_on_capable_cpu": genericOnCapableCPU, "warnings": warnings,
        ]
    }

    var lines: [(String, String)] {
        [
            ("cpu", "\(cpu.brand.isEmpty ? "unknown" : cpu.brand) (\(cpu.vendor), family \(cpu.family), model \(cpu.model))"),
            ("features", cpu.features.joined(separator: " ")),
            ("blas library", blas.library ?? "none (portable fallback GEMM)"),
            ("blas core", blas.core.map { "\($0) (\(blas.kernelClass))" } ?? "n/a (\(kernelClassName))"),
            ("blas selection", blas.selection.rawValue + (blas.requestedCore.map { ", requested \($0)" } ?? "")),
            ("blas configuration", blas.configuration ?? "n/a"),
            ("vector kernels", "\(kernels) (best supported: \(kernelsSupported))"),
            ("threads", "\(threads)"),
        ]
    }
}
