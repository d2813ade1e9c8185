import Testing
import TesseraSubtensor

@Suite struct SS58Tests {
    @Test func matchesScalecodec() throws {
        let cases = Golden.list("ss58")
        #expect(cases.count == 5)
        for item in cases {
            let key = bytes(item["public_key"] as? String ?? "")
            let prefix = UInt16(item["prefix"] as? Int ?? -1)
            let address = item["address"] as? String ?? ""
            #expect(SS58.encode(key, prefix: prefix) == address)
            let decoded = try SS58.decode(address)
            #expect(decoded.prefix == prefix)
            #expect(decoded.publicKey == key)
        }
    }

    /// Alice's well-known development account.
    @Test func alice() throws {
        let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        #expect(hex(try SS58.decode(alice).publicKey) == "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
    }

    @Test(arguments: ["", "0OIl", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ", "5GrwvaEF5z", String(repeating: "z", count: 200)])
    func rejectsBadAddresses(_ address: String) {
        #expect(throws: SubtensorError.self) { try SS58.decode(address) }
    }
}
