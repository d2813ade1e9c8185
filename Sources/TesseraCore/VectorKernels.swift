internal import CTesseraKernels

/// Memory-bound kernels with code paths chosen at run time by the CPU's vector extensions
/// (AVX-512, AVX2, or portable C), and non-temporal stores — what Swift itself cannot express
/// without compiler flags that a package dependency may not set.
///
/// Every path gives bit-identical results (the only arithmetic is an unfused multiply and add
/// per element), so the level never changes what two nodes compute, only how fast.
package enum VectorKernels {
    /// An instruction-set level of the kernels.
    package enum Level: Int, Sendable, CaseIterable, CustomStringConvertible {
        /// Plain C, any CPU.
        case portable = 0
        /// x86-64 with AVX2.
        case avx2 = 1
        /// x86-64 with AVX-512 (F, BW, VL).
        case avx512 = 2

        package var description: String {
            switch self {
            case .portable: "portable"
            case .avx2: "avx2"
            case .avx512: "avx512"
            }
        }
    }

    /// The level in use (the best the CPU supports unless lowered by ``setLevel(_:)``).
    package static var levelInUse: Level { Level(rawValue: Int(tessera_kernels_level_in_use().rawValue)) ?? .portable }

    /// The best level this CPU supports.
    package static var supportedLevel: Level { Level(rawValue: Int(tessera_kernels_level_supported().rawValue)) ?? .portable }

    /// Uses `level` (capped at ``supportedLevel``) from now on, for tests and benchmarks that
    /// compare paths. Not to be called while kernels run on other threads.
    /// - Returns: The level now in use.
    @discardableResult
    package static func setLevel(_ level: Level) -> Level {
        Level(rawValue: Int(tessera_kernels_set_level(tessera_kernels_level(rawValue: UInt32(level.rawValue))).rawValue)) ?? .portable
    }

    /// Runs `body` with the kernels it calls on the current thread (not on threads it starts)
    /// at `level` (capped at ``supportedLevel``), for tests that compare paths side by side.
    /// - Returns: What `body` returns.
    package static func withThreadLevel<R>(_ level: Level, _ body: (Level) throws -> R) rethrows -> R {
        let chosen = Level(rawValue: Int(tessera_kernels_set_thread_level(Int32(level.rawValue)))) ?? .portable
        defer { tessera_kernels_set_thread_level(-1) }
        return try body(chosen)
    }

    /// The largest bits(|x|) of `values` (≥ 0x7F80_0000 when one is infinite or NaN; 0 when empty).
    /// - Complexity: O(n).
    @inline(__always)
    package static func maximumMagnitudeBits(_ values: UnsafePointer<Float>, count: Int) -> UInt32 {
        tessera_max_magnitude_bits(values, count)
    }

    /// One row of a band of chunks, `segments` segments of `segmentLength` floats at `row`:
    /// with `fold`, first `row[i] ← decay · row[i] + delta[i]`; then, for each segment s with a
    /// non-zero `floors[s]`, appends (ascending) every element with bits(|v|) ≥ `floors[s]` to
    /// segment s's candidate list (`candidates`/`values` at `s · stride + counts[s]`, local
    /// index `localBase` + position) and advances `counts[s]`.
    ///
    /// A list may be written up to 16 entries past its final count: `stride` must leave room.
    @inline(__always)
    package static func foldAndGatherRow(
        _ row: UnsafeMutablePointer<Float>, fold: (delta: UnsafePointer<Float>, decay: Float)?, segments: Int, segmentLength: Int,
        floors: UnsafePointer<UInt32>, localBase: Int, candidates: UnsafeMutablePointer<UInt16>, values: UnsafeMutablePointer<Float>,
        stride: Int, counts: UnsafeMutablePointer<Int>
    ) {
        tessera_fold_gather_row(
            row, fold?.delta, fold?.decay ?? 1, segments, segmentLength, floors, UInt32(truncatingIfNeeded: localBase),
            candidates, values, stride, counts)
    }

    /// The top `k` of `count` candidates (1 ≤ k ≤ count) by bits(|v|), the lower local index
    /// first among equal magnitudes (`indices` strictly ascending): writes exactly k selected
    /// indices and values, ascending, and returns the k-th largest magnitude's bits — the set
    /// of the k largest keys `(bits << 32) | (0xFFFFFFFF − index)`.
    /// - Complexity: O(count · 31) vector compares, no sorting.
    @inline(__always)
    package static func selectTopK(
        indices: UnsafePointer<UInt16>, values: UnsafePointer<Float>, count: Int, k: Int,
        selectedIndices: UnsafeMutablePointer<UInt16>, selectedValues: UnsafeMutablePointer<Float>
    ) -> UInt32 {
        tessera_select_top_k(indices, values, count, k, selectedIndices, selectedValues)
    }

    /// Writes the dense rows of one band of chunks: for each of `rows` rows r and `segments`
    /// chunks s, `out[r · rowStride + s · segmentLength + j]` is chunk s's value at local index
    /// r · segmentLength + j, or 0. Chunk s's entries are `indices`/`values[s·k ..< (s+1)·k]`, in
    /// any order (a repeated index takes its last value). With `streaming`, whole aligned
    /// 64-byte lines go out with non-temporal stores (fence before another thread reads).
    /// - Returns: `false`, having written nothing, when an index reaches past its chunk or the
    ///   row buffer cannot be allocated.
    /// - Complexity: O(rows · segments · segmentLength + segments · k), no data-dependent branch.
    @inline(__always)
    package static func composeBand(
        _ out: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int, segmentLength: Int, segments: Int,
        indices: UnsafePointer<UInt16>, values: UnsafePointer<Float>, k: Int, streaming: Bool
    ) -> Bool {
        tessera_compose_band(out, rowStride, rows, segmentLength, segments, indices, values, k, streaming ? 1 : 0) != 0
    }

    /// The chunked two-sided matrix transform of one band, in place: for each of `segments`
    /// consecutive `rows` × `width` chunks (chunk s starts at `band + s · width`, rows
    /// `rowStride` apart), X ← A · X · B with A = `left` (rows × rows, row-major) and B = `right`
    /// (width × width, row-major, row stride ``transformMatrixStride(width:)``).
    ///
    /// Every element is a sequential sum in a fixed order (first F = A · X, then F · B; each sum
    /// starts at +0 and adds the rounded products in ascending order of the inner index, never
    /// fused), so every level gives the same bits. `scratch` holds
    /// ``transformScratchBytes(rows:width:)`` bytes.
    /// - Complexity: O(segments · rows · width · (rows + width)) multiply-adds, fewer when rows
    ///   or columns of a chunk are zero (their terms are skipped; no bit changes).
    @inline(__always)
    package static func transformBand(
        _ band: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int, width: Int, segments: Int,
        left: UnsafePointer<Float>, right: UnsafePointer<Float>, scratch: UnsafeMutableRawPointer
    ) {
        tessera_transform_band(band, rowStride, rows, width, segments, left, right, scratch)
    }

    /// Bytes of scratch ``transformBand(_:rowStride:rows:width:segments:left:right:scratch:)``
    /// needs for `rows` × `width` chunks.
    @inline(__always)
    package static func transformScratchBytes(rows: Int, width: Int) -> Int { tessera_transform_scratch_bytes(rows, width) }

    /// The row stride (at least `width`) of the right-hand matrix of
    /// ``transformBand(_:rowStride:rows:width:segments:left:right:scratch:)``.
    @inline(__always)
    package static func transformMatrixStride(width: Int) -> Int { tessera_transform_matrix_stride(width) }

    /// Copies `count` floats with non-temporal stores: the destination bypasses the cache, for
    /// outputs larger than the cache. Call ``storeFence()`` before another thread reads it.
    @inline(__always)
    package static func streamCopy(_ destination: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>, count: Int) {
        tessera_stream_floats(destination, source, count)
    }

    /// Orders the calling thread's earlier non-temporal stores before its later stores.
    @inline(__always)
    package static func storeFence() { tessera_store_fence() }
}
