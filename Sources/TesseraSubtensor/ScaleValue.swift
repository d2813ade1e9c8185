/// A value to encode against a metadata type, so call arguments follow the runtime's own
/// types (`NetUid` wrappers, compact or fixed integers) instead of hard-coded layouts.
public indirect enum ScaleValue: Sendable, Hashable {
    /// An unsigned integer (primitive `uN` or `Compact<uN>`).
    case unsigned(UInt128)
    /// A `bool`.
    case bool(Bool)
    /// Bytes for `Vec<u8>` or `[u8; N]`.
    case bytes([UInt8])
    /// A UTF-8 string (`str`).
    case string(String)
    /// Items of a `Vec<T>`, `[T; N]` or tuple.
    case sequence([ScaleValue])
    /// Struct fields in order.
    case composite([ScaleValue])
    /// An enum variant by name, with its fields.
    case variant(String, [ScaleValue])
    /// A signed integer (decoding only).
    case signed(Int128)

    /// Every `bytes` payload of `Raw…`/`BigRaw` variants inside this value, in order (how
    /// commitment fields hold their data).
    public var rawVariantBytes: [UInt8] {
        switch self {
        case .variant(let name, let fields):
            if name.hasPrefix("Raw") || name == "BigRaw", fields.count == 1 {
                if case .bytes(let raw) = fields[0] { return raw }
                return fields[0].rawVariantBytes
            }
            return fields.flatMap(\.rawVariantBytes)
        case .sequence(let items), .composite(let items):
            return items.flatMap(\.rawVariantBytes)
        default:
            return []
        }
    }
}

extension TypeRegistry {
    /// Encodes `value` as type `id`. A struct or tuple of one field also accepts the field's
    /// value directly (transparent wrappers such as `NetUid(u16)` or `BoundedVec<T>`).
    /// - Throws: ``SubtensorError`` `.invalidArgument` when the value does not fit the type,
    ///   `.malformedMetadata` for a dangling type.
    public func encode(_ value: ScaleValue, as id: UInt32, into encoder: inout ScaleEncoder) throws(SubtensorError) {
        try encode(value, as: id, into: &encoder, depth: 0)
    }

    private func mismatch(_ value: ScaleValue, _ type: PortableType) -> SubtensorError {
        SubtensorError(.invalidArgument, "value \(value) does not fit type \(type.id) \(type.path.joined(separator: "::")) (\(type.definition))")
    }

    private func encode(_ value: ScaleValue, as id: UInt32, into encoder: inout ScaleEncoder, depth: Int) throws(SubtensorError) {
        guard depth < 64 else { throw SubtensorError(.malformedMetadata, "type \(id) nests too deeply") }
        let type = try self.type(id)
        switch (type.definition, value) {
        case (.primitive(.bool), .bool(let b)):
            encoder.append(b)
        case (.primitive(.str), .string(let s)):
            encoder.appendString(s)
        case (.primitive, .unsigned(let v)), (.compact, .unsigned(let v)):
            try encodeUnsigned(v, as: id, into: &encoder)
        case (.sequence(let element), .bytes(let raw)):
            guard case .primitive(.u8) = try self.type(element).definition else { throw mismatch(value, type) }
            encoder.appendBytes(raw)
        case (.sequence(let element), .sequence(let items)):
            encoder.appendCompact(UInt64(items.count))
            for item in items { try encode(item, as: element, into: &encoder, depth: depth + 1) }
        case (.array(let length, let element), .bytes(let raw)):
            guard case .primitive(.u8) = try self.type(element).definition, raw.count == Int(length) else { throw mismatch(value, type) }
            encoder.append(raw)
        case (.array(let length, let element), .sequence(let items)):
            guard items.count == Int(length) else { throw mismatch(value, type) }
            for item in items { try encode(item, as: element, into: &encoder, depth: depth + 1) }
        case (.tuple(let elements), .sequence(let items)) where elements.count == items.count,
             (.tuple(let elements), .composite(let items)) where elements.count == items.count:
            for (element, item) in zip(elements, items) { try encode(item, as: element, into: &encoder, depth: depth + 1) }
        case (.composite(let fields), .composite(let items)) where fields.count == items.count:
            for (field, item) in zip(fields, items) { try encode(item, as: field.type, into: &encoder, depth: depth + 1) }
        case (.composite(let fields), _) where fields.count == 1:
            try encode(value, as: fields[0].type, into: &encoder, depth: depth + 1)
        case (.tuple(let elements), _) where elements.count == 1:
            try encode(value, as: elements[0], into: &encoder, depth: depth + 1)
        case (.variant(let variants), .variant(let name, let items)):
            guard let variant = variants.first(where: { $0.name == name }) else {
                throw SubtensorError(.invalidArgument, "type \(type.path.joined(separator: "::")) has no variant \(name)")
            }
            guard variant.fields.count == items.count else { throw mismatch(value, type) }
            encoder.append(variant.index)
            for (field, item) in zip(variant.fields, items) { try encode(item, as: field.type, into: &encoder, depth: depth + 1) }
        default:
            throw mismatch(value, type)
        }
    }
}

