import Foundation

// How an optimizer is named and configured (torch.optim keyword names), its validation, and
// the errors both optimizer and schedule configurations throw.

/// An optimizer by torch.optim name with its hyperparameters under torch's keyword names
/// (JSON: `{"name": "adamw", "lr": 3e-4, "betas": [0.9, 0.95], "weight_decay": 0.1}`).
///
/// Every hyperparameter is one row of `hyperparameters` (key, type, default, range); this type
/// holds the ones given, by key, and reads, writes, validates and builds through that table, so a
/// new hyperparameter is one row there, one field in its optimizer and one row in docs/config.md.
/// A key left out means torch's default. `makeOptimizer(layout:)` validates as torch's
/// constructors do and throws `HyperparameterError` for an unknown name, a hyperparameter the
/// optimizer does not take, or an invalid value; decoding rejects unknown keys.
public struct OptimizerConfig: Codable, Sendable, Equatable {
    /// torch.optim class name, case-insensitive: sgd, adam, adamw, rmsprop, adagrad.
    public var name: String
    /// The hyperparameters given, by torch key: one number (a flag as 0 or 1) or, for `betas`, two.
    public var values: [String: [Double]]

    /// A configuration from values by torch key (flags as 0 or 1, `betas` as two numbers), as the
    /// YAML reader collects them; keys left out take torch's defaults.
    public init(name: String, values: [String: [Double]] = [:]) {
        self.name = name
        self.values = values
    }

    /// A configuration from literals by torch key: `OptimizerConfig(name: "adam", ["lr": 0.01, "amsgrad": true])`.
    public init(name: String, _ settings: [String: Setting]) {
        self.init(name: name, values: settings.mapValues(\.numbers))
    }

    /// One hyperparameter's value written as a literal: a number, a flag or a list (`betas`).
    public struct Setting: Sendable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral,
        ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral
    {
        public let numbers: [Double]
        public init(_ x: Double) { numbers = [x] }
        public init(floatLiteral x: Double) { numbers = [x] }
        public init(integerLiteral x: Int) { numbers = [Double(x)] }
        public init(booleanLiteral b: Bool) { numbers = [b ? 1 : 0] }
        public init(arrayLiteral xs: Double...) { numbers = xs }
    }

    /// The value of `key`, or this optimizer's default for it (the first number for `betas`);
    /// traps for a key the optimizer's row list lacks (call after `validate()`).
    public func real(_ key: String) -> Double { pair(key)[0] }

    /// The flag `key` (given or default).
    public func flag(_ key: String) -> Bool { real(key) != 0 }

    /// All numbers of `key` (given or default): two for `betas`.
    public func pair(_ key: String) -> [Double] {
        values[key] ?? Self.hyperparameters[name.lowercased()]![key: key].defaults
    }

    /// The learning rate given, if any.
    public var lr: Double? { values["lr"]?.first }

    /// `optimizer`'s default for `key` from the table (two numbers for `betas`): the default
    /// arguments of the optimizers' initialisers read it, so each default is written once.
    public static func defaults(_ optimizer: String, _ key: String) -> [Double] {
        hyperparameters[optimizer]![key: key].defaults
    }

    /// The optimizer names `makeOptimizer` knows.
    public static let optimizerNames = ["sgd", "adam", "adamw", "rmsprop", "adagrad"]

    /// Every optimizer's hyperparameters in torch's argument order, with torch's defaults and the
    /// ranges docs/config.md gives: the one table the YAML reader, decoding, validation and
    /// `makeOptimizer` all read.
    public static let hyperparameters: [String: [Hyperparameter]] = {
        typealias H = Hyperparameter
        func lr(_ d: Double) -> H { H("lr", .real, default: [d], bounds: .above(0), torchAtLeast: 0) }
        func eps(_ d: Double) -> H { H("eps", .real, default: [d], bounds: .atLeast(0)) }
        func weightDecay(_ d: Double) -> H { H("weight_decay", .real, default: [d], bounds: .atLeast(0)) }
        let momentum = H("momentum", .real, default: [0], bounds: .closed(0, 1))
        let betas = H("betas", .pair, default: [0.9, 0.999], bounds: .halfOpen(0, 1), torchBelow: 1)
        let amsgrad = H("amsgrad", .flag, default: [0])
        let maximize = H("maximize", .flag, default: [0])
        let dampening = H("dampening", .real, default: [0], bounds: .closed(0, 1), torchAtLeast: .some(nil))
        return [
            "sgd": [lr(1e-3), momentum, dampening, weightDecay(0), H("nesterov", .flag, default: [0])],
            "adam": [lr(1e-3), betas, eps(1e-8), weightDecay(0), amsgrad, maximize],
            "adamw": [lr(1e-3), betas, eps(1e-8), weightDecay(1e-2), amsgrad, maximize],
            "rmsprop": [
                lr(1e-2), H("alpha", .real, default: [0.99], bounds: .closed(0, 1)), eps(1e-8), weightDecay(0),
                momentum, H("centered", .flag, default: [0])
            ],
            "adagrad": [
                lr(1e-2), H("lr_decay", .real, default: [0], bounds: .atLeast(0)), weightDecay(0),
                H("initial_accumulator_value", .real, default: [0], bounds: .atLeast(0)), eps(1e-10)
            ]
        ]
    }()

