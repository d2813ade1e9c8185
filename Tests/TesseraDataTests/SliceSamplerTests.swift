import Foundation
import Testing
import TesseraCore
@testable import TesseraData

@Suite("Slice sampling (cross-checked with the Python reference in Sampling.md)")
struct SliceSamplerTests {
    @Test func sliceVectorsMatchPython() throws {
        for v in sliceVectors {
            let sampler = try DeterministicSliceSampler(count: v.count, sampleCount: v.sampleCount)
            let slice = try sampler.slice(uid: UID(rawValue: v.uid), window: Window(rawValue: v.window), seed: Digest32(hex: v.blockHash))
            #expect(slice.sampleIDs == v.ids, "window \(v.window) uid \(v.uid)")
        }
    }

    @Test func validatorVectorsMatchPython() throws {
        for v in validatorVectors {
            let sampler = try DeterministicSliceSampler(count: v.count, sampleCount: v.sampleCount)
            let draw = sampler.validatorDraw(window: Window(rawValue: v.window), revealBlockHash: try Digest32(hex: v.revealBlockHash), hotkey: v.hotkey)
            #expect(draw.sampleIDs == v.ids)
        }
    }

    @Test func digestVectorsMatchPython() throws {
        for v in digestVectors {
            #expect(SampleDigest.digest(of: v.ids).hex == "0x" + v.digest)
            #expect(SampleDigest.digest(of: v.ids.reversed()) == SampleDigest.digest(of: v.ids), "order must not matter")
        }
    }

    @Test(arguments: [(30_720, UInt64(50_000_000)), (1000, 1000), (1, 2), (500, 10_000)])
    func idsAreDistinctAndInRange(_ c: (Int, UInt64)) throws {
        let sampler = try DeterministicSliceSampler(count: c.0, sampleCount: c.1)
        let ids = try sampler.slice(uid: 3, window: 9, seed: Digest32(hex: String(repeating: "ab", count: 32))).sampleIDs
        #expect(ids.count == c.0)
        #expect(Set(ids).count == c.0)
        #expect(ids.allSatisfy { $0 < c.1 })
    }

    @Test func differentInputsGiveDifferentSlices() throws {
        let sampler = try DeterministicSliceSampler(count: 64, sampleCount: 1_000_000)
        let hash = try Digest32(hex: String(repeating: "01", count: 32))
        let base = try sampler.slice(uid: 1, window: 1, seed: hash).sampleIDs
        #expect(try sampler.slice(uid: 2, window: 1, seed: hash).sampleIDs != base)
        #expect(try sampler.slice(uid: 1, window: 2, seed: hash).sampleIDs != base)
        #expect(try sampler.slice(uid: 1, window: 1, seed: Digest32(hex: String(repeating: "02", count: 32))).sampleIDs != base)
        #expect(try sampler.slice(uid: 1, window: 1, seed: hash).sampleIDs == base)
    }

    @Test func drawIsUniform() throws {
        // 20,000 draws of 1 id out of 10: each id's frequency within 5 standard deviations of 2,000.
        var counts = [Int](repeating: 0, count: 10)
        let sampler = try DeterministicSliceSampler(count: 1, sampleCount: 10)
        for w in 0..<20_000 {
            counts[Int(try sampler.slice(uid: 0, window: Window(rawValue: UInt64(w)), seed: .zero).sampleIDs[0])] += 1
        }
        let sigma = (20_000 * 0.1 * 0.9).squareRoot()
        #expect(counts.allSatisfy { abs(Double($0) - 2000) < 5 * sigma }, "\(counts)")
    }

    @Test func boundedRandomStaysInRange() {
        var g = Xoshiro256StarStar(seed: 1)
        for bound in [UInt64(1), 2, 3, 7, 1 << 63, UInt64.max] {
            for _ in 0..<1000 { #expect(BoundedRandom.next(upTo: bound, using: &g) < bound) }
        }
        #expect(BoundedRandom.next(upTo: 0, using: &g) == 0)
    }

    @Test func invalidRequestsThrow() {
        #expect { try DeterministicSliceSampler(count: 11, sampleCount: 10) } throws: { ($0 as? DataError)?.code == .invalidArgument }
        #expect { try DeterministicSliceSampler(count: -1, sampleCount: 10) } throws: { ($0 as? DataError)?.code == .invalidArgument }
        #expect { try Digest32(hex: "0x1234") } throws: { ($0 as? CoreError)?.code == .invalidArgument }
        #expect { try Digest32(hex: String(repeating: "zz", count: 32)) } throws: { ($0 as? CoreError)?.code == .invalidArgument }
    }

    @Test func sliceDigestMatchesSampleDigest() throws {
        let slice = try DeterministicSliceSampler(count: 20, sampleCount: 1000).slice(uid: 4, window: 4, seed: .zero)
        #expect(slice.digest == SampleDigest.digest(of: slice.sampleIDs))
        let json = try JSONEncoder().encode(slice)
        #expect(try JSONDecoder().decode(DataSlice.self, from: json) == slice)
    }
}
