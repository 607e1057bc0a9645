import Foundation
import XCTest

/// Which GEMM `lstm train` runs: its start line names the kernel, LSTM_GEMM forces one, and the
/// widest this CPU runs is the default (docs/results/kernels.md).
final class GEMMKernelCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let configs = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("configs")

    /// The CPU's flags from /proc/cpuinfo (what the kernels' runtime check also reads, via cpuid).
    static let cpuFlags: Set<String> = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        return Set(line.split(separator: " ").map(String.init))
    }()
    static var hasAVX512: Bool { ["avx512f", "avx512vl", "avx512bw", "avx512dq"].allSatisfy(cpuFlags.contains) }
    static var hasAVX2: Bool { ["avx2", "fma"].allSatisfy(cpuFlags.contains) }

    /// A three-step `lstm train` of the copy task; returns its start line "gemm: …".
    func gemmLine(_ value: String?, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let run = dir.appendingPathComponent("run-\(value ?? "default")")
        let sets = [
            "data.file=\(dir.appendingPathComponent("copy.h5").path)",
            "data.generate={task: copy, symbols: 2, alphabet: 3, delay: 2, train: 32, val: 16, test: 16, seed: 1}",
            "data.batch_size=16", "model.hidden_size=8", "model.embedding_size=4", "training.steps=3",
            "validation.every=3", "checkpoint.dir=\(run.path)", "checkpoint.every=3", "logging.progress=plain"
        ]
        let r = try lstm(
            ["train", Self.configs.appendingPathComponent("copy.yaml").path] + sets.flatMap { ["--set", $0] },
            in: dir, environment: ["LSTM_GEMM": value])
        XCTAssertEqual(r.status, 0, r.output, file: file, line: line)
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("gemm: ") }
        XCTAssertEqual(lines.count, 1, "one gemm line expected:\n\(r.output)", file: file, line: line)
        return lines.first.map(String.init) ?? ""
    }

    func testTrainRunsOurAVX512KernelByDefaultWhereTheCPUHasItAndOpenBLASElsewhere() throws {
        let line = try gemmLine(nil)
        if Self.hasAVX512 {
            XCTAssertTrue(line.hasPrefix("gemm: lstm avx512 (the default on AVX-512 CPUs; R packed"), line)
        } else {
            XCTAssertTrue(line.hasPrefix("gemm: OpenBLAS"), line)
        }
        XCTAssertFalse(line.contains("unset LSTM_GEMM"), line)
    }

    func testLSTMGEMMForcesOpenBLASAndTheLineSaysHowToGetTheFasterKernel() throws {
        let line = try gemmLine("openblas")
        XCTAssertTrue(line.hasPrefix("gemm: OpenBLAS "), line)
        XCTAssertTrue(line.contains("(LSTM_GEMM=openblas)"), line)
        XCTAssertEqual(line.contains("this CPU runs lstm avx512"), Self.hasAVX512, line)
    }

    func testLSTMGEMMForcesTheAVX2KernelWhereTheCPUHasIt() throws {
        try XCTSkipUnless(Self.hasAVX2, "this CPU has no AVX2+FMA")
        let line = try gemmLine("avx2")
        XCTAssertTrue(line.hasPrefix("gemm: lstm avx2 (LSTM_GEMM=avx2; R packed"), line)
        XCTAssertEqual(line.contains("this CPU runs lstm avx512"), Self.hasAVX512, line)
    }

    func testAnUnknownLSTMGEMMValueIsNamedAndTheDefaultKept() throws {
        let line = try gemmLine("avx1024")
        XCTAssertTrue(line.contains("LSTM_GEMM ignored: expected openblas, avx2 or avx512"), line)
    }
}
