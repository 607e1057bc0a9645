import Foundation
import HDF5Kit
import XCTest

/// Files that lie are refused, naming the file and the object: checkpoints and exported weights
/// carry checksums verified on every load (and `lstm resume` falls back to the newest intact
/// step file); older files without them load with a one-line notice; weights whose shape claims
/// data the file does not hold, weights that are not finite, floats that are not exactly IEEE,
/// and damaged JSON attributes or groups are each refused with a message.
final class IntegrityCLITests: XCTestCase {
    nonisolated(unsafe) static var dir: URL!
    nonisolated(unsafe) static var setupError: Error?

    struct CommandFailed: Error, CustomStringConvertible { let description: String }

    @discardableResult
    static func ok(_ args: [String], in dir: URL? = nil) throws -> CLIResult {
        let r = try lstm(args, in: dir ?? Self.dir)
        if r.status != 0 {
            throw CommandFailed(description: "lstm \(args.joined(separator: " ")) exited \(r.status): \(r.output)")
        }
        return r
    }

    static let config = """
        model: {hidden_size: 6, head: last}
        loss: mse
        data: {file: adding.h5, batch_size: 8}
        training: {steps: 8}
        checkpoint: {dir: run, every: 4, keep: 3}
        logging: {progress: none}
        seed: 3
        """

    override class func setUp() {
        super.setUp()
        do {
            dir = try makeTemporaryDirectory()
            try ok([
                "prepare", "adding", "--steps", "6", "--train", "32", "--val", "8", "--test", "10", "--out", "adding.h5"
            ])
            try config.write(to: dir.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
            try ok(["train", "a.yaml"])
        } catch { setupError = error }
    }

    override class func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let e = Self.setupError { throw e }
    }

    private var dir: URL { Self.dir }
    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A copy of the trained run's latest checkpoint under `name`.
    private func copyOfLatest(_ name: String) throws -> String {
        try? FileManager.default.removeItem(atPath: path(name))
        try FileManager.default.copyItem(atPath: path("run/latest.h5"), toPath: path(name))
        return path(name)
    }

    /// A copy of the whole run directory (step files and latest.h5 as separate files).
    private func copyOfRun(_ name: String) throws -> String {
        try? FileManager.default.removeItem(atPath: path(name))
        try FileManager.default.copyItem(atPath: path("run"), toPath: path(name))
        return path(name)
    }

    private func flipTensorBit(_ file: String, _ tensor: String) throws {
        let extent = try XCTUnwrap(FileSurgery.dataExtent(file, tensor), "\(tensor) is contiguous")
        try FileSurgery.flip(file, at: extent.offset + extent.bytes / 2, mask: 0x04)
    }

    private func assertRefused(
        _ r: CLIResult, mentions: [String], _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(r.status, 1, "\(what): \(r.output)", file: file, line: line)
        XCTAssertFalse(r.signaled, what, file: file, line: line)
        for text in mentions {
            XCTAssertTrue(
                r.stderr.contains(text), "\(what) should mention '\(text)': \(r.output)", file: file, line: line)
        }
    }

    // MARK: Checksums

    func testAFlippedBitInACheckpointTensorIsRefusedByEveryCommandNamingTheFileAndTheTensor() throws {
        for tensor in ["/parameters/lstm.weight_hh_l0", "/optimizer/state/exp_avg_sq/lstm.weight_ih_l0"] {
            let damaged = try copyOfLatest("damaged.h5")
            try flipTensorBit(damaged, tensor)
            let commands: [[String]] = [
                ["evaluate", damaged, "--data", "adding.h5"],
                ["predict", damaged, "--data", "adding.h5", "--out", "pred.h5"],
                ["export", damaged, "--format", "pytorch", "--out", "out.pt.h5"],
                ["import", damaged, "--out", "imported.h5"],
                ["inspect", damaged],
                ["train", "a.yaml", "--init", damaged, "--set", "checkpoint.dir=run-init"]
            ]
            for args in commands {
                let r = try lstm(args, in: dir)
                assertRefused(r, mentions: ["damaged.h5", tensor, "checksum mismatch"], "\(args[0]) of \(tensor)")
            }
            for output in ["pred.h5", "out.pt.h5", "imported.h5", "run-init"] {
                XCTAssertFalse(FileManager.default.fileExists(atPath: path(output)), "\(output) was written")
            }
        }
    }

