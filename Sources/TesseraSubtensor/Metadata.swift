/// One type of the metadata's portable registry (scale-info).
public struct PortableType: Sendable, Hashable {
    /// The type's id (its index in the registry).
    public var id: UInt32
    /// Its Rust path, e.g. `["sp_runtime", "generic", "era", "Era"]` (empty for primitives).
    public var path: [String]
    /// Generic parameters: name and, when concrete, type id.
    public var parameters: [TypeParameter]
    /// Its shape.
    public var definition: TypeDefinition
}

/// A generic parameter of a ``PortableType``.
public struct TypeParameter: Sendable, Hashable {
    /// The parameter's name.
    public var name: String
    /// Its type, if it is used concretely.
    public var type: UInt32?
}

/// A named or unnamed field of a struct or enum variant.
public struct TypeField: Sendable, Hashable {
    /// The field name (`nil` in a tuple struct).
    public var name: String?
    /// The field's type id.
    public var type: UInt32
    /// The Rust type name as written in the source, if recorded.
    public var typeName: String?
}

/// An enum variant.
public struct TypeVariant: Sendable, Hashable {
    /// Its name.
    public var name: String
    /// Its fields.
    public var fields: [TypeField]
    /// Its index byte on the wire.
    public var index: UInt8
}

/// Primitive types of scale-info.
public enum PrimitiveType: UInt8, Sendable, Hashable {
    case bool = 0, char, str, u8, u16, u32, u64, u128, u256, i8, i16, i32, i64, i128, i256

    /// Encoded size in bytes (`nil` for `str`, which is length-prefixed).
    public var size: Int? {
        switch self {
        case .bool, .u8, .i8: 1
        case .u16, .i16: 2
        case .char, .u32, .i32: 4
        case .u64, .i64: 8
        case .u128, .i128: 16
        case .u256, .i256: 32
        case .str: nil
        }
    }
}

/// The shape of a ``PortableType``.
public enum TypeDefinition: Sendable, Hashable {
    /// A struct.
    case composite([TypeField])
    /// An enum.
    case variant([TypeVariant])
    /// `Vec<T>`.
    case sequence(UInt32)
    /// `[T; length]`.
    case array(length: UInt32, element: UInt32)
    /// A tuple.
    case tuple([UInt32])
    /// A primitive.
    case primitive(PrimitiveType)
    /// `Compact<T>`.
    case compact(UInt32)
    /// `BitVec<store, order>`.
    case bitSequence(store: UInt32, order: UInt32)
}

/// The portable type registry: every type the runtime's metadata mentions, by id.
public struct TypeRegistry: Sendable {
    /// The types, indexed by id.
    public let types: [PortableType]

    /// The type with id `id`.
    /// - Throws: ``SubtensorError`` `.malformedMetadata` for an id outside the registry.
    public func type(_ id: UInt32) throws(SubtensorError) -> PortableType {
        guard Int(id) < types.count else {
            throw SubtensorError(.malformedMetadata, "type id \(id) is not in the registry of \(types.count) types")
        }
        return types[Int(id)]
    }

    /// Whether values of type `id` encode to zero bytes (empty structs, tuples, arrays).
    /// - Throws: ``SubtensorError`` `.malformedMetadata` for a dangling or cyclic type.
    public func isZeroSized(_ id: UInt32) throws(SubtensorError) -> Bool {
        try isZeroSized(id, depth: 0)
    }

    private func isZeroSized(_ id: UInt32, depth: Int) throws(SubtensorError) -> Bool {
        guard depth < 64 else { throw SubtensorError(.malformedMetadata, "type \(id) nests too deeply") }
        switch try type(id).definition {
        case .composite(let fields):
            for field in fields {
                if try !isZeroSized(field.type, depth: depth + 1) { return false }
            }
            return true
        case .tuple(let elements):
            for element in elements {
                if try !isZeroSized(element, depth: depth + 1) { return false }
            }
            return true
        case .array(let length, let element):
            if length == 0 { return true }
            return try isZeroSized(element, depth: depth + 1)
        case .variant, .sequence, .primitive, .compact, .bitSequence:
            return false
        }
    }

