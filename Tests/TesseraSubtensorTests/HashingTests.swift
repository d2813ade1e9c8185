import Testing
import TesseraSubtensor

@Suite struct HashingTests {
    @Test func hashesMatchReference() {
        let cases = Golden.list("hashes")
        #expect(cases.count >= 8)
        for item in cases {
            let input = bytes(item["input"] as? String ?? "")
            #expect(hex(SubstrateHash.twox64(input)) == item["twox64"] as? String)
            #expect(hex(SubstrateHash.twox128(input)) == item["twox128"] as? String)
            #expect(hex(SubstrateHash.twox256(input)) == item["twox256"] as? String)
            #expect(hex(SubstrateHash.blake2b128(input)) == item["blake2b128"] as? String)
            #expect(hex(SubstrateHash.blake2b256(input)) == item["blake2b256"] as? String)
            #expect(hex(SubstrateHash.blake2b512(input)) == item["blake2b512"] as? String)
        }
    }

    /// Published vectors: BLAKE2b-512("abc") from RFC 7693 appendix A; twox128 of "System" is
    /// the well-known prefix of every System storage key.
    @Test func publishedVectors() {
        #expect(hex(SubstrateHash.blake2b512(Array("abc".utf8))) ==
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
        #expect(hex(SubstrateHash.twox128(Array("System".utf8))) == "26aa394eea5630e07c48ae0c9558cef7")
    }
}
