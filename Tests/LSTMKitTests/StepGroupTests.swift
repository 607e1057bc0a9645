import CKernels
import Foundation
import XCTest

@testable import LSTMKit

/// The shard workers' per-step GEMMs computed together (`StepGroup`, docs/results/kernels.md): every
/// element gets the bits of the shard's own packed GEMM, whichever worker computes its columns.
final class StepGroupTests: XCTestCase {
    var kernels: [GEMMKernel] { [.avx2, .avx512].filter(\.isSupported) }

    /// Several row groups, each its own A and C, in column ranges split as P workers split them:
    /// bit for bit what each group's own `sgemmPacked` gives, for group sizes across sliver and
    /// pass (128-row) edges, k across K blocks, beta 0 and 1.
    func testPackedRowsGiveEveryGroupTheBitsOfItsOwnPackedGEMM() throws {
        try XCTSkipIf(kernels.isEmpty, "this CPU runs none of our kernels (no AVX2+FMA)")
        var rng = RandomSource(seed: 31)
        for kernel in kernels {
            for (rows, n, k, transB) in [
                ([32, 32], 160, 300, true), ([1, 7, 8, 33], 100, 40, false), ([130, 3], 64, 520, true),
                ([17, 100, 20], 33, 257, false), ([32, 32], 1100, 300, true), ([5, 40], 1024, 40, false)
            ] {
                let packed = UnsafeMutablePointer<Float>.allocate(capacity: kernel.packedCount(k: k, n: n))
                defer { packed.deallocate() }
                let b = (0..<(n * k)).map { _ in Float(rng.normal()) }
                b.withUnsafeBufferPointer {
                    kernel.packB(transB: transB, k: k, n: n, b: $0.baseAddress!, ldb: transB ? k : n, into: packed)
                }
                let a = rows.map { m in (0..<(m * k)).map { _ in Float(rng.normal()) } }
                let c0 = rows.map { m in (0..<(m * n)).map { _ in Float(rng.normal()) } }
                // Stable copies for the C groups (lstm_gemm_rows holds raw pointers).
                func copies(_ arrays: [[Float]]) -> [UnsafeMutablePointer<Float>] {
                    arrays.map { values in
                        let q = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
                        q.initialize(from: values, count: values.count)
                        return q
                    }
                }
                let aStored = copies(a)
                defer { for p in aStored { p.deallocate() } }
                for beta: Float in [0, 1] {
                    // Each group alone.
                    let want = copies(c0)
                    defer { for p in want { p.deallocate() } }
                    for g in rows.indices {
                        kernel.sgemmPacked(
                            m: rows[g], n: n, k: k, a: aStored[g], lda: k, packed: packed, beta: beta, c: want[g],
                            ldc: n)
                    }
                    // All groups together, in the column ranges of P = 1, 2, 3 workers.
                    for p in 1...3 {
                        let cs = copies(c0)
                        defer { for p in cs { p.deallocate() } }
                        let groups = rows.indices.map { g in
                            lstm_gemm_rows(a: aStored[g], lda: k, c: cs[g], ldc: n, m: rows[g])
                        }
                        let w = kernel.tileColumns(n: n)  // 48 from n = 1024 on for AVX-512
                        let slivers = (n + w - 1) / w
                        for i in 0..<p {
                            let range = (slivers * i / p * w)..<min(n, slivers * (i + 1) / p * w)
                            kernel.sgemmPackedRows(groups, n: n, columns: range, k: k, packed: packed, beta: beta)
                        }
                        for g in rows.indices {
                            for e in 0..<(rows[g] * n) where cs[g][e].bitPattern != want[g][e].bitPattern {
                                XCTFail(
                                    "\(kernel) groups \(rows) n\(n) k\(k) beta \(beta) P \(p): group \(g) C[\(e / n), "
                                        + "\(e % n)] = \(cs[g][e]), alone \(want[g][e])")
                                break
                            }
                        }
                    }
                }
            }
        }
    }

    let config = tinyConfig(input: .features(size: 3), hidden: 80, layers: 2, output: 3, loss: .crossEntropy)

    /// Trains `steps` SGD steps; returns the final weights and the step group's lockstep rounds.
    func train(
        shards: Int, workers: Int, batches: [Minibatch<Float>], steps: Int = 3, config: ModelConfig? = nil
    ) throws -> ([Float], Int?) {
        let config = config ?? self.config
        let net = try LSTMNetwork<Float>(config: config)
        let params = ParameterSet<Double>(config: config, seed: 23).converted(to: Float.self)
        let workers = ShardWorkers(
            network: net, maxBatch: batches.map(\.batchSize).max()!, maxSteps: batches[0].steps, shards: shards,
            workers: workers, stepGroupMode: .on)
        workers.stepGroup?.timeout = 600  // never fall back here: the test is about the lockstep path
        workers.stepGroup?.adaptive = false
        let sgd = SGD<Float>(learningRate: 0.5)
        for i in 0..<steps {
            batches[i % batches.count].withView { _ = workers.computeGradient(params, $0) }
            sgd.step(params, workers.gradients)
        }
        return (params.storage.toArray(), workers.stepGroup?.lockstepRounds)
    }

