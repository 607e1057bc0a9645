#!/usr/bin/env bash
# Leak check: a tiny `lstm train` (copy task: data generation, training with Adam, validation,
# checkpoints, best.h5, metrics, loss plot) under valgrind memcheck; fails on any definite leak
# and on any memory error (invalid reads/writes, uninitialised values).
#
# Usage: scripts/check-leaks.sh [path/to/lstm] (default .build/release/lstm; build it with
# `swift build -c release --product lstm` first). Needs valgrind and objcopy. About a minute.
#
# valgrind 3.19 cannot read the DWARF 5 the Swift 6 toolchain writes, so the check runs a copy
# without debug info (the symbol table stays, and the code is the same bytes). Nothing is
# suppressed: "still reachable" and "possibly lost" blocks (the Swift runtime's metadata caches,
# Dispatch's thread pool, HDF5's free lists, OpenBLAS buffers, all live until exit) are reported by
# valgrind but are not errors; only "definitely lost" blocks fail the check.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/lstm}
[ -x "$bin" ] || { echo "check-leaks: $bin not found; run 'swift build -c release --product lstm' first" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "check-leaks: valgrind is not installed" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
objcopy --strip-debug "$bin" "$work/lstm"
status=0
OPENBLAS_NUM_THREADS=1 valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --error-exitcode=99 --log-file="$work/memcheck.txt" \
    "$work/lstm" train configs/copy.yaml \
    --set data.file="$work/copy.h5" \
    --set 'data.generate={task: copy, symbols: 3, alphabet: 4, delay: 4, train: 64, val: 16, test: 16, seed: 1}' \
    --set data.batch_size=16 --set model.hidden_size=8 --set model.embedding_size=4 \
    --set training.steps=12 --set validation.every=6 --set validation.max_batches=1 \
    --set checkpoint.dir="$work/run" --set checkpoint.every=4 --set logging.every=2 \
    --set logging.progress=none >"$work/train.log" 2>&1 || status=$?
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable" "$work/memcheck.txt" | sed 's/^==[0-9]*== /check-leaks: /'
if [ "$status" -ne 0 ]; then
    [ "$status" -eq 99 ] || { cat "$work/train.log" >&2; echo "check-leaks: lstm train failed ($status)" >&2; exit 1; }
    sed -n '/definitely lost in/,/^==[0-9]*== $/p;/Invalid\|uninitialised/,/^==[0-9]*== $/p' "$work/memcheck.txt" | head -80 >&2
    echo "check-leaks: memcheck found errors or definite leaks (full log above)" >&2
    exit 1
fi
echo "check-leaks: no definite leaks, no memory errors"
