#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - the whole suite: unit tests (no root) then integration tests
# against the real BPF programs (root). Ends with "N passed, N failed,
# N skipped" and a non-zero status on any failure. Run it through
# `make test`, which builds everything first. Arguments filter the
# integration tests by name.
set -u
cd "$(dirname "$0")/.." || exit 1

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

# check NAME CMD...: one more test, passed when CMD exits 0 (its output shown on failure)
check() {
	local name=$1 log
	shift
	log=$(mktemp)
	if "$@" >"$log" 2>&1; then
		echo "  ok $name"
		passed=$((passed + 1))
	else
		echo "  FAIL $name:"
		tail -n 30 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
	rm -f "$log"
}

# every unit test binary built with ASan+UBSan must pass
sanitized_units() {
	local t rc=0
	for t in .output/san/tests/test_*; do
		"$t" >/dev/null 2>&1 || { echo "$t failed"; "$t" 2>&1 | tail -20; rc=1; }
	done
	return $rc
}

# the sanitized binary replays every seed recording as the normal one does
sanitized_replay() {
	local f a b rc=0
	for f in tests/fuzz/corpus/*; do
		a=$(./tcpphase -r "$f" --csv 2>&1)
		# bad seeds end with status 1 and a message: both builds must agree
		b=$(.output/san/tcpphase -r "$f" --csv 2>&1)
		[ "$a" = "$b" ] || { echo "replay of $f differs under sanitizers: $b"; rc=1; }
	done
	return $rc
}

echo "== static checks, sanitizers, fuzzing"
check "lint: clang-format (kernel style)" make -s format-check
check "lint: cppcheck and ShellCheck" make -s lint
check "sanitize: unit tests under ASan+UBSan" sanitized_units
check "sanitize: replay of the seed recordings under ASan+UBSan" sanitized_replay
check "fuzz: replay reader + connection table, ${FUZZ_SECS:-30} s" \
	./tests/fuzz/build.sh --run "${FUZZ_SECS:-30}"
check "doc: man page without warnings, its options and the completion's as in --help" \
	./tests/doc-check.sh
check "package: make install/uninstall; make deb, dpkg -i, tcpphase -V, man -w, dpkg -r" \
	./tests/package.sh

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
	log=$(mktemp)
	python3 tests/integration/run.py "$@" 2>&1 | tee "$log"
	out=$(tail -n 1 "$log")
	rm -f "$log"
	if [[ $out == SUMMARY:* ]]; then
		add_summary "$out"
	else
		echo "  integration runner crashed"
		failed=$((failed + 1))
	fi
fi

# the BPF programs alone, test_progs-style: it skips (fails under CI=true) without root
echo "== BPF programs (tests/progs)"
if [ -x .output/tests/progs ]; then
	out=$(.output/tests/progs 2>&1)
	rc=$?
	sed '$d' <<<"$out" | sed 's/^/  /'
	last=$(tail -n 1 <<<"$out")
	if [[ $last == SUMMARY:* ]]; then
		add_summary "$last"
		[ $rc -ne 0 ] && [[ $last == *" 0 failed"* ]] && failed=$((failed + 1))
	else
		echo "  progs: crashed (status $rc)"
		failed=$((failed + 1))
	fi
else
	echo "  FAIL progs: .output/tests/progs not built (make .output/tests/progs)"
	failed=$((failed + 1))
fi

# one test per kernel: tcpphase under qemu on Debian 12's own kernels
echo "== kernel matrix (qemu)"
for k in $(./scripts/kernel-matrix.sh --list); do
	if rel=$(./scripts/kernel-matrix.sh --fetch "$k" 2>&1); then
		check "kernel: $rel" ./scripts/kernel-matrix.sh "${TCPPHASE:-./tcpphase}" "$k"
	elif [ "${CI:-}" = true ]; then
		echo "  FAIL kernel: $k: cannot be fetched: $rel"
		failed=$((failed + 1))
	else
		echo "  skipped kernel: $k (cannot be fetched: $rel)"
		skipped=$((skipped + 1))
	fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
