#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and plays the
# node demo. Today that is discovery of the simulated node (umockdev testbed:
# two GPUs, an FPGA, a NIC PF with four VFs) printed by `kyborgctl status`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -B build -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target kyborgctl >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The simulated VFs' netdevs get demo names; the tests give them veths of their own.
sed -e 's/@PF@/ens1f0/g' -e 's/@VF\([0-9]\)@/ens1f0v\1/g' test/data/sim-node.umockdev >"$tmp/node.umockdev"

echo "== kyborgctl status (simulated node, read through the real libudev)"
umockdev-run --device "$tmp/node.umockdev" -- build/kyborgctl/kyborgctl status
echo
echo "== kyborgctl status --json"
umockdev-run --device "$tmp/node.umockdev" -- build/kyborgctl/kyborgctl status --json
