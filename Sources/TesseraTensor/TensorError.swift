/// An error raised by ``TesseraTensor``: a shape that does not fit an operation, an invalid
/// model configuration, an out-of-range token, or a malformed safetensors file.
///
/// Match on ``code``; ``message`` names the operation, tensor and dimension at fault.
public struct TensorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, in a form a caller can `switch` on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case shapeMismatch, invalidArgument, invalidConfiguration, indexOutOfRange
            case malformedHeader, offsetOutOfRange, overlappingTensors, truncatedFile
            case unsupportedDType, missingTensor, fileSystem, gradientUnavailable
        }
        fileprivate let base: Base
        /// Operand shapes are incompatible (the message says which dimension).
        public static let shapeMismatch = Code(base: .shapeMismatch)
        /// An argument is outside its valid range (axis, count, size).
        public static let invalidArgument = Code(base: .invalidArgument)
        /// A model configuration is inconsistent (e.g. `dim` not divisible by `heads`).
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// An index (token id, gather index, target class) is out of range.
        public static let indexOutOfRange = Code(base: .indexOutOfRange)
        /// A safetensors header is not valid JSON of the expected form, or lies about its size.
        public static let malformedHeader = Code(base: .malformedHeader)
        /// A safetensors tensor's byte range lies outside the data section or has the wrong length.
        public static let offsetOutOfRange = Code(base: .offsetOutOfRange)
        /// Two safetensors tensors share bytes, or the data section has holes.
        public static let overlappingTensors = Code(base: .overlappingTensors)
        /// A file ends before its header or data does.
        public static let truncatedFile = Code(base: .truncatedFile)
        /// A safetensors dtype Tessera does not read (or cannot convert as asked).
        public static let unsupportedDType = Code(base: .unsupportedDType)
        /// A tensor the caller needs is absent from a file or parameter set.
        public static let missingTensor = Code(base: .missingTensor)
        /// Reading or writing a file failed.
        public static let fileSystem = Code(base: .fileSystem)
        /// A gradient was asked of a variable that does not take part in the computation.
        public static let gradientUnavailable = Code(base: .gradientUnavailable)
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation naming the tensor and dimension at fault.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "TensorError.\(code): \(message)" }
}
