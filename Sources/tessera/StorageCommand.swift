import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import TesseraS3
import TesseraStorage
#if canImport(Glibc)
import Glibc
#endif

/// Where objects are: an S3-compatible bucket (`--endpoint` and `--bucket`) or a directory (`--dir`).
struct StorageOptions: ParsableArguments {
    @Option(help: "S3-compatible endpoint, e.g. https://ACCOUNT.r2.cloudflarestorage.com or http://127.0.0.1:8333.")
    var endpoint: String?
    @Option(help: "Bucket name (with --endpoint).") var bucket: String?
    @Option(help: "Signing region (R2: auto).") var region: String = "us-east-1"
    @Option(help: "Addressing: path or virtual.") var addressing: String = "path"
    @Option(help: "Access key id (default: $AWS_ACCESS_KEY_ID).") var accessKeyId: String?
    @Option(help: "Secret access key (default: $AWS_SECRET_ACCESS_KEY).") var secretAccessKey: String?
    @Option(help: "Objects of at least this many MiB are uploaded in parts.") var multipartThresholdMib: Int = 64
    @Option(help: "Part size in MiB for multipart uploads.") var partSizeMib: Int = 16
    @Option(help: "Parts uploaded at once.") var concurrency: Int = 4
    @Option(help: "Without --endpoint: the directory of a filesystem store.") var dir: String?

    func validate() throws {
        if endpoint == nil, dir == nil {
            throw ValidationError("give --endpoint URL --bucket NAME for S3, or --dir PATH for a directory")
        }
        if endpoint != nil, dir != nil { throw ValidationError("--endpoint and --dir are exclusive") }
        if endpoint != nil, bucket == nil { throw ValidationError("--endpoint needs --bucket") }
        guard ["path", "virtual"].contains(addressing) else { throw ValidationError("--addressing must be path or virtual") }
        guard multipartThresholdMib > 0, partSizeMib >= 5, concurrency > 0 else {
            throw ValidationError("--multipart-threshold-mib and --concurrency must be positive, --part-size-mib at least 5")
        }
    }

    /// The configured backend.
    func makeStorage() throws -> any StorageBackend {
        guard let endpoint, let bucket else { return try FileSystemStorage(root: dir!) }
        let environment = S3Credentials.fromEnvironment()
        guard let id = accessKeyId ?? environment?.accessKeyID, let secret = secretAccessKey ?? environment?.secretAccessKey else {
            throw CLIError("credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --access-key-id and --secret-access-key")
        }
        var configuration = try S3Configuration(
            endpoint: endpoint, bucket: bucket, region: region,
            credentials: S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: environment?.sessionToken),
            addressing: addressing == "virtual" ? .virtualHosted : .path)
        configuration.multipartThreshold = multipartThresholdMib << 20
        configuration.partSize = partSizeMib << 20
        configuration.multipartConcurrency = concurrency
        return try S3Storage(configuration: configuration)
    }
}

