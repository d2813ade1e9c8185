import Foundation
import Testing
import TesseraCore
@testable import TesseraData

/// A fresh temporary directory, removed when the test's scope ends.
final class TemporaryDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "tessera-data-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func writeBytes(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

/// A .npy file built by hand (version 1 header, padded to 64 bytes as numpy does).
func npyBytes(descr: String, shape: [Int], fortran: Bool = false, payload: [UInt8]) -> [UInt8] {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    let h = Array(header.utf8)
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h + payload
}

@Suite("Token sources")
struct TokenSourceTests {
    @Test func llmcShardRoundTripAndSamples() throws {
        let dir = TemporaryDirectory()
        let tokens = (0..<1001).map { Int32($0 % 50_000) }
        try LLMCShard.write(tokens, to: dir.file("a.bin"))
        let shard = try LLMCShard(path: dir.file("a.bin"), sampleLength: 10)
        #expect(shard.tokenCount == 1001)
        #expect(shard.sampleCount == 100)
        let batch = try shard.batch([0, 99, 5])
        #expect(batch.batchSize == 3 && batch.sequenceLength == 10)
        #expect(Array(batch.tokens[0..<11]) == Array(tokens[0..<11]))
        #expect(Array(batch.tokens[11..<22]) == Array(tokens[990..<1001]))
        #expect(Array(batch.tokens[22..<33]) == Array(tokens[50..<61]))
        #expect { try shard.batch([100]) } throws: { ($0 as? DataError)?.code == .sampleOutOfRange }
        #expect { try shard.batch([-1]) } throws: { ($0 as? DataError)?.code == .sampleOutOfRange }
    }

