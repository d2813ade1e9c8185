import TesseraCore

/// The heap storage behind a ``Tensor``: a 64-byte aligned buffer of `Float`.
/// Not `Sendable` on its own; ``Tensor`` makes sharing safe by copy-on-write.
@usableFromInline
final class TensorStorage {
    @usableFromInline let count: Int
    @usableFromInline let base: UnsafeMutablePointer<Float>

    @usableFromInline
    init(uninitializedCount count: Int) {
        self.count = count
        base = BufferPool.shared.allocate(count: max(1, count))
    }

    @inline(never)
    func copy() -> TensorStorage {
        let other = TensorStorage(uninitializedCount: count)
        other.base.update(from: base, count: count)
        return other
    }

    deinit { BufferPool.shared.release(base, count: max(1, count)) }
}

/// A dense, row-major, copy-on-write array of `Float` with a shape.
///
/// `Tensor` is a value: copies share storage until one of them is mutated, like `Array` or
/// NIO's `ByteBuffer`. Operations that only reinterpret the shape (``reshaped(to:)``) never copy;
/// every other operation returns a new contiguous tensor. Matrix products go through
/// `cblas_sgemm`; large elementwise loops are split across cores.
///
/// Shape errors throw ``TensorError`` with `.shapeMismatch` naming the operation and dimension.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    /// The extent of each dimension, outermost first. A scalar has shape `[]`.
    public let shape: [Int]
    @usableFromInline var storage: TensorStorage

    @usableFromInline
    init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
    }

    /// An uninitialized tensor; the caller must write every element.
    @usableFromInline
    init(uninitializedShape shape: [Int]) {
        self.shape = shape
        self.storage = TensorStorage(uninitializedCount: Shape.elementCount(shape) ?? 0)
    }

    /// A tensor filled with `value`.
    /// - Throws: ``TensorError`` `.invalidArgument` if a dimension is negative or the size overflows.
    public init(repeating value: Float, shape: [Int]) throws {
        let count = try Tensor.validatedCount(shape)
        self.init(shape: shape, storage: TensorStorage(uninitializedCount: count))
        storage.base.initialize(repeating: value, count: count)
    }

    /// A tensor of zeros.
    /// - Throws: ``TensorError`` `.invalidArgument` for a negative or overflowing shape.
    public init(zeros shape: [Int]) throws { try self.init(repeating: 0, shape: shape) }

    /// A tensor holding `scalars` in row-major order.
    /// - Throws: ``TensorError`` `.shapeMismatch` if `scalars.count` is not the product of `shape`.
    public init(shape: [Int], scalars: [Float]) throws {
        let count = try Tensor.validatedCount(shape)
        guard scalars.count == count else {
            throw TensorError(.shapeMismatch, "shape \(Shape.describe(shape)) needs \(count) scalars, got \(scalars.count)")
        }
        self.init(shape: shape, storage: TensorStorage(uninitializedCount: count))
        scalars.withUnsafeBufferPointer { storage.base.update(from: $0.baseAddress!, count: count) }
    }

    /// A rank-0 tensor holding `value`.
    public init(scalar value: Float) {
        self.init(shape: [], storage: TensorStorage(uninitializedCount: 1))
        storage.base.initialize(to: value)
    }

    /// A tensor of independent normal variates drawn from `generator`, in row-major order.
    /// - Throws: ``TensorError`` `.invalidArgument` for a negative or overflowing shape.
    public init<G: RandomNumberGenerator>(
        randomNormal shape: [Int], mean: Float = 0, standardDeviation: Float = 1, using generator: inout G
    ) throws {
        let count = try Tensor.validatedCount(shape)
        try self.init(
            shape: shape,
            scalars: generator.normalFloats(count: count, mean: mean, standardDeviation: standardDeviation))
    }

    static func validatedCount(_ shape: [Int]) throws -> Int {
        guard let count = Shape.elementCount(shape) else {
            throw TensorError(.invalidArgument, "invalid shape \(Shape.describe(shape))")
        }
        return count
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The number of elements.
    public var scalarCount: Int { storage.count }
    /// A copy of the elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: storage.count)) }
    /// The single element of a one-element tensor (e.g. a loss).
    public var scalarValue: Float? { storage.count == 1 ? storage.base[0] : nil }

    /// The element at a multi-dimensional index, or `nil` if the index is out of range.
    public func scalar(at index: [Int]) -> Float? {
        guard index.count == shape.count else { return nil }
        var flat = 0
        for (i, n) in zip(index, shape) {
            guard i >= 0, i < n else { return nil }
            flat = flat * n + i
        }
        return storage.base[flat]
    }

    /// Calls `body` with the elements, read-only.
    @inlinable
    public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    /// Calls `body` with the elements, writable; copies the storage first if it is shared.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
    }

    @usableFromInline
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// Read-only base pointer (internal: kernels).
    @usableFromInline var base: UnsafePointer<Float> { UnsafePointer(storage.base) }

    /// The same elements with another shape of equal element count; never copies.
    /// One dimension may be `-1` and is inferred.
    /// - Throws: ``TensorError`` `.shapeMismatch` if the counts differ.
    public func reshaped(to newShape: [Int]) throws -> Tensor {
        var target = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element)
            guard let knownCount = Shape.elementCount(known), knownCount > 0, scalarCount % knownCount == 0,
                newShape.filter({ $0 == -1 }).count == 1
            else {
                throw TensorError(.shapeMismatch, "reshape: cannot infer -1 in \(Shape.describe(newShape)) for \(scalarCount) elements of \(Shape.describe(shape))")
            }
            target[inferred] = scalarCount / knownCount
        }
        guard let count = Shape.elementCount(target), count == scalarCount else {
            throw TensorError(.shapeMismatch, "reshape: \(Shape.describe(shape)) (\(scalarCount) elements) cannot become \(Shape.describe(newShape))")
        }
        return Tensor(shape: target, storage: storage)
    }

    public var description: String {
        let preview = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(\(Shape.describe(shape)), [\(preview)\(scalarCount > 8 ? ", …" : "")])"
    }
}
