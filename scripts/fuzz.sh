#!/usr/bin/env bash
# Runs the libFuzzer targets of test/fuzz for as long as asked and reports,
# per target, the executions and the coverage libFuzzer ended with.
#
#   scripts/fuzz.sh [--seconds N] [--jobs N] [--no-build] [targets...]
#
#   --seconds N  how long each target fuzzes (default 60)
#   --jobs N     how many targets run at once, one process each (default 1)
#   --no-build   use build-fuzz/ as it is
#   targets      names without the fuzz_ prefix (default: all of them)
#
# Builds build-fuzz/ (clang, -DKYBORG_FUZZ=ON) first. Each target keeps its
# growing corpus in build-fuzz/fuzz/corpus/<target>/ across runs, reads the
# tree's seeds (test/fuzz/corpus/<target>/) as well and never writes them;
# a crash leaves its input in build-fuzz/fuzz/artifacts/<target>/ and its
# log in build-fuzz/fuzz/logs/<target>.log. Every run appends a line per
# target to build-fuzz/fuzz/runs.tsv; the table ends with the totals there.
# Exit status 1 when any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60 jobs=1 build=1 targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--no-build) build=0; shift ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done

dir=build-fuzz
if [ "$build" = 1 ]; then
	echo "== build $dir (clang, libFuzzer, ASan+UBSan)" >&2
	cmake -B "$dir" -S . -DCMAKE_C_COMPILER=clang -DKYBORG_FUZZ=ON >/dev/null
	cmake --build "$dir" -j"$(nproc)" --target fuzzers >/dev/null
fi
if [ ${#targets[@]} -eq 0 ]; then
	for src in test/fuzz/fuzz_*.c; do
		t=$(basename "$src" .c)
		targets+=("${t#fuzz_}")
	done
fi
for t in "${targets[@]}"; do
	[ -x "$dir/test/fuzz/fuzz_$t" ] || { echo "fuzz: no target $t (in $dir/test/fuzz)" >&2; exit 2; }
done

out=$dir/fuzz
mkdir -p "$out/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
	local t=$1 args
	mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
	args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$out/artifacts/$t/")
	[ -f "test/fuzz/dict/$t.dict" ] && args+=(-dict="test/fuzz/dict/$t.dict")
	"$dir/test/fuzz/fuzz_$t" "${args[@]}" "$out/corpus/$t" "test/fuzz/corpus/$t" >"$out/logs/$t.log" 2>&1
}

# libFuzzer's last status line ("#N DONE cov: C ft: F corp: ...", or the
# last "pulse"/"NEW" one when it stopped early) and its final stats.
stats() {
	local log=$1 line
	line=$(grep -E '^#[0-9]+[[:space:]].* cov: ' "$log" | tail -1 || true)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	[ -n "$execs" ] || execs=$(sed -E -n 's/^#([0-9]+)[[:space:]].*/\1/p' <<<"$line")
	cov=$(sed -E -n 's/.* cov: ([0-9]+).*/\1/p' <<<"$line")
	ft=$(sed -E -n 's/.* ft: ([0-9]+).*/\1/p' <<<"$line")
	corp=$(sed -E -n 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$line")
	: "${execs:=0}" "${rate:=0}" "${cov:=?}" "${ft:=?}" "${corp:=?}"
}

echo "== fuzz ${targets[*]}: ${seconds}s each, $jobs at a time" >&2
declare -A status
running=0
for t in "${targets[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	# set -e holds in the subshell too: a crash's status is taken, not
	# left to end it before the status is written.
	( rc=0; run_one "$t" || rc=$?; echo "$rc" >"$out/logs/$t.rc" ) &
	running=$((running + 1))
done
wait

failed=0
printf '%-14s %8s %12s %8s %6s %7s %7s  %s\n' target seconds executions exec/s cov ft corpus result
for t in "${targets[@]}"; do
	stats "$out/logs/$t.log"
	rc=$(cat "$out/logs/$t.rc")
	result=ok
	if [ "$rc" != 0 ]; then
		art=$(ls -t "$out/artifacts/$t/" 2>/dev/null | head -1)
		result="FAILED (exit $rc): $out/artifacts/$t/${art:-?}, log $out/logs/$t.log"
		failed=1
	fi
	printf '%-14s %8s %12s %8s %6s %7s %7s  %s\n' "$t" "$seconds" "$execs" "$rate" "$cov" "$ft" "$corp" "$result"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "$execs" "$cov" "$ft" "$corp" \
		"$rc" >>"$out/runs.tsv"
done
echo "-- all runs in $out/runs.tsv (executions, seconds, last coverage):"
for t in "${targets[@]}"; do
	awk -F'\t' -v t="$t" '$2 == t { n += $4; s += $3; cov = $5; ft = $6 }
		END { printf "%-14s %14d executions in %7d s, last cov %s ft %s\n", t, n, s, cov, ft }' "$out/runs.tsv"
done
exit "$failed"
