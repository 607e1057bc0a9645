#!/usr/bin/env bash
# A/B of two `lstm` binaries on one run config, alternating: A B A B … (REPS runs each).
#
#   Benchmarks/TrainBench/ab.sh OLD_LSTM NEW_LSTM CONFIG.yaml [REPS=3] [WARMUP=3]
#
# Each run trains CONFIG in a fresh run directory (checkpoint.dir is overridden) and its figure is
# the median per-step tokens_per_s of metrics.jsonl after WARMUP steps; each side is then the
# median of its runs with their min–max, and the ratio NEW/OLD of the medians. The load average is
# printed before every run: on a busy machine the spread says how far to trust the ratio.
# Environment variables (OPENBLAS_CORETYPE, LSTM_GEMM, …) pass through to both sides.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
old=$1 new=$2 config=$3 reps=${4:-3} warmup=${5:-3}
for b in "$old" "$new"; do [ -x "$b" ] || { echo "ab.sh: $b is not an executable" >&2; exit 2; }; done
[ -f "$config" ] || { echo "ab.sh: no config at $config" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The median per-step tokens_per_s of a metrics.jsonl after the warm-up steps.
run_median() {
    awk -v w="$warmup" 'match($0, /"step" *: *[0-9]+/) {
            s = substr($0, RSTART, RLENGTH); sub(/.*: */, "", s)
            if (s + 0 > w && match($0, /"tokens_per_s" *: *[0-9.eE+-]+/)) {
                t = substr($0, RSTART, RLENGTH); sub(/.*: */, "", t); print t
            }
        }' "$1" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -a a_runs=() b_runs=()
for ((i = 1; i <= reps; i++)); do
    for side in A B; do
        bin=$old
        [ "$side" = B ] && bin=$new
        dir="$work/run-$side-$i"
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        "$bin" train "$config" --set checkpoint.dir="$dir" --set logging.progress=none >"$work/log" 2>&1 ||
            { cat "$work/log" >&2; exit 1; }
        m=$(run_median "$dir/metrics.jsonl")
        printf '[%d] %s %s: %.0f tokens/s (load %s)\n' "$i" "$side" "$bin" "$m" "$load"
        if [ "$side" = A ]; then a_runs+=("$m"); else b_runs+=("$m"); fi
    done
done
summary() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'; }
read -r am alo ahi < <(summary "${a_runs[@]}")
read -r bm blo bhi < <(summary "${b_runs[@]}")
echo "A (old): median $am tokens/s (min–max $alo–$ahi)"
echo "B (new): median $bm tokens/s (min–max $blo–$bhi)"
awk -v a="$am" -v b="$bm" 'BEGIN { printf "B/A: %.3f; load average now %s\n", b / a, "'"$(cut -d' ' -f1-3 /proc/loadavg)"'" }'
