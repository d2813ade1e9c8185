public import TesseraCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SparseLoCo's codec: each tensor cut into chunks (``ChunkGeometry``), optionally DCT-II
/// transformed (DeMo), the top-k entries by magnitude kept per chunk (lower index wins ties),
/// values quantized (``ValueQuantizer``) and positions coded (``IndexCoding``).
///
/// With the defaults (64×64 chunks, k = 64, 2-bit lookup values, Rice-coded indices) a large
/// matrix costs ≈ 0.018 bytes per parameter, against 0.0273 for 12-bit packed indices.
public struct ChunkedTopKCodec: GradientCodec, Sendable {
    /// The codec's settings; every peer in a network must use the same.
    public struct Configuration: Hashable, Sendable, Codable {
        /// Largest chunk side (the chunk side is the largest divisor of the tensor side ≤ this).
        public var maximumChunkSide: Int
        /// Values kept per chunk (capped at the chunk size).
        public var topK: Int
        /// How kept values are stored.
        public var quantizer: ValueQuantizer
        /// Transform applied to each chunk before selection.
        public var transform: ChunkTransform
        /// How kept positions are stored.
        public var indexCoding: IndexCoding

        /// Creates settings (SparseLoCo's by default).
        public init(maximumChunkSide: Int = 64, topK: Int = 64, quantizer: ValueQuantizer = .lookup2,
                    transform: ChunkTransform = .none, indexCoding: IndexCoding = .rice) {
            self.maximumChunkSide = maximumChunkSide
            self.topK = topK
            self.quantizer = quantizer
            self.transform = transform
            self.indexCoding = indexCoding
        }

        /// Checks the ranges.
        /// - Throws: ``CodecError`` `.invalidConfiguration`.
        public func validate() throws {
            guard (1...256).contains(maximumChunkSide) else {
                throw CodecError(.invalidConfiguration, "maximum chunk side must be in 1…256, got \(maximumChunkSide)")
            }
            guard topK >= 1 else { throw CodecError(.invalidConfiguration, "topK must be at least 1, got \(topK)") }
            guard indexCoding != .packed12 || maximumChunkSide <= 64 else {
                throw CodecError(.invalidConfiguration, "12-bit indices need chunks of at most 64×64, got side \(maximumChunkSide)")
            }
        }
    }

    /// Limits applied when decoding untrusted updates.
    public var limits: DecodeLimits
    /// The settings.
    public let configuration: Configuration

    /// Creates a codec.
    /// - Throws: ``CodecError`` `.invalidConfiguration`.
    public init(configuration: Configuration = Configuration(), limits: DecodeLimits = DecodeLimits()) throws {
        try configuration.validate()
        self.configuration = configuration
        self.limits = limits
    }

    /// The chunking and k this codec uses for a tensor of `shape`.
    public func plan(for shape: [Int]) -> (geometry: ChunkGeometry, k: Int) {
        let g = ChunkGeometry(shape: shape, maximumSide: configuration.maximumChunkSide)
        return (g, min(configuration.topK, max(g.chunkSize, 1)))
    }

    // MARK: Encoding

    public func encode(_ values: ParameterSet, metadata: UpdateMetadata) throws -> EncodedUpdate {
        var compressed: [CompressedTensor] = []
        var transmitted: [SparseTensor] = []
        compressed.reserveCapacity(values.count)
        transmitted.reserveCapacity(values.count)
        try values.withUnsafeBufferPointer { flat in
            for d in values.layout.descriptors {
                let (c, t) = try encodeTensor(UnsafeMutablePointer(mutating: flat.baseAddress! + d.offset), name: d.name, shape: d.shape)
                compressed.append(c)
                transmitted.append(t)
            }
        }
        return EncodedUpdate(
            compressed: CompressedUpdate(metadata: metadata, transform: configuration.transform, tensors: compressed),
            transmitted: SparseUpdate(metadata: metadata, transform: configuration.transform, tensors: transmitted))
    }

