#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# overhead.sh - what tracing costs a host that churns TCP connections:
# tcpphase in each output mode next to the libbpf-tools peers.
#
# The workload is bench/.output/churn (loopback connections as fast as the
# machine goes). Each round runs it once per configuration: no tracer,
# tcpphase --csv, tcpphase --csv --no-aggregate (every transition through
# the ring buffer, to show what aggregation saves), tcpphase -e --csv,
# tcpphase (table), tcplife, tcpstates
# (a peer that is not installed is skipped). Configurations are interleaved
# and every other round runs them in reverse order, so drift (TIME_WAIT
# population, thermal, a neighbour) falls on all of them alike. A tracer is
# started before the workload and the workload starts only once the tracer
# is attached (tcpphase: its header line is out; a peer: the BPF programs it
# holds are loaded and stable); after the workload and a drain second it is
# stopped with SIGINT and waited for, so everything it would write is
# written.
#
# With -a '-R RATE' churn starts RATE connections per second: the rate is
# the same for all and what differs is CPU, printed per connection in a
# second table (the workload's, BPF included, and the tracer's).
#
# Per configuration it prints the median conn/s and its ratio to no tracer,
# the tracer's CPU seconds while the workload ran (its own process: the BPF
# programs run in the workload's softirqs and are in churn's cpu=), the rows
# written against the rows expected for the connections made, the missing
# share, the losses the tracer reported itself, and the kernel's
# recursion_misses summed over the tracer's programs. A last round, not in
# the medians, runs each tracer once with kernel.bpf_stats_enabled=1 for the
# nanoseconds per run of each program (run_time_ns / run_cnt).
#
# Rows expected per connection:
#   tcpphase --csv      2 (one per endpoint; those still in TIME_WAIT are
#                       written at exit, as in_progress) + the header; the
#                       same with --no-aggregate
#   tcpphase -e --csv   10 state changes (5 per endpoint; 3 + 3 with churn -r)
#                       + the header
#   tcpphase (table)    2 close lines + the header (the TIME_WAIT lines that
#                       follow an active close are counted apart: how many
#                       endpoints get a TIME_WAIT is net.ipv4.tcp_max_tw_buckets'
#                       call)
#   tcplife             2, tcpstates as tcpphase -e (+ their header)
# Only rows of the workload count (a port in churn's listening range,
# listening sockets excluded); rows of other traffic are listed apart.
#
# Usage: overhead.sh [-n ROUNDS] [-c CONNS] [-a 'CHURN ARGS'] [-o DIR] | -s DIR
#   -n ROUNDS  rounds (default 5)
#   -c CONNS   connections per trial (default 100000)
#   -a ARGS    extra churn arguments, e.g. '-c 64 -C server -b 100', '-R 10000'
#   -o DIR     results (default bench/.output/results/<timestamp>)
#   -s DIR     only print the summary of the run in DIR again
#   -h         this help
# Environment: TCPPHASE (default ../tcpphase), TCPPHASE_OLD (another build,
# run as old-csv and old-metrics beside tcpphase-csv and tcpphase-metrics:
# a change measured side by side), PEERS (directory of tcplife
# and tcpstates, default /usr/sbin), KEEP_OUTPUT=1 keeps every tracer's full
# output (default: the first 20 lines).
#
# Needs root, bpftool and python3. Sets kernel.bpf_stats_enabled for the last
# round only and puts it back; changes no other setting.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(dirname "$HERE")
TCPPHASE=${TCPPHASE:-$TOP/tcpphase}
PEERS=${PEERS:-/usr/sbin}
KEEP_OUTPUT=${KEEP_OUTPUT:-0}
CHURN=$HERE/.output/churn
ROUNDS=5
CONNS=100000
CHURN_EXTRA=""
OUT=""
DRAIN_SECS=1
READY_SECS=60
STOP_SECS=120

usage() { sed -n '/^# Usage:/,/^# round only/s/^# \{0,1\}//p' "$0"; }
bad() { echo "overhead.sh: $*" >&2; exit 2; }
die() { echo "overhead.sh: $*" >&2; exit 1; }
# shellcheck source=bench/churn_layout.sh
. "$HERE/churn_layout.sh"

