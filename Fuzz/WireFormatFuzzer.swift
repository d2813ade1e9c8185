// libFuzzer entry point for the wire-format parser and decoder (see Fuzz/run-fuzzer.sh).
// Every input must parse and decode or throw CodecError: a crash, hang or leak is a bug.
import TesseraCore

let fuzzLayout = try! ParameterLayout([(name: "b", shape: [5]), (name: "w", shape: [8, 12])])
let fuzzCodecs = [
    try! ChunkedTopKCodec(configuration: .init(maximumChunkSide: 4, topK: 3)),
    try! ChunkedTopKCodec(configuration: .init(maximumChunkSide: 4, topK: 3, quantizer: .int4, indexCoding: .packed12)),
]
let fuzzLimits = DecodeLimits(maximumStoredBytes: 1 << 16, maximumBodyBytes: 1 << 16)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Re-seal the checksum on odd-length inputs so mutations reach the body parser; even-length
    // inputs keep theirs and exercise the checksum check.
    if size >= 32, size % 2 == 1 {
        let sum = bytes.withUnsafeBytes { XXHash64.hash(UnsafeRawBufferPointer(rebasing: $0[0..<(size - 8)])) }
        withUnsafeBytes(of: sum.littleEndian) { bytes.replaceSubrange((size - 8)..<size, with: $0) }
    }
    do {
        let update = try WireFormat.parse(bytes, limits: fuzzLimits, layout: fuzzLayout)
        for codec in fuzzCodecs {
            // The one-pass dense decoder must agree with decode + dense: the same values, or a
            // failure on the same inputs.
            let dense = try? codec.decodeDense(update, layout: fuzzLayout)
            if let sparse = try? codec.decode(update, layout: fuzzLayout) {
                let twoStep = try sparse.dense(layout: fuzzLayout)
                guard let dense, dense.scalars.map(\.bitPattern) == twoStep.scalars.map(\.bitPattern) else {
                    fatalError("decodeDense differs from decode + dense")
                }
            } else if dense != nil {
                fatalError("decodeDense accepted an update decode refuses")
            }
        }
    } catch is CodecError {
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    return 0
}