    /// Two shards on two workers run their per-step GEMMs in a step group (H = 80: R's 320 and 80
    /// columns split unevenly at sliver edges, k = 320 past one K block) and end with the same weights,
    /// bit for bit, as the same two shards on one worker, which multiply alone. A minibatch of one
    /// sequence leaves a shard empty: that round runs alone, and still agrees.
    func testTwoShardsInAStepGroupGiveTheBitsOfEachShardAlone() throws {
        try XCTSkipIf(GEMMKernel.current == .openblas, "Float runs OpenBLAS here: no packed per-step GEMM to share")
        try XCTSkipIf(ProcessInfo.processInfo.activeProcessorCount < 2, "one core: two workers never run at once")
        let data = [19, 19, 7, 1].enumerated().map { i, b in
            convert(randomBatch(config, batch: b, steps: 6, seed: UInt64(200 + i)), to: Float.self)
        }
        let (alone, none) = try train(shards: 2, workers: 1, batches: data, steps: 4)
        XCTAssertNil(none, "one worker for two shards must not make a step group")
        let (together, rounds) = try train(shards: 2, workers: 2, batches: data, steps: 4)
        XCTAssertEqual(rounds, 3, "the three minibatches with two non-empty shards run in lockstep, the last alone")
        XCTAssertEqual(together, alone, "the step group changed the bits")
    }

    /// The same at H = 260, where R's 1040 columns forward run AVX-512's 8×48 tile (`wideTiles`, set
    /// here; its 48-wide slivers split between the two workers) and its 260 columns backward the 8×32
    /// one.
    func testTwoShardsInAStepGroupGiveTheBitsOfEachShardAloneWhereTheWideTileRuns() throws {
        try XCTSkipIf(GEMMKernel.current == .openblas, "Float runs OpenBLAS here: no packed per-step GEMM to share")
        try XCTSkipIf(ProcessInfo.processInfo.activeProcessorCount < 2, "one core: two workers never run at once")
        let wide = tinyConfig(input: .features(size: 3), hidden: 260, layers: 1, output: 3, loss: .crossEntropy)
        let policy = GEMMKernel.wideTiles
        defer { GEMMKernel.wideTiles = policy }
        GEMMKernel.wideTiles = true
        if GEMMKernel.current == .avx512 { XCTAssertEqual(GEMMKernel.current.tileColumns(n: 4 * 260), 48) }
        let data = [19, 19].enumerated().map { i, b in
            convert(randomBatch(wide, batch: b, steps: 4, seed: UInt64(300 + i)), to: Float.self)
        }
        let (alone, _) = try train(shards: 2, workers: 1, batches: data, steps: 2, config: wide)
        let (together, rounds) = try train(shards: 2, workers: 2, batches: data, steps: 2, config: wide)
        XCTAssertEqual(rounds, 2, "both minibatches run in lockstep")
        XCTAssertEqual(together, alone, "the step group changed the bits")
    }

    func testAStepGroupIsMadeOnlyWhenEveryLocalShardHasItsOwnWorkerOnItsOwnCoreAndRIsLargeOrItIsForced() {
        typealias W = ShardWorkers<Float>
        let ours = GEMMKernel.current != .openblas
        func fits(_ shards: Int, _ workers: Int, _ h: Int, _ mode: StepGroup.Mode, streaming: Bool = true) -> Bool {
            W.stepGroupFits(
                localShards: shards, workers: workers, hidden: h, cores: 2, mode: mode, streaming: streaming)
        }
        // By default (.auto) only where R is large for the per-step kernel: with a streaming one
        // (AVX-512 float32) H = 2048 yes, H = 1024 no; without one (AVX2, bf16) H = 1024 yes, H = 512 no.
        XCTAssertEqual(fits(2, 2, 2048, .auto), ours)
        XCTAssertFalse(fits(2, 2, 1024, .auto))
        XCTAssertEqual(fits(2, 2, 1024, .auto, streaming: false), ours)
        XCTAssertFalse(fits(2, 2, 512, .auto, streaming: false))
        XCTAssertEqual(fits(2, 2, 64, .on), ours)
        XCTAssertFalse(fits(2, 2, 1024, .off, streaming: false))
        // Never unless every local shard has its own worker, each on a core of its own.
        XCTAssertFalse(fits(4, 2, 1024, .on))
        XCTAssertFalse(fits(4, 4, 1024, .on))
        XCTAssertFalse(fits(1, 1, 1024, .on))
        XCTAssertFalse(
            ShardWorkers<Double>.stepGroupFits(
                localShards: 2, workers: 2, hidden: 1024, cores: 2, mode: .on, streaming: true))
    }

    /// Only our AVX-512 float32 kernel streams its per-step GEMMs (it prefetches C and the next B
    /// sliver); the AVX2 and bf16 kernels and OpenBLAS do not, so their groups start at H = 724.
    func testOnlyTheAVX512Float32KernelStreamsItsPerStepGEMMs() {
        XCTAssertEqual(Precision.float32.perStepGEMMStreams, GEMMKernel.current == .avx512)
        XCTAssertFalse(Precision.bf16.perStepGEMMStreams)
        #if arch(x86_64)
            XCTAssertEqual(lstm_gemm_streams_per_step(GEMMKernel.avx512.rawValue), 1)
        #endif
        XCTAssertEqual(lstm_gemm_streams_per_step(GEMMKernel.avx2.rawValue), 0)
        XCTAssertEqual(lstm_gemm_streams_per_step(GEMMKernel.openblas.rawValue), 0)
    }
}
