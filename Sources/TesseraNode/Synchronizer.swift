public import TesseraCore
public import TesseraCodec
public import TesseraStorage
public import TesseraChain

/// Reproduces the network's model from storage: the validator's peer lists, the peers'
/// uploads and the checkpoints. Miners use it every window and to catch up; a restarted
/// validator uses it to find where to resume.
public struct Synchronizer<Codec: GradientCodec>: Sendable {
    /// The network's settings.
    public let parameters: NetworkParameters
    /// Checks uploads.
    public let gatherer: UpdateGatherer<Codec>
    /// The aggregation rule every node applies.
    public var aggregator: any Aggregator = MedianNormClippedMean()

    /// Creates a synchronizer.
    public init(parameters: NetworkParameters, gatherer: UpdateGatherer<Codec>) {
        self.parameters = parameters
        self.gatherer = gatherer
    }

    /// The aggregate of `window` from its published peer list, or nil while none is published.
    /// Peers whose uploads cannot be read are left out (and reported by ``GatheredAggregate/used``).
    public func aggregate(window: Window, storage: some StorageBackend, chain: some ChainClient) async throws -> GatheredAggregate? {
        let key = gatherer.keys.peerList(window: window)
        guard try await Retry.run(attempts: 3, { try await storage.head(key) }) != nil else { return nil }
        let bytes = try await Retry.run(attempts: 3) { try await storage.get(key, limit: PeerList.maximumBytes).bytes }
        let list = try PeerList(decoding: bytes, window: window)
        guard !list.peers.isEmpty else { return GatheredAggregate(window: window, peers: [], used: [], aggregate: nil) }
        let interval = try await WindowSchedule.uploadInterval(of: window, parameters: parameters, chain: chain)
        let uploads = await gatherer.fetchAll(list.peers, window: window, interval: interval, from: storage)
        let usable = uploads.compactMap { g in g.update.map { (g.uid, $0) } }
        guard !usable.isEmpty else { return GatheredAggregate(window: window, peers: list.peers, used: [], aggregate: nil) }
        let aggregate = try aggregator.aggregate(usable.map(\.1), layout: gatherer.layout)
        return GatheredAggregate(window: window, peers: list.peers, used: usable.map(\.0), aggregate: aggregate)
    }

    /// The newest model checkpoint strictly before `window`.
    public func latestCheckpoint(before window: Window, storage: some StorageBackend) async throws -> (Window, ParameterSet)? {
        let keys = gatherer.keys
        let objects = try await storage.list(prefix: keys.checkpointPrefix)
        let windows = objects.compactMap { info -> Window? in
            if case .checkpoint(window: let w) = keys.parse(info.key), w < window { return w }
            return nil
        }.sorted(by: >)
        for w in windows {
            // A corrupt checkpoint is skipped in favour of an older one.
            guard let bytes = try? await storage.get(keys.checkpoint(window: w), limit: 1 << 34).bytes,
                  let decoded = try? ModelCheckpoint.decode(bytes, layout: gatherer.layout) else { continue }
            return (decoded.window, decoded.parameters)
        }
        return nil
    }

    /// The network's first window, as the validator published it.
    public func startWindow(storage: some StorageBackend) async throws -> UInt64? {
        guard try await storage.head(gatherer.keys.startWindow) != nil else { return nil }
        let bytes = try await storage.get(gatherer.keys.startWindow, limit: 64).bytes
        return UInt64(String(String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }))
    }
}
