#!/bin/sh
# 85-fuzz.sh — a short libFuzzer smoke of every target (make fuzz FUZZ_SECONDS=…, default 10 s each):
# clang, AddressSanitizer and UndefinedBehaviorSanitizer. A crash fails the suite and leaves the
# input in build/fuzz/crashes/.
T_NAME=fuzz
. "$MADANG_ROOT/tests/lib/harness.sh"

cd "$MADANG_ROOT" || exit 1
rm -rf build/fuzz/crashes
if ! make --no-print-directory fuzz-bins >"$T_DIR/build.log" 2>&1; then
	tail -n 20 "$T_DIR/build.log"
	t_fail "build of the fuzz targets"
	t_done
fi
for src in tests/fuzz/fuzz_*.c; do
	name=${src##*/fuzz_}
	name=${name%.c}
	mkdir -p build/fuzz/corpus/$name build/fuzz/crashes
	if timeout 120 build/fuzz/fuzz/fuzz_$name -max_total_time="${FUZZ_SECONDS:-10}" -max_len=65536 \
		-timeout=5 -rss_limit_mb=2048 -artifact_prefix=build/fuzz/crashes/$name- \
		build/fuzz/corpus/$name tests/fuzz/corpus/$name >"$T_DIR/$name.log" 2>&1; then
		t_ok "fuzz $name for ${FUZZ_SECONDS:-10} s: $(grep -E '^Done' "$T_DIR/$name.log")"
	else
		tail -n 40 "$T_DIR/$name.log"
		t_fail "fuzz $name found a crash (see build/fuzz/crashes/)"
	fi
done
t_done
