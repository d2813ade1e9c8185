/// Keccak-f[1600], the permutation under SHA-3 and STROBE (24 rounds, FIPS 202 §3).
enum Keccak {
    private static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
        0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
        0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
        0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]
    /// Rotation offsets, indexed x + 5y.
    private static let rotations: [UInt64] = [
        0, 1, 62, 28, 27,
        36, 44, 6, 55, 20,
        3, 10, 43, 25, 39,
        41, 45, 15, 21, 8,
        18, 2, 61, 56, 14,
    ]

    @inline(__always) private static func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 { n == 0 ? x : (x << n) | (x >> (64 - n)) }

    /// Permutes 25 lanes in place.
    static func permute(_ a: inout [UInt64]) {
        var c = [UInt64](repeating: 0, count: 5)
        var b = [UInt64](repeating: 0, count: 25)
        for rc in roundConstants {
            // θ
            for x in 0..<5 { c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] }
            for x in 0..<5 {
                let d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1)
                for y in stride(from: 0, to: 25, by: 5) { a[x + y] ^= d }
            }
            // ρ and π: B[y, 2x + 3y] = rot(A[x, y], r[x, y])
            for x in 0..<5 {
                for y in 0..<5 {
                    b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y], rotations[x + 5 * y])
                }
            }
            // χ
            for y in stride(from: 0, to: 25, by: 5) {
                for x in 0..<5 { a[x + y] = b[x + y] ^ (~b[(x + 1) % 5 + y] & b[(x + 2) % 5 + y]) }
            }
            // ι
            a[0] ^= rc
        }
    }

    /// Permutes a 200-byte state (lanes little-endian).
    static func permute(bytes state: inout [UInt8]) {
        var lanes = [UInt64](repeating: 0, count: 25)
        for i in 0..<25 {
            var lane: UInt64 = 0
            for j in 0..<8 { lane |= UInt64(state[8 * i + j]) << (8 * j) }
            lanes[i] = lane
        }
        permute(&lanes)
        for i in 0..<25 {
            for j in 0..<8 { state[8 * i + j] = UInt8(truncatingIfNeeded: lanes[i] >> (8 * j)) }
        }
    }
}

/// The subset of STROBE-128 (v1.0.2) that Merlin uses: meta-AD, AD, PRF and KEY, with
/// the rate 166 of a 128-bit security level.
struct Strobe128: Sendable {
    private static let rate = 166
    private static let flagI: UInt8 = 1, flagA: UInt8 = 2, flagC: UInt8 = 4, flagT: UInt8 = 8, flagM: UInt8 = 16, flagK: UInt8 = 32

    private var state: [UInt8]
    private var position = 0
    private var positionBegin = 0
    private var currentFlags: UInt8 = 0

    init(protocolLabel: [UInt8]) {
        var st = [UInt8](repeating: 0, count: 200)
        st.replaceSubrange(0..<6, with: [1, UInt8(Self.rate + 2), 1, 0, 1, 96])
        st.replaceSubrange(6..<18, with: Array("STROBEv1.0.2".utf8))
        Keccak.permute(bytes: &st)
        state = st
        metaAD(protocolLabel, more: false)
    }

    mutating func metaAD(_ data: [UInt8], more: Bool) {
        beginOperation(Self.flagM | Self.flagA, more: more)
        absorb(data)
    }

    mutating func ad(_ data: [UInt8], more: Bool) {
        beginOperation(Self.flagA, more: more)
        absorb(data)
    }

    mutating func prf(count: Int, more: Bool) -> [UInt8] {
        beginOperation(Self.flagI | Self.flagA | Self.flagC, more: more)
        return squeeze(count)
    }

    mutating func key(_ data: [UInt8], more: Bool) {
        beginOperation(Self.flagA | Self.flagC, more: more)
        overwrite(data)
    }

    private mutating func runF() {
        state[position] ^= UInt8(positionBegin)
        state[position + 1] ^= 0x04
        state[Self.rate + 1] ^= 0x80
        Keccak.permute(bytes: &state)
        position = 0
        positionBegin = 0
    }

    private mutating func absorb(_ data: [UInt8]) {
        for byte in data {
            state[position] ^= byte
            position += 1
            if position == Self.rate { runF() }
        }
    }

    private mutating func overwrite(_ data: [UInt8]) {
        for byte in data {
            state[position] = byte
            position += 1
            if position == Self.rate { runF() }
        }
    }

    private mutating func squeeze(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        for _ in 0..<count {
            out.append(state[position])
            state[position] = 0
            position += 1
            if position == Self.rate { runF() }
        }
        return out
    }

    private mutating func beginOperation(_ flags: UInt8, more: Bool) {
        if more {
            precondition(currentFlags == flags, "STROBE: continued operation changed flags")
            return
        }
        precondition(flags & Self.flagT == 0, "STROBE: transport operations are not supported")
        let oldBegin = UInt8(positionBegin)
        positionBegin = position + 1
        currentFlags = flags
        absorb([oldBegin, flags])
        if flags & (Self.flagC | Self.flagK) != 0, position != 0 { runF() }
    }
}

/// A Merlin transcript (merlin.cool): Fiat–Shamir over STROBE-128, as schnorrkel uses it.
///
/// Known answer: `Transcript("test protocol")`, `append("some label", "some data")`, 32
/// challenge bytes under `"challenge"` give `d5a21972…efcf0615` (Merlin's own test).
public struct MerlinTranscript: Sendable {
    private var strobe: Strobe128

    /// A transcript for the protocol `label`.
    public init(label: [UInt8]) {
        strobe = Strobe128(protocolLabel: Array("Merlin v1.0".utf8))
        append(label: Array("dom-sep".utf8), message: label)
    }

    private static func length32(_ count: Int) -> [UInt8] {
        let n = UInt32(truncatingIfNeeded: count)
        return [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
    }

    /// Appends a labelled message.
    public mutating func append(label: [UInt8], message: [UInt8]) {
        strobe.metaAD(label, more: false)
        strobe.metaAD(Self.length32(message.count), more: true)
        strobe.ad(message, more: false)
    }

    /// Draws `count` challenge bytes under `label`.
    public mutating func challengeBytes(label: [UInt8], count: Int) -> [UInt8] {
        strobe.metaAD(label, more: false)
        strobe.metaAD(Self.length32(count), more: true)
        return strobe.prf(count: count, more: false)
    }

    /// Merlin's transcript RNG: the transcript rekeyed with witness bytes and 32 external random
    /// bytes, then `count` output bytes (schnorrkel's `witness_scalar` draws 64).
    func witnessBytes(label: [UInt8], witness: [UInt8], randomness: [UInt8], count: Int) -> [UInt8] {
        var rng = strobe
        rng.metaAD(label, more: false)
        rng.metaAD(Self.length32(witness.count), more: true)
        rng.key(witness, more: false)
        rng.metaAD(Array("rng".utf8), more: false)
        rng.key(randomness, more: false)
        rng.metaAD(Self.length32(count), more: false)
        return rng.prf(count: count, more: false)
    }
}
