internal import CBLAS
import TesseraCore

/// Process-wide settings of the tensor engine.
public enum TensorRuntime {
    /// Sets how many threads BLAS and Tessera's own parallel loops use.
    /// - Parameter count: Threads, at least 1.
    public static func setThreadCount(_ count: Int) {
        let n = max(1, count)
        openblas_set_num_threads(Int32(n))
        ParallelLoop.maximumThreads = n
    }

    /// The number of threads BLAS is configured to use.
    public static var blasThreadCount: Int { Int(openblas_get_num_threads()) }
}

/// Thin wrapper over `cblas_sgemm` (row-major): `C ← alpha · op(A) · op(B) + beta · C`.
/// `m × k` is op(A), `k × n` is op(B), `m × n` is C; leading dimensions are row strides.
@inline(__always)
func gemm(
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
    /// `c[m×n] = a[m×k] · b[k×n]` straight through `cblas_sgemm`.
    public static func sgemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>
    ) {
        gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n)
    }
}
