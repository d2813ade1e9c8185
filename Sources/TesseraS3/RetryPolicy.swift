/// When and how long ``S3Storage`` waits before trying a failed request again.
///
/// Only failures that another attempt can fix are retried: connection errors and timeouts,
/// HTTP 5xx, throttling (503 `SlowDown`, 429) and S3's `RequestTimeout`. Authentication and
/// authorization failures, missing objects and other 4xx answers fail at once.
///
/// Delays grow exponentially with *equal jitter*: before retry *n* (1-based) the wait is drawn
/// uniformly from [c/2, c] where c = min(``maximumDelay``, ``initialDelay`` × 2ⁿ⁻¹), so
/// clients that failed together do not retry together, yet each wait is at least half its cap.
/// A server's `Retry-After` raises the wait (up to ``maximumDelay``).
public struct RetryPolicy: Hashable, Sendable {
    /// Attempts in all, the first included (1 = never retry).
    public var maximumAttempts: Int
    /// The cap of the first retry's wait, in seconds.
    public var initialDelay: Double
    /// The largest wait, in seconds.
    public var maximumDelay: Double

    /// Creates a policy.
    /// - Precondition-free: out-of-range values are clamped (attempts ≥ 1, delays ≥ 0,
    ///   maximum ≥ initial).
    public init(maximumAttempts: Int = 8, initialDelay: Double = 0.25, maximumDelay: Double = 10) {
        self.maximumAttempts = max(1, maximumAttempts)
        self.initialDelay = max(0, initialDelay.isFinite ? initialDelay : 0)
        self.maximumDelay = max(self.initialDelay, maximumDelay.isFinite ? maximumDelay : self.initialDelay)
    }

    /// Never retry.
    public static let none = RetryPolicy(maximumAttempts: 1)

    /// The wait before retry number `retry` (1 for the first retry).
    /// - Parameters:
    ///   - retry: Which retry (≥ 1).
    ///   - retryAfter: The server's `Retry-After`, in seconds, if it sent one.
    ///   - generator: The source of jitter.
    /// - Returns: Seconds to wait, in [cap/2, cap] (or the server's value, capped).
    public func delay(beforeRetry retry: Int, retryAfter: Double? = nil, using generator: inout some RandomNumberGenerator) -> Double {
        let exponent = Double(max(0, min(retry - 1, 62)))
        let cap = min(maximumDelay, initialDelay * pow2(exponent))
        var wait = cap > 0 ? Double.random(in: (cap / 2)...cap, using: &generator) : 0
        if let retryAfter, retryAfter.isFinite, retryAfter > wait {
            wait = min(retryAfter, maximumDelay)
        }
        return wait
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= 2; if result > 1e12 { break } }
        return result
    }
}
