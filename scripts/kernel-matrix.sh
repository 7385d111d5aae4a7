#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kernel-matrix.sh - run tcpphase on Debian 12's own kernels, each booted
# under qemu (TCG: no KVM needed) from an initramfs, with a loopback
# workload, and check what it traced.
#
# usage: kernel-matrix.sh [-w WORKLOAD] TCPPHASE [KERNEL...]
#        kernel-matrix.sh --list          the kernels run by default
#        kernel-matrix.sh --fetch KERNEL  fetch one, print its release
#        kernel-matrix.sh --boot KERNEL INITRD CONSOLE [PARAM...]
#                                         boot one guest from another
#                                         initramfs (bench/hookcount), the
#                                         kernel parameters added
#
# KERNEL is a series, the newest Debian 12 package of which is taken:
# 6.1 (linux-image-6.1.0-N-amd64-unsigned), 6.1-rt (PREEMPT_RT), 6.12
# (linux-image-6.12.N+deb12-amd64-unsigned), 6.12-rt; or an exact
# linux-image-*-unsigned package name. The default list is $KMATRIX_KERNELS,
# else "6.1 6.1-rt 6.12". WORKLOAD is the static build of
# tests/kernel/workload.c; without -w it is built here with gcc -static.
#
# The packages come from the apt archive (`apt-get download`, after an
# `apt-get update` when apt knows none, or the archive no longer has the
# one apt knows); the .debs and the extracted
# vmlinuz are kept in $KMATRIX_CACHE (default /var/cache/tcpphase-kmatrix),
# so a re-run fetches nothing. Without the archive, the newest cached
# kernel of a series is used.
#
# Each guest boots from an initramfs holding busybox-static, tcpphase with
# the shared libraries ldd lists for it, the workload and
# tests/kernel/init, which traces the workload with `tcpphase --csv` and
# `tcpphase -e --csv` and prints their output on the console. No kernel
# config file is readable in the guest: the initramfs has no /boot and
# Debian's kernels are built without /proc/config.gz (init checks both),
# so tcpphase must start without one. tests/kernel/check.py then checks the
# console output. One line per kernel, "ok RELEASE" or "FAIL RELEASE: why",
# then a table; the status is non-zero if any kernel failed. The consoles
# are kept in $KMATRIX_LOGS (default /tmp/kmatrix-logs), one file per
# release. $KMATRIX_TIMEOUT bounds each guest (seconds, default 600; a
# guest takes ~30 s).
set -eu

CACHE=${KMATRIX_CACHE:-/var/cache/tcpphase-kmatrix}
TIMEOUT=${KMATRIX_TIMEOUT:-600}
DEFAULT_KERNELS=${KMATRIX_KERNELS:-6.1 6.1-rt 6.12}
updated=0

die() {
	echo "kernel-matrix: $*" >&2
	exit 2
}

# package_re KERNEL: the extended regexp of the package names of a series
package_re() {
	case $1 in
	6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
	6.1-rt) echo '^linux-image-6\.1\.0-[0-9]+-rt-amd64-unsigned$' ;;
	6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
	6.12-rt) echo '^linux-image-6\.12\.[0-9]+\+deb12-rt-amd64-unsigned$' ;;
	linux-image-*-unsigned) printf '^%s$\n' "$1" | sed 's/[.+]/\\&/g' ;;
	*) return 1 ;;
	esac
}

# release_of PACKAGE: its kernel release (uname -r)
release_of() {
	echo "$1" | sed -e 's/^linux-image-//' -e 's/-unsigned$//'
}

# newest_package RE: the newest package apt knows by that name, or nothing
newest_package() {
	apt-cache pkgnames linux-image- 2>/dev/null | grep -E "$1" | sort -V | tail -n 1
}

# deb_of PACKAGE: its cached .deb (a name that does not exist if none)
deb_of() {
	for f in "$CACHE"/debs/"$1"_*.deb; do echo "$f"; done | tail -n 1
}

# apt_update: `apt-get update`, once, as root only
apt_update() {
	[ $updated = 0 ] && [ "$(id -u)" = 0 ] || return 1
	updated=1
	apt-get update -qq >/dev/null 2>&1 || true
}

# have PACKAGE: its vmlinuz or .deb is cached, or apt-get downloads the .deb
have() {
	[ -s "$CACHE/vmlinuz-$(release_of "$1")" ] || [ -s "$(deb_of "$1")" ] && return 0
	mkdir -p "$CACHE/debs"
	# apt-get downloads into the current directory
	(cd "$CACHE/debs" && apt-get download -qq "$1" >/dev/null 2>&1)
}

# fetch KERNEL: make sure $CACHE/vmlinuz-RELEASE exists and print RELEASE
fetch() {
	re=$(package_re "$1") || die "unknown kernel '$1' (6.1, 6.1-rt, 6.12, 6.12-rt or a package name)"
	pkg=$(newest_package "$re")
	if [ -z "$pkg" ] || ! have "$pkg"; then
		# apt knows no such package, or the archive no longer has it
		apt_update && pkg=$(newest_package "$re")
	fi
	if [ -n "$pkg" ] && have "$pkg"; then
		rel=$(release_of "$pkg")
		if [ ! -s "$CACHE/vmlinuz-$rel" ]; then
			tmp=$(mktemp -d)
			dpkg-deb -x "$(deb_of "$pkg")" "$tmp"
			cp "$tmp/boot/vmlinuz-$rel" "$CACHE/vmlinuz-$rel.new"
			mv "$CACHE/vmlinuz-$rel.new" "$CACHE/vmlinuz-$rel"
			rm -rf "$tmp"
			prune "$re" "$pkg"
		fi
		echo "$rel"
		return 0
	fi
	# no archive: the newest kernel of the series already cached
	rel_re=$(echo "$re" | sed -e 's/\^linux-image-/^vmlinuz-/' -e 's/-unsigned\$$/$/')
	cached=$(find "$CACHE" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' 2>/dev/null |
		grep -E "$rel_re" | sort -V | tail -n 1)
	[ -n "$cached" ] || { echo "no package for $1 in reach and none cached" >&2; return 1; }
	echo "${cached#vmlinuz-}"
}

