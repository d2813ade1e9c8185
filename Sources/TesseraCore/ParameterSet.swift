/// The name, shape and position of one tensor inside a ``ParameterSet``.
public struct ParameterDescriptor: Hashable, Sendable, Codable {
    /// The tensor's name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public let name: String
    /// The tensor's shape, row-major.
    public let shape: [Int]
    /// The tensor's first element in the flat buffer.
    public let offset: Int
    /// The number of elements (product of ``shape``).
    public let count: Int

    /// The range of the tensor's elements in the flat buffer.
    public var range: Range<Int> { offset..<(offset + count) }
}

/// The ordered list of named tensor shapes that a ``ParameterSet`` holds: what two parties must
/// agree on before they can exchange parameters or updates.
public struct ParameterLayout: Hashable, Sendable, Codable {
    /// The tensors in order.
    public let descriptors: [ParameterDescriptor]
    /// Total number of scalars.
    public let scalarCount: Int
    private let indexByName: [String: Int]

    /// Creates a layout from `(name, shape)` pairs, packing the tensors back to back.
    /// - Throws: ``CoreError`` `.duplicateName` or `.invalidArgument` (negative or overflowing shape).
    public init(_ entries: [(name: String, shape: [Int])]) throws {
        var descriptors: [ParameterDescriptor] = []
        descriptors.reserveCapacity(entries.count)
        var index: [String: Int] = [:]
        var offset = 0
        for (name, shape) in entries {
            guard index[name] == nil else {
                throw CoreError(.duplicateName, "parameter '\(name)' occurs twice")
            }
            guard let count = Shape.elementCount(shape) else {
                throw CoreError(.invalidArgument, "parameter '\(name)' has an invalid shape \(Shape.describe(shape))")
            }
            let (end, overflow) = offset.addingReportingOverflow(count)
            guard !overflow else { throw CoreError(.invalidArgument, "parameter set is too large") }
            index[name] = descriptors.count
            descriptors.append(ParameterDescriptor(name: name, shape: shape, offset: offset, count: count))
            offset = end
        }
        self.descriptors = descriptors
        self.scalarCount = offset
        self.indexByName = index
    }

    /// The tensor names in order.
    public var names: [String] { descriptors.map(\.name) }

    /// The descriptor named `name`, if any.
    public subscript(name: String) -> ParameterDescriptor? {
        indexByName[name].map { descriptors[$0] }
    }

    private enum CodingKeys: String, CodingKey { case tensors }
    private struct Entry: Codable { var name: String; var shape: [Int] }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let entries = try container.decode([Entry].self, forKey: .tensors)
        try self.init(entries.map { ($0.name, $0.shape) })
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(descriptors.map { Entry(name: $0.name, shape: $0.shape) }, forKey: .tensors)
    }

    public static func == (lhs: ParameterLayout, rhs: ParameterLayout) -> Bool {
        lhs.descriptors == rhs.descriptors
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(descriptors) }
}

/// An ordered set of named float32 tensors stored in one flat, copy-on-write buffer.
///
/// Model weights, gradients, optimizer moments and pseudo-gradients are all `ParameterSet`s with
/// the same ``layout``, so vector arithmetic (``axpy(_:_:)``, ``scale(by:)``, ``dot(_:)``) runs
/// over one contiguous buffer, and a codec or optimizer can see every scalar through
/// ``withUnsafeBufferPointer(_:)`` without a copy.
///
/// Reductions (``dot(_:)``, ``squaredNorm()``) accumulate in `Double` in a fixed order, so every
/// machine computes the same bits for the same inputs.
public struct ParameterSet: Sendable, Equatable {
    /// Names, shapes and offsets of the tensors.
    public let layout: ParameterLayout
    /// Every scalar, tensor after tensor in layout order.
    public private(set) var scalars: [Float]

