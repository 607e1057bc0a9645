import Foundation
import LSTMFiles
import LSTMKit
import ONNXProto
import XCTest

@testable import LSTMIO

/// Our safetensors reader and writer: the layout (header length, padded JSON header, raw
/// little-endian data), the fixture `safetensors.torch.save_file` wrote, and every malformed
/// header refused with a FileError before any tensor byte is read.
final class SafeTensorsTests: XCTestCase {
    typealias F = CheckpointFixtures

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Interop/Fixtures/fc_head.safetensors").path

    func testWrittenFilesHaveThePaddedHeaderAndRawLittleEndianData() throws {
        let dir = try F.temporaryDirectory(self)
        let path = dir + "/a.safetensors"
        try SafeTensorsFile.write(
            [("b", [2], [1.5, -2]), ("a.weight", [1, 3], [0, .leastNonzeroMagnitude, -0.0])],
            metadata: ["k": "v \"quoted\""], to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0, "header padded to 8 bytes")
        XCTAssertEqual(bytes.count, 8 + n + 4 * 5)
        XCTAssertEqual(Array(bytes[(8 + n)..<(8 + n + 4)]), [0x00, 0x00, 0xC0, 0x3F])  // 1.5 little-endian
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.metadata, ["k": "v \"quoted\""])
        XCTAssertEqual(file.entries["b"], .init(dtype: "F32", shape: [2], offsets: 0..<8))
        XCTAssertEqual(try file.floats("b"), [1.5, -2])
        XCTAssertEqual(
            try file.floats("a.weight").map(\.bitPattern), [0, Float.leastNonzeroMagnitude, -0.0].map(\.bitPattern))
        XCTAssertEqual(try F.temporaryFiles(in: dir), [])
    }

    func testTheFileSafetensorsWroteReads() throws {
        let file = try SafeTensorsFile(path: Self.fixture)
        XCTAssertEqual(
            file.entries.keys.sorted(),
            ["fc.bias", "fc.weight", "lstm.bias_hh_l0", "lstm.bias_ih_l0", "lstm.weight_hh_l0", "lstm.weight_ih_l0"])
        XCTAssertEqual(file.entries["lstm.weight_ih_l0"]?.shape, [16, 3])
        XCTAssertEqual(try file.floats("fc.weight").count, 12)
        XCTAssertTrue(try file.floats("lstm.weight_hh_l0").allSatisfy { $0.isFinite && abs($0) <= 0.5 })
    }

    /// Each malformed file is refused with an error naming the file and what is wrong.
    func testMalformedHeadersAreRefusedBeforeAnythingIsRead() throws {
        let dir = try F.temporaryDirectory(self)
        func file(header: String, data: Int = 0, length: UInt64? = nil) -> Data {
            var d = Data()
            withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(header.utf8))
            d.append(contentsOf: [UInt8](repeating: 0, count: data))
            return d
        }
        let cases: [(String, Data, String)] = [
            ("short", Data([1, 2, 3]), "at least an 8-byte header length"),
            ("long header", file(header: "{}", length: 1 << 40), "the header length is"),
            ("not json", file(header: "{nope"), "is not a JSON object"),
            ("dtype", file(header: #"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#, data: 4), "dtype Q9"),
            (
                "shape", file(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: 4),
                "shape must be"
            ),
            (
                "outside", file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 4),
                "lie outside the 4 data bytes"
            ),
            (
                "span", file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: 4),
                "span 4 bytes, but F32 [2] needs 8"
            ),
            (
                "overflow",
                file(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, data: 4),
                "is too large"
            ),
            ("metadata", file(header: #"{"__metadata__":{"k":1}}"#), "is not a string")
        ]
        for (name, bytes, expected) in cases {
            let path = dir + "/\(name).safetensors"
            try bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SafeTensorsFile(path: path), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("weights file '\(path)'"), message)
                XCTAssertTrue(message.contains(expected), "\(name): \(message)")
            }
        }
    }

    func testAnIntegerTensorIsNamedAsTheWrongType() throws {
        let dir = try F.temporaryDirectory(self)
        var d = Data()
        let header = #"{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array(header.utf8) + [1, 0, 0, 0])
        try d.write(to: URL(fileURLWithPath: dir + "/i.safetensors"))
        let file = try SafeTensorsFile(path: dir + "/i.safetensors")
        XCTAssertThrowsError(try file.floats("a")) {
            XCTAssertTrue("\($0)".contains("stores I32 values, expected F32"), "\($0)")
        }
    }

    /// The model's metadata (names, normalisation) goes into safetensors' `__metadata__` and
    /// ONNX's `metadata_props` as JSON arrays, and safetensors import reads it back.
    func testModelMetadataTravelsInSafetensorsAndONNX() throws {
        let dir = try F.temporaryDirectory(self)
        var checkpoint = Checkpoint(parameters: F.parameters(F.features), optimizer: nil)
        checkpoint.metadata = ModelMetadata(
            featureStatistics: ColumnStatistics(names: ["co2", "temp", "wind"], mean: [400, 15, 3], std: [20, 5, 1.5]),
            targetStatistics: ColumnStatistics(names: ["next_co2", "next_temp"], mean: [401, 15.5], std: [19, 4]))
        try WeightsExporter.export(checkpoint, format: .safetensors, to: dir + "/m.safetensors")
        let file = try SafeTensorsFile(path: dir + "/m.safetensors")
        XCTAssertEqual(file.metadata["feature_names"], #"["co2","temp","wind"]"#)
        XCTAssertEqual(file.metadata["head"], "last")
        let imported = try WeightsImporter.read(dir + "/m.safetensors")
        XCTAssertEqual(imported.metadata, checkpoint.metadata)
        XCTAssertEqual(imported.config, checkpoint.config)
        XCTAssertEqual(F.bits(imported.parameters), F.bits(checkpoint.parameters))

        let onnx = try ONNXExporter.build(checkpoint)
        let props = Dictionary(uniqueKeysWithValues: onnx.metadataProps.map { ($0.key, $0.value) })
        XCTAssertEqual(props["target_names"], #"["next_co2","next_temp"]"#)
        XCTAssertEqual(props["mean"], "[400,15,3]")
    }
}
