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
        .executable(name: "tessera", targets: ["tessera"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C system libraries. Imported with `internal import` so they never leak into public API.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),

        // Protocols and value types every other module shares.
        .target(name: "TesseraCore"),
        // Tensor engine, autodiff, the reference Llama model, safetensors.
        .target(name: "TesseraTensor", dependencies: ["TesseraCore", "CBLAS"]),
        // Gradient codec, wire format, decode limits, aggregators.
        .target(name: "TesseraCodec", dependencies: ["TesseraCore", "CBLAS", "CZstd"]),
        // Inner optimizers (AdamW, SGD, schedules) and outer optimizers (SparseLoCo, DeMo, DiLoCo).
        .target(name: "TesseraOptimizer", dependencies: ["TesseraCore", "TesseraCodec"]),
        // Umbrella: re-exports the protocol modules.
        .target(name: "Tessera", dependencies: ["TesseraCore", "TesseraTensor", "TesseraOptimizer", "TesseraCodec"]),
        // Command-line tool.
        .executableTarget(
            name: "tessera",
            dependencies: [
                "Tessera",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "TesseraCoreTests", dependencies: ["TesseraCore"], exclude: ["make_rng_vectors.py", "make_xxhash_vectors.py"]),
        .testTarget(
            name: "TesseraTensorTests",
            dependencies: ["TesseraTensor", "TesseraCore"],
            resources: [.copy("Golden")]
        ),
        .testTarget(name: "TesseraOptimizerTests", dependencies: ["TesseraOptimizer", "TesseraCore", "TesseraCodec"]),
        .testTarget(name: "TesseraCodecTests", dependencies: ["TesseraCodec", "TesseraCore"], resources: [.copy("Golden")]),
        .testTarget(name: "SystemLibraryTests", dependencies: ["CBLAS", "CZstd"]),

        // Examples are built by CI so they cannot drift from the API.
        .executableTarget(name: "TrainTinyLlama", dependencies: ["Tessera"], path: "Examples/TrainTinyLlama"),
    ]
)

for target in package.targets where [.executable, .test, .regular].contains(target.type) {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
