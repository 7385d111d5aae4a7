#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# count.sh DIR CONNS - the counts of hookcount, the same in a guest (init)
# and on the host (run.sh): hookcount and churn from DIR, CONNS loopback
# connections with the client closing first, then as many with the server
# closing first, between "=== HOOKCOUNT BEGIN/END" lines.
echo "=== HOOKCOUNT BEGIN $(uname -r) conns=$2"
"$1/hookcount" "$1/hookcount.bpf.o" "$1/churn" -n "$2" -t 1 -c 4 -p 25000
"$1/hookcount" "$1/hookcount.bpf.o" "$1/churn" -n "$2" -t 1 -c 4 -p 26000 -C server
echo "=== HOOKCOUNT END"
