#!/usr/bin/env bash
# build.sh [BUILD_DIR] [cmake args...]: configures and builds cetreg (release
# with debug info) into BUILD_DIR (default: build/ in the repository).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$repo/build}"
shift || true
mkdir -p "$dir"
log="$dir/build.log"
if ! { cmake -S "$repo" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" &&
       cmake --build "$dir" -j"$(nproc)"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "build: failed (full log: $log)" >&2
    exit 1
fi
echo "build: ok ($dir)" >&2
