import CHDF5
import Foundation
import HDF5Kit

#if canImport(Glibc)
    import Glibc
#endif

/// Byte-level surgery on HDF5 files for the integrity tests: where a dataset's bytes and an
/// object's header are, flipping bits, and the file as an older build wrote it (no checksums).
enum FileSurgery {
    /// The file offset of a contiguous dataset's data and its size in bytes.
    static func dataExtent(_ path: String, _ dataset: String) -> (offset: Int, bytes: Int)? {
        let fid = H5Fopen(path, H5F_ACC_RDONLY, hid_t(H5P_DEFAULT))
        guard fid >= 0 else { return nil }
        defer { H5Fclose(fid) }
        let d = H5Dopen2(fid, dataset, hid_t(H5P_DEFAULT))
        guard d >= 0 else { return nil }
        defer { H5Dclose(d) }
        let offset = H5Dget_offset(d)
        guard offset != haddr_t.max else { return nil }  // HADDR_UNDEF: chunked or not allocated
        return (Int(offset), Int(H5Dget_storage_size(d)))
    }

    /// The file offset of an object's header.
    static func headerAddress(_ path: String, _ object: String) -> Int? {
        let fid = H5Fopen(path, H5F_ACC_RDONLY, hid_t(H5P_DEFAULT))
        guard fid >= 0 else { return nil }
        defer { H5Fclose(fid) }
        var info = H5O_info_t()
        guard H5Oget_info_by_name2(fid, object, &info, 0x0001, hid_t(H5P_DEFAULT)) >= 0 else { return nil }
        return Int(info.addr)
    }

    /// XORs the byte at `offset` with `mask`.
    static func flip(_ path: String, at offset: Int, mask: UInt8 = 0x10) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[offset] ^= mask
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Replaces the first occurrence of `pattern` (every one with `all`) by `replacement`;
    /// returns the offset of the first, or nil if there is none.
    @discardableResult
    static func replace(_ path: String, _ pattern: [UInt8], with replacement: [UInt8], all: Bool = false) throws -> Int?
    {
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard pattern.count == replacement.count, data.count >= pattern.count else { return nil }
        var first: Int?
        for i in 0...(data.count - pattern.count) where data[i..<(i + pattern.count)].elementsEqual(pattern) {
            data.replaceSubrange(i..<(i + pattern.count), with: replacement)
            first = first ?? i
            if !all { break }
        }
        if first != nil { try Data(data).write(to: URL(fileURLWithPath: path)) }
        return first
    }

    /// The file as a build before checksums wrote it: without the root `checksums` attribute.
    static func removeChecksums(_ path: String) throws {
        let f = try HDF5File.open(path, mode: .readWrite)
        if f.root.hasAttribute("checksums") { try f.root.removeAttribute("checksums") }
        try f.close()
    }

    /// Everything a file holds, as text: each dataset's type, shape and values (read as float64
    /// bit patterns, exact for every type we write) and each attribute's value, except `checksums`.
    static func contents(_ path: String) throws -> String {
        let f = try HDF5File.open(path)
        defer { try? f.close() }
        var out = ""
        func attributes(_ object: HDF5Object) throws {
            for name in try object.attributeNames() where name != "checksums" {
                out += "\(object.path)@\(name) = \(try object.attribute(name))\n"
            }
        }
        func walk(_ group: HDF5Group) throws {
            try attributes(group)
            for name in try group.memberNames() {
                if let g = try? group.openGroup(name) {
                    out += "\(g.path)/\n"
                    try walk(g)
                } else {
                    let d = try group.openDataset(name)
                    let values = try d.read(as: Double.self, converting: true).map(\.bitPattern)
                    out += "\(d.path) \(d.elementType) \(d.shape) \(values)\n"
                    try attributes(d)
                }
            }
        }
        try walk(f.root)
        return out
    }

    /// Sets a string attribute on `object` ("/" for the root).
    static func setAttribute(_ path: String, _ object: String, _ name: String, _ value: String) throws {
        let f = try HDF5File.open(path, mode: .readWrite)
        if object == "/" {
            try f.root.setAttribute(name, value)
        } else {
            try f.root.openGroup(object).setAttribute(name, value)
        }
        try f.close()
    }

    /// The float32 datatype message's properties (offset 0, precision 32, exponent at 23 of 8 bits,
    /// mantissa at 0 of 23 bits, bias 127) as HDF5 stores them, and the same with mantissa size 21.
    static let float32Properties: [UInt8] = [0, 0, 32, 0, 23, 8, 0, 23, 127, 0, 0, 0]
    static let float32Mantissa21: [UInt8] = [0, 0, 32, 0, 23, 8, 0, 21, 127, 0, 0, 0]
}

/// Runs `lstm` with a deadline: a child still running then is killed and reported as hung.
struct TimedCLIResult {
    let result: CLIResult
    let hung: Bool
}

func lstm(_ args: [String], in dir: URL, timeout: Double) throws -> TimedCLIResult {
    let p = Process()
    p.executableURL = productsDirectory.appendingPathComponent("lstm")
    p.arguments = args
    p.currentDirectoryURL = dir
    var env = ProcessInfo.processInfo.environment
    env["OPENBLAS_NUM_THREADS"] = "1"
    p.environment = env
    let outURL = dir.appendingPathComponent(".out-\(UUID().uuidString)")
    let errURL = dir.appendingPathComponent(".err-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    var hung = false
    while p.isRunning {
        if Date() > deadline {
            kill(p.processIdentifier, SIGKILL)
            hung = true
            break
        }
        usleep(5_000)
    }
    p.waitUntilExit()
    try out.close()
    try err.close()
    let result = CLIResult(
        status: p.terminationStatus,
        stdout: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
        stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self),
        signaled: !hung && p.terminationReason == .uncaughtSignal)
    return TimedCLIResult(result: result, hung: hung)
}
