import ArgumentParser
import Foundation
import Tessera

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Train the reference Llama model or compute its gradients.",
        subcommands: [Train.self, Grad.self]
    )
}

extension ModelCommand {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a Llama model with AdamW and print the loss of every step.")

        @Option(help: "Configuration JSON (reference keys) or 'small' / 'medium'.")
        var config: String
        @Option(help: "Optimizer steps.") var steps: Int = 50
        @Option(help: "Sequences per batch.") var batch: Int = 8
        @Option(help: "Tokens per sequence (default: the configuration's context).") var sequenceLength: Int?
        @Option(help: "Learning rate.") var lr: Float = 3e-3
        @Option(help: "Weight decay.") var weightDecay: Float = 0.1
        @Option(help: "Global gradient-norm clip.") var clip: Float = 1.0
        @Option(help: "Seed for initialization and batches.") var seed: UInt64 = 0
        @Option(name: .customLong("text"), help: "Train on the bytes of this file (repeatable); default: a fixed pool of random sequences.")
        var textFiles: [String] = []
        @Flag(help: "Train on the synthetic Markov corpus (vocabulary = the model's) and report the gap to its entropy floor.")
        var synthetic = false
        @Option(help: "Threads for BLAS and parallel loops.") var threads: Int?
        @Option(help: "Write the trained weights to this safetensors file.") var out: String?

        func validate() throws {
            guard steps > 0, batch > 0 else { throw ValidationError("--steps and --batch must be positive") }
            if let sequenceLength, sequenceLength <= 0 { throw ValidationError("--sequence-length must be positive") }
        }

        private func makeBatchSource(configuration: LlamaConfiguration, length: Int) throws -> BatchSource {
            if synthetic {
                let corpus = try SyntheticCorpus(
                    configuration: .init(vocabularySize: configuration.vocabularySize, seed: seed),
                    sampleLength: length, sampleCount: 1 << 30)
                return BatchSource(synthetic: corpus, batchSize: batch, seed: seed &+ 1)
            }
            return try BatchSource(
                textFiles: textFiles, vocabularySize: configuration.vocabularySize, batchSize: batch,
                sequenceLength: length, seed: seed &+ 1)
        }

        func run() throws {
            if let threads { TensorRuntime.setThreadCount(threads) }
            let configuration = try loadConfiguration(config)
            let length = sequenceLength ?? configuration.contextLength
            var model = try LlamaModel(configuration: configuration, seed: seed)
            if synthetic, !textFiles.isEmpty { throw ValidationError("choose --synthetic or --text, not both") }
            var data = try makeBatchSource(configuration: configuration, length: length)
            var optimizer = try AdamW(learningRate: lr, beta1: 0.9, beta2: 0.95, weightDecay: weightDecay)
            let description: String
            if let floor = data.lossFloor {
                description = String(format: "synthetic Markov corpus (loss floor %.4f nats)", floor)
            } else if data.isRandomPool {
                description = "64 random sequences"
            } else {
                description = "bytes of " + textFiles.joined(separator: ", ")
            }
            print("model: \(model.parameterCount) parameters; data: \(description); batch \(batch) × \(length) tokens")
            let bar = ProgressBar(total: steps)
            var first: Float = 0, last: Float = 0
            for step in 1...steps {
                let started = now()
                let batchTokens = try data.next()
                var (loss, gradients) = try model.lossAndGradients(batchTokens)
                try GradientClipping.clipByGlobalNorm(&gradients, maximumNorm: clip)
                try optimizer.step(&model.parameters, gradients: gradients)
                let ms = (now() - started) * 1000
                if step == 1 { first = loss }
                last = loss
                print(String(format: "step %4d/%d  loss %.4f  %.0f ms", step, steps, loss, ms))
                bar.render(step, suffix: String(format: "loss %.4f", loss))
            }
            print(String(format: "loss %.4f → %.4f over %d steps", first, last, steps))
            if let floor = data.lossFloor {
                print(String(format: "entropy floor %.4f nats; gap to the floor %.4f nats", floor, Double(last) - floor))
            }
            if let out {
                var writer = SafeTensorsWriter()
                try writer.add(model.parameters)
                try writer.write(to: out)
                print("weights written to \(out)")
            }
        }
    }

    struct Grad: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compute the loss and every parameter's gradient for a checkpoint and a token batch.")

        @Option(help: "Configuration JSON (reference keys).") var config: String
        @Option(help: "Weights (safetensors, Hugging Face Llama names).") var weights: String
        @Option(help: "Tokens (safetensors holding 'tokens': int64 [B, T+1]).") var tokens: String
        @Option(help: "Where to write the gradients (safetensors).") var out: String

        func run() throws {
            let configuration = try loadConfiguration(config)
            let layout = try configuration.parameterLayout()
            let parameters = try SafeTensorsFile(contentsOf: weights).parameterSet(layout: layout)
            let model = try LlamaModel(configuration: configuration, parameters: parameters)
            let tokenFile = try SafeTensorsFile(contentsOf: tokens)
            let (shape, values) = try tokenFile.integers(named: "tokens")
            guard shape.count == 2, shape[1] >= 2 else {
                throw CLIError("'tokens' must be [B, T+1] with T ≥ 1, got \(shape)")
            }
            if let bad = values.first(where: { $0 < 0 || $0 > Int64(Int32.max) }) {
                throw CLIError("token \(bad) in \(tokens) is outside 0...\(Int32.max)")
            }
            let batch = try TokenBatch(batchSize: shape[0], sequenceLength: shape[1] - 1, tokens: values.map { Int32($0) })
            let (loss, gradients) = try model.lossAndGradients(batch)
            var writer = SafeTensorsWriter()
            try writer.add(gradients)
            try writer.write(to: out)
            printJSON(["loss": Double(loss)])
        }
    }
}
