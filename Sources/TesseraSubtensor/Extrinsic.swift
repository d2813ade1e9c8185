/// A transaction's mortality: valid from its birth block for `period` blocks, or forever.
public enum Era: Sendable, Hashable {
    /// Valid forever (the birth hash is the genesis hash).
    case immortal
    /// Valid for `period` blocks (a power of two, 4…65,536) from the block whose number is
    /// `phase` modulo `period`.
    case mortal(period: UInt64, phase: UInt64)

    /// A mortal era of about `period` blocks starting at `currentBlock`, rounded as Substrate
    /// does (`Era::mortal`): the period to a power of two in 4…65,536, the phase quantized.
    public static func mortal(period: UInt64, currentBlock: UInt64) -> Era {
        var p: UInt64 = 4
        while p < min(max(period, 4), 65_536) { p <<= 1 }
        let quantize = max(p >> 12, 1)
        let phase = currentBlock % p / quantize * quantize
        return .mortal(period: p, phase: phase)
    }

    /// The SCALE encoding: `0x00`, or two bytes holding log₂(period) − 1 and the quantized phase.
    public var encoded: [UInt8] {
        switch self {
        case .immortal:
            return [0]
        case .mortal(let period, let phase):
            let quantize = max(period >> 12, 1)
            let low = UInt16(min(15, max(1, period.trailingZeroBitCount - 1)))
            let value = low | UInt16(truncatingIfNeeded: phase / quantize) << 4
            return [UInt8(value & 0xFF), UInt8(value >> 8)]
        }
    }

    /// The block whose hash is signed: the first block of this era at or before `currentBlock`
    /// (0, the genesis block, for an immortal era).
    public func birth(currentBlock: UInt64) -> UInt64 {
        switch self {
        case .immortal: 0
        case .mortal(let period, let phase): (max(currentBlock, phase) - phase) / period * period + phase
        }
    }
}

/// What a signed transaction commits to besides its call: the values of the transaction
/// extensions the metadata lists.
public struct TransactionParameters: Sendable, Hashable {
    /// The signer's account nonce.
    public var nonce: UInt64
    /// Tip to the block author (0 for Bittensor's fee-free calls).
    public var tip: UInt128
    /// Mortality.
    public var era: Era
    /// Hash of the era's birth block (the genesis hash for an immortal era).
    public var eraBlockHash: [UInt8]
    /// The chain's genesis hash.
    public var genesisHash: [UInt8]
    /// The runtime's spec version.
    public var specVersion: UInt32
    /// The runtime's transaction version.
    public var transactionVersion: UInt32
    /// The metadata hash for `CheckMetadataHash` (mode Enabled), or `nil` for mode Disabled.
    public var metadataHash: [UInt8]?

    /// Creates transaction parameters.
    public init(nonce: UInt64, tip: UInt128 = 0, era: Era, eraBlockHash: [UInt8], genesisHash: [UInt8],
                specVersion: UInt32, transactionVersion: UInt32, metadataHash: [UInt8]? = nil) {
        self.nonce = nonce
        self.tip = tip
        self.era = era
        self.eraBlockHash = eraBlockHash
        self.genesisHash = genesisHash
        self.specVersion = specVersion
        self.transactionVersion = transactionVersion
        self.metadataHash = metadataHash
    }
}

/// Builds signed extrinsics (format version 4) for the runtime a ``RuntimeMetadata`` describes.
///
/// Layout: `Compact(length) ‖ 0x84 ‖ MultiAddress::Id(account) ‖ MultiSignature ‖ extra ‖ call`,
/// where *extra* is every transaction extension's explicit value in metadata order. The
/// signature covers `call ‖ extra ‖ additional` (each extension's implicit value in metadata
/// order), BLAKE2b-256-hashed first when longer than 256 bytes. Known extensions:
/// CheckSpecVersion, CheckTxVersion, CheckGenesis, CheckMortality/CheckEra, CheckNonce,
/// ChargeTransactionPayment, ChargeAssetTxPayment, CheckMetadataHash; any other must be
/// zero-sized on both sides or building fails with `.unsupportedExtension`.
public struct ExtrinsicBuilder: Sendable {
    /// The runtime description.
    public let metadata: RuntimeMetadata

