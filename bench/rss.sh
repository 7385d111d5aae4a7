#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# rss.sh - is tcpphase's memory bounded, and does it write every row, under
# a long churn? Runs `tcpphase --csv` while bench/.output/churn opens and
# closes loopback connections for SECS seconds, samples the tracer's VmRSS
# and VmHWM every STEP seconds, and prints them with the connection count,
# tcpphase's own loss line and the rows: two per connection expected (one
# per endpoint), how many were written, and how many connections have an
# endpoint without its peer's row (a row missing, or written twice).
#
# Usage: rss.sh [-T SECS] [-s STEP] [-a 'CHURN ARGS'] [-- TCPPHASE ARGS]
#   -T SECS   how long the churn runs (default 600)
#   -s STEP   seconds between samples (default 30)
#   -a ARGS   churn arguments (default "-c 64")
# Environment: TCPPHASE (default ../tcpphase). Needs root.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TCPPHASE=${TCPPHASE:-$(dirname "$HERE")/tcpphase}
SECS=600 STEP=30 CHURN_ARGS="-c 64"
while getopts "T:s:a:h" o; do
	case $o in
	T) SECS=$OPTARG ;;
	s) STEP=$OPTARG ;;
	a) CHURN_ARGS=$OPTARG ;;
	*) sed -n '/^# Usage:/,/^# Environment/s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift

make -s -C "$HERE" || exit 1
# shellcheck source=bench/churn_layout.sh
. "$HERE/churn_layout.sh"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

"$TCPPHASE" --csv "$@" >"$OUT/rows" 2>"$OUT/err" &
TP=$!
for _ in $(seq 100); do [ -s "$OUT/rows" ] && break; sleep 0.1; done
kill -0 "$TP" 2>/dev/null || { cat "$OUT/err"; exit 1; }

# shellcheck disable=SC2086 # CHURN_ARGS is a list of arguments
"$HERE/.output/churn" -n 1000000000 -T "$SECS" $CHURN_ARGS >"$OUT/churn" 2>&1 &
CH=$!
start=$(date +%s)
printf '%8s %12s %12s\n' "seconds" "VmRSS_kB" "VmHWM_kB"
while kill -0 "$CH" 2>/dev/null; do
	sleep "$STEP"
	rss=$(awk '/^VmRSS/ {print $2}' /proc/"$TP"/status)
	hwm=$(awk '/^VmHWM/ {print $2}' /proc/"$TP"/status)
	printf '%8d %12s %12s\n' $(($(date +%s) - start)) "$rss" "$hwm"
done
wait "$CH"
sleep 1
kill -INT "$TP"
wait "$TP"
echo "churn: $(tail -n 1 "$OUT/churn")"
grep -v '^$' "$OUT/err" | tail -n 3

# shellcheck disable=SC2086 # CHURN_ARGS is a list of arguments
read -r lo hi _ <<<"$(churn_layout $CHURN_ARGS)"
ok=$(grep -o 'ok=[0-9]*' "$OUT/churn" | cut -d= -f2)
# an active row (client port, listening port) pairs with a passive row (listening port, client port)
awk -F, -v lo="$lo" -v hi="$hi" -v ok="${ok:-0}" '
	NR == 1 { next }
	$11 >= lo && $11 <= hi && $7 == "active" { pair[$9 ":" $11]++; rows++; next }
	$9 >= lo && $9 <= hi && $7 == "passive" { pair[$11 ":" $9]--; rows++; next }
	$9 >= lo && $9 <= hi || $11 >= lo && $11 <= hi { other++ }
	END {
		for (k in pair) if (pair[k] != 0) unpaired += pair[k] < 0 ? -pair[k] : pair[k]
		printf "rows: expected %d (2 per connection), written %d (%+d), unpaired endpoints %d, rows of unknown role %d\n",
			2 * ok, rows, rows - 2 * ok, unpaired, other
	}' "$OUT/rows"
