#!/usr/bin/env bash
# Installs every Debian 12 package Kyborg needs to build, test and run its demo.
# Does nothing (and asks no registry) when all of them are present.
set -euo pipefail

PACKAGES=(
	# build
	build-essential cmake pkg-config clang llvm
	libcjson-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
	libbpf-dev libudev-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
	libcurl4-openssl-dev
	# run: vendor and device names in kyborgctl status
	pci.ids
	# tests and their peers
	libcriterion-dev umockdev libumockdev-dev iproute2 bpftool iputils-ping procps
	containernetworking-plugins python3-grpcio python3-protobuf python3-yaml
	# the kube-apiserver stand-in's certificates and its first real client
	openssl curl
	libclang-rt-14-dev
	# the kernel tier: hw-tc-offload on a netdevsim port (ethtool -K)
	ethtool
	# the node image (scripts/build-image.sh, run by scripts/test.sh)
	buildah debootstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
