import Synchronization

/// How the kept positions of each chunk are written.
public enum IndexCoding: UInt8, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// Each local index in 12 bits, two per 3 bytes (chunks of at most 4,096 elements).
    case packed12 = 0
    /// Golomb–Rice codes of the gaps between ascending local indices, one parameter per tensor.
    case rice = 1

    public var description: String { self == .packed12 ? "12-bit packed" : "Rice-coded gaps" }
}

/// Reads a little-endian bit stream (bit i is bit (i mod 8) of byte ⌊i/8⌋), 64 bits at a time, with bounds checks on every read.
struct BitReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0  // in bits
    let bitCount: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.bitCount = bytes.count * 8
    }

    /// Moves to bit `position` (≤ ``bitCount``).
    mutating func seek(_ position: Int) { self.position = position }

    /// The next bits from `position`, LSB first; at least min(57, remaining) of them are valid
    /// (bits past the end read as zero).
    @inline(__always)
    private func peek() -> UInt64 {
        let byte = position >> 3
        var word: UInt64
        if byte + 8 <= bytes.count {
            word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: byte, as: UInt64.self))
        } else {
            word = 0
            var shift: UInt64 = 0
            for b in byte..<bytes.count {
                word |= UInt64(bytes[b]) << shift
                shift += 8
            }
        }
        return word >> UInt64(position & 7)
    }

    @inline(__always)
    mutating func readBit() -> UInt64? {
        guard position < bitCount else { return nil }
        let bit = peek() & 1
        position += 1
        return bit
    }

    /// Reads `bits` (≤ 32) bits; `nil` past the end.
    @inline(__always)
    mutating func read(bits: Int) -> UInt64? {
        guard bits <= bitCount - position else { return nil }
        if bits == 0 { return 0 }
        let value = peek() & ((UInt64(1) << UInt64(bits)) - 1)
        position += bits
        return value
    }

    /// Counts one-bits up to the terminating zero; `nil` past the end or above `limit`.
    @inline(__always)
    mutating func readUnary(limit: Int) -> Int? {
        var count = 0
        while true {
            let available = min(56, bitCount - position)
            guard available > 0 else { return nil }
            let ones = (~peek()).trailingZeroBitCount
            if ones < available {
                count += ones
                position += ones + 1
                return count <= limit ? count : nil
            }
            count += available
            position += available
            if count > limit { return nil }
        }
    }
}

enum IndexStream {
    // MARK: 12-bit packing

    static func packed12ByteCount(_ count: Int) -> Int { (count + 1) / 2 * 3 }

    static func pack12(_ indices: UnsafeBufferPointer<UInt16>) -> [UInt8] {
        let n = indices.count
        return [UInt8](unsafeUninitializedCapacity: packed12ByteCount(n)) { out, written in
            var o = 0, i = 0
            while i < n {
                let lo = UInt32(indices[i]), hi = i + 1 < n ? UInt32(indices[i + 1]) : 0
                out[o] = UInt8(lo & 0xFF)
                out[o + 1] = UInt8(((lo >> 8) & 0xF) | ((hi & 0xF) << 4))
                out[o + 2] = UInt8((hi >> 4) & 0xFF)
                o += 3
                i += 2
            }
            written = o
        }
    }

    /// Unpacks `count` 12-bit indices (byte count already checked).
    static func unpack12(_ bytes: UnsafeRawBufferPointer, count n: Int, into out: UnsafeMutablePointer<UInt16>, tensor: String) throws {
        var i = 0, o = 0
        while i < n {
            let b0 = UInt16(bytes[o]), b1 = UInt16(bytes[o + 1]), b2 = UInt16(bytes[o + 2])
            out[i] = b0 | ((b1 & 0xF) << 8)
            if i + 1 < n {
                out[i + 1] = (b1 >> 4) | (b2 << 4)
            } else if (b1 >> 4) != 0 || b2 != 0 {
                throw CodecError(.malformedHeader, tensor: tensor, "non-zero padding after the last 12-bit index")
            }
            i += 2
            o += 3
        }
    }

    // MARK: Rice coding

