import Foundation
import Testing
import TesseraCodec
import TesseraCore

/// Seeded mutation fuzzing of parse + decode: every mutated file either decodes or throws a
/// CodecError — never traps, hangs or throws anything else.
@Suite("Wire format: fuzz")
struct WireFormatFuzzTests {
    struct Base {
        let name: String
        let file: [UInt8]
        let codec: ChunkedTopKCodec
    }

    static func bases() throws -> [Base] {
        let layout = try WireFixture.layout()
        let settings: [(ValueQuantizer, IndexCoding, ChunkTransform, WireFormat.Compression)] = [
            (.float32, .packed12, .none, .none), (.lookup2, .rice, .none, .zstd), (.int4, .rice, .none, .none),
            (.int8, .packed12, .none, .zstd), (.float16, .rice, .dct, .none), (.lookup2, .packed12, .none, .none),
        ]
        return try settings.enumerated().map { i, s in
            let codec = try WireFixture.codec(s.0, s.1, transform: s.2)
            let update = try codec.encode(normalSet(layout, seed: 500 + UInt64(i), standardDeviation: 0.1), metadata: WireFixture.metadata())
            return Base(name: "\(s.0)/\(s.1)/\(s.2)/\(s.3)", file: try WireFormat.serialize(update.compressed, compression: s.3), codec: codec)
        }
    }

    static let interestingBytes: [UInt8] = [0, 1, 2, 0x3F, 0x40, 0x7F, 0x80, 0xFE, 0xFF]
    static let interestingWords: [UInt32] = [0, 1, 3, 4, 5, 8, 63, 64, 65, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]

    static func mutate(_ file: inout [UInt8], _ rng: inout Xoshiro256StarStar) {
        func position(_ extra: Int = 0) -> Int { Int(rng.next() % UInt64(max(1, file.count + extra))) }
        switch rng.next() % 8 {
        case 0:  // flip one bit
            guard !file.isEmpty else { return }
            file[position()] ^= 1 << UInt8(rng.next() % 8)
        case 1:  // a random byte
            guard !file.isEmpty else { return }
            file[position()] = UInt8(truncatingIfNeeded: rng.next())
        case 2:  // an interesting byte
            guard !file.isEmpty else { return }
            file[position()] = interestingBytes[Int(rng.next() % UInt64(interestingBytes.count))]
        case 3:  // truncate
            file.removeLast(file.count - position())
        case 4:  // insert 1…8 random bytes
            let bytes = (0..<(1 + rng.next() % 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            file.insert(contentsOf: bytes, at: position(1))
        case 5:  // duplicate a slice of 1…16 bytes somewhere else
            guard !file.isEmpty else { return }
            let start = position()
            let slice = Array(file[start..<min(file.count, start + 1 + Int(rng.next() % 16))])
            file.insert(contentsOf: slice, at: position(1))
        case 6:  // delete a slice of 1…16 bytes
            guard !file.isEmpty else { return }
            let start = position()
            file.removeSubrange(start..<min(file.count, start + 1 + Int(rng.next() % 16)))
        default:  // an interesting 32-bit word
            guard file.count >= 4 else { return }
            let at = Int(rng.next() % UInt64(file.count - 3))
            let word = interestingWords[Int(rng.next() % UInt64(interestingWords.count))]
            file.replaceSubrange(at..<(at + 4), with: littleEndianBytes(word))
        }
    }

    @Test("100,000 mutated files: each decodes or throws a CodecError")
    func mutationFuzz() throws {
        let layout = try WireFixture.layout()
        let bases = try Self.bases()
        let limits = DecodeLimits(maximumStoredBytes: 1 << 16, maximumBodyBytes: 1 << 16, maximumTensorCount: 64)
        var rng = Xoshiro256StarStar(seed: 0x5EED_F022)
        var codes: [String: Int] = [:]
        var parsedCount = 0, decodedCount = 0, mutatedAndDecoded = 0
        var otherErrors: [String] = []
        let iterations = 100_000
        for iteration in 0..<iterations {
            let base = bases[Int(rng.next() % UInt64(bases.count))]
            var file = base.file
            for _ in 0..<(1 + rng.next() % 3) { Self.mutate(&file, &rng) }
            // Half of them get a valid checksum (and sometimes valid lengths), so the mutation
            // reaches the body parser and the decoder.
            if iteration % 2 == 0 { refix(&file, lengths: rng.next() % 4 != 0) }
            do {
                let update = try WireFormat.parse(file, limits: limits, layout: layout)
                parsedCount += 1
                // Whatever parses serializes back to an update that parses the same (compared as
                // bytes: a parsed header may still hold NaN, which only decoding refuses).
                let bytes = try WireFormat.serialize(update, compression: .none)
                let again = try WireFormat.parse(bytes, limits: limits, layout: layout)
                if try WireFormat.serialize(again, compression: .none) != bytes {
                    Issue.record("iteration \(iteration) (\(base.name)): re-serialized update differs")
                }
                let sparse = try base.codec.decode(update, layout: layout)
                decodedCount += 1
                if file != base.file { mutatedAndDecoded += 1 }
                // What decodes is canonical: k ascending in-range indices per chunk, finite values.
                for t in sparse.tensors {
                    let g = t.geometry
                    guard t.indices.count == g.chunkCount * t.k, t.values.count == t.indices.count,
                          t.values.allSatisfy(\.isFinite),
                          (0..<g.chunkCount).allSatisfy({ c in
                              let idx = chunkIndices(t, c)
                              return idx.allSatisfy { $0 < g.chunkSize } && zip(idx, idx.dropFirst()).allSatisfy { $0 < $1 }
                          })
                    else {
                        Issue.record("iteration \(iteration) (\(base.name)): decoded tensor \(t.name) breaks the canonical form")
                        break
                    }
                }
            } catch let error as CodecError {
                codes[error.code.description, default: 0] += 1
            } catch {
                if otherErrors.count < 5 { otherErrors.append("iteration \(iteration): \(error)") }
            }
        }
        #expect(otherErrors.isEmpty, "errors other than CodecError: \(otherErrors)")
        #expect(parsedCount > iterations / 100, "only \(parsedCount) mutated files parsed")
        #expect(mutatedAndDecoded > 0, "no changed file decoded")
        // The mutations reach every layer: container, zstd, body, index and value streams.
        let expected: Set<String> = ["truncated", "badMagic", "unsupportedVersion", "checksumMismatch", "malformedHeader",
                                     "layoutMismatch", "trailingBytes", "decompressionFailed", "wrongIndexCount", "indexOutOfRange",
                                     "duplicateIndex", "nonFiniteValue", "valueOutOfBounds", "sizeLimitExceeded"]
        let missing = expected.subtracting(codes.keys)
        #expect(missing.count <= 2, "codes never hit: \(missing.sorted()); hit: \(codes.sorted { $0.key < $1.key })")
        #expect(codes.count >= 12, "distinct codes: \(codes.sorted { $0.key < $1.key })")
    }
}
