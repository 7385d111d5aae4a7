#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# doc-check.sh - the manual page cannot drift from the program: man finds
# nothing to warn about in doc/tcpphase.8, every option of `tcpphase --help`
# (long and short) is in the page, and every option the page's OPTIONS
# section lists is in --help. TCPPHASE names the binary (default ./tcpphase).
set -u
cd "$(dirname "$0")/.." || exit 1
bin=${TCPPHASE:-./tcpphase}
page=doc/tcpphase.8
rc=0

warn=$(man --warnings -l "$page" 2>&1 >/dev/null)
if [ -n "$warn" ]; then
	echo "man --warnings -l $page:"
	echo "$warn"
	rc=1
fi

help=$("$bin" --help) || { echo "$bin --help failed"; exit 1; }
# the page's source as text: \- is -, font changes dropped
text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$page")

# "  -L, --lport=PORTS   ..." and "      --csv   ...": the options of --help
opts=$(sed -n -E 's/^ {2,6}((-[[:alnum:]]), )?(--[[:alnum:]-]+).*/\2 \3/p' <<<"$help")
[ -n "$opts" ] || { echo "no options found in --help"; exit 1; }
for o in $opts; do
	if ! grep -qE -- "(^|[^[:alnum:]-])$o([^[:alnum:]-]|$)" <<<"$text"; then
		echo "$page: option $o of --help is missing"
		rc=1
	fi
done

# the other way: each option the OPTIONS section names exists
listed=$(awk '/^\.SH OPTIONS/ { on = 1; next } /^\.SH/ { on = 0 }
	on && prev == ".TP" { print } { prev = $0 }' "$page" |
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' | grep -oE -- '--?[[:alnum:]][[:alnum:]-]*' | sort -u)
for o in $listed; do
	if ! grep -qE -- "(^|[ ,])$o([ ,=]|$)" <<<"$help"; then
		echo "$page: option $o is not in --help"
		rc=1
	fi
done
[ $rc -eq 0 ] && echo "doc-check: $(wc -w <<<"$opts") options in the page, no man warnings"
exit $rc
