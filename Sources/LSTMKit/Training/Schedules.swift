import Foundation

// Learning-rate schedules matching torch.optim.lr_scheduler. The step-driven ones are pure
// functions of the step number (closed forms), so resuming from a checkpoint needs only the
// step count; ReduceLROnPlateau is driven by a metric and carries a small Codable state.
//
// Step t counts optimizer updates from 0: the rate for update t is the one torch's scheduler
// gives after t calls of `scheduler.step()` (called after each `optimizer.step()`).

/// An optional linear warmup followed by a decay, as a pure function of the step number.
///
/// With base rate lr₀, N = `warmupSteps`, s = `warmupStartFactor` and τ = t − N:
///
///     t < N:  lr₀·(s + (1 − s)·t/N)                          torch LinearLR(s, 1.0, N)
///     t ≥ N:  constant     lr₀
///             step         lr₀·γ^⌊τ/step_size⌋                torch StepLR
///             exponential  lr₀·γ^τ                            torch ExponentialLR
///             cosine       η_min + (lr₀ − η_min)·(1 + cos(π·τ/T_max))/2   torch CosineAnnealingLR
///
/// Warmup then decay is torch's SequentialLR([LinearLR, decay], milestones=[N]). The cosine
/// closed form keeps going past T_max (back up towards lr₀ by 2·T_max), as torch's does.
/// JSON: `{"name": "cosine", "T_max": 1000, "eta_min": 1e-5, "warmup_steps": 100, "warmup_start_factor": 0.1}`.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    /// What happens after the warmup.
    public enum Decay: Sendable, Equatable {
        /// lr₀ throughout.
        case constant
        /// lr₀·γ^⌊τ/stepSize⌋ (torch StepLR's `step_size`, `gamma`).
        case step(stepSize: Int, gamma: Double)
        /// lr₀·γ^τ (torch ExponentialLR's `gamma`).
        case exponential(gamma: Double)
        /// η_min + (lr₀ − η_min)·(1 + cos(π·τ/tMax))/2 (torch CosineAnnealingLR's `T_max`, `eta_min`).
        case cosine(tMax: Int, etaMin: Double = 0)
    }

    /// The part after the warmup.
    public let decay: Decay
    /// N: steps of linear warmup before the decay starts (0: none).
    public let warmupSteps: Int
    /// s: the fraction of lr₀ at step 0 of the warmup, in (0, 1] (torch LinearLR's `start_factor`).
    public let warmupStartFactor: Double

    /// The schedule names used in JSON ("name").
    public static let names = ["constant", "step", "exponential", "cosine"]

    /// The base rate throughout.
    public static let constant = LearningRateSchedule(unchecked: .constant, warmupSteps: 0, warmupStartFactor: 1)

    /// A schedule; throws `HyperparameterError` for step_size or T_max < 1, a negative or
    /// non-finite γ or η_min, negative warmup steps, or a start factor outside (0, 1].
    /// Without warmup the start factor is moot and stored as 1, so equal schedules compare equal.
    public init(
        _ decay: Decay, warmupSteps: Int = 0,
        warmupStartFactor: Double = ScheduleConfig.defaults("constant", "warmup_start_factor")[0]
    ) throws {
        try Self(unchecked: decay, warmupSteps: warmupSteps, warmupStartFactor: warmupStartFactor).validate()
        self.init(
            unchecked: decay, warmupSteps: warmupSteps, warmupStartFactor: warmupSteps == 0 ? 1 : warmupStartFactor)
    }

    private init(unchecked decay: Decay, warmupSteps: Int, warmupStartFactor: Double) {
        self.decay = decay
        self.warmupSteps = warmupSteps
        self.warmupStartFactor = warmupStartFactor
    }

    /// The learning rate for optimizer update `step` (0-based) when the base rate is `base`.
    public func learningRate(at step: Int, base: Double) -> Double {
        precondition(step >= 0, "negative step \(step)")
        if step < warmupSteps {  // torch LinearLR's closed form, end_factor 1
            let s = warmupStartFactor
            return base * (s + (1 - s) * Double(step) / Double(warmupSteps))
        }
        let tau = step - warmupSteps
        switch decay {
        case .constant:
            return base
        case .step(let stepSize, let gamma):
            return base * Foundation.pow(gamma, Double(tau / stepSize))
        case .exponential(let gamma):
            return base * Foundation.pow(gamma, Double(tau))
        case .cosine(let tMax, let etaMin):
            return etaMin + (base - etaMin) * (1 + Foundation.cos(Double.pi * Double(tau) / Double(tMax))) / 2
        }
    }

    /// The schedule's name in JSON.
    public var name: String {
        switch decay {
        case .constant: "constant"
        case .step: "step"
        case .exponential: "exponential"
        case .cosine: "cosine"
        }
    }

    /// Throws `HyperparameterError.invalidValue` for the values `init` rejects.
    public func validate() throws {
        try ScheduleConfig.warmupHyperparameters[key: "warmup_steps"].checkTorch(warmupSteps)
        if !(warmupStartFactor > 0 && warmupStartFactor <= 1) {
            throw HyperparameterError.invalidValue(
                key: "warmup_start_factor", value: "\(warmupStartFactor)", requirement: "must be in (0, 1]")
        }
        let table = ScheduleConfig.hyperparameters[name]!
        switch decay {
        case .constant:
            break
        case .step(let stepSize, let gamma):
            try table[key: "step_size"].checkTorch(stepSize)
            try table[key: "gamma"].checkTorch(gamma)
        case .exponential(let gamma):
            try table[key: "gamma"].checkTorch(gamma)
        case .cosine(let tMax, let etaMin):
            try table[key: "t_max"].checkTorch(tMax)
            try table[key: "eta_min"].checkTorch(etaMin)
        }
    }

    /// Decodes the flat JSON form through `ScheduleConfig`'s table-driven decoder; the table's
    /// defaults fill in keys torch has defaults for (step's `gamma`, `eta_min`, the warmup's).
    /// Throws `HyperparameterError` for an unknown name (`plateau` is ReduceLROnPlateau, not one of
    /// these), a key the schedule does not take, a missing required key or an invalid value.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: HyperparameterCodingKey.self)
        let name = try c.decode(String.self, forKey: HyperparameterCodingKey(stringValue: "name")).lowercased()
        guard Self.names.contains(name) else { throw HyperparameterError.unknownSchedule(name) }
        let config = try ScheduleConfig(from: decoder)
        try config.requireTorchKeys()
        self = try config.learningRateSchedule()
    }

    /// Encodes the flat JSON form (warmup keys only when there is a warmup).
    public func encode(to encoder: any Encoder) throws {
        try ScheduleConfig(self).encode(to: encoder)
    }
}

