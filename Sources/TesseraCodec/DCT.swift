#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CBLAS
import Synchronization

/// Orthonormal DCT-II on every chunk of a matrix, through `cblas_sgemm`:
/// forward `Y = D_r · X · D_cᵀ`, inverse `X = D_rᵀ · Y · D_c`, with
/// `D[k][i] = α_k · cos(π (2i + 1) k / 2n)`, `α_0 = √(1/n)`, `α_k = √(2/n)`.
enum DCT {
    private static let cache = Mutex<[Int: [Float]]>([:])
    private static let singleThreadedBLAS: Void = openblas_set_num_threads(1)

    /// The n×n orthonormal DCT-II matrix, row-major.
    static func matrix(_ n: Int) -> [Float] {
        if let m = cache.withLock({ $0[n] }) { return m }
        var m = [Float](repeating: 0, count: n * n)
        for k in 0..<n {
            let alpha = k == 0 ? (1.0 / Double(n)).squareRoot() : (2.0 / Double(n)).squareRoot()
            for i in 0..<n {
                m[k * n + i] = Float(alpha * cos(Double.pi * Double(2 * i + 1) * Double(k) / Double(2 * n)))
            }
        }
        cache.withLock { $0[n] = m }
        return m
    }

    static func forward(_ x: UnsafeMutablePointer<Float>, geometry g: ChunkGeometry) { apply(x, geometry: g, inverse: false) }
    static func inverse(_ x: UnsafeMutablePointer<Float>, geometry g: ChunkGeometry) { apply(x, geometry: g, inverse: true) }

    /// In place on the `rows × columns` matrix `x`.
    private static func apply(_ x: UnsafeMutablePointer<Float>, geometry g: ChunkGeometry, inverse: Bool) {
        _ = singleThreadedBLAS
        guard g.elementCount > 0 else { return }
        let r = g.chunkRows, c = g.chunkColumns
        let dr = matrix(r), dc = matrix(c)
        var temp = [Float](repeating: 0, count: g.elementCount)
        temp.withUnsafeMutableBufferPointer { t in
            let tp = t.baseAddress!
            dr.withUnsafeBufferPointer { drp in
                // Left: each block of r rows ← D_r · block (forward) or D_rᵀ · block (inverse).
                for block in 0..<(g.rows / r) {
                    cblas_sgemm(
                        CblasRowMajor, inverse ? CblasTrans : CblasNoTrans, CblasNoTrans,
                        blasint(r), blasint(g.columns), blasint(r), 1, drp.baseAddress!, blasint(r),
                        x + block * r * g.columns, blasint(g.columns), 0, tp + block * r * g.columns, blasint(g.columns))
                }
            }
            dc.withUnsafeBufferPointer { dcp in
                // Right: each block of c columns ← block · D_cᵀ (forward) or block · D_c (inverse).
                for block in 0..<(g.columns / c) {
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, inverse ? CblasNoTrans : CblasTrans,
                        blasint(g.rows), blasint(c), blasint(c), 1, tp + block * c, blasint(g.columns),
                        dcp.baseAddress!, blasint(c), 0, x + block * c, blasint(g.columns))
                }
            }
        }
    }
}
