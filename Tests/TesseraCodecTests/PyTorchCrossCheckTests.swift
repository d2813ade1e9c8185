import Foundation
import Testing
import TesseraCodec
import TesseraCore

/// Tessera's SparseLoCo codec and aggregation against the PyTorch reference
/// (/work/shared/reference/codec_reference.py), on fixtures written by
/// Golden/make_codec_golden.py: 4 peers × (256×192, 64×128) standard normals, chunk 64, k 64,
/// 2-bit lookup values, zero error feedback.
@Suite("PyTorch reference codec")
struct PyTorchCrossCheckTests {
    struct Case: Decodable {
        struct Tensor: Decodable {
            let name: String
            let shape: [Int]
        }
        let seed: Int
        let chunk: Int
        let k: Int
        let bins: Int
        let peers: Int
        let tensors: [Tensor]
    }

    struct Fixture {
        let spec: Case
        let inputs: SafeTensorsReader
        let reference: SafeTensorsReader

        static func load() throws -> Fixture {
            let directory = try goldenDirectory().appendingPathComponent("pytorch-codec")
            let spec = try JSONDecoder().decode(Case.self, from: Data(contentsOf: directory.appendingPathComponent("case.json")))
            return Fixture(
                spec: spec,
                inputs: try SafeTensorsReader(Data(contentsOf: directory.appendingPathComponent("inputs.safetensors"))),
                reference: try SafeTensorsReader(Data(contentsOf: directory.appendingPathComponent("reference.safetensors"))))
        }

        func layout() throws -> ParameterLayout { try makeLayout(spec.tensors.map { ($0.name, $0.shape) }) }

        func input(peer: Int) throws -> ParameterSet {
            try ParameterSet(spec.tensors.map { t in
                (name: t.name, shape: t.shape, scalars: try inputs.floats("\(peer).\(t.name)", shape: t.shape))
            })
        }
    }

    @Test("the fixture is the case the generator describes")
    func fixtureShape() throws {
        let f = try Fixture.load()
        #expect(f.spec.chunk == 64 && f.spec.k == 64 && f.spec.bins == 4 && f.spec.peers == 4)
        #expect(f.spec.tensors.map(\.shape) == [[256, 192], [64, 128]])
        let x = try f.input(peer: 0)
        // Standard normals: mean ≈ 0, variance ≈ 1 over 57,344 values.
        let mean = x.scalars.reduce(0.0) { $0 + Double($1) } / Double(x.scalarCount)
        let variance = x.squaredNorm() / Double(x.scalarCount) - mean * mean
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.03, "mean \(mean), variance \(variance)")
    }

    @Test("same kept indices, same decoded values, same lookup table", arguments: IndexCoding.allCases)
    func encodeMatchesReference(indexCoding: IndexCoding) throws {
        let f = try Fixture.load()
        let codec = try makeCodec(side: f.spec.chunk, k: f.spec.k, quantizer: .lookup2, indexCoding: indexCoding)
        for peer in 0..<f.spec.peers {
            let encoded = try codec.encode(f.input(peer: peer), metadata: UpdateMetadata(uid: UInt32(peer)))
            for (t, spec) in f.spec.tensors.enumerated() {
                let sparse = encoded.transmitted.tensors[t]
                let compressed = encoded.compressed.tensors[t]
                let chunks = sparse.geometry.chunkCount
                #expect(chunks == (spec.shape[0] / 64) * (spec.shape[1] / 64))
                let key = "\(peer).\(spec.name)"
                let indices = try f.reference.int32s("\(key).indices", shape: [chunks, f.spec.k])
                let values = try f.reference.floats("\(key).values", shape: [chunks, f.spec.k])
                let differing = (0..<chunks).filter { chunk in chunkIndices(sparse, chunk) != indices[(chunk * f.spec.k)..<((chunk + 1) * f.spec.k)].map(Int.init) }
                #expect(differing.isEmpty, "\(key): chunks with a different index set: \(differing)")
                expectClose(sparse.values, values, absolute: 1e-7, relative: 1e-6, "\(key) decoded values")
                let lookup = try f.reference.floats("\(key).lookup", shape: [4])
                let shift = try f.reference.floats("\(key).shift", shape: [1])
                expectClose(compressed.quantization.lookup, lookup, absolute: 1e-7, relative: 1e-6, "\(key) lookup")
                expectClose([compressed.quantization.shift], shift, absolute: 1e-7, relative: 1e-6, "\(key) shift")
            }
        }
    }

    @Test("median-norm clipped scatter-mean matches the reference aggregate")
    func aggregateMatchesReference() throws {
        let f = try Fixture.load()
        let layout = try f.layout()
        let codec = try makeCodec(side: f.spec.chunk, k: f.spec.k, quantizer: .lookup2)
        let updates = try (0..<f.spec.peers).map { peer in
            let compressed = try codec.encode(f.input(peer: peer), metadata: UpdateMetadata(uid: UInt32(10 - peer))).compressed
            return try codec.decode(WireFormat.parse(WireFormat.serialize(compressed), layout: layout), layout: layout)
        }
        let result = try MedianNormClippedMean().aggregate(updates, layout: layout)
        for (t, spec) in f.spec.tensors.enumerated() {
            let expected = try f.reference.floats("aggregate.\(spec.name)", shape: spec.shape)
            expectClose(tensorScalars(result, t), expected, absolute: 1e-5, "aggregate of \(spec.name)")
            #expect(expected.contains { $0 != 0 })
        }
    }
}

/// Just enough of safetensors to read the fixtures: little-endian F32 and I32 tensors.
struct SafeTensorsReader {
    struct Entry {
        let dtype: String
        let shape: [Int]
        let range: Range<Int>
    }

    let data: Data
    let entries: [String: Entry]

    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        try #require(bytes.count >= 8)
        let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        try #require(headerLength <= bytes.count - 8)
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            let fields = try #require(value as? [String: Any], "\(name)")
            let dtype = try #require(fields["dtype"] as? String)
            let shape = try #require(fields["shape"] as? [Int])
            let offsets = try #require(fields["data_offsets"] as? [Int])
            try #require(offsets.count == 2 && offsets[0] <= offsets[1] && 8 + headerLength + offsets[1] <= bytes.count)
            entries[name] = Entry(dtype: dtype, shape: shape, range: (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1]))
        }
        self.data = data
        self.entries = entries
    }

    private func words(_ name: String, dtype: String, shape: [Int], sourceLocation: SourceLocation) throws -> [UInt32] {
        let entry = try #require(entries[name], "no tensor \(name)", sourceLocation: sourceLocation)
        try #require(entry.dtype == dtype && entry.shape == shape, "\(name) is \(entry.dtype) \(entry.shape)", sourceLocation: sourceLocation)
        try #require(entry.range.count == 4 * shape.reduce(1, *), sourceLocation: sourceLocation)
        let bytes = [UInt8](data[(data.startIndex + entry.range.lowerBound)..<(data.startIndex + entry.range.upperBound)])
        return stride(from: 0, to: bytes.count, by: 4).map {
            UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24
        }
    }

    func floats(_ name: String, shape: [Int], sourceLocation: SourceLocation = #_sourceLocation) throws -> [Float] {
        try words(name, dtype: "F32", shape: shape, sourceLocation: sourceLocation).map(Float.init(bitPattern:))
    }

    func int32s(_ name: String, shape: [Int], sourceLocation: SourceLocation = #_sourceLocation) throws -> [Int32] {
        try words(name, dtype: "I32", shape: shape, sourceLocation: sourceLocation).map { Int32(bitPattern: $0) }
    }
}
