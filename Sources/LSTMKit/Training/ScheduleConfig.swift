import Foundation

/// A learning-rate schedule by name with its keys as given (docs/config.md, `schedule`):
/// the one declaration the YAML reader, the JSON form of `LearningRateSchedule` and the run's
/// builder all read.
///
/// Every key is one row of `hyperparameters` (or of `warmupHyperparameters`, which every schedule
/// takes): key, type, default, range. This type holds the keys given, by key (a choice by its
/// string, a number as in `OptimizerConfig`), and reads, writes, validates and builds through
/// that table, so a new key is one row there, one use in the builder and one row in docs/config.md.
/// A key left out means the table's default; two configurations are equal when every key
/// resolves to the same value.
public struct ScheduleConfig: Codable, Sendable, Equatable {
    /// constant, step, exponential, cosine or plateau (ReduceLROnPlateau).
    public var name: String
    /// The numbers given, by config key (an integer as a whole number).
    public var values: [String: [Double]]
    /// The choices given, by config key (`plateau`'s `mode`, `threshold_mode`).
    public var choices: [String: String]

    /// A configuration from the keys given; keys left out take the table's defaults.
    public init(name: String = "constant", values: [String: [Double]] = [:], choices: [String: String] = [:]) {
        self.name = name
        self.values = values
        self.choices = choices
    }

    /// The configuration that builds `schedule` (its warmup keys only when it has a warmup).
    public init(_ schedule: LearningRateSchedule) {
        var values: [String: [Double]] = [:]
        switch schedule.decay {
        case .constant: break
        case .step(let stepSize, let gamma): values = ["step_size": [Double(stepSize)], "gamma": [gamma]]
        case .exponential(let gamma): values = ["gamma": [gamma]]
        case .cosine(let tMax, let etaMin): values = ["t_max": [Double(tMax)], "eta_min": [etaMin]]
        }
        if schedule.warmupSteps > 0 {
            values["warmup_steps"] = [Double(schedule.warmupSteps)]
            values["warmup_start_factor"] = [schedule.warmupStartFactor]
        }
        self.init(name: schedule.name, values: values)
    }

    /// The schedule names, sorted.
    public static let names = hyperparameters.keys.sorted()

    /// Every schedule's keys besides "name" and the warmup's, with the defaults and ranges of
    /// docs/config.md. `plateau` (ReduceLROnPlateau) takes its defaults from
    /// `ReduceLROnPlateau.Configuration()`; a choice's default is its first allowed value.
    public static let hyperparameters: [String: [Hyperparameter]] = {
        typealias H = Hyperparameter
        let gamma = H("gamma", .real, default: [0.1], bounds: .leftOpen(0, 1))
        let plateau = ReduceLROnPlateau.Configuration()
        return [
            "constant": [],
            "step": [H("step_size", .integer, default: [1000], bounds: .atLeast(1), torchRequired: true), gamma],
            "exponential": [H("gamma", .real, default: [0.999], bounds: .leftOpen(0, 1), torchRequired: true)],
            "cosine": [
                H("t_max", .integer, default: [10_000], bounds: .atLeast(1), codingKey: "T_max", torchRequired: true),
                H("eta_min", .real, default: [0], bounds: .atLeast(0))
            ],
            "plateau": [
                H("mode", .choice(ReduceLROnPlateau.Mode.allCases.map(\.rawValue))),
                H("factor", .real, default: [plateau.factor], bounds: .leftOpen(0, 1), torchBelow: 1),
                H("patience", .integer, default: [Double(plateau.patience)], bounds: .atLeast(0)),
                H("threshold", .real, default: [plateau.threshold], bounds: .atLeast(0)),
                H("threshold_mode", .choice(ReduceLROnPlateau.ThresholdMode.allCases.map(\.rawValue))),
                H("cooldown", .integer, default: [Double(plateau.cooldown)], bounds: .atLeast(0)),
                H("min_lr", .real, default: [plateau.minLR], bounds: .atLeast(0))
            ]
        ]
    }()

    /// The warmup's keys, which every schedule takes.
    public static let warmupHyperparameters: [Hyperparameter] = [
        Hyperparameter("warmup_steps", .integer, default: [0], bounds: .atLeast(0)),
        Hyperparameter("warmup_start_factor", .real, default: [1.0 / 3], bounds: .leftOpen(0, 1))
    ]

    /// Every key schedule `name` takes: its own, then the warmup's (nil for an unknown name).
    public static func rows(_ name: String) -> [Hyperparameter]? {
        hyperparameters[name].map { $0 + warmupHyperparameters }
    }

    /// `schedule`'s default for `key` from the table: the default arguments read it, so each
    /// default is written once.
    public static func defaults(_ schedule: String, _ key: String) -> [Double] {
        rows(schedule)![key: key].defaults
    }

    /// The number of `key` (given or default); traps for a key the schedule's rows lack.
    public func real(_ key: String) -> Double {
        values[key]?.first ?? Self.rows(name)![key: key].defaultValue
    }