/// Lowers the learning rate when a metric stops improving, exactly as torch's
/// ReduceLROnPlateau; call `step(metric:)` once per evaluation and use `learningRate`.
///
/// Each step: the metric m improves on `best` if (mode min) m < best·(1 − threshold) [rel] or
/// m < best − threshold [abs]; (mode max) m > best·(1 + threshold) [rel] or m > best + threshold
/// [abs]. An improvement sets best = m and clears the bad count, otherwise the count grows;
/// during cooldown the count is cleared. When the count exceeds `patience`:
/// new = max(lr·factor, min_lr), applied only if lr − new > eps; cooldown restarts.
public struct ReduceLROnPlateau: Codable, Sendable, Equatable {
    /// Whether a lower ("min", e.g. a loss) or a higher ("max", e.g. accuracy) metric is better.
    public enum Mode: String, Codable, Sendable, CaseIterable { case min, max }
    /// Whether `threshold` is relative to `best` ("rel") or an absolute margin ("abs").
    public enum ThresholdMode: String, Codable, Sendable, CaseIterable { case rel, abs }

    /// torch's constructor arguments, under its names in JSON.
    public struct Configuration: Codable, Sendable, Equatable {
        /// Whether lower or higher metrics are better (torch default "min").
        public var mode: Mode
        /// Multiplier applied on a plateau, in [0, 1) (torch default 0.1).
        public var factor: Double
        /// Bad evaluations tolerated before reducing (torch default 10).
        public var patience: Int
        /// Margin an improvement must beat (torch default 1e-4).
        public var threshold: Double
        /// Relative or absolute `threshold` (torch `threshold_mode`, default "rel").
        public var thresholdMode: ThresholdMode
        /// Evaluations after a reduction during which bad ones are not counted (torch default 0).
        public var cooldown: Int
        /// Lower bound on the rate (torch `min_lr`, default 0).
        public var minLR: Double
        /// Reductions smaller than this are skipped (torch default 1e-8).
        public var eps: Double

        /// torch's defaults.
        public init(
            mode: Mode = .min, factor: Double = 0.1, patience: Int = 10, threshold: Double = 1e-4,
            thresholdMode: ThresholdMode = .rel, cooldown: Int = 0, minLR: Double = 0, eps: Double = 1e-8
        ) {
            self.mode = mode
            self.factor = factor
            self.patience = patience
            self.threshold = threshold
            self.thresholdMode = thresholdMode
            self.cooldown = cooldown
            self.minLR = minLR
            self.eps = eps
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case mode, factor, patience, threshold, cooldown, eps
            case thresholdMode = "threshold_mode"
            case minLR = "min_lr"
        }