    /// Strips single-field struct wrappers (`struct NetUid(u16)`, `CheckNonce(Compact<u32>)`).
    /// - Throws: ``SubtensorError`` `.malformedMetadata` for a dangling or cyclic type.
    public func unwrapped(_ id: UInt32) throws(SubtensorError) -> PortableType {
        var current = try type(id)
        for _ in 0..<64 {
            guard case .composite(let fields) = current.definition, fields.count == 1 else { return current }
            current = try type(fields[0].type)
        }
        throw SubtensorError(.malformedMetadata, "type \(id) nests too deeply")
    }

    /// Encodes an unsigned integer as type `id`: a primitive `uN`, a `Compact<uN>`, or a
    /// single-field struct around either.
    /// - Throws: ``SubtensorError`` `.malformedMetadata` if the type is not an unsigned integer,
    ///   `.invalidArgument` if `value` does not fit.
    public func encodeUnsigned(_ value: UInt128, as id: UInt32, into encoder: inout ScaleEncoder) throws(SubtensorError) {
        let resolved = try unwrapped(id)
        switch resolved.definition {
        case .primitive(let primitive):
            try encodePrimitive(value, primitive, into: &encoder, type: id)
        case .compact(let inner):
            guard case .primitive(let primitive) = try unwrapped(inner).definition, let size = primitive.size,
                  [.u8, .u16, .u32, .u64, .u128].contains(primitive)
            else { throw SubtensorError(.malformedMetadata, "type \(id) is a compact of a non-integer") }
            guard size >= 16 || value < (1 as UInt128) << (8 * size) else {
                throw SubtensorError(.invalidArgument, "\(value) does not fit \(primitive)")
            }
            encoder.appendCompact(value)
        default:
            throw SubtensorError(.malformedMetadata, "type \(id) (\(resolved.path.joined(separator: "::"))) is not an unsigned integer")
        }
    }

    private func encodePrimitive(_ value: UInt128, _ primitive: PrimitiveType, into encoder: inout ScaleEncoder, type id: UInt32) throws(SubtensorError) {
        func fit<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(SubtensorError) -> T {
            guard let v = T(exactly: value) else { throw SubtensorError(.invalidArgument, "\(value) does not fit \(T.self)") }
            return v
        }
        switch primitive {
        case .u8: encoder.append(littleEndian: try fit(UInt8.self))
        case .u16: encoder.append(littleEndian: try fit(UInt16.self))
        case .u32: encoder.append(littleEndian: try fit(UInt32.self))
        case .u64: encoder.append(littleEndian: try fit(UInt64.self))
        case .u128: encoder.append(littleEndian: value)
        default: throw SubtensorError(.malformedMetadata, "type \(id) is \(primitive), not an unsigned integer")
        }
    }
}

/// A storage item of a pallet.
public struct StorageEntry: Sendable, Hashable {
    /// Whether a missing value reads as `None` or as the default.
    public enum Modifier: UInt8, Sendable, Hashable {
        /// Missing values are `None`.
        case optional = 0
        /// Missing values are ``StorageEntry/defaultValue``.
        case `default` = 1
    }
    /// A single value or a map.
    public enum Kind: Sendable, Hashable {
        /// A single value of this type.
        case plain(value: UInt32)
        /// A map: one hasher per key part, the key type (a tuple when there are several), the value type.
        case map(hashers: [StorageHasher], key: UInt32, value: UInt32)
    }
    /// The entry's name, e.g. `CommitmentOf`.
    public var name: String
    /// Missing-value behaviour.
    public var modifier: Modifier
    /// Value or map.
    public var kind: Kind
    /// The SCALE-encoded default value.
    public var defaultValue: [UInt8]
}

