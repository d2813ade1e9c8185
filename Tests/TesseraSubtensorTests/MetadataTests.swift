import Testing
import TesseraSubtensor

@Suite struct MetadataTests {
    @Test(arguments: [0, 1])
    func metadataMatchesReference(_ index: Int) throws {
        let facts = Golden.list("metadata")[index]
        let file = facts["file"] as? String ?? ""
        guard Fixtures.available("metadata \(file)") else { return }
        let metadata = try Fixtures.metadata(file)
        #expect(Int(metadata.version) == facts["version"] as? Int)
        #expect(metadata.pallets.count == facts["pallet_count"] as? Int)
        #expect(metadata.registry.types.count == facts["type_count"] as? Int)
        for (name, index) in facts["pallets"] as? [String: Int] ?? [:] {
            #expect(Int(try metadata.pallet(name).index) == index, "pallet \(name)")
        }
        for (name, value) in facts["calls"] as? [String: [Any]] ?? [:] {
            let parts = name.split(separator: ".").map(String.init)
            let call = try metadata.call(parts[0], parts[1])
            #expect(Int(call.palletIndex) == value[0] as? Int)
            #expect(Int(call.callIndex) == value[1] as? Int)
            #expect(call.fields.map { $0.name ?? "" } == value[2] as? [String])
        }
        #expect(metadata.extrinsic.version == 4)
        #expect(metadata.extrinsic.extensions.map(\.identifier) == facts["extensions"] as? [String])
        for (name, hashers) in facts["storage_hashers"] as? [String: [String]] ?? [:] {
            let parts = name.split(separator: ".").map(String.init)
            let entry = try metadata.storage(parts[0], parts[1]).entry
            let names: [String]
            switch entry.kind {
            case .plain: names = []
            case .map(let h, _, _): names = h.map(Self.pythonName)
            }
            #expect(names == hashers, "hashers of \(name)")
        }
        if let spec = facts["spec_version"] as? Int {
            let version = try metadata.runtimeVersion()
            #expect(Int(version.specVersion) == spec)
            #expect(Int(version.transactionVersion) == facts["transaction_version"] as? Int)
            #expect(version.specName == facts["spec_name"] as? String)
        }
        if let apis = facts["apis"] as? Int {
            #expect(metadata.apis.count == apis)
            let method = try metadata.runtimeAPI("SubnetInfoRuntimeApi", "get_subnet_state")
            #expect(method.inputs.map(\.name) == ["netuid"])
        }
    }

    static func pythonName(_ hasher: StorageHasher) -> String {
        switch hasher {
        case .blake2_128: "Blake2_128"
        case .blake2_256: "Blake2_256"
        case .blake2_128Concat: "Blake2_128Concat"
        case .twox128: "Twox128"
        case .twox256: "Twox256"
        case .twox64Concat: "Twox64Concat"
        case .identity: "Identity"
        }
    }

    @Test func extensionsAreKnownOrZeroSized() throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata()
        let zeroSized = try metadata.extrinsic.extensions.filter { e throws in
            try metadata.registry.isZeroSized(e.type) && metadata.registry.isZeroSized(e.additionalSigned)
        }.map(\.identifier)
        #expect(zeroSized == ["CheckNonZeroSender", "CheckWeight", "SubtensorTransactionExtension", "DrandPriority"])
    }

    @Test func storageKeysMatchSubstrateInterface() throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata()
        let hotkey = [UInt8](0..<32)
        func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let parts: [String: [[UInt8]]] = [
            "Timestamp.Now": [], "System.Number": [], "System.Account": [hotkey],
            "Commitments.CommitmentOf": [u16(1), hotkey], "SubtensorModule.Uids": [u16(3), hotkey],
        ]
        let cases = Golden.list("storage_keys")
        #expect(cases.count == parts.count)
        for item in cases {
            let pallet = item["pallet"] as? String ?? "", entry = item["entry"] as? String ?? ""
            let key = try metadata.storageKey(pallet, entry, keys: try #require(parts["\(pallet).\(entry)"]))
            #expect(hex(key) == item["key"] as? String, "\(pallet).\(entry)")
        }
        // A prefix (netuid only) is the start of every full key of that subnet.
        let prefix = try metadata.storageKey("Commitments", "CommitmentOf", keys: [u16(1)])
        let full = try metadata.storageKey("Commitments", "CommitmentOf", keys: [u16(1), hotkey])
        #expect(Array(full.prefix(prefix.count)) == prefix)
        #expect(try StorageKeyDecoder.parts(of: full, hashers: [.identity, .twox64Concat], partSizes: [2, 32]) == [u16(1), hotkey])
        #expect(throws: SubtensorError.self) { try metadata.storageKey("Timestamp", "Now", keys: [[1]]) }
        #expect(throws: SubtensorError.self) { try metadata.storageKey("Nope", "Now") }
    }

    @Test func malformedMetadataThrows() throws {
        #expect(throws: SubtensorError.self) { try RuntimeMetadata(bytes: []) }
        #expect(throws: SubtensorError.self) { try RuntimeMetadata(bytes: Array("meta".utf8) + [13]) }
        #expect(throws: SubtensorError.self) { try RuntimeMetadata(bytes: Array("metb".utf8) + [14]) }
        guard Fixtures.available() else { return }
        let full = try Hex.decode(Fixtures.text("metadata_v14.hex"))
        // Every truncation point in a sample must throw, never crash.
        for cut in stride(from: 5, to: full.count, by: full.count / 97) {
            #expect(throws: SubtensorError.self) { try RuntimeMetadata(bytes: Array(full.prefix(cut))) }
        }
        #expect(throws: SubtensorError.self) { try RuntimeMetadata(bytes: full + [0]) }
        // Flipped bytes: must throw or parse, never trap.
        var generator = SplitMix(seed: 7)
        for _ in 0..<64 {
            var corrupt = full
            let i = Int(generator.next() % UInt64(corrupt.count))
            corrupt[i] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
            _ = try? RuntimeMetadata(bytes: corrupt)
        }
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct HostileInputTests {
    /// Random and mutated bytes decoded as the runtime's own event and commitment types must
    /// throw or decode, never trap or hang.
    @Test func randomBytesThroughTheTypeRegistry() throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata()
        guard case .plain(let events) = try metadata.storage("System", "Events").entry.kind,
              case .map(_, _, let commitment) = try metadata.storage("Commitments", "CommitmentOf").entry.kind
        else { Issue.record("unexpected storage layout"); return }
        var generator = SplitMix(seed: 42)
        for round in 0..<400 {
            let count = Int(generator.next() % 512)
            let input = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            for type in [events, commitment] {
                var d = ScaleDecoder(input)
                _ = try? metadata.registry.decode(type, from: &d)
            }
            // Vectors claiming huge lengths.
            var d = ScaleDecoder([0x03, 0xFF, 0xFF, 0xFF, 0xFF] + input)
            #expect(throws: SubtensorError.self, "round \(round)") { try metadata.registry.decode(events, from: &d) }
        }
    }

    @Test func truncatedSignedExtrinsicPartsThrow() throws {
        var d = ScaleDecoder([0x84])
        #expect(throws: SubtensorError.self) { try d.readBytes(32) }
        #expect(throws: SubtensorError.self) { try JSONValue.string("nothex").hexBytes() }
        #expect(throws: SubtensorError.self) { try JSONValue.integer(-1).unsignedValue() }
        #expect(try JSONValue.string("0x10").unsignedValue() == 16)
    }
}
