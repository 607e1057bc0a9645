#!/usr/bin/env bash
# Overlap of the gradient exchange with backpropagation (parallel.overlap), A/B on this machine:
# `mpirun -np 2` of the bench-mpi.sh shape with 2 layers (I = 128, H = 512, O = 128, B = 64, T = 100,
# Adam, S = 4, one worker per rank), overlap off and on alternately (A B A B …, ROUNDS pairs), each
# run STEPS steps. Per run: the median step time (from tokens/s), exchange_s, wait_s and overlap of
# metrics.jsonl after 3 warm-up records, and the load average; then the medians and ranges per
# setting. Every run must end with the same bits (compare-runs). Figures: docs/results/mpi.md.
#   scripts/bench-mpi-overlap.sh [ROUNDS] [STEPS]
#   LAYERS=2 H=512 NP=2 scripts/bench-mpi-overlap.sh    # (the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source "$root/scripts/mpi-common.sh"
rounds=${1:-3} steps=${2:-15}
layers=${LAYERS:-2} h=${H:-512} np=${NP:-2}
if [[ -z "${LSTM:-}" ]]; then
    swift build -c release --traits MPI --build-path .build-mpi --product lstm
    LSTM=$root/.build-mpi/release/lstm
fi
# MPIRUN_ARGS="--bind-to none" (for instance) is passed to mpirun.
mpirun=(mpirun --allow-run-as-root --oversubscribe ${MPIRUN_ARGS:-})
work=$(mktemp -d /tmp/lstm-mpi-overlap.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
bench_data bench.h5
for o in false true; do
    bench_config "$work" "$h" "$layers" "$steps" "shards: 4, workers: 1, overlap: $o" >"bench-$o.yaml"
done
export OPENBLAS_NUM_THREADS=1
for ((i = 0; i < rounds; i++)); do
    for o in false true; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        "${mpirun[@]}" -np "$np" "$LSTM" train "bench-$o.yaml" --set checkpoint.dir="$work/$o-$i" >"$o-$i.log" 2>&1 \
            || { cat "$o-$i.log"; exit 1; }
        "$python" - "$o-$i" "$load" <<'PY'
import json, statistics, sys
name, load = sys.argv[1:]
r = [json.loads(l) for l in open(f"{name}/metrics.jsonl") if "compute_s" in l][3:]
med = lambda f: statistics.median(f(x) for x in r)
print(f"RUN {name} load {load} step_ms {med(lambda x: 6400 / x['tokens_per_s'] * 1e3):.1f} "
      f"exchange_ms {med(lambda x: x['exchange_s']) * 1e3:.1f} wait_ms {med(lambda x: x['wait_s']) * 1e3:.1f} "
      f"overlap {med(lambda x: x['overlap']):.3f}")
PY
    done
    "$python" "$root/scripts/compare-runs.py" --ignore-attr config_text "false-$i" "true-$i" >/dev/null \
        || { echo "overlap off and on differ (round $i)"; exit 1; }
done | tee runs.txt
"$python" - <<'PY'
import re, statistics
runs = [l.split() for l in open("runs.txt") if l.startswith("RUN")]
for o in ("false", "true"):
    rs = [dict(zip(r[2::2], map(float, r[3::2]))) for r in runs if r[1].startswith(o)]
    def s(k, f="{:.1f}"):
        v = [x[k] for x in rs]
        return f"{f.format(statistics.median(v))} ({f.format(min(v))}–{f.format(max(v))})"
    print(f"overlap {o:5s}: step {s('step_ms')} ms, exchange {s('exchange_ms')} ms, wait {s('wait_ms')} ms, "
          f"overlap {s('overlap', '{:.3f}')}, load {s('load', '{:.2f}')}")
PY
echo "(every pair of runs: the same bits)"
