public import TesseraCore

/// An inner-loop optimizer: updates parameters in place from their gradients.
///
/// Contract: `step` reads `gradients` with exactly the layout of `parameters`, updates
/// `parameters` in place and advances internal state (moments, step count) kept as stored
/// properties, so an optimizer value can be copied, saved and resumed.
public protocol Optimizer: Sendable {
    /// Applies one update.
    /// - Throws: ``OptimizerError`` `.layoutMismatch` if the gradients' layout differs, or
    ///   `.nonFiniteGradient` if a gradient is NaN or infinite (the parameters are untouched).
    mutating func step(_ parameters: inout ParameterSet, gradients: ParameterSet) throws
}

/// An error raised by an optimizer.
public struct OptimizerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable { case layoutMismatch, nonFiniteGradient, invalidHyperparameter }
        fileprivate let base: Base
        /// The gradients' layout differs from the parameters' (or the optimizer's state).
        public static let layoutMismatch = Code(base: .layoutMismatch)
        /// A gradient is NaN or infinite.
        public static let nonFiniteGradient = Code(base: .nonFiniteGradient)
        /// A hyper-parameter is out of range.
        public static let invalidHyperparameter = Code(base: .invalidHyperparameter)
        public var description: String { base.rawValue }
    }
    /// What went wrong.
    public let code: Code
    /// Details naming the tensor or value.
    public let message: String
    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "OptimizerError.\(code): \(message)" }
}

/// Helpers shared by optimizers.
enum OptimizerChecks {
    static func requireCompatible(_ parameters: ParameterSet, _ gradients: ParameterSet) throws {
        guard parameters.layout == gradients.layout else {
            throw OptimizerError(.layoutMismatch, "gradients have a different layout from the parameters (\(gradients.count) vs \(parameters.count) tensors)")
        }
    }

    static func requireFinite(_ gradients: ParameterSet) throws {
        guard !gradients.isFinite, let bad = firstNonFiniteTensor(gradients) else { return }
        throw OptimizerError(.nonFiniteGradient, "gradient of '\(bad)' contains NaN or infinity")
    }

    static func firstNonFiniteTensor(_ set: ParameterSet) -> String? {
        set.withUnsafeBufferPointer { flat in
            for d in set.layout.descriptors {
                for i in d.range where !flat[i].isFinite { return d.name }
            }
            return nil
        }
    }
}
