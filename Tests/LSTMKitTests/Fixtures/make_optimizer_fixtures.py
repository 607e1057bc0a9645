#!/usr/bin/env python3
"""Reference trajectories for the Swift optimizers and learning-rate schedules, from PyTorch.

Writes optimizers.json and schedules.json next to this script. Run from anywhere:

    python3 Tests/LSTMKitTests/Fixtures/make_optimizer_fixtures.py

Everything runs in float64 on the CPU with torch.optim's single-tensor code path
(foreach=False), so the Swift implementation in Double should agree to ~1e-15.
Each optimizer case's "config" is also a valid LSTMKit OptimizerConfig (JSON), and each
schedule case's "schedule" a valid LearningRateSchedule, so the Swift tests build them
through the same Codable path a training config would use.
"""

import json
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

# A fixed parameter vector and five gradients. Mixed signs and scales, one zero gradient
# entry, and a sign flip in the second moment's history so amsgrad's max matters.
INITIAL = [0.5, -1.2, 0.03, 2.0, -0.7, 0.0, 1.5]
GRADIENTS = [
    [0.1, -0.4, 0.02, 1.5, -0.3, 0.0, 0.25],
    [-0.2, -0.35, 0.05, 0.9, 0.6, 0.01, -0.5],
    [0.05, 0.1, -0.03, 0.2, 0.4, -0.02, 0.75],
    [0.3, -0.05, 0.01, -0.6, -0.1, 0.03, 0.1],
    [-0.15, 0.2, 0.04, 0.05, 0.2, -0.01, -0.3],
]

