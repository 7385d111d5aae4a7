#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# build.sh - build the replay fuzzer (libFuzzer + ASan + UBSan) into
# .output/fuzz_replay; with --run SECONDS, also run it that long.
#
#   tests/fuzz/build.sh               build only
#   tests/fuzz/build.sh --run 60      build, then fuzz for 60 s
#
# The run works on a scratch copy of tests/fuzz/corpus, so the committed
# seeds never change; findings (crash-*, leak-*, timeout-*) are kept in
# .output/fuzz-artifacts/ and make the script exit non-zero. Reproduce one
# with `.output/fuzz_replay FILE`.
#
# libFuzzer comes with clang's runtime libraries: on Debian 12, clang 14
# needs libclang-rt-14-dev. CLANG=clang-15 (say) picks another compiler.
#
# The seeds are made by the unit test's generators:
#   make .output/tests/test_record && .output/tests/test_record --write-corpus tests/fuzz/corpus
set -eu

cd "$(dirname "$0")/../.."
CLANG=${CLANG:-clang}
OUT=.output
BIN=$OUT/fuzz_replay
ARTIFACTS=$OUT/fuzz-artifacts
SRCS="tests/fuzz/fuzz_replay.c user/record.c user/rec_read.c user/rec_write.c user/ct_*.c user/u64map.c user/format.c user/agg.c user/pool.c user/rstreason.c"

run_secs=
case ${1:-} in
"") ;;
--run)
	run_secs=${2:-}
	case $run_secs in
	'' | *[!0-9]*)
		echo "build.sh: --run needs a number of seconds" >&2
		exit 2
		;;
	esac
	;;
*)
	echo "usage: $0 [--run SECONDS]" >&2
	exit 2
	;;
esac

mkdir -p "$OUT"
probe=$OUT/fuzz_probe
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$probe.c"
if ! "$CLANG" -fsanitize=fuzzer "$probe.c" -o "$probe" 2>/dev/null; then
	rm -f "$probe" "$probe.c"
	echo "build.sh: $CLANG cannot link libFuzzer (-fsanitize=fuzzer);" \
		"on Debian install libclang-rt-14-dev (or the one matching $CLANG)" >&2
	exit 1
fi
rm -f "$probe" "$probe.c"

echo "  FUZZ     $BIN"
# shellcheck disable=SC2086 # SRCS is a list
"$CLANG" -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
	-Ibpf -Iuser $SRCS -lz -o "$BIN"

[ -n "$run_secs" ] || exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_replay.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp -R tests/fuzz/corpus "$work/corpus"
mkdir -p "$ARTIFACTS"
echo "  RUN      $BIN for ${run_secs}s on a copy of tests/fuzz/corpus"
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$BIN" -max_total_time="$run_secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
	-print_final_stats=1 -artifact_prefix="$ARTIFACTS/" "$work/corpus"
