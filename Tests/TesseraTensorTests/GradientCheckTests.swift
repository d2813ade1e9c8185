import Testing
import TesseraCore
@testable import TesseraTensor

/// Every differentiable operation's gradient against central finite differences.
///
/// Objective: L(x) = Σ f(x) ⊙ R for a fixed random R, evaluated in Double from the float32
/// output. Step h = 1e-2 (float32 forward passes); an analytic entry a and numeric entry n
/// agree when |a − n| ≤ 1e-3 + 2e-2 · max(|a|, |n|).
@Suite("Gradient checks (central finite differences)")
struct GradientCheckTests {
    static let step: Float = 1e-2
    static let absoluteTolerance = 1e-3
    static let relativeTolerance = 2e-2

    /// A random tensor with entries in ±(low…high) (sign random unless `positive`).
    static func input(_ shape: [Int], seed: UInt64, low: Float = 0.1, high: Float = 1.0, positive: Bool = false) -> Tensor {
        var g = Xoshiro256StarStar(seed: seed)
        let count = shape.reduce(1, *)
        let values = (0..<count).map { _ -> Float in
            let magnitude = low + (high - low) * Float(g.nextUnitDouble())
            return positive || g.next() & 1 == 0 ? magnitude : -magnitude
        }
        return try! Tensor(shape: shape, scalars: values)
    }

    static func objective(_ output: Tensor, _ weights: [Double]) -> Double {
        zip(output.scalars, weights).reduce(0) { $0 + Double($1.0) * $1.1 }
    }

