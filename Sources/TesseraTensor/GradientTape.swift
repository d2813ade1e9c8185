import TesseraCore

/// Records differentiable operations on ``Variable``s and computes gradients by reverse-mode
/// automatic differentiation.
///
/// ```swift
/// let tape = GradientTape()
/// let w = tape.variable(weights)            // requires a gradient
/// let x = tape.constant(inputs)             // does not
/// let loss = try x.linear(w).applying(.silu).sum()
/// let grads = try tape.gradients(of: loss, withRespectTo: [w])
/// ```
///
/// Operations record a backward closure only when an input requires a gradient, and each
/// closure keeps just the tensors its gradient needs. A tape is differentiated once: the
/// backward pass frees what it recorded as it goes. A tape is not thread-safe; use one per task.
public final class GradientTape {
    typealias Backward = (Tensor, GradientTape) throws -> Void

    private var backwards: [Backward?] = []
    private var gradients: [Tensor?] = []
    private var shapes: [[Int]] = []
    private var differentiated = false

    /// Creates an empty tape.
    public init() {}

    /// The number of recorded nodes (leaves and operations).
    public var nodeCount: Int { backwards.count }

    /// A leaf whose gradient can be asked for.
    public func variable(_ value: Tensor) -> Variable {
        Variable(value: value, tape: self, index: appendNode(shape: value.shape, backward: nil))
    }

    /// A leaf that never gets a gradient (inputs, masks).
    public func constant(_ value: Tensor) -> Variable { Variable(value: value, tape: nil, index: -1) }

    private func appendNode(shape: [Int], backward: Backward?) -> Int {
        backwards.append(backward)
        gradients.append(nil)
        shapes.append(shape)
        return backwards.count - 1
    }

    /// Records `value` as the result of an operation on `inputs`. If no input requires a
    /// gradient the result is a constant and nothing is recorded.
    static func record(_ value: Tensor, inputs: [Variable], backward: @escaping Backward) throws -> Variable {
        var tape: GradientTape?
        for input in inputs {
            guard let t = input.tape else { continue }
            if let existing = tape, existing !== t {
                throw TensorError(.invalidArgument, "operation mixes variables from two different gradient tapes")
            }
            tape = t
        }
        guard let tape else { return Variable(value: value, tape: nil, index: -1) }
        return Variable(value: value, tape: tape, index: tape.appendNode(shape: value.shape, backward: backward))
    }

    /// Adds `gradient` into the accumulated gradient of `variable` (no-op for constants).
    func accumulate(_ gradient: Tensor, into variable: Variable) throws {
        guard variable.tape === self else { return }
        let i = variable.index
        guard gradient.shape == shapes[i] else {
            throw TensorError(.shapeMismatch, "internal: gradient \(Shape.describe(gradient.shape)) for a node of shape \(Shape.describe(shapes[i]))")
        }
        if var existing = gradients[i] {
            gradients[i] = nil
            try existing.add(gradient)
            gradients[i] = existing
        } else {
            gradients[i] = gradient
        }
    }

    /// The gradients of the scalar `output` with respect to each of `variables`, in order.
    ///
    /// A variable that does not influence `output` gets a zero gradient.
    /// - Parameters:
    ///   - output: A one-element variable recorded on this tape (e.g. a loss).
    ///   - variables: Leaves or intermediate variables of this tape.
    ///   - seed: The gradient of the final objective with respect to `output` (default 1).
    /// - Throws: ``TensorError`` `.gradientUnavailable` if `output` is not on this tape or the tape
    ///   was already differentiated; `.shapeMismatch` if `output` has more than one element.
    /// - Complexity: about twice the cost of the recorded forward computation.
    public func gradients(of output: Variable, withRespectTo variables: [Variable], seed: Float = 1) throws -> [Tensor] {
        guard !differentiated else {
            throw TensorError(.gradientUnavailable, "this gradient tape was already differentiated; record a new one")
        }
        guard output.tape === self else {
            throw TensorError(.gradientUnavailable, "the output was not computed on this tape from a variable that requires a gradient")
        }
        guard output.value.scalarCount == 1 else {
            throw TensorError(.shapeMismatch, "gradients(of:): output must have one element, got \(Shape.describe(output.value.shape))")
        }
        for v in variables where v.tape !== self {
            throw TensorError(.gradientUnavailable, "a variable passed to gradients(of:withRespectTo:) is a constant or belongs to another tape")
        }
        differentiated = true
        let keep = Set(variables.map(\.index))
        gradients[output.index] = try Tensor(repeating: seed, shape: output.value.shape)
        for i in stride(from: output.index, through: 0, by: -1) {
            guard let g = gradients[i] else {
                backwards[i] = nil
                continue
            }
            if let backward = backwards[i] {
                backwards[i] = nil
                try backward(g, self)
                if !keep.contains(i) { gradients[i] = nil }
            }
        }
        backwards.removeAll()
        return try variables.map { v in try gradients[v.index] ?? Tensor(zeros: v.value.shape) }
    }
}

/// A tensor value taking part in a ``GradientTape`` computation.
///
/// Operations on variables compute their value immediately (eagerly) and, when an input
/// requires a gradient, record how to propagate gradients back.
public struct Variable {
    /// The computed value.
    public let value: Tensor
    let tape: GradientTape?
    let index: Int

    /// The shape of ``value``.
    public var shape: [Int] { value.shape }
    /// Whether gradients flow back through this variable.
    public var requiresGradient: Bool { tape != nil }
}

@available(*, unavailable)
extension Variable: Sendable {}

@available(*, unavailable)
extension GradientTape: Sendable {}
