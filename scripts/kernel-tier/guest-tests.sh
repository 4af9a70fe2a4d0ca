#!/usr/bin/env bash
# Runs inside the kernel tier's guest (run.sh): each Criterion binary given,
# one after the other, and fails when any of them does. An argument
# BINARY::PATTERN runs only that binary's tests matching PATTERN (a suite
# of the main tier whose kernel-dependent tests the guest's kernel runs).
# KTIER_ONLY (run.sh carries it from the host) narrows the run to what
# matches a Criterion filter, "SUITE" or "SUITE/TEST" with globs
# ("ktier_cni_vf", "ktier_vf/qinq*"): binaries of other suites are skipped.
set -uo pipefail
only=${KTIER_ONLY:-}
if [ -n "$only" ]; then
	case $only in */*) ;; *) only="$only/*" ;; esac
fi
failed=0
ran=0
for t in "$@"; do
	bin=${t%%::*}
	suite=$(basename "$bin")
	suite=${suite#test_}
	# A hung test fails by name (the guest is slow: emulated, not virtualised).
	args=(--jobs=2 --verbose --timeout 120)
	if [ -n "$only" ]; then
		# shellcheck disable=SC2254 # the suite part is a glob on purpose
		case $suite in ${only%%/*}) ;; *) continue ;; esac
		args+=(--filter="$only")
	elif [ "$bin" != "$t" ]; then
		args+=(--filter="${t#*::}")
	fi
	echo "== $(basename "$bin") ${args[*]:4}"
	ran=$((ran + 1))
	"$bin" "${args[@]}" || { echo "== $(basename "$bin") FAILED"; failed=1; }
done
if [ "$ran" -eq 0 ]; then
	echo "== no suite matches KTIER_ONLY=$KTIER_ONLY"
	exit 1
fi
exit "$failed"
