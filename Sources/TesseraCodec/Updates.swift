public import TesseraCore

/// What an update says about itself: who made it, for which window, from which data.
/// Carried in the wire format's header; validators check it against the window and peer.
public struct UpdateMetadata: Hashable, Sendable, Codable {
    /// The window the update belongs to.
    public var window: UInt64
    /// The sender's uid on the subnet.
    public var uid: UInt32
    /// The sender's hotkey (SS58 or hex), at most 255 UTF-8 bytes.
    public var hotkey: String
    /// Identifies the model the update applies to (architecture and version), at most 255 bytes.
    public var modelVersion: String
    /// Digest of the sorted sample ids trained on (32 bytes; zeros when unknown).
    public var sampleDigest: [UInt8]
    /// Inner optimizer steps behind this update.
    public var innerSteps: UInt32

    /// Creates metadata.
    public init(window: UInt64 = 0, uid: UInt32 = 0, hotkey: String = "", modelVersion: String = "",
                sampleDigest: [UInt8] = [UInt8](repeating: 0, count: 32), innerSteps: UInt32 = 0) {
        self.window = window
        self.uid = uid
        self.hotkey = hotkey
        self.modelVersion = modelVersion
        self.sampleDigest = sampleDigest
        self.innerSteps = innerSteps
    }
}

/// An optional orthonormal transform applied to each chunk before selection.
public enum ChunkTransform: UInt8, Codable, Sendable, CaseIterable {
    /// Values are selected as they are.
    case none = 0
    /// Orthonormal 2-D DCT-II of each chunk (DeMo); decoding applies the inverse.
    case dct = 1
}

/// One tensor of a ``CompressedUpdate``: its chunking, k, quantization and packed streams.
public struct CompressedTensor: Hashable, Sendable {
    /// The tensor's name in the model layout.
    public var name: String
    /// The tensor's shape.
    public var shape: [Int]
    /// How it was cut into chunks.
    public var geometry: ChunkGeometry
    /// Values kept per chunk.
    public var k: Int
    /// How values are stored.
    public var quantizer: ValueQuantizer
    /// Decoding parameters of the quantizer.
    public var quantization: QuantizationParameters
    /// How indices are stored.
    public var indexCoding: IndexCoding
    /// The Rice parameter (``IndexCoding/rice`` only).
    public var riceParameter: Int
    /// The index stream.
    public var indexBytes: [UInt8]
    /// The packed values, chunk after chunk, ascending index order within a chunk.
    public var valueBytes: [UInt8]

    /// Number of kept values.
    public var keptCount: Int { geometry.chunkCount * k }
}

/// A compressed update as produced by a ``GradientCodec`` and carried by the wire format.
public struct CompressedUpdate: Hashable, Sendable {
    /// Who, when, what.
    public var metadata: UpdateMetadata
    /// The chunk transform in effect.
    public var transform: ChunkTransform
    /// One entry per model tensor, in layout order.
    public var tensors: [CompressedTensor]

    /// Total bytes of the index and value streams and quantization tables.
    public var payloadByteCount: Int {
        tensors.reduce(0) { $0 + $1.indexBytes.count + $1.valueBytes.count + 4 * (2 + $1.quantization.lookup.count) }
    }
}

/// One decoded tensor: per chunk, k ascending local indices and their values.
public struct SparseTensor: Hashable, Sendable {
    /// The tensor's name.
    public var name: String
    /// The tensor's shape.
    public var shape: [Int]
    /// Its chunking.
    public var geometry: ChunkGeometry
    /// Values per chunk.
    public var k: Int
    /// `chunkCount × k` local indices, ascending within each chunk.
    public var indices: [UInt16]
    /// The values at those indices (in the transformed domain when the update uses one).
    public var values: [Float]

    /// Checks the invariants unchecked writers rely on: `chunkCount × k` indices and values,
    /// every index inside its chunk.
    /// - Throws: ``CodecError`` `.wrongIndexCount` or `.indexOutOfRange`.
    public func validate() throws {
        guard k >= 0, indices.count == geometry.chunkCount * k, values.count == indices.count else {
            throw CodecError(.wrongIndexCount, tensor: name, "\(indices.count) indices and \(values.count) values for \(geometry.chunkCount) chunks of k = \(k)")
        }
        let size = geometry.chunkSize
        if IndexBounds.largest(indices) >= size, let bad = indices.first(where: { Int($0) >= size }) {
            throw CodecError(.indexOutOfRange, tensor: name, "index \(bad) is outside chunks of \(size)")
        }
        guard geometry.elementCount == shape.reduce(1, *) || (shape.isEmpty && geometry.elementCount == 1) else {
            throw CodecError(.layoutMismatch, tensor: name, "chunk geometry does not cover shape \(shape)")
        }
    }

