public import TesseraCore

/// The hyper-parameters of a ``LlamaModel``. JSON keys are those of the reference script
/// (`vocab`, `dim`, `layers`, `heads`, `kv_heads`, `ffn`, `context`, `rope_theta`, `norm_eps`).
public struct LlamaConfiguration: Codable, Hashable, Sendable {
    /// Vocabulary size.
    public var vocabularySize: Int
    /// Model (residual stream) width.
    public var dimension: Int
    /// Number of transformer blocks.
    public var layerCount: Int
    /// Number of query heads.
    public var headCount: Int
    /// Number of key/value heads (grouped-query attention when fewer than ``headCount``).
    public var keyValueHeadCount: Int
    /// Hidden width of the SwiGLU MLP.
    public var feedForwardDimension: Int
    /// Longest sequence the model accepts.
    public var contextLength: Int
    /// RoPE base θ.
    public var ropeTheta: Float
    /// RMSNorm ε.
    public var normEpsilon: Float

    private enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab", dimension = "dim", layerCount = "layers", headCount = "heads"
        case keyValueHeadCount = "kv_heads", feedForwardDimension = "ffn", contextLength = "context"
        case ropeTheta = "rope_theta", normEpsilon = "norm_eps"
    }

    /// Creates a configuration; call ``validate()`` before use (the model's initializers do).
    public init(
        vocabularySize: Int, dimension: Int, layerCount: Int, headCount: Int, keyValueHeadCount: Int,
        feedForwardDimension: Int, contextLength: Int, ropeTheta: Float = 10_000, normEpsilon: Float = 1e-5
    ) {
        self.vocabularySize = vocabularySize
        self.dimension = dimension
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.feedForwardDimension = feedForwardDimension
        self.contextLength = contextLength
        self.ropeTheta = ropeTheta
        self.normEpsilon = normEpsilon
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        dimension = try c.decode(Int.self, forKey: .dimension)
        layerCount = try c.decode(Int.self, forKey: .layerCount)
        headCount = try c.decode(Int.self, forKey: .headCount)
        keyValueHeadCount = try c.decodeIfPresent(Int.self, forKey: .keyValueHeadCount) ?? headCount
        feedForwardDimension = try c.decode(Int.self, forKey: .feedForwardDimension)
        contextLength = try c.decode(Int.self, forKey: .contextLength)
        ropeTheta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? 10_000
        normEpsilon = try c.decodeIfPresent(Float.self, forKey: .normEpsilon) ?? 1e-5
    }

    /// The "small" configuration of the reference benchmarks.
    public static let small = LlamaConfiguration(
        vocabularySize: 256, dimension: 128, layerCount: 4, headCount: 4, keyValueHeadCount: 4,
        feedForwardDimension: 344, contextLength: 128)
    /// The "medium" configuration of the reference benchmarks.
    public static let medium = LlamaConfiguration(
        vocabularySize: 256, dimension: 384, layerCount: 6, headCount: 6, keyValueHeadCount: 2,
        feedForwardDimension: 1024, contextLength: 256)

    /// Width of one attention head.
    public var headDimension: Int { dimension / max(headCount, 1) }

    /// Checks every constraint and names the field at fault.
    /// - Throws: ``TensorError`` `.invalidConfiguration`.
    public func validate() throws {
        func fail(_ message: String) -> TensorError { TensorError(.invalidConfiguration, "Llama configuration: \(message)") }
        for (name, value) in [("vocab", vocabularySize), ("dim", dimension), ("layers", layerCount), ("heads", headCount),
                              ("kv_heads", keyValueHeadCount), ("ffn", feedForwardDimension), ("context", contextLength)]
        where value <= 0 {
            throw fail("\(name) must be positive, got \(value)")
        }
        guard vocabularySize <= Int(Int32.max) else { throw fail("vocab \(vocabularySize) exceeds the token id range") }
        guard dimension % headCount == 0 else { throw fail("dim (\(dimension)) must be divisible by heads (\(headCount))") }
        guard headDimension % 2 == 0 else { throw fail("head dimension dim/heads = \(headDimension) must be even for RoPE") }
        guard headCount % keyValueHeadCount == 0 else {
            throw fail("heads (\(headCount)) must be a multiple of kv_heads (\(keyValueHeadCount))")
        }
        guard ropeTheta.isFinite, ropeTheta > 0 else { throw fail("rope_theta must be positive and finite, got \(ropeTheta)") }
        guard normEpsilon.isFinite, normEpsilon >= 0 else { throw fail("norm_eps must be finite and ≥ 0, got \(normEpsilon)") }
        guard layerCount <= 4096 else { throw fail("layers (\(layerCount)) exceeds 4096") }
        for (rows, cols) in [(vocabularySize, dimension), (feedForwardDimension, dimension), (dimension, dimension), (contextLength, contextLength)] {
            let (product, overflow) = rows.multipliedReportingOverflow(by: cols)
            guard !overflow, product < 1 << 31 else { throw fail("a \(rows) × \(cols) matrix exceeds 2³¹ elements") }
        }
        let perLayer = 2 * dimension + 2 * dimension * dimension + 2 * keyValueHeadCount * headDimension * dimension + 3 * feedForwardDimension * dimension
        let total = vocabularySize * dimension + dimension + layerCount * perLayer
        guard total <= 1 << 34 else { throw fail("\(total) parameters exceed 2³⁴") }
    }

    /// The parameter names and shapes, in the order of Hugging Face's LlamaForCausalLM
    /// state dict as the reference script builds it (tied embeddings: no `lm_head`).
    public func parameterLayout() throws -> ParameterLayout {
        try validate()
        let d = dimension, hd = headDimension
        var entries: [(String, [Int])] = [
            ("model.embed_tokens.weight", [vocabularySize, d]),
            ("model.norm.weight", [d]),
        ]
        for i in 0..<layerCount {
            let b = "model.layers.\(i)."
            entries += [
                (b + "input_layernorm.weight", [d]),
                (b + "post_attention_layernorm.weight", [d]),
                (b + "self_attn.q_proj.weight", [headCount * hd, d]),
                (b + "self_attn.k_proj.weight", [keyValueHeadCount * hd, d]),
                (b + "self_attn.v_proj.weight", [keyValueHeadCount * hd, d]),
                (b + "self_attn.o_proj.weight", [d, headCount * hd]),
                (b + "mlp.gate_proj.weight", [feedForwardDimension, d]),
                (b + "mlp.up_proj.weight", [feedForwardDimension, d]),
                (b + "mlp.down_proj.weight", [d, feedForwardDimension]),
            ]
        }
        do {
            return try ParameterLayout(entries.map { (name: $0.0, shape: $0.1) })
        } catch let error as CoreError {
            throw TensorError(.invalidConfiguration, "Llama configuration: \(error.message)")
        }
    }
}

