import Foundation
import LSTMFiles
import LSTMKit
import XCTest

@testable import LSTMIO

final class CheckpointStoreTests: XCTestCase {
    typealias F = CheckpointFixtures

    /// A small checkpoint whose global step is `step` (so files can be told apart).
    private func checkpoint(step: Int) -> Checkpoint {
        Checkpoint(parameters: F.parameters(F.features, seed: UInt64(step)), optimizer: nil, globalStep: step)
    }

    private func files(_ store: CheckpointStore) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: store.directory).sorted()
    }

    func testStepFilesAreNamedWithEightDigitSteps() throws {
        let store = try CheckpointStore(directory: try F.temporaryDirectory(self), keepLast: 2)
        let path = try store.save(checkpoint(step: 1234), step: 1234)
        XCTAssertTrue(path.hasSuffix("/step-00001234.h5"), path)
        XCTAssertEqual(try files(store), ["latest.h5", "step-00001234.h5"])
    }

    func testKeepsOnlyTheLastKStepFiles() throws {
        let store = try CheckpointStore(directory: try F.temporaryDirectory(self), keepLast: 2)
        for step in [100, 200, 300, 400] { try store.save(checkpoint(step: step), step: step) }
        XCTAssertEqual(try store.steps(), [300, 400])
        XCTAssertEqual(try files(store), ["latest.h5", "step-00000300.h5", "step-00000400.h5"])
    }

    func testLatestIsTheMostRecentSave() throws {
        let store = try CheckpointStore(directory: try F.temporaryDirectory(self), keepLast: 1)
        for step in [10, 20, 30] { try store.save(checkpoint(step: step), step: step) }
        XCTAssertEqual(try store.latest()?.globalStep, 30)
        XCTAssertEqual(F.bits(try XCTUnwrap(store.latest()).parameters), F.bits(checkpoint(step: 30).parameters))
    }

    func testBestIsReplacedOnlyWhenIsBest() throws {
        let store = try CheckpointStore(directory: try F.temporaryDirectory(self), keepLast: 1)
        try store.save(checkpoint(step: 1), step: 1, isBest: true)
        try store.save(checkpoint(step: 2), step: 2, isBest: true)
        try store.save(checkpoint(step: 3), step: 3)
        try store.save(checkpoint(step: 4), step: 4)
        XCTAssertEqual(try store.best()?.globalStep, 2, "best survives its step file being pruned")
        XCTAssertEqual(try store.steps(), [4])
        XCTAssertEqual(try store.latest()?.globalStep, 4)
    }

    func testEmptyStoreHasNoLatestOrBest() throws {
        let store = try CheckpointStore(directory: try F.temporaryDirectory(self) + "/new/run", keepLast: 3)
        XCTAssertNil(try store.latest())
        XCTAssertNil(try store.best())
        XCTAssertEqual(try store.steps(), [])
    }

    func testLatestFallsBackToTheHighestStepFile() throws {
        let store = try CheckpointStore(directory: try F.temporaryDirectory(self), keepLast: 3)
        try store.save(checkpoint(step: 5), step: 5)
        try store.save(checkpoint(step: 6), step: 6)
        try FileManager.default.removeItem(atPath: store.latestPath)
        XCTAssertEqual(try store.latest()?.globalStep, 6)
    }

    func testFileJustSavedIsKeptEvenIfOlderThanTheOthers() throws {
        let store = try CheckpointStore(directory: try F.temporaryDirectory(self), keepLast: 2)
        for step in [100, 200, 300] { try store.save(checkpoint(step: step), step: step) }
        try store.save(checkpoint(step: 150), step: 150)  // e.g. a run resumed from an earlier checkpoint
        XCTAssertEqual(try store.steps(), [150, 300])
        XCTAssertEqual(try store.latest()?.globalStep, 150)
    }

    func testSavesLeaveNoTemporaryFiles() throws {
        let store = try CheckpointStore(directory: try F.temporaryDirectory(self), keepLast: 2)
        for step in 1...3 { try store.save(checkpoint(step: step), step: step, isBest: step == 2) }
        XCTAssertEqual(try F.temporaryFiles(in: store.directory), [])
    }

    func testOtherFilesInTheDirectoryAreLeftAlone() throws {
        let dir = try F.temporaryDirectory(self)
        try "notes".write(toFile: dir + "/step-notes.h5", atomically: true, encoding: .utf8)
        let store = try CheckpointStore(directory: dir, keepLast: 1)
        for step in 1...2 { try store.save(checkpoint(step: step), step: step) }
        XCTAssertEqual(try files(store), ["latest.h5", "step-00000002.h5", "step-notes.h5"])
    }

    func testKeepLastMustBePositive() throws {
        let dir = try F.temporaryDirectory(self)
        F.assertFileError(.invalidValue, .checkpoint, mentioning: "keepLast") {
            _ = try CheckpointStore(directory: dir, keepLast: 0)
        }
    }
}