    /// Euclidean norm of the values, accumulated in `Double` in order.
    public var norm: Double {
        values.withUnsafeBufferPointer { DeterministicSum.dot($0, $0) }.squareRoot()
    }
}

/// A decoded update, ready to aggregate or to apply.
public struct SparseUpdate: Hashable, Sendable {
    /// Who, when, what.
    public var metadata: UpdateMetadata
    /// The chunk transform the values live in.
    public var transform: ChunkTransform
    /// One entry per model tensor, in layout order.
    public var tensors: [SparseTensor]

    /// Scatters the update into a dense parameter set of `layout` (zeros elsewhere), applying
    /// the inverse chunk transform.
    /// - Throws: ``CodecError`` `.layoutMismatch` if the tensors do not match `layout`.
    /// - Complexity: O(parameters).
    public func dense(layout: ParameterLayout) throws -> ParameterSet {
        if transform == .dct {
            var out = ParameterSet(zerosLike: layout)
            try addScaled(1, into: &out)
            return out
        }
        try Layouts.requireMatch(tensors.map { ($0.name, $0.shape) }, layout)
        for t in tensors { try t.validate() }
        return ParameterSet(layout: layout) { flat in fill(flat.baseAddress!, layout: layout) }
    }

    /// Writes the dense form of the update (as ``dense(layout:)``) over every element of
    /// `target`, reusing its storage: decoding peer after peer into one buffer costs no fresh
    /// allocation (and no page faults).
    /// - Throws: ``CodecError`` `.layoutMismatch` if the tensors do not match `target`'s layout.
    public func dense(into target: inout ParameterSet) throws {
        if transform == .dct {
            target = try dense(layout: target.layout)
            return
        }
        let layout = target.layout
        try Layouts.requireMatch(tensors.map { ($0.name, $0.shape) }, layout)
        for t in tensors { try t.validate() }
        target.withUnsafeMutableBufferPointer { flat in fill(flat.baseAddress!, layout: layout) }
    }

    /// Initializes every element of the (untransformed) dense form at `flat`.
    private func fill(_ flat: UnsafeMutablePointer<Float>, layout: ParameterLayout) {
        let streaming = layout.scalarCount * MemoryLayout<Float>.size >= DenseComposer.streamingThreshold
        for (tensor, descriptor) in zip(tensors, layout.descriptors) {
            let base = flat + descriptor.offset
            if tensor.geometry.chunkCount == 0 {
                base.initialize(repeating: 0, count: descriptor.count)
            } else {
                DenseComposer.fill(tensor, into: base, streaming: streaming)
            }
        }
    }

    /// `target ← target + alpha · self` (dense, inverse-transformed).
    /// - Throws: ``CodecError`` `.layoutMismatch` if the tensors do not match `target`'s layout.
    public func addScaled(_ alpha: Float, into target: inout ParameterSet) throws {
        try Layouts.requireMatch(tensors.map { ($0.name, $0.shape) }, target.layout)
        for t in tensors { try t.validate() }
        let transform = self.transform
        let descriptors = target.layout.descriptors
        target.withUnsafeMutableBufferPointer { flat in
            for (tensor, descriptor) in zip(tensors, descriptors) {
                let base = flat.baseAddress! + descriptor.offset
                if transform == .dct {
                    var chunkValues = [Float](repeating: 0, count: tensor.geometry.elementCount)
                    chunkValues.withUnsafeMutableBufferPointer { buffer in
                        Scatter.add(tensor, alpha: alpha, into: buffer.baseAddress!)
                        DCT.inverse(buffer.baseAddress!, geometry: tensor.geometry)
                        for i in 0..<descriptor.count { base[i] += buffer[i] }
                    }
                } else {
                    Scatter.add(tensor, alpha: alpha, into: base)
                }
            }
        }
    }
}

/// Writes the dense (untransformed) form of a sparse tensor.
enum DenseComposer {
    /// Dense outputs of at least this many bytes (larger than what the caches keep) are written
    /// with non-temporal stores; smaller ones stay cached for whoever reads them next.
    static let streamingThreshold = 16 << 20
    /// Tensors of at least this many elements are decoded and written in a pipeline.
    static let pipelineThreshold = 1 << 20

