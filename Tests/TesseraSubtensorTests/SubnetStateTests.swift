import Testing
import TesseraChain
import TesseraCore
import TesseraSubtensor

@Suite struct SubnetStateTests {
    @Test func decodesRecordedSubnetState() throws {
        guard Fixtures.available() else { return }
        let expected = Golden.object("subnet_state")
        let state = try #require(try SubnetState.decode(Hex.decode(Fixtures.subnetStateHex())))
        #expect(Int(state.netuid) == expected["netuid"] as? Int)
        #expect(state.hotkeys.count == expected["uids"] as? Int)
        #expect(state.totalStake.reduce(0, +) == UInt64(expected["total_stake_rao"] as? Int ?? -1))
        #expect(state.incentives.reduce(0) { $0 + Int($1) } == expected["incentive_sum"] as? Int)
        #expect(state.validatorPermit.filter { $0 }.count == expected["permits"] as? Int)
        #expect(state.active.filter { $0 }.count == expected["active"] as? Int)

        let metagraph = try state.metagraph(block: 123)
        #expect(metagraph.neurons.count == state.hotkeys.count)
        for item in expected["neurons"] as? [[String: Any]] ?? [] {
            let uid = try #require(item["uid"] as? Int)
            let neuron = metagraph.neurons[uid]
            #expect(Int(neuron.uid.rawValue) == uid)
            #expect(neuron.hotkey.rawValue == item["hotkey"] as? String)
            // Stake in TAO is rao / 1e9; the division is exact to a relative 1e-15.
            let rao = Double(item["total_stake"] as? Int ?? -1)
            #expect(abs(neuron.stake - rao / 1e9) <= 1e-15 * max(1, rao / 1e9))
            #expect(abs(neuron.incentive - Double(item["incentive"] as? Int ?? -1) / 65_535) <= 1e-15)
            #expect(neuron.validatorPermit == item["validator_permit"] as? Bool)
        }
    }

    /// The hand-written decoder's field order must be the runtime API's, as the V15 metadata says.
    @Test func layoutMatchesV15Metadata() throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata("metadata_at_version15.hex")
        let method = try metadata.runtimeAPI("SubnetInfoRuntimeApi", "get_subnet_state")
        let option = try metadata.registry.type(method.output)
        guard case .variant(let variants) = option.definition, let some = variants.first(where: { $0.name == "Some" }),
              some.fields.count == 1
        else { Issue.record("output is not an Option"); return }
        guard case .composite(let fields) = try metadata.registry.type(some.fields[0].type).definition else {
            Issue.record("SubnetState is not a struct"); return
        }
        #expect(fields.map { $0.name ?? "" } == Golden.object("subnet_state")["field_names"] as? [String])
    }

    /// The client decodes through the V15 metadata's description of the method's output; on
    /// the recorded response it must give exactly what the fixed layout gives, and reject the
    /// same truncations.
    @Test func metadataDrivenDecodeMatchesFixedLayout() throws {
        guard Fixtures.available() else { return }
        let metadata = try Fixtures.metadata("metadata_at_version15.hex")
        let method = try metadata.runtimeAPI("SubnetInfoRuntimeApi", "get_subnet_state")
        let full = try Hex.decode(Fixtures.subnetStateHex())
        let byFields = try #require(try SubnetState.decode(full, as: method.output, in: metadata.registry))
        #expect(byFields == (try SubnetState.decode(full)))
        #expect(try SubnetState.decode([0], as: method.output, in: metadata.registry) == nil)
        for cut in stride(from: 1, to: full.count, by: 4_999) {
            #expect(throws: SubtensorError.self) { try SubnetState.decode(Array(full.prefix(cut)), as: method.output, in: metadata.registry) }
        }
        #expect(throws: SubtensorError.self) { try SubnetState.decode(full + [0], as: method.output, in: metadata.registry) }
        // A type that is not Option<struct> is refused as unsupported metadata, not misread.
        let u16 = try metadata.runtimeAPI("SubnetInfoRuntimeApi", "get_subnet_state").inputs[0].type
        #expect(throws: SubtensorError.self) { try SubnetState.decode(full, as: u16, in: metadata.registry) }
    }

    @Test func noneAndGarbage() throws {
        #expect(try SubnetState.decode([0]) == nil)
        #expect(throws: SubtensorError.self) { try SubnetState.decode([]) }
        #expect(throws: SubtensorError.self) { try SubnetState.decode([1, 4, 0xFF]) }
        guard Fixtures.available() else { return }
        let full = try Hex.decode(Fixtures.subnetStateHex())
        for cut in stride(from: 0, to: full.count, by: 997) {
            #expect(throws: SubtensorError.self) { try SubnetState.decode(Array(full.prefix(cut))) }
        }
        #expect(throws: SubtensorError.self) { try SubnetState.decode(full + [0]) }
    }
}
