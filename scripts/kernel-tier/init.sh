#!/bin/busybox sh
# /init of the kernel tier's initramfs (busybox): loads the virtio, 9p,
# overlay and netdevsim modules, mounts the host's root read-only over 9p
# under a tmpfs overlay, mounts the shared folder at /run/ktier and hands
# over to /run/ktier/stage2.sh, which run.sh wrote there.
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
	echo "ktier-init: $*" >/dev/console
	echo o >/proc/sysrq-trigger
	sleep 5
	exit 1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

moddir=
for arg in $(cat /proc/cmdline); do
	case $arg in
	ktier.moddir=*) moddir=${arg#ktier.moddir=} ;;
	esac
done
[ -n "$moddir" ] || fail "no ktier.moddir= on the command line"

for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" || fail "insmod $m failed"
done

mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /lower || fail "mount hostroot"
mount -t tmpfs -o mode=0755 tmpfs /rw || fail "mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "mount overlay"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fail "mount /run"
mkdir -p /newroot/run/ktier
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 ktout /newroot/run/ktier || fail "mount ktout"
# The guest kernel's modules (with netdevsim) from the build tree, where the
# host's modprobe looks for them.
mkdir -p /newroot/lib/modules
mount --bind "/newroot$moddir" /newroot/lib/modules || fail "bind $moddir"
[ -f /newroot/run/ktier/stage2.sh ] || fail "no stage2.sh in the shared folder"

umount /proc /sys /dev
exec switch_root /newroot /bin/sh /run/ktier/stage2.sh
