#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# package.sh - installing works: `make install DESTDIR= PREFIX=` puts every
# file where it belongs and `make uninstall` takes them away; `make deb`
# builds a package with its Depends from dpkg-shlibdeps that installs on
# this host with dpkg -i (tcpphase -V and man -w tcpphase work, the man
# page renders without warnings) and that dpkg -r removes leaving nothing.
# The dpkg part needs root (skipped without, failed under CI=true); it
# refuses to touch an installed tcpphase. Make variables (OUTPUT=, BIN=) pass through as
# arguments.
set -u
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d)
installed=
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	[ -n "$installed" ] && dpkg -P tcpphase >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "package: $*"
	exit 1
}

# make install / uninstall into a scratch root
make -s "$@" install DESTDIR="$tmp/root" PREFIX=/usr/local >/dev/null || fail "make install failed"
for f in sbin/tcpphase share/man/man8/tcpphase.8 share/bash-completion/completions/tcpphase; do
	[ -f "$tmp/root/usr/local/$f" ] || fail "make install: no /usr/local/$f"
done
[ -x "$tmp/root/usr/local/sbin/tcpphase" ] || fail "make install: binary not executable"
if [ -e scripts/tcpphase.service ]; then
	unit=$tmp/root/usr/local/lib/systemd/system/tcpphase.service
	grep -q '^ExecStart=/usr/local/sbin/tcpphase ' "$unit" || fail "unit: ExecStart not in PREFIX"
fi
make -s "$@" uninstall DESTDIR="$tmp/root" PREFIX=/usr/local >/dev/null || fail "make uninstall"
left=$(find "$tmp/root" -type f)
[ -z "$left" ] || fail "make uninstall left $left"

# the package, on this host: root only
if [ "$(id -u)" != 0 ]; then
	[ "${CI:-}" = true ] && fail "the dpkg checks need root"
	echo "package: make install/uninstall ok; dpkg checks skipped (not root)"
	exit 0
fi
if dpkg-query -W tcpphase >/dev/null 2>&1 &&
	[ "$(dpkg-query -W -f='${db:Status-Status}' tcpphase)" != not-installed ]; then
	fail "a tcpphase package is installed already: not touching it"
fi
[ -e /usr/sbin/tcpphase ] && fail "/usr/sbin/tcpphase exists (not from a package): not touching it"
make -s "$@" deb DEBDIR="$tmp" >/dev/null || fail "make deb failed"
deb=$(echo "$tmp"/tcpphase_*.deb)
[ -f "$deb" ] || fail "make deb made no $tmp/tcpphase_*.deb"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libelf1 zlib1g libmicrohttpd; do
	[[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done

installed=1
dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i failed"; }
files=$(dpkg -L tcpphase)
v=$(/usr/sbin/tcpphase -V) || fail "tcpphase -V failed"
[ "$v" = "tcpphase $(dpkg-deb -f "$deb" Version)" ] || fail "tcpphase -V says '$v'"
page=$(man -w tcpphase) || fail "man -w tcpphase finds nothing"
[ "$page" = /usr/share/man/man8/tcpphase.8.gz ] || fail "man -w tcpphase: $page"
warn=$(man --warnings tcpphase 2>&1 >/dev/null)
[ -z "$warn" ] || fail "man --warnings tcpphase: $warn"
[ -f /usr/share/bash-completion/completions/tcpphase ] || fail "no bash completion installed"

dpkg -r tcpphase >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -r failed"; }
installed=
status=$(dpkg-query -W -f='${db:Status-Status}' tcpphase 2>/dev/null)
[ -z "$status" ] || [ "$status" = not-installed ] || fail "after dpkg -r: status $status"
while read -r f; do
	[ -d "$f" ] && continue # shared directories (/usr/sbin...) stay
	[ -e "$f" ] || [ -L "$f" ] && fail "after dpkg -r: $f is left"
done <<<"$files"
[ -e /usr/share/doc/tcpphase ] && fail "after dpkg -r: /usr/share/doc/tcpphase is left"
echo "package: $(basename "$deb") installs, works and removes cleanly; Depends: $depends"
exit 0
