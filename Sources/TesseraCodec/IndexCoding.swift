/// How the kept positions of each chunk are written.
public enum IndexCoding: UInt8, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// Each local index in 12 bits, two per 3 bytes (chunks of at most 4,096 elements).
    case packed12 = 0
    /// Golomb–Rice codes of the gaps between ascending local indices, one parameter per tensor.
    case rice = 1

    public var description: String { self == .packed12 ? "12-bit packed" : "Rice-coded gaps" }
}

/// A little-endian bit writer: bit i of the stream is bit (i mod 8) of byte ⌊i/8⌋.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var accumulator: UInt64 = 0
    private var filled: UInt64 = 0

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    @inline(__always)
    mutating func write(_ value: UInt64, bits: UInt64) {
        // bits ≤ 32 here, so the accumulator never overflows past 64 before flushing.
        accumulator |= value << filled
        filled += bits
        while filled >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: accumulator))
            accumulator >>= 8
            filled -= 8
        }
    }

    /// Writes `count` one-bits followed by a zero-bit.
    @inline(__always)
    mutating func writeUnary(_ count: Int) {
        var remaining = count
        while remaining >= 24 {
            write((1 << 24) - 1, bits: 24)
            remaining -= 24
        }
        write((UInt64(1) << UInt64(remaining)) - 1, bits: UInt64(remaining) + 1)
    }

    mutating func finish() -> [UInt8] {
        if filled > 0 { bytes.append(UInt8(truncatingIfNeeded: accumulator)) }
        accumulator = 0
        filled = 0
        return bytes
    }
}

/// Reads what ``BitWriter`` wrote, 64 bits at a time, with bounds checks on every read.
struct BitReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0  // in bits
    let bitCount: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.bitCount = bytes.count * 8
    }

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

    /// The Rice parameter in 0…15 that minimizes the coded size of these gaps.
    static func bestRiceParameter(gaps: UnsafeBufferPointer<UInt16>) -> Int {
        var best = 0, bestBits = Int.max
        for p in 0...15 {
            var bits = gaps.count * (p + 1)
            for g in gaps { bits += Int(g) >> p }
            if bits < bestBits {
                bestBits = bits
                best = p
            }
        }
        return best
    }

    /// Gaps of ascending per-chunk indices: g₀ = i₀, gⱼ = iⱼ − iⱼ₋₁ − 1.
    static func gaps(_ indices: UnsafeBufferPointer<UInt16>, k: Int) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: indices.count) { out, written in
            for start in stride(from: 0, to: indices.count, by: max(k, 1)) {
                var previous = -1
                for j in start..<min(start + k, indices.count) {
                    out[j] = UInt16(Int(indices[j]) - previous - 1)
                    previous = Int(indices[j])
                }
            }
            written = indices.count
        }
    }

    static func riceEncode(_ gaps: UnsafeBufferPointer<UInt16>, parameter p: Int) -> [UInt8] {
        var writer = BitWriter(capacity: gaps.count * (p + 2) / 8 + 8)
        let mask = (UInt64(1) << UInt64(p)) - 1
        for g in gaps {
            writer.writeUnary(Int(g) >> p)
            if p > 0 { writer.write(UInt64(g) & mask, bits: UInt64(p)) }
        }
        return writer.finish()
    }

    /// Decodes `chunkCount × k` Rice-coded indices, checking range and ascending order per chunk
    /// and that the stream ends exactly (zero padding only).
    static func riceDecode(
        _ bytes: UnsafeRawBufferPointer, parameter p: Int, chunkCount: Int, k: Int, chunkSize: Int,
        into out: UnsafeMutablePointer<UInt16>, tensor: String
    ) throws {
        var reader = BitReader(bytes)
        let limit = (chunkSize >> p) + 1
        for chunk in 0..<chunkCount {
            var previous = -1
            for j in 0..<k {
                guard let q = reader.readUnary(limit: limit) else {
                    throw CodecError(.truncated, tensor: tensor, "Rice stream ends or runs away in chunk \(chunk)")
                }
                guard let r = reader.read(bits: p) else {
                    throw CodecError(.truncated, tensor: tensor, "Rice stream ends in chunk \(chunk)")
                }
                let index = previous + 1 + (q << p) + Int(r)
                guard index < chunkSize else {
                    throw CodecError(.indexOutOfRange, tensor: tensor, "index \(index) in chunk \(chunk) is outside 0..<\(chunkSize)")
                }
                out[chunk * k + j] = UInt16(index)
                previous = index
            }
        }
        let remaining = reader.bitCount - reader.position
        guard remaining < 8 else {
            throw CodecError(.trailingBytes, tensor: tensor, "\(remaining / 8) bytes after the last Rice code")
        }
        while let bit = reader.readBit() {
            guard bit == 0 else { throw CodecError(.malformedHeader, tensor: tensor, "non-zero padding after the last Rice code") }
        }
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