    /// A set of zeros with the given layout (zero-filled in parallel for large sets).
    public init(zerosLike layout: ParameterLayout) {
        self.layout = layout
        let n = layout.scalarCount
        self.scalars = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            if let base = buffer.baseAddress {
                MemoryAdvice.preferHugePages(UnsafeMutableRawPointer(base), byteCount: n * 4)
                ParallelLoop.forEachRange(count: n, minimumChunk: 1 << 18) { range in
                    (base + range.lowerBound).initialize(repeating: 0, count: range.count)
                }
            }
            initialized = n
        }
    }

    /// A set whose scalars `initializer` writes; it must initialize every element of the buffer.
    public init(layout: ParameterLayout, initializingWith initializer: (UnsafeMutableBufferPointer<Float>) -> Void) {
        self.layout = layout
        self.scalars = [Float](unsafeUninitializedCapacity: layout.scalarCount) { buffer, initialized in
            if let base = buffer.baseAddress {
                MemoryAdvice.preferHugePages(UnsafeMutableRawPointer(base), byteCount: buffer.count * 4)
            }
            initializer(buffer)
            initialized = layout.scalarCount
        }
    }

    /// A set with the given layout and scalars.
    /// - Throws: ``CoreError`` `.shapeMismatch` if `scalars.count` differs from the layout's.
    public init(layout: ParameterLayout, scalars: [Float]) throws {
        guard scalars.count == layout.scalarCount else {
            throw CoreError(.shapeMismatch, "layout has \(layout.scalarCount) scalars, got \(scalars.count)")
        }
        self.layout = layout
        self.scalars = scalars
    }

    /// A set built from named tensors, in the order given.
    /// - Throws: ``CoreError`` if a name repeats or a tensor's scalar count does not match its shape.
    public init(_ tensors: [(name: String, shape: [Int], scalars: [Float])]) throws {
        let layout = try ParameterLayout(tensors.map { ($0.name, $0.shape) })
        var flat: [Float] = []
        flat.reserveCapacity(layout.scalarCount)
        for (descriptor, tensor) in zip(layout.descriptors, tensors) {
            guard tensor.scalars.count == descriptor.count else {
                throw CoreError(
                    .shapeMismatch,
                    "tensor '\(descriptor.name)' has shape \(Shape.describe(descriptor.shape)) (\(descriptor.count) scalars) but \(tensor.scalars.count) scalars were given")
            }
            flat.append(contentsOf: tensor.scalars)
        }
        self.layout = layout
        self.scalars = flat
    }

    /// The number of tensors.
    public var count: Int { layout.descriptors.count }
    /// The total number of scalars.
    public var scalarCount: Int { layout.scalarCount }

    /// A copy of the tensor named `name`'s scalars, or `nil` if there is none.
    public subscript(name: String) -> [Float]? {
        guard let descriptor = layout[name] else { return nil }
        return Array(scalars[descriptor.range])
    }

    /// Calls `body` with the whole flat buffer, read-only, without copying.
    public func withUnsafeBufferPointer<R, E: Error>(
        _ body: (UnsafeBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        try scalars.withUnsafeBufferPointer { (buffer) throws(E) -> R in try body(buffer) }
    }

    /// Calls `body` with the whole flat buffer, writable, without copying (after copy-on-write).
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        try scalars.withUnsafeMutableBufferPointer { (buffer) throws(E) -> R in try body(buffer) }
    }

    /// Calls `body` with the scalars of the tensor named `name`, read-only, without copying.
    /// - Throws: ``CoreError`` `.unknownName`, or what `body` throws.
    public func withTensor<R>(
        named name: String, _ body: (UnsafeBufferPointer<Float>, ParameterDescriptor) throws -> R
    ) throws -> R {
        guard let descriptor = layout[name] else {
            throw CoreError(.unknownName, "no parameter named '\(name)'")
        }
        return try scalars.withUnsafeBufferPointer { buffer in
            try body(UnsafeBufferPointer(rebasing: buffer[descriptor.range]), descriptor)
        }
    }

    /// Calls `body` with the scalars of the tensor named `name`, writable, without copying.
    /// - Throws: ``CoreError`` `.unknownName`, or what `body` throws.
    public mutating func withMutableTensor<R>(
        named name: String, _ body: (UnsafeMutableBufferPointer<Float>, ParameterDescriptor) throws -> R
    ) throws -> R {
        guard let descriptor = layout[name] else {
            throw CoreError(.unknownName, "no parameter named '\(name)'")
        }
        return try scalars.withUnsafeMutableBufferPointer { buffer in
            try body(UnsafeMutableBufferPointer(rebasing: buffer[descriptor.range]), descriptor)
        }
    }

    /// Replaces the scalars of the tensor named `name`.
    /// - Throws: ``CoreError`` `.unknownName` or `.shapeMismatch`.
    public mutating func setTensor(named name: String, to values: [Float]) throws {
        guard let descriptor = layout[name] else {
            throw CoreError(.unknownName, "no parameter named '\(name)'")
        }
        guard values.count == descriptor.count else {
            throw CoreError(
                .shapeMismatch,
                "tensor '\(name)' has shape \(Shape.describe(descriptor.shape)) (\(descriptor.count) scalars), got \(values.count)")
        }
        scalars.replaceSubrange(descriptor.range, with: values)
    }

    private func requireSameLayout(_ other: ParameterSet, _ operation: String) throws {
        guard layout == other.layout else {
            let mismatch = zip(layout.descriptors, other.layout.descriptors).first { $0.0 != $0.1 }
            let detail = mismatch.map {
                "first difference: '\($0.0.name)' \(Shape.describe($0.0.shape)) vs '\($0.1.name)' \(Shape.describe($0.1.shape))"
            } ?? "\(count) vs \(other.count) tensors"
            throw CoreError(.layoutMismatch, "\(operation): parameter layouts differ (\(detail))")
        }
    }

    /// `self ← self + alpha · x`.
    /// - Throws: ``CoreError`` `.layoutMismatch` if the layouts differ.
    /// - Complexity: O(n), split across cores for large sets.
    public mutating func axpy(_ alpha: Float, _ x: ParameterSet) throws {
        try requireSameLayout(x, "axpy")
        let n = scalarCount
        x.scalars.withUnsafeBufferPointer { xs in
            scalars.withUnsafeMutableBufferPointer { ys in
                let xb = xs.baseAddress!, yb = ys.baseAddress!
                ParallelLoop.forEachRange(count: n, minimumChunk: 1 << 16) { range in
                    for i in range { yb[i] += alpha * xb[i] }
                }
            }
        }
    }

    /// `self ← alpha · self`.
    /// - Complexity: O(n).
    public mutating func scale(by alpha: Float) {
        let n = scalarCount
        scalars.withUnsafeMutableBufferPointer { ys in
            guard let yb = ys.baseAddress else { return }
            ParallelLoop.forEachRange(count: n, minimumChunk: 1 << 16) { range in
                for i in range { yb[i] *= alpha }
            }
        }
    }

    /// The dot product with `other`, accumulated in `Double` in a fixed order (deterministic).
    /// - Throws: ``CoreError`` `.layoutMismatch` if the layouts differ.
    /// - Complexity: O(n).
    public func dot(_ other: ParameterSet) throws -> Double {
        try requireSameLayout(other, "dot")
        return scalars.withUnsafeBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                DeterministicSum.dot(a, b)
            }
        }
    }

    /// The sum of squares of every scalar, accumulated in `Double` in a fixed order.
    public func squaredNorm() -> Double {
        scalars.withUnsafeBufferPointer { DeterministicSum.dot($0, $0) }
    }

    /// The Euclidean norm of every scalar together.
    public func norm() -> Double { squaredNorm().squareRoot() }

    /// Whether every scalar is finite (no NaN or infinity).
    /// - Complexity: O(n), vectorized (``FiniteScan``).
    public var isFinite: Bool {
        scalars.withUnsafeBufferPointer { FiniteScan.allFinite($0) }
    }
}

