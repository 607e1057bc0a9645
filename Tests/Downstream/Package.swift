// swift-tools-version:6.0
// A package that uses lstm the way a downstream user would: by its library products only.
// `scripts/check-downstream.sh` builds and runs it against this checkout (linked in as `lstm`).
import PackageDescription

let package = Package(
    name: "Downstream",
    dependencies: [.package(path: "lstm")],
    targets: [
        .executableTarget(
            name: "Downstream",
            dependencies: [
                .product(name: "LSTMKit", package: "lstm"),
                .product(name: "LSTMData", package: "lstm"),
                .product(name: "LSTMIO", package: "lstm"),
                .product(name: "LSTMRun", package: "lstm")
            ])
    ]
)
