/// A batch of token sequences for next-token prediction.
///
/// `tokens` holds `batchSize` rows of `sequenceLength + 1` token ids, row-major: the model reads
/// positions `0..<sequenceLength` of each row and predicts positions `1...sequenceLength`.
public struct TokenBatch: Hashable, Sendable {
    /// Number of rows.
    public let batchSize: Int
    /// Number of predicted positions per row (the row holds one more token).
    public let sequenceLength: Int
    /// `batchSize × (sequenceLength + 1)` token ids, row-major.
    public let tokens: [Int32]

    /// Creates a batch.
    /// - Throws: ``CoreError`` `.invalidArgument` if a size is not positive, `.shapeMismatch` if
    ///   `tokens.count != batchSize × (sequenceLength + 1)`, or `.invalidArgument` if a token is negative.
    public init(batchSize: Int, sequenceLength: Int, tokens: [Int32]) throws {
        guard batchSize > 0, sequenceLength > 0 else {
            throw CoreError(.invalidArgument, "token batch needs batchSize > 0 and sequenceLength > 0, got \(batchSize) and \(sequenceLength)")
        }
        // Overflow-checked: sizes near Int.max must throw, not trap (also in the message).
        let (rowLength, rowOverflow) = sequenceLength.addingReportingOverflow(1)
        let (rowProduct, productOverflow) = batchSize.multipliedReportingOverflow(by: rowLength)
        guard !rowOverflow, !productOverflow, tokens.count == rowProduct else {
            let needed = rowOverflow || productOverflow ? "more than \(Int.max)" : "\(rowProduct)"
            throw CoreError(.shapeMismatch, "token batch of \(batchSize) rows of \(sequenceLength) + 1 tokens needs \(needed) tokens, got \(tokens.count)")
        }
        if let bad = tokens.firstIndex(where: { $0 < 0 }) {
            throw CoreError(.invalidArgument, "token at flat index \(bad) is negative (\(tokens[bad]))")
        }
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.tokens = tokens
    }

    /// The input ids, `batchSize × sequenceLength`, row-major.
    public var inputs: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(batchSize * sequenceLength)
        for b in 0..<batchSize {
            let row = b * (sequenceLength + 1)
            out.append(contentsOf: tokens[row..<(row + sequenceLength)])
        }
        return out
    }

    /// The target ids, `batchSize × sequenceLength`, row-major (inputs shifted by one).
    public var targets: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(batchSize * sequenceLength)
        for b in 0..<batchSize {
            let row = b * (sequenceLength + 1) + 1
            out.append(contentsOf: tokens[row..<(row + sequenceLength)])
        }
        return out
    }

    /// The largest token id in the batch.
    public var maximumToken: Int32 { tokens.max() ?? 0 }
}
