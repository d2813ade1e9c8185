import Foundation
import TesseraCore

/// A token shard in llm.c's `.bin` format, memory-mapped: a header of 256 little-endian int32
/// (magic 20240520, version 1, token count, the rest zero), then the tokens as uint16.
public struct LLMCShard: TokenSource {
    /// The header magic.
    public static let magic: Int32 = 20_240_520
    /// The header version with uint16 tokens.
    public static let version: Int32 = 1
    /// Header size in bytes.
    public static let headerBytes = 256 * 4

    /// Tokens per sample (L).
    public let sampleLength: Int
    /// Tokens in the shard.
    public let tokenCount: Int
    let tokens: MappedTokens

    /// Maps and validates the shard at `path`.
    /// - Throws: ``DataError`` `.truncated`, `.badMagic`, `.unsupportedVersion`, `.sizeMismatch`,
    ///   `.fileSystem`, or `.invalidArgument` for a non-positive sample length.
    public init(path: String, sampleLength: Int) throws {
        guard sampleLength > 0 else { throw DataError(.invalidArgument, "sample length must be positive, got \(sampleLength)") }
        let file = try MappedFile(path: path)
        guard file.bytes.count >= Self.headerBytes else {
            throw DataError(.truncated, "\(path): \(file.bytes.count) bytes is shorter than the \(Self.headerBytes)-byte header")
        }
        let header = { (i: Int) in Int32(littleEndian: file.bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        guard header(0) == Self.magic else { throw DataError(.badMagic, "\(path): magic \(header(0)), expected \(Self.magic)") }
        guard header(1) == Self.version else { throw DataError(.unsupportedVersion, "\(path): version \(header(1)); Tessera reads version 1 (uint16 tokens)") }
        let count = Int(header(2))
        guard count >= 0 else { throw DataError(.malformedHeader, "\(path): negative token count \(count)") }
        let expected = Self.headerBytes + 2 * count
        guard file.bytes.count >= expected else {
            throw DataError(.truncated, "\(path): header says \(count) tokens (\(expected) bytes) but the file has \(file.bytes.count)")
        }
        guard file.bytes.count == expected else {
            throw DataError(.sizeMismatch, "\(path): header says \(count) tokens (\(expected) bytes) but the file has \(file.bytes.count)")
        }
        self.sampleLength = sampleLength
        self.tokenCount = count
        self.tokens = MappedTokens(file: file, offset: Self.headerBytes, count: count, width: .uint16)
    }

    public var sampleCount: Int { tokenCount > 0 ? (tokenCount - 1) / sampleLength : 0 }

    public func readSample(_ index: Int, into buffer: UnsafeMutableBufferPointer<Int32>) throws {
        try checkSample(index, buffer)
        tokens.copy(from: index * sampleLength, count: sampleLength + 1, into: buffer.baseAddress!)
    }

    /// Writes tokens (each < 65,536) as a shard at `path`, atomically.
    /// - Throws: ``DataError`` `.invalidArgument` for a token out of range, `.fileSystem`.
    public static func write<C: Collection>(_ tokens: C, to path: String) throws where C.Element: BinaryInteger {
        guard tokens.count <= Int(Int32.max) else { throw DataError(.invalidArgument, "too many tokens for one shard") }
        var data = [UInt8](repeating: 0, count: headerBytes)
        for (i, v) in [magic, version, Int32(tokens.count)].enumerated() {
            withUnsafeBytes(of: v.littleEndian) { data.replaceSubrange((4 * i)..<(4 * i + 4), with: $0) }
        }
        data.reserveCapacity(headerBytes + 2 * tokens.count)
        for (i, t) in tokens.enumerated() {
            guard t >= 0, t <= 65_535 else { throw DataError(.invalidArgument, "token \(t) at position \(i) does not fit uint16") }
            let v = UInt16(t)
            data.append(UInt8(v & 0xFF))
            data.append(UInt8(v >> 8))
        }
        do {
            try Data(data).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError(.fileSystem, "cannot write \(path): \(error.localizedDescription)")
        }
    }
}

/// A byte-level tokenizer: every byte is a token (vocabulary 256).
public enum ByteTokenizer {
    /// The vocabulary size.
    public static let vocabularySize = 256

    /// The tokens of `text`'s UTF-8 bytes.
    public static func encode(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } }

    /// Reads the file at `input` and writes its bytes as an llm.c shard at `output`.
    /// - Returns: The number of tokens written.
    /// - Throws: ``DataError`` `.fileSystem`.
    @discardableResult
    public static func tokenizeFile(at input: String, toShard output: String) throws -> Int {
        guard let data = FileManager.default.contents(atPath: input) else {
            throw DataError(.fileSystem, "cannot read \(input)")
        }
        try LLMCShard.write(data, to: output)
        return data.count
    }
}
