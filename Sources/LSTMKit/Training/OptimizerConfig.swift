import Foundation

// How an optimizer is named and configured (torch.optim keyword names), its validation, and
// the errors both optimizer and schedule configurations throw.

/// An optimizer by torch.optim name with its hyperparameters under torch's keyword names
/// (JSON: `{"name": "adamw", "lr": 3e-4, "betas": [0.9, 0.95], "weight_decay": 0.1}`).
///
/// nil means torch's default for that optimizer. `makeOptimizer(layout:)` validates as torch's
/// constructors do and throws `HyperparameterError` for an unknown name, a hyperparameter the
/// optimizer does not take, or an invalid value; decoding rejects unknown keys.
public struct OptimizerConfig: Codable, Sendable, Equatable {
    /// torch.optim class name, case-insensitive: sgd, adam, adamw, rmsprop, adagrad.
    public var name: String
    /// All: `lr`. Defaults: 1e-3 (sgd, adam, adamw), 1e-2 (rmsprop, adagrad).
    public var lr: Double?
    /// sgd, rmsprop: `momentum` (default 0).
    public var momentum: Double?
    /// sgd: `dampening` (default 0).
    public var dampening: Double?
    /// sgd: `nesterov` (default false).
    public var nesterov: Bool?
    /// All: `weight_decay` (default 0; adamw 0.01).
    public var weightDecay: Double?
    /// adam, adamw: `betas` = [β₁, β₂] (default [0.9, 0.999]).
    public var betas: [Double]?
    /// adam, adamw, rmsprop, adagrad: `eps` (default 1e-8; adagrad 1e-10).
    public var eps: Double?
    /// adam, adamw: `amsgrad` (default false).
    public var amsgrad: Bool?
    /// rmsprop: `alpha` (default 0.99).
    public var alpha: Double?
    /// rmsprop: `centered` (default false).
    public var centered: Bool?
    /// adagrad: `lr_decay` (default 0).
    public var lrDecay: Double?
    /// adagrad: `initial_accumulator_value` (default 0).
    public var initialAccumulatorValue: Double?

