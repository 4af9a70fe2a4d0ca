#!/usr/bin/env bash
# One fuzz target under CTest: every input of its corpus (libFuzzer runs
# them all before it mutates any: a seed that crashes fails here), then
# SECONDS of fuzzing into a scratch directory, so the tree's corpus is never
# written. A crash leaves its input in WORK/crash-* and fails the test.
# Usage: run.sh FUZZER CORPUS WORK SECONDS
set -euo pipefail
fuzzer=$1 corpus=$2 work=$3 seconds=$4
dir=$(dirname "$0")
name=$(basename "$corpus")

rm -rf "$work"
mkdir -p "$work/new" "$work/artifacts"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
	-artifact_prefix="$work/artifacts/")
[ -f "$dir/dict/$name.dict" ] && args+=(-dict="$dir/dict/$name.dict")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$fuzzer" "${args[@]}" "$work/new" "$corpus"
