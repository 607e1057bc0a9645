import Foundation
import XCTest

/// `training.precision: bf16` end to end: the run says which precision and kernel ran, trains (the
/// loss falls), is bitwise the same for any worker count (and in a step group) at a fixed shard
/// count, differs from float32 in its bits; and where the machine cannot run it, it is refused before
/// training with a located config error naming the key and the hint.
final class BF16CLITests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        try """
        model: {hidden_size: 40, embedding_size: 8, num_layers: 2}
        loss: cross_entropy
        data:
          file: \(dir.appendingPathComponent("copy.h5").path)
          generate: {task: copy, symbols: 3, alphabet: 4, delay: 3, train: 192, val: 32, test: 16, seed: 1}
          batch_size: 32
        optimizer: {name: adam, lr: 0.01}
        training: {steps: 24, clip_norm: 1.0, precision: bf16}
        validation: {every: 12, max_batches: 1}
        checkpoint: {every: 1000}
        logging: {every: 1, progress: plain}
        parallel: {shards: 2}
        seed: 5
        """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static var cpuHasBF16: Bool { GEMMKernelCLITests.hasAVX512 && GEMMKernelCLITests.cpuFlags.contains("avx512_bf16") }

    private func train(_ run: String, _ sets: [String] = [], environment: [String: String?] = [:]) throws -> CLIResult {
        try lstm(
            ["train", "job.yaml", "--set", "checkpoint.dir=\(dir.appendingPathComponent(run).path)"]
                + sets.flatMap { ["--set", $0] }, in: dir, environment: environment)
    }

    private func records(_ run: String) throws -> [String] {
        try KillResumeCLITests.records(dir.appendingPathComponent(run))
    }

    private func trainLosses(_ run: String) throws -> [Double] {
        try records(run).compactMap {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["train_loss"] as? Double
        }
    }

    func testBF16TrainsReportsItsKernelAndGivesTheSameBitsForAnyWorkerCount() throws {
        try XCTSkipUnless(Self.cpuHasBF16, "this CPU lacks AVX-512 with AVX512_BF16: bf16 cannot run here")
        let one = try train("w1", ["parallel.workers=1"])
        XCTAssertEqual(one.status, 0, one.output)
        XCTAssertTrue(one.stdout.contains("\nprecision: bf16 (gemm: lstm avx512-bf16 for the LSTM layers"), one.stdout)
        let two = try train("w2", ["parallel.workers=2"])
        XCTAssertEqual(two.status, 0, two.output)
        // The two shards' per-step GEMMs computed together (the step group) on the bf16 packed R.
        let grouped = try train("w2g", ["parallel.workers=2"], environment: ["LSTM_STEP_GROUP": "on"])
        XCTAssertEqual(grouped.status, 0, grouped.output)
        XCTAssertTrue(grouped.stdout.contains("per-step GEMMs shared by the 2 workers"), grouped.stdout)
        let reference = try records("w1")
        XCTAssertEqual(try records("w2"), reference)
        XCTAssertEqual(try records("w2g"), reference)

        let losses = try trainLosses("w1")
        XCTAssertEqual(losses.count, 24)
        let (first, last) = (losses.prefix(4).reduce(0, +) / 4, losses.suffix(4).reduce(0, +) / 4)
        XCTAssertLessThan(last, 0.8 * first, "the bf16 run's loss should fall: \(losses)")

        // float32 on the same config: close, but other bits (the bf16 GEMMs ran).
        let f32 = try train("f32", ["training.precision=float32"])
        XCTAssertEqual(f32.status, 0, f32.output)
        XCTAssertTrue(f32.stdout.contains("\nprecision: float32\n"), f32.stdout)
        let float32Losses = try trainLosses("f32")
        XCTAssertNotEqual(losses, float32Losses)
        XCTAssertEqual(losses[0], float32Losses[0], accuracy: 0.01 * float32Losses[0])
    }

    func testBF16UnderLSTMGEMMAVX2IsRefusedBeforeTrainingWithALocatedConfigError() throws {
        let r = try train("refused", [], environment: ["LSTM_GEMM": "avx2"])
        XCTAssertEqual(r.status, 1, r.output)
        let line = try XCTUnwrap(r.stderr.split(separator: "\n").first { $0.contains("training.precision") }, r.stderr)
        XCTAssertTrue(line.contains("job.yaml:8:"), String(line))  // the line of training: {…, precision: bf16}
        XCTAssertTrue(line.contains("training.precision: is bf16, which this machine cannot run: "), String(line))
        XCTAssertTrue(line.hasSuffix("; use training.precision: float32"), String(line))
        XCTAssertTrue(
            line.contains(Self.cpuHasBF16 ? "this process uses avx2 (LSTM_GEMM=avx2)" : "lacks the AVX512_BF16"),
            String(line))
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("refused/metrics.jsonl").path),
            "nothing trained")
    }

    func testPrecisionTakesTheKerasAndPyTorchSpellingsAndRejectsOthers() throws {
        let r = try train("bad", ["training.precision=float16"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(
            r.stderr.contains(
                "training.precision: 'float16' is not one of bf16, bfloat16, float32, fp32, mixed_bfloat16"), r.stderr)
        guard Self.cpuHasBF16 else { return }
        let keras = try train("keras", ["training.precision=mixed_bfloat16", "training.steps=2"])
        XCTAssertEqual(keras.status, 0, keras.output)
        XCTAssertTrue(keras.stdout.contains("\nprecision: bf16 ("), keras.stdout)
    }
}
