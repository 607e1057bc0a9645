import Foundation
import HDF5Kit
import LSTMKit
import XCTest

@testable import LSTMIO

/// A checkpoint's epoch is the epochs trained, a fraction mid-epoch; older checkpoints hold an integer.
final class CheckpointEpochTests: XCTestCase {
    func testAFractionalEpochRoundTripsAndInspectShowsItAsTheConsoleDoes() throws {
        let dir = try CheckpointFixtures.temporaryDirectory(self)
        var c = CheckpointFixtures.fullCheckpoint()
        c.epoch = Epochs.trained(epoch: 2, position: 1, perEpoch: 3)
        try c.save(to: dir + "/c.h5")
        let back = try Checkpoint.load(from: dir + "/c.h5")
        XCTAssertEqual(back.epoch, 2.3333)
        XCTAssertTrue(
            Inspection.checkpointSummary(back).contains("progress: global step 1234, epoch 2.33\n"),
            Inspection.checkpointSummary(back))
    }

    func testAnIntegerEpochOfAnOlderCheckpointStillReads() throws {
        let dir = try CheckpointFixtures.temporaryDirectory(self)
        try CheckpointFixtures.fullCheckpoint().save(to: dir + "/c.h5")
        let file = try HDF5File.open(dir + "/c.h5", mode: .readWrite)
        // As checkpoints were written before epochs had fractions (and before checksums).
        try file.root.setAttribute("epoch", 7)
        try file.root.removeAttribute("checksums")
        try file.close()
        XCTAssertEqual(try Checkpoint.load(from: dir + "/c.h5").epoch, 7)
    }

    func testANegativeOrNonFiniteEpochIsRefused() throws {
        let dir = try CheckpointFixtures.temporaryDirectory(self)
        for bad in [-0.5, Double.nan, Double.infinity] {
            var c = CheckpointFixtures.fullCheckpoint()
            c.epoch = bad
            XCTAssertThrowsError(try c.save(to: dir + "/c-\(bad).h5"), "epoch \(bad)")
        }
    }
}
