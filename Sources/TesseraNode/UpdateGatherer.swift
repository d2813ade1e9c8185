#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import TesseraCore
public import TesseraCodec
public import TesseraScoring
public import TesseraStorage

/// One peer's upload for one window, after the checks every node applies.
public struct GatheredUpload: Sendable {
    /// The peer.
    public var uid: UID
    /// The verdict: a decoded update, or why there is none.
    public var submission: Submission
    /// The storage server's timestamp of the object, seconds since the epoch.
    public var uploadTime: Double?
    /// The stored size in bytes.
    public var storedBytes: Int?

    /// Creates a record.
    public init(uid: UID, submission: Submission, uploadTime: Double? = nil, storedBytes: Int? = nil) {
        self.uid = uid
        self.submission = submission
        self.uploadTime = uploadTime
        self.storedBytes = storedBytes
    }

    /// The decoded update, if the upload passed every check.
    public var update: SparseUpdate? {
        if case .update(let u) = submission { return u }
        return nil
    }
}

/// Reads peers' uploads from storage and applies the checks a validator and a miner both apply
/// before an update may touch the model:
///
/// 1. the object's **server timestamp** lies in the window's upload interval (early and late
///    objects are never downloaded);
/// 2. its size is within ``DecodeLimits/maximumStoredBytes`` (checked on `HEAD`, and again as
///    the download limit);
/// 3. the wire format parses under the limits against the model's layout;
/// 4. the metadata names this window and this uid (and this hotkey when one is expected);
/// 5. the codec decodes it (indices, counts, finiteness, bounds).
///
/// Storage failures are retried; a peer whose object stays unreadable counts as missing.
public struct UpdateGatherer<Codec: GradientCodec>: Sendable {
    /// The network's codec.
    public let codec: Codec
    /// The model's layout.
    public let layout: ParameterLayout
    /// Bounds on untrusted files.
    public let limits: DecodeLimits
    /// Where uploads live.
    public let keys: ObjectKeyLayout
    /// Attempts per storage call.
    public var attempts = 3

    /// Creates a gatherer.
    public init(codec: Codec, layout: ParameterLayout, limits: DecodeLimits = DecodeLimits(), keys: ObjectKeyLayout = .current) {
        self.codec = codec
        self.layout = layout
        self.limits = limits
        self.keys = keys
    }

    /// Checks raw bytes as if they had been downloaded (used by ``fetch(uid:window:interval:from:expectedHotkey:)``
    /// and by in-process harnesses).
    public func check(_ bytes: [UInt8], uploadTime: Double, uid: UID, window: Window, interval: ClosedRange<Double>,
                      expectedHotkey: String? = nil) -> Submission {
        if uploadTime < interval.lowerBound { return .early }
        if uploadTime > interval.upperBound { return .late }
        do {
            let parsed = try WireFormat.parse(bytes, limits: limits, layout: layout)
            guard parsed.metadata.window == window.rawValue else {
                return .invalid(reason: "metadata names window \(parsed.metadata.window), not \(window)")
            }
            guard parsed.metadata.uid == UInt32(uid.rawValue) else {
                return .invalid(reason: "metadata names uid \(parsed.metadata.uid), not \(uid)")
            }
            if let expectedHotkey, parsed.metadata.hotkey != expectedHotkey {
                return .invalid(reason: "metadata names hotkey \(parsed.metadata.hotkey), not \(expectedHotkey)")
            }
            return .update(try codec.decode(parsed, layout: layout))
        } catch {
            return .invalid(reason: "\(error)")
        }
    }

    /// Fetches and checks `uid`'s upload for `window`.
    public func fetch(uid: UID, window: Window, interval: ClosedRange<Double>, from storage: some StorageBackend,
                      expectedHotkey: String? = nil) async -> GatheredUpload {
        let key = keys.gradient(window: window, uid: uid)
        guard let info = try? await retrying({ try await storage.head(key) }) else {
            return GatheredUpload(uid: uid, submission: .missing)
        }
        let time = info.lastModified.timeIntervalSince1970
        if time < interval.lowerBound { return GatheredUpload(uid: uid, submission: .early, uploadTime: time, storedBytes: info.size) }
        if time > interval.upperBound { return GatheredUpload(uid: uid, submission: .late, uploadTime: time, storedBytes: info.size) }
        guard info.size <= limits.maximumStoredBytes else {
            return GatheredUpload(uid: uid, submission: .invalid(reason: "object is \(info.size) bytes, over the \(limits.maximumStoredBytes)-byte limit"),
                                  uploadTime: time, storedBytes: info.size)
        }
        let got: (info: ObjectInfo, bytes: [UInt8])
        do {
            got = try await retrying { try await storage.get(key, limit: limits.maximumStoredBytes) }
        } catch let error as StorageError where error.code == .sizeLimitExceeded {
            return GatheredUpload(uid: uid, submission: .invalid(reason: "\(error)"), uploadTime: time, storedBytes: info.size)
        } catch {
            return GatheredUpload(uid: uid, submission: .missing, uploadTime: time, storedBytes: info.size)
        }
        // The object may have been replaced between HEAD and GET: the GET's timestamp decides.
        let finalTime = got.info.lastModified.timeIntervalSince1970
        let submission = check(got.bytes, uploadTime: finalTime, uid: uid, window: window, interval: interval, expectedHotkey: expectedHotkey)
        return GatheredUpload(uid: uid, submission: submission, uploadTime: finalTime, storedBytes: got.bytes.count)
    }

    /// Fetches and checks every uid's upload concurrently; the result is in uid order.
    public func fetchAll(_ uids: [UID], window: Window, interval: ClosedRange<Double>, from storage: some StorageBackend,
                         hotkeys: [UID: String] = [:]) async -> [GatheredUpload] {
        await withTaskGroup(of: GatheredUpload.self) { group in
            for uid in Set(uids) {
                group.addTask { await fetch(uid: uid, window: window, interval: interval, from: storage, expectedHotkey: hotkeys[uid]) }
            }
            var out: [GatheredUpload] = []
            for await g in group { out.append(g) }
            return out.sorted { $0.uid < $1.uid }
        }
    }

    private func retrying<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var last: any Error = NodeError(.storage, "no attempt made")
        for attempt in 0..<max(1, attempts) {
            do { return try await body() } catch let error as StorageError where error.code == .sizeLimitExceeded || error.code == .notFound {
                throw error
            } catch {
                last = error
                if attempt + 1 < attempts { try? await Task.sleep(nanoseconds: UInt64(50_000_000) << UInt64(attempt)) }
            }
        }
        throw last
    }
}
