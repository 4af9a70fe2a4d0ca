#!/usr/bin/env bash
# Benchmarks (not tests): CNI ADD+DEL against host-device and the kernel floor.
# Usage: scripts/bench.sh [--iterations N] [--parallel P] [--rounds R] [--rules] [--baseline PLUGIN]
# (--rules: also two flower rules, on a kernel with cls_flower; --baseline:
# another build of the plugin measured in the same run, interleaved)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -B build-bench -S . -DCMAKE_BUILD_TYPE=Release -DKYBORG_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target kyborg_plugin kyborg-bench-floor kyborg-bench-cni \
	bpf_kyborg_antispoof bpf_kyborg_counters >/dev/null
# The per-pod program cases pin under bpffs.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
exec build-bench/bench/kyborg-bench-cni --plugin build-bench/cni/kyborg --floor build-bench/bench/kyborg-bench-floor \
	--bpf-dir "$PWD/build-bench/examples/bpf" "$@"
