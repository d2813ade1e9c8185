/// An error raised by ``TesseraData``: a bad sampling request, or a token file that is
/// truncated, corrupt, or lies about itself.
public struct DataError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, in a form a caller can `switch` on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case invalidArgument, fileSystem, badMagic, unsupportedVersion, truncated, sizeMismatch
            case malformedHeader, unsupportedDType, sampleOutOfRange, invalidManifest
        }
        fileprivate let base: Base
        /// A count, size or configuration value is out of range.
        public static let invalidArgument = Code(base: .invalidArgument)
        /// A file cannot be opened, mapped or written.
        public static let fileSystem = Code(base: .fileSystem)
        /// A shard does not start with the expected magic number.
        public static let badMagic = Code(base: .badMagic)
        /// A shard's format version is not one Tessera reads.
        public static let unsupportedVersion = Code(base: .unsupportedVersion)
        /// A file ends before its header says it should.
        public static let truncated = Code(base: .truncated)
        /// A header's token count disagrees with the file's size.
        public static let sizeMismatch = Code(base: .sizeMismatch)
        /// A header cannot be parsed.
        public static let malformedHeader = Code(base: .malformedHeader)
        /// A numpy array of a dtype or layout Tessera does not read.
        public static let unsupportedDType = Code(base: .unsupportedDType)
        /// A sample index beyond the source's samples.
        public static let sampleOutOfRange = Code(base: .sampleOutOfRange)
        /// A shard directory's manifest is missing, malformed or disagrees with its files.
        public static let invalidManifest = Code(base: .invalidManifest)
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// Details naming the file, field or value.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "DataError.\(code): \(message)" }
}
