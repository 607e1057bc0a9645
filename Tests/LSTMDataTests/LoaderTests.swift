import HDF5Kit
import LSTMData
import LSTMKit
import XCTest

/// BatchLoader: exact minibatch contents for every form, shuffling, resume, prefetch, epochs.
final class LoaderTests: DataTestCase {

    /// Features [n, t, i] with value 1000·seq + 10·step + feature, so any element says where it came from.
    private func features(n: Int, t: Int, i: Int) -> [Float] {
        var out: [Float] = []
        for s in 0..<n {
            for k in 0..<t {
                for j in 0..<i { out.append(Float(1000 * s + 10 * k + j)) }
            }
        }
        return out
    }

    private func writeFeatures(
        _ name: String, n: Int, t: Int, i: Int, targets: SequenceTargets,
        lengths: [Int32]? = nil
    ) throws -> String {
        let p = path(name)
        let writer = try DatasetWriter(path: p)
        try writer.writeSequences(
            split: "train", count: n, steps: t, inputs: .features(features(n: n, t: t, i: i), width: i),
            targets: targets, lengths: lengths)
        try writer.commit()
        return p
    }

    private func writeStream(_ name: String, length: Int) throws -> String {
        let p = path(name)
        let writer = try DatasetWriter(path: p)
        try writer.writeTokenStream(split: "train", tokens: (0..<length).map { Int32($0) })
        try writer.commit()
        return p
    }

    func testFeaturesWithPerStepValuesRoundTripInFileOrder() throws {
        let (n, t, i, o) = (5, 3, 2, 2)
        let y = (0..<(n * t * o)).map { Float($0) * 0.5 }
        let p = try writeFeatures("a.h5", n: n, t: t, i: i, targets: .valuesPerStep(y, width: o))
        let loader = try BatchLoader(path: p, split: "train", batchSize: 2, shuffle: false)
        XCTAssertEqual(loader.batchesPerEpoch, 3)
        let batches = try epoch(loader)
        XCTAssertEqual(batches.map(\.batchSize), [2, 2, 1])
        XCTAssertEqual(batches.flatMap(\.featureValues), features(n: n, t: t, i: i))
        XCTAssertEqual(batches.flatMap(\.targetValues), y)
        XCTAssertTrue(batches.allSatisfy { $0.steps == t && $0.lengths == nil })
    }

    func testFeaturesWithPerSequenceValuesRoundTripWhenShuffled() throws {
        let (n, t, i) = (7, 2, 3)
        let y = (0..<n).map { Float($0) + 0.25 }
        let p = try writeFeatures("b.h5", n: n, t: t, i: i, targets: .valuesPerSequence(y, width: 1))
        let loader = try BatchLoader(path: p, split: "train", batchSize: 3, shuffle: true, seed: 9)
        let all = features(n: n, t: t, i: i)
        for k in 0..<loader.batchesPerEpoch {
            let rows = loader.sampleIndices(LoaderCursor(epoch: 0, position: k))
            let batch = try XCTUnwrap(loader.next())
            XCTAssertEqual(batch.featureValues, rows.flatMap { all[($0 * t * i)..<(($0 + 1) * t * i)] })
            XCTAssertEqual(batch.targetValues, rows.map { y[$0] })
        }
        XCTAssertNil(try loader.next())
    }

    func testTokenIdsWithClassIdsRoundTrip() throws {
        let (n, t) = (4, 3)
        let x = (0..<(n * t)).map { Int32($0 % 5) }
        let perStep = (0..<(n * t)).map { Int32(($0 * 7) % 4) }
        let perSequence: [Int32] = [3, 0, 2, 1]
        let p = path("c.h5")
        let writer = try DatasetWriter(path: p)
        try writer.writeSequences(
            split: "train", count: n, steps: t, inputs: .tokens(x), targets: .classesPerStep(perStep))
        try writer.writeSequences(
            split: "val", count: n, steps: t, inputs: .tokens(x), targets: .classesPerSequence(perSequence))
        try writer.commit()
        let train = try epoch(BatchLoader(path: p, split: "train", batchSize: 3, shuffle: false))
        XCTAssertEqual(train.flatMap(\.tokenValues), x)
        XCTAssertEqual(train.flatMap(\.classValues), perStep)
        let val = try epoch(BatchLoader(path: p, split: "val", batchSize: 4, shuffle: false))
        XCTAssertEqual(val.count, 1)
        XCTAssertEqual(val[0].tokenValues, x)
        XCTAssertEqual(val[0].classValues, perSequence)
    }

