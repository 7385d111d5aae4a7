#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - the whole suite: unit tests (no root) then integration tests
# against the real BPF programs (root). Ends with "N passed, N failed,
# N skipped" and a non-zero status on any failure. Run it through
# `make test`, which builds everything first. Arguments filter the
# integration tests by name.
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
add_summary() {	# $1: a "SUMMARY: P passed, F failed[, S skipped]" line
	local p f s
	p=$(sed -n 's/.* \([0-9]*\) passed.*/\1/p' <<<"$1")
	f=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$1")
	s=$(sed -n 's/.* \([0-9]*\) skipped.*/\1/p' <<<"$1")
	passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0})) skipped=$((skipped + ${s:-0}))
}

echo "== unit tests"
for t in .output/tests/test_*; do
	[ -x "$t" ] || continue
	out=$("$t" 2>&1)
	rc=$?
	sed '$d' <<<"$out" | sed "s|^|  $(basename "$t"): |"
	last=$(tail -n 1 <<<"$out")
	if [[ $last == SUMMARY:* ]]; then
		add_summary "$last"
		[ $rc -ne 0 ] && [[ $last == *" 0 failed"* ]] && failed=$((failed + 1))
	else
		echo "  $(basename "$t"): crashed (status $rc)"
		failed=$((failed + 1))
	fi
done

echo "== integration tests (real BPF)"
if [ "$(id -u)" != 0 ]; then
	if [ "${CI:-}" = true ]; then
		echo "  integration tests need root"
		failed=$((failed + 1))
	else
		echo "  skipped: need root"
		skipped=$((skipped + 1))
	fi
else
	out=$(python3 tests/integration/run.py "$@" 2>&1 | tee /dev/stderr | tail -n 1)
	if [[ $out == SUMMARY:* ]]; then
		add_summary "$out"
	else
		echo "  integration runner crashed"
		failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
