import Foundation
import Yams

/// A configuration problem, located: file, line and column (or the `--set` override), key path.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    /// 1-based line and column of the offending node; nil for problems with no node (a
    /// missing required key is reported at its section).
    public let line: Int?
    public let column: Int?
    /// Dotted key path, e.g. "model.hidden_size".
    public let key: String
    public let message: String
    /// Further problems found in the same check, reported together (one line each).
    public var more: [ConfigError] = []

    public init(file: String, line: Int?, column: Int?, key: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    /// The first of `errors` carrying the rest (nil when there are none).
    public static func combined(_ errors: [ConfigError]) -> ConfigError? {
        guard var first = errors.first else { return nil }
        first.more = Array(errors.dropFirst())
        return first
    }

    public var description: String {
        ([self] + more).map { e in
            let place = e.line.map { "\(e.file):\($0):\(e.column ?? 1)" } ?? e.file
            // Keys are shown ASCII-only and capped (a look-alike letter or a 100 kB key must not
            // pass for, or drown, the real name); messages quote config text through `quoted`.
            return "\(place): \(e.key.isEmpty ? "" : "\(shown(e.key)): ")\(e.message)"
        }.joined(separator: "\n")
    }
}

/// A key's place in the config file (1-based).
public struct ConfigLocation: Sendable, Equatable {
    public let line: Int
    public let column: Int
}

/// Where every key that was read stands, and every problem found, shared by the readers of one
/// file: a config's problems are all collected and reported together (`ConfigError.more`), so one
/// run lists every mistake.
final class LocationTable {
    var locations: [String: ConfigLocation] = [:]
    /// Every key path the reader asked for, given or not: the keys a config may hold.
    var asked: Set<String> = []
    /// Every key path the config gives a (non-null) value, in the file or by `--set`.
    var given: Set<String> = []
    /// The problems found so far, at most one per key (the first found).
    private(set) var errors: [ConfigError] = []
    /// Keys no reader asked for, reported (with a did-you-mean over every section) by `reportUnknownKeys`.
    var unknown: [(section: String, name: String, mark: Mark?, known: [String])] = []

    func record(_ key: String, _ node: Node?) {
        if let m = node?.mark { locations[key] = ConfigLocation(line: m.line, column: m.column) }
    }

    /// Adds `e` unless a problem with the same key is already known.
    func report(_ e: ConfigError) {
        guard e.key.isEmpty || !errors.contains(where: { $0.key == e.key }) else { return }
        errors.append(e)
    }

    /// Reports the unknown keys (once every section has been read, so that a key given in the
    /// wrong section can be pointed to the right one).
    func reportUnknownKeys(file: String) {
        for u in unknown {
            let path = u.section.isEmpty ? u.name : "\(u.section).\(u.name)"
            report(
                ConfigError(
                    file: file, line: u.mark?.line, column: u.mark?.column, key: path,
                    message: "unknown key\(nonASCIINote(u.name))\(keySuggestion(u.name, in: u.section, known: u.known))"
                ))
        }
        unknown = []
    }
}

/// Reads one YAML mapping with typed accessors, remembering which keys were read, so that
/// every key the code does not know is reported (Yams ignores unknown keys on its own).
final class ConfigReader {
    let file: String
    let path: String
    let node: Node?
    let table: LocationTable
    private let mapping: Node.Mapping?
    private var known: [String] = []

    /// A section that is not a mapping is reported (to `table`) and read as empty.
    init(file: String, path: String, node: Node?, table: LocationTable = LocationTable()) throws {
        self.file = file
        self.path = path
        self.node = node
        self.table = table
        switch node {
        case .none: mapping = nil
        case .some(.mapping(let m)): mapping = m
        case .some(let other):
            mapping = nil  // an empty section, or one reported below
            if case .scalar(let s) = other, s.string.isEmpty || s.string == "null" || s.string == "~" { break }
            table.report(
                ConfigError(
                    file: file, line: other.mark?.line, column: other.mark?.column, key: path,
                    message: "expected a mapping of keys to values, found \(describe(other))"))
        }
    }

    /// Reports a problem and reads on (every problem of a config is reported together).
    func report(_ e: ConfigError) { table.report(e) }

