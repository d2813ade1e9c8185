import TesseraCore

/// Per-chunk top-k selection by magnitude with a deterministic tie-break.
///
/// Each element gets the 64-bit key `(bits(|v|) << 32) | (0xFFFFFFFF − local)`: larger
/// magnitudes win, and between equal magnitudes the lower local index wins. Keys are unique, so
/// the selected set is a pure function of the values. The k-th largest key is found by
/// quickselect (expected O(n)); the selected local indices are then emitted in ascending order.
///
/// The fast path (``select(rows:rowStride:rowCount:columnCount:k:scratch:indices:selected:)``)
/// first filters the chunk against a magnitude floor guessed from the previous chunk: when at
/// least k elements reach it, the top k are certainly among them, so only those candidates are
/// ranked. Otherwise (no guess yet, or a guess too high) the chunk goes through the exact
/// histogram path. Either way the result is the same pure function of the chunk's values.
enum TopKSelection {
    @inline(__always)
    static func key(_ value: Float, local: Int) -> UInt64 {
        (UInt64(value.bitPattern & 0x7FFF_FFFF) << 32) | UInt64(UInt32.max - UInt32(local))
    }

    /// Rearranges `keys[0..<n]` so that `keys[0..<k]` are the k largest; returns the smallest of them.
    static func kthLargest(_ a: UnsafeMutablePointer<UInt64>, count n: Int, k: Int) -> UInt64 {
        var lo = 0, hi = n - 1
        let target = k - 1
        while lo < hi {
            let mid = (lo + hi) >> 1
            let x = a[lo], y = a[mid], z = a[hi]
            let pivot = max(min(x, y), min(max(x, y), z))
            var i = lo, j = hi
            while i <= j {
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j {
                    let t = a[i]
                    a[i] = a[j]
                    a[j] = t
                    i += 1
                    j -= 1
                }
            }
            if target <= j {
                hi = j
            } else if target >= i {
                lo = i
            } else {
                return a[target]
            }
        }
        return a[target]
    }

    /// Bits of |v| kept for the histogram pass: the exponent and 4 mantissa bits (4,096 buckets).
    static let bucketShift: UInt32 = 19
    static let bucketCount = 1 << 12

    /// Per-thread buffers for chunks of up to `capacity` elements, reused from chunk to chunk.
    struct Scratch: ~Copyable {
        let capacity: Int
        /// The chunk gathered contiguously (histogram path).
        let values: UnsafeMutablePointer<Float>
        /// Local indices and values of the candidates (fast path).
        let candidates: UnsafeMutablePointer<UInt16>
        let candidateValues: UnsafeMutablePointer<Float>
        /// Selection keys.
        let keys: UnsafeMutablePointer<UInt64>
        /// ``bucketCount`` zeros between calls.
        let histogram: UnsafeMutablePointer<UInt32>
        /// Magnitude floor (bits of |v|) to try first; 0 means none.
        var guess: UInt32 = 0

        init(capacity: Int) {
            self.capacity = max(capacity, 1)
            values = .allocate(capacity: self.capacity)
            candidates = .allocate(capacity: self.capacity + 16)  // + what a vector kernel may write past the last
            candidateValues = .allocate(capacity: self.capacity + 16)
            keys = .allocate(capacity: self.capacity)
            histogram = .allocate(capacity: TopKSelection.bucketCount)
            histogram.initialize(repeating: 0, count: TopKSelection.bucketCount)
        }

        deinit {
            values.deallocate()
            candidates.deallocate()
            candidateValues.deallocate()
            keys.deallocate()
            histogram.deallocate()
        }
    }

    /// The next chunk's floor: 95% of this chunk's k-th largest magnitude.
    @inline(__always)
    static func nextGuess(kthMagnitudeBits bits: UInt32) -> UInt32 {
        let floor = Float(bitPattern: bits) * 0.95
        return floor.isFinite ? floor.bitPattern : 0
    }

