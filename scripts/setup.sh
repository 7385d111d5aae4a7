#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# setup.sh - install every build and test dependency of tcpphase from
# Debian packages. Idempotent: quiet and quick when all is installed.
set -eu

PKGS="clang llvm make gcc libc6-dev pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
libmicrohttpd-dev iproute2 nftables python3 curl clang-format cppcheck shellcheck
libclang-rt-14-dev qemu-system-x86 busybox-static cpio dpkg-dev man-db systemd jq"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup.sh: missing packages:$missing (run as root to install)" >&2
		exit 1
	fi
	echo "setup.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# tracepoint attach needs tracefs (tp_btf does not, the syscall ones do)
if [ "$(id -u)" = 0 ] && [ -d /sys/kernel/tracing ] && [ -z "$(ls -A /sys/kernel/tracing 2>/dev/null)" ]; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
exit 0