/// A constant of a pallet.
public struct PalletConstant: Sendable, Hashable {
    /// Its name.
    public var name: String
    /// Its type id.
    public var type: UInt32
    /// Its SCALE-encoded value.
    public var value: [UInt8]
}

/// A pallet (runtime module) as the metadata describes it.
public struct Pallet: Sendable, Hashable {
    /// Its name, e.g. `SubtensorModule`.
    public var name: String
    /// Its index: the first byte of its calls.
    public var index: UInt8
    /// The storage prefix (usually the name), if it has storage.
    public var storagePrefix: String?
    /// Its storage entries.
    public var storage: [StorageEntry]
    /// The enum type of its calls, if it has any.
    public var callType: UInt32?
    /// The enum type of its events, if it has any.
    public var eventType: UInt32?
    /// Its constants.
    public var constants: [PalletConstant]
    /// The enum type of its errors, if it has any.
    public var errorType: UInt32?
}

/// A transaction extension (signed extension) named by the metadata, in order.
public struct TransactionExtensionInfo: Sendable, Hashable {
    /// Its identifier, e.g. `CheckMortality`.
    public var identifier: String
    /// The type of the value carried in the extrinsic.
    public var type: UInt32
    /// The type of the value only signed (the "implicit" or additional-signed data).
    public var additionalSigned: UInt32
}

/// The extrinsic format of the runtime.
public struct ExtrinsicInfo: Sendable, Hashable {
    /// The extrinsic version (4).
    public var version: UInt8
    /// The extrinsic type (V14), if given.
    public var type: UInt32?
    /// Address, call, signature and extra types (V15), if given.
    public var addressType: UInt32?, callType: UInt32?, signatureType: UInt32?, extraType: UInt32?
    /// The transaction extensions in signing order.
    public var extensions: [TransactionExtensionInfo]
}

/// A runtime API method (V15 metadata).
public struct RuntimeAPIMethod: Sendable, Hashable {
    /// Its name, e.g. `get_subnet_state`.
    public var name: String
    /// Its parameters: name and type id.
    public var inputs: [TypeField]
    /// The type of its result.
    public var output: UInt32
}

/// A runtime API trait (V15 metadata).
public struct RuntimeAPI: Sendable, Hashable {
    /// Its name, e.g. `SubnetInfoRuntimeApi`.
    public var name: String
    /// Its methods.
    public var methods: [RuntimeAPIMethod]
}

/// A pallet call resolved from the metadata.
public struct CallInfo: Sendable, Hashable {
    /// The pallet's name.
    public var pallet: String
    /// The pallet index byte.
    public var palletIndex: UInt8
    /// The call's name.
    public var name: String
    /// The call index byte.
    public var callIndex: UInt8
    /// Its arguments in order.
    public var fields: [TypeField]
}

/// Runtime metadata, V14 or V15: the type registry, pallets (calls, storage, constants), the
/// extrinsic format with its transaction-extension list and, for V15, the runtime APIs.
///
/// Everything the client encodes is looked up here at start-up; nothing about the runtime is
/// hard-coded beyond sanity checks.
public struct RuntimeMetadata: Sendable {
    /// 14 or 15.
    public let version: UInt8
    /// Every type, by id.
    public let registry: TypeRegistry
    /// The pallets, in metadata order.
    public let pallets: [Pallet]
    /// The extrinsic format.
    public let extrinsic: ExtrinsicInfo
    /// The runtime APIs (empty for V14).
    public let apis: [RuntimeAPI]

    /// The `"meta"` magic number, little-endian.
    public static let magic: UInt32 = 0x6174_656D

