#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TesseraCore

/// How the kept values of a tensor are stored.
public enum ValueQuantizer: UInt8, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// IEEE binary32, 4 bytes per value.
    case float32 = 0
    /// IEEE binary16, 2 bytes per value.
    case float16 = 1
    /// Symmetric 8-bit: q = round(v / s), s = max|v| / 127, q ∈ [−127, 127].
    case int8 = 2
    /// Symmetric 4-bit: q = round(v / s), s = max|v| / 7, q ∈ [−7, 7], stored as q + 8.
    case int4 = 3
    /// SparseLoCo's 2-bit scheme: 4 bins around the mean, each decoded to its bin's mean
    /// (a per-tensor lookup table of 4 floats plus the shift).
    case lookup2 = 4

    /// Bits per stored value.
    public var bitsPerValue: Int {
        switch self {
        case .float32: 32
        case .float16: 16
        case .int8: 8
        case .int4: 4
        case .lookup2: 2
        }
    }

    /// Bytes needed for `count` packed values.
    public func packedByteCount(_ count: Int) -> Int { (count * bitsPerValue + 7) / 8 }

    public var description: String {
        switch self {
        case .float32: "fp32"
        case .float16: "fp16"
        case .int8: "int8"
        case .int4: "int4"
        case .lookup2: "2-bit lookup"
        }
    }
}

/// Per-tensor parameters a quantizer needs to decode: a scale, a shift and (for
/// ``ValueQuantizer/lookup2``) the bin means.
public struct QuantizationParameters: Hashable, Sendable {
    /// The step of int8/int4 codes; unused (0) otherwise.
    public var scale: Float
    /// Added to every decoded lookup value; unused (0) otherwise.
    public var shift: Float
    /// The decoded value of each 2-bit bin, before the shift.
    public var lookup: [Float]

    /// Parameters for a quantizer that needs none.
    public static let none = QuantizationParameters(scale: 0, shift: 0, lookup: [])

    /// Creates parameters.
    public init(scale: Float, shift: Float, lookup: [Float]) {
        self.scale = scale
        self.shift = shift
        self.lookup = lookup
    }
}

/// Quantization arithmetic, shared by the encoder and decoder.
enum Quantization {
    static let lookupBins = 4

    /// Fits the parameters to `values` (all kept values of one tensor, in canonical order).
    static func fit(_ quantizer: ValueQuantizer, _ values: UnsafeBufferPointer<Float>) -> QuantizationParameters {
        switch quantizer {
        case .float32, .float16:
            return .none
        case .int8, .int4:
            var maxAbs: Float = 0
            for v in values { maxAbs = max(maxAbs, abs(v)) }
            return QuantizationParameters(scale: maxAbs / (quantizer == .int8 ? 127 : 7), shift: 0, lookup: [])
        case .lookup2:
            let n = values.count
            guard n > 0 else { return QuantizationParameters(scale: 0, shift: 0, lookup: [0, 0, 0, 0]) }
            let shift = Float(DeterministicSum.sum(values) / Double(n))
            // std of the centred values with Bessel's correction; scale = 6·std / bins.
            var squares = 0.0
            for v in values {
                let c = Double(v - shift)
                squares += c * c
            }
            let std = n > 1 ? (squares / Double(n - 1)).squareRoot() : 0
            let scale = Float(6 * std / Double(lookupBins))
            var sums = [Double](repeating: 0, count: lookupBins)
            var counts = [Int](repeating: 0, count: lookupBins)
            for v in values {
                let c = v - shift
                let bin = Int(lookupBin(c, scale: scale))
                sums[bin] += Double(c)
                counts[bin] += 1
            }
            let lookup = (0..<lookupBins).map { counts[$0] > 0 ? Float(sums[$0] / Double(counts[$0])) : 0 }
            return QuantizationParameters(scale: scale, shift: shift, lookup: lookup)
        }
    }

