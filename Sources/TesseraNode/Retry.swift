/// Retries transient failures with exponential back-off.
public enum Retry {
    /// Runs `body` up to `attempts` times, sleeping `baseDelay · 2^i` seconds between attempts;
    /// rethrows the last error. Cancellation is never retried.
    @discardableResult
    public static func run<T: Sendable>(attempts: Int, baseDelay: Double = 0.05, _ body: () async throws -> T) async throws -> T {
        var last: any Error = NodeError(.invalidConfiguration, "no attempt made")
        for attempt in 0..<max(1, attempts) {
            do { return try await body() } catch is CancellationError {
                throw CancellationError()
            } catch {
                last = error
                if attempt + 1 < attempts {
                    try await Task.sleep(nanoseconds: UInt64(max(0, baseDelay) * Double(1 << min(attempt, 10)) * 1e9))
                }
            }
        }
        throw last
    }
}
