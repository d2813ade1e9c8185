internal import CZstd
import Testing
import TesseraTensor

/// The system libraries load and behave: the BLAS (loaded at run time) and zstd through CZstd.
@Suite("System libraries")
struct SystemLibraryTests {
    @Test("sgemm multiplies a 2×3 by a 3×2 matrix, with transposes, alpha and beta, in the library and the fallback")
    func sgemm() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]  // [[1, 2, 3], [4, 5, 6]]
        let b: [Float] = [7, 8, 9, 10, 11, 12]  // [[7, 8], [9, 10], [11, 12]]
        // Transposed operands and alpha/beta: C ← 2·Aᵀ·Bᵀ + 1·C with Aᵀ stored as [3, 2].
        let aT: [Float] = [1, 4, 2, 5, 3, 6]
        let bT: [Float] = [7, 9, 11, 8, 10, 12]
        for fallback in [false, true] {
            let multiply = fallback ? RawBLAS.fallbackSgemm : RawBLAS.sgemm
            var c = [Float](repeating: -1, count: 4)
            multiply(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, &c, 2)
            #expect(c == [58, 64, 139, 154], "fallback: \(fallback)")
            var d: [Float] = [1, 1, 1, 1]
            multiply(true, true, 2, 2, 3, 2, aT, 2, bT, 3, 1, &d, 2)
            #expect(d == [117, 129, 279, 309], "fallback: \(fallback)")
        }
    }

    @Test("ZSTD_compress / ZSTD_decompress round trip")
    func zstdRoundTrip() throws {
        #expect(ZSTD_versionNumber() > 0)
        let source: [UInt8] = (0..<10_000).map { UInt8(truncatingIfNeeded: ($0 * 7) % 251) } + Array("Tessera".utf8)
        let bound = ZSTD_compressBound(source.count)
        #expect(bound >= source.count)
        var compressed = [UInt8](repeating: 0, count: bound)
        let compressedSize = ZSTD_compress(&compressed, bound, source, source.count, 3)
        #expect(ZSTD_isError(compressedSize) == 0, "compress failed: \(String(cString: ZSTD_getErrorName(compressedSize)))")
        #expect(compressedSize < source.count, "a periodic input should compress")
        compressed.removeLast(compressed.count - compressedSize)

        let contentSize = ZSTD_getFrameContentSize(compressed, compressed.count)
        #expect(contentSize == UInt64(source.count))
        var restored = [UInt8](repeating: 0, count: source.count)
        let restoredSize = ZSTD_decompress(&restored, restored.count, compressed, compressed.count)
        #expect(ZSTD_isError(restoredSize) == 0, "decompress failed: \(String(cString: ZSTD_getErrorName(restoredSize)))")
        #expect(restoredSize == source.count)
        #expect(restored == source)

        // A corrupted frame is reported as an error, not a crash.
        var corrupted = compressed
        corrupted[0] ^= 0xFF
        let failure = ZSTD_decompress(&restored, restored.count, corrupted, corrupted.count)
        #expect(ZSTD_isError(failure) != 0)
    }
}
