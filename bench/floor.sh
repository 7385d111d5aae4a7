#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# floor.sh - the low-noise figures of issue #20: what the hooks themselves
# cost (empty programs on tcpphase's five attachments, the floor of the
# design) next to tcpphase and the libbpf-tools peers, in one interleaved run.
#
# Per round, each configuration (order reversed every other round) is
# started, waited for until its BPF programs are attached and stable, and
# then measured on three workloads in a row:
#   1. churn at full speed (-n CONNS): connections per second -> throughput
#      ratio to the same round's no-tracer trial;
#   2. churn at a fixed rate (-R RATE -n FIXED): the rate is the same for
#      all, so the cost is CPU: the tracer's user+system time from
#      /proc/PID/stat over this workload alone, per endpoint (2 per
#      connection), and churn's own CPU (its softirqs, so the BPF programs);
#   3. a real server: nginx (private netns, loopback, its own config in a
#      temporary directory, keepalive off, 1 worker) under ab -c AB_CONC
#      -n AB_REQS: requests per second -> throughput ratio.
# Then STATS_ROUNDS rounds with kernel.bpf_stats_enabled=1 (not in the
# ratios: bpf_stats adds two clock reads to every run): per program, the
# run_cnt / run_time_ns / recursion_misses deltas over the fixed-rate churn
# and over the ab run, from which BPF ns per run, runs per connection and
# BPF ns per endpoint (per connection / 2). The timer hooks fire for every
# timer of the host, so other work on the machine adds a little to them.
#
# Configurations: none, empty_all (empty programs on the five hooks:
# inet_sock_set_state x2, timer_start, timer_expire_entry, timer_cancel;
# built from SHARED, default /work/shared/bench), tcpphase-csv (--csv to
# /dev/null), tcpphase-metrics (--csv --metrics), tcplife, tcpstates, and
# with TCPPHASE_B=<another build> b-csv (that build's --csv), and likewise
# TCPPHASE_C c-csv, for an A/B of a change in the same run. CONFIGS="..."
# picks a subset; -n 0 runs the bpf_stats rounds only.
#
# Usage: floor.sh [-n ROUNDS] [-s STATS_ROUNDS] [-c CONNS] [-f FIXED] [-R RATE]
#                 [-a AB_REQS] [-o DIR] | -S DIR
#   -n ROUNDS  paired rounds (default 9)
#   -s N       bpf_stats rounds (default 3)
#   -c CONNS   full-speed churn connections per trial (default 30000)
#   -f FIXED   fixed-rate churn connections per trial (default 20000)
#   -R RATE    the fixed rate, connections per second (default 8000)
#   -a REQS    ab requests per trial (default 8000; concurrency AB_CONC=8)
#   -o DIR     results (default bench/.output/floor/<timestamp>)
#   -S DIR     print the summary of the run in DIR again
# Needs root, bpftool, python3, nginx, ab (apt-get install nginx-light
# apache2-utils). Puts kernel.bpf_stats_enabled back as it was.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(dirname "$HERE")
TCPPHASE=${TCPPHASE:-$TOP/tcpphase}
TCPPHASE_B=${TCPPHASE_B:-}
TCPPHASE_C=${TCPPHASE_C:-}
SHARED=${SHARED:-/work/shared/bench}
PEERS=${PEERS:-/usr/sbin}
CHURN=$HERE/.output/churn
EMPTY=$HERE/.output/empty/empty
ROUNDS=9 STATS_ROUNDS=3 CONNS=30000 FIXED=20000 RATE=8000 AB_REQS=8000
AB_CONC=${AB_CONC:-8}
OUT="" SUMMARY_OF=""
NS=tcpphase_floor_$$
NGX_PORT=18080
METRICS_PORT=$((19500 + $$ % 400))
PORT_ARGS=()

