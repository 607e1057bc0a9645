#!/usr/bin/env bash
# Multi-process training speed at the middle benchmark shape (I = 128, H = 512, O = 128, B = 64,
# T = 100, one layer, softmax cross-entropy at every step, Adam): tokens/s for 1 process × 2
# threads, 2 processes × 1 thread and 4 processes × 1 thread (oversubscribed on 2 cores), the
# seconds per step spent in MPI collectives (LSTM_MPI_TIMING), and the collectives alone
# (lstm-mpi-bench). The three runs use S = 4, so they must also end with the same bits.
# Figures and the scaling estimate: docs/results/mpi.md (scripts/mpi-scaling-estimate.py).
#   scripts/bench-mpi.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source "$root/scripts/mpi-common.sh"
steps=${1:-30}
swift build -c release --traits MPI --build-path .build-mpi --product lstm
swift build -c release --traits MPI --build-path .build-mpi --product lstm-mpi-bench
bin=$root/.build-mpi/release
mpirun=(mpirun --allow-run-as-root --oversubscribe)
work=$(mktemp -d /tmp/lstm-mpi-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
bench_data bench.h5
bench_config "$work" 512 1 "$steps" "shards: 4" >bench.yaml  # (mpi-common.sh)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
export OPENBLAS_NUM_THREADS=1 LSTM_MPI_TIMING=1
run() { # NAME WORKERS [mpirun -np N]
    local name=$1 workers=$2
    shift 2
    "$@" "$bin/lstm" train bench.yaml --set checkpoint.dir="$work/$name" --set parallel.workers="$workers" \
        >"$name.log" 2>&1 || { cat "$name.log"; exit 1; }
    "$python" - "$name" "$steps" <<'PY'
import json, re, statistics, sys
name, steps = sys.argv[1], int(sys.argv[2])
recs = [json.loads(l) for l in open(f"{name}/metrics.jsonl")]
tps = [r["tokens_per_s"] for r in recs if "tokens_per_s" in r][5:]
comm = [float(x) for x in re.findall(r"rank 0 of \d+: ([0-9.]+) s in MPI", open(f"{name}.log").read())]
per_step = f"{comm[0] / steps * 1000:7.1f} ms/step in collectives (rank 0)" if comm else ""
print(f"{name:24s} median {statistics.median(tps):8.0f} tokens/s ({6400 / statistics.median(tps) * 1000:6.0f} ms/step)  {per_step}")
PY
}
run 1proc-2threads 2
run 2procs-1thread 1 "${mpirun[@]}" -np 2
run 4procs-1thread 1 "${mpirun[@]}" -np 4
# (The stored configs differ in parallel.workers, which never changes the bits.)
"$python" "$root/scripts/compare-runs.py" --ignore-attr config_text 1proc-2threads 2procs-1thread
"$python" "$root/scripts/compare-runs.py" --ignore-attr config_text 1proc-2threads 4procs-1thread
echo "collectives alone (gradient of H = 512 and H = 1024):"
"${mpirun[@]}" -np 2 "$bin/lstm-mpi-bench"
"${mpirun[@]}" -np 4 "$bin/lstm-mpi-bench"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