# ---- summary -----------------------------------------------------------------
# Print the results of run directory $1 (trials.csv, programs.csv) as markdown.
summarize() {
	python3 - "$1/trials.csv" "$1/programs.csv" <<'EOF'
import csv, statistics, sys

trials_path, progs_path = sys.argv[1], sys.argv[2]
trials = [t for t in csv.DictReader(open(trials_path))
          if t["rate"] not in ("", "FAILED") and t["exit"] != "died"]
names = list(dict.fromkeys(t["config"] for t in trials))


def vals(name, key, pas="main"):
    return [float(t[key]) for t in trials if t["config"] == name and t["pass"] == pas
            and t.get(key) not in (None, "", "?", "-")]


def med(v):
    return statistics.median(v) if v else None


def total(v):
    return f"{sum(v):.0f}" if v else "-"


base = med(vals("none", "rate"))
none_by_round = {t["round"]: float(t["rate"]) for t in trials
                 if t["config"] == "none" and t["pass"] == "main"}
print("| config | trials | median conn/s | ratio | paired ratio | min..max conn/s | "
      "tracer CPU s | rows written | rows expected | missing % | lost (reported) | "
      "missed transitions (reported) | recursion misses |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in names:
    rate = vals(n, "rate")
    if not rate:
        continue
    m = med(rate)
    paired = med([float(t["rate"]) / none_by_round[t["round"]] for t in trials
                  if t["config"] == n and t["pass"] == "main" and none_by_round.get(t["round"])])
    cells = [n, str(len(rate)), f"{m:.0f}", f"{m / base:.3f}" if base else "",
             f"{paired:.3f}" if paired else "", f"{min(rate):.0f}..{max(rate):.0f}"]
    if n == "none":
        cells += ["-"] * 7
    else:
        tcpu = med(vals(n, "tracer_cpu_s"))
        # sums over the trials; header lines counted on both sides
        rows = sum(vals(n, "rows")) + sum(vals(n, "header"))
        exp = sum(vals(n, "expected")) + len(rate)
        rm, resc = vals(n, "recursion_misses"), vals(n, "rescued")
        cells += [f"{tcpu:.2f}" if tcpu is not None else "", f"{rows:.0f}", f"{exp:.0f}",
                  f"{100 * (1 - rows / exp):.3f}" if exp else "", total(vals(n, "lost")),
                  total(vals(n, "missed_transitions")),
                  total(rm) + (f" ({sum(resc):.0f} rescued)" if resc else "")]
    print("| " + " | ".join(cells) + " |")
print()
print("ratio: median conn/s over the no-tracer median; paired ratio: median over the rounds "
      "of conn/s over the same round's no-tracer conn/s. tracer CPU s: the tracer "
      "process's user+system seconds from attached to the end of the workload (+1 s "
      "drain), median per trial. rows: sums over all trials, header lines included; "
      "table: close lines only (its TIME_WAIT lines are extra). lost, missed transitions, "
      "recursion misses: sums over all trials; misses: the kernel's recursion_misses of "
      "the tracer's programs; rescued: those tcpphase says its rescue programs handled.")


def cpu_us(t):
    """CPU per connection of one trial: the workload's (BPF included) + the tracer's."""
    ok = float(t["ok"] or 0)
    if not ok or t["churn_cpu_s"] in ("", "?"):
        return None
    tracer = float(t["tracer_cpu_s"]) if t["tracer_cpu_s"] not in ("", "?", "-") else 0.0
    return (float(t["churn_cpu_s"]), tracer, ok)


main = [(t, cpu_us(t)) for t in trials if t["pass"] == "main"]
main = [(t, c) for t, c in main if c]
none_cpu = {t["round"]: (c[0] + c[1]) / c[2] * 1e6 for t, c in main if t["config"] == "none"}
base_cpu = med(list(none_cpu.values()))
print()
print("CPU per connection (at full speed the rate falls instead; with -a '-R RATE' the "
      "rate is fixed and this is what a tracer costs):")
print()
print("| config | workload CPU us/conn | tracer CPU us/conn | added us/conn (paired) | added % |")
print("|---|---:|---:|---:|---:|")
for n in names:
    ts = [c + (t["round"],) for t, c in main if t["config"] == n]
    if not ts:
        continue
    work = med([c / ok * 1e6 for c, _, ok, _ in ts])
    trc = med([tr / ok * 1e6 for _, tr, ok, _ in ts])
    added = med([(c + tr) / ok * 1e6 - none_cpu[r] for c, tr, ok, r in ts if r in none_cpu])
    cells = [n, f"{work:.1f}", f"{trc:.1f}" if n != "none" else "-",
             f"{added:.1f}" if n != "none" and added is not None else "-",
             f"{100 * added / base_cpu:.1f}" if n != "none" and added is not None and base_cpu
             else "-"]
    print("| " + " | ".join(cells) + " |")
print()
print("workload CPU: churn's user+system seconds (the BPF programs run in its softirqs) "
      "per connection; tracer CPU: the tracer process's, as above; added: per round, "
      "both over the same round's no-tracer workload CPU, median; added %: of the "
      "no-tracer median.")

progs = [p for p in csv.DictReader(open(progs_path)) if p["pass"] == "stats"]
ok = {t["config"]: float(t["ok"]) for t in trials if t["pass"] == "stats" and t["ok"]}
if progs:
    print()
    print("bpf_stats round (one trial each, kernel.bpf_stats_enabled=1):")
    print()
    print("| config | program | runs | runs/conn | ns/run | recursion misses |")
    print("|---|---|---:|---:|---:|---:|")
    for n in names:
        tot_c = tot_t = 0
        for p in (p for p in progs if p["config"] == n):
            c, t = int(p["run_cnt"]), int(p["run_time_ns"])
            tot_c, tot_t = tot_c + c, tot_t + t
            per = f"{c / ok[n]:.2f}" if ok.get(n) else ""
            print(f"| {n} | {p['name']} | {c} | {per} | {t / c if c else 0:.0f} | "
                  f"{p['recursion_misses']} |")
        if tot_c and ok.get(n):
            print(f"| {n} | **all** | {tot_c} | {tot_c / ok[n]:.2f} | {tot_t / tot_c:.0f} "
                  f"({tot_t / ok[n]:.0f} ns/conn) | |")
EOF
}

SUMMARY_OF=""
while getopts "n:c:a:o:s:h" o; do
	case $o in
	n) ROUNDS=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	a) CHURN_EXTRA=$OPTARG ;;
	o) OUT=$OPTARG ;;
	s) SUMMARY_OF=$OPTARG ;;
	h) usage; exit 0 ;;
	*) echo "Try 'overhead.sh -h'." >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || bad "unexpected argument '$1'"
