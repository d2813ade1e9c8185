import Foundation
import Testing
import TesseraCore

/// Checks the generators against `RNGVectors` (made by `make_rng_vectors.py`, the Python reference
/// in Documentation/RandomNumbers.md): integers, unit doubles, normals, normal floats and
/// `PortableMath` bit for bit (nothing here calls the C library's `log`, `exp` or `cos`).
@Suite("Random numbers")
struct RandomNumbersTests {
    @Test("SplitMix64 matches the known-answer vectors", arguments: RNGVectors.seeded)
    func splitMix64Outputs(_ vector: RNGVectors.Seeded) {
        var generator = SplitMix64(seed: vector.seed)
        let outputs = vector.splitMix64.map { _ in generator.next() }
        #expect(outputs == vector.splitMix64)
    }

    @Test("SplitMix64's state is the seed plus one increment per output")
    func splitMix64State() {
        var generator = SplitMix64(seed: 42)
        #expect(generator.state == 42)
        _ = generator.next()
        _ = generator.next()
        #expect(generator.state == 42 &+ 2 &* 0x9E37_79B9_7F4A_7C15)
    }

    @Test("xoshiro256** is seeded with four SplitMix64 outputs", arguments: RNGVectors.seeded)
    func xoshiroSeeding(_ vector: RNGVectors.Seeded) {
        let generator = Xoshiro256StarStar(seed: vector.seed)
        let state = [generator.state.0, generator.state.1, generator.state.2, generator.state.3]
        #expect(state == vector.xoshiroState)
        #expect(state == Array(vector.splitMix64.prefix(4)))
    }

    @Test("xoshiro256** matches the known-answer vectors", arguments: RNGVectors.seeded)
    func xoshiroOutputs(_ vector: RNGVectors.Seeded) {
        var generator = Xoshiro256StarStar(seed: vector.seed)
        let outputs = vector.xoshiro256StarStar.map { _ in generator.next() }
        #expect(outputs == vector.xoshiro256StarStar)
    }

    @Test("xoshiro256** from the state {1, 2, 3, 4} matches the authors' published outputs")
    func xoshiroPublishedVector() throws {
        let words = RNGVectors.referenceState.map(String.init).joined(separator: ",")
        var generator = try JSONDecoder().decode(
            Xoshiro256StarStar.self, from: Data("{\"state\":[\(words)]}".utf8))
        let outputs = RNGVectors.referenceStateOutputs.map { _ in generator.next() }
        #expect(outputs == RNGVectors.referenceStateOutputs)
    }

    @Test("nextUnitDouble matches the vectors exactly", arguments: RNGVectors.seeded)
    func unitDoubles(_ vector: RNGVectors.Seeded) {
        // The decimal literals and the bit patterns in the vectors must describe the same doubles.
        #expect(vector.unitDoubles.map(\.bitPattern) == vector.unitDoubleBits)
        var generator = Xoshiro256StarStar(seed: vector.seed)
        let values = vector.unitDoubleBits.map { _ in generator.nextUnitDouble() }
        #expect(values.map(\.bitPattern) == vector.unitDoubleBits)
    }

    @Test("nextUnitDouble is the top 53 bits of one output times 2⁻⁵³")
    func unitDoubleDefinition() {
        var reference = SplitMix64(seed: 7)
        var generator = SplitMix64(seed: 7)
        for _ in 0..<1000 {
            let bits = reference.next()
            let value = generator.nextUnitDouble()
            #expect(value >= 0 && value < 1)
            #expect(value == Double(bits >> 11) / 9_007_199_254_740_992)
            #expect(value * 9_007_199_254_740_992 == (value * 9_007_199_254_740_992).rounded())
        }
        #expect(generator == reference)
    }

    @Test("nextUnitDouble maps the extreme outputs to 0 and to 1 − 2⁻⁵³")
    func unitDoubleExtremes() {
        struct Constant: RandomNumberGenerator {
            let value: UInt64
            mutating func next() -> UInt64 { value }
        }
        var zero = Constant(value: 0), ones = Constant(value: .max), lowBits = Constant(value: 0x7FF)
        #expect(zero.nextUnitDouble() == 0)
        #expect(ones.nextUnitDouble() == 1 - 0x1.0p-53)
        #expect(lowBits.nextUnitDouble() == 0)
        // u1 = 1 − 0 = 1, so log(u1) = 0 and the normal is zero rather than infinite.
        #expect(zero.nextStandardNormal() == 0)
    }

    @Test("nextStandardNormal matches the vectors bit for bit", arguments: RNGVectors.seeded)
    func normals(_ vector: RNGVectors.Seeded) {
        var generator = Xoshiro256StarStar(seed: vector.seed)
        for expected in vector.normals {
            let value = generator.nextStandardNormal()
            #expect(value.bitPattern == expected.bitPattern, "got \(value), expected \(expected)")
        }
    }

    @Test("PortableMath matches the Python port's known answers bit for bit")
    func portableMathVectors() {
        #expect(RNGVectors.portableMath.count == 63)
        for (function, argument, result) in RNGVectors.portableMath {
            let x = Double(bitPattern: argument)
            let value = switch function {
            case "log": PortableMath.log(x)
            case "exp": PortableMath.exp(x)
            default: PortableMath.cos(x)
            }
            #expect(value.bitPattern == result, "\(function)(\(x)) = \(value), expected \(Double(bitPattern: result))")
        }
    }

