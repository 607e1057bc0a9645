#!/usr/bin/env bash
# /tmp hygiene: runs the built test suite (the XCTest bundle, directly) with a private TMPDIR and
# fails if it leaves anything there (a test directory not removed, Foundation's
# TemporaryDirectory.* folders from atomic writes or item-replacement directories, …).
#
# `swift build` and `swift test` themselves (SwiftPM) leave about six empty
# `TemporaryDirectory.XXXXXX` folders (each holding a `.keep-directory` file) in $TMPDIR per
# invocation, even for a no-op build; that is the toolchain, not this project, and is why the
# check runs the test bundle without SwiftPM. `lstm` itself writes every file through
# LSTMFiles.AtomicFile (temporary file next to the target, then rename) and uses no temporary
# directory.
#
# Usage: scripts/check-tmp-hygiene.sh [XCTest filter]   (after `swift build --build-tests`)
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=.build/debug/lstmPackageTests.xctest
[ -x "$bundle" ] || { echo "check-tmp-hygiene: $bundle not found; run 'swift build --build-tests' first" >&2; exit 2; }
private=$(mktemp -d)
cache=$(mktemp -d)  # torch's compile cache (the interop tests run python with torch) goes elsewhere
trap 'rm -rf "$private" "$cache"' EXIT
status=0
TMPDIR=$private TORCHINDUCTOR_CACHE_DIR=$cache "$bundle" ${1:+"$1"} || status=$?
left=$(cd "$private" && ls -A)
if [ -n "$left" ]; then
    echo "check-tmp-hygiene: the tests left these in \$TMPDIR:" >&2
    echo "$left" | head -20 >&2
    exit 1
fi
[ "$status" -eq 0 ] || { echo "check-tmp-hygiene: the tests failed ($status)" >&2; exit "$status"; }
echo "check-tmp-hygiene: the tests passed and left nothing in \$TMPDIR"
