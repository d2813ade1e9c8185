import Foundation
public import TesseraCore

/// The element types of the safetensors format that Tessera reads.
public enum SafeTensorsDType: String, Sendable, Hashable, CaseIterable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16", float64 = "F64"
    case int64 = "I64", int32 = "I32", int16 = "I16", int8 = "I8", uint8 = "U8"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8: 1
        }
    }

    var isFloatingPoint: Bool { self == .float32 || self == .float16 || self == .bfloat16 || self == .float64 }
}

/// One tensor's entry in a safetensors header.
public struct SafeTensorsEntry: Sendable, Hashable {
    /// The tensor's name.
    public let name: String
    /// Its element type.
    public let dtype: SafeTensorsDType
    /// Its shape.
    public let shape: [Int]
    /// Its bytes within the data section.
    public let byteRange: Range<Int>
}

/// A parsed safetensors file (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length, a JSON header, then the raw little-endian tensor bytes.
///
/// Parsing is defensive: the header length is bounded before anything is allocated, every
/// entry's dtype, shape and byte range are checked (in range, length = elements × dtype size,
/// no overlaps, no holes), and any violation is a ``TensorError`` — never a crash.
public struct SafeTensorsFile: Sendable {
    /// Limits applied while parsing untrusted files.
    public struct Limits: Sendable, Hashable {
        /// Largest accepted JSON header, in bytes.
        public var maximumHeaderBytes: Int
        /// Most tensors accepted in one file.
        public var maximumTensorCount: Int
        /// Largest accepted rank.
        public var maximumRank: Int
        /// Creates limits.
        /// Negative limits are treated as 0.
        public init(maximumHeaderBytes: Int = 100 << 20, maximumTensorCount: Int = 100_000, maximumRank: Int = 16) {
            self.maximumHeaderBytes = max(0, maximumHeaderBytes)
            self.maximumTensorCount = max(0, maximumTensorCount)
            self.maximumRank = max(0, maximumRank)
        }
        /// The defaults: 100 MiB header, 100,000 tensors, rank ≤ 16.
        public static let `default` = Limits()
    }

    /// The tensors, in ascending order of their data offsets.
    public let entries: [SafeTensorsEntry]
    /// The optional `__metadata__` string map.
    public let metadata: [String: String]
    private let data: [UInt8]
    private let dataStart: Int
    private let indexByName: [String: Int]

