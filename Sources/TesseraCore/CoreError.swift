/// An error raised by ``TesseraCore`` for something a caller or a peer got wrong.
///
/// Match on ``code`` to decide what to do; ``message`` is written for a log line and names the
/// tensor, dimension or value at fault.
public struct CoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, in a form a caller can `switch` on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case shapeMismatch, layoutMismatch, duplicateName, unknownName, invalidArgument
        }
        fileprivate let base: Base
        /// Two tensors or parameter sets whose shapes must agree do not.
        public static let shapeMismatch = Code(base: .shapeMismatch)
        /// Two parameter sets do not have the same names, order and shapes.
        public static let layoutMismatch = Code(base: .layoutMismatch)
        /// A parameter name occurs twice.
        public static let duplicateName = Code(base: .duplicateName)
        /// A parameter name is not in the set.
        public static let unknownName = Code(base: .unknownName)
        /// A numeric argument is out of its valid range.
        public static let invalidArgument = Code(base: .invalidArgument)
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation naming the tensor or value at fault.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "CoreError.\(code): \(message)" }
}
