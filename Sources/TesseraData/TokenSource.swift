public import TesseraCore

/// A read-only collection of fixed-length token samples.
///
/// Sample `i` is `tokens[i·L ..< (i+1)·L + 1]` for sample length L: L inputs and the L targets
/// shifted by one, overlapping the next sample by one token. Implementations are immutable and
/// safe to read from several threads.
public protocol TokenSource: Sendable {
    /// Tokens per sample that the model predicts (L); each sample reads L + 1 tokens.
    var sampleLength: Int { get }
    /// Number of whole samples.
    var sampleCount: Int { get }
    /// Writes sample `index` (L + 1 tokens) into `buffer`.
    /// - Throws: ``DataError`` `.sampleOutOfRange` for an index past ``sampleCount``.
    func readSample(_ index: Int, into buffer: UnsafeMutableBufferPointer<Int32>) throws
}

extension TokenSource {
    /// The samples `indices`, as one batch: each token is copied once, from the source straight
    /// into the batch's storage.
    /// - Throws: ``DataError`` `.sampleOutOfRange`, or `.invalidArgument` for an empty list.
    public func batch<S: Sequence>(_ indices: S) throws -> TokenBatch where S.Element: BinaryInteger {
        let list = indices.map { Int(clamping: $0) }
        guard !list.isEmpty else { throw DataError(.invalidArgument, "a batch needs at least one sample") }
        let row = sampleLength + 1
        let tokens = try [Int32](unsafeUninitializedCapacity: list.count * row) { buffer, initialized in
            for (r, index) in list.enumerated() {
                try readSample(index, into: UnsafeMutableBufferPointer(rebasing: buffer[(r * row)..<((r + 1) * row)]))
            }
            initialized = list.count * row
        }
        return try TokenBatch(batchSize: list.count, sequenceLength: sampleLength, tokens: tokens)
    }

    func checkSample(_ index: Int, _ buffer: UnsafeMutableBufferPointer<Int32>) throws {
        guard index >= 0, index < sampleCount else {
            throw DataError(.sampleOutOfRange, "sample \(index) is outside 0..<\(sampleCount)")
        }
        guard buffer.count >= sampleLength + 1 else {
            throw DataError(.invalidArgument, "buffer of \(buffer.count) tokens is shorter than a sample (\(sampleLength + 1))")
        }
    }
}

/// Where token ids live in a mapped file.
enum TokenWidth: Sendable {
    case uint16, uint32
    var size: Int { self == .uint16 ? 2 : 4 }
}

/// Tokens stored as little-endian unsigned integers in a memory-mapped file region.
struct MappedTokens: Sendable {
    let file: MappedFile
    let offset: Int
    let count: Int
    let width: TokenWidth

    /// Copies tokens `start..<start+n` into `out`, widening to Int32 (one copy).
    func copy(from start: Int, count n: Int, into out: UnsafeMutablePointer<Int32>) {
        let base = file.bytes.baseAddress! + offset
        switch width {
        case .uint16:
            let p = base + 2 * start
            for i in 0..<n { out[i] = Int32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .uint32:
            let p = base + 4 * start
            for i in 0..<n {
                // Ids above Int32.max cannot be embedded; clamp to -1 so TokenBatch rejects them.
                let v = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                out[i] = v <= UInt32(Int32.max) ? Int32(v) : -1
            }
        }
    }
}
