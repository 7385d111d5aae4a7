#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkdeb.sh ROOT VERSION OUTDIR - package a `make install DESTDIR=ROOT
# PREFIX=/usr` tree as OUTDIR/tcpphase_VERSION_ARCH.deb with dpkg-deb.
# Depends comes from dpkg-shlibdeps, run on the binary from a minimal
# debian/control stub in a temporary directory. Called by `make deb`.
# MAINTAINER overrides the Maintainer field.
set -eu -o pipefail

root=$(realpath "$1")
version=$2
outdir=$3
arch=$(dpkg --print-architecture)
bin=usr/sbin/tcpphase
maintainer=${MAINTAINER:-tcpphase developers <tcpphase@localhost>}

[ -x "$root/$bin" ] || { echo "mkdeb: no $root/$bin (make install first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# as Debian ships them: a stripped binary, the man page compressed, a copyright file
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/$bin"
gzip -9nf "$root/usr/share/man/man8/tcpphase.8"
install -D -m 0644 /dev/stdin "$root/usr/share/doc/tcpphase/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tcpphase

Files: *
Copyright: the tcpphase authors
License: GPL-2.0
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
COPYRIGHT

# dpkg-shlibdeps wants a source tree: debian/control naming the package,
# the binary in debian/<package>/ beside a DEBIAN directory
mkdir -p "$tmp/debian/tcpphase/usr/sbin" "$tmp/debian/tcpphase/DEBIAN"
printf 'Source: tcpphase\n\nPackage: tcpphase\nArchitecture: any\n' >"$tmp/debian/control"
cp "$root/$bin" "$tmp/debian/tcpphase/$bin"
# (its messages only on failure: it warns about the layout even so)
depends=$(cd "$tmp" && dpkg-shlibdeps -O -e "debian/tcpphase/$bin" 2>shlibdeps.err |
	sed -n 's/^shlibs:Depends=//p') || { cat "$tmp/shlibdeps.err" >&2; exit 1; }
[ -n "$depends" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: tcpphase
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: net
Priority: optional
Description: eBPF tracer of every phase of every TCP connection
 tcpphase times, for every TCP endpoint on the host, the handshake on both
 sides, each half-close state and TIME_WAIT, and tells who closed first and
 how TIME_WAIT ended. It runs on tracepoints only (no kprobes), CO-RE, and
 writes a table, CSV or JSON lines, summaries with percentiles, lists of
 sockets stuck in CLOSE_WAIT or FIN_WAIT2, and Prometheus metrics.
CONTROL

# on removal, a unit the admin enabled is stopped and disabled first (no
# postrm: with one, dpkg -r would keep the package as config-files)
if [ -e "$root/lib/systemd/system/tcpphase.service" ]; then
	cat >"$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl disable --now tcpphase.service >/dev/null 2>&1 || true
fi
PRERM
	chmod 0755 "$root/DEBIAN/prerm"
fi
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$root/DEBIAN/md5sums"

mkdir -p "$outdir"
deb="$outdir/tcpphase_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb: Depends: $depends"
