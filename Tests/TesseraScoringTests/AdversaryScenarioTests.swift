import Foundation
import Testing
import Tessera
import TesseraTestKit

@Suite("Gauntlet scorer against the adversary zoo")
struct AdversaryScenarioTests {
    /// Six honest miners (uids 0–5) and one of every adversary (uids 6…); copiers copy uid 0.
    static func zooScenario(windows: Int) throws -> ScenarioHarness.Report {
        var scorer = try GauntletScorer()
        let miners: [any MinerStrategy] = Array(repeating: HonestMiner(), count: 6) + adversaryZoo(victim: 0)
        return try ScenarioHarness().run(windows: windows, miners: miners, scorer: &scorer)
    }

    @Test func honestMinersKeepTheWeight() throws {
        let report = try Self.zooScenario(windows: 10)
        let byRole = report.weightByRole.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4f", $0.value))" }
        print("weights by role: \(byRole.joined(separator: ", ")); losses: \(report.losses.map { String(format: "%.3f", $0) })")
        #expect(report.honestShare >= 0.95, "honest share \(report.honestShare): \(byRole)")
        for (role, weight) in report.weightByRole where role != "honest" {
            #expect(weight < 0.01, "\(role) kept \(weight)")
        }
        #expect(report.losses.last! < report.losses.first!, "the global model must improve: \(report.losses)")
    }
}
