#!/usr/bin/env bash
# run-fuzz.sh SRC_DIR WORK_DIR SECONDS: builds the libFuzzer drivers with clang
# (their own small build tree) and runs each (JSON decoding, field parsing,
# school files, HTTP/1.1 requests)
# for SECONDS over its committed
# corpus. Used by the main (gcc) build's CTest, so the suite always fuzzes.
set -euo pipefail
src="$1" work="$2" secs="$3"
command -v clang >/dev/null || { echo "run-fuzz: clang is not installed (tools/setup-deps.sh test)" >&2; exit 1; }
mkdir -p "$work"
if ! { CC=clang cmake -S "$src" -B "$work" -DCET_FUZZ=ON -DCET_SANITIZE=ON \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build "$work" --target fuzz_json fuzz_fields fuzz_sheet fuzz_http -j"$(nproc)"; } >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    exit 1
fi
for t in json fields sheet http; do
    mkdir -p "$work/corpus_${t}_work"
    echo "run-fuzz: fuzz_$t for ${secs}s" >&2
    "$work/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
        "$work/corpus_${t}_work" "$src/tests/fuzz/corpus_$t"
done