    /// ``fit(_:_:)`` then ``encode(_:_:_:packed:decoded:)``, with the same arithmetic in the
    /// same order; for ``ValueQuantizer/lookup2`` the bins are computed once (they pack
    /// straight into `packed` while the bin means accumulate) instead of twice.
    static func fitAndEncode(
        _ quantizer: ValueQuantizer, _ values: UnsafeBufferPointer<Float>,
        packed: UnsafeMutablePointer<UInt8>, decoded: UnsafeMutablePointer<Float>
    ) -> QuantizationParameters {
        guard quantizer == .lookup2, let v = values.baseAddress, values.count > 0 else {
            let parameters = fit(quantizer, values)
            encode(quantizer, parameters, values, packed: packed, decoded: decoded)
            return parameters
        }
        let n = values.count
        let shift = Float(DeterministicSum.sum(values) / Double(n))
        var squares = 0.0
        for i in 0..<n {
            let c = Double(v[i] - shift)
            squares += c * c
        }
        let std = n > 1 ? (squares / Double(n - 1)).squareRoot() : 0
        let scale = Float(6 * std / Double(lookupBins))
        // Per bin, the centred values added in order, as `fit` does (memory accumulators: a
        // dependency chain only between values of the same bin).
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: lookupBins)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: lookupBins)
        sums.initialize(repeating: 0, count: lookupBins)
        counts.initialize(repeating: 0, count: lookupBins)
        defer {
            sums.deallocate()
            counts.deallocate()
        }
        var i = 0
        while i < n {
            var byte: UInt8 = 0
            for lane in 0..<min(4, n - i) {
                let c = v[i + lane] - shift
                let bin = lookupBin(c, scale: scale)
                sums[Int(bin)] += Double(c)
                counts[Int(bin)] &+= 1
                byte |= bin << (2 * UInt8(lane))
            }
            packed[i >> 2] = byte
            i += 4
        }
        let lookup = (0..<lookupBins).map { counts[$0] > 0 ? Float(sums[$0] / Double(counts[$0])) : 0 }
        // Decoded values: one table row of four floats per packed byte.
        let table = LookupTable(lookup: lookup, shift: shift)
        table.expand(packed, count: n, into: decoded)
        return QuantizationParameters(scale: scale, shift: shift, lookup: lookup)
    }

    /// Round half to even of |x| ≤ 2²² (exact: the addition rounds in the default mode) —
    /// without a libm `rintf` call per value on x86-64 targets that lack SSE4.1's `roundss`.
    @inline(__always)
    static func roundHalfEven(_ x: Float) -> Float { (x + 0x1.8p23) - 0x1.8p23 }

    /// The 2-bit bin of a centred value: clamp(round_half_even(c / scale + 2), 0, 3). The
    /// argument is clamped to [−1, 4] first, which cannot change the clamped result.
    @inline(__always)
    static func lookupBin(_ centred: Float, scale: Float) -> UInt8 {
        guard scale > 0 else { return UInt8(lookupBins / 2) }
        let x = min(max(centred / scale + Float(lookupBins / 2), -1), Float(lookupBins))
        return UInt8(min(max(roundHalfEven(x), 0), Float(lookupBins - 1)))
    }

    /// Encodes `values` into packed bytes and writes the decoded values to `decoded`.
    static func encode(
        _ quantizer: ValueQuantizer, _ p: QuantizationParameters, _ values: UnsafeBufferPointer<Float>,
        packed: UnsafeMutablePointer<UInt8>, decoded: UnsafeMutablePointer<Float>
    ) {
        let n = values.count
        switch quantizer {
        case .float32:
            for i in 0..<n {
                decoded[i] = values[i]
                UnsafeMutableRawPointer(packed + 4 * i).storeBytes(of: values[i].bitPattern.littleEndian, as: UInt32.self)
            }
        case .float16:
            for i in 0..<n {
                let h = Float16(values[i])
                decoded[i] = Float(h)
                UnsafeMutableRawPointer(packed + 2 * i).storeBytes(of: h.bitPattern.littleEndian, as: UInt16.self)
            }
        case .int8:
            let inv: Float = p.scale > 0 ? 1 / p.scale : 0
            for i in 0..<n {
                let q = min(max(roundHalfEven(min(max(values[i] * inv, -128), 128)), -127), 127)
                decoded[i] = Float(Int(q)) * p.scale  // via Int: −0 becomes +0, as the receiver decodes
                packed[i] = UInt8(bitPattern: Int8(q))
            }
        case .int4:
            let inv: Float = p.scale > 0 ? 1 / p.scale : 0
            packed.initialize(repeating: 0, count: (n + 1) / 2)
            for i in 0..<n {
                let q = min(max(roundHalfEven(min(max(values[i] * inv, -8), 8)), -7), 7)
                decoded[i] = Float(Int(q)) * p.scale
                packed[i >> 1] |= UInt8(Int(q) + 8) << (4 * UInt8(i & 1))
            }
        case .lookup2:
            packed.initialize(repeating: 0, count: (n + 3) / 4)
            for i in 0..<n {
                let bin = lookupBin(values[i] - p.shift, scale: p.scale)
                decoded[i] = p.lookup[Int(bin)] + p.shift
                packed[i >> 2] |= bin << (2 * UInt8(i & 3))
            }
        }
    }

    /// Checks decoded parameters from an untrusted header.
    static func validate(_ quantizer: ValueQuantizer, _ p: QuantizationParameters, maximumMagnitude: Float, tensor: String) throws {
        for (name, v) in [("scale", p.scale), ("shift", p.shift)] + p.lookup.map({ ("lookup", $0) }) {
            guard v.isFinite else { throw CodecError(.nonFiniteValue, tensor: tensor, "\(name) is \(v)") }
            guard abs(v) <= maximumMagnitude else {
                throw CodecError(.valueOutOfBounds, tensor: tensor, "\(name) \(v) exceeds the bound \(maximumMagnitude)")
            }
        }
        guard p.scale >= 0 else { throw CodecError(.malformedHeader, tensor: tensor, "negative scale \(p.scale)") }
        // The largest value the codes can decode to must respect the bound too.
        let largest: Float
        switch quantizer {
        case .int8: largest = 127 * p.scale
        case .int4: largest = 7 * p.scale
        case .lookup2: largest = p.lookup.map { abs($0 + p.shift) }.max() ?? 0
        case .float32, .float16: largest = 0
        }
        guard largest.isFinite, largest <= maximumMagnitude else {
            throw CodecError(.valueOutOfBounds, tensor: tensor, "decoded values can reach \(largest), above the bound \(maximumMagnitude)")
        }
        let expectedLookup = quantizer == .lookup2 ? lookupBins : 0
        guard p.lookup.count == expectedLookup else {
            throw CodecError(.malformedHeader, tensor: tensor, "\(quantizer) needs \(expectedLookup) lookup entries, got \(p.lookup.count)")
        }
    }

    /// Decodes `count` values from packed bytes (already length-checked), validating each.
    static func decode(
        _ quantizer: ValueQuantizer, _ p: QuantizationParameters, packed: UnsafeRawBufferPointer, count n: Int,
        into out: UnsafeMutablePointer<Float>, maximumMagnitude: Float, tensor: String
    ) throws {
        switch quantizer {
        case .float32, .float16:
            for i in 0..<n {
                let v: Float = quantizer == .float32
                    ? Float(bitPattern: UInt32(littleEndian: packed.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    : Float(Float16(bitPattern: UInt16(littleEndian: packed.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                guard v.isFinite else { throw CodecError(.nonFiniteValue, tensor: tensor, "value \(i) is \(v)") }
                guard abs(v) <= maximumMagnitude else {
                    throw CodecError(.valueOutOfBounds, tensor: tensor, "value \(i) = \(v) exceeds the bound \(maximumMagnitude)")
                }
                out[i] = v
            }
        case .int8:
            for i in 0..<n {
                let q = Int8(bitPattern: packed[i])
                guard q != -128 else { throw CodecError(.valueOutOfBounds, tensor: tensor, "int8 code −128 at value \(i) is not used by the format") }
                out[i] = Float(q) * p.scale
            }
        case .int4:
            for i in 0..<n {
                let code = (packed[i >> 1] >> (4 * UInt8(i & 1))) & 0xF
                guard code != 0 else { throw CodecError(.valueOutOfBounds, tensor: tensor, "int4 code 0 at value \(i) is not used by the format") }
                out[i] = Float(Int(code) - 8) * p.scale
            }
        case .lookup2:
            if let base = packed.baseAddress {
                LookupTable(lookup: p.lookup, shift: p.shift).expand(base.assumingMemoryBound(to: UInt8.self), count: n, into: out)
            }
        }
        // Padding bits of the last byte must be zero (one canonical encoding per update).
        let usedBits = n * quantizer.bitsPerValue
        if usedBits % 8 != 0, packed.count > 0 {
            let last = packed[packed.count - 1]
            guard last >> UInt8(usedBits % 8) == 0 else {
                throw CodecError(.malformedHeader, tensor: tensor, "non-zero padding bits after the last value")
            }
        }
    }
}

/// The decoded values of every packed 2-bit byte: row b holds lookup[(b >> 2j) & 3] + shift
/// for j = 0…3 — the same sums the per-value formula computes.
struct LookupTable: ~Copyable {
    let rows: UnsafeMutablePointer<SIMD4<Float>>

    init(lookup: [Float], shift: Float) {
        rows = .allocate(capacity: 256)
        for b in 0..<256 {
            rows[b] = SIMD4(lookup[b & 3] + shift, lookup[(b >> 2) & 3] + shift,
                            lookup[(b >> 4) & 3] + shift, lookup[(b >> 6) & 3] + shift)
        }
    }

    deinit { rows.deallocate() }

    /// Writes the `count` values packed in `packed` to `out`.
    func expand(_ packed: UnsafePointer<UInt8>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        let whole = n / 4
        let raw = UnsafeMutableRawPointer(out)
        for i in 0..<whole {
            raw.storeBytes(of: rows[Int(packed[i])], toByteOffset: 16 * i, as: SIMD4<Float>.self)
        }
        if whole * 4 < n {
            let row = rows[Int(packed[whole])]
            for j in 0..<(n - whole * 4) { out[whole * 4 + j] = row[j] }
        }
    }
}