    /// The Rice parameter in 0…15 that minimizes the coded size of the gaps counted in
    /// `histogram` (`histogram[g]` gaps of value g); the smallest such parameter on a tie.
    static func bestRiceParameter(histogram: [Int]) -> Int {
        var best = 0, bestBits = Int.max
        for p in 0...15 {
            let bits = riceBitCount(histogram: histogram, parameter: p)
            if bits < bestBits {
                bestBits = bits
                best = p
            }
        }
        return best
    }

    /// Bits of the Rice codes (parameter `p`) of the gaps counted in `histogram`.
    static func riceBitCount(histogram: [Int], parameter p: Int) -> Int {
        var bits = 0
        for (gap, count) in histogram.enumerated() where count > 0 { bits += count * (p + 1 + (gap >> p)) }
        return bits
    }

    /// Rice codes of `gaps` with parameter `p`: per gap g, ⌊g / 2ᵖ⌋ one-bits, a zero-bit, then
    /// the low p bits of g (LSB first). `bitCount` is the exact length (``riceBitCount``).
    static func riceEncode(_ gaps: UnsafeBufferPointer<UInt16>, parameter p: Int, bitCount: Int) -> [UInt8] {
        let byteCount = (bitCount + 7) / 8
        // 8 spare bytes: every flush stores a whole 64-bit word.
        var out = [UInt8](repeating: 0, count: byteCount + 8)
        out.withUnsafeMutableBytes { raw in
            let mask = (UInt64(1) << UInt64(p)) - 1
            var accumulator: UInt64 = 0
            var filled: UInt64 = 0  // < 8 between codes
            var offset = 0
            for g in gaps {
                var q = UInt64(g) >> UInt64(p)
                // A unary run longer than 32 bits (only with small p) goes out 32 ones at a time.
                while q > 32 {
                    accumulator |= UInt64(0xFFFF_FFFF) << filled
                    filled += 32
                    raw.storeBytes(of: accumulator.littleEndian, toByteOffset: offset, as: UInt64.self)
                    offset &+= Int(filled >> 3)
                    accumulator = filled >= 64 ? 0 : accumulator >> (filled & ~7)
                    filled &= 7
                    q -= 32
                }
                // q ones, a zero, then the remainder: at most 32 + 1 + 15 = 48 bits, + 7 pending.
                let code = ((UInt64(1) << q) - 1) | ((UInt64(g) & mask) << (q + 1))
                accumulator |= code << filled
                filled += q + 1 + UInt64(p)
                raw.storeBytes(of: accumulator.littleEndian, toByteOffset: offset, as: UInt64.self)
                offset &+= Int(filled >> 3)
                accumulator = (filled & ~7) >= 64 ? 0 : accumulator >> (filled & ~7)
                filled &= 7
            }
            if filled > 0 { raw.storeBytes(of: accumulator.littleEndian, toByteOffset: offset, as: UInt64.self) }
        }
        out.removeLast(8)
        return out
    }

    /// Decodes `chunkCount × k` Rice-coded indices, checking range and ascending order per chunk
    /// and that the stream ends exactly (zero padding only).
    static func riceDecode(
        _ bytes: UnsafeRawBufferPointer, parameter p: Int, chunkCount: Int, k: Int, chunkSize: Int,
        into out: UnsafeMutablePointer<UInt16>, tensor: String
    ) throws {
        var decoder = RiceDecoder(bytes, parameter: p, k: k, chunkSize: chunkSize, tensor: tensor)
        try decoder.decode(chunks: 0..<chunkCount, into: out)
        try decoder.finish()
    }

    /// Checks 12-bit indices: in range and strictly ascending within each chunk.
    static func validateAscending(_ indices: UnsafePointer<UInt16>, chunkCount: Int, k: Int, chunkSize: Int, tensor: String) throws {
        for chunk in 0..<chunkCount {
            var previous = -1
            for j in 0..<k {
                let index = Int(indices[chunk * k + j])
                guard index < chunkSize else {
                    throw CodecError(.indexOutOfRange, tensor: tensor, "index \(index) in chunk \(chunk) is outside 0..<\(chunkSize)")
                }
                guard index != previous else {
                    throw CodecError(.duplicateIndex, tensor: tensor, "index \(index) repeats in chunk \(chunk)")
                }
                guard index > previous else {
                    throw CodecError(.malformedHeader, tensor: tensor, "indices of chunk \(chunk) are not ascending (\(previous) then \(index))")
                }
                previous = index
            }
        }
    }
}