    @Test("PortableMath is within two ulps of the C library on 100,000 random arguments per function")
    func portableMathAccuracy() {
        var generator = Xoshiro256StarStar(seed: 99)
        func ulps(_ a: Double, _ b: Double) -> Int64 { abs(Int64(bitPattern: a.bitPattern) - Int64(bitPattern: b.bitPattern)) }
        var worst: [String: Int64] = [:]
        for _ in 0..<100_000 {
            let u = 1 - generator.nextUnitDouble()
            let wide = (generator.nextUnitDouble() - 0.5) * 1400
            let angle = (generator.nextUnitDouble() - 0.5) * 2e5
            worst["log", default: 0] = max(worst["log", default: 0], ulps(PortableMath.log(u), Foundation.log(u)))
            worst["log wide", default: 0] = max(worst["log wide", default: 0], ulps(PortableMath.log(Foundation.exp(wide / 2)), Foundation.log(Foundation.exp(wide / 2))))
            worst["exp", default: 0] = max(worst["exp", default: 0], ulps(PortableMath.exp(wide), Foundation.exp(wide)))
            worst["cos", default: 0] = max(worst["cos", default: 0], ulps(PortableMath.cos(angle), Foundation.cos(angle)))
        }
        // Each is within about one ulp of the exact value, and so is a good C library: two ulps
        // apart at most (one, measured against glibc 2.36).
        #expect(worst.values.allSatisfy { $0 <= 2 }, "largest differences in ulps: \(worst)")
        #expect(PortableMath.log(-1).isNaN && PortableMath.log(0) == -.infinity && PortableMath.log(.infinity) == .infinity)
        #expect(PortableMath.exp(800) == .infinity && PortableMath.exp(-800) == 0 && PortableMath.exp(.nan).isNaN)
        #expect(PortableMath.cos(.infinity).isNaN && PortableMath.cos(0) == 1)
    }

    @Test("nextStandardNormal is Box–Muller on two unit doubles and consumes exactly two outputs")
    func normalDefinition() {
        var generator = Xoshiro256StarStar(seed: 2024)
        var reference = generator
        for _ in 0..<100 {
            let u1 = 1 - reference.nextUnitDouble()
            let u2 = reference.nextUnitDouble()
            let expected = (-2 * PortableMath.log(u1)).squareRoot() * PortableMath.cos(2 * Double.pi * u2)
            #expect(generator.nextStandardNormal() == expected)
            #expect(generator == reference)
        }
    }

    @Test("normalFloats matches the vectors bit for bit", arguments: RNGVectors.normalFloats)
    func normalFloats(_ vector: RNGVectors.NormalFloats) {
        var generator = Xoshiro256StarStar(seed: vector.seed)
        let values = generator.normalFloats(
            count: vector.count, mean: vector.mean, standardDeviation: vector.standardDeviation)
        #expect(values.count == vector.count)
        for (value, bits) in zip(values, vector.bitPatterns) {
            let expected = Float(bitPattern: bits)
            #expect(value.bitPattern == expected.bitPattern, "got \(value), expected \(expected)")
        }
        // One normal (two outputs) per value.
        var reference = Xoshiro256StarStar(seed: vector.seed)
        for _ in 0..<(2 * vector.count) { _ = reference.next() }
        #expect(generator == reference)
    }

    @Test("normalFloats widens mean and standard deviation to Double and rounds once")
    func normalFloatsDefinition() {
        var generator = Xoshiro256StarStar(seed: 5)
        var reference = generator
        let mean: Float = 0.1, standardDeviation: Float = 0.02
        let values = generator.normalFloats(count: 50, mean: mean, standardDeviation: standardDeviation)
        let expected = (0..<50).map { _ in
            Float(Double(mean) + Double(standardDeviation) * reference.nextStandardNormal())
        }
        #expect(values == expected)
    }

    @Test("normalFloats with a count of zero or less returns nothing and draws nothing", arguments: [0, -1, -100])
    func normalFloatsEmpty(count: Int) {
        var generator = Xoshiro256StarStar(seed: 9)
        let before = generator
        #expect(generator.normalFloats(count: count, standardDeviation: 1).isEmpty)
        #expect(generator == before)
    }

    @Test("Generators survive a JSON round trip mid-stream")
    func codableRoundTrip() throws {
        var xoshiro = Xoshiro256StarStar(seed: 0xDEAD_BEEF)
        var splitMix = SplitMix64(seed: .max)
        for _ in 0..<3 {
            _ = xoshiro.next()
            _ = splitMix.next()
        }
        var decodedXoshiro = try JSONDecoder().decode(
            Xoshiro256StarStar.self, from: try JSONEncoder().encode(xoshiro))
        var decodedSplitMix = try JSONDecoder().decode(
            SplitMix64.self, from: try JSONEncoder().encode(splitMix))
        #expect(decodedXoshiro == xoshiro)
        #expect(decodedSplitMix == splitMix)
        for _ in 0..<5 {
            #expect(decodedXoshiro.next() == xoshiro.next())
            #expect(decodedSplitMix.next() == splitMix.next())
        }
    }

    @Test("xoshiro256** encodes its state as a list of four words")
    func xoshiroEncoding() throws {
        let generator = Xoshiro256StarStar(seed: 1)
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(generator))
        let dictionary = try #require(object as? [String: Any])
        let words = try #require(dictionary["state"] as? [Any])
        #expect(words.count == 4)
    }

    @Test("Decoding an xoshiro256** state of the wrong length throws .invalidArgument", arguments: ["[]", "[1,2,3]", "[1,2,3,4,5]"])
    func xoshiroDecodingWrongLength(words: String) {
        let error = #expect(throws: CoreError.self) {
            try JSONDecoder().decode(Xoshiro256StarStar.self, from: Data("{\"state\":\(words)}".utf8))
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test("Equal generators hash equally; different seeds differ")
    func hashing() {
        let a = Xoshiro256StarStar(seed: 3), b = Xoshiro256StarStar(seed: 3), c = Xoshiro256StarStar(seed: 4)
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != c)
        #expect(Set([a, b, c]).count == 2)
    }
}
