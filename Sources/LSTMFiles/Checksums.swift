import Foundation
import HDF5Kit

/// Checksums of everything in an HDF5 file this project writes (checkpoints, exported weights):
/// one XXH64 per object and per attribute, kept in the root attribute `checksums` as lines
///
///     xxh64 3f1c0e9a5b7d2e41 /@format
///     xxh64 9d0b7c55e0a1f3c2 /parameters/lstm.weight_ih_l0
///     …
///     xxh64 51e6a0c2d4b8f710 (this list)
///
/// A dataset's hash covers its datatype (byte order, precision, bit layout), its shape and its
/// stored bytes; an attribute's covers its type, shape and value; a group's, that it is a group.
/// The last line hashes the lines before it. Every object and attribute of the file is listed
/// (the `checksums` attribute itself excepted), so a damaged value, type, shape or name — or an
/// object added or removed — is found, and named. `seal` writes the list as the last step of
/// writing a file; `verify` recomputes it when a file is read, before anything is used.
/// See docs/weights.md ("Checksums").
public enum Checksums {
    /// The root attribute holding the list.
    public static let attribute = "checksums"
    /// The hash named in each line.
    static let algorithm = "xxh64"
    /// How deep groups may nest before a file is taken as damaged (ours nest 4 deep).
    static let maxDepth = 64

    /// What `verify` found.
    public enum Status: Sendable, Equatable {
        /// Every object and attribute matched its checksum; `entries` were checked.
        case verified(entries: Int)
        /// The file has no `checksums` attribute (written before checksums were added, or by another program).
        case absent
    }

    /// Computes the checksums of everything under `root` and stores them as the root attribute
    /// `checksums` (replacing any). Call after the file's content is complete.
    public static func seal(_ root: HDF5Group, role: FileError.Role, file: String) throws {
        if root.hasAttribute(attribute) { try root.removeAttribute(attribute) }
        var lines: [String] = []
        try walk(root, role: role, file: file) { path, hash in
            lines.append("\(algorithm) \(hex(hash)) \(escape(path))")
            return true
        }
        let body = lines.map { $0 + "\n" }.joined()
        try root.setAttribute(attribute, body + "\(algorithm) \(hex(XXH64.hash(Array(body.utf8)))) (this list)\n")
    }