    /// Parses metadata bytes: either the `state_getMetadata` form (`"meta"`, version, …) or the
    /// `Metadata_metadata_at_version` form (`Option<Vec<u8>>` around it).
    /// - Throws: ``SubtensorError`` `.malformedMetadata` (bad magic, truncation, trailing bytes,
    ///   dangling type ids) or `.unsupportedMetadata` (a version other than 14 and 15).
    /// - Complexity: O(n) in the metadata size.
    public init(bytes: [UInt8]) throws(SubtensorError) {
        var decoder = ScaleDecoder(bytes)
        if bytes.count >= 4, bytes[0] == 0x6D, bytes[1] == 0x65, bytes[2] == 0x74, bytes[3] == 0x61 {
            // Plain form.
        } else {
            do throws(SubtensorError) {
                guard try decoder.readByte() == 1 else { throw SubtensorError(.malformedMetadata, "metadata_at_version returned None") }
                let length = try decoder.readLength()
                guard length == decoder.remaining else {
                    throw SubtensorError(.malformedMetadata, "opaque metadata declares \(length) bytes, \(decoder.remaining) present")
                }
            } catch {
                throw SubtensorError(.malformedMetadata, "neither metadata nor Option<OpaqueMetadata>: \(error.message)")
            }
        }
        do throws(SubtensorError) {
            let magic: UInt32 = try decoder.read()
            guard magic == Self.magic else { throw SubtensorError(.malformedMetadata, "bad magic number 0x\(String(magic, radix: 16))") }
            let version = try decoder.readByte()
            guard version == 14 || version == 15 else {
                throw SubtensorError(.unsupportedMetadata, "metadata version \(version); only 14 and 15 are read")
            }
            self.version = version
            registry = try Self.readRegistry(&decoder)
            pallets = try decoder.readVector(minimumItemSize: 8) { (d: inout ScaleDecoder) throws(SubtensorError) in try Self.readPallet(&d, version: version) }
            if version == 14 {
                let type: UInt32 = try decoder.readCompact()
                let extrinsicVersion = try decoder.readByte()
                let extensions = try Self.readExtensions(&decoder)
                extrinsic = ExtrinsicInfo(version: extrinsicVersion, type: type, extensions: extensions)
                _ = try decoder.readCompact(UInt32.self)  // runtime type
                apis = []
            } else {
                let extrinsicVersion = try decoder.readByte()
                let address: UInt32 = try decoder.readCompact()
                let call: UInt32 = try decoder.readCompact()
                let signature: UInt32 = try decoder.readCompact()
                let extra: UInt32 = try decoder.readCompact()
                let extensions = try Self.readExtensions(&decoder)
                extrinsic = ExtrinsicInfo(version: extrinsicVersion, addressType: address, callType: call, signatureType: signature, extraType: extra, extensions: extensions)
                _ = try decoder.readCompact(UInt32.self)  // runtime type
                apis = try decoder.readVector(minimumItemSize: 2) { (d: inout ScaleDecoder) throws(SubtensorError) in try Self.readAPI(&d) }
                for _ in 0..<3 { _ = try decoder.readCompact(UInt32.self) }  // outer enums
                _ = try decoder.readVector(minimumItemSize: 3) { (d: inout ScaleDecoder) throws(SubtensorError) in
                    _ = try d.readString(); _ = try d.readCompact(UInt32.self); _ = try d.readByteVector()
                }
            }
            try decoder.expectEnd("metadata")
        } catch where error.code == .malformedSCALE {
            throw SubtensorError(.malformedMetadata, error.message)
        }
        try validate()
    }

    /// Parses metadata from hex (with or without `0x`).
    /// - Throws: ``SubtensorError`` `.invalidHex`, `.malformedMetadata` or `.unsupportedMetadata`.
    public init(hex: String) throws(SubtensorError) {
        try self.init(bytes: Hex.decode(hex))
    }

    private init(version: UInt8, registry: TypeRegistry, pallets: [Pallet], extrinsic: ExtrinsicInfo, apis: [RuntimeAPI]) {
        self.version = version
        self.registry = registry
        self.pallets = pallets
        self.extrinsic = extrinsic
        self.apis = apis
    }

