#!/usr/bin/env python3
"""Bitwise comparison of two run directories (scripts/test-mpi.sh).

Every checkpoint present in both (step files, latest.h5, best.h5) must hold the same datasets,
byte for byte, and the same attributes; the run state in `data_cursor` is compared without its
wall-clock time, and the run directory's path (part of the stored config) is
replaced by <run>. metrics.jsonl must hold the same records apart from wall time and tokens/s.
`--skip NAME` leaves a checkpoint file out; `--ignore-attr NAME` an attribute (e.g. config_text
of runs launched with different --set overrides). Exit status 1 with the first differences named, 0 when the runs are the same bits.
"""
import json
import os
import re
import sys

import h5py
import numpy as np

TIMING = {"wall_time", "wallTime", "tokens_per_s", "compute_s", "exchange_s", "wait_s", "overlap"}
# Per-file, not per-run: the checksum list hashes attributes that hold wall time and paths, and the
# provenance names the run's own files.
PER_FILE = {"checksums", "run_provenance"}


def attrs(obj, run):
    """Attributes; the run directory (checkpoint.dir in the stored config) reads as <run>."""
    out = {}
    for k, v in obj.attrs.items():
        if k in PER_FILE:
            continue
        if isinstance(v, bytes):
            v = v.decode()
        if isinstance(v, str):
            v = re.sub(r"(\n\s*dir: ).*", r"\1<run>", v.replace(run, "<run>"))
        if k == "data_cursor":
            v = json.loads(v if isinstance(v, str) else v.decode())
            for t in TIMING:
                v.pop(t, None)
        elif isinstance(v, np.ndarray) and v.dtype.kind == "O":  # strings (e.g. class_names): values, not pointers
            v = ("O", [x.decode() if isinstance(x, bytes) else x for x in v.ravel().tolist()])
        elif isinstance(v, np.ndarray):
            v = (v.dtype.str, v.tobytes())
        out[k] = v
    return out


def h5(path, run):
    """name → (dtype, shape, bytes) for datasets, name@ → attributes."""
    items = {}
    with h5py.File(path, "r") as f:
        items["/@"] = attrs(f, run)

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                a = obj[()]
                items[name] = (str(obj.dtype), obj.shape, np.asarray(a).tobytes())
            items[name + "@"] = attrs(obj, run)

        f.visititems(visit)
    return items


def metrics(path):
    records = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            for t in TIMING:
                r.pop(t, None)
            records.append(r)
    return records


def main(a, b, skip, ignore_attrs):
    problems = []

    def checkpoints(d):
        return set(n for n in os.listdir(d) if n.endswith(".h5") and n not in skip)

    files = sorted(checkpoints(a) & checkpoints(b))
    if not files:
        problems.append("no checkpoint in both")
    only = sorted(checkpoints(a) ^ checkpoints(b))
    if only:
        problems.append(f"checkpoints in only one run: {only}")
    for name in files:
        x = h5(os.path.join(a, name), os.path.abspath(a))
        y = h5(os.path.join(b, name), os.path.abspath(b))
        for key in sorted(set(x) | set(y)):
            if key.endswith("@"):
                for attr in ignore_attrs:
                    x.get(key, {}).pop(attr, None)
                    y.get(key, {}).pop(attr, None)
            if x.get(key) != y.get(key):
                p, q = x.get(key), y.get(key)
                if isinstance(p, dict) and isinstance(q, dict):
                    key += " " + ", ".join(k for k in sorted(set(p) | set(q)) if p.get(k) != q.get(k))
                problems.append(f"{name}: {key} differs")
    ma, mb = metrics(os.path.join(a, "metrics.jsonl")), metrics(os.path.join(b, "metrics.jsonl"))
    if ma != mb:
        diff = next((i for i, (p, q) in enumerate(zip(ma, mb)) if p != q), min(len(ma), len(mb)))
        problems.append(f"metrics.jsonl differs from record {diff} ({len(ma)} vs {len(mb)} records)")
    if problems:
        print(f"{a} vs {b}: NOT the same bits:\n  " + "\n  ".join(problems[:20]))
        return 1
    print(f"{a} vs {b}: same bits ({len(files)} checkpoints, {len(ma)} metrics records)")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    skip, ignore = set(), set()
    while args and args[0] in ("--skip", "--ignore-attr"):
        (skip if args[0] == "--skip" else ignore).add(args[1])
        args = args[2:]
    sys.exit(main(args[0], args[1], skip, ignore))