    /// Recomputes the checksums of everything under `root` and compares them with the file's
    /// `checksums` attribute; throws a `.corrupted` FileError naming the first object or attribute
    /// that differs (or is missing, or is not listed). Reads every dataset once, a block at a time,
    /// after checking its stored size (`checkStoredSize`). Returns `.absent` for a file without checksums.
    @discardableResult
    public static func verify(_ root: HDF5Group, role: FileError.Role, file: String) throws -> Status {
        guard root.hasAttribute(attribute) else { return .absent }
        func damaged(_ why: String) -> FileError {
            FileError(
                .corrupted, role, file: file, object: "/@\(attribute)",
                "the checksum list is damaged (\(why)), so the file cannot be trusted (\(remedy(role)))")
        }
        let text: String
        do { text = try root.attribute(attribute, as: String.self) } catch {
            throw damaged("it cannot be read: \(FileError.wrapping(error, role, file: file)?.message ?? "\(error)")")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.last == "" else { throw damaged("it does not end with a newline") }
        lines.removeLast()
        guard let last = lines.popLast(), let listHash = parse(last), listHash.path == "(this list)" else {
            throw damaged("its last line is not the hash of the list")
        }
        let body = lines.map { $0 + "\n" }.joined()
        guard XXH64.hash(Array(body.utf8)) == listHash.hash else {
            throw damaged("its own hash does not match")
        }
        var expected: [String: UInt64] = [:]
        for line in lines {
            guard let entry = parse(line), expected[entry.path] == nil else {
                throw damaged("unreadable or repeated line '\(line)'")
            }
            expected[entry.path] = entry.hash
        }
        var seen = 0
        try walk(root, role: role, file: file) { path, hash in
            let object = path
            guard let recorded = expected.removeValue(forKey: path) else {
                throw FileError(
                    .corrupted, role, file: file, object: object,
                    "not in the file's checksum list: it was added or renamed after the file was written, or its name is damaged"
                )
            }
            guard recorded == hash else {
                throw FileError(
                    .corrupted, role, file: file, object: object,
                    "checksum mismatch: the content hashes to \(algorithm) \(hex(hash)) but the file's checksum list records \(hex(recorded)); the file was damaged after it was written (\(remedy(role)))"
                )
            }
            seen += 1
            return true
        }
        if let missing = expected.keys.sorted().first {
            throw FileError(
                .corrupted, role, file: file, object: missing,
                "missing: the file's checksum list records it, but the file no longer has it (damaged or edited after it was written)"
            )
        }
        return .verified(entries: seen)
    }

    /// What to do about a damaged file.
    static func remedy(_ role: FileError.Role) -> String {
        switch role {
        case .checkpoint: "restore it from a copy, or use an earlier checkpoint"
        case .dataset:
            "restore it from a copy, or prepare it again; if you changed it on purpose, delete its root attribute 'checksums'"
        default: "restore it from a copy, or export it again"
        }
    }

    /// The one-line notice for a file without checksums.
    public static func absentNotice(_ role: FileError.Role, file: String) -> String {
        let what = role == .checkpoint ? "checkpoint" : "weights file"
        return
            "note: \(what) '\(file)' has no checksums (written before they were added), so damage to it cannot be detected; save it again to add them"
    }

    /// Writes `absentNotice` to standard error, once per file per process (a command may read a
    /// file twice, e.g. `lstm evaluate` for the run's settings and then for the weights).
    public static func reportAbsent(_ role: FileError.Role, file: String) {
        let first = reportedLock.withLock { reported.insert(file).inserted }
        if first { FileHandle.standardError.write(Data((absentNotice(role, file: file) + "\n").utf8)) }
    }

    private static let reportedLock = NSLock()
    nonisolated(unsafe) private static var reported: Set<String> = []

    // MARK: - Walking

    /// Calls `visit(path, hash)` for every attribute ("/path@name"), group and dataset under
    /// `root`, sorted by name within each group; the `checksums` attribute is skipped.
    static func walk(
        _ root: HDF5Group, role: FileError.Role, file: String,
        _ visit: (String, UInt64) throws -> Bool
    ) throws {
        try FileError.mapping(role, file: file) {
            try walkGroup(root, path: "", depth: 0, role: role, file: file, visit)
        }
    }

    private static func walkGroup(
        _ group: HDF5Group, path: String, depth: Int, role: FileError.Role, file: String,
        _ visit: (String, UInt64) throws -> Bool
    ) throws {
        guard depth <= maxDepth else {
            throw FileError(
                .corrupted, role, file: file, object: path.isEmpty ? "/" : path,
                "groups nest more than \(maxDepth) deep (a damaged or cyclic file)")
        }
        try visitAttributes(group, path: path.isEmpty ? "/" : path, skipChecksums: depth == 0, visit)
        for name in try group.memberNames() {
            let child = path + "/" + name
            let opened: HDF5Object
            do {
                opened = try group.openGroup(name)
            } catch let error as HDF5Error where error.kind == .typeMismatch {
                do { opened = try group.openDataset(name) } catch let error as HDF5Error
                    where error.kind == .typeMismatch
                {
                    _ = try visit(child, XXH64.hash(Array("named datatype".utf8)))
                    continue
                }
            } catch let error as HDF5Error where error.kind == .notFound {
                _ = try visit(child, XXH64.hash(Array("dangling link".utf8)))
                continue
            }
            if let g = opened as? HDF5Group {
                _ = try visit(child, XXH64.hash(Array("group".utf8)))
                try walkGroup(g, path: child, depth: depth + 1, role: role, file: file, visit)
            } else if let d = opened as? HDF5Dataset {
                try d.checkStoredSize(role, file: file, object: child)
                var h = XXH64()
                h.update(Array("dataset".utf8))
                h.update(try d.contentHeader())
                try d.forEachStoredBlock { h.update($0) }
                _ = try visit(child, h.finalize())
                try visitAttributes(d, path: child, skipChecksums: false, visit)
            }
        }
    }

    private static func visitAttributes(
        _ object: HDF5Object, path: String, skipChecksums: Bool, _ visit: (String, UInt64) throws -> Bool
    ) throws {
        for name in try object.attributeNames() where !(skipChecksums && name == attribute) {
            _ = try visit("\(path)@\(name)", XXH64.hash(try object.attributeContent(name)))
        }
    }

    // MARK: - Lines

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Names are escaped so each entry stays on one line: `\` as `\\`, newline as `\n`.
    static func escape(_ path: String) -> String {
        path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func parse(_ line: String) -> (hash: UInt64, path: String)? {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == algorithm, parts[1].count == 16,
            let hash = UInt64(parts[1], radix: 16)
        else { return nil }
        var path = ""
        var escaped = false
        for c in parts[2] {
            if escaped {
                path.append(c == "n" ? "\n" : c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                path.append(c)
            }
        }
        return (hash, path)
    }
}