summarize() {
	python3 - "$1" <<'EOF'
import csv, statistics as st, sys, os
d = sys.argv[1]
T = list(csv.DictReader(open(os.path.join(d, "trials.csv"))))
P = list(csv.DictReader(open(os.path.join(d, "programs.csv"))))
names = list(dict.fromkeys(t["config"] for t in T))
def f(x):
    try: return float(x)
    except (TypeError, ValueError): return None
def spread(v, fmt=".3f"):
    v = [x for x in v if x is not None]
    if not v: return "-"
    return f"{st.median(v):{fmt}} ({min(v):{fmt}}-{max(v):{fmt}})"
main = [t for t in T if t["pass"] == "main"]
by = {(t["round"], t["config"]): t for t in main}
rounds = sorted({t["round"] for t in main}, key=int)
print(f"rounds: {len(rounds)}; ratios: per round over the same round's no-tracer trial, "
      "median (min-max)\n")
print("| config | churn conn/s ratio | nginx+ab req/s ratio | tracer CPU us/endpoint @fixed rate (schedstat; /proc stat ticks) "
      "| workload CPU added us/endpoint @fixed rate | BPF ns/endpoint churn (bpf_stats) "
      "| BPF ns/endpoint nginx | BPF runs/conn churn |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
stats = [p for p in P if p["pass"] == "stats"]
def bpf(n, wl):
    per_round = {}
    for p in stats:
        if p["config"] != n or p["workload"] != wl: continue
        r = per_round.setdefault(p["round"], [0, 0, f(p["conns"])])
        r[0] += int(p["run_cnt"]); r[1] += int(p["run_time_ns"])
    ns = [t / c / 2 for _, t, c in per_round.values() if c]
    runs = [n_ / c for n_, _, c in per_round.values() if c]
    return ns, runs
for n in names:
    cr, ar, tc, wc, tt = [], [], [], [], []
    for r in rounds:
        t, b = by.get((r, n)), by.get((r, "none"))
        if not t or not b: continue
        if f(t["churn_rate"]) and f(b["churn_rate"]): cr.append(f(t["churn_rate"]) / f(b["churn_rate"]))
        if f(t["ab_rps"]) and f(b["ab_rps"]): ar.append(f(t["ab_rps"]) / f(b["ab_rps"]))
        ok = f(t["fixed_ok"])
        if ok and f(t["fixed_tracer_cpu"]) is not None and n != "none":
            tt.append(f(t["fixed_tracer_cpu"]) / ok / 2 * 1e6)
            if f(t.get("fixed_tracer_ns")) is not None: tc.append(f(t["fixed_tracer_ns"]) / ok / 2 / 1e3)
        if ok and f(b["fixed_ok"]) and f(t["fixed_churn_cpu"]) is not None:
            wc.append((f(t["fixed_churn_cpu"]) / ok - f(b["fixed_churn_cpu"]) / f(b["fixed_ok"])) / 2 * 1e6)
    ns_c, runs_c = bpf(n, "churn")
    ns_a, _ = bpf(n, "ab")
    print(f"| {n} | {spread(cr)} | {spread(ar)} | {spread(tc, '.2f') + '; ' + spread(tt, '.2f') if n != 'none' else '-'} | "
          f"{spread(wc, '.2f') if n != 'none' else '-'} | {spread(ns_c, '.0f')} | "
          f"{spread(ns_a, '.0f')} | {spread(runs_c, '.1f')} |")
print()
print("Per program, bpf_stats rounds (fixed-rate churn; median over the rounds, min-max):\n")
print("| config | program | runs/conn | ns/run | ns/endpoint | recursion misses (sum) |")
print("|---|---|---:|---:|---:|---:|")
for n in names:
    progs = list(dict.fromkeys(p["name"] for p in stats if p["config"] == n and p["workload"] == "churn"))
    for pn in progs:
        rows = [p for p in stats if p["config"] == n and p["workload"] == "churn" and p["name"] == pn]
        if not sum(int(p["run_cnt"]) for p in rows): continue
        rc = [int(p["run_cnt"]) / f(p["conns"]) for p in rows if f(p["conns"])]
        ns = [int(p["run_time_ns"]) / int(p["run_cnt"]) for p in rows if int(p["run_cnt"])]
        ne = [int(p["run_time_ns"]) / f(p["conns"]) / 2 for p in rows if f(p["conns"])]
        miss = sum(int(p["recursion_misses"]) for p in rows)
        print(f"| {n} | {pn} | {spread(rc, '.2f')} | {spread(ns, '.0f')} | {spread(ne, '.0f')} | {miss} |")
    rows = [p for p in stats if p["config"] == n and p["workload"] == "churn"]
    rs = sorted({p["round"] for p in rows})
    tot = [(sum(int(p["run_cnt"]) for p in rows if p["round"] == r), sum(int(p["run_time_ns"]) for p in rows if p["round"] == r),
            f(next(p["conns"] for p in rows if p["round"] == r))) for r in rs]
    if tot:
        print(f"| {n} | **all** | {spread([c / k for c, _, k in tot], '.2f')} | {spread([t / c for c, t, _ in tot if c], '.0f')} | "
              f"{spread([t / k / 2 for _, t, k in tot], '.0f')} | |")
print()
base = [t for t in main if t["config"] == "none"]
print("no-tracer absolute (median, min-max): churn conn/s "
      f"{spread([f(t['churn_rate']) for t in base], '.0f')}, nginx req/s "
      f"{spread([f(t['ab_rps']) for t in base], '.0f')}, churn CPU us/conn at the fixed rate "
      f"{spread([f(t['fixed_churn_cpu']) / f(t['fixed_ok']) * 1e6 for t in base if f(t['fixed_ok'])], '.1f')}")
EOF
}

while getopts "n:s:c:f:R:a:o:S:h" o; do
	case $o in
	n) ROUNDS=$OPTARG ;; s) STATS_ROUNDS=$OPTARG ;; c) CONNS=$OPTARG ;;
	f) FIXED=$OPTARG ;; R) RATE=$OPTARG ;; a) AB_REQS=$OPTARG ;;
	o) OUT=$OPTARG ;; S) SUMMARY_OF=$OPTARG ;;
	h) sed -n '/^# Usage:/,/^# apache2-utils/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
