// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "lstm",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LSTMKit", targets: ["LSTMKit"]),
        .executable(name: "lstm", targets: ["lstm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries behind tiny header shims; no other target sees C types.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),

        // Thin Swift wrapper over the HDF5 C API (files, groups, datasets, attributes).
        .target(name: "HDF5Kit", dependencies: ["CHDF5"]),

        // The runtime: tensors and BLAS, the LSTM (eqs. 1-25), training.
        .target(name: "LSTMKit", dependencies: ["CBLAS"]),

        // HDF5-backed datasets, loaders, preparers, checkpoints and weight interop.
        .target(name: "LSTMData", dependencies: ["LSTMKit", "HDF5Kit"]),

        // Config-driven runs: YAML configs, the training loop with validation, metrics,
        // checkpoints and resume, progress output and plots.
        .target(name: "LSTMRun", dependencies: ["LSTMKit", "LSTMData", "HDF5Kit", .product(name: "Yams", package: "Yams")]),

        // The command line.
        .executableTarget(
            name: "lstm",
            dependencies: [
                "LSTMKit", "LSTMData", "LSTMRun",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Benchmarks: run with `swift run -c release lstm-bench`.
        .executableTarget(
            name: "lstm-bench", dependencies: ["LSTMKit"], path: "Benchmarks/LSTMBench"),
        // End-to-end: `lstm train` vs the core vs PyTorch (`swift build -c release && .build/release/lstm-train-bench`).
        .executableTarget(
            name: "lstm-train-bench", dependencies: ["LSTMKit", "LSTMData", "HDF5Kit"], path: "Benchmarks/TrainBench",
            exclude: ["pytorch_train.py"]),
        .executableTarget(
            name: "lstm-data-bench", dependencies: ["LSTMKit", "LSTMData"], path: "Benchmarks/DataBench"),

        .testTarget(name: "LSTMKitTests", dependencies: ["LSTMKit"], exclude: ["Fixtures"]),
        .testTarget(name: "HDF5KitTests", dependencies: ["HDF5Kit"]),
        .testTarget(name: "LSTMDataTests", dependencies: ["LSTMData", "LSTMKit", "HDF5Kit"], exclude: ["Interop"]),
        .testTarget(name: "LSTMRunTests", dependencies: ["LSTMRun", "LSTMData", "LSTMKit"]),
        // End-to-end tests of the built `lstm` executable.
        .testTarget(name: "CLITests", dependencies: ["lstm", "HDF5Kit"]),
    ]
)
