#!/usr/bin/env bash
# Prepares the kernel tier's guest once and caches it under BUILD/kernel-tier:
# Debian's 6.1 kernel (linux-image-amd64's vmlinuz and modules), netdevsim
# built out of tree from linux-source-6.1 against the matching headers, and a
# busybox initramfs that mounts the host's root over 9p (see init.sh).
# Usage: prepare.sh [BUILD_DIR]   (default: build). Prints the cache directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(mkdir -p "${1:-build}" && cd "${1:-build}" && pwd)
cache=$build/kernel-tier

# Packages of the tier only; the main suite's are in scripts/install-deps.sh.
PACKAGES=(qemu-system-x86 linux-headers-amd64 linux-source-6.1 busybox-static cpio kmod)
# Initramfs modules: virtio transport, 9p over it, overlay, then the driver
# under test. Dependencies come from modules.dep, deepest first.
INITRD_MODULES=(virtio_pci 9pnet_virtio 9p overlay psample netdevsim)

log() { echo "kernel-tier: $*" >&2; }
die() { log "$*"; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
updated=
apt_update() {
	[ -n "$updated" ] && return
	$SUDO apt-get update -qq -o DPkg::Lock::Timeout=600
	updated=1
}

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	apt_update
	$SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

# The kernel ABI and exact version the installed headers were made for:
# linux-headers-amd64 depends on "linux-headers-6.1.0-N-amd64 (= VERSION)".
resolve() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64)
	[[ $dep =~ linux-headers-([0-9][^ ]*-amd64)\ \(=\ ([^\)]+)\) ]] || die "cannot read the kernel from: $dep"
	kver=${BASH_REMATCH[1]}
	pkgver=${BASH_REMATCH[2]}
	headers=/usr/src/linux-headers-$kver
	[ -f "$headers/Makefile" ] || die "$headers: no kernel headers"
	stamp_want="$kver $pkgver $(cat "$here/prepare.sh" "$here/init.sh" | sha256sum | cut -c1-16)"
}
resolve
if [ -f "$cache/ready" ] && [ "$(cat "$cache/ready")" = "$stamp_want" ]; then
	echo "$cache"
	exit 0
fi

# One preparation at a time per build tree (ctest may start several tiers).
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -f "$cache/ready" ] && [ "$(cat "$cache/ready")" = "$stamp_want" ]; then
	echo "$cache"
	exit 0
fi
rm -f "$cache/ready"
t0=$(date +%s)
work=$(mktemp -d "$cache/prep.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. The kernel: linux-image-amd64's image package of the same version as the
#    headers, unpacked into the cache rather than installed, so the host's
#    /boot and initramfs stay untouched. Its .deb stays in apt's cache.
download() {
	log "downloading linux-image-$kver=$pkgver"
	(cd "$work" && apt-get download -qq "linux-image-$kver=$pkgver" 2>/dev/null)
}
deb=$(ls /var/cache/apt/archives/linux-image-"${kver}"_"${pkgver//:/%3a}"_amd64.deb 2>/dev/null || true)
if [ -z "$deb" ]; then
	apt_update
	if ! download; then
		# The archive keeps a few versions only: follow it, headers first.
		log "linux-image-$kver=$pkgver is gone from the archive: upgrading linux-headers-amd64"
		$SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
			linux-headers-amd64 >/dev/null
		resolve
		download || die "apt-get download linux-image-$kver=$pkgver failed"
	fi
	image=linux-image-$kver
	deb=$(ls "$work"/"${image}"_*.deb)
	if $SUDO cp "$deb" /var/cache/apt/archives/ 2>/dev/null; then
		deb=/var/cache/apt/archives/$(basename "$deb")
	fi
fi
log "unpacking $(basename "$deb")"
rm -rf "$cache/kernel"
mkdir -p "$work/kernel"
# Graphics, media, sound, staging and InfiniBand hardware drivers are never
# loaded here; the RDMA core and soft-RoCE (rdma_rxe) are, by the CNI's RDMA
# suite (test_ktier_cni_rdma).
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/kernel" \
	--exclude="./lib/modules/$kver/kernel/drivers/gpu" --exclude="./lib/modules/$kver/kernel/drivers/media" \
	--exclude="./lib/modules/$kver/kernel/sound" --exclude="./lib/modules/$kver/kernel/drivers/staging" \
	--exclude="./lib/modules/$kver/kernel/drivers/infiniband/hw" \
	--exclude="./lib/modules/$kver/kernel/drivers/infiniband/ulp"
[ -f "$work/kernel/boot/vmlinuz-$kver" ] || die "$deb has no vmlinuz-$kver"

# 2. netdevsim: Debian does not build it; linux-source ships its source.
src=/usr/src/linux-source-6.1.tar.xz
log "building netdevsim for $kver from $src"
tar -xJf "$src" -C "$work" --wildcards 'linux-source-6.1/drivers/net/netdevsim/*'
nsim=$work/linux-source-6.1/drivers/net/netdevsim
make -s -C "$headers" M="$nsim" CONFIG_NETDEVSIM=m -j"$(nproc)" modules 2>&1 | grep -v 'Skipping BTF generation' >&2 || true
[ -f "$nsim/netdevsim.ko" ] || die "netdevsim did not build"
mods=$work/kernel/lib/modules/$kver
mkdir -p "$mods/extra"
cp "$nsim/netdevsim.ko" "$mods/extra/"
depmod -b "$work/kernel" "$kver"

# 3. The initramfs: busybox, init.sh, and the modules in load order.
rd=$work/initramfs
mkdir -p "$rd/bin" "$rd/lib/modules" "$rd/proc" "$rd/sys" "$rd/dev" "$rd/lower" "$rd/rw" "$rd/newroot"
cp /bin/busybox "$rd/bin/busybox"
install -m 0755 "$here/init.sh" "$rd/init"
declare -A seen=()
order=()
add_module() { # add_module PATH-RELATIVE-TO-MODS
	local m=$1 line deps i
	[ -n "${seen[$m]:-}" ] && return
	seen[$m]=1
	line=$(grep -m1 "^$m:" "$mods/modules.dep") || die "$m: not in modules.dep"
	read -r -a deps <<<"${line#*:}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		add_module "${deps[i]}"
	done
	order+=("$m")
}
for name in "${INITRD_MODULES[@]}"; do
	path=$(grep -m1 -E "(^|/)${name}\.ko:" "$mods/modules.dep" | cut -d: -f1) || die "$name: no such module"
	add_module "$path"
done
for m in "${order[@]}"; do
	cp "$mods/$m" "$rd/lib/modules/"
	basename "$m" >>"$rd/lib/modules/order"
done
(cd "$rd" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"

rm -rf "$cache/kernel" "$cache/initramfs.cpio.gz"
mv "$work/kernel" "$cache/kernel"
mv "$work/initramfs.cpio.gz" "$cache/initramfs.cpio.gz"
ln -sfn "boot/vmlinuz-$kver" "$cache/kernel/vmlinuz"
echo "$stamp_want" >"$cache/ready"
log "prepared $kver ($pkgver) in $(($(date +%s) - t0)) s: ${order[*]##*/}"
echo "$cache"