struct StorageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Put, get, list and remove objects in an S3-compatible bucket or a directory.",
        discussion: """
            Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) \
            or --access-key-id / --secret-access-key. Failures exit non-zero with the service's \
            error code, e.g. `StorageError.accessDenied [key] (AccessDenied, HTTP 403, …)`.
            """,
        subcommands: [Put.self, Get.self, List.self, Remove.self, Bench.self])

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload a file as KEY.")
        @Argument(help: "Object key, e.g. v1/gradient/42/7.") var key: String
        @Option(help: "The file to upload.") var file: String
        @OptionGroup var storage: StorageOptions

        func run() throws {
            let backend = try storage.makeStorage()
            let objectKey = try ObjectKey(key)
            let bytes = try readObjectFile(file)
            let info = try runAsync { try await backend.put(objectKey, bytes) }
            print("\(info.key.rawValue)\t\(info.size)\t\(formatDate(info.lastModified))\t\(info.etag)")
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download KEY to a file ('-' for standard output).")
        @Argument(help: "Object key.") var key: String
        @Option(help: "Where to write the object.") var out: String
        @Option(help: "Refuse objects larger than this many bytes.") var limit: Int = 4 << 30
        @OptionGroup var storage: StorageOptions

        func run() throws {
            let backend = try storage.makeStorage()
            let objectKey = try ObjectKey(key)
            let limit = limit
            let (_, bytes) = try runAsync { try await backend.get(objectKey, limit: limit) }
            try writeObjectFile(out, bytes)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List objects under PREFIX: key, size in bytes and last-modified time, tab-separated.")
        @Argument(help: "Key prefix (empty lists everything).") var prefix: String = ""
        @Option(help: "Refuse listings longer than this.") var limit: Int = 1_000_000
        @OptionGroup var storage: StorageOptions

        func run() throws {
            let backend = try storage.makeStorage()
            let prefix = prefix, limit = limit
            let objects = try runAsync { try await backend.list(prefix: prefix, limit: limit) }
            for object in objects {
                print("\(object.key.rawValue)\t\(object.size)\t\(formatDate(object.lastModified))")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete KEY (succeeds if it does not exist).")
        @Argument(help: "Object key.") var key: String
        @OptionGroup var storage: StorageOptions

        func run() throws {
            let backend = try storage.makeStorage()
            let objectKey = try ObjectKey(key)
            try runAsync { try await backend.delete(objectKey) }
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time one put and one get of a random object in memory; prints JSON (release builds only).")
        @Option(help: "Object size in MiB.") var sizeMib: Int = 256
        @Option(help: "Object key.") var key: String = "bench/object"
        @OptionGroup var storage: StorageOptions

        func run() throws {
            guard sizeMib > 0 else { throw ValidationError("--size-mib must be positive") }
            let backend = try storage.makeStorage()
            let objectKey = try ObjectKey(key)
            var bytes = [UInt8](repeating: 0, count: sizeMib << 20)
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            bytes.withUnsafeMutableBytes { buffer in
                let words = buffer.bindMemory(to: UInt64.self)
                for index in words.indices {
                    state &+= 0x9E37_79B9_7F4A_7C15
                    var z = state
                    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                    words[index] = z ^ (z >> 31)
                }
            }
            let payload = bytes
            bytes = []
            let size = payload.count
            let t0 = now()
            _ = try runAsync { try await backend.put(objectKey, payload) }
            let t1 = now()
            let (_, read) = try runAsync { try await backend.get(objectKey, limit: size) }
            let t2 = now()
            guard read == payload else { throw CLIError("the object read back differs from the one written") }
            try runAsync { try await backend.delete(objectKey) }
            let megabytes = Double(size) / 1e6
            printJSON([
                "peer": "tessera", "bytes": size,
                "put_s": ((t1 - t0) * 1000).rounded() / 1000, "put_mb_per_s": (megabytes / (t1 - t0) * 10).rounded() / 10,
                "get_s": ((t2 - t1) * 1000).rounded() / 1000, "get_mb_per_s": (megabytes / (t2 - t1) * 10).rounded() / 10,
                "peak_rss_mib": (peakResidentMemoryMiB() * 10).rounded() / 10,
            ])
        }
    }
}

/// Runs async storage work from a synchronous command (the root command is synchronous), and
/// turns storage errors into messages that carry the service's code.
@discardableResult
func runAsync<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let outcome = Mutex<Result<T, any Error>?>(nil)
    Task.detached {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        outcome.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    switch outcome.withLock({ $0 })! {
    case .success(let value): return value
    case .failure(let error as StorageError): throw CLIError("\(error)")
    case .failure(let error): throw error
    }
}

/// ISO 8601 UTC with seconds.
fileprivate func formatDate(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
}

/// Reads a whole file into one array (no intermediate `Data` copy).
fileprivate func readObjectFile(_ path: String) throws -> [UInt8] {
    let fd = path == "-" ? dup(0) : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CLIError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw CLIError("cannot stat \(path)") }
    if (status.st_mode & S_IFMT) == S_IFREG {
        let size = Int(status.st_size)
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var offset = 0
            while offset < size {
                let got = read(fd, buffer.baseAddress! + offset, size - offset)
                if got < 0 { if errno == EINTR { continue }; failure = errno; break }
                if got == 0 { break }
                offset += got
            }
            count = offset
        }
        guard failure == 0 else { throw CLIError("cannot read \(path): \(String(cString: strerror(failure)))") }
        guard bytes.count == size else { throw CLIError("\(path) changed size while being read") }
        return bytes
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let got = read(fd, &chunk, chunk.count)
        if got < 0 { if errno == EINTR { continue }; throw CLIError("cannot read \(path): \(String(cString: strerror(errno)))") }
        if got == 0 { break }
        bytes += chunk[0..<got]
    }
    return bytes
}

/// Writes an array to a file ('-' for standard output) without an intermediate copy.
fileprivate func writeObjectFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = path == "-" ? dup(1) : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CLIError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    try bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }
}