if [ -n "$SUMMARY_OF" ]; then summarize "$SUMMARY_OF"; exit; fi
[ "$(id -u)" = 0 ] || { echo "floor.sh: needs root" >&2; exit 1; }
for c in bpftool python3 nginx ab; do
	command -v $c >/dev/null || { echo "floor.sh: $c not found" >&2; exit 1; }
done
make -C "$HERE" >/dev/null || exit 1
[ -x "$TCPPHASE" ] || make -C "$TOP" >/dev/null || exit 1
if [ ! -x "$EMPTY" ]; then
	mkdir -p "$HERE/.output/empty"
	cp "$SHARED"/{Makefile,empty.bpf.c,empty.c} "$HERE/.output/empty/" &&
		chmod u+w "$HERE/.output/empty/"* &&
		make -C "$HERE/.output/empty" empty >/dev/null || { echo "floor.sh: cannot build empty" >&2; exit 1; }
fi

# churn listens on a block of ports no socket uses now (other runs on the host)
for ((try = 0; try < 50; try++)); do
	base=$((20000 + RANDOM % 8000)) last=$((base + 16 * $(nproc) - 1))
	[ -z "$(ss -Htan "( sport >= :$base and sport <= :$last )")" ] && break
done
PORT_ARGS=(-p "$base")
OUT=${OUT:-$HERE/.output/floor/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/raw" || exit 1
OUT=$(cd "$OUT" && pwd)
cp "$TCPPHASE" "$OUT/tcpphase"
[ -n "$TCPPHASE_B" ] && cp "$TCPPHASE_B" "$OUT/tcpphase-b"
[ -n "$TCPPHASE_C" ] && cp "$TCPPHASE_C" "$OUT/tcpphase-c"
ALL="none empty_all tcpphase-csv tcpphase-metrics tcplife tcpstates"
[ -n "$TCPPHASE_B" ] && ALL="$ALL b-csv"
[ -n "$TCPPHASE_C" ] && ALL="$ALL c-csv"
read -ra CONFIGS <<<"${CONFIGS:-$ALL}"

start_tracer() {	# NAME ERRFILE; sets TRACER_PID
	case $1 in
	empty_all) "$EMPTY" -p set_state_btf -p set_state_btf2 -p timer_start_btf \
		-p timer_expire_btf -p timer_cancel_btf >/dev/null 2>"$2" </dev/null & ;;
	tcpphase-csv) "$OUT/tcpphase" --csv >/dev/null 2>"$2" </dev/null & ;;
	tcpphase-metrics) "$OUT/tcpphase" --csv --metrics "127.0.0.1:$METRICS_PORT" \
		>/dev/null 2>"$2" </dev/null & ;;
	b-csv) "$OUT/tcpphase-b" --csv >/dev/null 2>"$2" </dev/null & ;;
	c-csv) "$OUT/tcpphase-c" --csv >/dev/null 2>"$2" </dev/null & ;;
	tcplife | tcpstates) "$PEERS/$1" >/dev/null 2>"$2" </dev/null & ;;
	esac
	TRACER_PID=$!
}
prog_ids() { grep -hs '^prog_id:' /proc/"$1"/fdinfo/* | awk '{print $2}' | sort -un | tr '\n' ' '; }
proc_cpu() {
	local s
	s=$(cat /proc/"$1"/stat 2>/dev/null) || { echo 0; return; }
	awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($12 + $13) / hz}' <<<"${s##*) }"
}
# on-CPU nanoseconds of process $1, all its threads (schedstat: ns, not ticks)
proc_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'
}
wait_ready() {	# PID: programs held and unchanged for 1 s
	local t=0 ids prev="" stable=0
	while [ $t -lt 600 ]; do
		kill -0 "$1" 2>/dev/null || return 1
		ids=$(prog_ids "$1")
		if [ -n "$ids" ] && [ "$ids" = "$prev" ]; then stable=$((stable + 1)); else stable=0; fi
		prev=$ids
		[ $stable -ge 10 ] && return 0
		sleep 0.1; t=$((t + 1))
	done
	return 1
}
stop_tracer() {
	local t=0
	kill -INT "$1" 2>/dev/null
	while kill -0 "$1" 2>/dev/null && [ $t -lt 600 ]; do sleep 0.1; t=$((t + 1)); done
	kill -0 "$1" 2>/dev/null && kill -KILL "$1"
	wait "$1" 2>/dev/null
}
# "name run_cnt run_time_ns recursion_misses" per program id in "$@"
prog_snap() {
	bpftool prog show -j 2>/dev/null | python3 -c '
import json, sys
ids = {int(x) for x in sys.argv[1:]}
for p in json.load(sys.stdin):
    if p["id"] in ids:
        print(p["id"], p.get("name", "?"), p.get("run_cnt", 0), p.get("run_time_ns", 0), p.get("recursion_misses", 0))' "$@"
}
# append the deltas between snapshots $1 and $2 to programs.csv, prefixed $3
prog_delta() {
	python3 - "$1" "$2" "$3" "$OUT/programs.csv" <<'EOF'
import sys
a = {l.split()[0]: l.split() for l in open(sys.argv[1]) if l.strip()}
with open(sys.argv[4], "a") as f:
    for l in open(sys.argv[2]):
        b = l.split()
        if not b or b[0] not in a: continue
        o = a[b[0]]
        f.write(",".join([sys.argv[3], b[1]] + [str(int(b[i]) - int(o[i])) for i in (2, 3, 4)]) + "\n")
EOF
}
kv() { sed -nE "s/^(.* )?$1=([^ ]*).*/\2/p" <<<"$2"; }

# ---- nginx in a private netns ------------------------------------------------
NGX=$OUT/nginx
setup_nginx() {
	mkdir -p "$NGX/logs" "$NGX/tmp"
	cat >"$NGX/nginx.conf" <<EOF
worker_processes 1;
daemon on;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_timeout 0;
	client_body_temp_path $NGX/tmp; proxy_temp_path $NGX/tmp;
	fastcgi_temp_path $NGX/tmp; uwsgi_temp_path $NGX/tmp; scgi_temp_path $NGX/tmp;
	server {
		listen 127.0.0.1:$NGX_PORT backlog=4096;
		location / { return 200 "ok\n"; }
	}
}
EOF
	ip netns add "$NS" || return 1
	ip -n "$NS" link set lo up
	ip netns exec "$NS" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="10000 65000"
	ip netns exec "$NS" nginx -c "$NGX/nginx.conf" -p "$NGX" || return 1
	sleep 0.5
	ip netns exec "$NS" ab -q -n 200 -c 4 "http://127.0.0.1:$NGX_PORT/" >/dev/null
}
teardown_nginx() {
	[ -f "$NGX/nginx.pid" ] && kill "$(cat "$NGX/nginx.pid")" 2>/dev/null
	sleep 0.3
	ip netns del "$NS" 2>/dev/null
}
run_ab() {	# prints requests per second
	ip netns exec "$NS" ab -q -n "$AB_REQS" -c "$AB_CONC" "http://127.0.0.1:$NGX_PORT/" 2>&1 |
		awk '/^Requests per second:/ {print $4} /^Failed requests:/ {if ($3 > 0) print "failed=" $3 > "/dev/stderr"}'
}

STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
TRACER_PID=""
cleanup() {
	[ -n "$TRACER_PID" ] && stop_tracer "$TRACER_PID"
	teardown_nginx
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
sysctl -qw kernel.bpf_stats_enabled=0
setup_nginx || { echo "floor.sh: nginx setup failed (see $NGX/logs)" >&2; exit 1; }

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(uname -r), $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "tcpphase: $TCPPHASE (git $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)$(git -C "$TOP" diff --quiet 2>/dev/null || echo '+dirty'))"
	[ -n "$TCPPHASE_B" ] && echo "b-csv: $TCPPHASE_B"
	[ -n "$TCPPHASE_C" ] && echo "c-csv: $TCPPHASE_C"
	echo "churn: full speed -n $CONNS; fixed rate -n $FIXED -R $RATE; nginx: ab -n $AB_REQS -c $AB_CONC, keepalive off, netns $NS"
	echo "rounds: $ROUNDS paired + $STATS_ROUNDS bpf_stats; configs: ${CONFIGS[*]}"
	echo "other BPF programs loaded: $(bpftool prog show -j | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
} | tee "$OUT/setup.txt"
echo "pass,round,config,churn_rate,churn_ok,fixed_ok,fixed_churn_cpu,fixed_tracer_cpu,fixed_tracer_ns,ab_rps" >"$OUT/trials.csv"
echo "pass,round,config,workload,conns,name,run_cnt,run_time_ns,recursion_misses" >"$OUT/programs.csv"