    /// Checks d/dx of Σ f(inputs) ⊙ R for every element of every input (or every `sampleEvery`-th).
    static func check(
        _ name: String, _ inputs: [Tensor], sampleEvery: Int = 1, sourceLocation: SourceLocation = #_sourceLocation,
        _ f: ([Variable]) throws -> Variable
    ) throws {
        let tape = GradientTape()
        let variables = inputs.map { tape.variable($0) }
        let output = try f(variables)
        var g = Xoshiro256StarStar(seed: 99)
        let weights = (0..<output.value.scalarCount).map { _ in g.nextUnitDouble() * 2 - 1 }
        // Seed the backward pass with R: differentiate Σ output ⊙ R as a scalar variable.
        let r = try Tensor(shape: output.shape, scalars: weights.map(Float.init))
        let objectiveVariable = try (output * tape.constant(r)).sum()
        let analytic = try tape.gradients(of: objectiveVariable, withRespectTo: variables)

        for (which, input) in inputs.enumerated() {
            for i in stride(from: which % sampleEvery, to: input.scalarCount, by: sampleEvery) {
                func evaluate(_ delta: Float) throws -> Double {
                    var perturbed = inputs
                    perturbed[which].withUnsafeMutableBufferPointer { $0[i] += delta }
                    let constantTape = GradientTape()
                    return objective(try f(perturbed.map { constantTape.constant($0) }).value, weights)
                }
                let numeric = (try evaluate(step) - evaluate(-step)) / (2 * Double(step))
                let a = Double(analytic[which].scalars[i])
                let tolerance = absoluteTolerance + relativeTolerance * max(abs(a), abs(numeric))
                #expect(
                    abs(a - numeric) <= tolerance,
                    "\(name): input \(which) element \(i): analytic \(a) vs numeric \(numeric)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [BinaryOperation.add, .subtract, .multiply, .divide])
    func broadcastingArithmetic(_ operation: BinaryOperation) throws {
        let divisorSafe = operation == .divide
        let pairs: [([Int], [Int])] = [([2, 3], [2, 3]), ([2, 3], [3]), ([2, 1, 3], [4, 1]), ([3], [2, 3]), ([2, 3], [1])]
        for (k, (sa, sb)) in pairs.enumerated() {
            try Self.check("\(operation) \(sa) \(sb)", [
                Self.input(sa, seed: UInt64(k)), Self.input(sb, seed: UInt64(k + 10), low: divisorSafe ? 0.5 : 0.1, positive: divisorSafe),
            ]) { v in try Variable.binary(operation, v[0], v[1]) }
        }
    }

    @Test func scaled() throws {
        try Self.check("scaled", [Self.input([3, 4], seed: 1)]) { v in try v[0].scaled(by: -2.5) }
    }

    @Test(arguments: [UnaryFunction.exp, .log, .sqrt, .rsqrt, .silu, .gelu, .relu, .negate])
    func unary(_ function: UnaryFunction) throws {
        let needsPositive = [UnaryFunction.log, .sqrt, .rsqrt].contains(function)
        let x = Self.input([2, 5], seed: 3, low: needsPositive ? 0.5 : 0.1, high: 1.5, positive: needsPositive)
        try Self.check("\(function)", [x]) { v in try v[0].applying(function) }
    }

    @Test func reductions() throws {
        let x = Self.input([2, 3, 4], seed: 4)
        try Self.check("sum all", [x]) { v in try v[0].sum() }
        try Self.check("sum axis 1", [x]) { v in try v[0].sum(alongAxes: [1]) }
        try Self.check("sum axes 0,2 keep", [x]) { v in try v[0].sum(alongAxes: [0, 2], keepingDimensions: true) }
        try Self.check("mean axis -1", [x]) { v in try v[0].mean(alongAxes: [-1]) }
        try Self.check("mean all", [x]) { v in try v[0].mean() }
    }

    @Test func shapeOperations() throws {
        let x = Self.input([2, 3, 4], seed: 5)
        try Self.check("reshape", [x]) { v in try v[0].reshaped(to: [6, 4]) }
        try Self.check("permute", [x]) { v in try v[0].permuted([2, 0, 1]) }
        try Self.check("transpose", [x]) { v in try v[0].transposed(0, 2) }
        try Self.check("slice", [x]) { v in try v[0].slice(alongAxis: 1, 1..<3) }
        try Self.check("concatenate", [x, Self.input([2, 2, 4], seed: 6)]) { v in
            try Variable.concatenate([v[0], v[1]], alongAxis: 1)
        }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmul(_ transposes: (Bool, Bool)) throws {
        let (tl, tr) = transposes
        let a = Self.input(tl ? [4, 3] : [3, 4], seed: 7)
        let b = Self.input(tr ? [5, 4] : [4, 5], seed: 8)
        try Self.check("matmul \(transposes)", [a, b]) { v in
            try Variable.matmul(v[0], v[1], transposeLeft: tl, transposeRight: tr)
        }
        let ba = Self.input(tl ? [2, 4, 3] : [2, 3, 4], seed: 9)
        let bb = Self.input(tr ? [2, 5, 4] : [2, 4, 5], seed: 10)
        try Self.check("batchedMatmul \(transposes)", [ba, bb]) { v in
            try Variable.batchedMatmul(v[0], v[1], transposeLeft: tl, transposeRight: tr)
        }
        try Self.check("batchedMatmul shared right \(transposes)", [ba, b]) { v in
            try Variable.batchedMatmul(v[0], v[1], transposeLeft: tl, transposeRight: tr)
        }
    }

    @Test func linear() throws {
        try Self.check("linear", [Self.input([2, 3, 4], seed: 11), Self.input([5, 4], seed: 12)]) { v in try v[0].linear(v[1]) }
    }

    @Test func embedding() throws {
        let indices: [Int32] = [3, 0, 3, 1, 4, 3]
        try Self.check("embedding", [Self.input([5, 3], seed: 13)]) { v in
            try v[0].embedding(indices: indices, indexShape: [2, 3])
        }
    }

    @Test func softmaxFamily() throws {
        let x = Self.input([3, 6], seed: 14, high: 2)
        try Self.check("softmax", [x]) { v in try v[0].softmax() }
        try Self.check("logSoftmax", [x]) { v in try v[0].logSoftmax() }
    }

    @Test func rmsNorm() throws {
        try Self.check("rmsNorm", [Self.input([4, 6], seed: 15), Self.input([6], seed: 16, low: 0.5, high: 1.5)]) { v in
            try v[0].rmsNorm(weight: v[1], epsilon: 1e-5)
        }
    }

    @Test func crossEntropy() throws {
        let targets: [Int32] = [2, 0, 5, 5]
        try Self.check("crossEntropy", [Self.input([4, 7], seed: 17, high: 2)]) { v in try v[0].crossEntropy(targets: targets) }
    }

    @Test func rotaryEmbedding() throws {
        try Self.check("rotaryEmbedding", [Self.input([2, 5, 3, 4], seed: 18)]) { v in try v[0].rotaryEmbedding(theta: 100) }
    }

    @Test func swiGLU() throws {
        try Self.check("swiGLU", [Self.input([3, 5], seed: 19, high: 2), Self.input([3, 5], seed: 20)]) { v in
            try Variable.swiGLU(gate: v[0], up: v[1])
        }
    }

    @Test(arguments: [(4, 4), (4, 2), (4, 1)])
    func causalAttention(_ heads: (Int, Int)) throws {
        let (h, hkv) = heads
        let q = Self.input([2, 5, h, 4], seed: 21, high: 1.5)
        let k = Self.input([2, 5, hkv, 4], seed: 22, high: 1.5)
        let v = Self.input([2, 5, hkv, 4], seed: 23)
        try Self.check("causalAttention \(heads)", [q, k, v]) { x in
            try Variable.causalAttention(query: x[0], key: x[1], value: x[2])
        }
    }

    /// Attention shapes for the two paths: BLAS products by query blocks (head dimension 4, 140
    /// positions: blocks of 128 and 12) and the fused kernel (head dimension 16, grouped heads).
    struct AttentionShapes: Sendable, CustomTestStringConvertible {
        let query: [Int], keyValue: [Int], sampleEvery: Int
        var testDescription: String { "q \(query), kv \(keyValue)" }
    }

    @Test(
        "causalAttention on both paths (sampled entries)",
        arguments: [
            AttentionShapes(query: [1, 140, 2, 4], keyValue: [1, 140, 1, 4], sampleEvery: 13),
            AttentionShapes(query: [2, 9, 4, 16], keyValue: [2, 9, 2, 16], sampleEvery: 7),
        ])
    func attentionPaths(_ shapes: AttentionShapes) throws {
        let q = Self.input(shapes.query, seed: 41, high: 1.3)
        let k = Self.input(shapes.keyValue, seed: 42, high: 1.3)
        let v = Self.input(shapes.keyValue, seed: 43)
        try Self.check("causalAttention \(shapes.testDescription)", [q, k, v], sampleEvery: shapes.sampleEvery) { x in
            try Variable.causalAttention(query: x[0], key: x[1], value: x[2])
        }
    }

    @Test func composedGraphWithReuse() throws {
        // A variable used by several consumers accumulates gradients from each.
        try Self.check("composed", [Self.input([3, 4], seed: 24), Self.input([4], seed: 25)]) { v in
            let a = try v[0] * v[0]
            let b = try (a + v[1]).applying(.silu)
            return try (b - v[0].scaled(by: 0.5)).sum(alongAxes: [1])
        }
    }
}

@Suite("Gradient tape")
struct GradientTapeTests {
    @Test func unusedVariableGetsZeroGradient() throws {
        let tape = GradientTape()
        let x = tape.variable(try Tensor(shape: [2], scalars: [1, 2]))
        let unused = tape.variable(try Tensor(shape: [3], scalars: [1, 2, 3]))
        let y = try (x * x).sum()
        let grads = try tape.gradients(of: y, withRespectTo: [x, unused])
        #expect(grads[0].scalars == [2, 4])
        #expect(grads[1].scalars == [0, 0, 0])
    }

    @Test func secondDifferentiationThrows() throws {
        let tape = GradientTape()
        let x = tape.variable(try Tensor(shape: [2], scalars: [1, 2]))
        let y = try x.sum()
        _ = try tape.gradients(of: y, withRespectTo: [x])
        #expect { try tape.gradients(of: y, withRespectTo: [x]) } throws: { ($0 as? TensorError)?.code == .gradientUnavailable }
    }

    @Test func nonScalarOutputThrows() throws {
        let tape = GradientTape()
        let x = tape.variable(try Tensor(shape: [2], scalars: [1, 2]))
        #expect { try tape.gradients(of: x.scaled(by: 2), withRespectTo: [x]) } throws: { ($0 as? TensorError)?.code == .shapeMismatch }
    }

    @Test func mixingTapesThrows() throws {
        let a = GradientTape().variable(try Tensor(shape: [2], scalars: [1, 2]))
        let b = GradientTape().variable(try Tensor(shape: [2], scalars: [1, 2]))
        #expect { try a + b } throws: { ($0 as? TensorError)?.code == .invalidArgument }
    }

    @Test func constantsRecordNothing() throws {
        let tape = GradientTape()
        let c = tape.constant(try Tensor(shape: [2], scalars: [1, 2]))
        let y = try (c * c).sum()
        #expect(!y.requiresGradient)
        #expect(tape.nodeCount == 0)
    }
}
