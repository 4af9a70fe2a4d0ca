#!/usr/bin/env bash
# The kyborg CNI plugin without Kubernetes, run by hand on a network namespace
# the way the CNI tools (cnitool, containerd, CRI-O) run it: the command in
# CNI_COMMAND, the pod in CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME, where to find
# the IPAM plugin in CNI_PATH, the network config on stdin, the result (or the
# spec's error object) on stdout. Here the device is one end of a veth pair;
# on a real node it would be a VF named by "deviceID": "0000:18:01.2".
#
#   examples/standalone/run-by-hand.sh [KYBORG_BINARY]   (as root)
#
# It makes a netns and a veth pair, runs ADD, shows what the pod sees, runs
# CHECK and DEL, and removes what it made, even when interrupted.
set -euo pipefail

KYBORG=${1:-/opt/cni/bin/kyborg}
CNI_PLUGINS=${CNI_PLUGINS:-/usr/lib/cni}   # Debian's containernetworking-plugins (host-local)
tag=kyx$$
ns=$tag-pod
dev=$tag-a
work=$(mktemp -d)

cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	ip link del "$dev" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
ip link add "$dev" type veth peer name "$tag-b"

# The network config a runtime would read from /etc/cni/net.d/.
cat >"$work/net.conf" <<CONF
{
  "cniVersion": "1.1.0",
  "name": "by-hand",
  "type": "kyborg",
  "device": "$dev",
  "mtu": 1400,
  "stateDir": "$work/state",
  "ipam": { "type": "host-local", "dataDir": "$work/ipam", "ranges": [[{ "subnet": "10.123.0.0/24" }]] }
}
CONF

cni() {
	CNI_COMMAND=$1 CNI_CONTAINERID=by-hand-1 CNI_NETNS=/var/run/netns/$ns CNI_IFNAME=eth0 \
		CNI_PATH=$CNI_PLUGINS "$KYBORG" <"$work/net.conf"
}

echo "== CNI_COMMAND=ADD ($KYBORG < net.conf)"
cni ADD
echo "== what the pod sees"
ip -n "$ns" -br addr show eth0
echo "== CNI_COMMAND=CHECK (no output: all is as ADD left it)"
cni CHECK
echo "== CNI_COMMAND=DEL ($dev is back on the host under its name)"
cni DEL
ip -br link show "$dev"