    /// SparseLoCo's error-feedback step fused with ``encode(_:metadata:)``: `e ← decay · e + delta`
    /// in place, then `e` is encoded; where the tensor is selected band by band, the update
    /// and the selection share one pass over memory. Same results as updating `e` first and
    /// calling ``encode(_:metadata:)``. The configuration must have no transform; on error
    /// `e` may be partly updated (callers check the inputs first).
    package func encode(folding delta: ParameterSet, into e: inout ParameterSet, decay: Float, metadata: UpdateMetadata) throws -> EncodedUpdate {
        precondition(configuration.transform == .none && delta.layout == e.layout, "fused encode needs no transform and equal layouts")
        var compressed: [CompressedTensor] = []
        var transmitted: [SparseTensor] = []
        compressed.reserveCapacity(e.count)
        transmitted.reserveCapacity(e.count)
        let descriptors = e.layout.descriptors
        try delta.withUnsafeBufferPointer { deltaFlat in
            try e.withUnsafeMutableBufferPointer { flat in
                for d in descriptors {
                    let (c, t) = try encodeTensor(flat.baseAddress! + d.offset, name: d.name, shape: d.shape,
                                                  fold: (deltaFlat.baseAddress! + d.offset, decay))
                    compressed.append(c)
                    transmitted.append(t)
                }
            }
        }
        return EncodedUpdate(
            compressed: CompressedUpdate(metadata: metadata, transform: configuration.transform, tensors: compressed),
            transmitted: SparseUpdate(metadata: metadata, transform: configuration.transform, tensors: transmitted))
    }