if [ -n "$SUMMARY_OF" ]; then
	[ -f "$SUMMARY_OF/trials.csv" ] || bad "-s: no trials.csv in '$SUMMARY_OF'"
	summarize "$SUMMARY_OF"
	exit
fi
[[ $ROUNDS =~ ^[1-9][0-9]{0,3}$ ]] || bad "-n: '$ROUNDS' is not a round count from 1 to 9999"
[[ $CONNS =~ ^[1-9][0-9]{0,9}$ ]] || bad "-c: '$CONNS' is not a positive connection count"
read -ra CHURN_ARGV <<<"$CHURN_EXTRA"

[ "$(id -u)" = 0 ] || die "needs root"
command -v bpftool >/dev/null || die "bpftool not found"
command -v python3 >/dev/null || die "python3 not found"
if [ ! -x "$TCPPHASE" ]; then
	[ "$TCPPHASE" = "$TOP/tcpphase" ] || die "$TCPPHASE not found"
	make -C "$TOP" >/dev/null || die "make -C $TOP failed"
fi
make -C "$HERE" >/dev/null || die "make -C $HERE failed"
# tracepoint attach needs tracefs
if [ -d /sys/kernel/tracing ] && [ -z "$(ls -A /sys/kernel/tracing 2>/dev/null)" ]; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
fi