    /// A copy with one transaction extension renamed (to test how unknown extensions are handled).
    public func renamingExtension(_ identifier: String, to newIdentifier: String) -> RuntimeMetadata {
        var info = extrinsic
        info.extensions = info.extensions.map { e in
            var copy = e
            if copy.identifier == identifier { copy.identifier = newIdentifier }
            return copy
        }
        return RuntimeMetadata(version: version, registry: registry, pallets: pallets, extrinsic: info, apis: apis)
    }

    // MARK: Lookups

    /// The pallet named `name`.
    /// - Throws: ``SubtensorError`` `.notInMetadata`.
    public func pallet(_ name: String) throws(SubtensorError) -> Pallet {
        guard let pallet = pallets.first(where: { $0.name == name }) else {
            throw SubtensorError(.notInMetadata, "no pallet \(name)")
        }
        return pallet
    }

    /// The call `pallet.name` with its indices and argument list.
    /// - Throws: ``SubtensorError`` `.notInMetadata`.
    public func call(_ pallet: String, _ name: String) throws(SubtensorError) -> CallInfo {
        let p = try self.pallet(pallet)
        guard let callType = p.callType, case .variant(let variants) = try registry.type(callType).definition,
              let variant = variants.first(where: { $0.name == name })
        else { throw SubtensorError(.notInMetadata, "no call \(pallet).\(name)") }
        return CallInfo(pallet: pallet, palletIndex: p.index, name: name, callIndex: variant.index, fields: variant.fields)
    }

    /// The storage entry `pallet.name` and the pallet's storage prefix.
    /// - Throws: ``SubtensorError`` `.notInMetadata`.
    public func storage(_ pallet: String, _ name: String) throws(SubtensorError) -> (prefix: String, entry: StorageEntry) {
        let p = try self.pallet(pallet)
        guard let prefix = p.storagePrefix, let entry = p.storage.first(where: { $0.name == name }) else {
            throw SubtensorError(.notInMetadata, "no storage entry \(pallet).\(name)")
        }
        return (prefix, entry)
    }

    /// The constant `pallet.name`.
    /// - Throws: ``SubtensorError`` `.notInMetadata`.
    public func constant(_ pallet: String, _ name: String) throws(SubtensorError) -> PalletConstant {
        guard let constant = try self.pallet(pallet).constants.first(where: { $0.name == name }) else {
            throw SubtensorError(.notInMetadata, "no constant \(pallet).\(name)")
        }
        return constant
    }

    /// The runtime API method `api.method` (V15 only).
    /// - Throws: ``SubtensorError`` `.notInMetadata`.
    public func runtimeAPI(_ api: String, _ method: String) throws(SubtensorError) -> RuntimeAPIMethod {
        guard let found = apis.first(where: { $0.name == api })?.methods.first(where: { $0.name == method }) else {
            throw SubtensorError(.notInMetadata, "no runtime API \(api)_\(method)")
        }
        return found
    }

    /// The runtime's `System.Version` constant: spec name, spec version and transaction version.
    /// - Throws: ``SubtensorError`` `.notInMetadata` or `.malformedMetadata`.
    public func runtimeVersion() throws(SubtensorError) -> (specName: String, specVersion: UInt32, transactionVersion: UInt32) {
        let constant = try constant("System", "Version")
        var d = ScaleDecoder(constant.value)
        do throws(SubtensorError) {
            let specName = try d.readString()
            _ = try d.readString()  // impl_name
            _ = try d.read(UInt32.self)  // authoring_version
            let spec: UInt32 = try d.read()
            _ = try d.read(UInt32.self)  // impl_version
            _ = try d.readVector(minimumItemSize: 12) { (d: inout ScaleDecoder) throws(SubtensorError) in try d.skip(12) }
            let transaction: UInt32 = try d.read()
            return (specName, spec, transaction)
        } catch {
            throw SubtensorError(.malformedMetadata, "System.Version: \(error.message)")
        }
    }

