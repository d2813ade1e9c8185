#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
import Synchronization

/// A source of wall-clock time, injected wherever a component stamps or compares dates.
///
/// The standard library's `Clock` measures durations between instants of its own; this protocol
/// answers "what date is it", which is what a store's `lastModified` needs. The simulator drives
/// a ``ManualWallClock``; production code uses ``SystemWallClock``.
public protocol WallClock: Sendable {
    /// The current date by this clock.
    func now() -> Date
}

/// The operating system's clock.
public struct SystemWallClock: WallClock {
    /// Creates the system clock.
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that moves only when told to: for tests and the simulator.
public final class ManualWallClock: WallClock {
    private let current: Mutex<Date>

    /// Creates a clock showing `start`.
    public init(_ start: Date) {
        current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    /// Moves the clock forward (or backward, for a negative interval) by `seconds`.
    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    /// Sets the clock to `date`.
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}
