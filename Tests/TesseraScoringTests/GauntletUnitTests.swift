import Foundation
import Testing
import Tessera
import TesseraTestKit

/// A tiny fixed world for unit-testing the scorer: a model, data, and hand-made updates.
struct ScoringFixture {
    let model: LlamaModel
    let corpus: SyntheticCorpus
    let codec: ChunkedTopKCodec
    let layout: ParameterLayout

    init() throws {
        let h = ScenarioHarness.Configuration()
        model = try LlamaModel(configuration: h.model, seed: 3)
        corpus = try SyntheticCorpus(configuration: h.corpus, sampleLength: h.model.contextLength, sampleCount: 10_000)
        codec = try ChunkedTopKCodec(configuration: h.codec)
        layout = model.parameters.layout
    }

    /// A real update: two AdamW steps on `ids`, encoded and decoded.
    func update(trainingOn ids: [UInt64], scale: Float = 1, uid: UInt32 = 0) throws -> SparseUpdate {
        let context = MinerContext(window: 1, uid: UID(rawValue: UInt16(uid)), model: model, data: corpus,
                                   slice: DataSlice(uid: 0, window: 1, sampleIDs: ids), codec: codec, uploadWindow: 0...70,
                                   visibleUploads: [:], innerSteps: 2, innerLearningRate: 3e-3, batchSize: 8)
        var delta = try context.pseudoGradient(trainingOn: ids)
        delta.scale(by: scale)
        var metadata = UpdateMetadata()
        metadata.uid = uid
        return try codec.encode(delta, metadata: metadata).transmitted
    }

    func evidence(window: UInt64 = 1, peers: [PeerEvidence]) -> WindowEvidence {
        WindowEvidence(window: Window(rawValue: window), model: model, data: TokenSourceBatches(corpus),
                       randomSampleIDs: Array(5000..<5008), peers: peers)
    }
}