read -r PORT_LO PORT_HI RST GIVEN <<<"$(churn_layout "${CHURN_ARGV[@]}")"
[ -n "${GIVEN:-}" ] || bad "-a: bad churn arguments '$CHURN_EXTRA'"
# Unless told (-a '-p PORT'), listen on a block of ports no socket uses now,
# below the ephemeral range: a second run at the same time (which would
# disturb this one anyway) then fails no bind and counts no foreign rows.
eph=$(sysctl -n net.ipv4.ip_local_port_range | awk '{print $1}')
width=$((PORT_HI - PORT_LO + 1))
if [ "$GIVEN" = 0 ] && [ $((eph - 20000 - width)) -gt 0 ]; then
	for ((try = 0; try < 50; try++)); do
		base=$((20000 + RANDOM % (eph - 20000 - width)))
		last=$((base + width - 1))
		[ -z "$(ss -Htan "( sport >= :$base and sport <= :$last )")" ] && break
	done
	CHURN_ARGV+=(-p "$base")
	PORT_LO=$base PORT_HI=$((base + width - 1))
fi
# one connection with these arguments (the last -n wins) checks them
if ! err=$("$CHURN" "${CHURN_ARGV[@]}" -n 1 2>&1 >/dev/null); then
	bad "-a '$CHURN_EXTRA': ${err:-churn failed}"
fi

OUT=${OUT:-$HERE/.output/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/raw" || die "cannot create $OUT"
# every trial runs this copy: a rebuild of the tree during the run changes nothing
cp "$TCPPHASE" "$OUT/tcpphase" || die "cannot copy $TCPPHASE"
TCPPHASE_SRC=$TCPPHASE
TCPPHASE=$OUT/tcpphase
TRIALS=$OUT/trials.csv
PROGS=$OUT/programs.csv

# ---- configurations --------------------------------------------------------
# ROWS: output rows expected per connection; FMT: how count_rows reads them.
# State changes per connection: 5 per endpoint after a FIN close, 3 after an
# RST (-r: ESTABLISHED -> CLOSE at once on both sides).
declare -A ROWS FMT
CHANGES=10
[ "$RST" = 1 ] && CHANGES=6
CONFIGS=(none tcpphase-csv tcpphase-csv-noagg tcpphase-events tcpphase-table
	tcpphase-metrics)
ROWS[tcpphase-csv]=2 FMT[tcpphase-csv]=lifecycle-csv
ROWS[tcpphase-metrics]=2 FMT[tcpphase-metrics]=lifecycle-csv
# TCPPHASE_OLD: another build (say, main before a change), side by side
if [ -n "${TCPPHASE_OLD:-}" ]; then
	CONFIGS+=(old-csv old-metrics)
	ROWS[old-csv]=2 FMT[old-csv]=lifecycle-csv
	ROWS[old-metrics]=2 FMT[old-metrics]=lifecycle-csv
fi
ROWS[tcpphase-csv-noagg]=2 FMT[tcpphase-csv-noagg]=lifecycle-csv
ROWS[tcpphase-events]=$CHANGES FMT[tcpphase-events]=events-csv
ROWS[tcpphase-table]=2 FMT[tcpphase-table]=table
ROWS[tcplife]=2 FMT[tcplife]=tcplife
ROWS[tcpstates]=$CHANGES FMT[tcpstates]=tcpstates
for p in tcplife tcpstates; do
	if [ -x "$PEERS/$p" ]; then
		CONFIGS+=("$p")
	else
		echo "overhead.sh: skipping $p: $PEERS/$p not installed" >&2
	fi
done

# A shell without job control starts background commands with SIGINT
# ignored; give the tracers the default back so SIGINT always reaches them.
DEFSIG=()
env --default-signal=INT true 2>/dev/null && DEFSIG=(env --default-signal=INT)

TRACER_PID=""
start_tracer() {	# NAME OUTFILE ERRFILE; sets TRACER_PID
	case $1 in
	tcpphase-csv) "${DEFSIG[@]}" "$TCPPHASE" --csv >"$2" 2>"$3" </dev/null & ;;
	tcpphase-csv-noagg)
		"${DEFSIG[@]}" "$TCPPHASE" --csv --no-aggregate >"$2" 2>"$3" </dev/null &
		;;
	tcpphase-events) "${DEFSIG[@]}" "$TCPPHASE" -e --csv >"$2" 2>"$3" </dev/null & ;;
	tcpphase-table) "${DEFSIG[@]}" "$TCPPHASE" >"$2" 2>"$3" </dev/null & ;;
	tcpphase-metrics)
		"${DEFSIG[@]}" "$TCPPHASE" --csv --metrics 127.0.0.1:19479 >"$2" 2>"$3" </dev/null &
		;;
	old-csv) "${DEFSIG[@]}" "$TCPPHASE_OLD" --csv >"$2" 2>"$3" </dev/null & ;;
	old-metrics)
		"${DEFSIG[@]}" "$TCPPHASE_OLD" --csv --metrics 127.0.0.1:19479 >"$2" 2>"$3" </dev/null &
		;;
	tcplife | tcpstates) "${DEFSIG[@]}" "$PEERS/$1" >"$2" 2>"$3" </dev/null & ;;
	esac
	TRACER_PID=$!
}