/// A decoder-only Llama transformer: token embedding (tied with the output head), `layers`
/// blocks of RMSNorm → grouped-query causal attention with RoPE → residual, RMSNorm → SwiGLU
/// MLP → residual, a final RMSNorm, and mean next-token cross-entropy.
///
/// Parameter names and layouts are those of Hugging Face's `LlamaForCausalLM` with tied
/// embeddings, so a checkpoint written by PyTorch (see `llama_reference.py`) loads directly and
/// gives the same loss and gradients.
public struct LlamaModel: TrainableModel {
    /// The hyper-parameters.
    public let configuration: LlamaConfiguration
    /// The weights, in ``LlamaConfiguration/parameterLayout()`` order.
    public var parameters: ParameterSet

    /// A freshly initialized model: matrices ~ N(0, `initStandardDeviation`²), norm scales 1.
    /// - Parameters:
    ///   - configuration: Sizes; validated.
    ///   - seed: Seeds a ``Xoshiro256StarStar`` that draws the matrices in layout order,
    ///     row-major (see Documentation/RandomNumbers.md).
    ///   - initStandardDeviation: Standard deviation of the matrix entries (GPT-2's 0.02).
    /// - Throws: ``TensorError`` `.invalidConfiguration`.
    public init(configuration: LlamaConfiguration, seed: UInt64, initStandardDeviation: Float = 0.02) throws {
        let layout = try configuration.parameterLayout()
        var generator = Xoshiro256StarStar(seed: seed)
        var scalars = [Float](repeating: 0, count: layout.scalarCount)
        for descriptor in layout.descriptors {
            if descriptor.shape.count == 1 {
                for i in descriptor.range { scalars[i] = 1 }
            } else {
                for i in descriptor.range {
                    scalars[i] = Float(Double(initStandardDeviation) * generator.nextStandardNormal())
                }
            }
        }
        self.configuration = configuration
        self.parameters = try ParameterSet(layout: layout, scalars: scalars)
    }

    /// A model with the given weights.
    /// - Throws: ``TensorError`` `.invalidConfiguration`, or `.shapeMismatch` / `.missingTensor`
    ///   naming the first tensor whose name or shape differs from the configuration's layout.
    public init(configuration: LlamaConfiguration, parameters: ParameterSet) throws {
        let layout = try configuration.parameterLayout()
        guard parameters.layout == layout else {
            for expected in layout.descriptors {
                guard let actual = parameters.layout[expected.name] else {
                    throw TensorError(.missingTensor, "Llama: parameter '\(expected.name)' is missing")
                }
                guard actual.shape == expected.shape else {
                    throw TensorError(.shapeMismatch, "Llama: parameter '\(expected.name)' has shape \(Shape.describe(actual.shape)), the configuration needs \(Shape.describe(expected.shape))")
                }
            }
            // Same tensors in another order, or extra tensors: reorder into the canonical layout.
            var scalars: [Float] = []
            scalars.reserveCapacity(layout.scalarCount)
            for expected in layout.descriptors { scalars += parameters[expected.name] ?? [] }
            self.configuration = configuration
            self.parameters = try ParameterSet(layout: layout, scalars: scalars)
            return
        }
        self.configuration = configuration
        self.parameters = parameters
    }

