#!/usr/bin/env bash
# Kill/resume soak: a tiny `lstm train` killed with SIGKILL N times (5 chosen moments, exact — before
# the first checkpoint, right after one, inside a checkpoint write, two seeded mid-epoch steps — then
# N−5 timed random ones, seeded),
# each followed by `lstm resume`; it must end with metrics.jsonl, the weights, the optimizer state
# and best.h5's weights bit for bit those of the run that never stopped. It runs the CI test
# KillResumeCLITests (5 + 4 kills there) with more kills and a longer run (60 steps per kill).
#
# Usage: scripts/soak-kill-resume.sh [N=20] [SEED]   (prints the seed; pass it again to replay)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
[ "$n" -ge 6 ] || { echo "soak-kill-resume: N must be at least 6" >&2; exit 2; }
seed=${2:-$RANDOM$RANDOM}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "soak-kill-resume: $n kills, seed $seed"
LSTM_KILLS=$((n - 5)) LSTM_KILL_SEED=$seed LSTM_KILL_STEPS=$((60 * n)) \
    swift test --filter KillResumeCLITests >"$log" 2>&1 || true
grep -E "kill/resume|error|failed|passed" "$log" || true
grep -q "Executed 1 test, with 0 failures" "$log" || { echo "soak-kill-resume: FAILED (seed $seed)" >&2; exit 1; }
echo "soak-kill-resume: $n kills, seed $seed: passed"
