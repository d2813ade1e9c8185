// A third party's own scorer, tested against Tessera's adversary zoo with the scenario harness.
//
//     swift run CustomScorer
//
// "LossDropScorer" pays every peer in proportion to how much its update lowers the validator's
// loss — a natural first idea. The harness shows what the zoo does to it, side by side with the
// Gauntlet scorer.
import Foundation
import Tessera
import TesseraTestKit
#if canImport(Glibc)
import Glibc
#endif

struct LossDropScorer: Scorer {
    mutating func evaluate(_ evidence: WindowEvidence) throws -> WindowScores {
        let batch = try evidence.data.tokenBatch(Array(evidence.randomSampleIDs.prefix(8)))
        let before = Double(try evidence.model.loss(batch))
        var scores: [UID: Double] = [:]
        var peers: [PeerScore] = []
        for peer in evidence.peers {
            var score = 0.0
            if case .update(let update) = peer.submission {
                var model = evidence.model
                try update.addScaled(-0.2, into: &model.parameters)
                let after = Double(try model.loss(batch))
                score = max(0, (before - after) / before)
            }
            scores[peer.uid] = score
            peers.append(PeerScore(uid: peer.uid, score: score, gradientScore: score, indicator: nil, ownAdvantage: nil, sync: 1, reasons: [.evaluated]))
        }
        let total = scores.values.reduce(0, +)
        let weights = total > 0 ? scores.filter { $0.value > 0 }.mapValues { $0 / total } : [:]
        return WindowScores(window: evidence.window, peers: peers, weights: weights, randomLossBefore: before)
    }
}

func report(_ name: String, _ r: ScenarioHarness.Report) {
    print("\(name): honest share \(String(format: "%.3f", r.honestShare))")
    for (role, weight) in r.weightByRole.sorted(by: { $0.value > $1.value }) where weight > 0.001 {
        print("  \(role): \(String(format: "%.3f", weight))")
    }
}

do {
    let arguments = CommandLine.arguments
    let windows = arguments.firstIndex(of: "--windows").flatMap { Int(arguments[$0 + 1]) } ?? 6
    let miners: [any MinerStrategy] = Array(repeating: HonestMiner(), count: 4)
        + [ExactCopier(victim: 0), ScaledNoisyCopier(victim: 1), WrongDataMiner(), FreeRider(honestWindows: 2)]
    let harness = ScenarioHarness()
    var mine = LossDropScorer()
    report("LossDropScorer", try harness.run(windows: windows, miners: miners, scorer: &mine))
    var gauntlet = try GauntletScorer()
    let g = try harness.run(windows: windows, miners: miners, scorer: &gauntlet)
    report("GauntletScorer", g)
    if g.honestShare < 0.95 { print("note: the Gauntlet scorer needs a few windows of evidence (try --windows 8)") }
} catch {
    print("error: \(error)")
    exit(1)
}
