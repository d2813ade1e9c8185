import Foundation
import Testing
import TesseraCore
@testable import TesseraChain

@Suite("LocalChain")
struct LocalChainTests {
    @Test func blocksAreDeterministicFromTheGenesisSeed() async throws {
        let a = try LocalChain(configuration: .init(genesisSeed: 7))
        let b = try LocalChain(configuration: .init(genesisSeed: 7))
        let c = try LocalChain(configuration: .init(genesisSeed: 8))
        try await a.advance(blocks: 5)
        try await b.advance(blocks: 5)
        let ha = try await a.client(as: "x").head(), hb = try await b.client(as: "x").head()
        #expect(ha == hb && ha.number == 5)
        #expect(a.hash(ofBlock: 3) != c.hash(ofBlock: 3))
        #expect(a.hash(ofBlock: 3) != a.hash(ofBlock: 4))
        #expect(ha.timestamp == 1_700_000_000 + 5 * 12)
        // Known answer (Python: hashlib.sha256(b"tessera/local-chain/v1" + struct.pack("<QQ", 7, 3))).
        #expect(a.hash(ofBlock: 3).hex == "0x8e914a67fba98f26501e752df7a21438abe726ce2d2ec19d184ba3718ddfe248")
        await #expect(throws: ChainError.self) { try await a.client(as: "x").block(6) }
        #expect(try await a.client(as: "x").block(2) == a.blockInfo(2))
    }

    @Test func wallClockFollowsTheTimeSource() async throws {
        let chain = try LocalChain(configuration: .init(genesisTime: 1000, blockSeconds: 12), clock: .wall({ 1000 + 12 * 41 + 5 }))
        #expect(try await chain.client(as: "x").head().number == 41)
        await #expect(throws: ChainError.self) { try await chain.advance() }
    }

    @Test func registrationMetagraphPermitsAndCommitments() async throws {
        let chain = try LocalChain(configuration: .init(validatorPermits: 1, maximumCommitmentBytes: 8))
        #expect(try await chain.register("miner-a", netuid: 3) == 0)
        #expect(try await chain.register("validator", netuid: 3, stake: 1000) == 1)
        #expect(try await chain.register("miner-a", netuid: 3, stake: 5) == 0)
        let graph = try await chain.client(as: "x").metagraph(netuid: 3)
        #expect(graph.neurons.map(\.hotkey) == ["miner-a", "validator"])
        #expect(graph.neurons.map(\.validatorPermit) == [false, true])
        #expect(graph.uid(of: "validator") == 1)
        let miner = chain.client(as: "miner-a")
        try await miner.commit(Array("bucket".utf8), netuid: 3)
        #expect(try await miner.commitments(netuid: 3) == ["miner-a": Array("bucket".utf8)])
        await #expect { try await miner.commit([UInt8](repeating: 0, count: 9), netuid: 3) } throws: { ($0 as? ChainError)?.code == .commitmentTooLarge }
        await #expect { try await chain.client(as: "stranger").commit([1], netuid: 3) } throws: { ($0 as? ChainError)?.code == .notRegistered }
        await #expect { try await miner.metagraph(netuid: 9) } throws: { ($0 as? ChainError)?.code == .unknownSubnet }
        await #expect { try await miner.setWeights(netuid: 3, [0: 1]) } throws: { ($0 as? ChainError)?.code == .noValidatorPermit }
    }

    @Test func weightsAreNormalizedToU16AndBecomeIncentive() async throws {
        let chain = try LocalChain(configuration: .init(tempo: 10))
        for m in 0..<3 { try await chain.register(Hotkey(rawValue: "m\(m)"), netuid: 1) }
        try await chain.register("v", netuid: 1, stake: 100)
        let v = chain.client(as: "v")
        try await v.setWeights(netuid: 1, [0: 0.5, 1: 0.25, 2: 0])
        #expect(await chain.weights(netuid: 1, validator: 3) == [0: 65535, 1: 32768])
        await #expect { try await v.setWeights(netuid: 1, [9: 1]) } throws: { ($0 as? ChainError)?.code == .invalidWeights }
        await #expect { try await v.setWeights(netuid: 1, [0: .nan]) } throws: { ($0 as? ChainError)?.code == .invalidWeights }
        #expect(try await v.metagraph(netuid: 1).neurons[0].incentive == 0, "no epoch has run yet")
        try await chain.advance(blocks: 10)
        let incentive = try await v.metagraph(netuid: 1).neurons.map(\.incentive)
        #expect(abs(incentive[0] - 65535.0 / (65535 + 32768)) < 1e-9)
        #expect(abs(incentive[1] - 32768.0 / (65535 + 32768)) < 1e-9)
        #expect(incentive[2] == 0 && incentive[3] == 0)
    }

    /// Hand-computed Yuma example: three validators (stakes 0.5, 0.3, 0.2) weigh two miners.
    /// Consensus = the largest weight backed by more than half the stake. Miner 0 gets
    /// (0.8, 0.5, 0.0): 0.8 has only 0.5 of the stake, 0.5 has 0.8 → c = 0.5. Miner 1 gets
    /// (0.2, 0.5, 1.0): 1.0 has 0.2, 0.5 has 0.5, 0.2 has 1.0 → c = 0.2. Clipped ranks:
    /// miner 0 = 0.5·0.5 + 0.3·0.5 + 0.2·0 = 0.40; miner 1 = 0.5·0.2 + 0.3·0.2 + 0.2·0.2 = 0.20.
    /// Incentive = (0.40, 0.20) / 0.60.
    @Test func yumaConsensusClipsOutliers() {
        let neurons = [
            Neuron(uid: 0, hotkey: "m0", stake: 0, incentive: 0, validatorPermit: false),
            Neuron(uid: 1, hotkey: "m1", stake: 0, incentive: 0, validatorPermit: false),
            Neuron(uid: 2, hotkey: "v0", stake: 50, incentive: 0, validatorPermit: true),
            Neuron(uid: 3, hotkey: "v1", stake: 30, incentive: 0, validatorPermit: true),
            Neuron(uid: 4, hotkey: "v2", stake: 20, incentive: 0, validatorPermit: true),
        ]
        let weights: [UID: [UInt16: UInt16]] = [2: [0: 8000, 1: 2000], 3: [0: 5000, 1: 5000], 4: [1: 10000]]
        let incentive = LocalChain.yumaIncentive(neurons: neurons, weights: weights)
        #expect(abs(incentive[0] - 0.40 / 0.60) < 1e-12)
        #expect(abs(incentive[1] - 0.20 / 0.60) < 1e-12)
        #expect(incentive[2...].allSatisfy { $0 == 0 })
    }

    @Test func blockStreamDeliversEveryNewBlockInOrder() async throws {
        let chain = try LocalChain()
        let stream = chain.client(as: "x").blocks()
        let reader = Task { () -> [UInt64] in
            var seen: [UInt64] = []
            for try await block in stream {
                seen.append(block.number)
                if seen.count == 4 { break }
            }
            return seen
        }
        try await Task.sleep(nanoseconds: 50_000_000)
        for _ in 0..<4 { try await chain.advance() }
        #expect(try await reader.value == [1, 2, 3, 4])
    }

    @Test func hotkeyKeyedJSON() throws {
        let data = try JSONEncoder().encode(["abc" as Hotkey: [UInt8(1)]])
        #expect(String(decoding: data, as: UTF8.self) == #"{"abc":[1]}"#)
        #expect(try WeightNormalization.toU16([:]) == ([], []))
    }
}
