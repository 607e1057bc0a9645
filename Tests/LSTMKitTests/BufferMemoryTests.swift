import CKernels
import Foundation
import XCTest

@testable import LSTMKit

/// Where a Buffer's memory comes from (`Allocation.raw`, `lstm_allocate`): zeroed, and blocks of
/// 2 MiB or more on a huge page boundary, advised onto transparent huge pages.
final class BufferMemoryTests: XCTestCase {
    func testANewBufferHoldsZerosEvenWhereAFreedOneLeftOtherValues() {
        for _ in 0..<4 {
            let old = Buffer<Float>(count: 1000)
            old.base.update(repeating: -1.5, count: old.count)
        }
        let floats = Buffer<Float>(count: 1000)
        XCTAssertTrue(floats.pointer.allSatisfy { $0 == 0 && $0.sign == .plus })
        let doubles = Buffer<Double>(count: 500)
        XCTAssertTrue(doubles.pointer.allSatisfy { $0 == 0 && $0.sign == .plus })
    }

    func testABufferOfTwoMiBOrMoreStartsOnAHugePageAndIsAdvisedOntoHugePages() throws {
        #if os(Linux)
            try XCTSkipUnless(lstm_huge_pages() != 0, "LSTM_HUGE_PAGES=off is set for this process")
            let big = Buffer<Float>(count: 3 << 19)  // 6 MiB
            let address = UInt(bitPattern: big.base)
            XCTAssertEqual(address % UInt(lstm_huge_page_bytes()), 0)
            XCTAssertTrue(try vmFlags(at: address).contains("hg"), "no MADV_HUGEPAGE on the block")
            XCTAssertTrue(big.pointer.allSatisfy { $0 == 0 })
        #endif
    }

    /// The VmFlags of the mapping that holds `address` (/proc/self/smaps): "hg" marks MADV_HUGEPAGE.
    private func vmFlags(at address: UInt) throws -> [Substring] {
        // read to the end: String(contentsOfFile:) stops at 4 KiB of a /proc file (its size reads 0)
        let data = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps")).readToEnd() ?? Data()
        let smaps = String(decoding: data, as: UTF8.self)
        var inside = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let first = fields.first else { continue }
            if first.contains("-") && !first.hasSuffix(":") {  // "start-end perms offset dev inode path"
                let ends = first.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = ends.count == 2 && ends[0] <= address && address < ends[1]
            } else if inside && first == "VmFlags:" {
                return Array(fields.dropFirst())
            }
        }
        XCTFail("no mapping in /proc/self/smaps holds 0x\(String(address, radix: 16))")
        return []
    }
}
