import Dispatch
import Foundation
import Logging
import Synchronization
import Testing
import TesseraCore
import TesseraS3
import TesseraStorage
#if canImport(Glibc)
import Glibc
#endif

// Shared helpers for the storage tests: seeded bytes, temporary directories, error expectations,
// a recording log handler, and access to the SeaweedFS server that scripts/test.sh starts.

/// `count` seeded pseudo-random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = Xoshiro256StarStar(seed: seed)
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { buffer in
        var index = 0
        while index < count {
            var word = generator.next()
            for _ in 0..<min(8, count - index) {
                buffer[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
    }
    return bytes
}

/// A key; throws (failing the test, never trapping) if the text is invalid.
func key(_ text: String) throws -> ObjectKey {
    try ObjectKey(text)
}

/// Runs `body` and checks it throws a ``StorageError`` with `code` (and `s3Code` if given).
@discardableResult
func expectStorageError<T>(
    _ code: StorageError.Code, s3Code: S3ErrorCode? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> StorageError? {
    do {
        let value = try await body()
        Issue.record("expected StorageError.\(code), got a value: \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as StorageError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        if let s3Code {
            #expect(error.s3Code == s3Code, "\(error)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected StorageError.\(code), got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A fresh directory under the system's temporary directory, removed by `cleanup()`.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() throws {
        let base = NSTemporaryDirectory() + "tessera-storage-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A log handler that keeps every message and can react to one (used to act at an exact point
/// of an upload, e.g. kill the server after part 2).
final class RecordingLogHandler: LogHandler, Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])
    private let onLog: (@Sendable (Record) -> Void)?

    init(onLog: (@Sendable (Record) -> Void)? = nil) {
        self.onLog = onLog
    }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        var flat: [String: String] = [:]
        for (key, value) in event.metadata ?? [:] { flat[key] = "\(value)" }
        let record = Record(level: event.level, message: "\(event.message)", metadata: flat)
        records.withLock { $0.append(record) }
        onLog?(record)
    }

    /// Messages logged so far equal to `message`.
    func count(_ message: String) -> Int {
        records.withLock { $0.filter { $0.message == message }.count }
    }

    var all: [Record] { records.withLock { $0 } }

    /// A logger writing here.
    func logger() -> Logger {
        Logger(label: "tessera.s3.test", factory: { _ in self })
    }
}

/// The SeaweedFS server started by scripts/test.sh (scripts/seaweedfs.sh), described by the
/// `TESSERA_S3_*` environment variables.
enum SeaweedFS {
    static let environment = ProcessInfo.processInfo.environment

    /// True when scripts/test.sh exported a server. Plain `swift test` has none, and the
    /// integration suite is then disabled with that reason (never silently passed).
    static let isAvailable: Bool = ["TESSERA_S3_ENDPOINT", "TESSERA_S3_BUCKET", "TESSERA_S3_WRITER_KEY",
                                    "TESSERA_S3_WRITER_SECRET", "TESSERA_S3_READER_KEY", "TESSERA_S3_READER_SECRET"]
        .allSatisfy { !(environment[$0] ?? "").isEmpty }

    static var endpoint: String { environment["TESSERA_S3_ENDPOINT"] ?? "" }
    static var bucket: String { environment["TESSERA_S3_BUCKET"] ?? "" }
    static var region: String { environment["TESSERA_S3_REGION"] ?? "us-east-1" }
    static var writer: S3Credentials {
        S3Credentials(accessKeyID: environment["TESSERA_S3_WRITER_KEY"] ?? "", secretAccessKey: environment["TESSERA_S3_WRITER_SECRET"] ?? "")
    }
    static var reader: S3Credentials {
        S3Credentials(accessKeyID: environment["TESSERA_S3_READER_KEY"] ?? "", secretAccessKey: environment["TESSERA_S3_READER_SECRET"] ?? "")
    }

    /// A configuration for the test bucket; `adjust` lowers thresholds, sets retries, etc.
    static func configuration(_ credentials: S3Credentials = writer, adjust: (inout S3Configuration) -> Void = { _ in }) throws -> S3Configuration {
        var configuration = try S3Configuration(endpoint: endpoint, bucket: bucket, region: region, credentials: credentials)
        adjust(&configuration)
        return configuration
    }

    /// Whether the restart tests can control the server.
    static var canControl: Bool {
        !(environment["TESSERA_S3_CONTROL"] ?? "").isEmpty && !(environment["TESSERA_S3_STATE_DIR"] ?? "").isEmpty
    }

    /// Runs `scripts/seaweedfs.sh COMMAND STATE_DIR` (kill, resume, restart, stop) and waits for it.
    static func control(_ command: String) throws {
        let status = try Subprocess.spawn("/bin/bash", controlArguments(command)).wait()
        guard status == 0 else {
            throw StorageError(.unavailable, "seaweedfs.sh \(command) exited with \(status)")
        }
    }

    /// Starts `scripts/seaweedfs.sh COMMAND STATE_DIR` without waiting.
    static func launchControl(_ command: String) throws -> Subprocess {
        try Subprocess.spawn("/bin/bash", controlArguments(command))
    }

    private static func controlArguments(_ command: String) -> [String] {
        [environment["TESSERA_S3_CONTROL"] ?? "", command, environment["TESSERA_S3_STATE_DIR"] ?? ""]
    }

    /// A prefix no other test or earlier run uses.
    static func uniquePrefix(_ name: String) -> String {
        "it/\(name)/\(UUID().uuidString.lowercased())/"
    }
}

/// A child process started with `posix_spawn` and reaped with `waitpid`. (Foundation's
/// `Process` on Linux can miss a child's exit when the child leaves a daemon behind, as
/// `seaweedfs.sh resume` does, and then waits forever.)
final class Subprocess: Sendable {
    let pid: pid_t

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `executable` with `arguments`; standard output and error go to the given files
    /// (or are inherited).
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                      standardOutput: String? = nil, standardError: String? = nil) throws -> Subprocess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardOutput {
            posix_spawn_file_actions_addopen(&actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        if let standardError {
            posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let variables = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in variables { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, variables)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        return Subprocess(pid: pid)
    }

    /// Blocks until the process exits; returns its exit status (128 + signal if killed).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        if status & 0x7F == 0 { return (status >> 8) & 0xFF }
        return 128 + (status & 0x7F)
    }

    /// Waits without holding a Swift concurrency thread.
    func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: self.wait()) }
        }
    }
}

/// Runs an executable to completion and returns its exit status, standard output and error.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: String, error: String) {
    let base = NSTemporaryDirectory() + "tessera-run-" + UUID().uuidString
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    let process = try Subprocess.spawn(executable, arguments, environment: environment, standardOutput: base + ".out", standardError: base + ".err")
    let status = await process.exitStatus()
    let output = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
    let error = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
    return (status, output, error)
}

/// The absolute path of an executable on PATH, or nil.
func which(_ name: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let candidate = String(directory) + "/" + name
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