    func testAFlippedBitInExportedWeightsIsRefusedNamingTheFileAndTheTensor() throws {
        for (format, name, tensor) in [
            ("pytorch", "w.pt.h5", "/lstm.weight_hh_l0"), ("keras", "w.weights.h5", "/layers/lstm/cell/vars/1")
        ] {
            try Self.ok(["export", "run/latest.h5", "--format", format, "--out", name])
            try Self.ok(["import", name, "--out", "back.h5"])  // intact: loads
            try flipTensorBit(path(name), tensor)
            assertRefused(
                try lstm(["import", name, "--out", "back2.h5"], in: dir), mentions: [name, tensor, "checksum mismatch"],
                "import \(format)")
            assertRefused(
                try lstm(["evaluate", name, "--data", "adding.h5"], in: dir),
                mentions: [name, tensor, "checksum mismatch"],
                "evaluate \(format)")
        }
    }

    func testResumeWithADamagedLatestCheckpointTakesTheNewestIntactStepFileAndSaysSo() throws {
        let run = try copyOfRun("run-resume")
        // latest.h5 and step 8 (separate copies here) are both damaged; step 4 is intact.
        try flipTensorBit(run + "/latest.h5", "/parameters/lstm.weight_hh_l0")
        try flipTensorBit(run + "/step-00000008.h5", "/optimizer/state/exp_avg/head.weight")
        let r = try lstm(["resume", "run-resume"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(
            r.stderr.contains(
                "skipped: checkpoint '\(run)/latest.h5': /parameters/lstm.weight_hh_l0: checksum mismatch"), r.output)
        XCTAssertTrue(
            r.stderr.contains("skipped: checkpoint '\(run)/step-00000008.h5': /optimizer/state/exp_avg/head.weight"),
            r.output)
        XCTAssertTrue(
            r.stderr.contains("resuming from \(run)/step-00000004.h5 (step 4), the newest intact checkpoint"), r.output)
        XCTAssertTrue(r.output.contains("resuming run-resume at step 4"), r.output)
        try Self.ok(["inspect", "run-resume/latest.h5"])  // training went on and saved intact checkpoints
        try Self.ok(["inspect", "run-resume/step-00000008.h5"])

        // Nothing intact: refused, listing every file and why.
        let run2 = try copyOfRun("run-none")
        for name in ["latest.h5", "step-00000004.h5", "step-00000008.h5"] {
            try flipTensorBit(run2 + "/" + name, "/parameters/head.weight")
        }
        let none = try lstm(["resume", "run-none"], in: dir)
        assertRefused(none, mentions: ["no intact checkpoint to resume from"], "resume with nothing intact")
        for name in ["latest.h5", "step-00000004.h5", "step-00000008.h5"] {
            XCTAssertTrue(
                none.stderr.contains("checkpoint '\(run2)/\(name)': /parameters/head.weight: checksum mismatch"),
                none.output)
        }
    }

    func testACheckpointWithoutChecksumsStillLoadsWithAOneLineNotice() throws {
        let old = try copyOfLatest("old.h5")
        try FileSurgery.removeChecksums(old)
        let r = try lstm(["evaluate", "old.h5", "--data", "adding.h5"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        let notices = r.stderr.split(separator: "\n").filter { $0.contains("has no checksums") }
        XCTAssertEqual(
            notices,
            [
                "note: checkpoint 'old.h5' has no checksums (written before they were added), so damage to it cannot be detected; save it again to add them"
            ], r.output)
        // An intact file with checksums loads without a notice, and re-saving adds them.
        let fresh = try lstm(["evaluate", "run/latest.h5", "--data", "adding.h5"], in: dir)
        XCTAssertEqual(fresh.status, 0, fresh.output)
        XCTAssertFalse(fresh.stderr.contains("checksums"), fresh.output)
        try Self.ok(["import", "old.h5", "--out", "resaved.h5"])
        XCTAssertFalse(try Self.ok(["inspect", "resaved.h5"]).stderr.contains("checksums"))
    }

    // MARK: Exact float types

    func testAFlippedMantissaSizeIsRefusedWithTheTypeFoundInCheckpointsAndDatasets() throws {
        let old = try copyOfLatest("mantissa.h5")
        try FileSurgery.removeChecksums(old)  // as an older build wrote it: only the type check stands
        XCTAssertNotNil(
            try FileSurgery.replace(old, FileSurgery.float32Properties, with: FileSurgery.float32Mantissa21))
        for args in [
            ["evaluate", "mantissa.h5", "--data", "adding.h5"],
            ["export", "mantissa.h5", "--format", "pytorch", "--out", "m.pt.h5"]
        ] {
            assertRefused(
                try lstm(args, in: dir), mentions: ["mantissa.h5", "non-IEEE float32", "mantissa bits 0…20 (21 bits)"],
                args[0])
        }
        // A dataset's float32 inputs likewise.
        try? FileManager.default.removeItem(atPath: path("adding-m.h5"))
        try FileManager.default.copyItem(atPath: path("adding.h5"), toPath: path("adding-m.h5"))
        try FileSurgery.removeChecksums(path("adding-m.h5"))  // as h5py writes datasets
        XCTAssertNotNil(
            try FileSurgery.replace(
                path("adding-m.h5"), FileSurgery.float32Properties, with: FileSurgery.float32Mantissa21, all: true))
        assertRefused(
            try lstm(["evaluate", "run/latest.h5", "--data", "adding-m.h5"], in: dir),
            mentions: ["adding-m.h5", "non-IEEE float32"], "evaluate on the dataset")
    }

    // MARK: Weights that lie or are poisoned

    func testWeightsDeclaringAHugeShapeWithNoDataBehindThemAreRefusedAtOnce() throws {
        let lying = path("lying.pt.h5")
        do {
            let f = try HDF5File.create(lying)
            let h = 16384
            for (name, shape) in [
                ("lstm.weight_ih_l0", [4 * h, 2]), ("lstm.weight_hh_l0", [4 * h, h]), ("lstm.bias_ih_l0", [4 * h]),
                ("lstm.bias_hh_l0", [4 * h]), ("head.weight", [1, h]), ("head.bias", [1])
            ] {
                try f.root.createDataset(name, of: Float.self, shape: shape)  // declared, never written
            }
            try f.close()
        }
        // Under a 2 GiB address-space limit: reading the [65536, 16384] tensor (4 GiB) would abort.
        for args in [
            "import lying.pt.h5 --head last --loss mse --out l.h5", "evaluate lying.pt.h5 --data adding.h5"
        ] {
            let r = try lstm(["--help"], in: dir)  // the binary runs at all
            XCTAssertEqual(r.status, 0)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = [
                "-c", "ulimit -v 2097152; exec \"$0\" \(args)", productsDirectory.appendingPathComponent("lstm").path
            ]
            p.currentDirectoryURL = dir
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .exit, "\(args): \(text)")
            XCTAssertEqual(p.terminationStatus, 1, "\(args): \(text)")
            XCTAssertTrue(text.contains("lying.pt.h5"), text)
            XCTAssertTrue(text.contains("/lstm.weight_"), text)
            XCTAssertTrue(text.contains("the file stores only 0 bytes of it"), text)
        }
    }

    func testNonFiniteWeightsAreRefusedNamingTheTensorUnlessAllowed() throws {
        try Self.ok(["export", "run/latest.h5", "--format", "pytorch", "--out", "finite.pt.h5"])
        func poisoned(_ name: String, _ tensor: String, at index: Int, _ value: Float) throws {
            try? FileManager.default.removeItem(atPath: path(name))
            try FileManager.default.copyItem(atPath: path("finite.pt.h5"), toPath: path(name))
            let f = try HDF5File.open(path(name), mode: .readWrite)
            let d = try f.root.openDataset(tensor)
            var values = try d.read(as: Float.self)
            values[index] = value
            try d.write(values)
            if f.root.hasAttribute("checksums") { try f.root.removeAttribute("checksums") }  // as h5py users would
            try f.close()
        }
        try poisoned("nan.pt.h5", "lstm.weight_hh_l0", at: 3 * 6 + 2, .nan)
        try poisoned("inf.pt.h5", "head.bias", at: 0, -.infinity)
        // float64 weights beyond float32's range would become inf.
        do {
            let src = try HDF5File.open(path("finite.pt.h5"))
            let f = try HDF5File.create(path("big.pt.h5"))
            for name in try src.root.memberNames() {
                let d = try src.root.openDataset(name)
                var values = try d.read(as: Float.self).map(Double.init)
                if name == "head.weight" { values[4] = 1e300 }
                try f.root.write(name, values, shape: d.shape)
            }
            try f.root.setAttribute("model_config", try src.root.attribute("model_config", as: String.self))
            try f.close()
            try src.close()
        }
        let cases = [
            ("nan.pt.h5", "/lstm.weight_hh_l0", "found nan at [3, 2] (element 20)"),
            ("inf.pt.h5", "/head.bias", "found -inf at [0] (element 0)"),
            (
                "big.pt.h5", "/head.weight",
                "float64 weight 1e+300 at [0, 4] (element 4) is beyond float32's finite range"
            )
        ]
        for (name, tensor, found) in cases {
            for args in [
                ["import", name, "--out", "nf.h5"], ["evaluate", name, "--data", "adding.h5"],
                ["predict", name, "--data", "adding.h5", "--out", "nf-pred.h5"],
                ["train", "a.yaml", "--init", name, "--set", "checkpoint.dir=run-nf"]
            ] {
                assertRefused(
                    try lstm(args, in: dir), mentions: ["weights file '\(name)'", tensor, found, "--allow-non-finite"],
                    "\(args[0]) \(name)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("nf.h5")))
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("run-nf")))
        }
        // Allowed on request, e.g. to look at them; the checkpoint written holds them, and is refused in turn.
        try Self.ok(["import", "nan.pt.h5", "--out", "nan-ckpt.h5", "--allow-non-finite"])
        let r = try Self.ok(["evaluate", "nan.pt.h5", "--data", "adding.h5", "--allow-non-finite"])
        XCTAssertTrue(r.stdout.contains("nan"), r.output)
        assertRefused(
            try lstm(["evaluate", "nan-ckpt.h5", "--data", "adding.h5"], in: dir),
            mentions: ["checkpoint 'nan-ckpt.h5'", "/parameters/lstm.weight_hh_l0", "found nan at [3, 2]"], "checkpoint"
        )
    }

    // MARK: Every error names its file and object

    func testDamagedJSONAttributesAndDamagedGroupsAreReportedNamingTheFileAndTheObject() throws {
        // Checkpoints as an older build wrote them (no checksums), so the readers' own checks speak.
        func oldRun(_ name: String) throws -> String {
            let run = try copyOfRun(name)
            for step in ["step-00000004.h5", "step-00000008.h5"] {
                try FileManager.default.removeItem(atPath: run + "/" + step)
            }
            try FileSurgery.removeChecksums(run + "/latest.h5")
            return run
        }
        var run = try oldRun("run-json")
        try FileSurgery.setAttribute(run + "/latest.h5", "/", "data_cursor", "{\"cursor\": {\"epoch\": 1,, }")
        assertRefused(
            try lstm(["resume", "run-json"], in: dir),
            mentions: ["checkpoint '\(run)/latest.h5': /@data_cursor:", "not valid JSON"], "resume, damaged JSON")
        run = try oldRun("run-json2")
        try FileSurgery.setAttribute(run + "/latest.h5", "/", "data_cursor", "{\"cursor\": {\"epoch\": 1}}")
        assertRefused(
            try lstm(["resume", "run-json2"], in: dir),
            mentions: ["checkpoint '\(run)/latest.h5': /@data_cursor:", "missing key"],
            "resume, JSON of the wrong shape")
        let config = try copyOfLatest("config.h5")
        try FileSurgery.removeChecksums(config)
        try FileSurgery.setAttribute(config, "/", "model_config", "{\"hidden_size\": 6,,}")
        assertRefused(
            try lstm(["evaluate", "config.h5", "--data", "adding.h5"], in: dir),
            mentions: ["checkpoint 'config.h5': /@model_config: not a valid model configuration"],
            "evaluate, damaged JSON")

        // A damaged /optimizer group (its object header's version byte).
        run = try oldRun("run-group")
        let address = try XCTUnwrap(FileSurgery.headerAddress(run + "/latest.h5", "/optimizer"))
        try FileSurgery.flip(run + "/latest.h5", at: address, mask: 0x06)
        for args in [["resume", "run-group"], ["evaluate", "run-group/latest.h5", "--data", "adding.h5"]] {
            let r = try lstm(args, in: dir)
            assertRefused(r, mentions: ["latest.h5': /optimizer"], "\(args[0]), damaged group")
            XCTAssertFalse(r.stderr.contains("restore with optimizer"), r.output)
        }

        // A damaged link name: the group is no longer found as /optimizer.
        run = try oldRun("run-link")
        XCTAssertNotNil(
            try FileSurgery.replace(run + "/latest.h5", Array("optimizer\0".utf8), with: Array("optimizes\0".utf8)))
        let link = try lstm(["resume", "run-link"], in: dir)
        assertRefused(
            link, mentions: ["checkpoint '\(run)/latest.h5': /optimizer: no optimizer state", "--init"],
            "resume, damaged link")
        XCTAssertFalse(link.stderr.contains("restore with optimizer"), link.output)

        // Weights: a damaged model_config, and a damaged group of a Keras file.
        try Self.ok(["export", "run/latest.h5", "--format", "pytorch", "--out", "j.pt.h5"])
        try FileSurgery.removeChecksums(path("j.pt.h5"))
        try FileSurgery.setAttribute(path("j.pt.h5"), "/", "model_config", "{\"hidden_size\": 6,,}")
        assertRefused(
            try lstm(["import", "j.pt.h5", "--out", "j.h5"], in: dir),
            mentions: ["weights file 'j.pt.h5': /@model_config: not a valid model configuration"],
            "import, damaged JSON")
        try Self.ok(["export", "run/latest.h5", "--format", "keras", "--out", "g.weights.h5"])
        try FileSurgery.removeChecksums(path("g.weights.h5"))
        let vars = try XCTUnwrap(FileSurgery.headerAddress(path("g.weights.h5"), "/layers/lstm/cell/vars"))
        try FileSurgery.flip(path("g.weights.h5"), at: vars, mask: 0x06)
        assertRefused(
            try lstm(["import", "g.weights.h5", "--out", "g.h5"], in: dir),
            mentions: ["weights file 'g.weights.h5'", "/layers/lstm/cell/vars"], "import, damaged group")

        // With checksums, the same damage is found first and named the same way.
        let sealed = try copyOfLatest("sealed.h5")
        try FileSurgery.setAttribute(sealed, "/", "model_config", "{\"hidden_size\": 6,,}")
        assertRefused(
            try lstm(["evaluate", "sealed.h5", "--data", "adding.h5"], in: dir),
            mentions: ["checkpoint 'sealed.h5': /@model_config: checksum mismatch"], "evaluate, sealed")
    }
}