    /// The hyperparameter keys each optimizer takes, in torch's argument order.
    public static let hyperparameterKeys: [String: [String]] = hyperparameters.mapValues { $0.map(\.key) }

    /// Every row of every optimizer by JSON key (a key means the same wherever it appears).
    static let rowsByCodingKey: [String: Hyperparameter] = Dictionary(
        hyperparameters.values.joined().map { ($0.codingKey, $0) }, uniquingKeysWith: { a, _ in a })

    /// Decodes "name" and the table's keys, each by its row's type, and throws
    /// `HyperparameterError.unsupportedHyperparameter` for any other key, so a misspelt
    /// hyperparameter is an error rather than a default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: HyperparameterCodingKey.self)
        let name = try c.decode(String.self, forKey: HyperparameterCodingKey(stringValue: "name"))
        var values: [String: [Double]] = [:]
        for key in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where key.stringValue != "name" {
            guard let h = Self.rowsByCodingKey[key.stringValue] else {
                throw HyperparameterError.unsupportedHyperparameter(
                    owner: name, key: key.stringValue, accepted: Self.hyperparameterKeys[name.lowercased()] ?? [])
            }
            switch h.kind {
            case .flag: values[h.key] = [try c.decode(Bool.self, forKey: key) ? 1 : 0]
            case .pair: values[h.key] = try c.decode([Double].self, forKey: key)
            case .real, .integer, .choice: values[h.key] = [try c.decode(Double.self, forKey: key)]
            }
        }
        self.init(name: name, values: values)
    }

    /// Encodes "name" and the values given, each by its row's type.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: HyperparameterCodingKey.self)
        try c.encode(name, forKey: HyperparameterCodingKey(stringValue: "name"))
        for (k, v) in values.sorted(by: { $0.key < $1.key }) {
            let h = Self.rowsByCodingKey.values.first { $0.key == k }
            let key = HyperparameterCodingKey(stringValue: h?.codingKey ?? k)
            switch h?.kind {
            case .flag?: try c.encode(v[0] != 0, forKey: key)
            case .pair?: try c.encode(v, forKey: key)
            default: try c.encode(v[0], forKey: key)
            }
        }
    }

    /// Checks the name, that every hyperparameter set belongs to this optimizer, and the
    /// values as torch's constructors do (plus: every number must be finite and betas must
    /// have two entries).
    public func validate() throws {
        let key = name.lowercased()
        guard let accepted = Self.hyperparameterKeys[key] else {
            throw HyperparameterError.unknownOptimizer(name)
        }
        let set = values
        if let extra = set.keys.sorted().first(where: { !accepted.contains($0) }) {
            throw HyperparameterError.unsupportedHyperparameter(owner: key, key: extra, accepted: accepted)
        }
        for h in Self.hyperparameters[key]! {
            guard let v = set[h.key] else { continue }
            switch h.kind {
            case .pair:
                guard v.count == 2 else {
                    throw HyperparameterError.invalidValue(
                        key: h.key, value: "\(v)",
                        requirement: "must be [beta1, beta2]")
                }
                for (i, x) in v.enumerated() {
                    try HyperparameterError.check("\(h.key)[\(i)]", x, atLeast: h.torchLower, below: h.torchBelow)
                }
            case .real, .integer: try h.checkTorch(v[0])
            case .flag, .choice: break
            }
        }
        if (set["nesterov"]?.first ?? 0) != 0, (set["momentum"]?.first ?? 0) <= 0 || (set["dampening"]?.first ?? 0) != 0
        {
            throw HyperparameterError.invalidValue(
                key: "nesterov", value: "true", requirement: "Nesterov momentum requires a momentum and zero dampening")
        }
    }

    /// Validates, then builds the optimizer for arenas of `layout` (state buffers allocated).
    public func makeOptimizer<Scalar: LSTMScalar>(
        layout: ParameterLayout, scalar: Scalar.Type = Scalar.self, slice: Range<Int>? = nil
    ) throws -> any Optimizer<Scalar> {
        try validate()
        let name = name.lowercased()
        switch name {
        case "sgd":
            return SGD<Scalar>(
                layout: layout, learningRate: real("lr"), momentum: real("momentum"),
                dampening: real("dampening"), weightDecay: real("weight_decay"),
                nesterov: flag("nesterov"), slice: slice)
        case "adam", "adamw":
            let b = pair("betas")
            if name == "adam" {
                return Adam<Scalar>(
                    layout: layout, learningRate: real("lr"), beta1: b[0], beta2: b[1],
                    epsilon: real("eps"), weightDecay: real("weight_decay"), amsgrad: flag("amsgrad"),
                    maximize: flag("maximize"), slice: slice)
            }
            return AdamW<Scalar>(
                layout: layout, learningRate: real("lr"), beta1: b[0], beta2: b[1],
                epsilon: real("eps"), weightDecay: real("weight_decay"), amsgrad: flag("amsgrad"),
                maximize: flag("maximize"), slice: slice)
        case "rmsprop":
            return RMSprop<Scalar>(
                layout: layout, learningRate: real("lr"), alpha: real("alpha"),
                epsilon: real("eps"), weightDecay: real("weight_decay"),
                momentum: real("momentum"), centered: flag("centered"), slice: slice)
        case "adagrad":
            return Adagrad<Scalar>(
                layout: layout, learningRate: real("lr"), learningRateDecay: real("lr_decay"),
                weightDecay: real("weight_decay"),
                initialAccumulatorValue: real("initial_accumulator_value"), epsilon: real("eps"), slice: slice)
        default:
            throw HyperparameterError.unknownOptimizer(name)  // unreachable: validate() checked
        }
    }
}