    /// A builder for `metadata`.
    /// - Throws: ``SubtensorError`` `.unsupportedMetadata` unless the extrinsic version is 4.
    public init(metadata: RuntimeMetadata) throws(SubtensorError) {
        guard metadata.extrinsic.version == 4 else {
            throw SubtensorError(.unsupportedMetadata, "extrinsic version \(metadata.extrinsic.version); only 4 is built")
        }
        self.metadata = metadata
    }

    /// The explicit (`extra`) and implicit (`additional`) bytes of every extension, in order.
    /// - Throws: ``SubtensorError`` `.unsupportedExtension` for an unknown extension that is not
    ///   zero-sized or a known one of an unexpected shape; `.invalidArgument` for a bad hash length.
    public func extensionBytes(_ parameters: TransactionParameters) throws(SubtensorError) -> (extra: [UInt8], additional: [UInt8]) {
        let registry = metadata.registry
        var extra = ScaleEncoder(), additional = ScaleEncoder()
        func expectZeroSized(_ id: UInt32, _ what: String) throws(SubtensorError) {
            guard try registry.isZeroSized(id) else {
                throw SubtensorError(.unsupportedExtension, "\(what) is expected to be zero-sized but type \(id) is not")
            }
        }
        func hash32(_ bytes: [UInt8], _ what: String) throws(SubtensorError) -> [UInt8] {
            guard bytes.count == 32 else { throw SubtensorError(.invalidArgument, "\(what) must have 32 bytes, got \(bytes.count)") }
            return bytes
        }
        for e in metadata.extrinsic.extensions {
            let name = e.identifier
            switch name {
            case "CheckSpecVersion":
                try expectZeroSized(e.type, name)
                try registry.encodeUnsigned(UInt128(parameters.specVersion), as: e.additionalSigned, into: &additional)
            case "CheckTxVersion":
                try expectZeroSized(e.type, name)
                try registry.encodeUnsigned(UInt128(parameters.transactionVersion), as: e.additionalSigned, into: &additional)
            case "CheckGenesis":
                try expectZeroSized(e.type, name)
                try registry.encode(.bytes(hash32(parameters.genesisHash, "genesis hash")), as: e.additionalSigned, into: &additional)
            case "CheckMortality", "CheckEra":
                guard case .variant = try registry.unwrapped(e.type).definition else {
                    throw SubtensorError(.unsupportedExtension, "\(name) does not carry an Era enum")
                }
                extra.append(parameters.era.encoded)
                try registry.encode(.bytes(hash32(parameters.eraBlockHash, "era block hash")), as: e.additionalSigned, into: &additional)
            case "CheckNonce":
                try registry.encodeUnsigned(UInt128(parameters.nonce), as: e.type, into: &extra)
                try expectZeroSized(e.additionalSigned, name)
            case "ChargeTransactionPayment":
                try registry.encodeUnsigned(parameters.tip, as: e.type, into: &extra)
                try expectZeroSized(e.additionalSigned, name)
            case "ChargeAssetTxPayment":
                // { tip: Compact<Balance>, asset_id: Option<AssetId> } with no asset.
                guard case .composite(let fields) = try registry.type(e.type).definition, fields.count == 2 else {
                    throw SubtensorError(.unsupportedExtension, "\(name) is not { tip, asset_id }")
                }
                try registry.encodeUnsigned(parameters.tip, as: fields[0].type, into: &extra)
                extra.append(UInt8(0))
                try expectZeroSized(e.additionalSigned, name)
            case "CheckMetadataHash":
                guard case .variant(let modes) = try registry.unwrapped(e.type).definition,
                      let disabled = modes.first(where: { $0.name == "Disabled" }), let enabled = modes.first(where: { $0.name == "Enabled" })
                else { throw SubtensorError(.unsupportedExtension, "\(name) does not carry a Mode enum") }
                if let hash = parameters.metadataHash {
                    extra.append(enabled.index)
                    additional.append(UInt8(1))
                    additional.append(try hash32(hash, "metadata hash"))
                } else {
                    extra.append(disabled.index)
                    additional.append(UInt8(0))
                }
            default:
                guard try registry.isZeroSized(e.type), try registry.isZeroSized(e.additionalSigned) else {
                    throw SubtensorError(.unsupportedExtension, "transaction extension \(name) carries data this client cannot fill in")
                }
            }
        }
        return (extra.bytes, additional.bytes)
    }

