#!/usr/bin/env bash
# /tmp hygiene: runs the README's test command (`swift test`) with a private TMPDIR and fails if
# the tests leave anything there (a test directory not removed, Foundation's empty
# TemporaryDirectory.* item-replacement folders, half-written files, …).
#
# Exempt, because the toolchain makes them, not this project: SwiftPM's `*.lock` files and the Swift
# driver's `TemporaryDirectory.XXXXXX` folders, which hold exactly one `.keep-directory` file (about
# six per `swift build` or `swift test`, even for a no-op build). A `TemporaryDirectory.*` folder
# without that marker is Foundation's, and fails the check. `lstm` itself writes every file through
# LSTMFiles.AtomicFile (a temporary file next to the target, then rename) and uses no temporary
# directory.
#
# Usage: scripts/check-tmp-hygiene.sh [swift test arguments, e.g. --filter LSTMRunTests]
set -euo pipefail
cd "$(dirname "$0")/.."
private=$(mktemp -d)
cache=$(mktemp -d)  # torch's compile cache (the interop tests run python with torch) goes elsewhere
trap 'rm -rf "$private" "$cache"' EXIT
status=0
TMPDIR=$private TORCHINDUCTOR_CACHE_DIR=$cache swift test "$@" || status=$?
left=""
for entry in "$private"/* "$private"/.[!.]*; do
    [ -e "$entry" ] || continue
    name=$(basename "$entry")
    case "$name" in
        *.lock) continue ;;
        TemporaryDirectory.*)
            [ -d "$entry" ] && [ "$(ls -A "$entry")" = ".keep-directory" ] && continue ;;
    esac
    left+="$name"$'\n'
done
if [ -n "$left" ]; then
    echo "check-tmp-hygiene: the tests left these in \$TMPDIR:" >&2
    printf '%s' "$left" | head -20 >&2
    exit 1
fi
[ "$status" -eq 0 ] || { echo "check-tmp-hygiene: the tests failed ($status)" >&2; exit "$status"; }
echo "check-tmp-hygiene: the tests passed and left nothing in \$TMPDIR (toolchain markers aside)"
