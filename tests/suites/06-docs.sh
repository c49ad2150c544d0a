#!/bin/sh
# 06-docs.sh — the documentation points at things that exist (tests/docs/check.mjs): every
# relative link of README.md and docs/*.md reaches its file and heading, and every source file
# the README names (the path of one chat message, file by file) is in the tree. Reads files only.
T_NAME=docs
. "$MADANG_ROOT/tests/lib/harness.sh"

if ! command -v node >/dev/null 2>&1; then
	t_skip "node is missing (make node-deps installs what the other suites need)"
	t_done
fi
timeout 60 node "$MADANG_ROOT/tests/docs/check.mjs" "$MADANG_ROOT" >"$T_DIR/out" 2>&1
rc=$?
[ $rc -eq 0 ] || t_fail "tests/docs/check.mjs exited $rc: $(head -c 2000 "$T_DIR/out")"
while IFS= read -r line; do
	case $line in
	"bad "*) t_fail "${line#bad }" ;;
	esac
done <"$T_DIR/out"

links=$(grep -c '^ok .*: link ' "$T_DIR/out")
bad_links=$(grep -c '^bad .*: link ' "$T_DIR/out")
names=$(grep -c '^ok README.md: names ' "$T_DIR/out")
bad_names=$(grep -c '^bad README.md: names ' "$T_DIR/out")
t_check "all $links relative links of README.md and docs/*.md reach their file and heading" \
	test "$bad_links" -eq 0 -a "$links" -gt 20
t_check "all $names source files named in README.md are in the tree" \
	test "$bad_names" -eq 0 -a "$names" -gt 20
t_done
