#!/usr/bin/env bash
# The README's first quick-start command (what it shows: README, "What the
# demo shows"; how it runs: docs/testing.md, "The demo"): installs what is
# missing, builds, and plays a whole node on this machine
# (scripts/demo/node_demo.py): simulated hardware, the device plugin
# registered with a kubelet stand-in, Allocate, the CNI ADD of two pods,
# traffic between them, DEL, and a check that the node is exactly as before.
# Needs root (network namespaces, links). Exits non-zero if any step failed;
# the demo cleans up after itself, even when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: it creates network namespaces and links; run it as root" >&2
	exit 1
fi
bash scripts/install-deps.sh
echo "demo: building (build/)"
cmake -B build -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec /usr/bin/python3 scripts/demo/node_demo.py --build build "$@"
