/// Per-chunk top-k selection by magnitude with a deterministic tie-break.
///
/// Each element gets the 64-bit key `(bits(|v|) << 32) | (0xFFFFFFFF − local)`: larger
/// magnitudes win, and between equal magnitudes the lower local index wins. Keys are unique, so
/// the selected set is a pure function of the values. The k-th largest key is found by
/// quickselect (expected O(n)); the selected local indices are then emitted in ascending order.
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

    /// Selects the top `k` of `values[0..<n]` (one chunk, contiguous), writing ascending local
    /// indices to `indices` and their values to `selected`.
    ///
    /// A histogram of the top 12 bits of |v| finds the bucket that holds the k-th largest
    /// magnitude; only that bucket's elements go through quickselect on full keys.
    /// `histogram` must hold ``bucketCount`` zeros and is left zeroed; `scratch` holds n keys.
    static func select(
        _ values: UnsafePointer<Float>, count n: Int, k: Int, histogram: UnsafeMutablePointer<UInt32>,
        scratch: UnsafeMutablePointer<UInt64>, indices: UnsafeMutablePointer<UInt16>, selected: UnsafeMutablePointer<Float>
    ) {
        if k >= n {
            for i in 0..<n {
                indices[i] = UInt16(i)
                selected[i] = values[i]
            }
            return
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
    }
}