/// Fast finiteness checks over float buffers.
public enum FiniteScan {
    /// Whether every value is finite (no NaN or infinity).
    /// - Complexity: O(n), vectorized: x − x is 0 for finite x and NaN otherwise, so one sum
    ///   of differences tells.
    public static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let p = values.baseAddress else { return true }
        let n = values.count
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            acc += v - v
            i += 8
        }
        var tail: Float = 0
        while i < n {
            tail += p[i] - p[i]
            i += 1
        }
        return (acc.sum() + tail) == 0
    }

    /// The index of the first NaN or infinity in `values`, if any.
    public static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
        allFinite(values) ? nil : values.firstIndex { !$0.isFinite }
    }
}

/// Reductions with a fixed order of additions, so two machines get the same bits.
public enum DeterministicSum {
    /// Σ aᵢ·bᵢ in `Double`, eight interleaved partial sums combined pairwise.
    /// - Precondition: `a.count == b.count` (checked; the shorter length is used otherwise).
    public static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
        let n = min(a.count, b.count)
        guard n > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        var acc = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let x = SIMD8<Double>(
                Double(pa[i]), Double(pa[i + 1]), Double(pa[i + 2]), Double(pa[i + 3]),
                Double(pa[i + 4]), Double(pa[i + 5]), Double(pa[i + 6]), Double(pa[i + 7]))
            let y = SIMD8<Double>(
                Double(pb[i]), Double(pb[i + 1]), Double(pb[i + 2]), Double(pb[i + 3]),
                Double(pb[i + 4]), Double(pb[i + 5]), Double(pb[i + 6]), Double(pb[i + 7]))
            acc += x * y
            i += 8
        }
        var tail = 0.0
        while i < n {
            tail += Double(pa[i]) * Double(pb[i])
            i += 1
        }
        let s4 = acc.lowHalf + acc.highHalf
        let s2 = s4.lowHalf + s4.highHalf
        return (s2[0] + s2[1]) + tail
    }

    /// Σ aᵢ in `Double`, in the same fixed order as ``dot(_:_:)``.
    public static func sum(_ a: UnsafeBufferPointer<Float>) -> Double {
        let n = a.count
        guard n > 0, let pa = a.baseAddress else { return 0 }
        var acc = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            acc += SIMD8<Double>(
                Double(pa[i]), Double(pa[i + 1]), Double(pa[i + 2]), Double(pa[i + 3]),
                Double(pa[i + 4]), Double(pa[i + 5]), Double(pa[i + 6]), Double(pa[i + 7]))
            i += 8
        }
        var tail = 0.0
        while i < n {
            tail += Double(pa[i])
            i += 1
        }
        let s4 = acc.lowHalf + acc.highHalf
        let s2 = s4.lowHalf + s4.highHalf
        return (s2[0] + s2[1]) + tail
    }
}
