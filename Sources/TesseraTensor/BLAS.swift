internal import CBLAS
import TesseraCore

/// Process-wide settings of the tensor engine.
///
/// Tessera parallelizes on its own (``ParallelLoop``): OpenBLAS always runs single-threaded
/// inside Tessera's workers, and large products are split across them. This keeps OpenBLAS's
/// spinning worker threads from competing with Tessera's elementwise loops for cores.
public enum TensorRuntime {
    /// Sets how many threads Tessera's parallel loops (and so its matrix products) use.
    /// - Parameter count: Threads, at least 1.
    public static func setThreadCount(_ count: Int) {
        blasConfigured()
        ParallelLoop.maximumThreads = max(1, count)
    }

    /// The number of threads Tessera's parallel loops use.
    public static var threadCount: Int { ParallelLoop.maximumThreads }
}

/// Pins OpenBLAS to one thread, once per process, before the first product.
private let blasSingleThreaded: Void = openblas_set_num_threads(1)

@inline(__always)
func blasConfigured() { _ = blasSingleThreaded }

/// `C ← alpha · op(A) · op(B) + beta · C` (row-major) through `cblas_sgemm`, split across
/// ``ParallelLoop`` workers along the larger of `m` and `n` when the product is large.
/// `m × k` is op(A), `k × n` is op(B), `m × n` is C; leading dimensions are row strides.
func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    blasConfigured()
    let threads = ParallelLoop.maximumThreads
    let work = Double(m) * Double(n) * Double(k)
    guard threads > 1, work >= 1_048_576 else {
        serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    if m >= n {
        let parts = min(threads, max(1, m / 16))
        let chunk = ((m + parts - 1) / parts + 15) / 16 * 16
        ParallelLoop.forEach(count: parts) { part in
            let start = part * chunk
            let rows = min(m, start + chunk) - start
            guard rows > 0 else { return }
            let aPart = transposeA ? a + start : a + start * lda
            serialGemm(transposeA: transposeA, transposeB: transposeB, m: rows, n: n, k: k, alpha: alpha, a: aPart, lda: lda, b: b, ldb: ldb, beta: beta, c: c + start * ldc, ldc: ldc)
        }
    } else {
        let parts = min(threads, max(1, n / 16))
        let chunk = ((n + parts - 1) / parts + 15) / 16 * 16
        ParallelLoop.forEach(count: parts) { part in
            let start = part * chunk
            let cols = min(n, start + chunk) - start
            guard cols > 0 else { return }
            let bPart = transposeB ? b + start * ldb : b + start
            serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: cols, k: k, alpha: alpha, a: a, lda: lda, b: bPart, ldb: ldb, beta: beta, c: c + start, ldc: ldc)
        }
    }
}

/// One single-threaded `cblas_sgemm` call.
@inline(__always)
func serialGemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// Raw `cblas_sgemm` on row-major matrices, for benchmarking the Tensor API against BLAS itself.
public enum RawBLAS {
    /// `c[m×n] = a[m×k] · b[k×n]` in one `cblas_sgemm` call with OpenBLAS's own threading set
    /// to `threads` for the call (then back to one thread).
    public static func sgemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        threads: Int
    ) {
        blasConfigured()
        openblas_set_num_threads(Int32(max(1, threads)))
        serialGemm(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n)
        openblas_set_num_threads(1)
    }
}
