import Foundation
import LSTMFiles

// Expanding a `data.file` glob into the shard paths.

extension DatasetFile {
    /// Whether `path` is a glob pattern (holds `*`, `?` or `[`), to be expanded by
    /// `paths(matching:)` — unless a file of exactly that name exists (`data[1].h5`), which is
    /// then that file.
    public static func isGlob(_ path: String) -> Bool {
        path.contains { "*?[".contains($0) } && !FileManager.default.fileExists(atPath: path)
    }

    /// The files matching the glob `pattern` (glob(3), relative to the working directory), sorted
    /// by name; empty when nothing matches.
    public static func paths(matching pattern: String) throws -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        let status = glob(pattern, 0, nil, &g)
        if status == GLOB_NOMATCH { return [] }
        guard status == 0 else {
            throw FileError(.io, .dataset, file: pattern, "cannot expand the glob (glob(3) error \(status))")
        }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}
