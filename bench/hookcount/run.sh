#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - how often each hook fires per connection, on this host and on
# Debian 12's kernels booted under qemu (scripts/kernel-matrix.sh --boot
# fetches, caches and boots them): the empty programs of hookcount.bpf.c, tcpphase's
# tracepoints and, where fentry attaches, the TIME_WAIT and request-sock
# functions themselves, counted with bpf_stats over a loopback churn
# (client closing first, then the server). Runs per connection are exact;
# ns per run from a TCG guest are emulated time, comparable only within
# one guest. The set "fentry" is the state tracepoint twice (a primary and
# its rescue, as now: fentry on tcp_set_state misses the changes made by
# inet_sk_set_state) and the seven TIME_WAIT and request functions;
# "tracepoints" is tcpphase's five.
#
# Usage: run.sh [-n CONNS] [KERNEL...]   (default 2000; 6.1 6.12; "host"
#        runs on this machine's kernel, without qemu)
set -eu
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
O=$HERE/../.output/hookcount
CONNS=2000
if [ "${1:-}" = -n ]; then
	CONNS=$2
	shift 2
fi
[ $# -gt 0 ] || set -- host 6.1 6.12
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root" >&2; exit 1; }
mkdir -p "$O"
clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I"$TOP/vmlinux/x86" \
	-c "$HERE/hookcount.bpf.c" -o "$O/hookcount.bpf.o"
cc -O2 -Wall -Wextra -static "$HERE/hookcount.c" -lbpf -lelf -lz -o "$O/hookcount"
cc -O2 -Wall -D_GNU_SOURCE -static -pthread "$HERE/../churn.c" -o "$O/churn"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
cp /bin/busybox "$O/hookcount" "$O/hookcount.bpf.o" "$O/churn" "$HERE/count.sh" "$root/bin/"
ln -s busybox "$root/bin/sh"
cp "$HERE/init" "$root/init"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$O/initrd.gz"

failed=0
for k in "$@"; do
	out=$O/$k.txt
	if [ "$k" = host ]; then
		"$HERE/count.sh" "$O" "$CONNS" >"$out" 2>&1
	else
		"$TOP/scripts/kernel-matrix.sh" --boot "$k" "$O/initrd.gz" "$out" "CONNS=$CONNS" || true
	fi
	python3 - "$out" <<'PY' || failed=1
import re, sys
text = open(sys.argv[1], errors="replace").read().replace("\r", "")
m = re.search(r"=== HOOKCOUNT BEGIN (\S+) conns=(\d+)\n(.*?)=== HOOKCOUNT END", text, re.S)
if not m:
    sys.exit(f"{sys.argv[1]}: no counts (see the console there)")
rel, conns, body = m[1], int(m[2]), m[3]
trials = []
for part in re.split(r"^conns=.*$", body, flags=re.M)[1:]:
    h = {}
    for name, runs, ns, miss in re.findall(r"hook (\w+) runs=(\d+) ns=(\d+) misses=(\d+)", part):
        h[name] = (int(runs), int(ns), int(miss))
    trials.append(h)
print(f"{rel}: {conns} connections per trial; runs per connection (ns per run), "
      "client closing first | server first")
names = list(dict.fromkeys(n for t in trials for n in t))
for n in names:
    cells = []
    for t in trials:
        r, ns, miss = t.get(n, (0, 0, 0))
        cells.append(f"{r / conns:6.2f} ({ns / r if r else 0:5.0f} ns, {miss} misses)")
    print(f"  {n:24} " + " | ".join(cells))
tp = ["tp_set_state", "tp_set_state", "tp_timer_start", "tp_timer_expire", "tp_timer_cancel"]
fe = ["tp_set_state", "tp_set_state", "fe_twsk_schedule", "fe_tw_timer_handler",
      "fe_twsk_deschedule_put", "fe_reqsk_hash_add", "fe_reqsk_timer_handler",
      "fe_reqsk_queue_drop", "fe_reqsk_complete"]
for label, s in (("tracepoints", tp), ("fentry", fe)):
    if all(n in trials[0] for n in s):
        runs = [sum(t[n][0] for n in s) / conns for t in trials]
        print(f"  set {label:20} " + " | ".join(f"{r:6.2f} runs/conn" for r in runs))
    else:
        print(f"  set {label:20} not available here")
PY
done
exit "$failed"
