#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
import Tessera
import TesseraS3
import TesseraSimulation

/// The S3 server scripts/test.sh exports through `TESSERA_S3_*`, if any.
enum SimulationS3Server {
    static let settings: (endpoint: String, bucket: String, region: String, credentials: S3Credentials)? = {
        let e = ProcessInfo.processInfo.environment
        guard let endpoint = e["TESSERA_S3_ENDPOINT"], let bucket = e["TESSERA_S3_BUCKET"],
              let key = e["TESSERA_S3_WRITER_KEY"], let secret = e["TESSERA_S3_WRITER_SECRET"],
              !endpoint.isEmpty, !bucket.isEmpty, !key.isEmpty, !secret.isEmpty else { return nil }
        return (endpoint, bucket, e["TESSERA_S3_REGION"] ?? "us-east-1", S3Credentials(accessKeyID: key, secretAccessKey: secret))
    }()
}

/// The simulator against a real S3 server (the SeaweedFS gateway scripts/test.sh starts):
/// the chain runs in real time and the validator judges timeliness by the server's own
/// Last-Modified stamps. Disabled, with the reason, without a server. scripts/test.sh runs it on
/// its own, after the other suites: real time must not compete with them for the two cores.
@Suite(.enabled(if: SimulationS3Server.settings != nil, "needs TESSERA_S3_* from scripts/test.sh (a SeaweedFS server)"),
       .timeLimit(.minutes(5)))
struct SimulatorS3Tests {
    /// The same network on S3 in real time and in a directory on the virtual clock: identical
    /// scores, weights, rejections and final model loss (every decision depends on the order of
    /// events, not on how fast time passes), and the late uploader is caught by the server's
    /// timestamp.
    @Test func realTimeS3RunMatchesTheVirtualClockRun() async throws {
        let server = try #require(SimulationS3Server.settings)
        var c = SimulationConfiguration.tiny(windows: 3, honestMiners: 2, adversaries: ["late", "copier", "nan-injector"])
        // Generous real-time budget (the debug build trains slowly); a run that falls behind
        // stops with an error instead of producing different results.
        c.blockSeconds = 2
        c.network.uploadWindowSeconds = 6
        c.storage = .temporaryDirectory
        let virtual = try await NetworkSimulator(configuration: c).run()

        let s3 = try S3Storage(configuration: S3Configuration(endpoint: server.endpoint, bucket: server.bucket, region: server.region, credentials: server.credentials))
        let prefix = "simulate-test/\(UInt64.random(in: 0...UInt64.max))"
        let real = try await NetworkSimulator(configuration: c).run(storage: try PrefixedStorage(s3, prefix: prefix), description: "seaweedfs")

        #expect(real.windows.map(\.window) == virtual.windows.map(\.window))
        for (r, v) in zip(real.windows, virtual.windows) {
            #expect(r.weights == v.weights, "window \(r.window)")
            #expect(r.scores == v.scores, "window \(r.window)")
            #expect(r.rejected.map(\.reason) == v.rejected.map(\.reason), "window \(r.window)")
            #expect(r.rejected.contains { $0.role == "late" && $0.reason == "late" }, "window \(r.window)")
        }
        #expect(real.finalLoss == virtual.finalLoss)
        #expect(real.finalWeights == virtual.finalWeights)
        // Everything the run wrote is under its prefix: the gradients of every window.
        let objects = try await s3.list(prefix: prefix + "/v1/gradient/")
        #expect(objects.count >= 3 * 4)
    }
}
