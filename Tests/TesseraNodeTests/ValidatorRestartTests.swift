import Foundation
import Testing
import Tessera

@Suite("Validator restart")
struct ValidatorRestartTests {
    /// A validator killed at any write — mid-window, between the peer list and the checkpoint,
    /// between the model checkpoint and its state file — and restarted from storage alone ends
    /// in exactly (bit for bit) the state of an uninterrupted run.
    @Test func killedAtEveryWriteAndRestartedMatchesAnUninterruptedRun() async throws {
        let windows = 6
        let (reference, fired) = try await NetworkFixture.run(windows: windows)
        #expect(!fired)
        // Sanity: the run did something (the model moved, every miner was rated, the miners
        // reproduced the validator's model exactly).
        let initial = try LlamaModel(configuration: NetworkFixture.model, seed: 2).parameters.scalars
        #expect(reference.parameters != initial)
        #expect(reference.scorer.ratings.count == 4)
        #expect(reference.scorer.lastWindow == Window(rawValue: UInt64(windows)))
        #expect(reference.minerParameters.allSatisfy { $0 == reference.parameters })
        // Writes: start window, initial checkpoint, then per window a peer list and every 2nd
        // window a checkpoint and a state file.
        let writes = 2 + windows + 2 * (windows / 2)
        for killAt in 0..<writes {
            let (outcome, killed) = try await NetworkFixture.run(windows: windows, killAt: killAt)
            #expect(killed, "write \(killAt) was never reached")
            #expect(outcome == reference, "killed at write \(killAt)")
        }
    }

    /// A validator replaying a window whose peer list it already published (before a restart,
    /// perhaps on another machine whose scores differ in the last bits) follows that list instead
    /// of re-deciding from scores: the miners applied it, and the validator's model stays theirs.
    @Test func aReplayedWindowFollowsThePublishedPeerList() async throws {
        let (reference, _) = try await NetworkFixture.run(windows: 2)
        // Window 1's list as if published earlier: only uid 4 (who uploads zeros), which the
        // scores would never choose alone.
        let forced = [UID(rawValue: 4)]
        let (outcome, _, _, _) = try await NetworkFixture.runKeepingState(windows: 2, published: [Window(rawValue: 1): forced])
        let expected = try PeerList(window: Window(rawValue: 1), peers: forced).encoded()
        #expect(reference.peerLists[0] != expected, "the scores choose other peers")
        #expect(outcome.peerLists[0] == expected, "the published list is left as it was")
        #expect(outcome.minerParameters.allSatisfy { $0 == outcome.parameters }, "validator and miners hold the same model")
        #expect(outcome.parameters != reference.parameters)
    }
}