    private func encodeTensor(
        _ source: UnsafeMutablePointer<Float>, name: String, shape: [Int], fold: (delta: UnsafePointer<Float>, decay: Float)? = nil
    ) throws -> (CompressedTensor, SparseTensor) {
        let (g, k) = plan(for: shape)
        let banded = k < g.chunkSize && g.chunkSize * g.chunksPerRow <= TopKSelection.BandScratch.largestBand
        if let fold, !banded {
            // Not selected band by band: update the whole tensor first.
            let n = g.elementCount
            ParallelLoop.forEachRange(count: n, minimumChunk: 1 << 16) { range in
                for i in range { source[i] = fold.decay * source[i] + fold.delta[i] }
            }
        }
        var transformed: [Float] = []
        if configuration.transform == .dct {
            transformed = Array(UnsafeBufferPointer(start: source, count: g.elementCount))
            transformed.withUnsafeMutableBufferPointer { DCT.forward($0.baseAddress!, geometry: g) }
        }
        let kept = g.chunkCount * k
        let rice = configuration.indexCoding == .rice
        // Rice gaps (g₀ = i₀, gⱼ = iⱼ − iⱼ₋₁ − 1) and their histogram are collected per chunk
        // while the chunk's indices are hot; the histogram gives the best Rice parameter.
        let gapHistogram = GapHistogram(size: rice ? g.chunkSize : 0)
        // Every element of these is written below (k per chunk), so they start uninitialized.
        var indices = uninitializedArray(of: UInt16.self, count: kept)
        var selected = uninitializedArray(of: Float.self, count: kept)
        var gaps = uninitializedArray(of: UInt16.self, count: rice ? kept : 0)
        transformed.withUnsafeBufferPointer { transformedBuffer in
            let input: UnsafePointer<Float> = configuration.transform == .dct ? transformedBuffer.baseAddress! : UnsafePointer(source)
            indices.withUnsafeMutableBufferPointer { ib in
                selected.withUnsafeMutableBufferPointer { sb in
                    gaps.withUnsafeMutableBufferPointer { gb in
                        let ip = ib.baseAddress!, sp = sb.baseAddress!, gp = rice ? gb.baseAddress : nil
                        ParallelLoop.forEachRange(count: g.chunkCount, minimumChunk: 16) { range in
                            let histogram = UnsafeMutablePointer<UInt32>.allocate(capacity: gapHistogram.size)
                            histogram.initialize(repeating: 0, count: gapHistogram.size)
                            defer { histogram.deallocate() }
                            if banded {
                                var scratch = TopKSelection.BandScratch(geometry: g)
                                TopKSelection.selectBand(UnsafeMutablePointer(mutating: input), geometry: g, chunks: range, k: k, fold: fold,
                                                         scratch: &scratch, indices: ip, selected: sp)
                            } else {
                                var scratch = TopKSelection.Scratch(capacity: g.chunkSize)
                                for chunk in range {
                                    TopKSelection.select(
                                        rows: input + g.chunkOrigin(chunk), rowStride: g.columns, rowCount: g.chunkRows,
                                        columnCount: g.chunkColumns, k: k, scratch: &scratch, indices: ip + chunk * k, selected: sp + chunk * k)
                                }
                            }
                            if let gp {
                                for chunk in range {
                                    let out = ip + chunk * k
                                    var previous = -1
                                    for j in 0..<k {
                                        let index = Int(out[j])
                                        let gap = index - previous - 1
                                        gp[chunk * k + j] = UInt16(truncatingIfNeeded: gap)
                                        histogram[gap] &+= 1
                                        previous = index
                                    }
                                }
                            }
                            gapHistogram.add(histogram)
                        }
                    }
                }
            }
        }
        if let bad = selected.withUnsafeBufferPointer({ FiniteScan.firstNonFinite($0) }) {
            throw CodecError(.nonFiniteInput, tensor: name, "kept value \(bad) is \(selected[bad])")
        }
        let quantizer = configuration.quantizer
        var parameters = QuantizationParameters.none
        var decoded = uninitializedArray(of: Float.self, count: kept)  // every value written by the quantizer
        var valueBytes = uninitializedArray(of: UInt8.self, count: quantizer.packedByteCount(kept))  // every byte written
        var riceParameter = 0
        var indexBytes: [UInt8] = []
        // Values and indices are independent: quantize on one thread, code indices on another.
        ParallelLoop.forEach(count: 2) { part in
            if part == 0 {
                selected.withUnsafeBufferPointer { sb in
                    decoded.withUnsafeMutableBufferPointer { db in
                        valueBytes.withUnsafeMutableBufferPointer { vb in
                            parameters = Quantization.fitAndEncode(quantizer, sb, packed: vb.baseAddress!, decoded: db.baseAddress!)
                        }
                    }
                }
            } else {
                switch configuration.indexCoding {
                case .packed12:
                    indexBytes = indices.withUnsafeBufferPointer { IndexStream.pack12($0) }
                case .rice:
                    let counts = gapHistogram.counts
                    riceParameter = IndexStream.bestRiceParameter(histogram: counts)
                    let bits = IndexStream.riceBitCount(histogram: counts, parameter: riceParameter)
                    indexBytes = gaps.withUnsafeBufferPointer { IndexStream.riceEncode($0, parameter: riceParameter, bitCount: bits) }
                }
            }
        }
        let compressed = CompressedTensor(
            name: name, shape: shape, geometry: g, k: k, quantizer: quantizer, quantization: parameters,
            indexCoding: configuration.indexCoding, riceParameter: riceParameter, indexBytes: indexBytes, valueBytes: valueBytes)
        let sparse = SparseTensor(name: name, shape: shape, geometry: g, k: k, indices: indices, values: decoded)
        return (compressed, sparse)
    }

    // MARK: Decoding

    public func decode(_ update: CompressedUpdate, layout: ParameterLayout) throws -> SparseUpdate {
        try Layouts.requireMatch(update.tensors.map { ($0.name, $0.shape) }, layout)
        guard update.transform == configuration.transform else {
            throw CodecError(.malformedHeader, "update uses transform \(update.transform), the network uses \(configuration.transform)")
        }
        let tensors = try update.tensors.map { try decodeTensor($0, plan: checkHeader($0)) }
        return SparseUpdate(metadata: update.metadata, transform: update.transform, tensors: tensors)
    }

    /// Decodes several updates (a validator's gathered peers) in parallel, one update per
    /// thread at a time; the same results as decoding them one by one, and on failure the error
    /// of the first failing update in `updates` order.
    public func decode(_ updates: [CompressedUpdate], layout: ParameterLayout) throws -> [SparseUpdate] {
        let results = ParallelLoop.mapRanges(count: updates.count, minimumChunk: 1) { range in
            range.map { i in Result { try decode(updates[i], layout: layout) } }
        }
        return try results.flatMap { $0 }.map { try $0.get() }
    }

