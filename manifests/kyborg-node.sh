#!/bin/sh
# kyborg-node: what the DaemonSet's containers run besides the device plugin.
# Installed in the image as /usr/libexec/kyborg/kyborg-node (see Containerfile).
#
#   kyborg-node install [SRC_ROOT [HOST_ROOT]]
#       Copies the kyborg CNI binary and the BPF objects from SRC_ROOT (the
#       image, "/") into HOST_ROOT (the host's filesystem mounted at /host).
#       Each file is written under a temporary name in its target directory,
#       then renamed: a container runtime exec'ing the plugin at that moment
#       sees the old file or the new one, never half a file.
#   kyborg-node apply-profile FILE
#       Runs `kyborgctl apply -f FILE` when FILE exists (the node-profile
#       ConfigMap is optional); does nothing otherwise. "Changed" counts
#       as success (kyborgctl --changed-ok).
#   kyborg-node alive [PLUGIN_DIR]
#       Liveness: true while the device plugin serves at least one socket in
#       PLUGIN_DIR. kubelet deletes every socket there when it restarts and the
#       plugin re-creates its own at once: a plugin whose loop is stuck does not.
#   kyborg-node alive-dra [DRA_SOCKET]
#       Liveness of kyborg-dra-driver: true while its DRA socket is there
#       (default /var/lib/kubelet/plugins/kyborg.io/dra.sock); the driver
#       serves it again at once when it goes: a driver whose loop is stuck
#       does not.
set -eu

CNI_BIN_DIR=${KYBORG_CNI_BIN_DIR:-/opt/cni/bin}
DATA_DIR=${KYBORG_DATA_DIR:-/usr/share/kyborg}
PLUGIN_DIR=/var/lib/kubelet/device-plugins

# put SRC DESTDIR MODE: atomic replace of DESTDIR/basename(SRC).
put() {
	src=$1 dir=$2 mode=$3
	name=$(basename "$src")
	tmp="$dir/.$name.kyborg-new.$$"
	trap 'rm -f "$tmp"' EXIT INT TERM
	cp "$src" "$tmp"
	chmod "$mode" "$tmp"
	sync "$tmp" 2>/dev/null || true
	mv -f "$tmp" "$dir/$name"
	trap - EXIT INT TERM
	echo "kyborg-node: installed $dir/$name"
}

install_node() {
	src_root=${1:-/}
	host_root=${2:-/host}
	src_root=${src_root%/}
	host_root=${host_root%/}
	[ -x "$src_root$CNI_BIN_DIR/kyborg" ] || {
		echo "kyborg-node: $src_root$CNI_BIN_DIR/kyborg: no CNI plugin to install" >&2
		exit 1
	}
	mkdir -p "$host_root$CNI_BIN_DIR" "$host_root$DATA_DIR"
	put "$src_root$CNI_BIN_DIR/kyborg" "$host_root$CNI_BIN_DIR" 0755
	# BPF objects (and any other data) keep their layout under the data dir.
	if [ -d "$src_root$DATA_DIR" ]; then
		(cd "$src_root$DATA_DIR" && find . -type d) | while read -r d; do
			mkdir -p "$host_root$DATA_DIR/${d#./}"
		done
		(cd "$src_root$DATA_DIR" && find . -type f) | while read -r f; do
			f=${f#./}
			put "$src_root$DATA_DIR/$f" "$host_root$DATA_DIR/$(dirname "$f")" 0644
		done
	fi
}

case "${1:-}" in
install)
	shift
	install_node "$@"
	;;
apply-profile)
	profile=${2:?usage: kyborg-node apply-profile FILE}
	if [ ! -e "$profile" ]; then
		echo "kyborg-node: no node profile at $profile: nothing to apply"
		exit 0
	fi
	# "Changed" is success for an init container (--changed-ok: exit 0, not
	# 3); a refusal or a failure keeps the pod from starting.
	exec kyborgctl apply --changed-ok -f "$profile"
	;;
alive-dra)
	sock=${2:-/var/lib/kubelet/plugins/kyborg.io/dra.sock}
	[ -S "$sock" ] && exit 0
	echo "kyborg-node: no DRA socket at $sock" >&2
	exit 1
	;;
alive)
	dir=${2:-$PLUGIN_DIR}
	for s in "$dir"/kyborg-*.sock; do
		[ -S "$s" ] && exit 0
	done
	echo "kyborg-node: no kyborg socket in $dir" >&2
	exit 1
	;;
*)
	echo "usage: kyborg-node install [SRC_ROOT [HOST_ROOT]] | apply-profile FILE | alive [PLUGIN_DIR] | alive-dra [DRA_SOCKET]" >&2
	exit 2
	;;
esac
