import ArgumentParser
import Foundation
import Tessera

/// Options shared by the codec commands.
struct CodecOptions: ParsableArguments {
    @Option(help: "Largest chunk side.") var chunk: Int = 64
    @Option(help: "Values kept per chunk.") var k: Int = 64
    @Option(help: "Bits per value: 32, 16, 8, 4 or 2 (2 = SparseLoCo's lookup scheme).") var bits: Int = 2
    @Option(help: "Index coding: rice or packed12.") var indices: String = "rice"
    @Flag(help: "Apply the orthonormal DCT-II to each chunk (DeMo).") var dct = false

    func codec() throws -> ChunkedTopKCodec {
        let quantizer: ValueQuantizer
        switch bits {
        case 32: quantizer = .float32
        case 16: quantizer = .float16
        case 8: quantizer = .int8
        case 4: quantizer = .int4
        case 2: quantizer = .lookup2
        default: throw ValidationError("--bits must be 32, 16, 8, 4 or 2")
        }
        guard let coding = ["rice": IndexCoding.rice, "packed12": .packed12][indices] else {
            throw ValidationError("--indices must be rice or packed12")
        }
        return try ChunkedTopKCodec(configuration: .init(
            maximumChunkSide: chunk, topK: k, quantizer: quantizer, transform: dct ? .dct : .none, indexCoding: coding))
    }
}

struct CodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec", abstract: "Compress and expand updates in Tessera's wire format.",
        subcommands: [Encode.self, Decode.self])

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Compress every float tensor of a safetensors file into a .tsg update.")
        @Option(help: "Input safetensors.") var `in`: String
        @Option(help: "Output update file.") var out: String
        @OptionGroup var options: CodecOptions
        @Option(help: "Window recorded in the metadata.") var window: UInt64 = 0
        @Option(help: "Uid recorded in the metadata.") var uid: UInt32 = 0
        @Option(help: "Body compression: zstd or none.") var compression: String = "zstd"

        func run() throws {
            guard let bodyCompression = ["zstd": WireFormat.Compression.zstd, "none": .none][compression] else {
                throw ValidationError("--compression must be zstd or none")
            }
            let values = try SafeTensorsFile(contentsOf: `in`).parameterSet()
            let encoded = try options.codec().encode(values, metadata: UpdateMetadata(window: window, uid: uid))
            let bytes = try WireFormat.serialize(encoded.compressed, compression: bodyCompression)
            try Data(bytes).write(to: URL(fileURLWithPath: out), options: .atomic)
            printJSON(["tensors": values.count, "parameters": values.scalarCount, "bytes": bytes.count,
                       "bytes_per_param": Double(bytes.count) / Double(max(values.scalarCount, 1))])
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Expand a .tsg update into a dense safetensors file.")
        @Option(help: "Input update file.") var `in`: String
        @Option(help: "Output safetensors.") var out: String
        @OptionGroup var options: CodecOptions

        func run() throws {
            let update = try WireFormat.parse(try readFile(`in`))
            let layout = try ParameterLayout(update.tensors.map { ($0.name, $0.shape) })
            let dense = try options.codec().decodeDense(update, layout: layout)
            var writer = SafeTensorsWriter()
            try writer.add(dense)
            try writer.write(to: out)
            printJSON(["tensors": layout.descriptors.count, "parameters": layout.scalarCount])
        }
    }
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Describe a .tsg update: tensors, density, bytes per parameter, metadata.")
    @Argument(help: "The file.") var file: String

    func run() throws {
        let bytes = try readFile(file)
        let update = try WireFormat.parse(bytes)
        let m = update.metadata
        print("update: \(bytes.count) bytes, format version \(WireFormat.version), transform \(update.transform)")
        print("metadata: window \(m.window), uid \(m.uid), hotkey '\(m.hotkey)', model '\(m.modelVersion)', inner steps \(m.innerSteps), sample digest \(m.sampleDigest.map { String(format: "%02x", $0) }.joined())")
        var total = 0
        for t in update.tensors {
            let n = t.geometry.elementCount
            total += n
            let stream = t.indexBytes.count + t.valueBytes.count
            print(String(format: "  %@ %@: chunks %d×%d, k %d, density %.4f, %@ values, %@ indices, %.4f bytes/param",
                         t.name, "\(t.shape)", t.geometry.chunkRows, t.geometry.chunkColumns, t.k,
                         Double(t.keptCount) / Double(max(n, 1)), "\(t.quantizer)", "\(t.indexCoding)", Double(stream) / Double(max(n, 1))))
        }
        print(String(format: "total: %d parameters, %.5f bytes per parameter", total, Double(bytes.count) / Double(max(total, 1))))
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
    return [UInt8](data)
}

extension BenchCommand {
    struct Codec: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode, decode and aggregate like codec_reference.py (SparseLoCo on one matrix, error feedback included).")
        @Option var rows: Int = 4096
        @Option var cols: Int = 4096
        @Option var peers: Int = 8
        @Option var threads: Int = 2
        @Option(name: .customLong("repeat"), help: "Timed repetitions (median reported).") var repetitions: Int = 5
        @Option(help: "Vector kernel level: portable, avx2 or avx512 (default: the best this CPU supports; capped at it).")
        var kernels: String?
        @Flag(help: "Also print XXH64 digests of every output (wire bytes, error feedback, dense decode, aggregate), to check that an optimization changes no bit.") var digest = false
        @OptionGroup var options: CodecOptions

