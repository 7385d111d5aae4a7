#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# steady.sh - tcpphase's tracer CPU per endpoint in steady state, builds
# side by side (issue #20). floor.sh's fixed-rate trial is a fresh start:
# the table is still growing then (page faults, maps doubling). Here each
# run churns at a fixed rate for long enough that the kernel's TIME_WAIT
# population reaches its cap (tcp_max_tw_buckets, ~16 s at 8,000/s here)
# and TIME_WAITs end as fast as they begin, and measures the tracer's CPU
# (schedstat) over a window late in the run, where each endpoint costs what
# it will cost for as long as the host runs.
#
# Per round, every build runs once (the order rotated each round), after
# a pause that lets the previous run's TIME_WAIT sockets expire. Prints a
# line per run, then a table: per build, each round and the median, and
# each build's ratio to the first one, round by round.
#
# Usage: steady.sh [-r ROUNDS] [-R RATE] [-w FROM-TO] BUILD...
#   BUILD      a tcpphase binary (run as BUILD --csv >/dev/null)
#   -r ROUNDS  rounds (default 3)
#   -R RATE    connections per second (default 8000)
#   -w A-B     the measured window, seconds into the churn (default 35-55;
#              the churn lasts B + 5 s)
# Needs root; builds ../bench/.output/churn. A run takes B + 67 s.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHURN=$HERE/.output/churn
ROUNDS=3 RATE=8000 FROM=35 TO=55

while getopts "r:R:w:h" opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;;
	R) RATE=$OPTARG ;;
	w) FROM=${OPTARG%-*} TO=${OPTARG#*-} ;;
	h) sed -n '/^# Usage:/,/^# Needs root/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "steady.sh: no build given (-h for help)" >&2; exit 2; }
for v in "$ROUNDS" "$RATE" "$FROM" "$TO"; do
	[[ $v =~ ^[0-9]+$ ]] || { echo "steady.sh: not a number: $v" >&2; exit 2; }
done
[ "$FROM" -lt "$TO" ] || { echo "steady.sh: empty window $FROM-$TO" >&2; exit 2; }
for b in "$@"; do
	[ -x "$b" ] || { echo "steady.sh: not an executable: $b" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "steady.sh: needs root" >&2; exit 1; }
make -C "$HERE" >/dev/null || exit 1
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing

cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }

# One run of build $1: prints its tracer CPU, us per endpoint, over the window.
run() {
	local pid churn a b conns=$((RATE * (TO + 5)))

	"$1" --csv >/dev/null 2>/dev/null </dev/null &
	pid=$!
	sleep 2
	"$CHURN" -n "$conns" -R "$RATE" -c 64 >/dev/null 2>&1 &
	churn=$!
	sleep "$FROM"
	a=$(cpu_ns $pid)
	sleep $((TO - FROM))
	b=$(cpu_ns $pid)
	wait $churn
	kill -INT $pid
	wait $pid
	python3 -c "print('%.3f' % (($b - $a) / 1e3 / (2 * $RATE * ($TO - $FROM))))"
}

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
builds=("$@")
n=${#builds[@]}
for ((r = 1; r <= ROUNDS; r++)); do
	for ((j = 0; j < n; j++)); do
		i=$(((r + j) % n))
		sleep 62 # the last run's TIME_WAIT sockets expire (60 s)
		us=$(run "${builds[$i]}")
		echo "round $r ${builds[$i]} $us us/endpoint"
		echo "$r $i $us" >>"$RESULTS"
	done
done
python3 - "$RESULTS" "$@" <<'EOF'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
builds = sys.argv[2:]
v = {}
for r, i, us in rows:
    v.setdefault(int(i), {})[int(r)] = float(us)
rounds = sorted({int(r) for r, _, _ in rows})
print("\n| build | " + " | ".join(f"round {r}" for r in rounds) + " | median | ratio to the first, by round |")
print("|---|" + "---:|" * (len(rounds) + 2))
for i, b in enumerate(builds):
    x = [v[i][r] for r in rounds]
    ratio = ", ".join(f"{v[i][r] / v[0][r]:.2f}" for r in rounds)
    print(f"| {b} | " + " | ".join(f"{y:.2f}" for y in x) + f" | {st.median(x):.2f} | {ratio} |")
EOF