# ---- helpers ---------------------------------------------------------------
# ids of the BPF programs process $1 holds (prog and link fds), sorted
prog_ids() {
	grep -hs '^prog_id:' /proc/"$1"/fdinfo/* | awk '{print $2}' | sort -un | tr '\n' ' '
}

# "PID COMM NPROGS" of every process other than $1 that holds BPF programs:
# tracers left running by someone else run on every connection too
foreign_progs() {
	local d pid ids
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[ "$pid" = "${1:-}" ] && continue
		ids=$(prog_ids "$pid")
		[ -n "$ids" ] && echo "$pid $(cat "$d/comm" 2>/dev/null) $(wc -w <<<"$ids")"
	done
}

# ids of every loaded BPF program, as bpftool lists them
loaded_ids() {
	bpftool prog show -j 2>/dev/null |
		python3 -c 'import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))'
}

# user + system CPU seconds of process $1 (all its threads)
proc_cpu() {
	local stat
	stat=$(cat /proc/"$1"/stat 2>/dev/null) || { echo 0; return; }
	awk -v hz="$(getconf CLK_TCK)" '{print ($12 + $13) / hz}' <<<"${stat##*) }"
}

# Wait until tracer $2 (config $1, output $3) is attached; 1 if it died or
# timed out. tcpphase writes its header once its programs are attached; for
# a peer, wait for the programs it holds to be listed by bpftool and for
# their set to stay the same for a second.
wait_ready() {
	local name=$1 pid=$2 out=$3 t=0 ids prev="" stable=0 id loaded
	while [ $t -lt $((READY_SECS * 10)) ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		if [[ $name == tcpphase* || $name == old-* ]]; then
			[ -s "$out" ] && return 0
		else
			ids=$(prog_ids "$pid")
			if [ -n "$ids" ] && [ "$ids" = "$prev" ]; then
				stable=$((stable + 1))
			else
				stable=0
			fi
			prev=$ids
			if [ $stable -ge 10 ]; then
				loaded=" $(loaded_ids) "
				for id in $ids; do
					[[ $loaded == *" $id "* ]] || stable=0
				done
				[ $stable -ge 10 ] && return 0
			fi
		fi
		sleep 0.1
		t=$((t + 1))
	done
	return 1
}

# SIGINT, then wait (at most STOP_SECS) for the tracer to finish writing.
# Sets STOP_RC to its exit status, "killed" if it had to be killed. Must run
# in this shell (not in $(...)): only the parent can wait for a child.
STOP_RC=""
stop_tracer() {
	local pid=$1 t=0
	kill -INT "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null && [ $t -lt $((STOP_SECS * 10)) ]; do
		sleep 0.1
		t=$((t + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		STOP_RC=killed
		return
	fi
	wait "$pid" 2>/dev/null
	STOP_RC=$?
}

# Append one CSV line per program in "$@" (ids) to $PROGS, prefixed by $1
# (pass,round,config); print the sums "run_cnt run_time_ns recursion_misses".
prog_stats() {
	local prefix=$1
	shift
	bpftool prog show -j 2>/dev/null | python3 -c '
import json, sys
prefix, path, ids = sys.argv[1], sys.argv[2], {int(x) for x in sys.argv[3:]}
cnt = ns = miss = 0
with open(path, "a") as f:
    for p in json.load(sys.stdin):
        if p["id"] not in ids:
            continue
        c, t, m = p.get("run_cnt", 0), p.get("run_time_ns", 0), p.get("recursion_misses", 0)
        cnt, ns, miss = cnt + c, ns + t, miss + m
        f.write(",".join(str(x) for x in (prefix, p["id"], p.get("name", ""), c, t, m)) + "\n")
print(cnt, ns, miss)' "$prefix" "$PROGS" "$@"
}

# Count a tracer's rows: "header workload_rows other_rows tw_lines".
count_rows() {	# FMT FILE
	python3 - "$1" "$PORT_LO" "$PORT_HI" "$2" <<'EOF'
import csv, sys

fmt, lo, hi, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
header = ours = other = tw = 0


def workload(lport, rport):
    """A connection of churn: one port is a churn listener, and not a listener row."""
    try:
        lport, rport = int(lport), int(rport)
    except ValueError:
        return False
    return rport != 0 and (lo <= lport <= hi or lo <= rport <= hi)


with open(path, newline="", errors="replace") as f:
    if fmt in ("lifecycle-csv", "events-csv"):
        li, ri = (8, 10) if fmt == "lifecycle-csv" else (6, 8)
        for i, r in enumerate(csv.reader(f)):
            if i == 0 and r and r[0] in ("start_time", "time"):
                header += 1
            elif len(r) > ri and workload(r[li], r[ri]):
                ours += 1
            else:
                other += 1
    else:
        for line in f:
            f_ = line.split()
            if not f_:
                continue
            if f_[0] in ("PID", "SKADDR"):
                header += 1
                continue
            is_tw = False
            if fmt == "table":  # PID(7) COMM(9) R RADDR:RPORT LPORT RESULT|TIME_WAIT ...
                g = line[18:].split()
                if len(g) < 4 or ":" not in g[1]:
                    other += 1
                    continue
                lport, rport, is_tw = g[2], g[1].rsplit(":", 1)[1], g[3] == "TIME_WAIT"
            elif fmt == "tcplife":  # ... LPORT RADDR RPORT TX_KB RX_KB MS
                if len(f_) < 9:
                    other += 1
                    continue
                lport, rport = f_[-6], f_[-4]
            else:  # tcpstates: ... LPORT RADDR RPORT OLDSTATE -> NEWSTATE MS
                if len(f_) < 11:
                    other += 1
                    continue
                lport, rport = f_[-7], f_[-5]
            if not workload(lport, rport):
                other += 1
            elif is_tw:
                tw += 1
            else:
                ours += 1
print(header, ours, other, tw)
EOF
}

# Losses the tracer reported: "lost partial missed_transitions rescued" ("-"
# where not reported). tcpphase: its final stderr line ("...; lost N (...,
# N rescued; ...); missed transitions N"); a peer: its "lost N events" lines.
reported_losses() {	# NAME ERRFILE OUTFILE
	local line f v out=""
	if [[ $1 == tcpphase* || $1 == old-* ]]; then
		line=$(grep -E '^tcpphase: .*; lost [0-9]+' "$2" | tail -n 1)
		[ -n "$line" ] || { echo "? ? ? ?"; return; }
		for f in 'lost ([0-9]+)' '\(([0-9]+) partial\)' 'missed transitions ([0-9]+)' \
			'([0-9]+) rescued'; do
			v=-
			[[ $line =~ $f ]] && v=${BASH_REMATCH[1]}
			out="$out $v"
		done
		echo "$out"
	else
		cat "$2" "$3" 2>/dev/null | grep -oE '[Ll]ost [0-9]+ event' | grep -oE '[0-9]+' |
			awk '{s += $1} END {print s + 0, "-", "-", "-"}'
	fi
}

tw_live() {
	awk '$1 == "TCP:" {for (i = 2; i < NF; i++) if ($i == "tw") print $(i + 1)}' \
		/proc/net/sockstat
}

kv() {	# value of key $1 in churn's "k=v k=v" line $2
	sed -nE "s/^(.* )?$1=([^ ]*).*/\2/p" <<<"$2"
}

