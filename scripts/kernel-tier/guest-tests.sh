#!/usr/bin/env bash
# Runs inside the kernel tier's guest (run.sh): each Criterion binary given,
# one after the other, and fails when any of them does. An argument
# BINARY::PATTERN runs only that binary's tests matching PATTERN (a suite
# of the main tier whose kernel-dependent tests the guest's kernel runs).
set -uo pipefail
failed=0
for t in "$@"; do
	bin=${t%%::*}
	args=(--jobs=2 --verbose)
	[ "$bin" != "$t" ] && args+=(--filter "${t#*::}")
	echo "== $(basename "$bin") ${args[*]:2}"
	"$bin" "${args[@]}" || { echo "== $(basename "$bin") FAILED"; failed=1; }
done
exit "$failed"
