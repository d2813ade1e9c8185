/// How a tensor is cut into chunks for top-k selection.
///
/// A tensor of shape `[d₀, …, dₙ₋₁]` is viewed as a matrix of `d₀·…·dₙ₋₂` rows and `dₙ₋₁`
/// columns (a 1-D tensor is one row, a scalar one 1×1 matrix). Each side is cut into chunks
/// whose extent is the largest divisor of that side not above the maximum side (64 by
/// default), so chunks tile the matrix exactly. Chunks are numbered row-major over the grid;
/// positions inside a chunk ("local indices") row-major within the chunk.
public struct ChunkGeometry: Hashable, Sendable, Codable {
    /// Rows of the matrix view.
    public let rows: Int
    /// Columns of the matrix view.
    public let columns: Int
    /// Rows per chunk (divides ``rows``).
    public let chunkRows: Int
    /// Columns per chunk (divides ``columns``).
    public let chunkColumns: Int

    /// The geometry of a tensor of `shape` with chunk sides at most `maximumSide`.
    public init(shape: [Int], maximumSide: Int) {
        let columns = shape.last ?? 1
        let rows = shape.count <= 1 ? 1 : shape.dropLast().reduce(1, *)
        self.rows = rows
        self.columns = columns
        self.chunkRows = Self.largestDivisor(of: rows, atMost: maximumSide)
        self.chunkColumns = Self.largestDivisor(of: columns, atMost: maximumSide)
    }

    /// A geometry read from a header, validated.
    /// - Throws: ``CodecError`` `.malformedHeader` unless the chunk sides are positive divisors.
    public init(rows: Int, columns: Int, chunkRows: Int, chunkColumns: Int, tensor: String) throws {
        guard rows >= 0, columns >= 0, chunkRows > 0, chunkColumns > 0,
            chunkRows <= max(rows, 1), chunkColumns <= max(columns, 1), chunkRows <= 65_536, chunkColumns <= 65_536,
            rows % chunkRows == 0, columns % chunkColumns == 0
        else {
            throw CodecError(.malformedHeader, tensor: tensor, "chunk \(chunkRows)×\(chunkColumns) does not tile a \(rows)×\(columns) matrix")
        }
        self.rows = rows
        self.columns = columns
        self.chunkRows = chunkRows
        self.chunkColumns = chunkColumns
    }

    /// The largest divisor of `n` that is at most `limit` (1 for `n` ≤ 1).
    public static func largestDivisor(of n: Int, atMost limit: Int) -> Int {
        guard n > 1 else { return 1 }
        var d = min(n, max(1, limit))
        while n % d != 0 { d -= 1 }
        return d
    }

    /// Elements per chunk.
    public var chunkSize: Int { chunkRows * chunkColumns }
    /// Chunks per row of the chunk grid.
    public var chunksPerRow: Int { columns / chunkColumns }
    /// Number of chunks.
    public var chunkCount: Int { rows == 0 || columns == 0 ? 0 : (rows / chunkRows) * chunksPerRow }
    /// Number of elements.
    public var elementCount: Int { rows * columns }

    /// Row-major offset in the tensor of the first element of `chunk`.
    @inline(__always)
    public func chunkOrigin(_ chunk: Int) -> Int {
        (chunk / chunksPerRow) * chunkRows * columns + (chunk % chunksPerRow) * chunkColumns
    }

    /// Row-major offset in the tensor of local index `local` of `chunk`.
    @inline(__always)
    public func position(chunk: Int, local: Int) -> Int {
        chunkOrigin(chunk) + (local / chunkColumns) * columns + local % chunkColumns
    }

    /// Calls `body` for each run of `chunks` that lies in one band (row of chunks), with the
    /// band and the run's chunk columns.
    @inline(__always)
    func forEachBandRun(_ chunks: Range<Int>, _ body: (_ band: Int, _ columns: Range<Int>) -> Void) {
        let perRow = chunksPerRow
        var chunk = chunks.lowerBound
        while chunk < chunks.upperBound {
            let band = chunk / perRow, first = chunk % perRow
            let end = min(perRow, first + (chunks.upperBound - chunk))
            body(band, first..<end)
            chunk = band * perRow + end
        }
    }

    /// Zeroes the elements of chunks `columns` of `band` row by row (sequential memory; one
    /// contiguous block for a whole band).
    func zeroBand(_ base: UnsafeMutablePointer<Float>, band: Int, columns: Range<Int>) {
        let top = base + band * chunkRows * self.columns + columns.lowerBound * chunkColumns
        let width = columns.count * chunkColumns
        if width == self.columns {
            top.initialize(repeating: 0, count: chunkRows * width)
        } else {
            for r in 0..<chunkRows { (top + r * self.columns).initialize(repeating: 0, count: width) }
        }
    }

    /// Calls `body` with a table of ``chunkSize`` entries: the offset of each local index from
    /// its chunk's origin, (local / chunkColumns) · columns + local mod chunkColumns — a lookup
    /// instead of an integer division per scattered value.
    func withLocalOffsets<R>(_ body: (UnsafePointer<Int>) throws -> R) rethrows -> R {
        let table = UnsafeMutablePointer<Int>.allocate(capacity: max(chunkSize, 1))
        defer { table.deallocate() }
        for r in 0..<chunkRows {
            for c in 0..<chunkColumns { table[r * chunkColumns + c] = r * columns + c }
        }
        return try body(table)
    }
}
