import Testing
import TesseraCore

@Suite("XXHash64")
struct XXHash64Tests {
    @Test func publishedVectors() {
        #expect(XXHash64.hash([UInt8]()) == 0xEF46_DB37_51D8_E999)
        #expect(XXHash64.hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXHash64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
    }

    /// Every length 0…39 and longer inputs, three seeds, against the Python `xxhash` package.
    @Test func matchesReferenceImplementation() {
        for vector in xxhashVectors {
            let data = (0..<vector.length).map { UInt8($0 % 251) }
            #expect(XXHash64.hash(data, seed: vector.seed) == vector.hash, "length \(vector.length) seed \(vector.seed)")
        }
        #expect(xxhashVectors.count == 48 * 3)
    }
}
