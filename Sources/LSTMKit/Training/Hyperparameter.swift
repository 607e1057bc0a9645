import Foundation

/// One hyperparameter declared once: key, type, default and allowed range, read by the YAML
/// reader (LSTMRun), the JSON decoders, the validators and the builders alike.
public struct Hyperparameter: Sendable, Equatable {
    /// The value's type in a config file.
    public enum Kind: Sendable, Equatable {
        /// A finite number.
        case real
        /// A whole number.
        case integer
        /// true or false (stored as 1 or 0).
        case flag
        /// A list of two numbers, each in `bounds` (Adam's `betas`).
        case pair
        /// One of these strings.
        case choice([String])
    }

    /// An interval with optional, open or closed ends.
    public struct Bounds: Sendable, Equatable, CustomStringConvertible {
        public var lower: Double?
        public var lowerOpen = false
        public var upper: Double?
        public var upperOpen = false

        /// "[0, 1)", "(0, 1]", "≥ 0" or "> 0", as docs/config.md writes ranges.
        public var description: String {
            func s(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)" }
            switch (lower, upper) {
            case (let lo?, let hi?): return "\(lowerOpen ? "(" : "[")\(s(lo)), \(s(hi))\(upperOpen ? ")" : "]")"
            case (let lo?, nil): return "\(lowerOpen ? ">" : "≥") \(s(lo))"
            case (nil, let hi?): return "\(upperOpen ? "<" : "≤") \(s(hi))"
            case (nil, nil): return "any"
            }
        }
    }

    /// The config-file key (docs/config.md).
    public let key: String
    /// The JSON key where torch spells it differently (`T_max`), else `key`.
    public let codingKey: String
    public let kind: Kind
    /// The value when the key is left out: one number, two for a pair, none for a choice.
    public let defaults: [Double]
    /// The range a config file may give (docs/config.md).
    public let bounds: Bounds?
    /// The range torch's constructor demands, checked by `validate()` for every caller (may be looser).
    public let torchLower: Double?
    public let torchBelow: Double?
    /// torch's constructor has no default for it: JSON must give it; the config file uses `defaults`.
    public let torchRequired: Bool

    /// A row of a hyperparameter table; `torchAtLeast` left out takes the config file's lower bound,
    /// `.some(nil)` means torch checks only that the number is finite.
    public init(
        _ key: String, _ kind: Kind, default defaults: [Double] = [], bounds: Bounds? = nil,
        torchAtLeast: Double?? = nil, torchBelow: Double? = nil, codingKey: String? = nil,
        torchRequired: Bool = false
    ) {
        self.key = key
        self.codingKey = codingKey ?? key
        self.kind = kind
        self.defaults = defaults
        self.bounds = bounds
        self.torchLower = torchAtLeast ?? bounds?.lower
        self.torchBelow = torchBelow
        self.torchRequired = torchRequired
    }

    /// The default as one number (the first for a pair); traps for a key without one (a table bug).
    public var defaultValue: Double {
        guard let d = defaults.first else { preconditionFailure("\(key) has no default") }
        return d
    }
}

extension Hyperparameter.Bounds {
    /// x ≥ lo.
    public static func atLeast(_ lo: Double) -> Self { Self(lower: lo) }
    /// x > lo.
    public static func above(_ lo: Double) -> Self { Self(lower: lo, lowerOpen: true) }
    /// lo ≤ x ≤ hi.
    public static func closed(_ lo: Double, _ hi: Double) -> Self { Self(lower: lo, upper: hi) }
    /// lo ≤ x < hi.
    public static func halfOpen(_ lo: Double, _ hi: Double) -> Self { Self(lower: lo, upper: hi, upperOpen: true) }
    /// lo < x ≤ hi.
    public static func leftOpen(_ lo: Double, _ hi: Double) -> Self { Self(lower: lo, lowerOpen: true, upper: hi) }
}

extension Array where Element == Hyperparameter {
    /// The row for `key`; traps for a key the table lacks (a bug, not a user error).
    public subscript(key key: String) -> Hyperparameter {
        guard let h = first(where: { $0.key == key }) else { preconditionFailure("no hyperparameter \(key)") }
        return h
    }
}