extension TypeRegistry {
    /// Decodes one value of type `id`. Byte vectors and arrays become ``ScaleValue/bytes(_:)``;
    /// 256-bit integers become little-endian bytes.
    /// - Throws: ``SubtensorError`` `.malformedSCALE` for truncated or invalid input (lengths are
    ///   checked before allocating), `.malformedMetadata` for dangling or cyclic types.
    public func decode(_ id: UInt32, from decoder: inout ScaleDecoder) throws(SubtensorError) -> ScaleValue {
        try decode(id, from: &decoder, depth: 0)
    }

    private func decode(_ id: UInt32, from d: inout ScaleDecoder, depth: Int) throws(SubtensorError) -> ScaleValue {
        guard depth < 64 else { throw SubtensorError(.malformedMetadata, "type \(id) nests too deeply") }
        let type = try self.type(id)
        switch type.definition {
        case .primitive(let p):
            switch p {
            case .bool: return .bool(try d.readBool())
            case .str: return .string(try d.readString())
            case .char: return .unsigned(UInt128(try d.read(UInt32.self)))
            case .u8: return .unsigned(UInt128(try d.readByte()))
            case .u16: return .unsigned(UInt128(try d.read(UInt16.self)))
            case .u32: return .unsigned(UInt128(try d.read(UInt32.self)))
            case .u64: return .unsigned(UInt128(try d.read(UInt64.self)))
            case .u128: return .unsigned(try d.read(UInt128.self))
            case .i8: return .signed(Int128(Int8(bitPattern: try d.readByte())))
            case .i16: return .signed(Int128(Int16(bitPattern: try d.read(UInt16.self))))
            case .i32: return .signed(Int128(Int32(bitPattern: try d.read(UInt32.self))))
            case .i64: return .signed(Int128(Int64(bitPattern: try d.read(UInt64.self))))
            case .i128: return .signed(Int128(bitPattern: try d.read(UInt128.self)))
            case .u256, .i256: return .bytes(try d.readBytes(32))
            }
        case .compact:
            return .unsigned(try d.readCompact(UInt128.self))
        case .sequence(let element):
            if case .primitive(.u8) = try self.type(element).definition { return .bytes(try d.readByteVector()) }
            let minimum = try isZeroSized(element) ? 0 : 1
            let count = try d.readLength(minimumItemSize: minimum)
            var items: [ScaleValue] = []
            items.reserveCapacity(min(count, 1 << 16))
            for _ in 0..<count { items.append(try decode(element, from: &d, depth: depth + 1)) }
            return .sequence(items)
        case .array(let length, let element):
            if case .primitive(.u8) = try self.type(element).definition { return .bytes(try d.readBytes(Int(length))) }
            let limit = try isZeroSized(element) ? 1 << 16 : d.remaining
            guard Int(length) <= limit else {
                throw scaleError("array of \(length) items exceeds the \(d.remaining) remaining bytes")
            }
            var items: [ScaleValue] = []
            for _ in 0..<length { items.append(try decode(element, from: &d, depth: depth + 1)) }
            return .sequence(items)
        case .tuple(let elements):
            var items: [ScaleValue] = []
            for element in elements { items.append(try decode(element, from: &d, depth: depth + 1)) }
            return .sequence(items)
        case .composite(let fields):
            var items: [ScaleValue] = []
            for field in fields { items.append(try decode(field.type, from: &d, depth: depth + 1)) }
            return .composite(items)
        case .variant(let variants):
            let index = try d.readByte()
            guard let variant = variants.first(where: { $0.index == index }) else {
                throw scaleError("no variant \(index) in \(type.path.joined(separator: "::"))")
            }
            var items: [ScaleValue] = []
            for field in variant.fields { items.append(try decode(field.type, from: &d, depth: depth + 1)) }
            return .variant(variant.name, items)
        case .bitSequence:
            throw SubtensorError(.unsupportedMetadata, "bit sequences (type \(id)) are not decoded")
        }
    }

