public import TesseraData
public import TesseraScoring
public import TesseraCore

/// Serves a scorer's batches from any `TokenSource`.
public struct TokenSourceBatches: TokenBatchProvider {
    /// The source.
    public let source: any TokenSource
    /// Wraps a source.
    public init(_ source: any TokenSource) { self.source = source }
    /// The batch holding `sampleIDs`, in order.
    public func tokenBatch(_ sampleIDs: [UInt64]) throws -> TokenBatch { try source.batch(sampleIDs) }
}
