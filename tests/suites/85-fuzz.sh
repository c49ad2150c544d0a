#!/bin/sh
# 85-fuzz.sh — a short libFuzzer smoke of every target (make fuzz FUZZ_SECONDS=…, default 10 s each):
# clang, AddressSanitizer and UndefinedBehaviorSanitizer. A crash fails the suite and leaves the
# input in build/fuzz/crashes/. The targets build on both cores and fuzz at the same time, each in
# its own process (one after the other, the suite took 52 s).
T_NAME=fuzz
. "$MADANG_ROOT/tests/lib/harness.sh"

cd "$MADANG_ROOT" || exit 1
rm -rf build/fuzz/crashes
if ! make --no-print-directory -j2 fuzz-bins >"$T_DIR/build.log" 2>&1; then
	tail -n 20 "$T_DIR/build.log"
	t_fail "build of the fuzz targets"
	t_done
fi
# fuzz NAME: one target for FUZZ_SECONDS; its exit status in $T_DIR/NAME.rc.
fuzz() {
	timeout 120 build/fuzz/fuzz/fuzz_$1 -max_total_time="${FUZZ_SECONDS:-10}" -max_len=65536 \
		-timeout=5 -rss_limit_mb=2048 -artifact_prefix=build/fuzz/crashes/$1- \
		build/fuzz/corpus/$1 tests/fuzz/corpus/$1 >"$T_DIR/$1.log" 2>&1
	echo $? >"$T_DIR/$1.rc"
}
names=""
for src in tests/fuzz/fuzz_*.c; do
	name=${src##*/fuzz_}
	name=${name%.c}
	names="$names $name"
	mkdir -p build/fuzz/corpus/$name build/fuzz/crashes
	fuzz "$name" &
done
wait
for name in $names; do
	if [ "$(cat "$T_DIR/$name.rc")" = 0 ]; then
		t_ok "fuzz $name for ${FUZZ_SECONDS:-10} s: $(grep -E '^Done' "$T_DIR/$name.log")"
	else
		tail -n 40 "$T_DIR/$name.log"
		t_fail "fuzz $name found a crash (see build/fuzz/crashes/)"
	fi
done
t_done
