#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# doc-check.sh - the manual page and the bash completion cannot drift from
# the program: man finds nothing to warn about in doc/tcpphase.8, its .TH
# names the version of `tcpphase -V`, every option of `tcpphase --help`
# (long and short) is in the page, every option the page's OPTIONS section
# lists is in --help, and the completion offers exactly the options of
# --help and completes --by and --metrics-by keys and -r/-W files.
# TCPPHASE names the binary (default ./tcpphase).
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
# .TH names the version the program prints
version=$("$bin" -V)
if ! grep -q "^\.TH TCPPHASE 8 \"[^\"]*\" \"$version\"" "$page"; then
	echo "$page: .TH does not name \"$version\""
	rc=1
fi
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
# the completion, run as bash runs it: COMP_WORDS/COMP_CWORD in, COMPREPLY out
complete_words() {
	bash -c 'source scripts/tcpphase.bash-completion
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tcpphase
		printf "%s\n" "${COMPREPLY[@]}"' complete "$@" | sort | tr '\n' ' '
}
want=$(tr ' ' '\n' <<<"$opts" | grep . | sort | tr '\n' ' ')
got=$(complete_words tcpphase "")
if [ "$got" != "$want" ]; then
	echo "completion offers: $got"
	echo "--help has:        $want"
	rc=1
fi
got=$(complete_words tcpphase --by "")
[ "$got" = "cgroup comm lport netns remote rport workload " ] ||
	{ echo "--by completes to: $got"; rc=1; }
got=$(complete_words tcpphase -i 5 --by = r)
[ "$got" = "remote rport " ] || { echo "--by=r completes to: $got"; rc=1; }
got=$(complete_words tcpphase --metrics :9479 --metrics-by "")
[ "$got" = "workload " ] || { echo "--metrics-by completes to: $got"; rc=1; }
for o in -r -W; do
	got=$(complete_words tcpphase "$o" doc/tcpphase.)
	[ "$got" = "doc/tcpphase.8 " ] || { echo "$o doc/tcpphase. completes to: $got"; rc=1; }
done
[ $rc -eq 0 ] && echo "doc-check: $(wc -w <<<"$opts") options in the page and the completion"
exit $rc
