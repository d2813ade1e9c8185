public import TesseraCore
public import TesseraCodec

/// Detects copied updates by the overlap of their selected positions.
///
/// The overlap of update A with B is `Σ_t w_t · |I_A,t ∩ I_B,t| / |I_A,t|` where I are the
/// selected (chunk, index) positions of tensor t and `w_t` is t's share of all parameters.
/// Independent honest updates overlap little (k of a chunk's positions are chosen; related
/// gradients raise that modestly); a copy — rescaled, or with noise added — keeps the victim's
/// positions and overlaps almost fully. Of a pair over the threshold, the **later uploader by
/// the storage server's timestamp** is the offender.
public struct CopyDetector: Hashable, Sendable, Codable {
    /// Overlap at which a peer is penalized (Templar: 0.4).
    public var threshold: Double

    /// Creates a detector.
    public init(threshold: Double = 0.4) { self.threshold = threshold }

    /// The overlap of `a`'s positions with `b`'s (0…1).
    public static func overlap(_ a: SparseUpdate, _ b: SparseUpdate) -> Double {
        let total = a.tensors.reduce(0) { $0 + $1.geometry.elementCount }
        guard total > 0, a.tensors.count == b.tensors.count else { return 0 }
        var result = 0.0
        for (ta, tb) in zip(a.tensors, b.tensors) {
            guard ta.geometry == tb.geometry, ta.k == tb.k, !ta.indices.isEmpty else { continue }
            var shared = 0
            let k = ta.k
            for chunk in 0..<ta.geometry.chunkCount {
                var i = chunk * k, j = chunk * k
                let end = chunk * k + k
                while i < end && j < end {
                    if ta.indices[i] == tb.indices[j] { shared += 1; i += 1; j += 1 }
                    else if ta.indices[i] < tb.indices[j] { i += 1 } else { j += 1 }
                }
            }
            result += Double(ta.geometry.elementCount) / Double(total) * Double(shared) / Double(ta.indices.count)
        }
        return result
    }

    /// For every peer that copied, the peer it copied from and the overlap. Peers are compared in
    /// uid order; ties in upload time go against the higher uid.
    public func offenders(_ updates: [(uid: UID, update: SparseUpdate, uploadTime: Double)]) -> [UID: (source: UID, overlap: Double)] {
        let sorted = updates.sorted { ($0.uid) < ($1.uid) }
        var result: [UID: (source: UID, overlap: Double)] = [:]
        for i in 0..<sorted.count {
            for j in (i + 1)..<max(i + 1, sorted.count) {
                let a = sorted[i], b = sorted[j]
                // Symmetric: both sides keep k per chunk of the same geometry, so |I_A| = |I_B|.
                let o = Self.overlap(a.update, b.update)
                guard o >= threshold else { continue }
                let later = (b.uploadTime, b.uid.rawValue) > (a.uploadTime, a.uid.rawValue) ? b : a
                let earlier = later.uid == b.uid ? a : b
                if let existing = result[later.uid], existing.overlap >= o { continue }
                result[later.uid] = (earlier.uid, o)
            }
        }
        return result
    }
}
