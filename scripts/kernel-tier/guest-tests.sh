#!/usr/bin/env bash
# Runs inside the kernel tier's guest (run.sh): each Criterion binary given,
# one after the other, and fails when any of them does.
# KTIER_ONLY (run.sh carries it from the host) narrows the run to what
# matches a Criterion filter, "SUITE" or "SUITE/TEST" with globs
# ("ktier_cni_vf", "ktier_vf/qinq*"): binaries of other suites are skipped.
set -uo pipefail
only=${KTIER_ONLY:-}
filter=()
if [ -n "$only" ]; then
	case $only in */*) ;; *) only="$only/*" ;; esac
	filter=(--filter="$only")
fi
failed=0
ran=0
for t in "$@"; do
	suite=$(basename "$t")
	suite=${suite#test_}
	# shellcheck disable=SC2254 # the suite part is a glob on purpose
	if [ -n "$only" ]; then case $suite in ${only%%/*}) ;; *) continue ;; esac; fi
	echo "== $(basename "$t")"
	ran=$((ran + 1))
	"$t" --jobs=2 --verbose "${filter[@]}" || { echo "== $(basename "$t") FAILED"; failed=1; }
done
if [ "$ran" -eq 0 ]; then
	echo "== no suite matches KTIER_ONLY=$KTIER_ONLY"
	exit 1
fi
exit "$failed"
