public import TesseraCore

/// Compresses a parameter-shaped update for the wire and reverses it.
///
/// Contract: ``encode(_:metadata:)`` is a pure function of its inputs (same values, same bytes),
/// and returns with the compressed form the exact values the receiver will decode, so an
/// error-feedback optimizer can subtract what was really transmitted. ``decode(_:layout:)``
/// accepts only updates made with this codec's settings for `layout` and throws
/// ``CodecError`` for anything else — it is the gate for untrusted peers.
public protocol GradientCodec: Sendable {
    /// Compresses `values`.
    /// - Throws: ``CodecError`` `.nonFiniteInput` if a kept value is NaN or infinite.
    func encode(_ values: ParameterSet, metadata: UpdateMetadata) throws -> EncodedUpdate
    /// Checks and expands a compressed update made for `layout`.
    /// - Throws: ``CodecError`` naming the tensor and the reason.
    func decode(_ update: CompressedUpdate, layout: ParameterLayout) throws -> SparseUpdate
    /// Checks and expands a compressed update straight to its dense form: the result of
    /// ``decode(_:layout:)`` followed by ``SparseUpdate/dense(layout:)``, and the same error on a
    /// bad update. A codec may do it in one pass (``ChunkedTopKCodec`` does).
    /// - Throws: ``CodecError`` as ``decode(_:layout:)``.
    func decodeDense(_ update: CompressedUpdate, layout: ParameterLayout) throws -> ParameterSet
}

extension GradientCodec {
    /// Decodes, then expands: ``decode(_:layout:)`` followed by ``SparseUpdate/dense(layout:)``.
    public func decodeDense(_ update: CompressedUpdate, layout: ParameterLayout) throws -> ParameterSet {
        try decode(update, layout: layout).dense(layout: layout)
    }
}

/// The result of encoding: what goes on the wire, and what it decodes to.
public struct EncodedUpdate: Sendable {
    /// The compressed update (serialize it with ``WireFormat``).
    public var compressed: CompressedUpdate
    /// Exactly what a receiver decodes from ``compressed``.
    public var transmitted: SparseUpdate
}