    @Test func hostileShardsThrowTypedErrors() throws {
        let dir = TemporaryDirectory()
        try LLMCShard.write((0..<100).map { Int32($0) }, to: dir.file("ok.bin"))
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("ok.bin"))))
        func expectCode(_ bytes: [UInt8], _ code: DataError.Code, sourceLocation: SourceLocation = #_sourceLocation) throws {
            try writeBytes(bytes, to: dir.file("bad.bin"))
            #expect(throws: DataError.self, sourceLocation: sourceLocation) { try LLMCShard(path: dir.file("bad.bin"), sampleLength: 4) }
            do { _ = try LLMCShard(path: dir.file("bad.bin"), sampleLength: 4) } catch let e as DataError {
                #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
            }
        }
        try expectCode(Array(good[0..<100]), .truncated)                 // shorter than the header
        try expectCode(Array(good.dropLast(2)), .truncated)               // header promises more tokens
        try expectCode(good + [0, 0], .sizeMismatch)                      // extra bytes
        var magic = good; magic[0] ^= 0xFF
        try expectCode(magic, .badMagic)
        var version = good; version[4] = 7
        try expectCode(version, .unsupportedVersion)
        var negative = good; negative[11] = 0x80
        try expectCode(negative, .malformedHeader)
        var huge = good; huge[10] = 0x7F; huge[11] = 0x7F
        try expectCode(huge, .truncated)                                  // a header that lies about its size
        #expect { try LLMCShard(path: dir.file("missing.bin"), sampleLength: 4) } throws: { ($0 as? DataError)?.code == .fileSystem }
        #expect { try LLMCShard(path: dir.file("ok.bin"), sampleLength: 0) } throws: { ($0 as? DataError)?.code == .invalidArgument }
        #expect { try LLMCShard.write([70_000], to: dir.file("x.bin")) } throws: { ($0 as? DataError)?.code == .invalidArgument }
    }

    @Test(arguments: ["<u2", "<u4"])
    func numpyTokens(_ descr: String) throws {
        let dir = TemporaryDirectory()
        let values = (0..<65).map { UInt32($0 * 3) }
        let payload: [UInt8] = descr == "<u2"
            ? values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
            : values.flatMap { v in (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
        try writeBytes(npyBytes(descr: descr, shape: [5, 13], payload: payload), to: dir.file("t.npy"))
        let source = try NumpyTokens(path: dir.file("t.npy"), sampleLength: 8)
        #expect(source.tokenCount == 65 && source.sampleCount == 8)
        let batch = try source.batch([7])
        #expect(batch.tokens == (56...64).map { Int32($0 * 3) })
    }

    @Test func hostileNumpyFiles() throws {
        let dir = TemporaryDirectory()
        func expectCode(_ bytes: [UInt8], _ code: DataError.Code, sourceLocation: SourceLocation = #_sourceLocation) throws {
            try writeBytes(bytes, to: dir.file("bad.npy"))
            do {
                _ = try NumpyTokens(path: dir.file("bad.npy"), sampleLength: 2)
                Issue.record("expected \(code)", sourceLocation: sourceLocation)
            } catch let e as DataError {
                #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
            }
        }
        let payload = [UInt8](repeating: 1, count: 20)
        try expectCode(npyBytes(descr: ">u2", shape: [10], payload: payload), .unsupportedDType)
        try expectCode(npyBytes(descr: "<f4", shape: [5], payload: payload), .unsupportedDType)
        try expectCode(npyBytes(descr: "<u2", shape: [10], fortran: true, payload: payload), .unsupportedDType)
        try expectCode(npyBytes(descr: "<u2", shape: [11], payload: payload), .truncated)
        try expectCode(npyBytes(descr: "<u2", shape: [9], payload: payload), .sizeMismatch)
        try expectCode(npyBytes(descr: "<u2", shape: [Int.max / 2, 4], payload: payload), .malformedHeader)
        try expectCode(Array("not numpy at all".utf8), .badMagic)
        var version = npyBytes(descr: "<u2", shape: [10], payload: payload); version[6] = 9
        try expectCode(version, .unsupportedVersion)
        var lying = npyBytes(descr: "<u2", shape: [10], payload: payload); lying[8] = 0xFF; lying[9] = 0xFF
        try expectCode(lying, .truncated)
        try expectCode(Array(npyBytes(descr: "<u2", shape: [10], payload: payload).prefix(40)), .truncated)
    }

    @Test func shardDirectoryWithManifest() throws {
        let dir = TemporaryDirectory()
        try LLMCShard.write((0..<21).map { Int32($0) }, to: dir.file("s0.bin"))     // 5 samples of 4
        try LLMCShard.write((100..<113).map { Int32($0) }, to: dir.file("s1.bin"))  // 3 samples of 4
        try ShardDirectory.writeManifest(directory: dir.path, files: ["s0.bin", "s1.bin"])
        let source = try ShardDirectory(directory: dir.path, sampleLength: 4)
        #expect(source.sampleCount == 8)
        #expect(try source.batch([4]).tokens == [16, 17, 18, 19, 20])
        #expect(try source.batch([5]).tokens == [100, 101, 102, 103, 104])
        #expect(try source.batch([7]).tokens == [108, 109, 110, 111, 112])
        #expect { try source.batch([8]) } throws: { ($0 as? DataError)?.code == .sampleOutOfRange }
        // A manifest that disagrees with a file, names an escape, or is malformed.
        try writeBytes(Array(#"{"format":"tessera-shards","version":1,"shards":[{"file":"s0.bin","tokens":99}]}"#.utf8), to: dir.file("manifest.json"))
        #expect { try ShardDirectory(directory: dir.path, sampleLength: 4) } throws: { ($0 as? DataError)?.code == .invalidManifest }
        try writeBytes(Array(#"{"format":"tessera-shards","version":1,"shards":[{"file":"../s0.bin","tokens":21}]}"#.utf8), to: dir.file("manifest.json"))
        #expect { try ShardDirectory(directory: dir.path, sampleLength: 4) } throws: { ($0 as? DataError)?.code == .invalidManifest }
        try writeBytes(Array("{".utf8), to: dir.file("manifest.json"))
        #expect { try ShardDirectory(directory: dir.path, sampleLength: 4) } throws: { ($0 as? DataError)?.code == .invalidManifest }
    }

    @Test func byteTokenizer() throws {
        let dir = TemporaryDirectory()
        try writeBytes(Array("héllo".utf8), to: dir.file("t.txt"))
        #expect(try ByteTokenizer.tokenizeFile(at: dir.file("t.txt"), toShard: dir.file("t.bin")) == 6)
        let shard = try LLMCShard(path: dir.file("t.bin"), sampleLength: 5)
        #expect(try shard.batch([0]).tokens == ByteTokenizer.encode("héllo"))
    }
}

@Suite("Synthetic corpus")
struct SyntheticCorpusTests {
    @Test func uniformSourceHasEntropyLogV() throws {
        let c = SyntheticCorpus.Configuration(vocabularySize: 64, support: 64, extendedFraction: 0, groups: 1, concentration: 0, seed: 1)
        let corpus = try SyntheticCorpus(configuration: c, sampleLength: 16, sampleCount: 10)
        #expect(abs(corpus.entropyRate - log(64.0)) < 1e-9)
        #expect(abs(corpus.sampleLossFloor - log(64.0)) < 1e-9)
    }

    @Test func deterministicSourceHasZeroEntropy() throws {
        let c = SyntheticCorpus.Configuration(vocabularySize: 32, support: 1, extendedFraction: 0.5, groups: 3, concentration: 1, seed: 2)
        let corpus = try SyntheticCorpus(configuration: c, sampleLength: 16, sampleCount: 10)
        #expect(abs(corpus.entropyRate) < 1e-12)
    }

    @Test func samplesAreDeterministicAndInVocabulary() throws {
        let corpus = try SyntheticCorpus(configuration: .init(seed: 7), sampleLength: 32, sampleCount: 1_000_000)
        let a = try corpus.batch([0, 999_999, 17]), b = try corpus.batch([0, 999_999, 17])
        #expect(a == b)
        #expect(a.tokens.allSatisfy { $0 >= 0 && $0 < 256 })
        #expect(try corpus.batch([1]) != corpus.batch([2]))
        let other = try SyntheticCorpus(configuration: .init(seed: 8), sampleLength: 32, sampleCount: 10)
        #expect(try other.batch([0]) != corpus.batch([0]))
    }

    /// The empirical cross-entropy of generated text under the true model equals the computed
    /// entropy rate within 4 standard errors (200,000 tokens).
    @Test func entropyRateMatchesEmpiricalCrossEntropy() throws {
        let corpus = try SyntheticCorpus(configuration: .init(vocabularySize: 64, support: 8, extendedFraction: 0.5, groups: 4, concentration: 1.2, seed: 3), sampleLength: 2000, sampleCount: 100)
        let m = corpus.configuration.support, G = corpus.configuration.groups
        var losses: [Double] = []
        for i in 0..<100 {
            let tokens = try corpus.batch([i]).tokens
            // Positions ≥ 2 have a fully known context.
            for t in 2..<tokens.count {
                let y = Int(tokens[t - 1]), x = Int(tokens[t - 2])
                let state = corpus.extended[y] ? corpus.stateOffset[y] + x % G : corpus.stateOffset[y]
                let j = (0..<m).first { corpus.supportTokens[state * m + $0] == tokens[t] }
                let row = (0..<m).map { corpus.cumulative[state * m + $0] }
                let p = try #require(j.map { $0 == 0 ? row[0] : row[$0] - row[$0 - 1] })
                losses.append(-log(p))
            }
        }
        let mean = losses.reduce(0, +) / Double(losses.count)
        let variance = losses.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(losses.count - 1)
        let standardError = (variance / Double(losses.count)).squareRoot()
        #expect(abs(mean - corpus.entropyRate) < 4 * standardError + 1e-3, "empirical \(mean) vs rate \(corpus.entropyRate) ± \(standardError)")
        #expect(corpus.sampleLossFloor >= corpus.entropyRate)
        #expect(corpus.entropyRate > 0.5 && corpus.entropyRate < log(8.0))
    }

    @Test func invalidConfigurationsThrow() {
        for c in [SyntheticCorpus.Configuration(vocabularySize: 1), .init(support: 0), .init(support: 300), .init(extendedFraction: 1.5),
                  .init(groups: 0), .init(concentration: .nan)] {
            #expect { try SyntheticCorpus(configuration: c, sampleLength: 4, sampleCount: 1) } throws: { ($0 as? DataError)?.code == .invalidArgument }
        }
    }
}