    /// The choice of `key` (given, or the first allowed).
    public func choice(_ key: String) -> String {
        if let c = choices[key] { return c }
        guard case .choice(let allowed) = Self.rows(name)![key: key].kind else {
            preconditionFailure("\(key) is not a choice")
        }
        return allowed[0]
    }

    /// Equal when the names are and every key of the schedule resolves to the same value.
    public static func == (a: Self, b: Self) -> Bool {
        guard a.name == b.name, let rows = rows(a.name) else {
            return a.name == b.name && a.values == b.values && a.choices == b.choices
        }
        return rows.allSatisfy { h in
            if case .choice = h.kind { return a.choice(h.key) == b.choice(h.key) }
            return (a.values[h.key] ?? h.defaults) == (b.values[h.key] ?? h.defaults)
        }
    }

    /// The warmup and decay (for `plateau` the warmup alone: the reduction is
    /// `plateauConfiguration()`); throws `HyperparameterError` for an unknown name or a value
    /// `LearningRateSchedule` rejects.
    public func learningRateSchedule() throws -> LearningRateSchedule {
        guard Self.hyperparameters[name] != nil else { throw HyperparameterError.unknownSchedule(name) }
        let decay: LearningRateSchedule.Decay
        switch name {
        case "step": decay = .step(stepSize: Int(real("step_size")), gamma: real("gamma"))
        case "exponential": decay = .exponential(gamma: real("gamma"))
        case "cosine": decay = .cosine(tMax: Int(real("t_max")), etaMin: real("eta_min"))
        default: decay = .constant
        }
        return try LearningRateSchedule(
            decay, warmupSteps: Int(real("warmup_steps")), warmupStartFactor: real("warmup_start_factor"))
    }

    /// The ReduceLROnPlateau settings of a `plateau` schedule (nil for any other).
    public func plateauConfiguration() -> ReduceLROnPlateau.Configuration? {
        guard name == "plateau" else { return nil }
        var p = ReduceLROnPlateau.Configuration()
        p.mode = ReduceLROnPlateau.Mode(rawValue: choice("mode")) ?? p.mode
        p.factor = real("factor")
        p.patience = Int(real("patience"))
        p.threshold = real("threshold")
        p.thresholdMode = ReduceLROnPlateau.ThresholdMode(rawValue: choice("threshold_mode")) ?? p.thresholdMode
        p.cooldown = Int(real("cooldown"))
        p.minLR = real("min_lr")
        return p
    }

    /// Throws `HyperparameterError.invalidValue` for a key torch's constructor has no default for
    /// (StepLR's `step_size`, ExponentialLR's `gamma`, CosineAnnealingLR's `T_max`) when it is left
    /// out: the JSON form must give it, as torch must be given it; a config file takes the default.
    public func requireTorchKeys() throws {
        for h in Self.rows(name) ?? [] where h.torchRequired && values[h.key] == nil {
            throw HyperparameterError.invalidValue(
                key: h.codingKey, value: "missing", requirement: "the \(name) schedule needs it")
        }
    }

    /// Decodes "name" (lower-cased) and the schedule's keys by their coding keys (`T_max`), each
    /// by its row's type; throws `HyperparameterError` for an unknown name or any other key.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: HyperparameterCodingKey.self)
        let name = try c.decode(String.self, forKey: HyperparameterCodingKey(stringValue: "name")).lowercased()
        guard let rows = Self.rows(name) else { throw HyperparameterError.unknownSchedule(name) }
        let accepted = rows.map(\.codingKey)
        var config = ScheduleConfig(name: name)
        for key in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where key.stringValue != "name" {
            guard let h = rows.first(where: { $0.codingKey == key.stringValue }) else {
                throw HyperparameterError.unsupportedHyperparameter(
                    owner: name, key: key.stringValue, accepted: accepted)
            }
            switch h.kind {
            case .choice: config.choices[h.key] = try c.decode(String.self, forKey: key)
            case .integer: config.values[h.key] = [Double(try c.decode(Int.self, forKey: key))]
            case .flag: config.values[h.key] = [try c.decode(Bool.self, forKey: key) ? 1 : 0]
            case .pair: config.values[h.key] = try c.decode([Double].self, forKey: key)
            case .real: config.values[h.key] = [try c.decode(Double.self, forKey: key)]
            }
        }
        self = config
    }

    /// Encodes "name" and the keys given under their coding keys, each by its row's type.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: HyperparameterCodingKey.self)
        try c.encode(name, forKey: HyperparameterCodingKey(stringValue: "name"))
        let rows = Self.rows(name) ?? []
        for (k, v) in values.sorted(by: { $0.key < $1.key }) {
            let h = rows.first { $0.key == k }
            let key = HyperparameterCodingKey(stringValue: h?.codingKey ?? k)
            switch h?.kind {
            case .integer?: try c.encode(Int(v[0]), forKey: key)
            case .flag?: try c.encode(v[0] != 0, forKey: key)
            case .pair?: try c.encode(v, forKey: key)
            default: try c.encode(v[0], forKey: key)
            }
        }
        for (k, v) in choices.sorted(by: { $0.key < $1.key }) {
            try c.encode(v, forKey: HyperparameterCodingKey(stringValue: rows.first { $0.key == k }?.codingKey ?? k))
        }
    }
}
