/// An error raised while encoding, decoding or aggregating updates.
///
/// Decoding untrusted bytes fails with one of these, naming the tensor and the reason; it never
/// traps, hangs or allocates past the configured ``DecodeLimits``.
public struct CodecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, in a form a caller can `switch` on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case invalidConfiguration, nonFiniteInput, truncated, badMagic, unsupportedVersion
            case checksumMismatch, sizeLimitExceeded, malformedHeader, layoutMismatch
            case indexOutOfRange, duplicateIndex, wrongIndexCount, nonFiniteValue, valueOutOfBounds
            case decompressionFailed, trailingBytes, metadataMismatch, emptyAggregation
        }
        fileprivate let base: Base
        /// A codec or aggregator setting is out of range.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// The tensor to encode holds NaN or infinity.
        public static let nonFiniteInput = Code(base: .nonFiniteInput)
        /// The bytes end before the structure they describe.
        public static let truncated = Code(base: .truncated)
        /// The bytes do not start with the wire format's magic.
        public static let badMagic = Code(base: .badMagic)
        /// The wire format version is not one this build reads.
        public static let unsupportedVersion = Code(base: .unsupportedVersion)
        /// The checksum does not match the contents.
        public static let checksumMismatch = Code(base: .checksumMismatch)
        /// A declared or decompressed size exceeds ``DecodeLimits``.
        public static let sizeLimitExceeded = Code(base: .sizeLimitExceeded)
        /// The header is inconsistent (bad enum value, impossible chunking, bad string).
        public static let malformedHeader = Code(base: .malformedHeader)
        /// The tensor table does not match the expected model layout.
        public static let layoutMismatch = Code(base: .layoutMismatch)
        /// An index is outside its chunk.
        public static let indexOutOfRange = Code(base: .indexOutOfRange)
        /// An index repeats within a chunk (an attempt to vote twice).
        public static let duplicateIndex = Code(base: .duplicateIndex)
        /// A chunk does not hold exactly k indices.
        public static let wrongIndexCount = Code(base: .wrongIndexCount)
        /// A value, scale or lookup entry is NaN or infinite.
        public static let nonFiniteValue = Code(base: .nonFiniteValue)
        /// A value, scale or lookup entry exceeds ``DecodeLimits/maximumMagnitude``.
        public static let valueOutOfBounds = Code(base: .valueOutOfBounds)
        /// zstd rejected the body.
        public static let decompressionFailed = Code(base: .decompressionFailed)
        /// Bytes remain after the last structure.
        public static let trailingBytes = Code(base: .trailingBytes)
        /// Metadata (window, uid, …) does not match what the caller expected.
        public static let metadataMismatch = Code(base: .metadataMismatch)
        /// An aggregation was asked of no updates.
        public static let emptyAggregation = Code(base: .emptyAggregation)
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// The tensor concerned, if any.
    public let tensor: String?
    /// A human-readable explanation.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, tensor: String? = nil, _ message: String) {
        self.code = code
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        "CodecError.\(code)" + (tensor.map { " [\($0)]" } ?? "") + ": \(message)"
    }
}