/// Gap counts merged from the threads that select chunks (each merges its own once).
final class GapHistogram: Sendable {
    let size: Int
    private let storage: Mutex<[Int]>

    init(size: Int) {
        self.size = size
        storage = Mutex([Int](repeating: 0, count: size))
    }

    func add(_ counts: UnsafeMutablePointer<UInt32>) {
        guard size > 0 else { return }
        storage.withLock { total in
            for i in 0..<size { total[i] += Int(counts[i]) }
        }
    }

    var counts: [Int] { storage.withLock { $0 } }
}

/// Decodes a Rice-coded index stream chunk after chunk, resumable: ``decode(chunks:into:)`` for
/// consecutive ranges of chunks (so a consumer can use the first chunks while later ones are
/// still being decoded), then ``finish()`` checks that nothing but zero padding follows.
struct RiceDecoder {
    private let bytes: UnsafeRawBufferPointer
    private let p: Int
    private let k: Int
    private let chunkSize: Int
    private let tensor: String
    private var reader: BitReader
    private var position = 0  // in bits
    /// The next chunk to decode.
    private(set) var nextChunk = 0

    init(_ bytes: UnsafeRawBufferPointer, parameter p: Int, k: Int, chunkSize: Int, tensor: String) {
        self.bytes = bytes
        self.p = p
        self.k = k
        self.chunkSize = chunkSize
        self.tensor = tensor
        self.reader = BitReader(bytes)
    }

    /// Decodes `chunks` (which must start at ``nextChunk``) into `out[chunk · k + j]`: per chunk,
    /// k strictly ascending indices below the chunk size.
    /// - Throws: ``CodecError`` `.truncated` or `.indexOutOfRange`.
    mutating func decode(chunks: Range<Int>, into out: UnsafeMutablePointer<UInt16>) throws {
        precondition(chunks.lowerBound == nextChunk, "Rice chunks must be decoded in order")
        let limit = (chunkSize >> p) + 1
        let mask = (UInt64(1) << UInt64(p)) - 1
        let byteCount = bytes.count
        var position = self.position
        defer { self.position = position }
        for chunk in chunks {
            var previous = -1
            for j in 0..<k {
                var q = 0, r = 0
                let byte = position >> 3
                var fast = false
                if byte + 8 <= byteCount {
                    // Fast path: the whole code lies in one in-bounds 64-bit load (≥ 57 bits).
                    let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: byte, as: UInt64.self)) >> UInt64(position & 7)
                    let ones = (~word).trailingZeroBitCount
                    if ones < 56, ones + 1 + p <= 57 {
                        guard ones <= limit else {
                            throw CodecError(.truncated, tensor: tensor, "Rice stream ends or runs away in chunk \(chunk)")
                        }
                        q = ones
                        r = Int(truncatingIfNeeded: (word >> UInt64(ones + 1)) & mask)
                        position += ones + 1 + p
                        fast = true
                    }
                }
                if !fast {
                    reader.seek(position)
                    guard let unary = reader.readUnary(limit: limit) else {
                        throw CodecError(.truncated, tensor: tensor, "Rice stream ends or runs away in chunk \(chunk)")
                    }
                    guard let remainder = reader.read(bits: p) else {
                        throw CodecError(.truncated, tensor: tensor, "Rice stream ends in chunk \(chunk)")
                    }
                    q = unary
                    r = Int(remainder)
                    position = reader.position
                }
                let index = previous + 1 + (q << p) + r
                guard index < chunkSize else {
                    throw CodecError(.indexOutOfRange, tensor: tensor, "index \(index) in chunk \(chunk) is outside 0..<\(chunkSize)")
                }
                out[chunk * k + j] = UInt16(index)
                previous = index
            }
            nextChunk = chunk + 1
        }
    }

    /// Checks the end of the stream: fewer than 8 bits left, all zero.
    /// - Throws: ``CodecError`` `.trailingBytes` or `.malformedHeader`.
    mutating func finish() throws {
        reader.seek(position)
        let remaining = reader.bitCount - reader.position
        guard remaining < 8 else {
            throw CodecError(.trailingBytes, tensor: tensor, "\(remaining / 8) bytes after the last Rice code")
        }
        while let bit = reader.readBit() {
            guard bit == 0 else { throw CodecError(.malformedHeader, tensor: tensor, "non-zero padding after the last Rice code") }
        }
    }
}
