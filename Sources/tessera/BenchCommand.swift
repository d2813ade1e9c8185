import ArgumentParser
import Foundation
import Tessera

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Release-mode benchmarks that print one JSON object (compare with ../shared/reference).",
        subcommands: [Train.self, Matmul.self, Codec.self, Sample.self, Score.self]
    )
}

extension BenchCommand {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Training-step throughput (forward, backward, AdamW) of the Llama model, like `llama_reference.py bench`.")

        @Option(help: "Configuration JSON (reference keys) or 'small' / 'medium'.") var config: String
        @Option(help: "Sequences per batch.") var batch: Int = 16
        @Option(help: "Threads for BLAS and parallel loops.") var threads: Int = 2
        @Option(help: "Timed steps.") var steps: Int = 10
        @Option(help: "Untimed warm-up steps.") var warmup: Int = 3
        @Option(help: "Seed.") var seed: UInt64 = 0
        @Option(help: "Vector kernel level: portable, avx2 or avx512 (default: the best this CPU supports; capped at it).")
        var kernels: String?

        func validate() throws {
            guard batch > 0, threads > 0, steps > 0, warmup >= 0 else {
                throw ValidationError("--batch, --threads and --steps must be positive, --warmup ≥ 0")
            }
        }

        func run() throws {
            TensorRuntime.setThreadCount(threads)
            try applyKernelLevel(kernels)
            let configuration = try loadConfiguration(config)
            var model = try LlamaModel(configuration: configuration, seed: seed)
            let T = configuration.contextLength
            var generator = Xoshiro256StarStar(seed: seed &+ 1)
            let tokens = (0..<(batch * (T + 1))).map { _ in Int32(generator.next() % UInt64(configuration.vocabularySize)) }
            let tokenBatch = try TokenBatch(batchSize: batch, sequenceLength: T, tokens: tokens)
            var optimizer = try AdamW(learningRate: 1e-3, beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
            func step() throws {
                let (_, gradients) = try model.lossAndGradients(tokenBatch)
                try optimizer.step(&model.parameters, gradients: gradients)
            }
            for _ in 0..<warmup { try step() }
            let memoryBefore = residentMemoryMiB()
            var times: [Double] = []
            for _ in 0..<steps {
                let t0 = now()
                try step()
                times.append(now() - t0)
            }
            let mean = times.reduce(0, +) / Double(times.count)
            printJSON([
                "peer": "tessera", "params": model.parameterCount, "batch": batch, "context": T, "threads": threads,
                "ms_per_step": (mean * 1000 * 100).rounded() / 100,
                "ms_per_step_median": (median(times) * 1000 * 100).rounded() / 100,
                "tokens_per_s": (Double(batch * T) / mean * 10).rounded() / 10,
                "rss_mib_after_warmup": (memoryBefore * 10).rounded() / 10,
                "rss_mib_end": (residentMemoryMiB() * 10).rounded() / 10,
                "peak_rss_mib": (peakResidentMemoryMiB() * 10).rounded() / 10,
                "kernels": VectorKernels.levelInUse.description, "blas_core": TensorRuntime.blas.core ?? TensorRuntime.blas.selection.rawValue,
            ])
        }
    }

    struct Matmul: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "GFLOP/s of Tensor.matmul against the BLAS library's own multithreaded sgemm on square matrices, with the BLAS core in use.")

        @Option(help: "Matrix side.") var size: Int = 1024
        @Option(help: "Timed repetitions (median reported).") var repeats: Int = 20
        @Option(help: "Threads.") var threads: Int = 2

        func run() throws {
            guard size > 0, repeats > 0 else { throw ValidationError("--size and --repeats must be positive") }
            TensorRuntime.setThreadCount(threads)
            var generator = Xoshiro256StarStar(seed: 1)
            let a = try Tensor(randomNormal: [size, size], using: &generator)
            let b = try Tensor(randomNormal: [size, size], using: &generator)
            let flops = 2 * Double(size) * Double(size) * Double(size)
            var raw: [Double] = [], api: [Double] = []
            var c = [Float](repeating: 0, count: size * size)
            let aScalars = a.scalars, bScalars = b.scalars
            // Tensor API first, then raw BLAS, in separate blocks: raw calls wake OpenBLAS's own
            // threads, which spin for a while afterwards and would slow interleaved API calls.
            for round in 0..<(repeats + 2) {
                let t0 = now()
                let product = try Tensor.matmul(a, b)
                let t1 = now()
                guard product.scalarCount == size * size else { throw CLIError("matmul returned \(product.shape)") }
                if round >= 2 { api.append(t1 - t0) }
            }
            for round in 0..<(repeats + 2) {
                let t0 = now()
                aScalars.withUnsafeBufferPointer { ap in
                    bScalars.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            RawBLAS.sgemm(m: size, n: size, k: size, a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!, threads: threads)
                        }
                    }
                }
                if round >= 2 { raw.append(now() - t0) }
            }
            let rawGflops = flops / median(raw) / 1e9, apiGflops = flops / median(api) / 1e9
            let report: [String: Any] = [
                "size": size, "threads": threads,
                "raw_sgemm_gflops": (rawGflops * 10).rounded() / 10,
                "tensor_matmul_gflops": (apiGflops * 10).rounded() / 10,
                "ratio": (apiGflops / rawGflops * 1000).rounded() / 1000,
                "blas": DoctorReport.current.blasDictionary, "cpu": HostCPU.current.brand,
            ]
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
