#!/usr/bin/env bash
# Runs inside the kernel tier's guest (run.sh): each Criterion binary given,
# one after the other, and fails when any of them does.
set -uo pipefail
failed=0
for t in "$@"; do
	echo "== $(basename "$t")"
	"$t" --jobs=2 --verbose || { echo "== $(basename "$t") FAILED"; failed=1; }
done
exit "$failed"
