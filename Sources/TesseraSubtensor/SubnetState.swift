public import TesseraChain
import TesseraCore

/// The result of the runtime API `SubnetInfoRuntimeApi_get_subnet_state(netuid)`: per-uid
/// columns of one subnet. Stakes are in rao (10⁻⁹ of a token); `u16` ratios (incentive,
/// dividends, …) are raw, 65,535 meaning 1.
///
/// Layout (Option of a struct; every number is `Compact`): netuid, hotkeys `Vec<[u8;32]>`,
/// coldkeys, active `Vec<bool>`, validator_permit `Vec<bool>`, pruning_score, last_update,
/// emission, dividends, incentives, consensus, trust, rank, block_at_registration,
/// alpha_stake, tao_stake, total_stake, emission_history `Vec<Vec<Compact<u64>>>`. The test
/// suite checks this order against the field names in the V15 metadata.
public struct SubnetState: Sendable, Hashable {
    /// The subnet.
    public var netuid: UInt16
    /// Hotkey public keys by uid.
    public var hotkeys: [[UInt8]]
    /// Coldkey public keys by uid.
    public var coldkeys: [[UInt8]]
    /// Whether each uid is active.
    public var active: [Bool]
    /// Whether each uid holds a validator permit.
    public var validatorPermit: [Bool]
    /// Pruning scores (u16).
    public var pruningScore: [UInt16]
    /// Block of each uid's last weight update.
    public var lastUpdate: [UInt64]
    /// Emission per uid (rao).
    public var emission: [UInt64]
    /// Dividends (u16 ratio).
    public var dividends: [UInt16]
    /// Incentive (u16 ratio).
    public var incentives: [UInt16]
    /// Consensus (u16 ratio).
    public var consensus: [UInt16]
    /// Trust (u16 ratio).
    public var trust: [UInt16]
    /// Rank (u16 ratio).
    public var rank: [UInt16]
    /// Registration block of each uid.
    public var blockAtRegistration: [UInt64]
    /// Alpha stake (rao).
    public var alphaStake: [UInt64]
    /// TAO stake (rao).
    public var taoStake: [UInt64]
    /// Total stake (rao).
    public var totalStake: [UInt64]
    /// Recent emission per subnet and uid.
    public var emissionHistory: [[UInt64]]

    /// Decodes the runtime API's SCALE result (`Option<SubnetState>`) with the fixed layout
    /// above — for runtimes whose metadata (V14) does not describe runtime APIs; the client
    /// prefers ``decode(_:as:in:)`` whenever the metadata has the method.
    /// - Returns: `nil` when the subnet does not exist (`None`).
    /// - Throws: ``SubtensorError`` `.malformedSCALE` for truncated or inconsistent input
    ///   (columns of different lengths, trailing bytes).
    /// - Complexity: O(n) in the input size.
    public static func decode(_ bytes: [UInt8]) throws(SubtensorError) -> SubnetState? {
        var d = ScaleDecoder(bytes)
        let state = try d.readOption { (d: inout ScaleDecoder) throws(SubtensorError) in try SubnetState(from: &d) }
        try d.expectEnd("SubnetState")
        return state
    }

    /// Decodes the runtime API's result as the runtime's own metadata describes it: `output`
    /// is the method's return type (`Option<SubnetState>`) in `registry`, the struct is read
    /// field by field through the type registry and the columns are picked by field name, so a
    /// runtime that reorders, adds or re-types fields (fixed instead of compact integers, a
    /// `NetUid` or `AccountId32` wrapper) still decodes. Fields this type does not hold are
    /// skipped; a missing required field is an error.
    /// - Returns: `nil` when the subnet does not exist (`None`).
    /// - Throws: ``SubtensorError`` `.malformedSCALE` for truncated or inconsistent input,
    ///   `.unsupportedMetadata` when the output type is not an option of a struct with the
    ///   columns above.
    public static func decode(_ bytes: [UInt8], as output: UInt32, in registry: TypeRegistry) throws(SubtensorError) -> SubnetState? {
        guard case .variant(let variants) = try registry.type(output).definition,
              let none = variants.first(where: { $0.name == "None" }), none.fields.isEmpty,
              let some = variants.first(where: { $0.name == "Some" }), some.fields.count == 1,
              case .composite(let fields) = try registry.type(some.fields[0].type).definition
        else { throw SubtensorError(.unsupportedMetadata, "get_subnet_state does not return Option<struct>") }
        var d = ScaleDecoder(bytes)
        let tag = try d.readByte()
        if tag == none.index { try d.expectEnd("SubnetState"); return nil }
        guard tag == some.index else { throw scaleError("option tag \(tag) in the subnet state") }
        var columns: [String: ScaleValue] = [:]
        for field in fields {
            let value = try registry.decode(field.type, from: &d)
            if let name = field.name { columns[name] = value }
        }
        try d.expectEnd("SubnetState")
        return try SubnetState(columns: columns)
    }