    /// Decodes an update straight to its dense form: the same result, and the same error on a
    /// bad update, as ``decode(_:layout:)`` followed by ``SparseUpdate/dense(layout:)``, in one
    /// pass. Large Rice-coded tensors are written band by band while later bands' indices are
    /// still being decoded (one thread decodes, the other writes, then both write), with
    /// non-temporal stores when the output is larger than the caches.
    /// - Throws: ``CodecError`` as ``decode(_:layout:)``.
    /// - Complexity: O(parameters).
    public func decodeDense(_ update: CompressedUpdate, layout: ParameterLayout) throws -> ParameterSet {
        guard configuration.transform == .none, update.transform == .none else {
            return try decode(update, layout: layout).dense(layout: layout)
        }
        try Layouts.requireMatch(update.tensors.map { ($0.name, $0.shape) }, layout)
        let streaming = layout.scalarCount * MemoryLayout<Float>.size >= DenseComposer.streamingThreshold
        var failure: (any Error)?
        let dense = ParameterSet(layout: layout) { flat in
            for (index, (tensor, descriptor)) in zip(update.tensors, layout.descriptors).enumerated() {
                do {
                    try decodeDense(tensor, into: flat.baseAddress! + descriptor.offset, streaming: streaming)
                } catch {
                    failure = error
                    // The set is discarded; its remaining elements still get defined values.
                    for rest in layout.descriptors[index...] { (flat.baseAddress! + rest.offset).initialize(repeating: 0, count: rest.count) }
                    return
                }
            }
        }
        if let failure { throw failure }
        return dense
    }

    /// Writes every element of one tensor's dense form at `base`.
    private func decodeDense(_ t: CompressedTensor, into base: UnsafeMutablePointer<Float>, streaming: Bool) throws {
        let (g, k) = try checkHeader(t)
        let perRow = g.chunksPerRow, bands = g.chunkCount == 0 ? 0 : g.rows / g.chunkRows
        let pipelined = t.indexCoding == .rice && bands >= 2 && g.elementCount >= DenseComposer.pipelineThreshold
            && ParallelLoop.maximumThreads >= 2
        guard pipelined else {
            let sparse = try decodeTensor(t, plan: (g, k))
            if g.chunkCount == 0 {
                base.initialize(repeating: 0, count: g.elementCount)
            } else {
                DenseComposer.fill(sparse, into: base, streaming: streaming)
            }
            return
        }
        let kept = g.chunkCount * k
        let indices = UnsafeMutablePointer<UInt16>.allocate(capacity: kept)
        let values = UnsafeMutablePointer<Float>.allocate(capacity: kept)
        defer {
            indices.deallocate()
            values.deallocate()
        }
        let progress = DecodeProgress()
        nonisolated(unsafe) var indexError: (any Error)?
        nonisolated(unsafe) var valueError: (any Error)?
        t.indexBytes.withUnsafeBytes { indexBytes in
            // Part 0 decodes indices band by band and publishes each; part 1 decodes the values,
            // then writes published bands. Part 0 never waits for part 1, so the two parts are
            // correct even when one thread runs them one after the other.
            ParallelLoop.forEach(count: 2) { part in
                if part == 0 {
                    do {
                        var decoder = RiceDecoder(indexBytes, parameter: t.riceParameter, k: k, chunkSize: g.chunkSize, tensor: t.name)
                        for band in 0..<bands {
                            try decoder.decode(chunks: band * perRow..<(band + 1) * perRow, into: indices)
                            progress.decodedBands.store(band + 1, ordering: .releasing)
                        }
                        try decoder.finish()
                    } catch {
                        indexError = error
                        progress.failed.store(true, ordering: .releasing)
                        return
                    }
                    if progress.valuesReady.load(ordering: .acquiring) {
                        progress.compose(indices, values, geometry: g, k: k, bands: bands, into: base, streaming: streaming)
                    }
                } else {
                    do {
                        try decodeValues(t, count: kept, into: values)
                    } catch {
                        valueError = error
                        progress.failed.store(true, ordering: .releasing)
                        return
                    }
                    progress.valuesReady.store(true, ordering: .releasing)
                    progress.compose(indices, values, geometry: g, k: k, bands: bands, into: base, streaming: streaming)
                }
            }
        }
        // The same precedence as the sequential decoder: indices are checked before values.
        if let indexError { throw indexError }
        if let valueError { throw valueError }
        if progress.incomplete.load(ordering: .acquiring) {
            // The kernel could not allocate a row buffer for some band: write the tensor again.
            let sparse = SparseTensor(name: t.name, shape: t.shape, geometry: g, k: k,
                                      indices: Array(UnsafeBufferPointer(start: indices, count: kept)),
                                      values: Array(UnsafeBufferPointer(start: values, count: kept)))
            DenseComposer.fillBands(sparse, into: base)
        }
    }

