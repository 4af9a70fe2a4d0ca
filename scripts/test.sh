#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every
# test twice: in the normal build and under AddressSanitizer + UBSan.
# The tests create network namespaces and links: run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
if [ "$(id -u)" -ne 0 ]; then
	echo "test: the suite creates network namespaces and links; run it as root" >&2
	exit 1
fi

jobs=$(nproc)
run_suite() {
	local dir=$1
	shift
	echo "== build $dir ($*)"
	cmake -B "$dir" -S . "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
	echo "== test $dir"
	(cd "$dir" && ctest --output-on-failure -j"$jobs")
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DKYBORG_SANITIZE=ON
