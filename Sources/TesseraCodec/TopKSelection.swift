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
            candidates = .allocate(capacity: self.capacity)
            candidateValues = .allocate(capacity: self.capacity)
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

    /// The next chunk's floor: 85% of this chunk's k-th largest magnitude.
    @inline(__always)
    static func nextGuess(kthMagnitudeBits bits: UInt32) -> UInt32 {
        let floor = Float(bitPattern: bits) * 0.85
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
        if scratch.guess != 0 {
            let floor = scratch.guess
            let m = gatherCandidates(base, rowStride: rowStride, rowCount: rowCount, columnCount: columnCount, floor: floor,
                                     candidates: scratch.candidates, values: scratch.candidateValues)
            if m >= k {
                let kth = selectCandidates(count: m, k: k, scratch: &scratch, indices: indices, selected: selected)
                scratch.guess = nextGuess(kthMagnitudeBits: kth)
                return
            }
        }
        for r in 0..<rowCount {
            (scratch.values + r * columnCount).update(from: base + r * rowStride, count: columnCount)
        }
        let threshold = select(scratch.values, count: n, k: k, histogram: scratch.histogram, scratch: scratch.keys,
                               indices: indices, selected: selected)
        scratch.guess = nextGuess(kthMagnitudeBits: UInt32(truncatingIfNeeded: threshold >> 32))
    }

    /// Appends (in ascending local order) every element with bits(|v|) ≥ `floor`; returns how many.
    @inline(__always)
    static func gatherCandidates(
        _ base: UnsafePointer<Float>, rowStride: Int, rowCount: Int, columnCount: Int, floor: UInt32,
        candidates: UnsafeMutablePointer<UInt16>, values: UnsafeMutablePointer<Float>
    ) -> Int {
        let magnitude = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        let threshold = SIMD8<UInt32>(repeating: floor)
        var m = 0
        for r in 0..<rowCount {
            let row = base + r * rowStride
            let raw = UnsafeRawPointer(row)
            let local = r * columnCount
            var c = 0
            while c + 8 <= columnCount {
                let bits = raw.loadUnaligned(fromByteOffset: 4 * c, as: SIMD8<UInt32>.self) & magnitude
                let hit = bits .>= threshold
                if any(hit) {
                    for lane in 0..<8 where hit[lane] {
                        candidates[m] = UInt16(truncatingIfNeeded: local + c + lane)
                        values[m] = row[c + lane]
                        m += 1
                    }
                }
                c += 8
            }
            while c < columnCount {
                if row[c].bitPattern & 0x7FFF_FFFF >= floor {
                    candidates[m] = UInt16(truncatingIfNeeded: local + c)
                    values[m] = row[c]
                    m += 1
                }
                c += 1
            }
        }
        return m
    }

    /// The top `k` of `m ≥ k` candidates (a superset of the chunk's top k, ascending local
    /// order); returns the k-th largest magnitude's bits.
    @inline(__always)
    static func selectCandidates(
        count m: Int, k: Int, scratch: inout Scratch, indices: UnsafeMutablePointer<UInt16>, selected: UnsafeMutablePointer<Float>
    ) -> UInt32 {
        let candidates = scratch.candidates, values = scratch.candidateValues, keys = scratch.keys
        if m == k {
            var smallest = UInt32.max
            for c in 0..<m {
                indices[c] = candidates[c]
                selected[c] = values[c]
                smallest = min(smallest, values[c].bitPattern & 0x7FFF_FFFF)
            }
            return smallest
        }
        for c in 0..<m { keys[c] = key(values[c], local: Int(candidates[c])) }
        let threshold = kthLargest(keys, count: m, k: k)
        var out = 0
        for c in 0..<m where key(values[c], local: Int(candidates[c])) >= threshold {
            indices[out] = candidates[c]
            selected[out] = values[c]
            out += 1
        }
        return UInt32(truncatingIfNeeded: threshold >> 32)
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
