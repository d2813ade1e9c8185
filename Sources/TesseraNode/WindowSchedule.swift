public import TesseraCore
public import TesseraChain

/// The chain facts of one window that every node derives the same way (ARCHITECTURE §4).
///
/// - The **seed** is the hash of the window's first block: nobody knows it before that block.
/// - The **upload interval** is [T_min, T_max]: T_min is the timestamp of the next window's
///   first block, T_max = T_min + ``NetworkParameters/uploadWindowSeconds``.
/// - The **reveal block** is the first block whose timestamp is past T_max; its hash seeds the
///   validator's random draw, so no miner knows the evaluation samples while its upload can
///   still change.
public enum WindowSchedule {
    /// The hash of `window`'s first block.
    /// - Throws: the chain's error if that block does not exist yet.
    public static func seed(of window: Window, parameters: NetworkParameters, chain: some ChainClient) async throws -> Digest32 {
        try await chain.block(parameters.firstBlock(of: window)).hash
    }

    /// [T_min, T_max] for uploads of `window`.
    /// - Throws: the chain's error if the next window's first block does not exist yet.
    public static func uploadInterval(of window: Window, parameters: NetworkParameters, chain: some ChainClient) async throws -> ClosedRange<Double> {
        let opens = try await chain.block(parameters.firstBlock(of: Window(rawValue: window.rawValue + 1))).timestamp
        return opens...(opens + parameters.uploadWindowSeconds)
    }

    /// The first block whose timestamp is past `window`'s T_max, or `nil` while the chain has not
    /// produced it.
    public static func revealBlock(of window: Window, parameters: NetworkParameters, chain: some ChainClient) async throws -> BlockInfo? {
        let head = try await chain.head().number
        var n = parameters.firstBlock(of: Window(rawValue: window.rawValue + 1))
        guard n <= head else { return nil }
        let closes = try await uploadInterval(of: window, parameters: parameters, chain: chain).upperBound
        while n <= head {
            let block = try await chain.block(n)
            if block.timestamp > closes { return block }
            n += 1
        }
        return nil
    }

    /// Waits (polling the head every `pollSeconds`) until block `number` exists; returns it.
    /// - Throws: `CancellationError` when the task is cancelled; chain errors are retried.
    public static func waitForBlock(_ number: UInt64, chain: some ChainClient, pollSeconds: Double = 1) async throws -> BlockInfo {
        while true {
            try Task.checkCancellation()
            if let head = try? await chain.head(), head.number >= number {
                if let block = try? await chain.block(number) { return block }
            }
            try await Task.sleep(nanoseconds: UInt64(max(0.01, pollSeconds) * 1e9))
        }
    }
}