    /// Selects the top `k` of one chunk whose `rowCount` rows of `columnCount` values start
    /// `rowStride` floats apart, writing ascending local indices (row-major in the chunk) to
    /// `indices` and their values to `selected`.
    static func select(
        rows base: UnsafePointer<Float>, rowStride: Int, rowCount: Int, columnCount: Int, k: Int,
        scratch: inout Scratch, indices: UnsafeMutablePointer<UInt16>, selected: UnsafeMutablePointer<Float>
    ) {
        let n = rowCount * columnCount
        if k >= n {
            for r in 0..<rowCount {
                for c in 0..<columnCount {
                    indices[r * columnCount + c] = UInt16(r * columnCount + c)
                    selected[r * columnCount + c] = base[r * rowStride + c]
                }
            }
            return
        }
        if scratch.guess != 0,
            let kth = gatherAndSelect(base, rowStride: rowStride, rowCount: rowCount, columnCount: columnCount, k: k, floor: scratch.guess,
                                      candidates: scratch.candidates, values: scratch.candidateValues, indices: indices, selected: selected) {
            scratch.guess = nextGuess(kthMagnitudeBits: kth)
            return
        }
        for r in 0..<rowCount {
            (scratch.values + r * columnCount).update(from: base + r * rowStride, count: columnCount)
        }
        let threshold = select(scratch.values, count: n, k: k, histogram: scratch.histogram, scratch: scratch.keys,
                               indices: indices, selected: selected)
        scratch.guess = nextGuess(kthMagnitudeBits: UInt32(truncatingIfNeeded: threshold >> 32))
    }

    /// Gathers the elements of one chunk (`rowCount` rows of `columnCount` values, `rowStride`
    /// floats apart) whose bits(|v|) reach `floor` (≥ 1) and, when at least k do, selects the
    /// top k of them as ``selectCandidates(_:_:count:k:indices:selected:)`` and returns the k-th
    /// largest magnitude's bits; `nil` when fewer than k reach the floor. `candidates`/`values`
    /// hold a chunk plus the 16 entries the vector kernel may write past its last.
    static func gatherAndSelect(
        _ base: UnsafePointer<Float>, rowStride: Int, rowCount: Int, columnCount: Int, k: Int, floor: UInt32,
        candidates: UnsafeMutablePointer<UInt16>, values: UnsafeMutablePointer<Float>,
        indices: UnsafeMutablePointer<UInt16>, selected: UnsafeMutablePointer<Float>
    ) -> UInt32? {
        var floor = floor
        var count = 0
        for r in 0..<rowCount {
            VectorKernels.foldAndGatherRow(
                UnsafeMutablePointer(mutating: base + r * rowStride), fold: nil, segments: 1, segmentLength: columnCount, floors: &floor,
                localBase: r * columnCount, candidates: candidates, values: values, stride: 0, counts: &count)
        }
        guard count >= k else { return nil }
        return selectCandidates(candidates, values, count: count, k: k, indices: indices, selected: selected)
    }

    /// The top `k` of `m ≥ k` candidates (a superset of the chunk's top k, ascending local
    /// order); returns the k-th largest magnitude's bits.
    @inline(__always)
    static func selectCandidates(
        _ candidates: UnsafePointer<UInt16>, _ values: UnsafePointer<Float>, count m: Int, k: Int,
        indices: UnsafeMutablePointer<UInt16>, selected: UnsafeMutablePointer<Float>
    ) -> UInt32 {
        if m == k {
            var smallest = UInt32.max
            for c in 0..<m {
                indices[c] = candidates[c]
                selected[c] = values[c]
                smallest = min(smallest, values[c].bitPattern & 0x7FFF_FFFF)
            }
            return smallest
        }
        return VectorKernels.selectTopK(indices: candidates, values: values, count: m, k: k, selectedIndices: indices, selectedValues: selected)
    }

