#!/usr/bin/env bash
# Guard for the training path's speed, deterministic (instruction counts, not seconds).
#
# Runs a tiny `lstm train` (the copy task: embedding, softmax cross-entropy at every step, Adam,
# norm clipping, validation) under callgrind, counting only the instructions executed inside
# `Trainer.train` and `LSTMNetwork.forward` (training steps and validation), and fails when more
# than a small share of them is Swift's generic runtime: value-witness calls
# (swift::metadataimpl), metadata and witness-table look-ups, protocol-witness thunks (…TW) and
# dispatch thunks (…Tj). Those only run when generic model code has fallen off its specialised
# Float body; the unspecialised training path spent ~40% of its instructions there.
#
# Usage: scripts/check-fast-path.sh [path/to/release/lstm] (default .build/release/lstm; build it
# with `swift build -c release` first). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/lstm}
limit_percent=${FAST_PATH_LIMIT_PERCENT:-2}
[ -x "$bin" ] || { echo "check-fast-path: $bin not found; run 'swift build -c release' first" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "check-fast-path: valgrind is not installed" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# valgrind 3.19 cannot read the DWARF 5 the Swift 6 toolchain writes: count a copy without
# debug info (the symbol table stays, and the code is the same bytes).
objcopy --strip-debug "$bin" "$work/lstm"
valgrind -q --tool=callgrind --callgrind-out-file="$work/cg.out" \
    --toggle-collect='$s7LSTMKit7TrainerC5train*' \
    --toggle-collect='$s7LSTMKit11LSTMNetworkV7forward*' \
    "$work/lstm" train configs/copy.yaml \
    --set data.file="$work/copy.h5" \
    --set 'data.generate={task: copy, symbols: 3, alphabet: 4, delay: 4, train: 64, val: 16, test: 16, seed: 1}' \
    --set data.batch_size=16 --set model.hidden_size=16 --set model.embedding_size=8 \
    --set training.steps=12 --set validation.every=6 --set validation.max_batches=1 \
    --set checkpoint.dir="$work/run" --set checkpoint.every=1000 --set logging.every=100 \
    >"$work/train.log" 2>&1 || { cat "$work/train.log" >&2; exit 1; }

callgrind_annotate --threshold=100 "$work/cg.out" >"$work/annotate.txt"
awk -v limit="$limit_percent" '
    /^ *[0-9,]+ +\(/ || /^ *[0-9,]+  / {
        ir = $1; gsub(",", "", ir); name = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", name)
        if (name ~ /PROGRAM TOTALS/) next
        total += ir
        if (name ~ /metadataimpl|swift_getGeneric|swift_getAssociated|swift_checkMetadataState|swift_getWitnessTable|swift_conformsTo|TW( |$|\])|Tj( |$|\])|TWTm|Tq( |$)/) {
            generic += ir; top[name] += ir
        }
    }
    END {
        if (total == 0) { print "check-fast-path: no instructions collected inside Trainer.train (symbols renamed?)"; exit 1 }
        share = 100 * generic / total
        printf "check-fast-path: %d instructions in the training path, %.2f%% in Swift generic runtime (limit %s%%)\n", total, share, limit
        if (share > limit) {
            print "largest generic-runtime entries:"
            for (k in top) printf "  %12d  %s\n", top[k], substr(k, 1, 160) | "sort -rn | head -12"
            exit 1
        }
    }' "$work/annotate.txt"