/// An invalid optimizer or learning-rate schedule configuration.
public enum HyperparameterError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// No optimizer has this name.
    case unknownOptimizer(String)
    /// No schedule has this name.
    case unknownSchedule(String)
    /// `owner` (an optimizer or schedule) has no hyperparameter `key`; it takes `accepted`.
    case unsupportedHyperparameter(owner: String, key: String, accepted: [String])
    /// `key` = `value` breaks `requirement`.
    case invalidValue(key: String, value: String, requirement: String)

    public var description: String {
        switch self {
        case .unknownOptimizer(let name):
            return "unknown optimizer '\(name)' (known: \(OptimizerConfig.optimizerNames.joined(separator: ", ")))"
        case .unknownSchedule(let name):
            return
                "unknown learning-rate schedule '\(name)' (known: \(LearningRateSchedule.names.joined(separator: ", ")))"
        case .unsupportedHyperparameter(let owner, let key, let accepted):
            let takes = accepted.isEmpty ? "" : " (it takes \(accepted.joined(separator: ", ")))"
            return "\(owner) has no hyperparameter '\(key)'\(takes)"
        case .invalidValue(let key, let value, let requirement):
            return "invalid \(key) \(value): \(requirement)"
        }
    }

    /// Same as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }

    /// Throws `invalidValue` unless `value` (when set) is finite and in [lower, upper).
    static func check(_ key: String, _ value: Double?, atLeast lower: Double? = nil, below upper: Double? = nil) throws
    {
        guard let value else { return }
        var requirement = "must be finite"
        var ok = value.isFinite
        if let lower, let upper {
            requirement = "must be in [\(lower.shortDescription), \(upper.shortDescription))"
            ok = ok && value >= lower && value < upper
        } else if let lower {
            requirement = "must be ≥ \(lower.shortDescription)"
            ok = ok && value >= lower
        } else if let upper {
            requirement = "must be < \(upper.shortDescription)"
            ok = ok && value < upper
        }
        if !ok { throw invalidValue(key: key, value: value.shortDescription, requirement: requirement) }
    }

    /// Same as `check` for integers.
    static func check(_ key: String, _ value: Int?, atLeast lower: Int) throws {
        guard let value, value < lower else { return }
        throw invalidValue(key: key, value: "\(value)", requirement: "must be ≥ \(lower)")
    }
}

extension Hyperparameter {
    /// Throws `HyperparameterError.invalidValue` unless `value` is finite and in torch's range.
    func checkTorch(_ value: Double) throws {
        try HyperparameterError.check(codingKey, value, atLeast: torchLower, below: torchBelow)
    }

    /// Same as `checkTorch` for integers (torch's lower bound only).
    func checkTorch(_ value: Int) throws {
        guard let lower = torchLower else { return }
        try HyperparameterError.check(codingKey, value, atLeast: Int(lower))
    }
}

extension Double {
    /// Short form for messages: "0.1", "-3", "nan".
    fileprivate var shortDescription: String {
        self == rounded() && abs(self) < 1e15 ? String(Int(self)) : "\(self)"
    }
}

/// A coding key for any string, to list a container's keys.
struct HyperparameterCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