    private init(columns: [String: ScaleValue]) throws(SubtensorError) {
        func column(_ name: String) throws(SubtensorError) -> ScaleValue {
            guard let value = columns[name] else { throw SubtensorError(.unsupportedMetadata, "the subnet state has no field \(name)") }
            return value
        }
        func items(_ name: String) throws(SubtensorError) -> [ScaleValue] {
            guard case .sequence(let items) = Self.unwrap(try column(name)) else { throw scaleError("subnet state field \(name) is not a sequence") }
            return items
        }
        func integer<T: FixedWidthInteger>(_ value: ScaleValue, _ name: String) throws(SubtensorError) -> T {
            guard case .unsigned(let v) = Self.unwrap(value), let fitted = T(exactly: v) else {
                throw scaleError("subnet state field \(name) holds \(value), not a \(T.self)")
            }
            return fitted
        }
        func integers<T: FixedWidthInteger>(_ name: String) throws(SubtensorError) -> [T] {
            var out: [T] = []
            for item in try items(name) { out.append(try integer(item, name)) }
            return out
        }
        func keys(_ name: String) throws(SubtensorError) -> [[UInt8]] {
            var out: [[UInt8]] = []
            for item in try items(name) {
                guard case .bytes(let key) = Self.unwrap(item), key.count == 32 else { throw scaleError("subnet state field \(name) holds a non-32-byte key") }
                out.append(key)
            }
            return out
        }
        func bools(_ name: String) throws(SubtensorError) -> [Bool] {
            var out: [Bool] = []
            for item in try items(name) {
                guard case .bool(let b) = Self.unwrap(item) else { throw scaleError("subnet state field \(name) holds a non-bool") }
                out.append(b)
            }
            return out
        }
        netuid = try integer(try column("netuid"), "netuid")
        hotkeys = try keys("hotkeys")
        coldkeys = try keys("coldkeys")
        active = try bools("active")
        validatorPermit = try bools("validator_permit")
        pruningScore = try integers("pruning_score")
        lastUpdate = try integers("last_update")
        emission = try integers("emission")
        dividends = try integers("dividends")
        incentives = try integers("incentives")
        consensus = try integers("consensus")
        trust = try integers("trust")
        rank = try integers("rank")
        blockAtRegistration = try integers("block_at_registration")
        alphaStake = try integers("alpha_stake")
        taoStake = try integers("tao_stake")
        totalStake = try integers("total_stake")
        var history: [[UInt64]] = []
        for row in try items("emission_history") {
            guard case .sequence(let values) = Self.unwrap(row) else { throw scaleError("emission_history holds a non-sequence") }
            var out: [UInt64] = []
            for value in values { out.append(try integer(value, "emission_history")) }
            history.append(out)
        }
        emissionHistory = history
        try checkColumns()
    }

    /// Strips single-field wrappers (`NetUid(u16)`, `AccountId32([u8; 32])`, `Compact<T>`
    /// newtypes) down to the value they hold.
    private static func unwrap(_ value: ScaleValue) -> ScaleValue {
        var current = value
        while case .composite(let fields) = current, fields.count == 1 { current = fields[0] }
        return current
    }

    private func checkColumns() throws(SubtensorError) {
        let n = hotkeys.count
        let columns: [(String, Int)] = [
            ("coldkeys", coldkeys.count), ("active", active.count), ("validator_permit", validatorPermit.count),
            ("incentives", incentives.count), ("total_stake", totalStake.count),
        ]
        if let bad = columns.first(where: { $0.1 != n }) {
            throw scaleError("subnet state has \(n) hotkeys but \(bad.1) \(bad.0)")
        }
    }

    private init(from d: inout ScaleDecoder) throws(SubtensorError) {
        func keys(_ d: inout ScaleDecoder) throws(SubtensorError) -> [[UInt8]] {
            try d.readVector(minimumItemSize: 32) { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readBytes(32) }
        }
        func bools(_ d: inout ScaleDecoder) throws(SubtensorError) -> [Bool] {
            try d.readVector { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readBool() }
        }
        func u16s(_ d: inout ScaleDecoder) throws(SubtensorError) -> [UInt16] {
            try d.readVector { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readCompact(UInt16.self) }
        }
        func u64s(_ d: inout ScaleDecoder) throws(SubtensorError) -> [UInt64] {
            try d.readVector { (d: inout ScaleDecoder) throws(SubtensorError) in try d.readCompact(UInt64.self) }
        }
        netuid = try d.readCompact()
        hotkeys = try keys(&d)
        coldkeys = try keys(&d)
        active = try bools(&d)
        validatorPermit = try bools(&d)
        pruningScore = try u16s(&d)
        lastUpdate = try u64s(&d)
        emission = try u64s(&d)
        dividends = try u16s(&d)
        incentives = try u16s(&d)
        consensus = try u16s(&d)
        trust = try u16s(&d)
        rank = try u16s(&d)
        blockAtRegistration = try u64s(&d)
        alphaStake = try u64s(&d)
        taoStake = try u64s(&d)
        totalStake = try u64s(&d)
        emissionHistory = try d.readVector { (d: inout ScaleDecoder) throws(SubtensorError) in try u64s(&d) }
        try checkColumns()
    }

    /// The metagraph: uid, hotkey (SS58 with `ss58Prefix`), total stake in tokens
    /// (rao / 10⁹), incentive as a fraction (u16 / 65,535) and validator permit.
    /// - Parameters:
    ///   - block: The block the state was read at.
    ///   - ss58Prefix: The network's SS58 prefix (42 on Bittensor).
    /// - Throws: ``SubtensorError`` `.malformedSCALE` if there are more than 65,536 uids.
    public func metagraph(block: UInt64, ss58Prefix: UInt16 = SS58.bittensorPrefix) throws(SubtensorError) -> Metagraph {
        guard hotkeys.count <= 1 << 16 else { throw scaleError("\(hotkeys.count) uids exceed the u16 range") }
        var neurons: [Neuron] = []
        neurons.reserveCapacity(hotkeys.count)
        for uid in 0..<hotkeys.count {
            neurons.append(Neuron(
                uid: UID(rawValue: UInt16(uid)),
                hotkey: Hotkey(rawValue: SS58.encode(hotkeys[uid], prefix: ss58Prefix)),
                stake: Double(totalStake[uid]) / 1e9,
                incentive: Double(incentives[uid]) / 65_535,
                validatorPermit: validatorPermit[uid]))
        }
        return Metagraph(netuid: netuid, block: block, neurons: neurons)
    }
}