    /// Writes every element of `tensor`'s dense form at `base`, bands in parallel: each row is
    /// built in a cached row buffer and written once (``VectorKernels/composeBand``), with
    /// non-temporal stores when `streaming`. Falls back to ``fillBands(_:into:)`` if the kernel
    /// cannot allocate its row buffer.
    static func fill(_ tensor: SparseTensor, into base: UnsafeMutablePointer<Float>, streaming: Bool) {
        let g = tensor.geometry, k = tensor.k
        let bands = g.rows / g.chunkRows
        let written = tensor.indices.withUnsafeBufferPointer { idx in
            tensor.values.withUnsafeBufferPointer { val in
                let ip = idx.baseAddress!, vp = val.baseAddress!
                return ParallelLoop.mapRanges(count: bands, minimumChunk: max(1, (1 << 16) / max(1, g.chunkRows * g.columns))) { range -> Bool in
                    defer { if streaming { VectorKernels.storeFence() } }
                    for band in range where !composeBand(band, ip, vp, geometry: g, k: k, into: base, streaming: streaming) {
                        return false
                    }
                    return true
                }
            }
        }
        if written.contains(false) { fillBands(tensor, into: base) }
    }

    /// Writes band `band` (a row of chunks) of the dense form; `false` if the kernel could not.
    @inline(__always)
    static func composeBand(
        _ band: Int, _ indices: UnsafePointer<UInt16>, _ values: UnsafePointer<Float>, geometry g: ChunkGeometry, k: Int,
        into base: UnsafeMutablePointer<Float>, streaming: Bool
    ) -> Bool {
        let first = band * g.chunksPerRow * k
        return VectorKernels.composeBand(
            base + band * g.chunkRows * g.columns, rowStride: g.columns, rows: g.chunkRows, segmentLength: g.chunkColumns,
            segments: g.chunksPerRow, indices: indices + first, values: values + first, k: k, streaming: streaming)
    }

    /// Band by band (a row of chunks, contiguous memory): zeroes the band, then scatters its
    /// chunks into it while it is still in cache; bands in parallel. Any index order.
    static func fillBands(_ tensor: SparseTensor, into base: UnsafeMutablePointer<Float>) {
        let g = tensor.geometry, k = tensor.k
        g.withLocalOffsets { offsets in
            tensor.indices.withUnsafeBufferPointer { idx in
                tensor.values.withUnsafeBufferPointer { val in
                    let ip = idx.baseAddress!, vp = val.baseAddress!
                    ParallelLoop.forEachRange(count: g.chunkCount, minimumChunk: max(1, 4096 / max(k, 1))) { range in
                        g.forEachBandRun(range) { band, columns in
                            g.zeroBand(base, band: band, columns: columns)
                            for chunk in (band * g.chunksPerRow + columns.lowerBound)..<(band * g.chunksPerRow + columns.upperBound) {
                                let origin = base + g.chunkOrigin(chunk)
                                for j in (chunk * k)..<(chunk * k + k) { origin[offsets[Int(ip[j])]] = vp[j] }
                            }
                        }
                    }
                }
            }
        }
    }
}

enum Scatter {
    /// `dense[position(chunk, index)] += alpha · value` for every kept entry, chunks in parallel.
    static func add(_ tensor: SparseTensor, alpha: Float, into dense: UnsafeMutablePointer<Float>) {
        let g = tensor.geometry, k = tensor.k
        tensor.indices.withUnsafeBufferPointer { idx in
            tensor.values.withUnsafeBufferPointer { val in
                let ip = idx.baseAddress!, vp = val.baseAddress!
                g.withLocalOffsets { offsets in
                    ParallelLoop.forEach(count: g.chunkCount, minimumChunk: max(1, 4096 / max(k, 1))) { chunk in
                        let origin = dense + g.chunkOrigin(chunk)
                        for j in (chunk * k)..<(chunk * k + k) { origin[offsets[Int(ip[j])]] += alpha * vp[j] }
                    }
                }
            }
        }
    }
}

enum Layouts {
    static func requireMatch(_ tensors: [(String, [Int])], _ layout: ParameterLayout) throws {
        guard tensors.count == layout.descriptors.count else {
            throw CodecError(.layoutMismatch, "update has \(tensors.count) tensors, the model has \(layout.descriptors.count)")
        }
        for ((name, shape), d) in zip(tensors, layout.descriptors) {
            guard name == d.name else {
                throw CodecError(.layoutMismatch, tensor: name, "expected tensor '\(d.name)' at this position")
            }
            guard shape == d.shape else {
                throw CodecError(.layoutMismatch, tensor: name, "shape \(shape) differs from the model's \(d.shape)")
            }
        }
    }
}