        /// Decodes torch's keyword names; absent keys take torch's defaults, unknown keys throw.
        public init(from decoder: any Decoder) throws {
            let any = try decoder.container(keyedBy: HyperparameterCodingKey.self)
            let accepted = CodingKeys.allCases.map(\.rawValue)
            for key in any.allKeys.map(\.stringValue).sorted() where !accepted.contains(key) {
                throw HyperparameterError.unsupportedHyperparameter(
                    owner: "reduce_on_plateau", key: key, accepted: accepted)
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Configuration()
            self.init(
                mode: try c.decodeIfPresent(Mode.self, forKey: .mode) ?? d.mode,
                factor: try c.decodeIfPresent(Double.self, forKey: .factor) ?? d.factor,
                patience: try c.decodeIfPresent(Int.self, forKey: .patience) ?? d.patience,
                threshold: try c.decodeIfPresent(Double.self, forKey: .threshold) ?? d.threshold,
                thresholdMode: try c.decodeIfPresent(ThresholdMode.self, forKey: .thresholdMode) ?? d.thresholdMode,
                cooldown: try c.decodeIfPresent(Int.self, forKey: .cooldown) ?? d.cooldown,
                minLR: try c.decodeIfPresent(Double.self, forKey: .minLR) ?? d.minLR,
                eps: try c.decodeIfPresent(Double.self, forKey: .eps) ?? d.eps)
        }

        /// torch's check (factor < 1) plus: factor ≥ 0, every number finite, threshold, min_lr
        /// and eps ≥ 0, patience and cooldown ≥ 0.
        public func validate() throws {
            let table = ScheduleConfig.hyperparameters["plateau"]!
            try table[key: "factor"].checkTorch(factor)
            try table[key: "patience"].checkTorch(patience)
            try table[key: "threshold"].checkTorch(threshold)
            try table[key: "cooldown"].checkTorch(cooldown)
            try table[key: "min_lr"].checkTorch(minLR)
            try HyperparameterError.check("eps", eps, atLeast: 0)  // torch-only: not a config-file key
        }
    }

    /// What changes from step to step; save it in checkpoints to resume exactly.
    public struct State: Codable, Sendable, Equatable {
        /// The current learning rate.
        public var learningRate: Double
        /// The best metric so far (nil before the first: torch's ±inf "mode_worse").
        public var best: Double?
        /// Consecutive evaluations without improvement.
        public var numBadEpochs: Int
        /// Evaluations of cooldown left.
        public var cooldownCounter: Int
        /// Evaluations so far.
        public var lastEpoch: Int

        enum CodingKeys: String, CodingKey {
            case best
            case learningRate = "lr"
            case numBadEpochs = "num_bad_epochs"
            case cooldownCounter = "cooldown_counter"
            case lastEpoch = "last_epoch"
        }
    }

    /// The hyperparameters, fixed for the run.
    public let configuration: Configuration
    /// The evolving part; checkpoints save it (or the whole value) to resume exactly.
    public var state: State

    /// The rate to use now.
    public var learningRate: Double { state.learningRate }

    /// Starts at `learningRate`; throws `HyperparameterError` if the configuration is invalid
    /// or the rate is negative or not finite.
    public init(learningRate: Double, configuration: Configuration = Configuration()) throws {
        try HyperparameterError.check("lr", learningRate, atLeast: 0)
        try configuration.validate()
        self.configuration = configuration
        state = State(learningRate: learningRate, best: nil, numBadEpochs: 0, cooldownCounter: 0, lastEpoch: 0)
    }

    enum CodingKeys: String, CodingKey { case configuration, state }

    /// Decodes configuration and state, validating the configuration.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(learningRate: 0, configuration: c.decode(Configuration.self, forKey: .configuration))
        state = try c.decode(State.self, forKey: .state)
    }

    /// Records one evaluation's metric and returns the learning rate to use from now on.
    @discardableResult
    public mutating func step(metric: Double) -> Double {
        let cfg = configuration
        state.lastEpoch += 1
        if isBetter(metric) {
            state.best = metric
            state.numBadEpochs = 0
        } else {
            state.numBadEpochs += 1
        }
        if state.cooldownCounter > 0 {
            state.cooldownCounter -= 1
            state.numBadEpochs = 0  // bad evaluations in cooldown are ignored
        }
        if state.numBadEpochs > cfg.patience {
            let old = state.learningRate
            let new = Swift.max(old * cfg.factor, cfg.minLR)
            if old - new > cfg.eps { state.learningRate = new }
            state.cooldownCounter = cfg.cooldown
            state.numBadEpochs = 0
        }
        return state.learningRate
    }

    /// torch's `_is_better`, with a missing best standing for ±inf.
    private func isBetter(_ a: Double) -> Bool {
        let cfg = configuration
        let best = state.best ?? (cfg.mode == .min ? Double.infinity : -Double.infinity)
        switch (cfg.mode, cfg.thresholdMode) {
        case (.min, .rel): return a < best * (1 - cfg.threshold)
        case (.min, .abs): return a < best - cfg.threshold
        case (.max, .rel): return a > best * (cfg.threshold + 1)
        case (.max, .abs): return a > best + cfg.threshold
        }
    }
}