    /// The value `body` reads, or nil after reporting its problem (the key's default then stands
    /// in, so the rest of the config is still checked).
    private func recording<T>(_ body: () throws -> T?) -> T? {
        do { return try body() } catch let e as ConfigError {
            table.report(e)
            return nil
        } catch {
            preconditionFailure("a config accessor threw \(error)")
        }
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ message: String, at n: Node? = nil) -> ConfigError {
        let mark = n != nil ? n?.mark : node?.mark  // a value from --set has no mark
        return ConfigError(file: file, line: mark?.line, column: mark?.column, key: keyPath(key), message: message)
    }

    /// The raw node for `key` (marks the key as known).
    func value(_ key: String) -> Node? {
        known.append(key)
        table.asked.insert(keyPath(key))
        guard let v = mapping?[Node(key)] else { return nil }
        table.record(keyPath(key), v)
        if case .scalar(let s) = v, s.style == .plain, ["", "~", "null", "Null", "NULL"].contains(s.string) {
            return nil
        }
        table.given.insert(keyPath(key))
        return v
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func section(_ key: String) throws -> ConfigReader {
        try ConfigReader(file: file, path: keyPath(key), node: value(key), table: table)
    }

    func string(_ key: String) throws -> String? {
        recording {
            guard let v = value(key) else { return nil }
            guard case .scalar(let s) = v else { throw error(key, "expected a string, found \(describe(v))", at: v) }
            return s.string
        }
    }

    func string(_ key: String, default d: String) throws -> String { try string(key) ?? d }

    /// A string that must be one of `allowed`.
    func choice(_ key: String, _ allowed: [String]) throws -> String? {
        recording {
            guard let s = try string(key) else { return nil }
            guard allowed.contains(s) else {
                throw error(
                    key, "\(quoted(s)) is not one of \(allowed.joined(separator: ", "))\(suggestion(s, allowed))",
                    at: value(key))
            }
            return s
        }
    }

    func int(_ key: String, min lo: Int? = nil, max hi: Int? = nil) throws -> Int? {
        recording {
            guard let v = value(key) else { return nil }
            guard case .scalar(let s) = v, let i = Int(s.string.replacingOccurrences(of: "_", with: "")) else {
                if case .scalar(let s) = v, let hi, s.string.count > 18,
                    s.string.replacingOccurrences(of: "_", with: "").allSatisfy(\.isASCII),
                    Int(s.string.prefix(1)) != nil,
                    s.string.allSatisfy({ $0.isNumber || $0 == "_" })
                {
                    throw error(key, "must be ≤ \(hi) (got \(quoted(s.string)), more than an integer holds)", at: v)
                }
                throw error(key, "expected an integer, found \(describe(v))", at: v)
            }
            if let lo, i < lo { throw error(key, "must be ≥ \(lo) (got \(i))", at: v) }
            if let hi, i > hi { throw error(key, "must be ≤ \(hi) (got \(i))", at: v) }
            return i
        }
    }

    func int(_ key: String, default d: Int, min lo: Int? = nil, max hi: Int? = nil) throws -> Int {
        try int(key, min: lo, max: hi) ?? d
    }

    func double(
        _ key: String, min lo: Double? = nil, max hi: Double? = nil, openMax: Bool = false,
        openMin: Bool = false
    ) throws -> Double? {
        recording {
            guard let v = value(key) else { return nil }
            guard case .scalar(let s) = v, let d = Double(s.string.replacingOccurrences(of: "_", with: "")), d.isFinite
            else {
                throw error(key, "expected a number, found \(describe(v))", at: v)
            }
            if let lo, openMin ? d <= lo : d < lo {
                throw error(key, "must be \(openMin ? ">" : "≥") \(lo) (got \(d))", at: v)
            }
            if let hi, openMax ? d >= hi : d > hi {
                throw error(key, "must be \(openMax ? "<" : "≤") \(hi) (got \(d))", at: v)
            }
            return d
        }
    }

    func double(
        _ key: String, default d: Double, min lo: Double? = nil, max hi: Double? = nil,
        openMax: Bool = false, openMin: Bool = false
    ) throws -> Double {
        try double(key, min: lo, max: hi, openMax: openMax, openMin: openMin) ?? d
    }

    func bool(_ key: String) throws -> Bool? {
        recording {
            guard let v = value(key) else { return nil }
            guard case .scalar(let s) = v else {
                throw error(key, "expected true or false, found \(describe(v))", at: v)
            }
            switch s.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw error(key, "expected true or false, found \(quoted(s.string))", at: v)
            }
        }
    }