    /// Checks one tensor's header against the network's codec and the decode limits, in the
    /// order the decoder reports problems; returns the tensor's chunking and k.
    private func checkHeader(_ t: CompressedTensor) throws -> (geometry: ChunkGeometry, k: Int) {
        let (g, k) = plan(for: t.shape)
        guard t.geometry == g else {
            throw CodecError(.layoutMismatch, tensor: t.name, "chunks \(t.geometry.chunkRows)×\(t.geometry.chunkColumns) differ from the network's \(g.chunkRows)×\(g.chunkColumns)")
        }
        guard t.k == k else { throw CodecError(.wrongIndexCount, tensor: t.name, "k = \(t.k), the network uses \(k)") }
        guard t.quantizer == configuration.quantizer else {
            throw CodecError(.malformedHeader, tensor: t.name, "values are \(t.quantizer), the network uses \(configuration.quantizer)")
        }
        guard t.indexCoding == configuration.indexCoding else {
            throw CodecError(.malformedHeader, tensor: t.name, "indices are \(t.indexCoding), the network uses \(configuration.indexCoding)")
        }
        try Quantization.validate(t.quantizer, t.quantization, maximumMagnitude: limits.maximumMagnitude, tensor: t.name)
        let kept = g.chunkCount * k
        guard t.valueBytes.count == t.quantizer.packedByteCount(kept) else {
            throw CodecError(.wrongIndexCount, tensor: t.name, "\(t.valueBytes.count) value bytes for \(kept) values of \(t.quantizer)")
        }
        switch t.indexCoding {
        case .packed12:
            guard t.riceParameter == 0 else {
                throw CodecError(.malformedHeader, tensor: t.name, "Rice parameter \(t.riceParameter) on 12-bit indices must be 0")
            }
            guard t.indexBytes.count == IndexStream.packed12ByteCount(kept) else {
                throw CodecError(.wrongIndexCount, tensor: t.name, "\(t.indexBytes.count) index bytes for \(kept) 12-bit indices")
            }
        case .rice:
            guard (0...15).contains(t.riceParameter) else {
                throw CodecError(.malformedHeader, tensor: t.name, "Rice parameter \(t.riceParameter) is outside 0…15")
            }
        }
        return (g, k)
    }

    /// Decodes and checks `count` values.
    private func decodeValues(_ t: CompressedTensor, count: Int, into values: UnsafeMutablePointer<Float>) throws {
        try t.valueBytes.withUnsafeBytes { raw in
            try Quantization.decode(t.quantizer, t.quantization, packed: raw, count: count, into: values,
                                    maximumMagnitude: limits.maximumMagnitude, tensor: t.name)
        }
    }

