# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# churn_layout.sh - sourced by bench/overhead.sh and bench/rss.sh: where a
# churn run listens, from its arguments.

# The workload as churn will run it: "FIRST_PORT LAST_PORT RST PORT_GIVEN" from
# its -p/-P/-t/-r (defaults as churn's); RST is 1 when connections end in an
# RST, PORT_GIVEN 1 when -p was given.
churn_layout() {
	local OPTIND=1 o base=25000 ports=16 threads rst=0 given=0
	threads=$(nproc)
	while getopts "n:c:b:C:r46t:p:P:T:R:h" o "$@"; do
		case $o in
		p) base=$OPTARG given=1 ;;
		P) ports=$OPTARG ;;
		t) threads=$OPTARG ;;
		r) rst=1 ;;
		*) ;;
		esac
	done
	[[ "$base$ports$threads" =~ ^[0-9]+$ ]] || return 1
	echo "$base $((base + ports * threads - 1)) $rst $given"
}
