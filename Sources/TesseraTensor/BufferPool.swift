import Synchronization

/// Recycles large tensor buffers by exact size.
///
/// A training step allocates the same large activations and gradients every step; returning
/// them to the operating system and faulting fresh zeroed pages back in costs several percent
/// of a step. Buffers of at least ``minimumPooledBytes`` are kept in per-size free lists up to
/// ``TensorRuntime/bufferPoolLimit`` bytes in total, so memory stays flat after the first step.
final class BufferPool: Sendable {
    static let shared = BufferPool()
    /// Buffers smaller than this go straight to `malloc`, which handles them well.
    static let minimumPooledBytes = 256 << 10

    private struct Pointer: @unchecked Sendable { let raw: UnsafeMutableRawPointer }
    private struct State: ~Copyable {
        var free: [Int: [Pointer]] = [:]
        var cachedBytes = 0
    }
    private let state = Mutex(State())
    let limit = Atomic<Int>(1 << 30)

    func allocate(count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = count * MemoryLayout<Float>.stride
        if bytes >= Self.minimumPooledBytes {
            let reused = state.withLock { s -> Pointer? in
                guard var list = s.free[bytes], let p = list.popLast() else { return nil }
                s.free[bytes] = list.isEmpty ? nil : list
                s.cachedBytes -= bytes
                return p
            }
            if let reused { return reused.raw.assumingMemoryBound(to: Float.self) }
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: count)
    }

    func release(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let bytes = count * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer(pointer)
        if bytes >= Self.minimumPooledBytes {
            let limit = limit.load(ordering: .relaxed)
            let kept = state.withLock { s -> Bool in
                guard s.cachedBytes + bytes <= limit else { return false }
                s.free[bytes, default: []].append(Pointer(raw: raw))
                s.cachedBytes += bytes
                return true
            }
            if kept { return }
        }
        raw.deallocate()
    }

    /// Frees every cached buffer.
    func trim() {
        let pointers = state.withLock { s -> [Pointer] in
            let all = s.free.values.flatMap { $0 }
            s.free = [:]
            s.cachedBytes = 0
            return all
        }
        for p in pointers { p.raw.deallocate() }
    }

    var cachedBytes: Int { state.withLock { $0.cachedBytes } }
}

extension TensorRuntime {
    /// The most bytes of freed tensor buffers kept for reuse (default 1 GiB). Setting a smaller
    /// limit does not free buffers already cached; call ``trimBufferPool()`` for that.
    public static var bufferPoolLimit: Int {
        get { BufferPool.shared.limit.load(ordering: .relaxed) }
        set { BufferPool.shared.limit.store(max(0, newValue), ordering: .relaxed) }
    }

    /// Returns every cached tensor buffer to the system.
    public static func trimBufferPool() { BufferPool.shared.trim() }

    /// Bytes currently held in the buffer pool.
    public static var bufferPoolBytes: Int { BufferPool.shared.cachedBytes }
}
