#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - slots against socket-local storage, paired event by event: the
# three programs of slotcost.bpf.c on inet_sock_set_state at once, under a
# fixed-rate loopback churn, ROUNDS times in each attach order (the first
# to run touches the socket's lines for the other), with bpf_stats on.
# Prints ns/run per program and round, then the medians.
# Usage: run.sh [ROUNDS (default 3)] [CONNS (default 40000)] [RATE (default 8000)]
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
ROUNDS=${1:-3} CONNS=${2:-40000} RATE=${3:-8000}
O=$HERE/../.output/slotcost
mkdir -p "$O"
clang -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I"$TOP/vmlinux/x86" \
	-c "$HERE/slotcost.bpf.c" -o "$O/slotcost.bpf.o" || exit 1
cc -O2 -Wall "$HERE/slotcost.c" -lbpf -o "$O/slotcost" || exit 1
make -C "$HERE/.." >/dev/null || exit 1
was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled=$was' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
port=$((20000 + RANDOM % 8000))
: >"$O/results.txt"
for ((r = 1; r <= ROUNDS; r++)); do
	for order in "slot stor_get" "stor_get slot"; do
		# shellcheck disable=SC2086
		"$O/slotcost" "$O/slotcost.bpf.o" hook_floor $order >"$O/out" 2>&1 &
		pid=$!
		for _ in $(seq 50); do grep -q attached "$O/out" && break; sleep 0.1; done
		"$HERE/../.output/churn" -n "$CONNS" -R "$RATE" -p "$port" >/dev/null
		kill -INT $pid; wait $pid
		sed "s/^/$r [$order] /" "$O/out" | grep run_cnt | tee -a "$O/results.txt"
	done
done
python3 - "$O/results.txt" <<'PY'
import re, statistics as st, sys
d, trial = {}, {}
for l in open(sys.argv[1]):
    m = re.search(r"^(\d+ \[[\w ]+\]) (\w+) run_cnt=(\d+) run_time_ns=(\d+)", l)
    if m and int(m[3]):
        v = int(m[4]) / int(m[3])
        d.setdefault(m[2], []).append(v)
        trial.setdefault(m[1], {})[m[2]] = v
for k, v in d.items():
    print(f"{k}: median {st.median(v):.0f} ns/run (min {min(v):.0f}, max {max(v):.0f}, n={len(v)})")
diff = [t["stor_get"] - t["slot"] for t in trial.values() if "stor_get" in t and "slot" in t]
if diff:
    print(f"stor_get - slot, same events: median {st.median(diff):+.0f} ns/run "
          f"(min {min(diff):+.0f}, max {max(diff):+.0f}, n={len(diff)})")
PY
