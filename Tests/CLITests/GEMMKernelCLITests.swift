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

    /// A short `lstm train` of the copy task (copy.yaml with `sets`, in run directory `name`); returns
    /// its first stdout line starting with `prefix` and its per-step records without their timings
    /// (losses, norms, learning rates).
    func trainCopy(
        _ name: String, sets: [String], environment: [String: String?], line prefix: String
    ) throws -> (line: String, metrics: [String]) {
        let run = dir.appendingPathComponent("run-\(name)")
        let all =
            [
                "data.file=\(dir.appendingPathComponent("copy.h5").path)", "checkpoint.dir=\(run.path)",
                "logging.progress=plain", "logging.every=1"
            ] + sets
        let r = try lstm(
            ["train", Self.configs.appendingPathComponent("copy.yaml").path] + all.flatMap { ["--set", $0] },
            in: dir, environment: environment)
        XCTAssertEqual(r.status, 0, r.output)
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init) ?? ""
        let metrics = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").map {
                $0.split(separator: ",").filter { !$0.contains("_s\"") && !$0.contains("time") }.joined(separator: ",")
            }
        return (line, metrics)
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

    /// AVX-512's tiles (docs/results/kernels.md): the start line names them and why; 8×48 from n = 1024
    /// on only where its 48 KiB B sliver fits L1d, unless LSTM_GEMM_WIDE=on|off says; either way
    /// (H = 260: R's 1040 columns forward) training gives the same bits.
    func testTheStartLineNamesTheAVX512TilesWhichFollowL1dUnlessLSTMGEMMWideSaysWithTheSameBits() throws {
        try XCTSkipUnless(Self.hasAVX512, "this CPU has no AVX-512: no 8×48 tile")
        func train(_ wide: String?) throws -> (line: String, metrics: [String]) {
            let sets = [
                "data.generate={task: copy, symbols: 2, alphabet: 3, delay: 2, train: 32, val: 16, test: 16, seed: 1}",
                "data.batch_size=16", "model.hidden_size=260", "model.embedding_size=4", "training.steps=2",
                "validation.every=2", "checkpoint.every=2"
            ]
            return try trainCopy(
                "wide-\(wide ?? "default")", sets: sets, environment: ["LSTM_GEMM_WIDE": wide], line: "gemm: ")
        }
        let wide = try train("on")
        let narrow = try train("off")
        let auto = try train(nil)
        XCTAssertTrue(wide.line.contains("; tiles 8×32 and 8×48 from n = 1024, LSTM_GEMM_WIDE=on)"), wide.line)
        XCTAssertTrue(narrow.line.contains("; tiles 8×32, LSTM_GEMM_WIDE=off)"), narrow.line)
        let l1 = sysconf(Int32(_SC_LEVEL1_DCACHE_SIZE))
        let wideTile = l1 <= 0 || l1 >= 48 * 1024
        let reason = l1 <= 0 ? "L1d unknown" : "L1d \(l1 / 1024) KiB"
        let tiles = (wideTile ? "8×32 and 8×48 from n = 1024, " : "8×32, ") + reason
        XCTAssertTrue(auto.line.contains("; tiles \(tiles))"), "L1d \(l1): \(auto.line)")
        XCTAssertGreaterThanOrEqual(wide.metrics.count, 2)
        XCTAssertEqual(wide.metrics, narrow.metrics)
        XCTAssertEqual(auto.metrics, narrow.metrics)
    }

    /// Two shards on two workers share their per-step GEMMs with LSTM_STEP_GROUP=on (a step group; the
    /// start line says so) and train to the same bits as with LSTM_STEP_GROUP=off, where each shard
    /// multiplies alone; by default a model this small makes no group.
    func testTwoShardsOnTwoWorkersSharePerStepGEMMsAndTrainToTheSameBitsAsAlone() throws {
        try XCTSkipUnless(Self.hasAVX2, "this CPU has no AVX2+FMA: Float runs OpenBLAS, no packed per-step GEMM")
        try XCTSkipIf(ProcessInfo.processInfo.activeProcessorCount < 2, "one core: two workers never run at once")
        let kernel: String? = Self.hasAVX512 ? nil : "avx2"  // our kernel: the default only with AVX-512
        func train(_ group: String?) throws -> (line: String, metrics: [String]) {
            let sets = [
                "data.generate={task: copy, symbols: 2, alphabet: 3, delay: 2, train: 64, val: 16, test: 16, seed: 1}",
                "data.batch_size=32", "model.hidden_size=40", "model.embedding_size=4", "training.steps=4",
                "parallel.shards=2", "parallel.workers=2", "validation.every=4", "checkpoint.every=4"
            ]
            return try trainCopy(
                "group-\(group ?? "default")", sets: sets, environment: ["LSTM_GEMM": kernel, "LSTM_STEP_GROUP": group],
                line: "training ")
        }
        let together = try train("on")  // H = 40: only when forced (by default only where R is large)
        let alone = try train("off")
        let shared = "2 shard(s) on 2 worker(s), per-step GEMMs shared by the 2 workers"
        XCTAssertTrue(together.line.hasSuffix(shared), together.line)
        XCTAssertTrue(alone.line.hasSuffix("2 shard(s) on 2 worker(s)"), alone.line)
        XCTAssertTrue(try train(nil).line.hasSuffix("2 shard(s) on 2 worker(s)"))
        XCTAssertGreaterThanOrEqual(together.metrics.count, 4)
        XCTAssertEqual(together.metrics, alone.metrics)
    }
}
