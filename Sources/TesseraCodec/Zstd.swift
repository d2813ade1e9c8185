internal import CZstd

/// zstd compression with the decompressed size bounded before allocation.
enum Zstd {
    static func compress(_ input: [UInt8], level: Int32 = 3) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                ZSTD_compress(dst.baseAddress, bound, src.baseAddress, input.count, level)
            }
        }
        guard ZSTD_isError(written) == 0 else {
            throw CodecError(.decompressionFailed, "zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
        }
        out.removeLast(out.count - written)
        return out
    }

    /// Decompresses one frame whose content size must be declared, equal `expectedSize`, and
    /// not exceed `limit`.
    static func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int, limit: Int) throws -> [UInt8] {
        let declared = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        // ZSTD_CONTENTSIZE_UNKNOWN = 2⁶⁴−1, ZSTD_CONTENTSIZE_ERROR = 2⁶⁴−2.
        guard declared < UInt64.max - 1 else {
            throw CodecError(.decompressionFailed, "zstd frame does not declare its content size")
        }
        guard declared <= UInt64(limit) else {
            throw CodecError(.sizeLimitExceeded, "zstd frame declares \(declared) bytes, the limit is \(limit)")
        }
        guard declared == UInt64(expectedSize) else {
            throw CodecError(.malformedHeader, "zstd frame declares \(declared) bytes, the header says \(expectedSize)")
        }
        var out = [UInt8](repeating: 0, count: expectedSize)
        let written = out.withUnsafeMutableBytes { dst in
            ZSTD_decompress(dst.baseAddress, expectedSize, input.baseAddress, input.count)
        }
        guard ZSTD_isError(written) == 0 else {
            throw CodecError(.decompressionFailed, "zstd: \(String(cString: ZSTD_getErrorName(written)))")
        }
        guard written == expectedSize else {
            throw CodecError(.decompressionFailed, "zstd produced \(written) bytes, expected \(expectedSize)")
        }
        return out
    }
}
