#!/usr/bin/env bash
# Benchmark (not a test) of kyborg-device-plugin: Allocate round trips,
# the first ListAndWatch message, hot-plug latency, PF carrier to VF health
# latency and RSS, with 10 and 10,000 devices on a simulated node (umockdev).
# See bench/dp_bench.py.
# Usage: scripts/bench-dp.sh [--allocs N] [--hotplug K] [--sizes R1,R2] [--links L]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The benchmark owns its umockdev testbed from Python (GObject introspection).
if ! /usr/bin/python3 -c 'import gi; gi.require_version("UMockdev", "1.0")' 2>/dev/null; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-gi gir1.2-umockdev-1.0 >/dev/null
fi
cmake -B build-bench -S . -DCMAKE_BUILD_TYPE=Release -DKYBORG_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target kyborg-device-plugin >/dev/null
exec /usr/bin/python3 bench/dp_bench.py --daemon build-bench/deviceplugin/kyborg-device-plugin \
	--desc build-bench/deviceplugin/dpapi/api.desc "$@"