@Suite("Gauntlet scorer: every penalty path, state, copies, weights")
struct GauntletUnitTests {
    @Test func missingLateEarlyPenalizeThenReset() throws {
        let f = try ScoringFixture()
        var scorer = try GauntletScorer()
        scorer.state.scores[1] = 1.0
        scorer.state.scores[2] = 1.0
        scorer.state.scores[3] = 1.0
        scorer.state.ratings[1] = OpenSkillRating(mu: 30, sigma: 2)
        for (w, kind) in [(1, Submission.missing), (2, .late), (3, .early)].enumerated() {
            _ = try scorer.evaluate(f.evidence(window: UInt64(w + 1), peers: [PeerEvidence(uid: 1, submission: kind.1), PeerEvidence(uid: 2, submission: .missing), PeerEvidence(uid: 3, submission: .early)]))
            if w < 2 { #expect(abs(scorer.state.scores[1]! - pow(0.75, Double(w + 1))) < 1e-12) }
        }
        // Three windows in a row without a valid update: reset.
        #expect(scorer.state.scores[1] == 0)
        #expect(scorer.state.ratings[1] == nil)
    }

    @Test func invalidZeroesTheScore() throws {
        let f = try ScoringFixture()
        var scorer = try GauntletScorer()
        scorer.state.scores[4] = 2.0
        let result = try scorer.evaluate(f.evidence(peers: [PeerEvidence(uid: 4, submission: .invalid(reason: "non-finite"))]))
        #expect(scorer.state.scores[4] == 0)
        #expect(result.peers[0].reasons == [.invalid("non-finite")])
    }

    @Test func honestUpdateImprovesAndBehindIsPenalized() throws {
        let f = try ScoringFixture()
        var scorer = try GauntletScorer()
        let own = Array(UInt64(0)..<16)
        let u = try f.update(trainingOn: own)
        let result = try scorer.evaluate(f.evidence(peers: [
            PeerEvidence(uid: 0, submission: .update(u), uploadTime: 1, ownSampleIDs: own, stepsBehind: 0),
            PeerEvidence(uid: 1, submission: .update(try f.update(trainingOn: Array(100..<116), uid: 1)), uploadTime: 2, ownSampleIDs: Array(100..<116), stepsBehind: 4),
        ]))
        let p0 = try #require(result.peers.first { $0.uid == 0 })
        let p1 = try #require(result.peers.first { $0.uid == 1 })
        #expect((p0.gradientScore ?? 0) > 0, "an honest update lowers the random loss")
        #expect(p0.indicator == 1, "training on its own samples helps them most")
        #expect(p1.reasons.contains(.behind(steps: 4)))
        #expect(abs(p1.sync - pow(1 - 4.0 / 5, 2.5)) < 1e-12)
        #expect(result.randomLossBefore != nil)
    }

    @Test func evaluationRestoresTheModelExactly() throws {
        let f = try ScoringFixture()
        var scorer = try GauntletScorer()
        let before = f.model.parameters
        let u = try f.update(trainingOn: Array(0..<16))
        let first = try scorer.evaluate(f.evidence(peers: [PeerEvidence(uid: 0, submission: .update(u), ownSampleIDs: Array(0..<16))]))
        #expect(f.model.parameters == before)
        // Same evidence, fresh scorer: bit-identical scores (nothing leaked between peers).
        var again = try GauntletScorer()
        #expect(try again.evaluate(f.evidence(peers: [PeerEvidence(uid: 0, submission: .update(u), ownSampleIDs: Array(0..<16))])) == first)
    }

    @Test(arguments: [("exact", 1.0, 0.0), ("rescaled", 3.0, 0.0), ("rescaled and noisy", 0.5, 0.02)])
    func copiesAreCaught(_ kind: (String, Float, Float)) throws {
        let f = try ScoringFixture()
        let victim = try f.update(trainingOn: Array(0..<16))
        var dense = try victim.dense(layout: f.layout)
        dense.scale(by: kind.1)
        var g = Xoshiro256StarStar(seed: 9)
        let std = Float(dense.norm() / Double(dense.scalarCount).squareRoot())
        try dense.axpy(1, try ParameterSet(layout: f.layout, scalars: g.normalFloats(count: f.layout.scalarCount, standardDeviation: kind.2 * std)))
        let copy = try f.codec.encode(dense, metadata: UpdateMetadata(uid: 1)).transmitted
        let overlap = CopyDetector.overlap(copy, victim)
        #expect(overlap >= 0.6, "\(kind.0) copy overlaps only \(overlap)")
        let independent = try f.update(trainingOn: Array(200..<216), uid: 2)
        #expect(CopyDetector.overlap(independent, victim) < 0.4, "independent honest updates must not look copied")
        let offenders = CopyDetector().offenders([(0, victim, 10), (1, copy, 12), (2, independent, 11)])
        #expect(offenders[1]?.source == 0)
        #expect(offenders[0] == nil && offenders[2] == nil)
        // The later uploader is the offender, whoever has the lower uid.
        #expect(CopyDetector().offenders([(0, victim, 20), (1, copy, 12)])[0]?.source == 1)
    }

    @Test func copiersArePenalizedResetAndBanned() throws {
        let f = try ScoringFixture()
        var configuration = GauntletConfiguration()
        configuration.banWindows = 5
        var scorer = try GauntletScorer(configuration: configuration)
        let u = try f.update(trainingOn: Array(0..<16))
        var copy = u
        copy.metadata.uid = 1
        let result = try scorer.evaluate(f.evidence(window: 10, peers: [
            PeerEvidence(uid: 0, submission: .update(u), uploadTime: 1, ownSampleIDs: Array(0..<16)),
            PeerEvidence(uid: 1, submission: .update(copy), uploadTime: 5, ownSampleIDs: Array(50..<66)),
        ]))
        #expect(result.peers[1].reasons.contains(.copied(from: 0, overlap: 1)))
        #expect(scorer.state.bannedUntil[1] == 15)
        let banned = try scorer.evaluate(f.evidence(window: 11, peers: [PeerEvidence(uid: 1, submission: .update(u), ownSampleIDs: Array(50..<66))]))
        #expect(banned.peers[0].reasons == [.banned(until: 15)])
        #expect(banned.weights[1] == nil)
    }

    /// The two milder copy bands: overlap in [threshold, reset) multiplies the score by the copy
    /// penalty; [reset, ban) resets the copier without banning it. Thresholds are moved so an
    /// exact copy (overlap 1) falls in each band.
    @Test(arguments: [("penalty band", 1.5, 2.0), ("reset band", 0.9, 1.5)])
    func milderCopyBands(_ band: (String, Double, Double)) throws {
        let f = try ScoringFixture()
        var configuration = GauntletConfiguration()
        configuration.copyResetThreshold = band.1
        configuration.copyBanThreshold = band.2
        var penalized = try GauntletScorer(configuration: configuration)
        var reference = try GauntletScorer(configuration: configuration)
        let u = try f.update(trainingOn: Array(0..<16))
        var copy = u
        copy.metadata.uid = 1
        // Give uid 1 a strong standing first, identically in both scorers.
        for uid in [UID(0), UID(1)] {
            penalized.state.ratings[uid] = OpenSkillRating(mu: 40, sigma: 2)
            penalized.state.indicatorAverage[uid] = 0.6
        }
        reference.state = penalized.state
        let copied = try penalized.evaluate(f.evidence(window: 5, peers: [
            PeerEvidence(uid: 0, submission: .update(u), uploadTime: 1, ownSampleIDs: Array(0..<16)),
            PeerEvidence(uid: 1, submission: .update(copy), uploadTime: 5, ownSampleIDs: Array(0..<16)),
        ]))
        #expect(copied.peers[1].reasons.contains(.copied(from: 0, overlap: 1)))
        #expect(penalized.state.bannedUntil[1] == nil, "\(band.0): no ban below the ban threshold")
        if band.0 == "reset band" {
            #expect(penalized.state.scores[1] == 0)
            #expect(penalized.state.ratings[1] == nil)
        } else {
            // Same window without the copy flag, for the unpenalized score.
            var unflagged = try GauntletScorer(configuration: {
                var c = configuration
                c.copyThreshold = 1.4
                return c
            }())
            unflagged.state = reference.state
            let clean = try unflagged.evaluate(f.evidence(window: 5, peers: [
                PeerEvidence(uid: 0, submission: .update(u), uploadTime: 1, ownSampleIDs: Array(0..<16)),
                PeerEvidence(uid: 1, submission: .update(copy), uploadTime: 5, ownSampleIDs: Array(0..<16)),
            ]))
            #expect(clean.peers[1].score > 0, "the comparison needs a positive unpenalized score")
            let expected = (clean.peers[1].score) * configuration.copyPenalty
            #expect(abs(copied.peers[1].score - expected) < 1e-12, "penalized \(copied.peers[1].score) vs 0.5 × \(clean.peers[1].score)")
        }
    }

    @Test func stateRoundTripsThroughJSON() throws {
        let f = try ScoringFixture()
        var scorer = try GauntletScorer()
        let own = Array(UInt64(0)..<16)
        for w in 1...2 {
            _ = try scorer.evaluate(f.evidence(window: UInt64(w), peers: [
                PeerEvidence(uid: 0, submission: .update(try f.update(trainingOn: own)), ownSampleIDs: own),
                PeerEvidence(uid: 7, submission: .update(try f.update(trainingOn: Array(300..<316), uid: 7)), ownSampleIDs: Array(300..<316)),
                PeerEvidence(uid: 9, submission: .missing),
            ]))
        }
        let json = try JSONEncoder().encode(scorer.state)
        let restored = try JSONDecoder().decode(GauntletState.self, from: json)
        #expect(restored == scorer.state)
        // A restarted scorer continues exactly like the original.
        var resumed = try GauntletScorer(state: restored)
        let next = f.evidence(window: 3, peers: [PeerEvidence(uid: 0, submission: .update(try f.update(trainingOn: own)), ownSampleIDs: own)])
        #expect(try resumed.evaluate(next) == scorer.evaluate(next))
        #expect(String(decoding: json, as: UTF8.self).contains("\"ratings\""))
    }

    @Test func duplicatePeersAndBadConfigurationsThrow() throws {
        let f = try ScoringFixture()
        var scorer = try GauntletScorer()
        #expect { try scorer.evaluate(f.evidence(peers: [PeerEvidence(uid: 1, submission: .missing), PeerEvidence(uid: 1, submission: .missing)])) } throws: {
            ($0 as? ScoringError)?.code == .invalidEvidence
        }
        var bad = GauntletConfiguration()
        bad.copyResetThreshold = 0.1
        #expect { try GauntletScorer(configuration: bad) } throws: { ($0 as? ScoringError)?.code == .invalidConfiguration }
    }
}