    func bool(_ key: String, default d: Bool) throws -> Bool { try bool(key) ?? d }

    func doubles(_ key: String, count: Int) throws -> [Double]? {
        recording {
            guard let v = value(key) else { return nil }
            guard case .sequence(let seq) = v, seq.count == count else {
                throw error(key, "expected a list of \(count) numbers, found \(describe(v))", at: v)
            }
            return try seq.map { item in
                guard case .scalar(let s) = item, let d = Double(s.string) else {
                    throw error(key, "expected a number, found \(describe(item))", at: item)
                }
                return d
            }
        }
    }

    /// A list of integers (nil when the key is absent or holds a single value): each ≥ `lo`, not empty.
    func ints(_ key: String, min lo: Int? = nil, max hi: Int? = nil) throws -> [Int]? {
        recording {
            guard let v = value(key), case .sequence(let seq) = v else { return nil }
            if seq.isEmpty { throw error(key, "expected an integer or a non-empty list of integers, found []", at: v) }
            return try seq.enumerated().map { k, item in
                guard case .scalar(let s) = item, let i = Int(s.string.replacingOccurrences(of: "_", with: "")) else {
                    throw error(key, "element \(k): expected an integer, found \(describe(item))", at: item)
                }
                if let lo, i < lo { throw error(key, "element \(k) must be ≥ \(lo) (got \(i))", at: item) }
                if let hi, i > hi { throw error(key, "element \(k) must be ≤ \(hi) (got \(i))", at: item) }
                return i
            }
        }
    }

    /// Notes every key in this mapping that was never asked for; they are reported once the
    /// whole config is read (`LocationTable.reportUnknownKeys`).
    func rejectUnknownKeys() throws {
        guard let mapping else { return }
        for (k, _) in mapping {
            let name = k.string ?? "\(k)"
            if !known.contains(name) { table.unknown.append((path, name, k.mark, known)) }
        }
    }
}

/// " (did you mean X?)" for an unknown key `name` in `section`: the closest key of the same
/// section; else the same or a close name in another section, or the key a PyTorch/Keras user
/// means by it (`training.learning_rate` → `optimizer.lr`, `hidden_size` at the top → `model.hidden_size`).
func keySuggestion(_ name: String, in section: String, known: [String]) -> String {
    let local = suggestion(name, known)
    if !local.isEmpty { return local }
    guard name.count <= 4 * ConfigLimits.maxQuoted else { return "" }
    let prefix = section.isEmpty ? "" : section + "."
    // Keys of other sections (not this section's own keys, which `known` covered).
    let elsewhere = RunConfig.everyKey.filter { k in
        !(k.hasPrefix(prefix) && !k.dropFirst(prefix.count).contains("."))
    }
    func leaf(_ k: String) -> String { String(k.split(separator: ".").last ?? "") }
    let normal = name.lowercased().replacingOccurrences(of: "-", with: "_")
    var found = elsewhere.filter { leaf($0) == normal }.sorted()
    if found.isEmpty, let alias = RunConfig.keyAliases[normal], alias != prefix + name {
        found = [alias]
    }
    if found.isEmpty {
        let close = elsewhere.map { ($0, editDistance(normal, leaf($0))) }.filter { $0.1 <= max(1, normal.count / 4) }
        if let d = close.map(\.1).min() { found = close.filter { $0.1 == d }.map(\.0).sorted() }
    }
    guard !found.isEmpty else { return "" }
    let shownNames = found.prefix(3)
    let list =
        shownNames.count == 1
        ? shownNames[0] : shownNames.dropLast().joined(separator: ", ") + " or " + shownNames.last!
    return " (did you mean \(list)?)"
}

/// " (did you mean X?)" for the closest candidate (case-insensitive edit distance at most
/// max(2, n / 3) for a word of n characters), else "".
func suggestion(_ word: String, _ candidates: [String]) -> String {
    guard word.count <= 4 * ConfigLimits.maxQuoted else { return "" }  // no name is that long
    let best = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
    guard let (name, d) = best, d <= max(2, word.count / 3) else { return "" }
    return " (did you mean \(name)?)"
}

func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.lowercased())
    let y = Array(b.lowercased())
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    for i in 1...x.count {
        var cur = [i] + Array(repeating: 0, count: y.count)
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[y.count]
}

func describe(_ n: Node) -> String {
    switch n {
    case .scalar(let s): return quoted(s.string)
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}