    /// Per-thread buffers for ``selectBand(_:geometry:chunks:k:scratch:indices:selected:)``:
    /// candidate lists for every chunk of one band (a row of chunks) and one floor per chunk
    /// column, carried from band to band.
    struct BandScratch: ~Copyable {
        let chunkSize: Int
        let chunksPerRow: Int
        let candidates: UnsafeMutablePointer<UInt16>
        let candidateValues: UnsafeMutablePointer<Float>
        let counts: UnsafeMutablePointer<Int>
        let floors: UnsafeMutablePointer<UInt32>
        let guesses: UnsafeMutablePointer<UInt32>
        var chunk: Scratch

        /// Elements between two chunks' candidate lists: room for the 16 entries a vector
        /// kernel may write past a full list, padded so that the lists of a band do
        /// not start at multiples of 4 KiB apart (which would pile them onto the same L1 sets).
        static func stride(_ chunkSize: Int) -> Int { chunkSize + 40 }

        /// Bands larger than this many elements are selected chunk by chunk instead.
        static let largestBand = 1 << 20

        init(geometry g: ChunkGeometry) {
            chunkSize = g.chunkSize
            chunksPerRow = g.chunksPerRow
            candidates = .allocate(capacity: Self.stride(chunkSize) * chunksPerRow)
            candidateValues = .allocate(capacity: Self.stride(chunkSize) * chunksPerRow)
            counts = .allocate(capacity: chunksPerRow)
            floors = .allocate(capacity: chunksPerRow)
            guesses = .allocate(capacity: chunksPerRow)
            guesses.initialize(repeating: 0, count: chunksPerRow)
            chunk = Scratch(capacity: chunkSize)
        }

        deinit {
            candidates.deallocate()
            candidateValues.deallocate()
            counts.deallocate()
            floors.deallocate()
            guesses.deallocate()
        }
    }

    /// Selects the top `k` of every chunk in `chunks` (k < chunk size), reading the tensor at
    /// `input` row by row — sequential memory — instead of chunk by chunk. Each chunk's
    /// candidates (magnitude ≥ the floor guessed from the chunk above) are collected across its
    /// rows; a chunk without a floor, or with fewer than k candidates, takes the exact path.
    ///
    /// With `fold`, each row segment is first updated in place, `input ← decay · input + delta`
    /// (`delta` laid out like `input`), and selection runs on the updated values: SparseLoCo's
    /// error-feedback step and the selection share one pass over memory.
    static func selectBand(
        _ input: UnsafeMutablePointer<Float>, geometry g: ChunkGeometry, chunks: Range<Int>, k: Int,
        fold: (delta: UnsafePointer<Float>, decay: Float)? = nil,
        scratch: inout BandScratch, indices: UnsafeMutablePointer<UInt16>, selected: UnsafeMutablePointer<Float>
    ) {
        let perRow = g.chunksPerRow, n = g.chunkSize, stride = BandScratch.stride(n)
        var chunk = chunks.lowerBound
        while chunk < chunks.upperBound {
            let band = chunk / perRow
            let first = chunk % perRow
            let last = min(perRow, first + (chunks.upperBound - chunk))
            for c in first..<last {
                scratch.counts[c] = 0
                scratch.floors[c] = scratch.guesses[c]
            }
            let bandBase = input + band * g.chunkRows * g.columns
            let bandFold = fold.map { (delta: $0.delta + band * g.chunkRows * g.columns, decay: $0.decay) }
            for r in 0..<g.chunkRows {
                // One call per row of the band run: fold (if asked) and gather every chunk's
                // candidates from the row's segments, in the vector kernel the CPU supports.
                let offset = r * g.columns + first * g.chunkColumns
                VectorKernels.foldAndGatherRow(
                    bandBase + offset, fold: bandFold.map { ($0.delta + offset, $0.decay) }, segments: last - first,
                    segmentLength: g.chunkColumns, floors: scratch.floors + first, localBase: r * g.chunkColumns,
                    candidates: scratch.candidates + first * stride, values: scratch.candidateValues + first * stride,
                    stride: stride, counts: scratch.counts + first)
            }
            for c in first..<last {
                let id = band * perRow + c
                let out = indices + id * k, sel = selected + id * k
                let m = scratch.counts[c]
                if scratch.floors[c] != 0, m >= k {
                    let kth = selectCandidates(scratch.candidates + c * stride, scratch.candidateValues + c * stride, count: m, k: k,
                                               indices: out, selected: sel)
                    scratch.guesses[c] = nextGuess(kthMagnitudeBits: kth)
                } else if scratch.floors[c] != 0,
                    // Too few reached the guessed floor: once more at ¾ of it (the chunk is
                    // still in cache) before the histogram path.
                    let kth = gatherAndSelect(input + g.chunkOrigin(id), rowStride: g.columns, rowCount: g.chunkRows,
                                              columnCount: g.chunkColumns, k: k,
                                              floor: max(1, (Float(bitPattern: scratch.floors[c]) * 0.75).bitPattern),
                                              candidates: scratch.candidates + c * stride, values: scratch.candidateValues + c * stride,
                                              indices: out, selected: sel) {
                    scratch.guesses[c] = nextGuess(kthMagnitudeBits: kth)
                } else {
                    let origin = g.chunkOrigin(id)
                    for r in 0..<g.chunkRows {
                        (scratch.chunk.values + r * g.chunkColumns).update(from: input + origin + r * g.columns, count: g.chunkColumns)
                    }
                    let threshold = select(scratch.chunk.values, count: n, k: k, histogram: scratch.chunk.histogram,
                                           scratch: scratch.chunk.keys, indices: out, selected: sel)
                    scratch.guesses[c] = nextGuess(kthMagnitudeBits: UInt32(truncatingIfNeeded: threshold >> 32))
                }
            }
            chunk = band * perRow + last
        }
    }

