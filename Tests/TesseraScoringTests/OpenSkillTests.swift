import Foundation
import Testing
import TesseraScoring

/// Parity with the Python `openskill` package (vectors in OpenSkillVectors.swift, made by
/// make_openskill_vectors.py) and the model's basic properties.
@Suite("OpenSkill Plackett–Luce")
struct OpenSkillTests {
    static let tolerance = 1e-9

    static func model(for sequence: OpenSkillVectorSequence) -> PlackettLuce {
        PlackettLuce(
            mu: sequence.mu, sigma: sequence.sigma, beta: sequence.beta,
            kappa: sequence.kappa, tau: sequence.tau, limitSigma: sequence.limitSigma
        )
    }

    // MARK: - Golden vectors

    @Test("matches openskill's mu and sigma after every window", arguments: openSkillVectorSequences.map(\.name))
    func goldenSequence(name: String) throws {
        let sequence = try #require(openSkillVectorSequences.first { $0.name == name })
        let model = Self.model(for: sequence)
        try #require(sequence.initialMu.count == sequence.initialSigma.count)
        try #require(!sequence.windows.isEmpty)
        // Replay with Tessera's own outputs carried forward, as a validator would.
        var pool = zip(sequence.initialMu, sequence.initialSigma).map { OpenSkillRating(mu: $0, sigma: $1) }
        var compared = 0
        for (windowIndex, window) in sequence.windows.enumerated() {
            let before = window.players.map { pool[$0] }
            let after: [OpenSkillRating]
            if let ranks = window.ranks {
                after = try model.rate(before, ranks: ranks)
            } else {
                after = try model.rate(before, scores: try #require(window.scores))
            }
            try #require(after.count == window.players.count)
            try #require(window.mu.count == window.players.count && window.sigma.count == window.players.count)
            for (slot, player) in window.players.enumerated() {
                let rating = after[slot]
                #expect(
                    abs(rating.mu - window.mu[slot]) <= Self.tolerance,
                    "\(name) window \(windowIndex) player \(player): mu \(rating.mu) vs openskill \(window.mu[slot])"
                )
                #expect(
                    abs(rating.sigma - window.sigma[slot]) <= Self.tolerance,
                    "\(name) window \(windowIndex) player \(player): sigma \(rating.sigma) vs openskill \(window.sigma[slot])"
                )
                pool[player] = rating
                compared += 1
            }
        }
        #expect(compared >= 3 * sequence.windows.count)
    }

    @Test("golden vectors cover Templar's and the package's parameters, ties, ranks and scores")
    func vectorCoverage() {
        let sequences = openSkillVectorSequences
        #expect(sequences.count >= 5)
        #expect(sequences.allSatisfy { $0.windows.count >= 10 })
        #expect(sequences.contains { $0.beta == 7 && $0.tau == 0.1 && $0.kappa == 0.0001 && !$0.limitSigma })
        #expect(sequences.contains { $0.beta == 25.0 / 6.0 && $0.tau == 25.0 / 300.0 && $0.kappa == 0.0001 })
        #expect(sequences.contains { $0.limitSigma })
        let windows = sequences.flatMap(\.windows)
        #expect(windows.contains { $0.ranks != nil })
        #expect(windows.contains { $0.scores != nil })
        #expect(windows.allSatisfy { (3...15).contains($0.players.count) || $0.players.count == 2 })
        func hasTie(_ values: [Double]?) -> Bool {
            guard let values else { return false }
            return Set(values).count < values.count
        }
        #expect(windows.filter { hasTie($0.ranks) }.count >= 10)
        #expect(windows.filter { hasTie($0.scores) }.count >= 10)
    }

    // MARK: - Behaviour

    @Test("the winner's mu rises, the loser's falls, and mu follows the finishing order")
    func ordering() throws {
        let model = PlackettLuce.templar
        let start = model.initialRating
        let rated = try model.rate([start, start, start, start], ranks: [3, 1, 4, 2])
        #expect(rated[1].mu > start.mu)
        #expect(rated[2].mu < start.mu)
        #expect(rated[1].mu > rated[3].mu)
        #expect(rated[3].mu > rated[0].mu)
        #expect(rated[0].mu > rated[2].mu)
        // With τ small, one match makes everyone more certain.
        #expect(rated.allSatisfy { $0.sigma < start.sigma })
        #expect(rated[1].ordinal > start.ordinal)
    }

    @Test("scores rank higher-is-better, exactly like the equivalent competition ranks")
    func scoresMatchRanks() throws {
        let model = PlackettLuce()
        let ratings = [
            OpenSkillRating(mu: 27, sigma: 6), OpenSkillRating(mu: 22, sigma: 8),
            OpenSkillRating(mu: 25, sigma: 3), OpenSkillRating(mu: 30, sigma: 7),
        ]
        let byScore = try model.rate(ratings, scores: [0.3, -0.1, 0.3, 0.05])
        let byRank = try model.rate(ratings, ranks: [0, 3, 0, 2])
        #expect(byScore == byRank)
        let reversed = try model.rate(ratings, scores: [-0.3, 0.1, -0.3, -0.05])
        #expect(reversed != byScore)
        #expect(reversed[1].mu > ratings[1].mu)
    }

    @Test("tied players with equal ratings get equal updates, and relabelling players only permutes results")
    func tiesAreSymmetric() throws {
        let model = PlackettLuce.templar
        let a = OpenSkillRating(mu: 26, sigma: 5)
        let b = OpenSkillRating(mu: 21, sigma: 7)
        let tied = try model.rate([a, b, a, b], ranks: [2, 1, 2, 3])
        #expect(tied[0] == tied[2])
        #expect(tied[0].mu < a.mu)  // beaten by b, tied with its twin

        // Two identical players tying: nothing to learn about μ.
        let pair = try model.rate([a, a], ranks: [1, 1])
        #expect(pair[0] == pair[1])
        #expect(abs(pair[0].mu - a.mu) <= 1e-12)

        // Reordering the input (including within the tie) permutes the output.
        let ratings = [a, b, OpenSkillRating(mu: 24, sigma: 6), OpenSkillRating(mu: 19, sigma: 4)]
        let ranks: [Double] = [1, 1, 2, 1]
        let forward = try model.rate(ratings, ranks: ranks)
        let permutation = [3, 1, 0, 2]
        let shuffled = try model.rate(permutation.map { ratings[$0] }, ranks: permutation.map { ranks[$0] })
        for (slot, original) in permutation.enumerated() {
            #expect(abs(shuffled[slot].mu - forward[original].mu) <= 1e-12)
            #expect(abs(shuffled[slot].sigma - forward[original].sigma) <= 1e-12)
        }
    }

    @Test("ranks are truncated toward zero before comparing, as openskill's int(rank)")
    func fractionalRanksTruncate() throws {
        let model = PlackettLuce()
        let ratings = [OpenSkillRating(mu: 24, sigma: 7), OpenSkillRating(mu: 28, sigma: 5), OpenSkillRating()]
        #expect(try model.rate(ratings, ranks: [1.2, 1.9, 3]) == model.rate(ratings, ranks: [1, 1, 3]))
        #expect(try model.rate(ratings, ranks: [-0.5, 0.5, 2]) == model.rate(ratings, ranks: [0, 0, 2]))
        #expect(try model.rate(ratings, ranks: [1.2, 2.1, 3]) != model.rate(ratings, ranks: [1, 1, 3]))
    }

    @Test("a lone player only gets the tau inflation")
    func singlePlayer() throws {
        let model = PlackettLuce.templar
        let rating = OpenSkillRating(mu: 31, sigma: 2)
        let rated = try model.rate([rating], ranks: [1])
        #expect(rated == [OpenSkillRating(mu: 31, sigma: (4 + 0.01).squareRoot())])
    }

    @Test("limitSigma keeps sigma from rising; without it tau can raise it")
    func limitSigma() throws {
        let certain = OpenSkillRating(mu: 25, sigma: 0.01)
        let free = try PlackettLuce(tau: 0.5).rate([certain, certain], ranks: [1, 2])
        #expect(free.allSatisfy { $0.sigma > certain.sigma })
        let limited = try PlackettLuce(tau: 0.5, limitSigma: true).rate([certain, certain], ranks: [1, 2])
        #expect(limited.allSatisfy { $0.sigma == certain.sigma })
        #expect(limited.map(\.mu) == free.map(\.mu))
    }

    @Test("defaults are openskill's and the Templar preset is β = 7, τ = 0.1")
    func parameters() {
        let defaults = PlackettLuce()
        #expect(defaults == PlackettLuce(mu: 25, sigma: 25.0 / 3.0, beta: 25.0 / 6.0, kappa: 0.0001, tau: 25.0 / 300.0, limitSigma: false))
        #expect(PlackettLuce.templar == PlackettLuce(beta: 7, tau: 0.1))
        #expect(PlackettLuce.templar.initialRating == OpenSkillRating(mu: 25, sigma: 25.0 / 3.0))
        let rating = OpenSkillRating(mu: 30, sigma: 2)
        #expect(rating.ordinal == 24)
        #expect(rating.ordinal(z: 2) == 26)
    }

    // MARK: - Validation

    @Test("invalid matches throw invalidEvidence")
    func invalidEvidence() {
        let model = PlackettLuce.templar
        let good = OpenSkillRating()
        let cases: [(String, () throws -> [OpenSkillRating])] = [
            ("no players", { try model.rate([], ranks: []) }),
            ("count mismatch", { try model.rate([good, good], ranks: [1]) }),
            ("score count mismatch", { try model.rate([good, good], scores: [1, 2, 3]) }),
            ("NaN mu", { try model.rate([OpenSkillRating(mu: .nan, sigma: 1), good], ranks: [1, 2]) }),
            ("zero sigma", { try model.rate([OpenSkillRating(mu: 25, sigma: 0), good], ranks: [1, 2]) }),
            ("negative sigma", { try model.rate([OpenSkillRating(mu: 25, sigma: -1), good], ranks: [1, 2]) }),
            ("infinite sigma", { try model.rate([OpenSkillRating(mu: 25, sigma: .infinity), good], ranks: [1, 2]) }),
            ("infinite rank", { try model.rate([good, good], ranks: [1, .infinity]) }),
            ("NaN score", { try model.rate([good, good], scores: [.nan, 1]) }),
            ("overflow", { try model.rate([OpenSkillRating(mu: 1e6, sigma: 1), good], ranks: [2, 1]) }),
        ]
        for (label, call) in cases {
            let error = #expect(throws: ScoringError.self, "\(label)") { try call() }
            #expect(error?.code == .invalidEvidence, "\(label)")
        }
    }

    @Test("invalid model parameters throw invalidConfiguration", arguments: [
        PlackettLuce(mu: .nan),
        PlackettLuce(sigma: 0),
        PlackettLuce(beta: 0),
        PlackettLuce(beta: -7),
        PlackettLuce(kappa: 0),
        PlackettLuce(tau: -0.1),
        PlackettLuce(tau: .infinity),
    ])
    func invalidConfiguration(model: PlackettLuce) {
        let error = #expect(throws: ScoringError.self) {
            try model.rate([OpenSkillRating(), OpenSkillRating()], ranks: [1, 2])
        }
        #expect(error?.code == .invalidConfiguration)
    }

    // MARK: - Codable

    @Test("ratings and models round-trip through JSON")
    func codableRoundTrip() throws {
        let rating = OpenSkillRating(mu: 23.456789012345678, sigma: 7.123456789012345)
        let model = PlackettLuce(mu: 20, sigma: 6, beta: 7, kappa: 0.001, tau: 0.1, limitSigma: true)
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        #expect(try decoder.decode(OpenSkillRating.self, from: encoder.encode(rating)) == rating)
        #expect(try decoder.decode(PlackettLuce.self, from: encoder.encode(model)) == model)
        let decoded = try decoder.decode(OpenSkillRating.self, from: Data(#"{"mu": 30, "sigma": 2.5}"#.utf8))
        #expect(decoded == OpenSkillRating(mu: 30, sigma: 2.5))
    }
}