    /// The bytes a signer signs: `call ‖ extra ‖ additional`, or their BLAKE2b-256 when longer
    /// than 256 bytes.
    /// - Throws: as ``extensionBytes(_:)``.
    public func signingPayload(call: [UInt8], parameters: TransactionParameters) throws(SubtensorError) -> [UInt8] {
        let (extra, additional) = try extensionBytes(parameters)
        let payload = call + extra + additional
        return payload.count > 256 ? SubstrateHash.blake2b256(payload) : payload
    }

    /// The whole signed extrinsic, length-prefixed, ready for `author_submitExtrinsic`.
    /// - Throws: as ``extensionBytes(_:)``.
    public func signedExtrinsic(call: [UInt8], signer: KeyPair, parameters: TransactionParameters) throws(SubtensorError) -> [UInt8] {
        let (extra, additional) = try extensionBytes(parameters)
        var payload = call + extra + additional
        if payload.count > 256 { payload = SubstrateHash.blake2b256(payload) }
        let signature = signer.sign(payload)
        return try assemble(call: call, publicKey: signer.publicKey, scheme: signer.scheme, signature: signature, extra: extra)
    }

    /// Assembles a signed extrinsic from its parts (for signatures made elsewhere).
    /// - Throws: ``SubtensorError`` `.invalidArgument` for a bad key or signature length.
    public func assemble(call: [UInt8], publicKey: [UInt8], scheme: SignatureScheme, signature: [UInt8], extra: [UInt8]) throws(SubtensorError) -> [UInt8] {
        guard publicKey.count == 32, signature.count == 64 else {
            throw SubtensorError(.invalidArgument, "a 32-byte public key and a 64-byte signature are needed")
        }
        var body = ScaleEncoder()
        body.append(UInt8(0x84))  // signed, version 4
        if let index = try addressIdIndex() { body.append(index) }
        body.append(publicKey)
        body.append(try signatureIndex(scheme))
        body.append(signature)
        body.append(extra)
        body.append(call)
        var out = ScaleEncoder()
        out.appendBytes(body.bytes)
        return out.bytes
    }

    /// The type parameter `name` of the V14 extrinsic type (`UncheckedExtrinsic<Address, Call, Signature, Extra>`).
    private func extrinsicParameter(_ name: String) throws(SubtensorError) -> UInt32? {
        guard let type = metadata.extrinsic.type else { return nil }
        return try metadata.registry.type(type).parameters.first(where: { $0.name == name })?.type
    }

    /// The `MultiAddress::Id` variant index, or `nil` if addresses are bare account ids.
    private func addressIdIndex() throws(SubtensorError) -> UInt8? {
        var address = metadata.extrinsic.addressType
        if address == nil { address = try extrinsicParameter("Address") }
        guard let id = address else { return 0 }
        switch try metadata.registry.type(id).definition {
        case .variant(let variants):
            guard let v = variants.first(where: { $0.name == "Id" }) else {
                throw SubtensorError(.unsupportedMetadata, "address type has no Id variant")
            }
            return v.index
        default:
            return nil
        }
    }

    /// The `MultiSignature` variant index of `scheme`.
    private func signatureIndex(_ scheme: SignatureScheme) throws(SubtensorError) -> UInt8 {
        var signature = metadata.extrinsic.signatureType
        if signature == nil { signature = try extrinsicParameter("Signature") }
        guard let id = signature else { return scheme.multiSignatureIndex }
        guard case .variant(let variants) = try metadata.registry.type(id).definition else {
            throw SubtensorError(.unsupportedMetadata, "signature type is not an enum")
        }
        let name = scheme == .ed25519 ? "Ed25519" : "Sr25519"
        guard let v = variants.first(where: { $0.name == name }) else {
            throw SubtensorError(.unsupportedMetadata, "signature type has no \(name) variant")
        }
        return v.index
    }
}
