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
}

/// The result of encoding: what goes on the wire, and what it decodes to.
public struct EncodedUpdate: Sendable {
    /// The compressed update (serialize it with ``WireFormat``).
    public var compressed: CompressedUpdate
    /// Exactly what a receiver decodes from ``compressed``.
    public var transmitted: SparseUpdate
}
