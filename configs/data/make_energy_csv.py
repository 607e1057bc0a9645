#!/usr/bin/env python3
"""Writes configs/data/energy.csv: a deterministic synthetic hourly series for configs/forecast.yaml.

    python3 configs/data/make_energy_csv.py                # rewrites configs/data/energy.csv
    python3 configs/data/make_energy_csv.py --baselines    # also prints naive-forecast MSEs

Standard library only; the same bytes on every run (seeded random.Random, fixed formatting).
4000 hourly rows from 2024-01-01 00:00 with a `time` column (text, so `lstm prepare csv` skips it
as a feature) and three numeric columns:

  temp   °C: slow warming trend + daily cycle (peak 15:00) + a weather anomaly (AR(1), φ = 0.97)
         + noise
  load   MW: base + morning and evening peaks (smaller on weekends) + heating demand when
         temp < 16 °C + noise
  solar  MW: a daylight arch (06:00-18:00, longer days later in the series) × cloud cover
         (AR(1)) + noise, never below 0

--baselines prints, for the split that `lstm prepare csv --window 48 --val-frac 0.15
--test-frac 0.15` makes, the val and test MSE of two naive forecasts of `load` and `temp` in the
z-scored units the model's val_mse uses (mean over both targets):
persistence (next hour = this hour) and seasonal naive (next hour = the same hour yesterday).
"""
import datetime
import math
import os
import random
import sys

ROWS = 4000
SEED = 7
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "energy.csv")


def generate():
    rng = random.Random(SEED)
    start = datetime.datetime(2024, 1, 1)
    anomaly, cloud = 0.0, 0.7
    rows = []
    for i in range(ROWS):
        t = start + datetime.timedelta(hours=i)
        h = t.hour
        day = i / 24.0
        anomaly = 0.97 * anomaly + rng.gauss(0, 0.45)
        temp = 4 + 0.08 * day + 5 * math.sin(2 * math.pi * (h - 9) / 24) + anomaly + rng.gauss(0, 0.3)
        weekend = t.weekday() >= 5
        peaks = 18 * math.exp(-((h - 8) ** 2) / 4) + 24 * math.exp(-((h - 19) ** 2) / 6)
        load = 60 + (0.6 if weekend else 1.0) * peaks + 1.5 * max(0.0, 16 - temp) + rng.gauss(0, 2)
        cloud = min(1.0, max(0.2, 0.9 * cloud + 0.1 * 0.7 + rng.gauss(0, 0.08)))
        daylight = 12 + 3 * day / (ROWS / 24.0)  # hours of daylight, 12 → 15
        sunrise = 12 - daylight / 2
        x = (h + 0.5 - sunrise) / daylight
        arch = math.sin(math.pi * x) if 0 < x < 1 else 0.0
        solar = max(0.0, 80 * arch * cloud + rng.gauss(0, 1.5) * (arch > 0))
        rows.append((t.strftime("%Y-%m-%dT%H:%M"), temp, load, solar))
    return rows


def write(rows):
    with open(OUT, "w", newline="") as f:
        f.write("time,temp,load,solar\n")
        for t, temp, load, solar in rows:
            f.write(f"{t},{temp:.2f},{load:.2f},{solar:.2f}\n")


def baselines(rows, window=48, val_frac=0.15, test_frac=0.15):
    n = len(rows)
    val, test = int(n * val_frac), int(n * test_frac)
    train = n - val - test
    targets = [(2, "load"), (1, "temp")]
    stats = []
    for col, _ in targets:
        xs = [r[col] for r in rows[:train]]
        m = sum(xs) / len(xs)
        s = math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))
        stats.append((m, s))
    # Each split is windowed inside its own rows: its windows predict rows lo+window ... hi-1.
    for split, lo, hi in (("val", train, train + val), ("test", train + val, n)):
        for name, lag in (("persistence", 1), ("seasonal naive (24 h)", 24)):
            errs = []
            for (col, _), (m, s) in zip(targets, stats):
                e = [((rows[r][col] - rows[r - lag][col]) / s) ** 2 for r in range(lo + window, hi)]
                errs.append(sum(e) / len(e))
            print(f"{split} {name}: MSE load {errs[0]:.4f}, temp {errs[1]:.4f}, mean {sum(errs) / 2:.4f}")


if __name__ == "__main__":
    data = generate()
    write(data)
    print(f"wrote {OUT}: {len(data)} rows")
    if "--baselines" in sys.argv:
        baselines([(r[0], float(f"{r[1]:.2f}"), float(f"{r[2]:.2f}"), float(f"{r[3]:.2f}")) for r in data])