    /// Decodes the streams of a tensor whose header ``checkHeader(_:)`` accepted with `plan`.
    private func decodeTensor(_ t: CompressedTensor, plan: (geometry: ChunkGeometry, k: Int)) throws -> SparseTensor {
        let (g, k) = plan
        let kept = g.chunkCount * k
        var indices = [UInt16](repeating: 0, count: kept)
        try indices.withUnsafeMutableBufferPointer { ib in
            try t.indexBytes.withUnsafeBytes { raw in
                switch t.indexCoding {
                case .packed12:
                    try IndexStream.unpack12(raw, count: kept, into: ib.baseAddress!, tensor: t.name)
                    try IndexStream.validateAscending(ib.baseAddress!, chunkCount: g.chunkCount, k: k, chunkSize: g.chunkSize, tensor: t.name)
                case .rice:
                    try IndexStream.riceDecode(raw, parameter: t.riceParameter, chunkCount: g.chunkCount, k: k, chunkSize: g.chunkSize, into: ib.baseAddress!, tensor: t.name)
                }
            }
        }
        var values = [Float](repeating: 0, count: kept)
        try values.withUnsafeMutableBufferPointer { vb in try decodeValues(t, count: kept, into: vb.baseAddress!) }
        return SparseTensor(name: t.name, shape: t.shape, geometry: g, k: k, indices: indices, values: values)
    }
}

/// Hand-off between the two parts of a pipelined dense decode.
private final class DecodeProgress: Sendable {
    /// Bands whose indices are decoded (released by the decoding part).
    let decodedBands = Atomic<Int>(0)
    /// Whether every value is decoded.
    let valuesReady = Atomic<Bool>(false)
    /// Set when either part failed: the other stops waiting.
    let failed = Atomic<Bool>(false)
    /// The next band to write.
    let nextBand = Atomic<Int>(0)
    /// Set when the kernel could not write a band (it could not allocate its row buffer).
    let incomplete = Atomic<Bool>(false)

    /// Writes bands claimed one at a time until none is left, each once its indices are decoded.
    func compose(_ indices: UnsafePointer<UInt16>, _ values: UnsafePointer<Float>, geometry g: ChunkGeometry, k: Int, bands: Int,
                 into base: UnsafeMutablePointer<Float>, streaming: Bool) {
        defer { VectorKernels.storeFence() }
        while true {
            let band = nextBand.wrappingAdd(1, ordering: .relaxed).oldValue
            if band >= bands { return }
            var spins = 0
            while decodedBands.load(ordering: .acquiring) <= band {
                if failed.load(ordering: .acquiring) { return }
                spins += 1
                if spins > 1_000 { sched_yield() }
            }
            if !DenseComposer.composeBand(band, indices, values, geometry: g, k: k, into: base, streaming: streaming) {
                incomplete.store(true, ordering: .releasing)
            }
        }
    }
}

/// Bounds applied to untrusted updates before anything is allocated or trusted.
public struct DecodeLimits: Hashable, Sendable, Codable {
    /// Largest accepted file (as stored, before decompression).
    public var maximumStoredBytes: Int
    /// Largest accepted body after decompression.
    public var maximumBodyBytes: Int
    /// Most tensors in one update.
    public var maximumTensorCount: Int
    /// Largest decoded |value|, |scale|, |shift| or |lookup entry| accepted.
    public var maximumMagnitude: Float
    /// Most parameters (summed over tensors) an update may describe when no model layout is
    /// given (with a layout, the layout decides).
    public var maximumElementCount: Int

    /// Creates limits (defaults: 256 MiB stored, 512 MiB body, 100,000 tensors, |x| ≤ 1e4,
    /// 2³⁰ parameters without a layout).
    public init(maximumStoredBytes: Int = 256 << 20, maximumBodyBytes: Int = 512 << 20,
                maximumTensorCount: Int = 100_000, maximumMagnitude: Float = 1e4, maximumElementCount: Int = 1 << 30) {
        self.maximumStoredBytes = maximumStoredBytes
        self.maximumBodyBytes = maximumBodyBytes
        self.maximumTensorCount = maximumTensorCount
        self.maximumMagnitude = maximumMagnitude
        self.maximumElementCount = maximumElementCount
    }
}

/// An array of `count` elements of a trivial type whose storage the caller overwrites entirely
/// before reading it (saves a zero fill of the large per-tensor buffers).
@inline(__always)
func uninitializedArray<T: BitwiseCopyable>(of type: T.Type, count: Int) -> [T] {
    [T](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}
