#!/usr/bin/env bash
# bf16 against float32 (training.precision, docs/results/quality.md "bf16 against float32"): the
# character LM (configs/charlm.yaml on the GPL-3 text, shortened to EPOCHS epochs, no early
# stopping) and the series forecast (configs/forecast.yaml on configs/data/energy.csv, 15 epochs,
# no early stopping; the real series of quality.py need statsmodels, absent here), SEEDS seeds
# each, float32 and bf16 alternating. Prints one line per run: task, precision, seed, final train
# loss (mean of the last logging window) and final val loss (the run's last validation).
#
#   Benchmarks/Quality/bf16.sh [LSTM=.build/release/lstm] [SEEDS=3] [CHARLM_EPOCHS=12]
set -euo pipefail
cd "$(dirname "$0")/../.."
lstm=${1:-.build/release/lstm} seeds=${2:-3} epochs=${3:-12}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$lstm" prepare text /usr/share/common-licenses/GPL-3 --out "$work/gpl3.h5" >/dev/null
"$lstm" prepare csv configs/data/energy.csv --window 48 --target load temp --val-frac 0.15 --test-frac 0.15 \
    --out "$work/energy.h5" >/dev/null
last() { grep '"train_loss"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"train_loss" *: *\([0-9.eE+-]*\).*/\1/'; }
lastval() { grep '"val_loss"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"val_loss" *: *\([0-9.eE+-]*\).*/\1/'; }
for seed in $(seq 1 "$seeds"); do
    for p in float32 bf16; do
        run="$work/charlm-$p-$seed"
        "$lstm" train configs/charlm.yaml --set data.file="$work/gpl3.h5" --set checkpoint.dir="$run" \
            --set training.epochs="$epochs" --set 'training.early_stopping=null' --set logging.progress=none \
            --set seed="$seed" --set training.precision="$p" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
        echo "charlm $p seed $seed train_loss $(last "$run") val_loss $(lastval "$run")"
        run="$work/forecast-$p-$seed"
        "$lstm" train configs/forecast.yaml --set data.file="$work/energy.h5" --set checkpoint.dir="$run" \
            --set training.epochs=15 --set 'training.early_stopping=null' --set logging.progress=none \
            --set seed="$seed" --set training.precision="$p" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
        echo "forecast $p seed $seed train_loss $(last "$run") val_loss $(lastval "$run")"
    done
done