    func testLengthsPassThroughWithTheirSequences() throws {
        let (n, t) = (5, 4)
        let lengths: [Int32] = [4, 1, 3, 2, 4]
        let p = try writeFeatures(
            "d.h5", n: n, t: t, i: 1, targets: .classesPerSequence([0, 1, 0, 1, 0]), lengths: lengths)
        let loader = try BatchLoader(path: p, split: "train", batchSize: 2, seed: 3)
        for k in 0..<loader.batchesPerEpoch {
            let rows = loader.sampleIndices(LoaderCursor(epoch: 0, position: k))
            let batch = try XCTUnwrap(loader.next())
            XCTAssertEqual(batch.lengths, rows.map { lengths[$0] })
            XCTAssertEqual(batch.featureValues.first, Float(1000 * rows[0]))
        }
    }

    func testTokenStreamWindowsHoldShiftedTargets() throws {
        let length = 23
        let t = 4
        let p = try writeStream("e.h5", length: length)
        let loader = try BatchLoader(path: p, split: "train", batchSize: 2, shuffle: true, seed: 5, seqLength: t)
        XCTAssertEqual(loader.sampleCount, (length - 1) / t)  // 5 windows
        var seen: [Int] = []
        while let batch = try loader.next() {
            XCTAssertEqual(batch.steps, t)
            let x = batch.tokenValues
            let y = batch.classValues
            for b in 0..<batch.batchSize {
                let start = Int(x[b * t])
                XCTAssertEqual(start % t, 0, "windows are non-overlapping, starting at k·T")
                XCTAssertEqual(Array(x[(b * t)..<((b + 1) * t)]), (start..<(start + t)).map { Int32($0) })
                XCTAssertEqual(Array(y[(b * t)..<((b + 1) * t)]), ((start + 1)...(start + t)).map { Int32($0) })
                seen.append(start / t)
            }
        }
        XCTAssertEqual(seen.sorted(), Array(0..<5))
    }

    func testStatefulLanesAreContiguousAndContinueAcrossMinibatches() throws {
        let length = 50
        let b = 3
        let t = 4
        let p = try writeStream("f.h5", length: length)
        let loader = try BatchLoader(path: p, split: "train", batchSize: b, seqLength: t, mode: .stateful)
        let lane = (length - 1) / b / t * t  // 16
        XCTAssertEqual(loader.laneLength, lane)
        XCTAssertEqual(loader.batchesPerEpoch, lane / t)
        XCTAssertFalse(loader.shuffle)
        let batches = try epoch(loader)
        XCTAssertEqual(batches.count, 4)
        for (k, batch) in batches.enumerated() {
            XCTAssertEqual(batch.batchSize, b)
            for l in 0..<b {
                let first = l * lane + k * t
                XCTAssertEqual(
                    Array(batch.tokenValues[(l * t)..<((l + 1) * t)]), (first..<(first + t)).map { Int32($0) })
                XCTAssertEqual(
                    Array(batch.classValues[(l * t)..<((l + 1) * t)]), ((first + 1)...(first + t)).map { Int32($0) })
                if k + 1 < batches.count {
                    // The state carried from step T−1 of lane l continues at step 0 of lane l next time.
                    XCTAssertEqual(batch.classValues[l * t + t - 1], batches[k + 1].tokenValues[l * t])
                }
            }
        }
        // The next epoch repeats the same lanes.
        let again = try epoch(loader)
        XCTAssertTrue(zip(again, batches).allSatisfy { sameMinibatch($0, $1) })
    }

