import Foundation
import HDF5Kit
import XCTest

final class AttributeTests: HDF5TestCase {

    private func setAllKinds(on object: HDF5Object, tag: String) throws {
        try object.setAttribute("name", "lstm \(tag) ünïcode")
        try object.setAttribute("epochs", 42)
        try object.setAttribute("lr", 0.001)
        try object.setAttribute("sizes", [3, 50, -7])
        try object.setAttribute("weights", [Float(0.5), -1.25])
        try object.setAttribute("history", [0.1, 0.2, 0.3])
        try object.setAttribute("labels", ["a", "", "longer label"])
    }

    private func assertAllKinds(
        on object: HDF5Object, tag: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        XCTAssertEqual(try object.attribute("name", as: String.self), "lstm \(tag) ünïcode", file: file, line: line)
        XCTAssertEqual(try object.attribute("epochs", as: Int.self), 42, file: file, line: line)
        XCTAssertEqual(try object.attribute("lr", as: Double.self), 0.001, file: file, line: line)
        XCTAssertEqual(try object.attribute("sizes", as: [Int].self), [3, 50, -7], file: file, line: line)
        XCTAssertEqual(try object.attribute("weights", as: [Float].self), [0.5, -1.25], file: file, line: line)
        XCTAssertEqual(try object.attribute("history", as: [Double].self), [0.1, 0.2, 0.3], file: file, line: line)
        XCTAssertEqual(
            try object.attribute("labels", as: [String].self), ["a", "", "longer label"],
            file: file, line: line)
        XCTAssertEqual(
            try object.attributeNames(),
            ["epochs", "history", "labels", "lr", "name", "sizes", "weights"], file: file, line: line)
    }

    func testEveryAttributeKindRoundTripsOnFileGroupAndDatasetAcrossReopen() throws {
        let p = path("attrs.h5")
        do {
            let f = try HDF5File.create(p)
            try setAllKinds(on: f.root, tag: "file")
            try setAllKinds(on: f.root.createGroup("g"), tag: "group")
            try setAllKinds(on: f.root.write("g/d", [Float(1), 2]), tag: "dataset")
        }
        let f = try HDF5File.open(p)
        try assertAllKinds(on: f.root, tag: "file")
        try assertAllKinds(on: f.root.openGroup("g"), tag: "group")
        try assertAllKinds(on: f.root.openDataset("g/d"), tag: "dataset")
    }

    func testOverwritingAnAttributeReplacesValueAndKind() throws {
        let f = try HDF5File.create(path("over.h5"))
        let d = try f.root.write("d", [Int64(1)])
        try d.setAttribute("x", 1)
        try d.setAttribute("x", 2)
        XCTAssertEqual(try d.attribute("x", as: Int.self), 2)
        try d.setAttribute("x", "now a string")
        XCTAssertEqual(try d.attribute("x", as: String.self), "now a string")
        try d.setAttribute("x", [1.5, 2.5])
        XCTAssertEqual(try d.attribute("x"), .doubles([1.5, 2.5]))
        XCTAssertEqual(try d.attributeNames(), ["x"])
    }

    func testHasAttributeAndRemoveAttribute() throws {
        let f = try HDF5File.create(path("has.h5"))
        XCTAssertFalse(f.root.hasAttribute("version"))
        try f.root.setAttribute("version", 3)
        XCTAssertTrue(f.root.hasAttribute("version"))
        try f.root.removeAttribute("version")
        XCTAssertFalse(f.root.hasAttribute("version"))
        XCTAssertEqual(try f.root.attributeNames(), [])
    }

    func testGenericAttributeReadReportsTheStoredKind() throws {
        let f = try HDF5File.create(path("generic.h5"))
        let g = try f.root.createGroup("g")
        try g.setAttribute("s", "text")
        try g.setAttribute("i", -3)
        try g.setAttribute("d", 2.5)
        try g.setAttribute("is", [1, 2])
        try g.setAttribute("fs", [Float(1.5)])
        try g.setAttribute("ds", [2.5])
        try g.setAttribute("ss", ["p", "q"])
        XCTAssertEqual(try g.attribute("s"), .string("text"))
        XCTAssertEqual(try g.attribute("i"), .int(-3))
        XCTAssertEqual(try g.attribute("d"), .double(2.5))
        XCTAssertEqual(try g.attribute("is"), .ints([1, 2]))
        XCTAssertEqual(try g.attribute("fs"), .floats([1.5]))
        XCTAssertEqual(try g.attribute("ds"), .doubles([2.5]))
        XCTAssertEqual(try g.attribute("ss"), .strings(["p", "q"]))
    }

    func testEmptyArrayAttributesRoundTrip() throws {
        let f = try HDF5File.create(path("empty.h5"))
        try f.root.setAttribute("none", [Int]())
        try f.root.setAttribute("nostrings", [String]())
        XCTAssertEqual(try f.root.attribute("none", as: [Int].self), [])
        XCTAssertEqual(try f.root.attribute("nostrings", as: [String].self), [])
    }

    func testMissingAttributeAndWrongKindThrowNamingTheAttribute() throws {
        let f = try HDF5File.create(path("bad.h5"))
        let d = try f.root.write("d", [Float(1)])
        try d.setAttribute("lr", 0.1)
        assertHDF5Error(.notFound, mentions: ["/d@missing", path("bad.h5")]) {
            try d.attribute("missing", as: Int.self)
        }
        assertHDF5Error(.typeMismatch, mentions: ["/d@lr", "float64"]) {
            try d.attribute("lr", as: String.self)
        }
        assertHDF5Error(.typeMismatch, mentions: ["/d@lr"]) { try d.attribute("lr", as: [Int].self) }
        assertHDF5Error(.invalidArgument, mentions: ["NUL"]) { try d.setAttribute("bad", "a\u{0}b") }
    }
}