    // MARK: Parsing

    private static func skipStrings(_ d: inout ScaleDecoder) throws(SubtensorError) {
        let count = try d.readLength()
        for _ in 0..<count { try d.skip(d.readLength()) }
    }

    private static func readOptionalString(_ d: inout ScaleDecoder) throws(SubtensorError) -> String? {
        try d.readOption { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readString() }
    }

    private static func readFields(_ d: inout ScaleDecoder) throws(SubtensorError) -> [TypeField] {
        try d.readVector(minimumItemSize: 4) { (d: inout ScaleDecoder) throws(SubtensorError) in
            let name = try readOptionalString(&d)
            let type: UInt32 = try d.readCompact()
            let typeName = try readOptionalString(&d)
            try skipStrings(&d)
            return TypeField(name: name, type: type, typeName: typeName)
        }
    }

    private static func readRegistry(_ d: inout ScaleDecoder) throws(SubtensorError) -> TypeRegistry {
        let types = try d.readVector(minimumItemSize: 5) { (d: inout ScaleDecoder) throws(SubtensorError) -> PortableType in
            let id: UInt32 = try d.readCompact()
            let path = try d.readVector { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readString() }
            let parameters = try d.readVector { (d: inout ScaleDecoder) throws(SubtensorError) in
                TypeParameter(name: try d.readString(), type: try d.readOption { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readCompact(UInt32.self) })
            }
            let tag = try d.readByte()
            let definition: TypeDefinition
            switch tag {
            case 0: definition = .composite(try readFields(&d))
            case 1:
                definition = .variant(try d.readVector(minimumItemSize: 4) { (d: inout ScaleDecoder) throws(SubtensorError) in
                    let name = try d.readString()
                    let fields = try readFields(&d)
                    let index = try d.readByte()
                    try skipStrings(&d)
                    return TypeVariant(name: name, fields: fields, index: index)
                })
            case 2: definition = .sequence(try d.readCompact())
            case 3: definition = .array(length: try d.read(), element: try d.readCompact())
            case 4: definition = .tuple(try d.readVector { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readCompact(UInt32.self) })
            case 5:
                let raw = try d.readByte()
                guard let primitive = PrimitiveType(rawValue: raw) else { throw scaleError("unknown primitive \(raw) in type \(id)") }
                definition = .primitive(primitive)
            case 6: definition = .compact(try d.readCompact())
            case 7: definition = .bitSequence(store: try d.readCompact(), order: try d.readCompact())
            default: throw scaleError("unknown type definition \(tag) in type \(id)")
            }
            try skipStrings(&d)
            return PortableType(id: id, path: path, parameters: parameters, definition: definition)
        }
        for (i, type) in types.enumerated() where type.id != UInt32(i) {
            throw SubtensorError(.malformedMetadata, "type at position \(i) has id \(type.id); ids must be 0, 1, 2, …")
        }
        return TypeRegistry(types: types)
    }

