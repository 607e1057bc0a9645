import Foundation
import HDF5Kit
import XCTest

final class GroupTests: HDF5TestCase {

    func testNestedGroupPathsAreCreatedAndExistChecksEachComponent() throws {
        let f = try HDF5File.create(path("g.h5"))
        let c = try f.root.createGroup("a/b/c")
        XCTAssertEqual(c.path, "/a/b/c")
        try c.write("ds", [Float(1)])
        XCTAssertTrue(f.root.exists("a"))
        XCTAssertTrue(f.root.exists("a/b"))
        XCTAssertTrue(f.root.exists("a/b/c/ds"))
        XCTAssertTrue(f.root.exists("/a/b/c"))
        XCTAssertFalse(f.root.exists("a/x/c"), "missing middle component")
        XCTAssertFalse(f.root.exists("x"))
        XCTAssertFalse(f.root.exists("a/b/c/ds/deeper"), "a dataset has no members")
        let b = try f.root.openGroup("a/b")
        XCTAssertTrue(b.exists("c/ds"))
        XCTAssertTrue(b.exists("/a"), "absolute paths resolve from the root")
        XCTAssertEqual(try b.openGroup("c").path, "/a/b/c")
    }

    func testMemberNamesAreSortedAndIncludeGroupsAndDatasets() throws {
        let f = try HDF5File.create(path("m.h5"))
        try f.root.createGroup("zeta")
        try f.root.write("alpha", [Int32(1)])
        try f.root.createGroup("mid/inner")
        XCTAssertEqual(try f.root.memberNames(), ["alpha", "mid", "zeta"])
        XCTAssertEqual(try f.root.openGroup("mid").memberNames(), ["inner"])
        XCTAssertEqual(try f.root.openGroup("zeta").memberNames(), [])
    }

    func testGroupsPersistAcrossReopen() throws {
        let p = path("persist.h5")
        do {
            let f = try HDF5File.create(p)
            try f.root.createGroup("train/inputs")
        }
        let f = try HDF5File.open(p)
        XCTAssertTrue(f.root.exists("train/inputs"))
        XCTAssertEqual(try f.root.openGroup("train").memberNames(), ["inputs"])
    }

    func testCreatingExistingGroupOrDatasetThrowsAlreadyExists() throws {
        let f = try HDF5File.create(path("dup.h5"))
        try f.root.createGroup("g")
        try f.root.write("g/d", [Double(1)])
        assertHDF5Error(.alreadyExists, mentions: ["/g"]) { try f.root.createGroup("g") }
        assertHDF5Error(.alreadyExists, mentions: ["/g/d"]) { try f.root.write("g/d", [Double(2)]) }
        XCTAssertEqual(try f.root.read("g/d", as: Double.self), [1])
    }
}
