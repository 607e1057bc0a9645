import Dispatch
import Foundation
import HDF5Kit
import XCTest

/// Collects failures from worker threads.
private final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []
    func add(_ message: String) {
        lock.lock()
        messages.append(message)
        lock.unlock()
    }
    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return messages
    }
}

final class ConcurrencyTests: HDF5TestCase {

    func testConcurrentSlabReadsFromEightThreadsReturnCorrectData() throws {
        let p = path("concurrent.h5")
        let rows = 64
        let cols = 8
        let values = (0..<(rows * cols)).map { Float($0) }
        do {
            let f = try HDF5File.create(p)
            try f.root.write("x", values, shape: [rows, cols], chunks: [4, cols], compression: 1)
            try f.root.write("y", values.map { Double($0) * 2 }, shape: [rows, cols])
        }
        let file = try HDF5File.open(p)
        let shared = try file.root.openDataset("x")
        let failures = FailureLog()

        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            do {
                // Each worker also opens its own handle and touches attributes and groups concurrently.
                let own = try file.root.openDataset("y")
                for repetition in 0..<25 {
                    let start = (worker * 8 + repetition) % (rows - 4)
                    let slab = try shared.readRows(start..<(start + 4), as: Float.self)
                    if slab != Array(values[(start * cols)..<((start + 4) * cols)]) {
                        failures.add("worker \(worker) rep \(repetition): wrong slab at row \(start)")
                    }
                    var buffer = [Double](repeating: 0, count: 3 * cols)
                    let indices = [start + 3, start, start + 1]
                    try buffer.withUnsafeMutableBufferPointer { _ = try own.readRows(indices: indices, into: $0) }
                    let expected = indices.flatMap { r in (0..<cols).map { Double((r * cols + $0) * 2) } }
                    if buffer != expected { failures.add("worker \(worker) rep \(repetition): wrong index rows") }
                    _ = try file.root.memberNames()
                    // An expected failure on one thread must not disturb reads on others.
                    if (try? file.root.openDataset("missing-\(worker)")) != nil {
                        failures.add("worker \(worker): opening a missing dataset succeeded")
                    }
                }
            } catch {
                failures.add("worker \(worker): \(error)")
            }
        }
        XCTAssertEqual(failures.all, [])
    }
}
