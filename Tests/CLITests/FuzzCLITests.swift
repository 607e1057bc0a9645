import Foundation
import HDF5Kit
import XCTest

/// Seeded mutants of a valid checkpoint and a valid dataset — bit flips in tensor data, zeroed and
/// 0xFF words, truncations, appended junk, flipped header bytes — run through the CLI as child
/// processes with a deadline. Every outcome must be a refusal with a message naming the file, or
/// behaviour identical to the original's; never a signal, a hang or a silent difference.
final class FuzzCLITests: XCTestCase {
    /// SplitMix64: the same mutants on every run.
    struct Seeded {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    struct Mutant {
        let name: String
        let what: String
        let bytes: Data
    }

    /// Every dataset path in the file.
    static func datasets(_ group: HDF5Group) throws -> [String] {
        var out: [String] = []
        for name in try group.memberNames() {
            if let g = try? group.openGroup(name) {
                out += try datasets(g)
            } else {
                out.append(group.path == "/" ? "/" + name : group.path + "/" + name)
            }
        }
        return out
    }

    /// 24 mutants of `file`: 8 bit flips inside datasets' bytes, 3 zeroed words, 3 0xFF words,
    /// 3 truncations, 2 appended junk, 5 bit flips in the first 2 KiB (superblock, object headers).
    static func mutants(of file: URL, prefix: String, seed: UInt64) throws -> [Mutant] {
        let original = try Data(contentsOf: file)
        let f = try HDF5File.open(file.path)
        var extents: [(String, (offset: Int, bytes: Int))] = []
        for name in try datasets(f.root) {
            if let e = FileSurgery.dataExtent(file.path, name), e.bytes > 0 { extents.append((name, e)) }
        }
        try f.close()
        var rng = Seeded(state: seed)
        var out: [Mutant] = []
        func add(_ what: String, _ bytes: Data) {
            out.append(Mutant(name: "\(prefix)-\(out.count).h5", what: what, bytes: bytes))
        }
        for _ in 0..<8 {
            var d = original
            let (name, e) = extents.isEmpty ? ("file", (offset: 0, bytes: d.count)) : extents[rng.below(extents.count)]
            let at = e.offset + rng.below(e.bytes)
            let bit = rng.below(8)
            d[at] ^= UInt8(1 << bit)
            add("bit \(bit) of byte \(at) flipped (data of \(name))", d)
        }
        for fill in [UInt8(0), 0xFF] {
            for _ in 0..<3 {
                var d = original
                let at = rng.below(d.count / 4) * 4
                for i in at..<min(d.count, at + 4) { d[i] = fill }
                add("word at \(at) set to \(fill == 0 ? "zeros" : "0xFF")", d)
            }
        }
        for _ in 0..<3 {
            let length = rng.below(original.count)
            add("truncated to \(length) of \(original.count) bytes", original.prefix(length))
        }
        for _ in 0..<2 {
            let n = 1 + rng.below(4096)
            add("\(n) junk bytes appended", original + Data((0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
        }
        for _ in 0..<5 {
            var d = original
            let at = rng.below(min(2048, d.count))
            let bit = rng.below(8)
            d[at] ^= UInt8(1 << bit)
            add("bit \(bit) of header byte \(at) flipped", d)
        }
        return out
    }

    func testSeededMutantsOfACheckpointAndADatasetAreRefusedWithAMessageOrBehaveIdentically() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func ok(_ args: [String]) throws -> CLIResult {
            let r = try lstm(args, in: dir)
            XCTAssertEqual(r.status, 0, "lstm \(args.joined(separator: " ")): \(r.output)")
            return r
        }
        _ = try ok([
            "prepare", "adding", "--steps", "4", "--train", "16", "--val", "4", "--test", "8", "--out", "data.h5"
        ])
        try """
        model: {hidden_size: 4, head: last}
        loss: mse
        data: {file: data.h5, batch_size: 4}
        training: {steps: 2}
        checkpoint: {dir: run}
        logging: {progress: none}
        seed: 5
        """.write(to: dir.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
        _ = try ok(["train", "c.yaml"])

        // What the originals do: import the checkpoint (a full load and save of everything it
        // holds), and evaluate on the dataset's train split.
        _ = try ok(["import", "run/latest.h5", "--out", "reference.h5"])
        func fingerprint(_ name: String) throws -> String {
            try FileSurgery.contents(dir.appendingPathComponent(name).path)
        }
        let reference = try fingerprint("reference.h5")
        let evaluation = try ok(["evaluate", "run/latest.h5", "--data", "data.h5", "--split", "train", "--json"]).stdout

        let checkpointMutants = try Self.mutants(
            of: dir.appendingPathComponent("run/latest.h5"), prefix: "ckpt", seed: 17)
        let datasetMutants = try Self.mutants(of: dir.appendingPathComponent("data.h5"), prefix: "data", seed: 23)
        var failures: [String] = []
        var refused = 0
        var identical = 0
        for (mutant, isCheckpoint) in checkpointMutants.map({ ($0, true) }) + datasetMutants.map({ ($0, false) }) {
            try mutant.bytes.write(to: dir.appendingPathComponent(mutant.name))
            let out = "out-" + mutant.name
            let args =
                isCheckpoint
                ? ["import", mutant.name, "--out", out]
                : ["evaluate", "run/latest.h5", "--data", mutant.name, "--split", "train", "--json"]
            let timed = try lstm(args, in: dir, timeout: 60)
            let r = timed.result
            let label = "\(mutant.name) (\(mutant.what)): lstm \(args.joined(separator: " "))"
            if timed.hung {
                failures.append("\(label): no exit within 60 s")
            } else if r.signaled {
                failures.append("\(label): killed by signal \(r.status): \(r.output)")
            } else if r.status == 0 {
                let same =
                    isCheckpoint
                    ? (try? fingerprint(out)) == reference
                    : r.stdout.replacingOccurrences(of: "\"\(mutant.name)\"", with: "\"data.h5\"") == evaluation
                if same {
                    identical += 1
                } else {
                    failures.append("\(label): exit 0 with a different result: \(r.output)")
                }
            } else if r.status != 1 || !r.stderr.contains("Error: ") || !r.stderr.contains(mutant.name) {
                failures.append("\(label): exit \(r.status) without a message naming the file: \(r.output)")
            } else {
                refused += 1
            }
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(mutant.name))
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(out))
        }
        XCTAssertEqual(refused + identical, 48, failures.joined(separator: "\n"))
        XCTAssertGreaterThan(refused, 24, "most mutants are refused (\(refused) refused, \(identical) identical)")
    }
}