    /// A configuration; unspecified hyperparameters take torch's defaults.
    public init(
        name: String, lr: Double? = nil, momentum: Double? = nil, dampening: Double? = nil,
        nesterov: Bool? = nil, weightDecay: Double? = nil, betas: [Double]? = nil, eps: Double? = nil,
        amsgrad: Bool? = nil, alpha: Double? = nil, centered: Bool? = nil, lrDecay: Double? = nil,
        initialAccumulatorValue: Double? = nil
    ) {
        self.name = name
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.betas = betas
        self.eps = eps
        self.amsgrad = amsgrad
        self.alpha = alpha
        self.centered = centered
        self.lrDecay = lrDecay
        self.initialAccumulatorValue = initialAccumulatorValue
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
        let dampening = H("dampening", .real, default: [0], bounds: .closed(0, 1), torchAtLeast: .some(nil))
        return [
            "sgd": [lr(1e-3), momentum, dampening, weightDecay(0), H("nesterov", .flag, default: [0])],
            "adam": [lr(1e-3), betas, eps(1e-8), weightDecay(0), amsgrad],
            "adamw": [lr(1e-3), betas, eps(1e-8), weightDecay(1e-2), amsgrad],
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

    /// A configuration from values by torch key (flags as 0 or 1, `betas` as two numbers), as the
    /// YAML reader collects them.
    public init(name: String, values v: [String: [Double]]) {
        self.init(
            name: name, lr: v["lr"]?.first, momentum: v["momentum"]?.first, dampening: v["dampening"]?.first,
            nesterov: v["nesterov"].map { $0.first != 0 }, weightDecay: v["weight_decay"]?.first,
            betas: v["betas"], eps: v["eps"]?.first, amsgrad: v["amsgrad"].map { $0.first != 0 },
            alpha: v["alpha"]?.first, centered: v["centered"].map { $0.first != 0 },
            lrDecay: v["lr_decay"]?.first, initialAccumulatorValue: v["initial_accumulator_value"]?.first)
    }

    /// The hyperparameters that are set, by torch key (flags as 0 or 1).
    public var values: [String: [Double]] {
        let all: [String: [Double]?] = [
            "lr": lr.map { [$0] }, "momentum": momentum.map { [$0] }, "dampening": dampening.map { [$0] },
            "nesterov": nesterov.map { [$0 ? 1 : 0] }, "weight_decay": weightDecay.map { [$0] }, "betas": betas,
            "eps": eps.map { [$0] }, "amsgrad": amsgrad.map { [$0 ? 1 : 0] }, "alpha": alpha.map { [$0] },
            "centered": centered.map { [$0 ? 1 : 0] }, "lr_decay": lrDecay.map { [$0] },
            "initial_accumulator_value": initialAccumulatorValue.map { [$0] }
        ]
        return all.compactMapValues { $0 }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, lr, momentum, dampening, nesterov, betas, eps, amsgrad, alpha, centered
        case weightDecay = "weight_decay"
        case lrDecay = "lr_decay"
        case initialAccumulatorValue = "initial_accumulator_value"
    }

    /// Decodes the keys above and throws `HyperparameterError.unsupportedHyperparameter`
    /// for any other key, so a misspelt hyperparameter is an error rather than a default.
    public init(from decoder: any Decoder) throws {
        let any = try decoder.container(keyedBy: HyperparameterCodingKey.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        let known = Set(["name"] + Self.hyperparameters.values.joined().map(\.codingKey))
        if let unknown = any.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw HyperparameterError.unsupportedHyperparameter(
                owner: name, key: unknown, accepted: Self.hyperparameterKeys[name.lowercased()] ?? [])
        }
        lr = try c.decodeIfPresent(Double.self, forKey: .lr)
        momentum = try c.decodeIfPresent(Double.self, forKey: .momentum)
        dampening = try c.decodeIfPresent(Double.self, forKey: .dampening)
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov)
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay)
        betas = try c.decodeIfPresent([Double].self, forKey: .betas)
        eps = try c.decodeIfPresent(Double.self, forKey: .eps)
        amsgrad = try c.decodeIfPresent(Bool.self, forKey: .amsgrad)
        alpha = try c.decodeIfPresent(Double.self, forKey: .alpha)
        centered = try c.decodeIfPresent(Bool.self, forKey: .centered)
        lrDecay = try c.decodeIfPresent(Double.self, forKey: .lrDecay)
        initialAccumulatorValue = try c.decodeIfPresent(Double.self, forKey: .initialAccumulatorValue)
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
        if nesterov == true && ((momentum ?? 0) <= 0 || (dampening ?? 0) != 0) {
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
        let table = Self.hyperparameters[name]!
        let set = values
        func real(_ key: String) -> Double { set[key]?.first ?? table[key: key].defaultValue }
        func flag(_ key: String) -> Bool { real(key) != 0 }
        switch name {
        case "sgd":
            return SGD<Scalar>(
                layout: layout, learningRate: real("lr"), momentum: real("momentum"),
                dampening: real("dampening"), weightDecay: real("weight_decay"),
                nesterov: flag("nesterov"), slice: slice)
        case "adam", "adamw":
            let b = set["betas"] ?? table[key: "betas"].defaults
            if name == "adam" {
                return Adam<Scalar>(
                    layout: layout, learningRate: real("lr"), beta1: b[0], beta2: b[1],
                    epsilon: real("eps"), weightDecay: real("weight_decay"), amsgrad: flag("amsgrad"),
                    slice: slice)
            }
            return AdamW<Scalar>(
                layout: layout, learningRate: real("lr"), beta1: b[0], beta2: b[1],
                epsilon: real("eps"), weightDecay: real("weight_decay"), amsgrad: flag("amsgrad"),
                slice: slice)
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
