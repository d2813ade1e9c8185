import Foundation

/// A numpy `.npy` array of token ids (`<u2` or `<u4`, C order, any shape, read flat),
/// memory-mapped.
public struct NumpyTokens: TokenSource {
    /// Tokens per sample (L).
    public let sampleLength: Int
    /// Tokens in the array.
    public let tokenCount: Int
    let tokens: MappedTokens

    /// Maps and validates the array at `path`.
    /// - Throws: ``DataError`` `.badMagic`, `.unsupportedVersion`, `.malformedHeader`,
    ///   `.unsupportedDType` (big-endian, Fortran order, other types), `.truncated` or `.sizeMismatch`.
    public init(path: String, sampleLength: Int) throws {
        guard sampleLength > 0 else { throw DataError(.invalidArgument, "sample length must be positive, got \(sampleLength)") }
        let file = try MappedFile(path: path)
        let b = file.bytes
        guard b.count >= 10, Array(b[0..<6]) == [0x93] + Array("NUMPY".utf8) else {
            throw DataError(.badMagic, "\(path) is not a .npy file")
        }
        let major = b[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
            headerStart = 10
        case 2, 3:
            guard b.count >= 12 else { throw DataError(.truncated, "\(path): header length cut short") }
            headerLength = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            headerStart = 12
        default:
            throw DataError(.unsupportedVersion, "\(path): .npy format version \(major)")
        }
        guard headerLength <= 1 << 20, headerStart + headerLength <= b.count else {
            throw DataError(.truncated, "\(path): header of \(headerLength) bytes does not fit the file")
        }
        guard let header = String(validating: b[headerStart..<(headerStart + headerLength)], as: UTF8.self) else {
            throw DataError(.malformedHeader, "\(path): header is not text")
        }
        let fields = try NumpyHeader(header, path: path)
        let width: TokenWidth
        switch fields.descr {
        case "<u2": width = .uint16
        case "<u4": width = .uint32
        default: throw DataError(.unsupportedDType, "\(path): dtype '\(fields.descr)'; Tessera reads little-endian uint16 ('<u2') or uint32 ('<u4')")
        }
        guard !fields.fortranOrder else { throw DataError(.unsupportedDType, "\(path): Fortran-ordered arrays are not read") }
        var count = 1
        for d in fields.shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, d >= 0 else { throw DataError(.malformedHeader, "\(path): shape \(fields.shape) is too large") }
            count = p
        }
        let dataStart = headerStart + headerLength
        let (needed, overflow) = count.multipliedReportingOverflow(by: width.size)
        guard !overflow, needed <= b.count - dataStart else {
            throw DataError(.truncated, "\(path): shape \(fields.shape) needs \(count) tokens but the file is shorter")
        }
        guard needed == b.count - dataStart else {
            throw DataError(.sizeMismatch, "\(path): \(b.count - dataStart - needed) bytes after the array")
        }
        self.sampleLength = sampleLength
        self.tokenCount = count
        self.tokens = MappedTokens(file: file, offset: dataStart, count: count, width: width)
    }

    public var sampleCount: Int { tokenCount > 0 ? (tokenCount - 1) / sampleLength : 0 }

    public func readSample(_ index: Int, into buffer: UnsafeMutableBufferPointer<Int32>) throws {
        try checkSample(index, buffer)
        tokens.copy(from: index * sampleLength, count: sampleLength + 1, into: buffer.baseAddress!)
    }
}

/// The three fields of a .npy header dictionary, e.g.
/// `{'descr': '<u2', 'fortran_order': False, 'shape': (1000,), }`.
struct NumpyHeader {
    var descr = ""
    var fortranOrder = false
    var shape: [Int] = []

    init(_ text: String, path: String) throws {
        func value(after key: String) throws -> Substring {
            guard let range = text.range(of: "'\(key)':") else {
                throw DataError(.malformedHeader, "\(path): header has no '\(key)'")
            }
            return text[range.upperBound...].drop(while: { $0 == " " })
        }
        let d = try value(after: "descr")
        guard let quote = d.first, quote == "'" || quote == "\"", let end = d.dropFirst().firstIndex(of: quote) else {
            throw DataError(.malformedHeader, "\(path): 'descr' is not a string")
        }
        descr = String(d[d.index(after: d.startIndex)..<end])
        let f = try value(after: "fortran_order")
        if f.hasPrefix("True") { fortranOrder = true } else if f.hasPrefix("False") { fortranOrder = false } else {
            throw DataError(.malformedHeader, "\(path): 'fortran_order' is neither True nor False")
        }
        let s = try value(after: "shape")
        guard s.first == "(", let close = s.firstIndex(of: ")") else { throw DataError(.malformedHeader, "\(path): 'shape' is not a tuple") }
        let inner = s[s.index(after: s.startIndex)..<close]
        shape = try inner.split(separator: ",").compactMap { part -> Int? in
            let t = part.trimmingCharacters(in: " ")
            if t.isEmpty { return nil }
            guard let n = Int(t), n >= 0 else { throw DataError(.malformedHeader, "\(path): shape entry '\(t)' is not a size") }
            return n
        }
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