# ---- one trial ---------------------------------------------------------------
run_trial() {	# PASS ROUND NAME
	local pass=$1 round=$2 name=$3 tag pid="" ids="" cpu0 cpu1 tcpu="" line rc="" tw
	local hdr="" rows="" other="" twl="" exp="" lost="" part="" missed="" resc=""
	local cnt="" ns="" miss="" nprogs
	tag=$OUT/raw/$pass-$round-$name
	tw=$(tw_live)
	nprogs=$(loaded_ids | wc -w)
	if [ "$name" != none ]; then
		start_tracer "$name" "$tag.out" "$tag.err"
		pid=$TRACER_PID
		if ! wait_ready "$name" "$pid" "$tag.out"; then
			echo "  $name: not ready after ${READY_SECS}s (see $tag.err)" >&2
			stop_tracer "$pid"
			TRACER_PID=""
			echo "$pass,$round,$name,FAILED,,,,,,,,,,,,,,,,,,," >>"$TRIALS"
			return
		fi
		ids=$(prog_ids "$pid")
		cpu0=$(proc_cpu "$pid")
	fi
	line=$("$CHURN" -n "$CONNS" "${CHURN_ARGV[@]}" 2>"$tag.churn.err")
	if [ "$name" != none ]; then
		sleep "$DRAIN_SECS"
		if kill -0 "$pid" 2>/dev/null; then
			cpu1=$(proc_cpu "$pid")
			tcpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.2f", b - a}')
			# shellcheck disable=SC2086 # ids: a list of numbers
			read -r cnt ns miss <<<"$(prog_stats "$pass,$round,$name" $ids)"
			stop_tracer "$pid"
			rc=$STOP_RC
		else
			# not our SIGINT: the trial measured nothing (left out of the summary)
			wait "$pid" 2>/dev/null
			rc=died
			echo "  $name: the tracer exited during the workload (see $tag.err)" >&2
		fi
		TRACER_PID=""
		read -r hdr rows other twl <<<"$(count_rows "${FMT[$name]}" "$tag.out")"
		read -r lost part missed resc <<<"$(reported_losses "$name" "$tag.err" "$tag.out")"
		if [ "$KEEP_OUTPUT" != 1 ]; then
			head -n 20 "$tag.out" >"$tag.head" && rm -f "$tag.out"
		fi
	fi
	local rate ok err el ccpu
	rate=$(kv rate "$line") ok=$(kv ok "$line") err=$(kv errors "$line")
	el=$(kv elapsed "$line") ccpu=$(kv cpu "$line")
	[ -n "$rate" ] || { echo "  churn failed: $(head -c 300 "$tag.churn.err")" >&2; rate=""; }
	[ -n "${ROWS[$name]:-}" ] && [ -n "$ok" ] && exp=$((ROWS[$name] * ok))
	# the columns of $TRIALS, in order (COLUMNS_ below)
	local fields=("$pass" "$round" "$name" "$rate" "$ok" "$err" "$el" "$ccpu" "$tcpu"
		"$hdr" "$rows" "$exp" "$other" "$twl" "$lost" "$part" "$missed" "$resc" "$miss"
		"$cnt" "$ns" "$rc" "$tw" "$nprogs")
	(IFS=,; echo "${fields[*]}") >>"$TRIALS"
	printf '  %-16s %7s conn/s  errors=%-3s tracer_cpu=%-5s rows=%s/%s lost=%s misses=%s' \
		"$name" "${rate:-?}" "${err:-?}" "${tcpu:--}" "${rows:--}" "${exp:--}" \
		"${lost:--}" "${miss:--}"
	echo " exit=${rc:--}"
}