        func run() throws {
            guard rows > 0, cols > 0, peers > 0, repetitions > 0 else { throw ValidationError("sizes must be positive") }
            TensorRuntime.setThreadCount(threads)
            try applyKernelLevel(kernels)
            let codec = try options.codec()
            let layout = try ParameterLayout([(name: "weight", shape: [rows, cols])])
            var generator = Xoshiro256StarStar(seed: 0)
            let grads = try (0..<peers).map { _ in
                try ParameterSet(layout: layout, scalars: generator.normalFloats(count: rows * cols, standardDeviation: 1))
            }
            var optimizers = try (0..<peers).map { _ in try SparseLoCo(codec: codec) }
            var messages: [CompressedUpdate] = []
            for p in 0..<peers {
                guard case .compressed(let e) = try optimizers[p].contribution(pseudoGradient: grads[p], metadata: UpdateMetadata(uid: UInt32(p))) else { continue }
                messages.append(e.compressed)
            }
            func timed(_ body: () throws -> Void) rethrows -> Double {
                try body()
                var times: [Double] = []
                for _ in 0..<repetitions {
                    let t0 = now()
                    try body()
                    times.append(now() - t0)
                }
                return median(times)
            }
            var encoder = optimizers[0]
            let encode = try timed { _ = try encoder.contribution(pseudoGradient: grads[0], metadata: UpdateMetadata()) }
            let decode = try timed { _ = try codec.decodeDense(messages[0], layout: layout) }
            let decodeSparse = try timed { _ = try codec.decode(messages[0], layout: layout) }
            let sparse = try codec.decode(messages[0], layout: layout)
            let densify = try timed { _ = try sparse.dense(layout: layout) }
            // A validator decoding peer after peer can reuse one dense buffer (no fresh pages).
            var reused = ParameterSet(zerosLike: layout)
            let decodeInto = try timed { try codec.decode(messages[0], layout: layout).dense(into: &reused) }
            let aggregator = MedianNormClippedMean()
            let aggregate = try timed {
                _ = try aggregator.aggregate(codec.decode(messages, layout: layout), layout: layout)
            }
            var aggregated = ParameterSet(zerosLike: layout)
            let aggregateInto = try timed {
                try aggregator.aggregate(codec.decode(messages, layout: layout), into: &aggregated)
            }
            let wire = try WireFormat.serialize(messages[0])
            let serialize = try timed { _ = try WireFormat.serialize(messages[0]) }
            let parse = try timed { _ = try WireFormat.parse(wire, layout: layout) }
            let n = Double(rows * cols)
            if digest {
                func hash(_ p: ParameterSet) -> UInt64 { p.withUnsafeBufferPointer { XXHash64.hash(UnsafeRawBufferPointer($0)) } }
                var wires: UInt64 = 0
                for m in messages { wires = XXHash64.hash(try WireFormat.serialize(m), seed: wires) }
                guard case .compressed(let last) = try encoder.contribution(pseudoGradient: grads[1], metadata: UpdateMetadata(uid: 9)) else {
                    throw CLIError("SparseLoCo returned a dense contribution")
                }
                try codec.decode(messages[messages.count - 1], layout: layout).dense(into: &reused)
                try codec.decode(messages[0], layout: layout).dense(into: &reused)
                guard hash(reused) == hash(try codec.decode(messages[0], layout: layout).dense(layout: layout)) else {
                    throw CLIError("dense(into:) differs from dense(layout:)")
                }
                for m in messages {
                    guard hash(try codec.decodeDense(m, layout: layout)) == hash(try codec.decode(m, layout: layout).dense(layout: layout)) else {
                        throw CLIError("decodeDense differs from decode(_:layout:).dense(layout:)")
                    }
                }
                let decoded = try codec.decode(messages, layout: layout)
                for candidate in [aggregator as any Aggregator, try TrimmedMean(), CoordinateMedian()] {
                    var target = try ParameterSet(layout: layout, scalars: [Float](repeating: .nan, count: layout.scalarCount))
                    try candidate.aggregate(decoded, into: &target)
                    guard hash(target) == hash(try candidate.aggregate(decoded, layout: layout)) else {
                        throw CLIError("\(candidate).aggregate(into:) differs from aggregate(layout:)")
                    }
                }
                printJSON([
                    "digest_wire": String(wires, radix: 16),
                    "digest_encode": String(XXHash64.hash(try WireFormat.serialize(last.compressed)), radix: 16),
                    "digest_error_feedback": String(hash(encoder.errorFeedback!), radix: 16),
                    "digest_dense": String(hash(try codec.decode(messages[0], layout: layout).dense(layout: layout)), radix: 16),
                    "digest_aggregate": String(hash(try aggregator.aggregate(codec.decode(messages, layout: layout), layout: layout)), radix: 16),
                    "digest_trimmed_mean": String(hash(try TrimmedMean().aggregate(messages.map { try codec.decode($0, layout: layout) }, layout: layout)), radix: 16),
                ])
            }
            printJSON([
                "peer": "tessera", "params": rows * cols, "threads": threads, "peers": peers, "kernels": VectorKernels.levelInUse.description,
                "encode_ms": (encode * 1e5).rounded() / 100, "decode_ms": (decode * 1e5).rounded() / 100,
                "decode_sparse_ms": (decodeSparse * 1e5).rounded() / 100,
                "densify_ms": (densify * 1e5).rounded() / 100,
                "decode_into_reused_ms": (decodeInto * 1e5).rounded() / 100,
                "aggregate_ms": (aggregate * 1e5).rounded() / 100,
                "aggregate_into_reused_ms": (aggregateInto * 1e5).rounded() / 100,
                "serialize_ms": (serialize * 1e5).rounded() / 100, "parse_ms": (parse * 1e5).rounded() / 100,
                "bytes_per_param": (Double(wire.count) / n * 1e6).rounded() / 1e6,
                "payload_bytes_per_param": (Double(messages[0].payloadByteCount) / n * 1e6).rounded() / 1e6,
            ])
        }
    }
}
