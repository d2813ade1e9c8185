public import Tessera

/// Trains on its own slice and uploads on time.
public struct HonestMiner: MinerStrategy {
    public let role = "honest"
    /// Creates the strategy.
    public init() {}
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        let delta = try c.pseudoGradient(trainingOn: c.slice.sampleIDs)
        return Upload(bytes: try c.encode(delta, metadata: c.metadata(sampleIDs: c.slice.sampleIDs)), uploadTime: c.onTime)
    }
}

/// Honest work with NaN and infinity written into the values (an attempt to poison the aggregate).
public struct NonFiniteInjector: MinerStrategy {
    public let role = "nan-injector"
    /// Creates the strategy.
    public init() {}
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        let delta = try c.pseudoGradient(trainingOn: c.slice.sampleIDs)
        var compressed = try c.codec.encode(delta, metadata: c.metadata(sampleIDs: c.slice.sampleIDs)).compressed
        for t in compressed.tensors.indices {
            if compressed.tensors[t].quantization.lookup.isEmpty {
                compressed.tensors[t].quantization.scale = .nan
            } else {
                compressed.tensors[t].quantization.lookup[0] = .nan
                compressed.tensors[t].quantization.lookup[1] = .infinity
            }
        }
        return Upload(bytes: try WireFormat.serialize(compressed), uploadTime: c.onTime)
    }
}

/// Honest work scaled up enormously (an attempt to dominate the aggregate).
public struct HugeNormMiner: MinerStrategy {
    public let role = "huge-norm"
    /// The scale factor.
    public var factor: Float
    /// Creates the strategy.
    public init(factor: Float = 500) { self.factor = factor }
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        var delta = try c.pseudoGradient(trainingOn: c.slice.sampleIDs)
        delta.scale(by: factor)
        return Upload(bytes: try c.encode(delta, metadata: c.metadata(sampleIDs: c.slice.sampleIDs)), uploadTime: c.onTime)
    }
}

/// Uploads an all-zero update (no work).
public struct ZeroMiner: MinerStrategy {
    public let role = "zero"
    /// Creates the strategy.
    public init() {}
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        let zeros = ParameterSet(zerosLike: c.model.parameters.layout)
        return Upload(bytes: try c.encode(zeros, metadata: c.metadata(sampleIDs: c.slice.sampleIDs)), uploadTime: c.onTime)
    }
}

/// Uploads Gaussian noise with the norm of honest work (no work, plausible-looking).
public struct NoiseMiner: MinerStrategy {
    public let role = "noise"
    var generator: Xoshiro256StarStar
    /// Creates the strategy.
    public init(seed: UInt64 = 11) { generator = Xoshiro256StarStar(seed: seed) }
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        let layout = c.model.parameters.layout
        let noise = try ParameterSet(layout: layout, scalars: generator.normalFloats(count: layout.scalarCount, standardDeviation: 1e-3))
        return Upload(bytes: try c.encode(noise, metadata: c.metadata(sampleIDs: c.slice.sampleIDs)), uploadTime: c.onTime)
    }
}

/// Honest work with the sign flipped (pushes the model uphill).
public struct SignFlipMiner: MinerStrategy {
    public let role = "sign-flip"
    /// Creates the strategy.
    public init() {}
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        var delta = try c.pseudoGradient(trainingOn: c.slice.sampleIDs)
        delta.scale(by: -1)
        return Upload(bytes: try c.encode(delta, metadata: c.metadata(sampleIDs: c.slice.sampleIDs)), uploadTime: c.onTime)
    }
}

/// Downloads a victim's upload (read keys are public), rewrites the metadata as its own, and
/// uploads it a little later.
public struct ExactCopier: MinerStrategy {
    public let role = "copier"
    /// The uid copied.
    public var victim: UID
    /// Creates the strategy.
    public init(victim: UID) { self.victim = victim }
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        guard let source = c.visibleUploads[victim], var update = try? WireFormat.parse(source.bytes) else { return nil }
        update.metadata = c.metadata(sampleIDs: c.slice.sampleIDs)
        return Upload(bytes: try WireFormat.serialize(update), uploadTime: source.uploadTime + 1)
    }
}

/// Copies a victim's update, rescales it and adds small noise before re-encoding, to dodge an
/// exact-match check.
public struct ScaledNoisyCopier: MinerStrategy {
    public let role = "scaled-noisy-copier"
    /// The uid copied.
    public var victim: UID
    var generator: Xoshiro256StarStar
    /// Creates the strategy.
    public init(victim: UID, seed: UInt64 = 12) {
        self.victim = victim
        generator = Xoshiro256StarStar(seed: seed)
    }
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        guard let source = c.visibleUploads[victim], let update = try? WireFormat.parse(source.bytes) else { return nil }
        let layout = c.model.parameters.layout
        var dense = try c.codec.decode(update, layout: layout).dense(layout: layout)
        dense.scale(by: 1.7)
        let scale = Float(dense.norm() / Double(max(dense.scalarCount, 1)).squareRoot())
        let noise = try ParameterSet(layout: layout, scalars: generator.normalFloats(count: layout.scalarCount, standardDeviation: 0.05 * scale))
        try dense.axpy(1, noise)
        return Upload(bytes: try c.encode(dense, metadata: c.metadata(sampleIDs: c.slice.sampleIDs)), uploadTime: source.uploadTime + 2)
    }
}

