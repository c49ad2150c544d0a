#!/bin/sh
# 10-unit.sh — runs every cmocka unit-test binary (build/tests/test_*), the fuzz replays, madang-ws's
# layer check (scripts/layers.sh), and the web client's pure tests (tests/unit/*.test.mjs, node
# --test, no browser), and sums their results.
T_NAME=unit
. "$MADANG_ROOT/tests/lib/harness.sh"

for t in "$MADANG_TESTBIN"/test_*; do
	[ -x "$t" ] || continue
	out=$(timeout 120 "$t" 2>&1)
	rc=$?
	echo "$out"
	p=$(echo "$out" | sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
	f=$(echo "$out" | sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
	T_PASS=$((T_PASS + ${p:-0}))
	T_FAIL=$((T_FAIL + ${f:-0}))
	if [ $rc -ne 0 ] && [ -z "$f" ]; then
		t_fail "$(basename "$t") exited $rc"
	fi
done
# Fuzz targets over their seed corpus and every crash ever found (tests/fuzz/regress/).
for r in "$MADANG_TESTBIN"/replay_*; do
	[ -x "$r" ] || continue
	name=${r##*/replay_}
	set -- "$MADANG_ROOT/tests/fuzz/corpus/$name"
	for f in "$MADANG_ROOT/tests/fuzz/regress/$name"-*; do
		[ -e "$f" ] && set -- "$@" "$f"
	done
	if timeout 60 "$r" "$@"; then
		t_ok "fuzz corpus and regressions of $name replay without a crash"
	else
		t_fail "fuzz replay of $name"
	fi
done
# madang-ws's files in one-way layers: no call loop between them, none over 600 lines.
if out=$(cd "$MADANG_ROOT" && scripts/layers.sh "$MADANG_BUILD" 2>&1); then
	t_ok "$out"
else
	t_fail "scripts/layers.sh: $out"
fi
# The web client's pure modules (web/js) in node.
if command -v node >/dev/null 2>&1; then
	for f in "$MADANG_ROOT"/tests/unit/*.test.mjs; do
		[ -f "$f" ] && t_node_file "$MADANG_ROOT/tests/unit" "$(basename "$f")" 60
	done
else
	t_fail "node is needed for tests/unit/*.test.mjs"
fi
t_done
