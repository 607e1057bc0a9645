import CHDF5
import Foundation
import HDF5Kit
import XCTest

/// A float type is float16/32/64 only if it is exactly IEEE 754 binary16/32/64 little-endian:
/// class and size alone let a damaged datatype (a flipped mantissa size) or another byte order
/// through, and HDF5 would then convert the values silently.
final class FloatLayoutTests: HDF5TestCase {
    /// Writes `values` (converted by HDF5) into a new dataset `name` of the float type `make` builds.
    private func writeDataset(_ file: String, _ name: String, _ values: [Float], type make: () -> hid_t) {
        let fid = H5Fopen(file, H5F_ACC_RDWR, hid_t(H5P_DEFAULT))
        precondition(fid >= 0)
        defer { H5Fclose(fid) }
        let type = make()
        defer { H5Tclose(type) }
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let d = H5Dcreate2(fid, name, type, space, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
        precondition(d >= 0)
        defer { H5Dclose(d) }
        precondition(H5Dwrite(d, H5T_NATIVE_FLOAT, 0, 0, hid_t(H5P_DEFAULT), values) >= 0)
    }

    func testOnlyExactIEEELittleEndianFloatsAreClassifiedAsFloats() throws {
        let file = path("layouts.h5")
        let f = try HDF5File.create(file)
        try f.root.write("f32", [Float(1.5), -2])
        try f.root.write("f64", [1.5, -2.0])
        try f.root.write("f16", [Float(1.5), -2], storing: .float16)
        try f.close()
        // One flipped bit in the datatype message: mantissa size 23 → 21.
        writeDataset(file, "mantissa21", [1.5, -2]) {
            let t = H5Tcopy(H5T_IEEE_F32LE)
            precondition(H5Tset_fields(t, 31, 23, 8, 0, 21) >= 0)
            return t
        }
        writeDataset(file, "bigEndian", [1.5, -2]) { H5Tcopy(H5T_IEEE_F32BE) }
        writeDataset(file, "bias126", [1.5, -2]) {
            let t = H5Tcopy(H5T_IEEE_F32LE)
            precondition(H5Tset_ebias(t, 126) >= 0)
            return t
        }

        let g = try HDF5File.open(file)
        XCTAssertEqual(try g.root.openDataset("f32").elementType, .float32)
        XCTAssertEqual(try g.root.openDataset("f64").elementType, .float64)
        XCTAssertEqual(try g.root.openDataset("f16").elementType, .float16, "the float16 we write is IEEE binary16")
        for (name, mentions) in [
            ("mantissa21", ["non-IEEE float32", "mantissa bits 0…20 (21 bits)"]),
            ("bigEndian", ["non-IEEE float32", "big or other-endian"]),
            ("bias126", ["non-IEEE float32", "bias 126"])
        ] {
            let d = try g.root.openDataset(name)
            XCTAssertFalse(d.elementType.isFloat, "\(name) is \(d.elementType)")
            for text in mentions {
                XCTAssertTrue(d.elementType.description.contains(text), "\(name): \(d.elementType)")
            }
            assertHDF5Error(.typeMismatch, mentions: [name, "non-IEEE float32"]) { try d.read(as: Float.self) }
            assertHDF5Error(.typeMismatch, mentions: [name]) { try d.read(as: Float.self, converting: true) }
        }
    }
}
