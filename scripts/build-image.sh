#!/usr/bin/env bash
# Builds the node image (Containerfile) with buildah, as root, on a machine
# that may reach only Debian's package archive: when no debian:12 image is in
# local storage, it makes one with debootstrap (minbase bookworm) and imports
# it under the name the Containerfile asks for. Then it checks the image: each
# binary starts and answers, and the node helper installs the CNI plugin.
#   scripts/build-image.sh [TAG]       (default localhost/kyborg:0.1.0)
# CI runs it after both test builds (scripts/test.sh; KYBORG_SKIP_IMAGE=1 leaves
# it out); the demo does not. See docs/deploy.md, "The container image".
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${1:-localhost/kyborg:0.1.0}
BASE=docker.io/library/debian:12
MIRROR=${KYBORG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
# chroot isolation needs no OCI runtime: crun refuses this machine's hybrid cgroup
# layout ("cgroups in hybrid mode not supported").
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

if [ "$(id -u)" -ne 0 ]; then
	echo "build-image: run as root (buildah's storage and debootstrap)" >&2
	exit 1
fi
need=()
for p in buildah debootstrap; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
	echo "build-image: installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

tmp=$(mktemp -d)
ctrs=()
cleanup() {
	for c in "${ctrs[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

t0=$SECONDS
if ! buildah images -q "$BASE" >/dev/null 2>&1; then
	echo "build-image: no $BASE in local storage: debootstrap --variant=minbase bookworm"
	debootstrap --variant=minbase bookworm "$tmp/rootfs" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
		{ tail -20 "$tmp/debootstrap.log" >&2; exit 1; }
	rm -rf "$tmp"/rootfs/var/cache/apt/archives/*.deb "$tmp"/rootfs/var/lib/apt/lists/*
	tar -C "$tmp/rootfs" --numeric-owner -cf "$tmp/rootfs.tar" .
	rm -rf "$tmp/rootfs"
	c=$(buildah from scratch)
	ctrs+=("$c")
	buildah add "$c" "$tmp/rootfs.tar" / >/dev/null
	buildah config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
	buildah commit -q "$c" "$BASE" >/dev/null
	echo "build-image: made $BASE in $((SECONDS - t0)) s"
fi

t1=$SECONDS
# The host's network: the build's apt-get reaches the archive the way the host does.
buildah build --pull=never --network host --layers -f Containerfile -t "$TAG" . 
echo "build-image: built $TAG in $((SECONDS - t1)) s"
# vfs storage keeps a full copy per layer: drop what no tag names.
buildah rmi --prune >/dev/null 2>&1 || true

# The image works: every binary starts, the helper installs the plugin and
# the BPF objects, and libbpf is there for the plugin to load.
c=$(buildah from --pull=never "$TAG")
ctrs+=("$c")
buildah run "$c" -- /usr/bin/kyborg-device-plugin --version
buildah run "$c" -- /usr/bin/kyborgctl --version
buildah run "$c" -- /usr/bin/kyborg-dra-driver --version
buildah run --env CNI_COMMAND=VERSION "$c" -- /opt/cni/bin/kyborg </dev/null
mkdir -p "$tmp/host"
buildah run -v "$tmp/host:/host" "$c" -- /usr/libexec/kyborg/kyborg-node install / /host
test -x "$tmp/host/opt/cni/bin/kyborg"
test -f "$tmp/host/usr/share/kyborg/bpf/kyborg_antispoof.bpf.o"
test -f "$tmp/host/usr/share/kyborg/bpf/kyborg_counters.bpf.o"
# The CNI plugin loads libbpf only when a config has programs (dlopen).
buildah run "$c" -- /sbin/ldconfig -p | grep -q "libbpf[.]so[.]1 "
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$TAG"
echo "build-image: OK, $TAG in $((SECONDS - t0)) s"
