import Testing
import TesseraChain
import TesseraCore
import TesseraSubtensor

@Suite struct ExtrinsicTests {
    static func call(_ metadata: RuntimeMetadata, _ item: [String: Any]) throws -> [UInt8] {
        let args = item["args"] as? [String: Any] ?? [:]
        switch item["call"] as? String {
        case "set_weights":
            return try metadata.setWeightsCall(
                netuid: UInt16(args["netuid"] as? Int ?? -1),
                uids: (args["dests"] as? [Int] ?? []).map { UInt16($0) },
                weights: (args["weights"] as? [Int] ?? []).map { UInt16($0) },
                versionKey: UInt64(args["version_key"] as? Int ?? -1))
        case "set_commitment":
            return try metadata.setCommitmentCall(netuid: UInt16(args["netuid"] as? Int ?? -1), data: bytes(args["data"] as? String ?? ""))
        default:
            return try metadata.encodeCall("System", "remark", [.bytes(bytes(args["remark"] as? String ?? ""))])
        }
    }

    static func era(_ item: [String: Any]) -> Era {
        guard let era = item["era"] as? [String: Int] else { return .immortal }
        return Era.mortal(period: UInt64(era["period"] ?? 0), currentBlock: UInt64(era["current"] ?? 0))
    }

    @Test func extrinsicsMatchSubstrateInterface() throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata()
        let builder = try ExtrinsicBuilder(metadata: metadata)
        let version = try metadata.runtimeVersion()
        let cases = Golden.list("extrinsics")
        #expect(cases.count == 5)
        for item in cases {
            let call = try Self.call(metadata, item)
            #expect(hex(call) == item["call_hex"] as? String, "call \(item["call"] ?? "")")
            let era = Self.era(item)
            #expect(hex(era.encoded) == item["era_hex"] as? String)
            if let current = (item["era"] as? [String: Int])?["current"] {
                #expect(Int(era.birth(currentBlock: UInt64(current))) == item["birth_block"] as? Int)
            }
            let parameters = TransactionParameters(
                nonce: UInt64(item["nonce"] as? Int ?? -1), era: era,
                eraBlockHash: bytes(item["birth_block_hash"] as? String ?? ""),
                genesisHash: bytes(item["genesis_hash"] as? String ?? ""),
                specVersion: version.specVersion, transactionVersion: version.transactionVersion)
            #expect(hex(try builder.signingPayload(call: call, parameters: parameters)) == item["signing_payload"] as? String)
            let signer = try KeyPair(scheme: .ed25519, seed: bytes(item["seed"] as? String ?? ""))
            #expect(signer.address() == item["address"] as? String)
            let extrinsic = try builder.signedExtrinsic(call: call, signer: signer, parameters: parameters)
            #expect(hex(extrinsic) == item["extrinsic"] as? String, "extrinsic \(item["call"] ?? "")")
        }
    }

    @Test func sr25519ExtrinsicVerifies() throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata()
        let builder = try ExtrinsicBuilder(metadata: metadata)
        let signer = try KeyPair(scheme: .sr25519, seed: [UInt8](repeating: 7, count: 32))
        let call = try metadata.setWeightsCall(netuid: 3, uids: [1, 2], weights: [65535, 100], versionKey: 1)
        let parameters = TransactionParameters(nonce: 9, era: .immortal, eraBlockHash: [UInt8](repeating: 1, count: 32),
                                               genesisHash: [UInt8](repeating: 1, count: 32), specVersion: 343, transactionVersion: 1)
        let extrinsic = try builder.signedExtrinsic(call: call, signer: signer, parameters: parameters)
        // Layout: compact length, 0x84, 0x00 + key, 0x01 (Sr25519) + 64-byte signature, extra, call.
        var d = ScaleDecoder(extrinsic)
        let length = try d.readLength()
        #expect(length == d.remaining)
        #expect(try d.readByte() == 0x84)
        #expect(try d.readByte() == 0)
        #expect(try d.readBytes(32) == signer.publicKey)
        #expect(try d.readByte() == 1)
        let signature = try d.readBytes(64)
        let (extra, _) = try builder.extensionBytes(parameters)
        #expect(try d.readBytes(extra.count) == extra)
        #expect(try d.readBytes(d.remaining) == call)
        let payload = try builder.signingPayload(call: call, parameters: parameters)
        #expect(KeyPair.verify(scheme: .sr25519, publicKey: signer.publicKey, message: payload, signature: signature))
    }

    @Test func weightsNormalizeLikeBittensor() throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata()
        let (uids, weights) = try WeightNormalization.toU16([UID(rawValue: 5): 0.5, UID(rawValue: 2): 1.0, UID(rawValue: 9): 0])
        #expect(uids == [2, 5])
        #expect(weights == [65535, 32768])
        let call = try metadata.setWeightsCall(netuid: 1, uids: uids, weights: weights, versionKey: 0)
        #expect(hex(call) == "070001000802000500" + "08ffff0080" + "0000000000000000")
    }

    @Test func unknownExtensionsAndBadArguments() throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata()
        #expect(throws: SubtensorError.self) { try metadata.setCommitmentCall(netuid: 1, data: [UInt8](repeating: 0, count: 129)) }
        #expect(throws: SubtensorError.self) { try metadata.setWeightsCall(netuid: 1, uids: [1], weights: [], versionKey: 0) }
        #expect(throws: SubtensorError.self) { try metadata.encodeCall("SubtensorModule", "set_weights", [.unsigned(70000), .sequence([]), .sequence([]), .unsigned(0)]) }
        #expect(throws: SubtensorError.self) { try metadata.encodeCall("SubtensorModule", "no_such_call", []) }
        let builder = try ExtrinsicBuilder(metadata: metadata)
        let bad = TransactionParameters(nonce: 0, era: .immortal, eraBlockHash: [1], genesisHash: [1], specVersion: 1, transactionVersion: 1)
        #expect(throws: SubtensorError.self) { try builder.extensionBytes(bad) }
        // An extension with data the builder does not know is a clear error.
        #expect(throws: SubtensorError.self) { try ExtrinsicBuilder.checkExtensions(metadata, renaming: "ChargeTransactionPayment", to: "ChargeSomethingElse") }
        // A zero-sized unknown extension is fine.
        try ExtrinsicBuilder.checkExtensions(metadata, renaming: "CheckWeight", to: "CheckSomethingNew")
    }

    @Test func eraRounding() {
        #expect(Era.mortal(period: 64, currentBlock: 100) == .mortal(period: 64, phase: 36))
        #expect(Era.mortal(period: 5, currentBlock: 6_000_001) == .mortal(period: 8, phase: 1))
        #expect(Era.mortal(period: 1, currentBlock: 3) == .mortal(period: 4, phase: 3))
        #expect(Era.mortal(period: 1 << 20, currentBlock: 100_000) == .mortal(period: 65_536, phase: 100_000 % 65_536 / 16 * 16))
        #expect(Era.mortal(period: 64, currentBlock: 100).birth(currentBlock: 120) == 100)
        #expect(Era.immortal.encoded == [0])
    }
}

extension ExtrinsicBuilder {
    /// Builds the extension bytes of `metadata` with one extension renamed.
    static func checkExtensions(_ metadata: RuntimeMetadata, renaming old: String, to new: String) throws {
        let renamed = metadata.renamingExtension(old, to: new)
        let builder = try ExtrinsicBuilder(metadata: renamed)
        _ = try builder.extensionBytes(TransactionParameters(
            nonce: 0, era: .immortal, eraBlockHash: [UInt8](repeating: 0, count: 32),
            genesisHash: [UInt8](repeating: 0, count: 32), specVersion: 1, transactionVersion: 1))
    }
}
