#!/usr/bin/env bash
# Runs a command inside the kernel tier's guest: Debian's 6.1 kernel with
# netdevsim, booted by qemu with software emulation (TCG), the host's root
# read-only over 9p under a tmpfs overlay. Prints the command's output and
# exits with its status; 124 when the guest ran past the timeout (qemu is
# killed), 125 when the guest never reported a status.
# Usage: run.sh [--build DIR] [--timeout SECONDS] [--] COMMAND [ARG...]
#   The command runs as root in the guest, in the current directory's path.
#   KTIER_ONLY=SUITE[/TEST] runs only the matching tests (guest-tests.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=build
timeout=300
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: run.sh [--build DIR] [--timeout S] [--] COMMAND [ARG...]" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: the guest mounts the host's root and the tests need root: run as root" >&2
	exit 1
fi

cache=$(bash "$here/prepare.sh" "$build")
moddir=$cache/kernel/lib/modules
case "$moddir$PWD" in
*[[:space:]]*) echo "run.sh: paths with spaces cannot go on the kernel command line" >&2; exit 1 ;;
esac

share=$(mktemp -d "$cache/run.XXXXXX")
qemu_pid=
cleanup() {
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		# timeout(1) hands TERM on to qemu, which then quits.
		kill -TERM "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
	rm -rf "$share"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stage 2 runs in the guest as PID 1 on the overlay root; the command's
# words travel quoted for bash in cmd.sh. The guest inherits no environment
# but KTIER_ONLY, guest-tests.sh's filter.
: >"$share/cmd.sh"
if [ -n "${KTIER_ONLY:-}" ]; then
	printf 'export KTIER_ONLY=%q\n' "$KTIER_ONLY" >>"$share/cmd.sh"
fi
printf 'exec' >>"$share/cmd.sh"
printf ' %q' "$@" >>"$share/cmd.sh"
echo >>"$share/cmd.sh"
{
	cat <<-EOF
	#!/bin/sh
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts
	mount -t tmpfs tmpfs /dev/shm
	# No tmpfs on /tmp: the overlay root is writable already, and the tree
	# under test may itself live in the host's /tmp (a CI clone does).
	mount -t debugfs debugfs /sys/kernel/debug
	mount -t bpf bpf /sys/fs/bpf
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp LANG=C.UTF-8
	hostname kyborg-ktier
	ip link set lo up
	cd '$PWD' || exec /bin/busybox poweroff -f
	echo "guest: kernel \$(uname -r), netdevsim \$([ -d /sys/module/netdevsim ] && echo loaded || echo missing)" >/run/ktier/log
	bash /run/ktier/cmd.sh >>/run/ktier/log 2>&1 </dev/null
	echo \$? >/run/ktier/rc.tmp
	mv /run/ktier/rc.tmp /run/ktier/rc
	sync
	exec /bin/busybox poweroff -f
	EOF
} >"$share/stage2.sh"

start=$(date +%s)
# No KVM: the stock kernel does not boot under this machine's /dev/kvm.
# timeout(1) is the deadline: past it qemu gets TERM, then KILL 5 s later.
timeout --kill-after=5 "$timeout" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 1536 \
	-display none -monitor none -nodefaults -no-reboot -net none \
	-serial "file:$share/console.log" \
	-kernel "$cache/kernel/vmlinuz" -initrd "$cache/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4 ktier.moddir=$moddir" \
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
	-virtfs "local,path=$share,mount_tag=ktout,security_model=none" \
	</dev/null >"$share/qemu.log" 2>&1 &
qemu_pid=$!
status=0
wait "$qemu_pid" || status=$?
qemu_pid=
if [ "$status" -eq 137 ] || [ "$status" -eq 124 ]; then
	echo "kernel-tier: the guest ran past ${timeout} s: qemu killed" >&2
	status=124
else
	status=0
fi
elapsed=$(($(date +%s) - start))

[ -f "$share/log" ] && cat "$share/log"
if [ "$status" -eq 0 ]; then
	if [ -f "$share/rc" ]; then
		status=$(cat "$share/rc")
	else
		status=125
		echo "kernel-tier: the guest reported no status" >&2
	fi
fi
if [ "$status" -ne 0 ] && [ "$status" -ge 124 ]; then
	echo "--- qemu" >&2
	cat "$share/qemu.log" >&2
	echo "--- guest console (last 60 lines)" >&2
	tail -n 60 "$share/console.log" >&2 || true
fi
# CI shows only the output's tail: repeat what failed there, with the
# assertion or sanitizer lines that follow it.
if [ "$status" -ne 0 ] && [ -f "$share/log" ]; then
	echo "--- kernel-tier: what failed"
	grep -E -A4 '^== .* FAILED$|\[FAIL\]|Assertion Failed|CRASH|runtime error:|ERROR: [A-Za-z]+Sanitizer|Warning! The test|Timed out' "$share/log" | head -n 80 || true
fi
echo "kernel-tier: guest exited with status $status after ${elapsed} s"
exit "$status"