    func testShuffleIsAPermutationReproducibleFromSeedAndEpoch() throws {
        let n = 23
        let p = try writeFeatures(
            "g.h5", n: n, t: 1, i: 1, targets: .classesPerSequence([Int32](repeating: 0, count: n)))
        let loader = try BatchLoader(path: p, split: "train", batchSize: 5, seed: 42)
        func visited(_ l: BatchLoader) throws -> [Int] {
            try epoch(l).flatMap { $0.featureValues.map { Int($0) / 1000 } }
        }
        let e0 = try visited(loader)
        let e1 = try visited(loader)
        XCTAssertEqual(e0.sorted(), Array(0..<n))
        XCTAssertEqual(e1.sorted(), Array(0..<n))
        XCTAssertNotEqual(e0, e1, "each epoch draws a new order")
        XCTAssertNotEqual(e0, Array(0..<n))
        XCTAssertEqual(loader.order(epoch: 1).sorted(), Array(0..<n))
        // Batch membership follows order(epoch:); a fresh loader at epoch 1 repeats epoch 1.
        let order1 = loader.order(epoch: 1)
        XCTAssertEqual(Set(e1.prefix(5)), Set(order1.prefix(5)))
        let again = try BatchLoader(path: p, split: "train", batchSize: 5, seed: 42, cursor: LoaderCursor(epoch: 1))
        XCTAssertEqual(try visited(again), e1)
        let otherSeed = try BatchLoader(path: p, split: "train", batchSize: 5, seed: 43)
        XCTAssertNotEqual(try visited(otherSeed), e0)
    }

    func testLastMinibatchIsSmallerUnlessDropLast() throws {
        let p = try writeFeatures(
            "h.h5", n: 7, t: 1, i: 1, targets: .classesPerSequence([Int32](repeating: 0, count: 7)))
        XCTAssertEqual(try epoch(BatchLoader(path: p, split: "train", batchSize: 3)).map(\.batchSize), [3, 3, 1])
        let dropping = try BatchLoader(path: p, split: "train", batchSize: 3, dropLast: true)
        XCTAssertEqual(dropping.batchesPerEpoch, 2)
        XCTAssertEqual(try epoch(dropping).map(\.batchSize), [3, 3])
    }

    func testEpochEndsWithOneNilThenTheNextEpochBegins() throws {
        let p = try writeFeatures("i.h5", n: 4, t: 1, i: 1, targets: .classesPerSequence([0, 0, 0, 0]))
        let loader = try BatchLoader(path: p, split: "train", batchSize: 2)
        XCTAssertNotNil(try loader.next())
        XCTAssertNotNil(try loader.next())
        XCTAssertEqual(loader.cursor, LoaderCursor(epoch: 0, position: 2))
        XCTAssertNil(try loader.next())
        XCTAssertEqual(loader.cursor, LoaderCursor(epoch: 1, position: 0))
        XCTAssertNotNil(try loader.next())
        try loader.startEpoch(5)
        XCTAssertEqual(loader.cursor, LoaderCursor(epoch: 5, position: 0))
    }

    func testResumingFromAMidEpochCursorYieldsTheSameRemainingMinibatches() throws {
        let n = 11
        let p = try writeFeatures(
            "j.h5", n: n, t: 2, i: 2, targets: .valuesPerSequence((0..<n).map(Float.init), width: 1))
        let full = try BatchLoader(path: p, split: "train", batchSize: 3, seed: 7)
        var reference: [Minibatch<Float>] = []
        for _ in 0..<2 { reference += try epoch(full) }  // 4 + 4 minibatches
        let interrupted = try BatchLoader(path: p, split: "train", batchSize: 3, seed: 7)
        var before: [Minibatch<Float>] = []
        for _ in 0..<6 {
            if let batch = try interrupted.next() { before.append(batch) }
        }  // 4 batches, nil, then 1 batch of epoch 1
        let saved = interrupted.cursor
        XCTAssertEqual(saved, LoaderCursor(epoch: 1, position: 1))
        let data = try JSONEncoder().encode(saved)
        let resumed = try BatchLoader(
            path: p, split: "train", batchSize: 3, seed: 7,
            cursor: JSONDecoder().decode(LoaderCursor.self, from: data))
        let rest = try epoch(resumed)
        XCTAssertEqual(rest.count, 3)
        XCTAssertTrue(zip(before + rest, reference).allSatisfy { sameMinibatch($0, $1) })
        XCTAssertEqual(before.count + rest.count, reference.count)
    }

    func testPrefetchGivesTheSameMinibatchesAsNoPrefetch() throws {
        let n = 9
        let p = try writeFeatures(
            "k.h5", n: n, t: 3, i: 2, targets: .classesPerStep((0..<(n * 3)).map { Int32($0 % 3) }),
            lengths: (0..<n).map { Int32($0 % 3 + 1) })
        let a = try BatchLoader(path: p, split: "train", batchSize: 2, seed: 1, prefetch: true)
        let b = try BatchLoader(path: p, split: "train", batchSize: 2, seed: 1, prefetch: false)
        for _ in 0..<3 {
            let x = try epoch(a)
            let y = try epoch(b)
            XCTAssertEqual(x.count, 5)
            XCTAssertEqual(x.count, y.count)
            XCTAssertTrue(zip(x, y).allSatisfy { sameMinibatch($0, $1) })
        }
    }