@Suite("Weight policy")
struct WeightPolicyTests {
    @Test func topTierRampAndReserves() {
        let scores = Dictionary(uniqueKeysWithValues: (0..<35).map { (UID(rawValue: UInt16($0)), Double(100 - $0)) })
        let w = WeightPolicy().weights(scores)
        #expect(abs(w.values.reduce(0, +) - 1) < 1e-12)
        let top = (0..<20).map { w[UID(rawValue: UInt16($0))]! }
        #expect(abs(top.reduce(0, +) - 0.75) < 1e-12)
        #expect(abs(top[0] / top[19] - 2) < 1e-12, "2:1 ramp")
        let reserves = (20..<30).map { w[UID(rawValue: UInt16($0))]! }
        #expect(abs(reserves.reduce(0, +) - 0.25) < 1e-12)
        #expect(abs(reserves[0] / reserves[1] - 2) < 1e-12, "each reserve gets half the previous")
        #expect(w[30] == nil, "beyond the reserves nobody is paid")
    }

    @Test func nonPositiveScoresEarnNothingAndBurnTakesItsShare() {
        let w = WeightPolicy(burnFraction: 0.1, burnUID: 99).weights([1: 5, 2: 0, 3: -1, 4: 2])
        #expect(w[2] == nil && w[3] == nil)
        #expect(abs(w[99]! - 0.1) < 1e-12)
        #expect(abs(w.values.reduce(0, +) - 1) < 1e-12)
        #expect(w[1]! > w[4]!)
        #expect(WeightPolicy().weights([1: 0]).isEmpty)
    }

}
