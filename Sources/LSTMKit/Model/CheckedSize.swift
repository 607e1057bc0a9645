/// A size past `Int` (more bytes than any machine has), found by `CheckedSize`: `what` names the
/// quantity ("the workspaces", "the parameters").
public struct SizeOverflow: Error, Sendable, Equatable {
    public let what: String
    public init(_ what: String) { self.what = what }
}

/// Overflow-checked size arithmetic: the one way the sizes of the parameter arena, a workspace
/// and the memory plan are computed (a negative factor counts as an overflow).
public enum CheckedSize {
    /// The product of `factors`, or `SizeOverflow(what)`.
    public static func product(_ factors: [Int], _ what: String) throws(SizeOverflow) -> Int {
        var p = 1
        for f in factors {
            let (r, o) = p.multipliedReportingOverflow(by: f)
            if o || f < 0 { throw SizeOverflow(what) }
            p = r
        }
        return p
    }

    /// `a + b`, or `SizeOverflow(what)`.
    public static func sum(_ a: Int, _ b: Int, _ what: String) throws(SizeOverflow) -> Int {
        let (r, o) = a.addingReportingOverflow(b)
        if o { throw SizeOverflow(what) }
        return r
    }

    /// The sum of `terms`, or `SizeOverflow(what)`.
    public static func sum(_ terms: [Int], _ what: String) throws(SizeOverflow) -> Int {
        var s = 0
        for t in terms { s = try sum(s, t, what) }
        return s
    }
}
