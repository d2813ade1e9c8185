import Foundation
import Synchronization
import Testing
import TesseraCodec
import TesseraCore

// Shared helpers for the codec tests: seeded data, codecs, layouts, error expectations.

/// A layout from `(name, shape)` pairs.
func makeLayout(_ entries: [(String, [Int])]) throws -> ParameterLayout {
    try ParameterLayout(entries.map { (name: $0.0, shape: $0.1) })
}

/// Standard normals scaled by `standardDeviation`, from a seeded xoshiro256**.
func normalSet(_ layout: ParameterLayout, seed: UInt64, standardDeviation: Float = 1) throws -> ParameterSet {
    var generator = Xoshiro256StarStar(seed: seed)
    return try ParameterSet(layout: layout, scalars: generator.normalFloats(count: layout.scalarCount, standardDeviation: standardDeviation))
}

/// Values drawn uniformly from `alphabet` (many exact ties).
func tiedSet(_ layout: ParameterLayout, seed: UInt64, alphabet: [Float] = [-1, 0, 1, 2]) throws -> ParameterSet {
    var generator = Xoshiro256StarStar(seed: seed)
    let values = (0..<layout.scalarCount).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
    return try ParameterSet(layout: layout, scalars: values)
}

/// A codec with the given settings.
func makeCodec(
    side: Int = 64, k: Int = 64, quantizer: ValueQuantizer = .lookup2, transform: ChunkTransform = .none,
    indexCoding: IndexCoding = .rice, limits: DecodeLimits = DecodeLimits()
) throws -> ChunkedTopKCodec {
    try ChunkedTopKCodec(
        configuration: .init(maximumChunkSide: side, topK: k, quantizer: quantizer, transform: transform, indexCoding: indexCoding),
        limits: limits)
}

/// One codec setting, usable as a test argument.
struct CodecSetting: Sendable, CustomTestStringConvertible, Hashable {
    var quantizer: ValueQuantizer
    var indexCoding: IndexCoding
    var transform: ChunkTransform

    var testDescription: String { "\(quantizer)/\(indexCoding)/\(transform)" }

    func codec(side: Int = 64, k: Int = 64) throws -> ChunkedTopKCodec {
        try makeCodec(side: side, k: k, quantizer: quantizer, transform: transform, indexCoding: indexCoding)
    }

    /// Every quantizer × index coding × transform.
    static let all: [CodecSetting] = ValueQuantizer.allCases.flatMap { q in
        IndexCoding.allCases.flatMap { i in ChunkTransform.allCases.map { CodecSetting(quantizer: q, indexCoding: i, transform: $0) } }
    }
}

/// Runs `body` and expects a ``CodecError`` with `code`; returns the error.
@discardableResult
func expectCodecError<R>(
    _ code: CodecError.Code, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) -> CodecError? {
    do {
        let result = try body()
        Issue.record("expected CodecError.\(code), got a result of type \(type(of: result))\(comment.map { " — \($0)" } ?? "")", sourceLocation: sourceLocation)
        return nil
    } catch let error as CodecError {
        #expect(error.code == code, "expected .\(code), got \(error)\(comment.map { " — \($0)" } ?? "")", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected CodecError.\(code), got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// `|a − e| ≤ absolute + relative·|e|` elementwise, reporting the worst offender.
func expectClose(
    _ actual: [Float], _ expected: [Float], absolute: Float = 0, relative: Float = 0, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var worst: (index: Int, excess: Float)? = nil
    var failures = 0
    for i in actual.indices {
        let a = actual[i], e = expected[i]
        let bound = absolute + relative * abs(e)
        let error = abs(a - e)
        if !(error <= bound) {
            failures += 1
            if worst == nil || error - bound > worst!.excess { worst = (i, error - bound) }
        }
    }
    if let worst {
        Issue.record(
            "\(what): \(failures) of \(actual.count) values outside |a−e| ≤ \(absolute) + \(relative)·|e|; worst at \(worst.index): \(actual[worst.index]) vs \(expected[worst.index])",
            sourceLocation: sourceLocation)
    }
}

/// Bit-exact equality of two float arrays, reporting the first difference.
func expectBitwiseEqual(_ actual: [Float], _ expected: [Float], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    if let i = actual.indices.first(where: { actual[$0].bitPattern != expected[$0].bitPattern }) {
        Issue.record("\(what): first difference at \(i): \(actual[i]) vs \(expected[i])", sourceLocation: sourceLocation)
    }
}

/// The scalars of tensor `t` of `set`.
func tensorScalars(_ set: ParameterSet, _ t: Int) -> [Float] {
    Array(set.scalars[set.layout.descriptors[t].range])
}

/// The local indices of `chunk` of a sparse tensor.
func chunkIndices(_ tensor: SparseTensor, _ chunk: Int) -> [Int] {
    tensor.indices[(chunk * tensor.k)..<(chunk * tensor.k + tensor.k)].map(Int.init)
}

/// The scalars of one chunk of a row-major `rows × columns` tensor, row-major within the chunk.
func chunkValues(_ values: [Float], geometry g: ChunkGeometry, chunk: Int) -> [Float] {
    (0..<g.chunkSize).map { values[g.position(chunk: chunk, local: $0)] }
}

/// The top-k local indices by (|v| descending, index ascending), sorted ascending — by sorting.
func bruteForceTopK(_ values: [Float], k: Int) -> [Int] {
    let order = values.indices.sorted { a, b in
        let x = abs(values[a]), y = abs(values[b])
        return x != y ? x > y : a < b
    }
    return Array(order.prefix(k)).sorted()
}

/// Little-endian bytes of an integer.
func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// The Golden directory copied into the test bundle.
func goldenDirectory(sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
    try #require(Bundle.module.url(forResource: "Golden", withExtension: nil), sourceLocation: sourceLocation)
}

/// The Golden directory in the source tree (for regenerating fixtures).
let goldenSourceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

/// Serializes the tests that change the process-wide ``ParallelLoop/maximumThreads``.
private let threadSettingLock = Mutex<Void>(())

/// Runs `body` with ``ParallelLoop/maximumThreads`` = `threads`, restoring the previous value.
func withThreads<R>(_ threads: Int, _ body: () throws -> R) throws -> R {
    try threadSettingLock.withLock { _ in
        let saved = ParallelLoop.maximumThreads
        defer { ParallelLoop.maximumThreads = saved }
        ParallelLoop.maximumThreads = threads
        return try body()
    }
}

/// Runs `body` with ``ParallelLoop/maximumThreads`` = `threads` and the process-wide vector
/// kernel level `level` (capped at what the CPU supports), restoring both.
func withThreads<R>(_ threads: Int, level: VectorKernels.Level, _ body: (VectorKernels.Level) throws -> R) throws -> R {
    try threadSettingLock.withLock { _ in
        let saved = (ParallelLoop.maximumThreads, VectorKernels.levelInUse)
        defer {
            ParallelLoop.maximumThreads = saved.0
            VectorKernels.setLevel(saved.1)
        }
        ParallelLoop.maximumThreads = threads
        return try body(VectorKernels.setLevel(level))
    }
}

/// `actual == expected` without dumping large values into the failure message.
func expectSame<T: Equatable>(_ actual: T, _ expected: T, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if actual != expected { Issue.record("\(what): values differ", sourceLocation: sourceLocation) }
}