    /// The number of trainable scalars.
    public var parameterCount: Int { parameters.scalarCount }

    public func loss(_ batch: TokenBatch) throws -> Float {
        let tape = GradientTape()
        let weights = try makeWeights(tape: tape, trainable: false)
        return try forward(batch, weights: weights).value.scalarValue ?? .nan
    }

    public func lossAndGradients(_ batch: TokenBatch) throws -> (loss: Float, gradients: ParameterSet) {
        let tape = GradientTape()
        let weights = try makeWeights(tape: tape, trainable: true)
        let loss = try forward(batch, weights: weights)
        let grads = try tape.gradients(of: loss, withRespectTo: weights)
        var flat = [Float](repeating: 0, count: parameters.scalarCount)
        flat.withUnsafeMutableBufferPointer { out in
            for (descriptor, g) in zip(parameters.layout.descriptors, grads) {
                g.withUnsafeBufferPointer { src in
                    (out.baseAddress! + descriptor.offset).update(from: src.baseAddress!, count: descriptor.count)
                }
            }
        }
        return (loss.value.scalarValue ?? .nan, try ParameterSet(layout: parameters.layout, scalars: flat))
    }

    /// One tape variable per parameter, in layout order.
    private func makeWeights(tape: GradientTape, trainable: Bool) throws -> [Variable] {
        try parameters.withUnsafeBufferPointer { flat in
            try parameters.layout.descriptors.map { d in
                let t = try Tensor(shape: d.shape, scalars: Array(flat[d.range]))
                return trainable ? tape.variable(t) : tape.constant(t)
            }
        }
    }

    /// Checks a batch against the configuration.
    public func validate(_ batch: TokenBatch) throws {
        guard batch.sequenceLength <= configuration.contextLength else {
            throw TensorError(.invalidArgument, "Llama: sequence length \(batch.sequenceLength) exceeds the context length \(configuration.contextLength)")
        }
        if let bad = batch.tokens.firstIndex(where: { Int($0) >= configuration.vocabularySize }) {
            throw TensorError(.indexOutOfRange, "Llama: token \(batch.tokens[bad]) at flat position \(bad) is outside the vocabulary 0..<\(configuration.vocabularySize)")
        }
    }

    /// The differentiable forward pass; returns the scalar mean cross-entropy.
    func forward(_ batch: TokenBatch, weights w: [Variable]) throws -> Variable {
        try validate(batch)
        let c = configuration
        let B = batch.batchSize, T = batch.sequenceLength, hd = c.headDimension
        let H = c.headCount, Hkv = c.keyValueHeadCount
        let eps = c.normEpsilon
        let embed = w[0], finalNorm = w[1]
        var x = try embed.embedding(indices: batch.inputs, indexShape: [B * T])  // [B·T, D]
        for layer in 0..<c.layerCount {
            let p = 2 + layer * 9
            let (inNorm, postNorm, wq, wk, wv, wo, wg, wu, wd) =
                (w[p], w[p + 1], w[p + 2], w[p + 3], w[p + 4], w[p + 5], w[p + 6], w[p + 7], w[p + 8])
            let h = try x.rmsNorm(weight: inNorm, epsilon: eps)
            let q = try h.linear(wq).reshaped(to: [B, T, H, hd]).rotaryEmbedding(theta: c.ropeTheta)
            let k = try h.linear(wk).reshaped(to: [B, T, Hkv, hd]).rotaryEmbedding(theta: c.ropeTheta)
            let v = try h.linear(wv).reshaped(to: [B, T, Hkv, hd])
            let attention = try Variable.causalAttention(query: q, key: k, value: v).reshaped(to: [B * T, H * hd])
            x = try x + attention.linear(wo)
            let h2 = try x.rmsNorm(weight: postNorm, epsilon: eps)
            let m = try Variable.swiGLU(gate: h2.linear(wg), up: h2.linear(wu))
            x = try x + m.linear(wd)
        }
        let logits = try x.rmsNorm(weight: finalNorm, epsilon: eps).linear(embed)  // tied head: x · Eᵀ
        return try logits.crossEntropy(targets: batch.targets)
    }
}