    /// The encoded size of type `id` if every value has the same size, else `nil`.
    /// - Throws: ``SubtensorError`` `.malformedMetadata` for dangling or cyclic types.
    public func fixedSize(_ id: UInt32) throws(SubtensorError) -> Int? {
        try fixedSize(id, depth: 0)
    }

    private func fixedSize(_ id: UInt32, depth: Int) throws(SubtensorError) -> Int? {
        guard depth < 64 else { throw SubtensorError(.malformedMetadata, "type \(id) nests too deeply") }
        switch try type(id).definition {
        case .primitive(let p): return p.size
        case .array(let length, let element):
            guard let size = try fixedSize(element, depth: depth + 1) else { return nil }
            let (total, overflow) = size.multipliedReportingOverflow(by: Int(length))
            return overflow ? nil : total
        case .composite(let fields):
            var total = 0
            for field in fields {
                guard let size = try fixedSize(field.type, depth: depth + 1) else { return nil }
                let (sum, overflow) = total.addingReportingOverflow(size)
                if overflow { return nil }
                total = sum
            }
            return total
        case .tuple(let elements):
            var total = 0
            for element in elements {
                guard let size = try fixedSize(element, depth: depth + 1) else { return nil }
                let (sum, overflow) = total.addingReportingOverflow(size)
                if overflow { return nil }
                total = sum
            }
            return total
        case .variant, .sequence, .compact, .bitSequence:
            return nil
        }
    }
}

extension RuntimeMetadata {
    /// The bytes of call `pallet.name` with `arguments` in the metadata's order:
    /// pallet index, call index, then each argument encoded as its declared type.
    /// - Throws: ``SubtensorError`` `.notInMetadata` or `.invalidArgument`.
    public func encodeCall(_ pallet: String, _ name: String, _ arguments: [ScaleValue]) throws(SubtensorError) -> [UInt8] {
        let call = try self.call(pallet, name)
        guard call.fields.count == arguments.count else {
            throw SubtensorError(.invalidArgument, "\(pallet).\(name) takes \(call.fields.count) arguments, \(arguments.count) given")
        }
        var encoder = ScaleEncoder()
        encoder.append(call.palletIndex)
        encoder.append(call.callIndex)
        for (field, argument) in zip(call.fields, arguments) { try registry.encode(argument, as: field.type, into: &encoder) }
        return encoder.bytes
    }

    /// `SubtensorModule.set_weights(netuid, dests, weights, version_key)`.
    /// - Throws: ``SubtensorError`` `.invalidArgument` if the two lists differ in length.
    public func setWeightsCall(netuid: UInt16, uids: [UInt16], weights: [UInt16], versionKey: UInt64) throws(SubtensorError) -> [UInt8] {
        guard uids.count == weights.count else { throw SubtensorError(.invalidArgument, "\(uids.count) uids but \(weights.count) weights") }
        return try encodeCall("SubtensorModule", "set_weights", [
            .unsigned(UInt128(netuid)),
            .sequence(uids.map { .unsigned(UInt128($0)) }),
            .sequence(weights.map { .unsigned(UInt128($0)) }),
            .unsigned(UInt128(versionKey)),
        ])
    }

    /// `Commitments.set_commitment(netuid, info)` with one `Raw{n}` field holding `data`
    /// (how a node publishes its bucket and read key, as bittensor's `commit` does).
    /// - Throws: ``SubtensorError`` `.invalidArgument` if the runtime has no `Raw{n}` variant
    ///   for this length (128 bytes at most on spec 343).
    public func setCommitmentCall(netuid: UInt16, data: [UInt8]) throws(SubtensorError) -> [UInt8] {
        try encodeCall("Commitments", "set_commitment", [
            .unsigned(UInt128(netuid)),
            .composite([.sequence([.variant("Raw\(data.count)", [.bytes(data)])])]),
        ])
    }
}
