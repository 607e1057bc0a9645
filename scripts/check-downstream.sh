#!/usr/bin/env bash
# Builds Tests/Downstream — a package that depends on this checkout by its library products only
# (LSTMKit, LSTMData, LSTMIO, LSTMRun) — and runs it: the README's two API examples from outside.
# Usage: scripts/check-downstream.sh [WORK_DIR]   (WORK_DIR defaults to a fresh temporary directory)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/lstm-downstream.XXXXXX)}"
mkdir -p "$work"
cp -R "$repo/Tests/Downstream/." "$work/pkg"
ln -sfn "$repo" "$work/pkg/lstm"  # the dependency's identity is `lstm`, whatever the checkout is called
mkdir -p "$work/out"
swift build --package-path "$work/pkg" --scratch-path "$work/build" --product Downstream
"$work/build/debug/Downstream" "$repo/configs/adding.yaml" "$work/out"
if [ $# -eq 0 ]; then rm -rf "$work"; fi
