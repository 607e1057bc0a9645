#!/usr/bin/env bash
# bf16 against float32 (training.precision, docs/results/quality.md "bf16 against float32"): the
# character LM (configs/charlm.yaml on the GPL-3 text, shortened to EPOCHS epochs, no early
# stopping), the synthetic series forecast (configs/forecast.yaml on configs/data/energy.csv, 15
# epochs, no early stopping) and, when given one, a real univariate series from a CSV file of a time
# column and a value column TARGET (configs/forecast.yaml on windows of WINDOW values predicting the
# next, 30 epochs, no early stopping); SEEDS seeds each, float32 and bf16 alternating. EPOCHS = 0
# runs the real series alone. Prints one line per run: task, precision, seed, final train loss (mean
# of the last logging window) and final val loss (the run's last validation). The real series
# measured (Zurich monthly sunspot numbers 1749-1983, Melbourne daily minimum temperatures
# 1981-1990: sources and SHA-256s in docs/results/quality.md) are not in the repository.
#
#   Benchmarks/Quality/bf16.sh [LSTM=.build/release/lstm] [SEEDS=3] [EPOCHS=12] [CSV TARGET [WINDOW=24]]
set -euo pipefail
cd "$(dirname "$0")/../.."
lstm=${1:-.build/release/lstm} seeds=${2:-3} epochs=${3:-12} csv=${4:-} target=${5:-} window=${6:-24}
[ -z "$csv" ] || [ -n "$target" ] || { echo "bf16.sh: a CSV needs its TARGET column's name" >&2; exit 2; }
[ -z "$csv" ] || [ -f "$csv" ] || { echo "bf16.sh: no CSV at $csv" >&2; exit 2; }
[ "$epochs" != 0 ] || [ -n "$csv" ] || { echo "bf16.sh: EPOCHS = 0 runs only a real series: give its CSV" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tasks=()
if [ "$epochs" != 0 ]; then
    "$lstm" prepare text /usr/share/common-licenses/GPL-3 --out "$work/gpl3.h5" >/dev/null
    "$lstm" prepare csv configs/data/energy.csv --window 48 --target load temp --val-frac 0.15 --test-frac 0.15 \
        --out "$work/energy.h5" >/dev/null
    tasks+=("charlm configs/charlm.yaml gpl3.h5 $epochs" "forecast configs/forecast.yaml energy.h5 15")
fi
if [ -n "$csv" ]; then
    "$lstm" prepare csv "$csv" --window "$window" --target "$target" --val-frac 0.15 --test-frac 0.15 \
        --out "$work/real.h5" >/dev/null
    tasks+=("real:$(basename "$csv") configs/forecast.yaml real.h5 30")
fi
last() { grep "\"$2\"" "$1/metrics.jsonl" | tail -1 | sed "s/.*\"$2\" *: *\([0-9.eE+-]*\).*/\1/"; }
for seed in $(seq 1 "$seeds"); do
    for p in float32 bf16; do
        for task in "${tasks[@]}"; do
            read -r name config data n <<<"$task"
            run="$work/$name-$p-$seed"
            "$lstm" train "$config" --set data.file="$work/$data" --set checkpoint.dir="$run" \
                --set training.epochs="$n" --set 'training.early_stopping=null' --set logging.progress=none \
                --set seed="$seed" --set training.precision="$p" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
            echo "$name $p seed $seed train_loss $(last "$run" train_loss) val_loss $(last "$run" val_loss)"
        done
    done
done
