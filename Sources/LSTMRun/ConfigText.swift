import CYaml
import Foundation

// Reading a config file and checking its YAML before Yams composes it: size, encoding, nesting
// depth, alias expansion and duplicate keys are checked on libyaml's event stream, so no config
// can hang the reader or exhaust memory (an alias bomb is refused after ConfigLimits.maxNodes
// nodes, whatever it would expand to), and every problem is reported as FILE:LINE:COL.

/// The limits on a config's YAML (docs/config.md, "Limits").
public enum ConfigLimits {
    /// Largest config file (bytes).
    public static let maxBytes = 1 << 20
    /// Deepest nesting of mappings and lists.
    public static let maxDepth = 32
    /// Most nodes (scalars, lists, mappings) in the document once every alias is expanded.
    public static let maxNodes = 100_000
    /// Longest piece of config text quoted in a message (characters); longer text ends in "…".
    public static let maxQuoted = 80
}

// MARK: - Quoting user text in messages

/// `text` for a message: control characters escaped (`\n`, `\t`, `\u{1B}`), cut after
/// `ConfigLimits.maxQuoted` characters with "…". Letters are shown as written, keys too
/// (`model.größe`); a key's non-ASCII letters are named by `nonASCIINote`, so a look-alike
/// letter is explained rather than hidden behind an escape.
func shown(_ text: String, limit: Int = ConfigLimits.maxQuoted) -> String {
    var out = ""
    var n = 0
    for ch in text.unicodeScalars {
        if n >= limit { return out + "…" }
        n += 1
        switch ch {
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            let v = ch.value
            if v < 0x20 || v == 0x7F || (0x80..<0xA0).contains(v) || ch.properties.generalCategory == .format {
                out += "\\u{" + String(v, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(ch)
            }
        }
    }
    return out
}

/// 'text', shown (see `shown`).
func quoted(_ text: String) -> String { "'\(shown(text))'" }

/// " (contains U+0435 CYRILLIC SMALL LETTER IE at position 11)" for a key with non-ASCII
/// characters (the first two are named), else "".
func nonASCIINote(_ key: String) -> String {
    let odd = key.unicodeScalars.enumerated().filter { !$0.element.isASCII }
    guard !odd.isEmpty else { return "" }
    let named = odd.prefix(2).map { i, c in
        "U+\(String(format: "%04X", c.value))\(c.properties.name.map { " \($0)" } ?? "") at position \(i + 1)"
    }
    let more = odd.count > 2 ? " and \(odd.count - 2) more non-ASCII character(s)" : ""
    return " (contains \(named.joined(separator: ", "))\(more); keys are ASCII)"
}

// MARK: - Reading the file

extension ConfigError {
    /// A problem with the config as a whole (no line).
    static func file(_ path: String, _ message: String) -> ConfigError {
        ConfigError(file: path, line: nil, column: nil, key: "", message: message)
    }
}

enum ConfigText {
    /// The text of the config file at `path`: a regular file of at most `ConfigLimits.maxBytes`
    /// bytes of UTF-8 (a leading byte-order mark is dropped).
    static func contents(path: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let e = errno
            throw ConfigError.file(
                path,
                e == ENOENT ? "no such config file" : "cannot read the config file: \(String(cString: strerror(e)))")
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            let what =
                type == S_IFDIR
                ? "a directory" : type == S_IFIFO ? "a FIFO" : type == S_IFCHR ? "a device" : "not a file"
            throw ConfigError.file(path, "is \(what), not a config file (expected a YAML file)")
        }
        if st.st_size > ConfigLimits.maxBytes { throw tooLarge(path, Int(st.st_size)) }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ConfigError.file(path, "cannot read the config file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // Read at most maxBytes + 1 bytes: a file that grows (or lies about its size) cannot make us read forever.
        var bytes = [UInt8](repeating: 0, count: ConfigLimits.maxBytes + 1)
        var total = 0
        while total < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfigError.file(path, "cannot read the config file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            total += n
        }
        if total > ConfigLimits.maxBytes { throw tooLarge(path, total) }
        return try decode(Array(bytes[..<total]), path: path)
    }

    static func tooLarge(_ path: String, _ bytes: Int) -> ConfigError {
        ConfigError.file(
            path,
            "is \(bytes > ConfigLimits.maxBytes ? "larger than" : "") \(ConfigLimits.maxBytes) bytes (1 MiB), "
                + "more than a config may be")
    }

    /// UTF-8 text of `bytes`, or an error naming the first byte that is not UTF-8.
    static func decode(_ bytes: [UInt8], path: String) throws -> String {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }  // a byte-order mark
        var parser = Unicode.UTF8.ForwardParser()
        var it = bytes[start...].makeIterator()
        var offset = start
        var line = 1
        var column = 1
        loop: while true {
            switch parser.parseScalar(from: &it) {
            case .valid(let units):
                offset += units.count
                if units.count == 1 && units.first == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput: break loop
            case .error:
                throw ConfigError(
                    file: path, line: line, column: column, key: "",
                    message: "not UTF-8 at byte \(offset) (0x\(String(format: "%02X", bytes[offset]))): "
                        + "a config is UTF-8 text")
            }
        }
        return String(decoding: bytes[start...], as: UTF8.self)
    }

    // MARK: - Checking the YAML events

    /// Checks `text` against `ConfigLimits` and for duplicate or non-scalar keys, walking
    /// libyaml's events (no tree is built, so this is linear in the text whatever it holds).
    ///
    /// - Returns: the number of nodes with every alias expanded.
    @discardableResult
    static func check(_ text: String, path: String) throws -> Int {
        if text.utf8.count > ConfigLimits.maxBytes { throw tooLarge(path, text.utf8.count) }
        if let nul = text.utf8.firstIndex(of: 0) {
            let (l, c) = lineAndColumn(text, byteOffset: text.utf8.distance(from: text.utf8.startIndex, to: nul))
            throw ConfigError(
                file: path, line: l, column: c, key: "",
                message: "a NUL byte (U+0000): a config is text without control characters")
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw ConfigError.file(path, "out of memory reading YAML") }
        defer { yaml_parser_delete(&parser) }
        var utf8 = Array(text.utf8)
        return try utf8.withUnsafeMutableBufferPointer { buf in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            var walker = EventWalker(path: path, text: text)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { throw syntaxError(parser, text: text, path: path) }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try walker.take(event)
            }
            return walker.nodes
        }
    }

    /// (line, column), 1-based, of a byte offset (columns count characters).
    static func lineAndColumn(_ text: String, byteOffset: Int) -> (Int, Int) {
        var line = 1
        var column = 1
        var seen = 0
        for s in text.unicodeScalars {
            if seen >= byteOffset { break }
            seen += UTF8.width(s)
            if s == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    static func syntaxError(_ p: yaml_parser_t, text: String, path: String) -> ConfigError {
        let problem = p.problem.map { String(cString: $0) } ?? "not valid YAML"
        if p.error == YAML_READER_ERROR {
            let (l, c) = lineAndColumn(text, byteOffset: p.problem_offset)
            let v = p.problem_value
            let what =
                v >= 0
                ? " (U+\(String(format: "%04X", v))\(Unicode.Scalar(UInt32(v))?.properties.name.map { " \($0)" } ?? ""))"
                : ""
            return ConfigError(file: path, line: l, column: c, key: "", message: "not valid YAML: \(problem)\(what)")
        }
        if p.error == YAML_MEMORY_ERROR { return ConfigError.file(path, "out of memory reading YAML") }
        let m = p.problem_mark
        let line = m.line + 1
        let column = m.column + 1
        if problem.hasPrefix("Maximum nesting level") {  // libyaml's own limit (1000), past ours
            return ConfigError(
                file: path, line: line, column: column, key: "",
                message: "nested more than \(ConfigLimits.maxDepth) levels deep, more than a config may be")
        }
        var message = "not valid YAML: \(problem)"
        if let ctx = p.context {
            message +=
                " (\(String(cString: ctx)) at line \(p.context_mark.line + 1), column \(p.context_mark.column + 1))"
        }
        // The character at the mark (libyaml's index counts characters, so go by line and column).
        let lineText = text.split(separator: "\n", maxSplits: line, omittingEmptySubsequences: false).dropFirst(
            line - 1
        )
        .first
        if let l = lineText, l.unicodeScalars.dropFirst(column - 1).first == "\t" {
            message = "a tab character: YAML indents with spaces only (\(message))"
        }
        return ConfigError(file: path, line: line, column: column, key: "", message: message)
    }
}

/// One pass over the events: depth, expanded node count, keys.
private struct EventWalker {
    let path: String
    let text: String
    /// Nodes so far, with aliases counted as the nodes they stand for.
    var nodes = 0
    /// Expanded node count of every anchor seen.
    var anchorSizes: [String: Int] = [:]

    struct Frame {
        var isMapping: Bool
        var anchor: String?
        var startNodes: Int
        /// Mappings: the next event is a key.
        var expectsKey = true
        var keys: [String: Int] = [:]
        var currentKey: String?
    }
    var stack: [Frame] = []

    /// The dotted key path down to the current position (for messages).
    var keyPath: String {
        stack.compactMap { $0.isMapping ? $0.currentKey : nil }.map { shown($0) }.joined(
            separator: ".")
    }

    func fail(_ e: yaml_event_t, _ key: String? = nil, _ message: String) -> ConfigError {
        ConfigError(
            file: path, line: e.start_mark.line + 1, column: e.start_mark.column + 1, key: key ?? keyPath,
            message: message)
    }

    static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }

    mutating func count(_ n: Int, _ e: yaml_event_t, alias: String? = nil) throws {
        nodes += n
        if nodes > ConfigLimits.maxNodes {
            let what = alias.map { "alias *\(shown($0)) expands to \(n) node(s), which takes" } ?? "this takes"
            throw fail(
                e, "",
                "\(what) the document past \(ConfigLimits.maxNodes) nodes (aliases expanded), more than a config may hold"
            )
        }
    }

    /// Called before a node (scalar, alias, collection) that sits at the current position.
    mutating func position(_ e: yaml_event_t, scalarKey: String?, kind: String) throws {
        guard var top = stack.last, top.isMapping else { return }
        if top.expectsKey {
            guard let key = scalarKey else {
                top.currentKey = nil  // the key path is the mapping's own
                stack[stack.count - 1] = top
                throw fail(e, nil, "a key must be a plain name, found \(kind)")
            }
            if let first = top.keys[key] {
                top.currentKey = key
                stack[stack.count - 1] = top
                throw fail(e, nil, "duplicate key (first given at line \(first))")
            }
            top.keys[key] = e.start_mark.line + 1
            top.currentKey = key
            top.expectsKey = false
        } else {
            top.expectsKey = true
        }
        stack[stack.count - 1] = top
    }

    mutating func take(_ e: yaml_event_t) throws {
        switch e.type {
        case YAML_SCALAR_EVENT:
            let value = String(
                decoding: UnsafeBufferPointer(start: e.data.scalar.value, count: e.data.scalar.length), as: UTF8.self)
            try position(e, scalarKey: value, kind: "a scalar")
            try count(1, e)
            if let a = Self.string(e.data.scalar.anchor) { anchorSizes[a] = 1 }
        case YAML_ALIAS_EVENT:
            let name = Self.string(e.data.alias.anchor) ?? ""
            try position(e, scalarKey: nil, kind: "an alias (*\(shown(name)))")
            guard let size = anchorSizes[name] else {
                throw fail(e, "", "alias *\(shown(name)) has no anchor before it")
            }
            try count(size, e, alias: name)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let isMapping = e.type == YAML_MAPPING_START_EVENT
            try position(e, scalarKey: nil, kind: isMapping ? "a mapping" : "a list")
            try count(1, e)
            if stack.count >= ConfigLimits.maxDepth {
                throw fail(
                    e, nil, "nested more than \(ConfigLimits.maxDepth) levels deep, more than a config may be")
            }
            let anchor = Self.string(isMapping ? e.data.mapping_start.anchor : e.data.sequence_start.anchor)
            stack.append(Frame(isMapping: isMapping, anchor: anchor, startNodes: nodes - 1))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let f = stack.removeLast()
            if let a = f.anchor { anchorSizes[a] = nodes - f.startNodes }
        default: break  // stream and document start/end
        }
    }
}