    /// Selects the top `k` of `values[0..<n]` (one chunk, contiguous), writing ascending local
    /// indices to `indices` and their values to `selected`; returns the k-th largest key.
    ///
    /// A histogram of the top 12 bits of |v| finds the bucket that holds the k-th largest
    /// magnitude; only that bucket's elements go through quickselect on full keys.
    /// `histogram` must hold ``bucketCount`` zeros and is left zeroed; `scratch` holds n keys.
    @discardableResult
    static func select(
        _ values: UnsafePointer<Float>, count n: Int, k: Int, histogram: UnsafeMutablePointer<UInt32>,
        scratch: UnsafeMutablePointer<UInt64>, indices: UnsafeMutablePointer<UInt16>, selected: UnsafeMutablePointer<Float>
    ) -> UInt64 {
        if k >= n {
            for i in 0..<n {
                indices[i] = UInt16(i)
                selected[i] = values[i]
            }
            return 0
        }
        let bits = UnsafeRawPointer(values).assumingMemoryBound(to: UInt32.self)
        var low = bucketCount, high = 0
        for i in 0..<n {
            let b = Int((bits[i] & 0x7FFF_FFFF) >> bucketShift)
            histogram[b] &+= 1
            low = min(low, b)
            high = max(high, b)
        }
        // Walk down from the largest bucket until k elements are covered.
        var above = 0
        var pivotBucket = high
        while pivotBucket >= low {
            let c = Int(histogram[pivotBucket])
            if above + c >= k { break }
            above += c
            pivotBucket -= 1
        }
        let need = k - above
        // Candidates: the pivot bucket's elements, by full key.
        var candidates = 0
        for i in 0..<n where Int((bits[i] & 0x7FFF_FFFF) >> bucketShift) == pivotBucket {
            scratch[candidates] = key(values[i], local: i)
            candidates += 1
        }
        let threshold = kthLargest(scratch, count: candidates, k: need)
        (histogram + low).update(repeating: 0, count: high - low + 1)
        var out = 0
        for i in 0..<n {
            let b = Int((bits[i] & 0x7FFF_FFFF) >> bucketShift)
            if b > pivotBucket || (b == pivotBucket && key(values[i], local: i) >= threshold) {
                indices[out] = UInt16(i)
                selected[out] = values[i]
                out += 1
            }
        }
        return threshold
    }
}