# prune RE PACKAGE: drop the cached older kernels of PACKAGE's series
prune() {
	for f in "$CACHE"/debs/*.deb; do
		p=$(basename "$f")
		p=${p%%_*}
		if [ "$p" != "$2" ] && echo "$p" | grep -qE "$1"; then
			rm -f "$f" "$CACHE/vmlinuz-$(release_of "$p")"
		fi
	done
}

# build_initramfs TCPPHASE WORKLOAD OUT: the guests' cpio (newc, gzip)
build_initramfs() {
	root=$(mktemp -d)
	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/proc" \
		"$root/sys" "$root/dev" "$root/tmp" "$root/etc"
	cp /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$1" "$root/bin/tcpphase"
	cp "$2" "$root/bin/workload"
	cp tests/kernel/init "$root/init"
	chmod 755 "$root/init" "$root/bin/tcpphase" "$root/bin/workload"
	# the libraries and the loader, at the paths ldd gives them
	for lib in $(ldd "$1" | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$3"
	rm -rf "$root"
}

# run_guest VMLINUZ INITRD CONSOLE [PARAM...]: boot it, the console into
# CONSOLE, the PARAMs added to the kernel's command line.
# TCG runs both vCPUs in one host thread (thread=single): with a thread per
# vCPU, a vCPU could run a stale copy of kernel text that another was
# patching (attaching or detaching a tracepoint program patches its call
# site) and hit the patch's int3 after it was gone: an oops in
# __run_timers on 6.12 failed a CI run so.
run_guest() {
	vmlinuz=$1 initrd=$2 console=$3
	shift 3
	timeout "$TIMEOUT" qemu-system-x86_64 -nographic -no-reboot -m 1024 -smp 2 \
		-accel tcg,thread=single -cpu max -nic none -kernel "$vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet $*" </dev/null >"$console" 2>&1
}

# abspath FILE: FILE from the directory we were started in
abspath() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$PWD/$1" ;;
	esac
}

case ${1:-} in
--list)
	for k in $DEFAULT_KERNELS; do echo "$k"; done
	exit 0
	;;
--fetch)
	[ $# = 2 ] || die "usage: kernel-matrix.sh --fetch KERNEL"
	fetch "$2"
	exit
	;;
--boot)
	[ $# -ge 4 ] || die "usage: kernel-matrix.sh --boot KERNEL INITRD CONSOLE [PARAM...]"
	rel=$(fetch "$2") || exit 2
	initrd=$3 console=$4
	shift 4
	run_guest "$CACHE/vmlinuz-$rel" "$initrd" "$console" "$@"
	exit
	;;
esac

workload=
if [ "${1:-}" = -w ]; then
	[ $# -ge 2 ] || die "-w needs a file"
	workload=$(abspath "$2")
	shift 2
fi
[ $# -ge 1 ] || die "usage: kernel-matrix.sh [-w WORKLOAD] TCPPHASE [KERNEL...]"
tcpphase=$(abspath "$1")
shift
[ -x "$tcpphase" ] || die "$tcpphase: not an executable"
logs=${KMATRIX_LOGS:+$(abspath "$KMATRIX_LOGS")}
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086 # a list of words
[ $# -gt 0 ] || set -- $DEFAULT_KERNELS

work=$(mktemp -d /tmp/kmatrix.XXXXXX)
trap 'rm -rf "$work"' EXIT
logs=${logs:-${TMPDIR:-/tmp}/kmatrix-logs}
mkdir -p "$logs"
if [ -z "$workload" ]; then
	workload=$work/workload
	gcc -static -O2 -Wall -o "$workload" tests/kernel/workload.c
fi
build_initramfs "$tcpphase" "$workload" "$work/initrd.gz"

table=$work/table
failed=0
for k in "$@"; do
	start=$(date +%s)
	if ! rel=$(fetch "$k" 2>"$work/fetch.err"); then
		why="cannot fetch: $(tail -n 1 "$work/fetch.err")"
		rel=$k
	elif run_guest "$CACHE/vmlinuz-$rel" "$work/initrd.gz" "$logs/$rel.console"; then
		why=$(python3 tests/kernel/check.py "$logs/$rel.console" "$rel" 2>&1) && why=
	else
		rc=$?
		why="qemu exited $rc"
		[ $rc != 124 ] || why="guest timed out after ${TIMEOUT} s"
		why="$why ($(python3 tests/kernel/check.py "$logs/$rel.console" "$rel" 2>&1 | head -n 1))"
	fi
	secs=$(($(date +%s) - start))
	case $rel in
	*-rt-*) rt=PREEMPT_RT ;;
	*) rt=- ;;
	esac
	if [ -z "$why" ]; then
		echo "ok $rel (${secs} s)"
		printf '%-26s %-10s %s\n' "$rel" "$rt" ok >>"$table"
	else
		echo "FAIL $rel: $why"
		echo "  console: $logs/$rel.console"
		printf '%-26s %-10s %s\n' "$rel" "$rt" FAIL >>"$table"
		failed=$((failed + 1))
	fi
done

echo
printf '%-26s %-10s %s\n' release preempt result
cat "$table"
[ $failed = 0 ]