    /// Parses a complete file held in memory.
    /// - Throws: ``TensorError`` `.truncatedFile`, `.malformedHeader`, `.unsupportedDType`,
    ///   `.offsetOutOfRange` or `.overlappingTensors`, naming the tensor at fault.
    public init(bytes: [UInt8], limits: Limits = .default) throws {
        guard bytes.count >= 8 else {
            throw TensorError(.truncatedFile, "safetensors: \(bytes.count) bytes is shorter than the 8-byte header length")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(max(0, limits.maximumHeaderBytes)) else {
            throw TensorError(.malformedHeader, "safetensors: header length \(headerLength) exceeds the limit of \(limits.maximumHeaderBytes) bytes")
        }
        guard headerLength >= 2 else {
            throw TensorError(.malformedHeader, "safetensors: header length \(headerLength) is too short for a JSON object")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw TensorError(.truncatedFile, "safetensors: header claims \(headerLength) bytes but the file has \(bytes.count - 8) after the length")
        }
        let headerEnd = 8 + Int(headerLength)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]))
        } catch {
            throw TensorError(.malformedHeader, "safetensors: header is not valid JSON (\(error.localizedDescription))")
        }
        guard let header = object as? [String: Any] else {
            throw TensorError(.malformedHeader, "safetensors: header is not a JSON object")
        }
        let tensorCount = header.count - (header["__metadata__"] == nil ? 0 : 1)
        guard tensorCount <= limits.maximumTensorCount else {
            throw TensorError(.malformedHeader, "safetensors: \(tensorCount) tensors exceed the limit of \(limits.maximumTensorCount)")
        }
        let dataLength = bytes.count - headerEnd
        var metadata: [String: String] = [:]
        var entries: [SafeTensorsEntry] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw TensorError(.malformedHeader, "safetensors: __metadata__ must be an object of strings")
                }
                for (k, v) in map {
                    guard let s = v as? String else {
                        throw TensorError(.malformedHeader, "safetensors: __metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try Self.parseEntry(name: name, value: value, dataLength: dataLength, limits: limits))
        }
        entries.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name) }
        var cursor = 0
        for entry in entries {
            if entry.byteRange.lowerBound < cursor {
                throw TensorError(.overlappingTensors, "safetensors: tensor '\(entry.name)' (bytes \(entry.byteRange)) overlaps the previous tensor, which ends at \(cursor)")
            }
            if entry.byteRange.lowerBound > cursor {
                throw TensorError(.overlappingTensors, "safetensors: bytes \(cursor)..<\(entry.byteRange.lowerBound) before tensor '\(entry.name)' belong to no tensor")
            }
            cursor = entry.byteRange.upperBound
        }
        guard cursor == dataLength else {
            throw TensorError(.offsetOutOfRange, "safetensors: tensors cover \(cursor) bytes but the data section has \(dataLength)")
        }
        self.entries = entries
        self.metadata = metadata
        self.data = bytes
        self.dataStart = headerEnd
        self.indexByName = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    private static func parseEntry(name: String, value: Any, dataLength: Int, limits: Limits) throws -> SafeTensorsEntry {
        guard let fields = value as? [String: Any] else {
            throw TensorError(.malformedHeader, "safetensors: entry '\(name)' is not an object")
        }
        guard let dtypeName = fields["dtype"] as? String else {
            throw TensorError(.malformedHeader, "safetensors: tensor '\(name)' has no string 'dtype'")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw TensorError(.unsupportedDType, "safetensors: tensor '\(name)' has dtype \(dtypeName), which Tessera does not read")
        }
        guard let rawShape = fields["shape"] as? [Any], rawShape.count <= limits.maximumRank else {
            throw TensorError(.malformedHeader, "safetensors: tensor '\(name)' needs a 'shape' array of at most \(limits.maximumRank) dimensions")
        }
        let shape = try rawShape.map { d -> Int in
            guard let n = Self.exactInteger(d), n >= 0 else {
                throw TensorError(.malformedHeader, "safetensors: tensor '\(name)' has a shape entry that is not a non-negative integer: \(d)")
            }
            return n
        }
        guard let offsets = fields["data_offsets"] as? [Any], offsets.count == 2,
            let begin = Self.exactInteger(offsets[0]), let end = Self.exactInteger(offsets[1])
        else {
            throw TensorError(.malformedHeader, "safetensors: tensor '\(name)' needs 'data_offsets' [begin, end] of integers")
        }
        guard begin >= 0, begin <= end, end <= dataLength else {
            throw TensorError(.offsetOutOfRange, "safetensors: tensor '\(name)' data_offsets [\(begin), \(end)] lie outside the \(dataLength)-byte data section")
        }
        guard let count = Shape.elementCount(shape) else {
            throw TensorError(.malformedHeader, "safetensors: tensor '\(name)' shape \(Shape.describe(shape)) overflows")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, bytes == end - begin else {
            throw TensorError(.offsetOutOfRange, "safetensors: tensor '\(name)' \(dtype.rawValue) \(Shape.describe(shape)) needs \(overflow ? "too many" : String(bytes)) bytes but data_offsets span \(end - begin)")
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    /// A JSON number that is an exact integer (as `Int`), or `nil`.
    private static func exactInteger(_ value: Any) -> Int? {
        if let i = value as? Int { return i }
        if let d = value as? Double, d.isFinite, d == d.rounded(), abs(d) < 9.0e15 { return Int(d) }
        return nil
    }

    /// Reads and parses the file at `path`.
    /// - Throws: ``TensorError`` `.fileSystem` if it cannot be read, else as ``init(bytes:limits:)``.
    public init(contentsOf path: String, limits: Limits = .default) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TensorError(.fileSystem, "safetensors: cannot read \(path): \(error.localizedDescription)")
        }
        try self.init(bytes: [UInt8](data), limits: limits)
    }

    /// The tensor names, in data order.
    public var names: [String] { entries.map(\.name) }

    /// The entry named `name`, if any.
    public func entry(named name: String) -> SafeTensorsEntry? { indexByName[name].map { entries[$0] } }

    private func requireEntry(_ name: String) throws -> SafeTensorsEntry {
        guard let e = entry(named: name) else {
            throw TensorError(.missingTensor, "safetensors: no tensor named '\(name)'")
        }
        return e
    }

    /// The tensor `name` converted to `Float` (from F32, F16, BF16 or F64).
    /// - Throws: ``TensorError`` `.missingTensor` or `.unsupportedDType` for an integer tensor.
    public func floats(named name: String) throws -> (shape: [Int], scalars: [Float]) {
        let e = try requireEntry(name)
        guard e.dtype.isFloatingPoint else {
            throw TensorError(.unsupportedDType, "safetensors: tensor '\(name)' is \(e.dtype.rawValue), not a floating-point type")
        }
        let count = e.byteRange.count / e.dtype.size
        let start = dataStart + e.byteRange.lowerBound
        let scalars = data.withUnsafeBytes { raw -> [Float] in
            let p = raw.baseAddress! + start
            return (0..<count).map { i -> Float in
                switch e.dtype {
                case .float32: return Float(bitPattern: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
                case .float64: return Float(Double(bitPattern: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian))
                case .bfloat16:
                    return Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
                default:
                    return Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian))
                }
            }
        }
        return (e.shape, scalars)
    }

    /// The tensor `name` as a ``Tensor`` (floating-point dtypes only).
    public func tensor(named name: String) throws -> Tensor {
        let (shape, scalars) = try floats(named: name)
        return try Tensor(shape: shape, scalars: scalars)
    }

    /// The integer tensor `name` widened to `Int64` (from I64, I32, I16, I8 or U8).
    /// - Throws: ``TensorError`` `.missingTensor` or `.unsupportedDType` for a float tensor.
    public func integers(named name: String) throws -> (shape: [Int], values: [Int64]) {
        let e = try requireEntry(name)
        guard !e.dtype.isFloatingPoint else {
            throw TensorError(.unsupportedDType, "safetensors: tensor '\(name)' is \(e.dtype.rawValue), not an integer type")
        }
        let count = e.byteRange.count / e.dtype.size
        let start = dataStart + e.byteRange.lowerBound
        let values = data.withUnsafeBytes { raw -> [Int64] in
            let p = raw.baseAddress! + start
            return (0..<count).map { i -> Int64 in
                switch e.dtype {
                case .int64: return Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                case .int32: return Int64(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case .int16: return Int64(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case .int8: return Int64(p.load(fromByteOffset: i, as: Int8.self))
                default: return Int64(p.load(fromByteOffset: i, as: UInt8.self))
                }
            }
        }
        return (e.shape, values)
    }

    /// The floating-point tensors named in `layout`, in its order, as a ``ParameterSet``.
    /// - Throws: ``TensorError`` `.missingTensor` or `.shapeMismatch` naming the tensor.
    public func parameterSet(layout: ParameterLayout) throws -> ParameterSet {
        var flat: [Float] = []
        flat.reserveCapacity(layout.scalarCount)
        for d in layout.descriptors {
            let (shape, scalars) = try floats(named: d.name)
            guard shape == d.shape else {
                throw TensorError(.shapeMismatch, "safetensors: tensor '\(d.name)' has shape \(Shape.describe(shape)), expected \(Shape.describe(d.shape))")
            }
            flat += scalars
        }
        return try ParameterSet(layout: layout, scalars: flat)
    }

    /// Every floating-point tensor, in data order, as a ``ParameterSet``.
    public func parameterSet() throws -> ParameterSet {
        let floating = entries.filter { $0.dtype.isFloatingPoint }
        do {
            return try ParameterSet(floating.map { e in (e.name, e.shape, try floats(named: e.name).scalars) })
        } catch let error as CoreError {
            throw TensorError(.malformedHeader, "safetensors: \(error.message)")
        }
    }
}

/// Builds a safetensors file. Tensors are written in the order added, each 8-byte aligned by
/// construction (the header is padded with spaces to a multiple of 8, as the reference does).
public struct SafeTensorsWriter: Sendable {
    private var header: [(String, SafeTensorsDType, [Int], Range<Int>)] = []
    private var body: [UInt8] = []
    private var names: Set<String> = []
    /// Entries for the `__metadata__` map.
    public var metadata: [String: String] = [:]

    /// An empty file.
    public init() {}

    private mutating func append(name: String, dtype: SafeTensorsDType, shape: [Int], count: Int, bytes: (inout [UInt8]) -> Void) throws {
        guard name != "__metadata__", !names.contains(name) else {
            throw TensorError(.invalidArgument, "safetensors writer: tensor name '\(name)' is reserved or already used")
        }
        guard Shape.elementCount(shape) == count else {
            throw TensorError(.shapeMismatch, "safetensors writer: tensor '\(name)' shape \(Shape.describe(shape)) does not hold \(count) values")
        }
        let start = body.count
        bytes(&body)
        header.append((name, dtype, shape, start..<body.count))
        names.insert(name)
    }

    /// Adds a float32 tensor.
    /// - Throws: ``TensorError`` for a repeated name or a shape that does not fit the values.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) throws {
        try append(name: name, dtype: .float32, shape: shape, count: floats.count) { out in
            out.reserveCapacity(out.count + 4 * floats.count)
            for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
    }

    /// Adds an int64 tensor.
    public mutating func add(_ name: String, shape: [Int], int64s: [Int64]) throws {
        try append(name: name, dtype: .int64, shape: shape, count: int64s.count) { out in
            for v in int64s { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        }
    }

    /// Adds every tensor of `parameters` as float32, in layout order.
    public mutating func add(_ parameters: ParameterSet) throws {
        for d in parameters.layout.descriptors {
            try add(d.name, shape: d.shape, floats: parameters[d.name] ?? [])
        }
    }

    /// The complete file.
    public func bytes() throws -> [UInt8] {
        var object: [String: Any] = [:]
        for (name, dtype, shape, range) in header {
            object[name] = ["dtype": dtype.rawValue, "shape": shape, "data_offsets": [range.lowerBound, range.upperBound]]
        }
        if !metadata.isEmpty { object["__metadata__"] = metadata }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + body.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out += json
        out += body
        return out
    }

    /// Writes the file to `path` atomically.
    /// - Throws: ``TensorError`` `.fileSystem`.
    public func write(to path: String) throws {
        do {
            try Data(try bytes()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch let error as TensorError {
            throw error
        } catch {
            throw TensorError(.fileSystem, "safetensors: cannot write \(path): \(error.localizedDescription)")
        }
    }
}
