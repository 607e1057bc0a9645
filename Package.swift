// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "lstm",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LSTMKit", targets: ["LSTMKit"]),
        .library(name: "LSTMData", targets: ["LSTMData", "LSTMFiles"]),
        .library(name: "LSTMIO", targets: ["LSTMIO", "LSTMFiles"]),
        .library(name: "LSTMRun", targets: ["LSTMRun"]),
        .executable(name: "lstm", targets: ["lstm"])
    ],
    // `swift build --traits MPI`: the `lstm` CLI trains across processes under mpirun (needs Open MPI:
    // libopenmpi-dev). The default build neither needs nor links MPI.
    traits: [.trait(name: "MPI", description: "Multi-process training over MPI (Open MPI's libmpi)")],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20")
    ],
    targets: [
        // C libraries behind tiny header shims; no other target sees C types.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),

        // Open MPI behind getters for its handle macros; used only with the MPI trait.
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),

        // Our own sgemm: AVX-512 and AVX2+FMA micro-kernels chosen at run time (docs/results/kernels.md).
        .target(name: "CKernels"),

        // Thin Swift wrapper over the HDF5 C API (files, groups, datasets, attributes).
        .target(name: "HDF5Kit", dependencies: ["CHDF5"]),

        // The runtime: tensors and BLAS, the LSTM (eqs. 1-25), training.
        .target(name: "LSTMKit", dependencies: ["CBLAS", "CKernels"]),

        // FileError and the atomic HDF5 writer, below LSTMData and LSTMIO so both share them without a cycle.
        .target(name: "LSTMFiles", dependencies: ["HDF5Kit"]),

        // HDF5-backed datasets: schema, validation, writer, loader, preparers and generators.
        .target(name: "LSTMData", dependencies: ["LSTMKit", "HDF5Kit", "LSTMFiles"]),

        // ONNX's protobuf messages, generated from the onnx pip package's onnx.proto
        // (Sources/ONNXProto/regenerate.sh; the generated code is committed, CI never runs protoc).
        .target(
            name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["onnx.proto", "regenerate.sh"]),

        // Model I/O: checkpoints and their store, PyTorch/Keras/safetensors/ONNX weights, inspect,
        // prediction files.
        .target(
            name: "LSTMIO",
            dependencies: [
                "LSTMKit", "HDF5Kit", "LSTMFiles", "ONNXProto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation")
            ]),

        // TensorBoard's event protos (event.proto, summary.proto and their imports), generated code
        // committed; make_protos.py regenerates it from the tensorboard pip package.
        .target(
            name: "TensorBoardProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["make_protos.py"]),

        // Config-driven runs: YAML configs, the training loop with validation, metrics,
        // checkpoints and resume, progress output, plots and TensorBoard event files.
        .target(
            name: "LSTMRun",
            dependencies: [
                "LSTMKit", "LSTMData", "LSTMIO", "LSTMFiles", "TensorBoardProto",
                // ConfigText.swift also imports CYaml (libyaml's event parser, for the limits checks
                // before Yams composes a tree): a target of the Yams package that it exports with
                // this product but does not offer as a product of its own, so it cannot be named here.
                .product(name: "Yams", package: "Yams"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf")
            ]),

        // The version and the git commit a binary was built from (the BuildInfo plugin writes the
        // commit at build time; "unknown" outside a git checkout).
        .target(name: "LSTMBuildInfo", plugins: ["BuildInfo"]),
        .plugin(name: "BuildInfo", capability: .buildTool()),

        // LSTMKit's ProcessGroup over MPI (empty without the MPI trait).
        .target(
            name: "LSTMMPI",
            dependencies: ["LSTMKit", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]),

        // The command line.
        .executableTarget(
            name: "lstm",
            dependencies: [
                "LSTMKit", "LSTMData", "LSTMIO", "LSTMFiles", "LSTMRun", "LSTMBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .target(name: "LSTMMPI", condition: .when(traits: ["MPI"]))
            ]),

        // Benchmarks: run with `swift run -c release lstm-bench`.
        .executableTarget(
            name: "lstm-bench",
            dependencies: ["LSTMKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/LSTMBench"),
        // End-to-end: `lstm train` and PyTorch alternately (`swift build -c release && .build/release/lstm-train-bench`).
        .executableTarget(
            name: "lstm-train-bench",
            dependencies: [
                "LSTMKit", "LSTMData", "HDF5Kit", "CBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ], path: "Benchmarks/TrainBench",
            exclude: ["pytorch_train.py", "ab.sh"]),
        .executableTarget(
            name: "lstm-data-bench",
            dependencies: ["LSTMKit", "LSTMData", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/DataBench"),
        // What checkpoint checksums cost (docs/weights.md, "Checksums").
        .executableTarget(
            name: "lstm-checkpoint-bench",
            dependencies: [
                "LSTMKit", "LSTMIO", "LSTMFiles", "HDF5Kit",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ],
            path: "Benchmarks/CheckpointBench"),
        // The collectives of multi-process training (MPI build only; see docs/results/mpi.md).
        .executableTarget(
            name: "lstm-mpi-bench",
            dependencies: [
                "LSTMKit", .target(name: "LSTMMPI", condition: .when(traits: ["MPI"])),
                .target(name: "CMPI", condition: .when(traits: ["MPI"])),
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ], path: "Benchmarks/MPIBench"),

        .testTarget(name: "LSTMKitTests", dependencies: ["LSTMKit"], exclude: ["Fixtures"]),
        .testTarget(name: "HDF5KitTests", dependencies: ["HDF5Kit", "CHDF5"]),
        .testTarget(name: "LSTMFilesTests", dependencies: ["LSTMFiles", "HDF5Kit"]),
        .testTarget(name: "LSTMDataTests", dependencies: ["LSTMData", "LSTMFiles", "LSTMKit", "HDF5Kit"]),
        .testTarget(
            name: "LSTMIOTests", dependencies: ["LSTMIO", "LSTMFiles", "LSTMKit", "HDF5Kit", "ONNXProto"],
            exclude: ["Interop"]),
        .testTarget(
            name: "LSTMRunTests",
            dependencies: ["LSTMRun", "LSTMData", "LSTMIO", "LSTMFiles", "LSTMKit", "TensorBoardProto"]),
        // End-to-end tests of the built `lstm` executable.
        .testTarget(name: "CLITests", dependencies: ["lstm", "HDF5Kit", "CHDF5", "TensorBoardProto"])
    ]
)
