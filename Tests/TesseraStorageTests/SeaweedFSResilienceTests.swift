import Foundation
import Synchronization
import Testing
import TesseraS3
import TesseraStorage

// Server restarts and interoperability, in the same serialized suite as the other SeaweedFS
// tests (a restart must not overlap another test's requests).
extension SeaweedFSIntegrationTests {
    /// A retry budget that spans a restart (`weed` needs about 4 s to serve again).
    static let patientRetries = RetryPolicy(maximumAttempts: 40, initialDelay: 0.2, maximumDelay: 1.5)

    /// Runs `body`, then makes sure the server is up again whatever happened.
    func restoringServer(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            try? SeaweedFS.control("resume")
            throw error
        }
        try SeaweedFS.control("resume")
    }

    @Test("a put and a get issued while the server is down complete once it is back")
    func requestsAcrossRestart() async throws {
        try #require(SeaweedFS.canControl, "TESSERA_S3_CONTROL and TESSERA_S3_STATE_DIR are exported by scripts/test.sh")
        let storage = try writer { $0.retry = Self.patientRetries }
        let prefix = SeaweedFS.uniquePrefix("restart")
        let existing = try key(prefix + "existing"), fresh = try key(prefix + "fresh")
        let old = randomBytes(3 << 20, seed: 100), new = randomBytes(2 << 20, seed: 101)
        _ = try await storage.put(existing, old)
        try await restoringServer {
            try SeaweedFS.control("kill")
            async let put = storage.put(fresh, new)
            async let get = storage.get(existing, limit: old.count)
            try await Task.sleep(for: .seconds(1))
            let resume = try SeaweedFS.launchControl("resume")
            let (written, read) = try await (put, get)
            #expect(await resume.exitStatus() == 0)
            #expect(written.size == new.count)
            #expect(read.bytes == old)
        }
        #expect(try await storage.get(fresh, limit: new.count).bytes == new)
    }

    @Test("the server killed after part 2 of a multipart upload: retries finish it, whole")
    func multipartAcrossRestart() async throws {
        try #require(SeaweedFS.canControl, "TESSERA_S3_CONTROL and TESSERA_S3_STATE_DIR are exported by scripts/test.sh")
        let killed = Mutex(false)
        let resumed = Mutex<Subprocess?>(nil)
        let log = RecordingLogHandler { record in
            guard record.message == "uploaded part", record.metadata["part"] == "2" else { return }
            guard !killed.withLock({ let was = $0; $0 = true; return was }) else { return }
            try? SeaweedFS.control("kill")
            let process = try? SeaweedFS.launchControl("resume")
            resumed.withLock { $0 = process }
        }
        let storage = try writer({
            $0.multipartThreshold = 6 << 20
            $0.partSize = 5 << 20
            $0.multipartConcurrency = 1
            $0.retry = Self.patientRetries
        }, logger: log)
        let target = try key(SeaweedFS.uniquePrefix("restart-multipart") + "big")
        let bytes = randomBytes(23 << 20, seed: 7)
        try await restoringServer {
            let info = try await storage.put(target, bytes)
            #expect(info.size == bytes.count)
            if let process = resumed.withLock({ $0 }) { #expect(await process.exitStatus() == 0) }
        }
        #expect(killed.withLock { $0 })
        #expect(log.count("uploaded part") == 5)
        #expect(log.count("retrying") > 0)  // the outage was really hit
        #expect(try await storage.get(target, limit: bytes.count).bytes == bytes)
        #expect(try await storage.list(prefix: target.rawValue).map(\.size) == [bytes.count])
    }

    @Test("an upload that cannot finish leaves nothing half-written: the old version stays, a new key stays absent")
    func failedUploadLeavesNothing() async throws {
        try #require(SeaweedFS.canControl, "TESSERA_S3_CONTROL and TESSERA_S3_STATE_DIR are exported by scripts/test.sh")
        let prefix = SeaweedFS.uniquePrefix("restart-failed")
        let existing = try key(prefix + "existing"), fresh = try key(prefix + "fresh")
        let old = randomBytes(1000, seed: 1)
        _ = try await writer().put(existing, old)
        let killed = Mutex(false)
        let log = RecordingLogHandler { record in
            guard record.message == "uploaded part", record.metadata["part"] == "1" else { return }
            guard !killed.withLock({ let was = $0; $0 = true; return was }) else { return }
            try? SeaweedFS.control("kill")
        }
        let impatient = try writer({
            $0.multipartThreshold = 6 << 20
            $0.partSize = 5 << 20
            $0.multipartConcurrency = 1
            $0.retry = RetryPolicy(maximumAttempts: 3, initialDelay: 0.1, maximumDelay: 0.2)
        }, logger: log)
        try await restoringServer {
            // Replacing an object: the new version dies after part 1.
            await expectStorageError(.unavailable) { try await impatient.put(existing, randomBytes(16 << 20, seed: 2)) }
            #expect(killed.withLock { $0 })
            // A single PUT while the server is down.
            await expectStorageError(.unavailable) { try await impatient.put(fresh, randomBytes(1000, seed: 3)) }
        }
        let storage = try writer()
        #expect(try await storage.get(existing, limit: old.count).bytes == old)
        #expect(try await storage.head(existing)?.size == old.count)
        #expect(try await storage.head(fresh) == nil)
        #expect(try await storage.list(prefix: prefix).map(\.key) == [existing])
    }

    @Test("objects written by Tessera read back byte-identical with aws s3api, and the reverse")
    func awsInteroperability() async throws {
        let aws = try #require(which("aws"), "the aws command-line tool (awscli) must be on PATH")
        let directory = try TemporaryDirectory()
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = SeaweedFS.writer.accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = SeaweedFS.writer.secretAccessKey
        environment["AWS_DEFAULT_REGION"] = SeaweedFS.region
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        environment["AWS_CONFIG_FILE"] = "/dev/null"
        environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        func awsJSON(_ arguments: [String]) async throws -> [String: Any] {
            let result = try await run(aws, ["--endpoint-url", SeaweedFS.endpoint] + arguments, environment: environment)
            #expect(result.status == 0, "aws \(arguments.joined(separator: " ")): \(result.error)")
            let data = Data(result.output.utf8)
            return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        }
        let storage = try writer { $0.multipartThreshold = 6 << 20; $0.partSize = 5 << 20 }
        let prefix = SeaweedFS.uniquePrefix("interop")

        // Tessera writes (one PUT, then multipart); aws reads.
        for (name, size) in [("single", 3 * (1 << 20) + 7), ("multipart", 13 * (1 << 20) + 5)] {
            let target = try key(prefix + "tessera-" + name)
            let bytes = randomBytes(size, seed: UInt64(size))
            let info = try await storage.put(target, bytes)
            let output = directory.path + "/" + name
            let reply = try await awsJSON(["s3api", "get-object", "--bucket", SeaweedFS.bucket, "--key", target.rawValue, output])
            #expect(FileManager.default.contents(atPath: output) == Data(bytes), "\(name)")
            #expect((reply["ETag"] as? String)?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) == info.etag)
            #expect((reply["ContentLength"] as? Int) == size)
        }

        // aws writes (put-object, and `s3 cp`, which uploads in parts); Tessera reads.
        let source = directory.path + "/source"
        let bytes = randomBytes(5 * (1 << 20) + 3, seed: 77)
        _ = FileManager.default.createFile(atPath: source, contents: Data(bytes))
        let awsKey = try key(prefix + "aws-put")
        let reply = try await awsJSON(["s3api", "put-object", "--bucket", SeaweedFS.bucket, "--key", awsKey.rawValue, "--body", source])
        let (info, read) = try await storage.get(awsKey, limit: bytes.count)
        #expect(read == bytes)
        #expect((reply["ETag"] as? String)?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) == info.etag)

        let large = directory.path + "/large"
        let largeBytes = randomBytes(20 << 20, seed: 78)
        _ = FileManager.default.createFile(atPath: large, contents: Data(largeBytes))
        let copied = try key(prefix + "aws-cp")
        let copy = try await run(aws, ["--endpoint-url", SeaweedFS.endpoint, "s3", "cp", "--only-show-errors", large,
                                 "s3://\(SeaweedFS.bucket)/\(copied.rawValue)"], environment: environment)
        #expect(copy.status == 0, "\(copy.error)")
        #expect(try await reader().get(copied, limit: largeBytes.count).bytes == largeBytes)
    }
}
