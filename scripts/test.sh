#!/usr/bin/env bash
# The README's test command (its second quick-start command; CI's .ci/run; the
# parts: docs/testing.md, "The test command"): installs what is missing, builds,
# and runs every test twice: in the normal build and under AddressSanitizer +
# UBSan; builds the benchmarks' Release build; then the fuzz targets briefly in a clang build of their own, the node
# image and the kernel tier.
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

# The Release build scripts/bench.sh and bench-dp.sh make (-O3 warns where
# -O2 does not, and -Werror refuses it): built, not tested; about 10 s on 2 cores.
echo "== build build-release (Release, the benchmarks' build; no tests)"
cmake -B build-release -S . -DCMAKE_BUILD_TYPE=Release -DKYBORG_TESTS=OFF >/dev/null
cmake --build build-release -j"$jobs" >/dev/null

# The libFuzzer targets (test/fuzz; issue 14): a clang build of their own
# with ASan and UBSan, each target run over its seed corpus and then fuzzed
# for 5 s (KYBORG_FUZZ_SECONDS), plus the inputs of open findings
# (test/fuzz/crashes/). 18 targets: about 85 s on 2 cores (build 27 s,
# ctest 57 s).
# KYBORG_SKIP_FUZZ=1 leaves it out; scripts/fuzz.sh runs them for longer.
if [ "${KYBORG_SKIP_FUZZ:-0}" != 1 ]; then
	echo "== build build-fuzz (clang, libFuzzer, ASan+UBSan)"
	cmake -B build-fuzz -S . -DCMAKE_C_COMPILER=clang -DKYBORG_FUZZ=ON \
		-DKYBORG_FUZZ_SECONDS="${KYBORG_FUZZ_SECONDS:-5}" >/dev/null
	cmake --build build-fuzz -j"$jobs" --target fuzzers >/dev/null
	echo "== test build-fuzz (fuzz)"
	(cd build-fuzz && ctest --output-on-failure -j"$jobs" -L fuzz)
fi

# The node image (Containerfile), built with buildah from a debootstrapped
# debian:12 and checked (each binary starts, the helper installs the CNI
# plugin): about 3 min the first time on this machine, 2 min after.
# KYBORG_SKIP_IMAGE=1 leaves it out.
if [ "${KYBORG_SKIP_IMAGE:-0}" != 1 ]; then
	echo "== container image (scripts/build-image.sh)"
	bash scripts/build-image.sh
fi

# The kernel tier: the test_ktier_* suites inside a qemu guest booting
# Debian's 6.1 kernel with netdevsim (scripts/kernel-tier/; the guest is
# prepared once and cached in build-asan/kernel-tier). Run from the sanitized
# build, where real VF data first showed a leak. KYBORG_SKIP_KERNEL_TIER=1
# leaves it out.
if [ "${KYBORG_SKIP_KERNEL_TIER:-0}" != 1 ]; then
	echo "== test kernel tier (build-asan)"
	(cd build-asan && ctest --output-on-failure -C kernel -L kernel)
fi