# (label, config). "name" selects the torch.optim class; the rest are its keyword arguments.
OPTIMIZER_CASES = [
    ("sgd plain", {"name": "sgd", "lr": 0.1}),
    ("sgd default lr", {"name": "sgd"}),
    ("sgd momentum", {"name": "sgd", "lr": 0.05, "momentum": 0.9}),
    ("sgd momentum dampening", {"name": "sgd", "lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("sgd nesterov", {"name": "sgd", "lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("sgd weight decay momentum", {"name": "sgd", "lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}),
    ("sgd nesterov weight decay", {"name": "sgd", "lr": 0.02, "momentum": 0.95, "nesterov": True, "weight_decay": 0.01}),
    ("adam defaults", {"name": "adam"}),
    ("adam betas", {"name": "adam", "lr": 0.01, "betas": [0.8, 0.95], "eps": 1e-6}),
    ("adam weight decay", {"name": "adam", "lr": 0.01, "weight_decay": 0.1}),
    ("adam amsgrad small betas", {"name": "adam", "lr": 0.01, "betas": [0.3, 0.5], "amsgrad": True}),
    ("adamw defaults", {"name": "adamw"}),
    ("adamw weight decay amsgrad", {"name": "adamw", "lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("rmsprop defaults", {"name": "rmsprop"}),
    ("rmsprop momentum", {"name": "rmsprop", "lr": 0.01, "momentum": 0.9}),
    ("rmsprop centered", {"name": "rmsprop", "lr": 0.01, "centered": True}),
    ("rmsprop centered momentum weight decay",
     {"name": "rmsprop", "lr": 0.005, "alpha": 0.9, "eps": 1e-6, "momentum": 0.5, "centered": True,
      "weight_decay": 0.05}),
    ("adagrad defaults", {"name": "adagrad"}),
    ("adagrad lr decay weight decay accumulator",
     {"name": "adagrad", "lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.05, "initial_accumulator_value": 0.1}),
    ("adagrad large eps", {"name": "adagrad", "lr": 0.5, "eps": 1e-3}),
]

OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}


def run_optimizer(config):
    kwargs = {k: v for k, v in config.items() if k != "name"}
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    p = torch.nn.Parameter(torch.tensor(INITIAL, dtype=torch.float64))
    opt = OPTIMIZERS[config["name"]]([p], foreach=False, **kwargs)
    trajectory = []
    for g in GRADIENTS:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        trajectory.append(p.detach().tolist())
    state = {k: v.tolist() for k, v in opt.state[p].items() if k != "step" and torch.is_tensor(v)}
    return trajectory, state


BASE_LR = 0.1
SCHEDULE_STEPS = 30  # learning rates for steps 0 ... SCHEDULE_STEPS


def lambda_constant(opt):
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def decay_factory(schedule):
    name = schedule["name"]
    if name == "constant":
        return lambda_constant
    if name == "step":
        return lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=schedule["step_size"], gamma=schedule["gamma"])
    if name == "exponential":
        return lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=schedule["gamma"])
    if name == "cosine":
        return lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=schedule["T_max"], eta_min=schedule.get("eta_min", 0.0))
    raise ValueError(name)


# (label, schedule). "warmup_steps" N > 0 means SequentialLR([LinearLR(start_factor=s,
# end_factor=1, total_iters=N), decay], milestones=[N]).
SCHEDULE_CASES = [
    ("constant", {"name": "constant"}),
    ("step", {"name": "step", "step_size": 3, "gamma": 0.5}),
    ("exponential", {"name": "exponential", "gamma": 0.9}),
    ("cosine past T_max", {"name": "cosine", "T_max": 10, "eta_min": 0.001}),
    ("cosine eta_min 0", {"name": "cosine", "T_max": 7}),
    ("warmup then constant", {"name": "constant", "warmup_steps": 5, "warmup_start_factor": 0.1}),
    ("warmup then step", {"name": "step", "step_size": 3, "gamma": 0.5, "warmup_steps": 4,
                          "warmup_start_factor": 0.25}),
    ("warmup then exponential", {"name": "exponential", "gamma": 0.8, "warmup_steps": 5,
                                 "warmup_start_factor": 0.01}),
    ("warmup then cosine", {"name": "cosine", "T_max": 12, "eta_min": 1e-4, "warmup_steps": 6,
                            "warmup_start_factor": 0.2}),
    ("one-step warmup default factor then cosine", {"name": "cosine", "T_max": 5, "warmup_steps": 1}),
]


def run_schedule(schedule):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=BASE_LR)
    make_decay = decay_factory(schedule)
    n = schedule.get("warmup_steps", 0)
    if n > 0:
        warm = torch.optim.lr_scheduler.LinearLR(
            opt, start_factor=schedule.get("warmup_start_factor", 1.0 / 3), end_factor=1.0, total_iters=n)
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, make_decay(opt)], milestones=[n])
    else:
        sched = make_decay(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(SCHEDULE_STEPS):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


# ReduceLROnPlateau fed one metric per evaluation.
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.899, 0.9, 0.85, 0.86, 0.87, 0.88, 0.849, 0.8, 0.81, 0.82, 0.83,
                   0.84, 0.85, 0.7, 0.71, 0.72, 0.73]
PLATEAU_CASES = [
    ("min rel", {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.01, "threshold_mode": "rel",
                 "cooldown": 0, "min_lr": 0.0, "eps": 1e-8}),
    ("min abs cooldown min_lr", {"mode": "min", "factor": 0.3, "patience": 1, "threshold": 0.005,
                                 "threshold_mode": "abs", "cooldown": 2, "min_lr": 0.01, "eps": 1e-8}),
    ("max rel patience 0", {"mode": "max", "factor": 0.5, "patience": 0, "threshold": 1e-4,
                            "threshold_mode": "rel", "cooldown": 1, "min_lr": 0.0, "eps": 1e-8}),
    ("max abs", {"mode": "max", "factor": 0.1, "patience": 3, "threshold": 0.02, "threshold_mode": "abs",
                 "cooldown": 0, "min_lr": 1e-4, "eps": 1e-8}),
    ("min rel eps blocks tiny decay", {"mode": "min", "factor": 0.5, "patience": 0, "threshold": 1e-4,
                                       "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.09,
                                       "eps": 0.02}),
]


def run_plateau(config):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=BASE_LR)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **config)
    lrs = []
    for m in PLATEAU_METRICS:
        opt.step()
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def write(name, header, lists):
    """Writes `header` and then each list in `lists` with one element per line: diff-friendly, small."""
    compact = dict(separators=(",", ":"))
    parts = [f" {json.dumps(k)}: {json.dumps(v, **compact)}" for k, v in header.items()]
    for key, items in lists.items():
        body = ",\n".join("  " + json.dumps(c, **compact) for c in items)
        parts.append(f" {json.dumps(key)}: [\n{body}\n ]")
    with open(os.path.join(HERE, name), "w") as f:
        f.write("{\n" + ",\n".join(parts) + "\n}\n")


def main():
    torch.set_default_dtype(torch.float64)
    header = {
        "generator": "make_optimizer_fixtures.py",
        "torch": torch.__version__.split("+")[0],
        "initial": INITIAL,
        "gradients": GRADIENTS,
    }
    cases = []
    for label, config in OPTIMIZER_CASES:
        trajectory, state = run_optimizer(config)
        cases.append({"label": label, "config": config, "trajectory": trajectory, "state": state})
    write("optimizers.json", header, {"cases": cases})

    schedules = [{"label": label, "schedule": s, "lrs": run_schedule(s)} for label, s in SCHEDULE_CASES]
    plateaus = [{"label": label, "config": c, "lrs": run_plateau(c)} for label, c in PLATEAU_CASES]
    header = {
        "generator": "make_optimizer_fixtures.py",
        "torch": torch.__version__.split("+")[0],
        "base_lr": BASE_LR,
        "plateau_metrics": PLATEAU_METRICS,
    }
    write("schedules.json", header, {"schedules": schedules, "plateau": plateaus})


if __name__ == "__main__":
    main()
