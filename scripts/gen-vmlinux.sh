#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# gen-vmlinux.sh - regenerate the committed vmlinux/<arch>/vmlinux.h from the
# running kernel's BTF. Run by hand when a newer kernel's types are needed;
# a normal build never runs it (CO-RE relocates against the target kernel).
set -eu
cd "$(dirname "$0")/.."
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
btf=${BTF:-/sys/kernel/btf/vmlinux}
[ -r "$btf" ] || { echo "gen-vmlinux.sh: $btf not readable (kernel without BTF?)" >&2; exit 1; }
mkdir -p "vmlinux/$arch"
bpftool btf dump file "$btf" format c >"vmlinux/$arch/vmlinux.h.tmp"
mv "vmlinux/$arch/vmlinux.h.tmp" "vmlinux/$arch/vmlinux.h"
echo "vmlinux/$arch/vmlinux.h from $btf ($(uname -r))"
