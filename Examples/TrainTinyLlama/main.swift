// Trains a tiny Llama on a repeated sentence with the public API only:
// a model from a configuration, its loss and gradients, clipping and AdamW.
//
//     swift run TrainTinyLlama [--steps N]
import Tessera
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
let steps = arguments.firstIndex(of: "--steps").flatMap { Int(arguments[$0 + 1]) } ?? 100

let text = Array("Tessera trains one model with many untrusted miners. ".utf8)
let configuration = LlamaConfiguration(
    vocabularySize: 256, dimension: 32, layerCount: 2, headCount: 4, keyValueHeadCount: 2,
    feedForwardDimension: 64, contextLength: 32)

do {
    var model = try LlamaModel(configuration: configuration, seed: 42)
    var optimizer = try AdamW(learningRate: 1e-2, beta1: 0.9, beta2: 0.95, weightDecay: 0.0)
    var generator = Xoshiro256StarStar(seed: 7)

    func nextBatch() throws -> TokenBatch {
        let length = configuration.contextLength
        var tokens: [Int32] = []
        for _ in 0..<4 {
            let start = Int(generator.next() % UInt64(text.count))
            tokens += (0...length).map { Int32(text[(start + $0) % text.count]) }
        }
        return try TokenBatch(batchSize: 4, sequenceLength: length, tokens: tokens)
    }

    var firstLoss: Float = 0
    var lastLoss: Float = 0
    for step in 1...steps {
        var (loss, gradients) = try model.lossAndGradients(try nextBatch())
        try GradientClipping.clipByGlobalNorm(&gradients, maximumNorm: 1.0)
        try optimizer.step(&model.parameters, gradients: gradients)
        if step == 1 { firstLoss = loss }
        lastLoss = loss
        if step % 10 == 0 || step == 1 { print("step \(step): loss \(loss)") }
    }
    print("loss \(firstLoss) → \(lastLoss) (\(model.parameterCount) parameters)")
    if !(lastLoss < firstLoss) {
        print("error: the loss did not decrease")
        exit(1)
    }
} catch {
    print("error: \(error)")
    exit(1)
}