run_trial() {	# PASS ROUND NAME
	local pass=$1 round=$2 name=$3 pid="" ids="" c0 c1 tcpu="" l1="" l2 rps s0 s1 n0 n1 tns=""
	local err=$OUT/raw/$pass-$round-$name.err
	if [ "$name" != none ]; then
		start_tracer "$name" "$err"
		pid=$TRACER_PID
		if ! wait_ready "$pid"; then
			echo "  $name: not ready (see $err)" >&2
			stop_tracer "$pid"; TRACER_PID=""
			return
		fi
		ids=$(prog_ids "$pid")
	fi
	s0=$OUT/raw/snap0 s1=$OUT/raw/snap1
	[ "$pass" = main ] && l1=$("$CHURN" -n "$CONNS" "${PORT_ARGS[@]}" 2>>"$err")
	# shellcheck disable=SC2086
	[ -n "$pid" ] && { prog_snap $ids >"$s0"; c0=$(proc_cpu "$pid"); n0=$(proc_ns "$pid"); }
	l2=$("$CHURN" -n "$FIXED" -R "$RATE" "${PORT_ARGS[@]}" 2>>"$err")
	if [ -n "$pid" ]; then
		c1=$(proc_cpu "$pid") n1=$(proc_ns "$pid")
		tns=$((n1 - n0))
		tcpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}')
		# shellcheck disable=SC2086
		prog_snap $ids >"$s1"
		[ "$pass" = stats ] && prog_delta "$s0" "$s1" "$pass,$round,$name,churn,$(kv ok "$l2")"
		prog_snap $ids >"$s0"
	fi
	rps=$(run_ab 2>>"$err")
	if [ -n "$pid" ]; then
		prog_snap $ids >"$s1"
		[ "$pass" = stats ] && prog_delta "$s0" "$s1" "$pass,$round,$name,ab,$AB_REQS"
		stop_tracer "$pid"; TRACER_PID=""
	fi
	echo "$pass,$round,$name,$(kv rate "$l1"),$(kv ok "$l1"),$(kv ok "$l2"),$(kv cpu "$l2"),$tcpu,$tns,$rps" >>"$OUT/trials.csv"
	printf '  %-6s %-17s churn=%-7s fixed_cpu=%-6s tracer_cpu=%-5s (%s ns) ab=%s\n' "$pass.$round" "$name" \
		"$(kv rate "$l1")" "$(kv cpu "$l2")" "${tcpu:--}" "${tns:--}" "$rps"
}

echo "warm-up"
"$CHURN" -n "$CONNS" "${PORT_ARGS[@]}" | sed 's/^/  /'
for ((r = 1; r <= ROUNDS; r++)); do
	order=("${CONFIGS[@]}")
	if ((r % 2 == 0)); then
		order=(); for ((i = ${#CONFIGS[@]} - 1; i >= 0; i--)); do order+=("${CONFIGS[i]}"); done
	fi
	echo "round $r/$ROUNDS ($(date -u +%H:%M:%S)): ${order[*]}"
	for n in "${order[@]}"; do run_trial main "$r" "$n"; done
done
sysctl -qw kernel.bpf_stats_enabled=1
for ((r = 1; r <= STATS_ROUNDS; r++)); do
	echo "bpf_stats round $r/$STATS_ROUNDS"
	for n in "${CONFIGS[@]}"; do [ "$n" = none ] || run_trial stats "$r" "$n"; done
done
sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
summarize "$OUT" | tee "$OUT/summary.md"
echo "results: $OUT"