    private static func readPallet(_ d: inout ScaleDecoder, version: UInt8) throws(SubtensorError) -> Pallet {
        let name = try d.readString()
        var prefix: String? = nil
        var storage: [StorageEntry] = []
        if try d.readBool() {
            prefix = try d.readString()
            storage = try d.readVector(minimumItemSize: 4) { (d: inout ScaleDecoder) throws(SubtensorError) in
                let entryName = try d.readString()
                let modifierByte = try d.readByte()
                guard let modifier = StorageEntry.Modifier(rawValue: modifierByte) else {
                    throw scaleError("unknown storage modifier \(modifierByte) in \(name).\(entryName)")
                }
                let kind: StorageEntry.Kind
                switch try d.readByte() {
                case 0: kind = .plain(value: try d.readCompact())
                case 1:
                    let hashers = try d.readVector { (d: inout ScaleDecoder) throws(SubtensorError) in
                        let raw = try d.readByte()
                        guard let hasher = StorageHasher(rawValue: raw) else { throw scaleError("unknown storage hasher \(raw) in \(name).\(entryName)") }
                        return hasher
                    }
                    kind = .map(hashers: hashers, key: try d.readCompact(), value: try d.readCompact())
                case let other: throw scaleError("unknown storage entry type \(other) in \(name).\(entryName)")
                }
                let defaultValue = try d.readByteVector()
                try skipStrings(&d)
                return StorageEntry(name: entryName, modifier: modifier, kind: kind, defaultValue: defaultValue)
            }
        }
        func optionalType(_ d: inout ScaleDecoder) throws(SubtensorError) -> UInt32? {
            try d.readOption { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readCompact(UInt32.self) }
        }
        let calls = try optionalType(&d)
        let events = try optionalType(&d)
        let constants = try d.readVector(minimumItemSize: 3) { (d: inout ScaleDecoder) throws(SubtensorError) in
            let constantName = try d.readString()
            let type: UInt32 = try d.readCompact()
            let value = try d.readByteVector()
            try skipStrings(&d)
            return PalletConstant(name: constantName, type: type, value: value)
        }
        let errors = try optionalType(&d)
        let index = try d.readByte()
        if version >= 15 { try skipStrings(&d) }
        return Pallet(name: name, index: index, storagePrefix: prefix, storage: storage, callType: calls, eventType: events, constants: constants, errorType: errors)
    }

    private static func readExtensions(_ d: inout ScaleDecoder) throws(SubtensorError) -> [TransactionExtensionInfo] {
        try d.readVector(minimumItemSize: 3) { (d: inout ScaleDecoder) throws(SubtensorError) in
            TransactionExtensionInfo(identifier: try d.readString(), type: try d.readCompact(), additionalSigned: try d.readCompact())
        }
    }

    private static func readAPI(_ d: inout ScaleDecoder) throws(SubtensorError) -> RuntimeAPI {
        let name = try d.readString()
        let methods = try d.readVector(minimumItemSize: 4) { (d: inout ScaleDecoder) throws(SubtensorError) in
            let methodName = try d.readString()
            let inputs = try d.readVector(minimumItemSize: 2) { (d: inout ScaleDecoder) throws(SubtensorError) in
                TypeField(name: try d.readString(), type: try d.readCompact(), typeName: nil)
            }
            let output: UInt32 = try d.readCompact()
            try skipStrings(&d)
            return RuntimeAPIMethod(name: methodName, inputs: inputs, output: output)
        }
        try skipStrings(&d)
        return RuntimeAPI(name: name, methods: methods)
    }

    /// Checks that every type id the pallets and extensions mention exists.
    private func validate() throws(SubtensorError) {
        var ids: [UInt32] = []
        for pallet in pallets {
            ids += [pallet.callType, pallet.eventType, pallet.errorType].compactMap { $0 }
            ids += pallet.constants.map(\.type)
            for entry in pallet.storage {
                switch entry.kind {
                case .plain(let value): ids.append(value)
                case .map(_, let key, let value): ids += [key, value]
                }
            }
        }
        for e in extrinsic.extensions { ids += [e.type, e.additionalSigned] }
        for api in apis { for m in api.methods { ids.append(m.output); ids += m.inputs.map(\.type) } }
        for type in registry.types {
            switch type.definition {
            case .composite(let fields): ids += fields.map(\.type)
            case .variant(let variants): for v in variants { ids += v.fields.map(\.type) }
            case .sequence(let t), .compact(let t), .array(_, let t): ids.append(t)
            case .tuple(let ts): ids += ts
            case .bitSequence(let s, let o): ids += [s, o]
            case .primitive: break
            }
        }
        if let bad = ids.first(where: { Int($0) >= registry.types.count }) {
            throw SubtensorError(.malformedMetadata, "type id \(bad) is referenced but not defined (\(registry.types.count) types)")
        }
    }
}
