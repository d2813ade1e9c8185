// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Tessera",
    products: [
        .library(name: "Tessera", targets: ["Tessera"]),
        .library(name: "TesseraCore", targets: ["TesseraCore"]),
        .library(name: "TesseraTensor", targets: ["TesseraTensor"]),
        .library(name: "TesseraOptimizer", targets: ["TesseraOptimizer"]),
        .library(name: "TesseraCodec", targets: ["TesseraCodec"]),
        .library(name: "TesseraData", targets: ["TesseraData"]),
        .library(name: "TesseraStorage", targets: ["TesseraStorage"]),
        .library(name: "TesseraS3", targets: ["TesseraS3"]),
        .library(name: "TesseraScoring", targets: ["TesseraScoring"]),
        .library(name: "TesseraChain", targets: ["TesseraChain"]),
        .library(name: "TesseraNode", targets: ["TesseraNode"]),
        .library(name: "TesseraSubtensor", targets: ["TesseraSubtensor"]),
        .library(name: "TesseraTestKit", targets: ["TesseraTestKit"]),
        .library(name: "TesseraSimulation", targets: ["TesseraSimulation"]),
        .executable(name: "tessera", targets: ["tessera"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C system libraries. Imported with `internal import` so they never leak into public API.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),

        // Run-time dispatched vector kernels (AVX-512 / AVX2 / portable) and non-temporal stores:
        // per-function target attributes, no global flags. Used through TesseraCore's VectorKernels.
        .target(name: "CTesseraKernels"),
        // The BLAS, loaded at run time (dlopen) with OpenBLAS's kernel family chosen from the CPU's
        // features, so that no build links it and no CPU falls back to generic kernels.
        .target(name: "CTesseraBLAS"),
        // Protocols and value types every other module shares.
        .target(name: "TesseraCore", dependencies: ["CTesseraKernels"]),
        // Tensor engine, autodiff, the reference Llama model, safetensors.
        .target(name: "TesseraTensor", dependencies: ["TesseraCore", "CTesseraBLAS", "CTesseraKernels"]),
        // Gradient codec, wire format, decode limits, aggregators.
        .target(name: "TesseraCodec", dependencies: ["TesseraCore", "CZstd"]),
        // Inner optimizers (AdamW, SGD, schedules) and outer optimizers (SparseLoCo, DeMo, DiLoCo).
        .target(name: "TesseraOptimizer", dependencies: ["TesseraCore", "TesseraCodec", "CTesseraKernels"]),
        // Slice sampling, token sources, the synthetic corpus.
        .target(name: "TesseraData", dependencies: ["TesseraCore", .product(name: "Crypto", package: "swift-crypto")]),
        // The StorageBackend protocol, in-memory and filesystem backends, the object key layout.
        .target(name: "TesseraStorage", dependencies: ["TesseraCore"]),
        // S3 / R2 backend over AsyncHTTPClient (its own product: only its users build an HTTP stack).
        .target(
            name: "TesseraS3",
            dependencies: [
                "TesseraStorage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The ChainClient protocol and LocalChain (in-process, virtual or wall clock).
        .target(name: "TesseraChain", dependencies: ["TesseraCore", .product(name: "Crypto", package: "swift-crypto")]),
        // Bittensor client: JSON-RPC, SCALE, runtime metadata, extrinsics, ed25519 + sr25519 keys.
        .target(
            name: "TesseraSubtensor",
            dependencies: [
                "TesseraChain", "TesseraCore", "CSodium",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The Scorer protocol, the Gauntlet scorer, OpenSkill ratings, copy detection, weight policy.
        .target(name: "TesseraScoring", dependencies: ["TesseraCore", "TesseraCodec"]),
        // Miner, Validator, the window schedule, gathering, peer lists and checkpoints.
        .target(
            name: "TesseraNode",
            dependencies: ["TesseraCore", "TesseraTensor", "TesseraOptimizer", "TesseraCodec", "TesseraData", "TesseraStorage", "TesseraScoring", "TesseraChain"]
        ),
        // Umbrella: re-exports the protocol modules and the nodes.
        .target(name: "Tessera", dependencies: ["TesseraCore", "TesseraTensor", "TesseraOptimizer", "TesseraCodec", "TesseraData", "TesseraStorage", "TesseraScoring", "TesseraChain", "TesseraNode"]),
        // The adversary zoo and a harness for testing custom scorers.
        .target(name: "TesseraTestKit", dependencies: ["Tessera"]),
        // The whole network in one process on a virtual clock: the main job's engine.
        .target(name: "TesseraSimulation", dependencies: ["Tessera", "TesseraTestKit"]),
        // Command-line tool.
        .executableTarget(
            name: "tessera",
            dependencies: [
                "Tessera",
                "TesseraS3",
                "TesseraSubtensor",
                "TesseraTestKit",
                "TesseraSimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        .testTarget(name: "TesseraCoreTests", dependencies: ["TesseraCore"], exclude: ["make_rng_vectors.py", "make_xxhash_vectors.py"]),
        .testTarget(
            name: "TesseraTensorTests",
            dependencies: ["TesseraTensor", "TesseraCore", "CTesseraKernels"],
            resources: [.copy("Golden")]
        ),
        .testTarget(name: "TesseraOptimizerTests", dependencies: ["TesseraOptimizer", "TesseraCore", "TesseraCodec"]),
        .testTarget(name: "TesseraCodecTests", dependencies: ["TesseraCodec", "TesseraCore"], resources: [.copy("Golden")]),
        .testTarget(name: "SystemLibraryTests", dependencies: ["TesseraTensor", "CZstd"]),
        .testTarget(name: "TesseraScoringTests", dependencies: ["TesseraScoring", "TesseraTestKit", "Tessera"], exclude: ["make_openskill_vectors.py", "make_welch_vectors.py"]),
        .testTarget(name: "TesseraChainTests", dependencies: ["TesseraChain", "TesseraCore"]),
        // The determinism guard (consensus digests at every kernel level, thread count and OpenBLAS core)
        // and the BLAS selection, both through child processes of the tessera tool.
        .testTarget(name: "DeterminismTests", dependencies: ["Tessera", "TesseraCore", "TesseraTensor", "TesseraTestKit"]),
        .testTarget(name: "TesseraNodeTests", dependencies: ["TesseraNode", "Tessera", "TesseraTestKit", "TesseraSimulation", "TesseraS3"]),
        .testTarget(
            name: "TesseraSubtensorTests",
            dependencies: [
                "TesseraSubtensor", "TesseraChain", "TesseraCore", "TesseraTestKit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["make_golden_vectors.py"],
            resources: [.copy("Golden")]
        ),
        .testTarget(name: "TesseraDataTests", dependencies: ["TesseraData", "TesseraCore"], exclude: ["make_sampling_vectors.py"]),
        .testTarget(
            name: "TesseraStorageTests",
            dependencies: [
                "TesseraStorage", "TesseraS3", "TesseraCore", "TesseraTestKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // Examples are built by CI so they cannot drift from the API.
        .executableTarget(name: "TrainTinyLlama", dependencies: ["Tessera"], path: "Examples/TrainTinyLlama"),
        .executableTarget(name: "CustomScorer", dependencies: ["Tessera", "TesseraTestKit"], path: "Examples/CustomScorer"),
        .executableTarget(name: "CustomMiner", dependencies: ["Tessera"], path: "Examples/CustomMiner", exclude: []),
    ]
)

for target in package.targets where [.executable, .test, .regular].contains(target.type) && target.name != "CTesseraKernels" {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