/// Honest for a few windows to build a rating, then stops working.
public struct FreeRider: MinerStrategy {
    public let role = "free-rider"
    /// Windows of honest work before stopping.
    public var honestWindows: Int
    var seen = 0
    /// Creates the strategy.
    public init(honestWindows: Int = 3) { self.honestWindows = honestWindows }
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        seen += 1
        guard seen <= honestWindows else { return nil }
        var honest = HonestMiner()
        return try honest.upload(c)
    }
}

/// Honest work uploaded after the window closed (it saw others' uploads first).
public struct LateUploader: MinerStrategy {
    public let role = "late"
    /// Creates the strategy.
    public init() {}
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        var honest = HonestMiner()
        guard var u = try honest.upload(c) else { return nil }
        u.uploadTime = c.uploadWindow.upperBound + 5
        return u
    }
}

/// Honest work uploaded before the window opened.
public struct EarlyUploader: MinerStrategy {
    public let role = "early"
    /// Creates the strategy.
    public init() {}
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        var honest = HonestMiner()
        guard var u = try honest.upload(c) else { return nil }
        u.uploadTime = c.uploadWindow.lowerBound - 5
        return u
    }
}

/// Works once, then keeps re-uploading that first update in later windows.
public struct ReplayMiner: MinerStrategy {
    public let role = "replay"
    var first: [UInt8]?
    /// Creates the strategy.
    public init() {}
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        if let first { return Upload(bytes: first, uploadTime: c.onTime) }
        var honest = HonestMiner()
        let u = try honest.upload(c)
        first = u?.bytes
        return u
    }
}

/// Does real work, but on data it was not assigned (cheaper data, or precomputed work).
public struct WrongDataMiner: MinerStrategy {
    public let role = "wrong-data"
    /// Creates the strategy.
    public init() {}
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        // Always the same fixed samples, whatever the slice says.
        let ids = (0..<UInt64(c.slice.sampleIDs.count)).map { $0 * 7 % UInt64(c.data.sampleCount) }
        let delta = try c.pseudoGradient(trainingOn: ids)
        return Upload(bytes: try c.encode(delta, metadata: c.metadata(sampleIDs: c.slice.sampleIDs)), uploadTime: c.onTime)
    }
}

/// Packs duplicate indices into a chunk to vote twice (accepted by Templar's decoder).
public struct DuplicateIndexPacker: MinerStrategy {
    public let role = "duplicate-index"
    /// Creates the strategy.
    public init() {}
    public mutating func upload(_ c: MinerContext) throws -> Upload? {
        let delta = try c.pseudoGradient(trainingOn: c.slice.sampleIDs)
        var compressed = try c.codec.encode(delta, metadata: c.metadata(sampleIDs: c.slice.sampleIDs)).compressed
        // Rewrite the largest tensor's indices as 12-bit values with the first index repeated.
        guard let t = compressed.tensors.indices.max(by: { compressed.tensors[$0].keptCount < compressed.tensors[$1].keptCount }) else { return nil }
        let kept = compressed.tensors[t].keptCount
        var indices = [UInt8]()
        var i = 0
        while i < kept {
            indices += [0, 0, 0]  // index 0 twice in every pair: duplicates within each chunk
            i += 2
        }
        compressed.tensors[t].indexBytes = indices
        compressed.tensors[t].indexCoding = .packed12
        compressed.tensors[t].riceParameter = 0
        return Upload(bytes: try WireFormat.serialize(compressed), uploadTime: c.onTime)
    }
}

/// The whole zoo, one of each adversary (copiers copy `victim`).
public func adversaryZoo(victim: UID) -> [any MinerStrategy] {
    [NonFiniteInjector(), HugeNormMiner(), ZeroMiner(), NoiseMiner(), SignFlipMiner(), ExactCopier(victim: victim),
     ScaledNoisyCopier(victim: victim), FreeRider(), LateUploader(), EarlyUploader(), ReplayMiner(), WrongDataMiner(),
     DuplicateIndexPacker()]
}

/// The zoo adversary whose ``MinerStrategy/role`` is `role` (copiers copy `victim`), or nil.
public func adversary(named role: String, victim: UID) -> (any MinerStrategy)? {
    adversaryZoo(victim: victim).first { $0.role == role }
}