    func testSeekWhileAPrefetchIsPendingReturnsTheSoughtMinibatch() throws {
        let n = 8
        let p = try writeFeatures(
            "l.h5", n: n, t: 1, i: 1, targets: .classesPerSequence([Int32](repeating: 1, count: n)))
        let loader = try BatchLoader(path: p, split: "train", batchSize: 2, seed: 2)
        let first = try XCTUnwrap(loader.next())  // prefetches position 1
        _ = try loader.next()
        try loader.seek(to: LoaderCursor(epoch: 0, position: 0))
        XCTAssertTrue(sameMinibatch(try XCTUnwrap(loader.next()), first))
        XCTAssertThrowsError(try loader.seek(to: LoaderCursor(epoch: 0, position: 9)))
    }

    func testAHeldMinibatchKeepsItsContentsWhileLaterOnesAreRead() throws {
        let n = 8
        let p = try writeFeatures(
            "m.h5", n: n, t: 2, i: 2, targets: .classesPerSequence([Int32](repeating: 0, count: n)))
        let loader = try BatchLoader(path: p, split: "train", batchSize: 2, shuffle: false)
        let held = try XCTUnwrap(loader.next())
        let copy = held.featureValues.map { $0 }
        while try loader.next() != nil {}
        XCTAssertEqual(held.featureValues, copy)
        XCTAssertEqual(copy.first, 0)
    }

    func testStreamLoaderArgumentsAreChecked() throws {
        let p = try writeStream("n.h5", length: 10)
        assertDatasetError(.invalidArgument, file: p, object: "train", mentions: ["seq_length"]) {
            try BatchLoader(path: p, split: "train", batchSize: 2)
        }
        assertDatasetError(.invalidArgument, file: p, object: "train", mentions: ["never shuffled"]) {
            try BatchLoader(path: p, split: "train", batchSize: 2, shuffle: true, seqLength: 2, mode: .stateful)
        }
        assertDatasetError(.shapeMismatch, file: p, object: "train/tokens", mentions: ["too short", "4 lanes"]) {
            try BatchLoader(path: p, split: "train", batchSize: 4, seqLength: 3, mode: .stateful)
        }
        assertDatasetError(.shapeMismatch, file: p, object: "train/tokens", mentions: ["no window"]) {
            try BatchLoader(path: p, split: "train", batchSize: 1, seqLength: 10)
        }
    }

    func testLoadedMinibatchesTrainTheModel() throws {
        let p = path("adding.h5")
        try Generators.writeAdding(to: p, steps: 6, counts: SplitCounts(train: 16, val: 0, test: 0), seed: 1)
        let config = ModelConfig(input: .features(size: 2), hiddenSize: 4, outputSize: 1, head: .last, loss: .mse)
        let file = try DatasetFile(path: p)
        try file.check(against: config, split: "train")
        let params = ParameterSet<Float>(config: config, seed: 1)
        let trainer = Trainer(
            network: try LSTMNetwork<Float>(config: config), parameters: params,
            optimizer: Adam<Float>(layout: params.layout, learningRate: 0.01), maxBatch: 8, maxSteps: 6)
        let loader = try BatchLoader(file: file, split: "train", batchSize: 8)
        // 40 epochs of 2 minibatches: the targets (a sum of two values in [0, 1)) are learnable
        // at least down to their variance, ~0.17, from an initial MSE near 1.
        var epochLosses: [Double] = []
        for _ in 0..<40 {
            var losses: [Double] = []
            while let batch = try loader.next() { losses.append(try trainer.train(batch).loss) }
            XCTAssertEqual(losses.count, 2)
            XCTAssertTrue(losses.allSatisfy { $0.isFinite && $0 > 0 }, "\(losses)")
            epochLosses.append(losses.reduce(0, +) / Double(losses.count))
        }
        let (first, last) = (epochLosses[0], epochLosses[epochLosses.count - 1])
        XCTAssertLessThan(last, first / 3, "the loss should fall by more than 3×: \(epochLosses)")
    }
}