# ---- main --------------------------------------------------------------------
# other runs of this script (not this shell's own subshells, nor a wrapper
# such as timeout(1) that started this one)
OTHER_RUNS=""
while read -r p; do
	[ "$p" = $$ ] || [ "$p" = "$PPID" ] || [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = $$ ] ||
		OTHER_RUNS="$OTHER_RUNS $p"
done < <(pgrep -f 'overhead\.sh')

STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	if [ -n "$TRACER_PID" ]; then
		stop_tracer "$TRACER_PID"
	fi
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
sysctl -qw kernel.bpf_stats_enabled=0

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(uname -r), $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo |
		head -n 1)"
	echo "tcpphase: copy of $TCPPHASE_SRC ($("$TCPPHASE" -V 2>/dev/null | head -n 1)," \
		"built $(date -u -r "$TCPPHASE_SRC" +%Y-%m-%dT%H:%M:%SZ)," \
		"sha256 $(sha256sum "$TCPPHASE" | cut -c1-12)," \
		"tree at git $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null))"
	echo "workload: $CHURN -n $CONNS ${CHURN_ARGV[*]} (listening ports $PORT_LO-$PORT_HI)"
	echo "rounds: $ROUNDS, order reversed every other round: ${CONFIGS[*]}"
	echo "sysctl: tcp_tw_reuse=$(sysctl -n net.ipv4.tcp_tw_reuse)" \
		"tcp_max_tw_buckets=$(sysctl -n net.ipv4.tcp_max_tw_buckets)" \
		"ip_local_port_range=$(sysctl -n net.ipv4.ip_local_port_range | tr '\t' -)"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	[ -z "$OTHER_RUNS" ] || echo "WARNING: another overhead.sh is running (pid$OTHER_RUNS)"
	foreign=$(foreign_progs "$$")
	if [ -n "$foreign" ]; then
		echo "WARNING: BPF programs of other processes are loaded and run on every" \
			"connection too (pid comm programs): $(paste -sd';' <<<"$foreign")"
	else
		echo "other BPF programs: none"
	fi
} | tee "$OUT/setup.txt"
COLUMNS_=(pass round config rate ok errors elapsed_s churn_cpu_s tracer_cpu_s header rows expected
	other_rows tw_lines lost partial missed_transitions rescued recursion_misses run_cnt
	run_time_ns exit tw_before bpf_progs_before)
(IFS=,; echo "${COLUMNS_[*]}") >"$TRIALS"
echo "pass,round,config,prog_id,name,run_cnt,run_time_ns,recursion_misses" >"$PROGS"

echo "warm-up, not recorded (brings the TIME_WAIT population to its steady state)"
warm=$("$CHURN" -n "$CONNS" "${CHURN_ARGV[@]}" 2>"$OUT/raw/warmup.err")
echo "  $warm"

for ((r = 1; r <= ROUNDS; r++)); do
	order=("${CONFIGS[@]}")
	if ((r % 2 == 0)); then
		order=()
		for ((i = ${#CONFIGS[@]} - 1; i >= 0; i--)); do order+=("${CONFIGS[i]}"); done
	fi
	echo "round $r/$ROUNDS: ${order[*]}"
	for name in "${order[@]}"; do run_trial main "$r" "$name"; done
done

echo "stats round (kernel.bpf_stats_enabled=1, not in the medians)"
sysctl -qw kernel.bpf_stats_enabled=1
for name in "${CONFIGS[@]}"; do
	[ "$name" = none ] || run_trial stats 1 "$name"
done
sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"

summarize "$OUT" | tee "$OUT/summary.md"
echo "results: $OUT"
