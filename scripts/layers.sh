#!/bin/sh
# layers.sh — checks that madang-ws (ws-frontend/) stays in one-way layers (issue 19): no two of
# its files call each other in a loop, directly or through others, and no source file is over
# 600 lines. Calls are read from the object files with nm (a symbol one file leaves undefined
# and another defines is a call, or a use of its data, from the first to the second); calls
# through function pointers (the hooks each layer is given) are not calls in this sense.
#
# usage: scripts/layers.sh [BUILD]   (BUILD: the build directory, default build; make first)
# Exit status 0 when both hold, 1 with the loop or the long files on stderr, 2 on bad usage.
set -u
BUILD=${1:-build}
SRC=ws-frontend
OBJDIR=$BUILD/obj/$SRC
MAX_LINES=600
rc=0

[ -d "$SRC" ] || { echo "layers.sh: run from the repository root" >&2; exit 2; }
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

# Every source file's defined and undefined symbols: "file symbol" lines.
: >"$tmp/def"
: >"$tmp/use"
for c in "$SRC"/*.c; do
	f=$(basename "$c" .c)
	o=$OBJDIR/$f.o
	if [ ! -f "$o" ]; then
		echo "layers.sh: $o is missing (build first)" >&2
		exit 2
	fi
	nm -g --defined-only "$o" | awk -v f="$f" 'NF == 3 { print f, $3 }' >>"$tmp/def"
	nm -u "$o" | awk -v f="$f" '{ print f, $NF }' >>"$tmp/use"
done

# Edges "caller callee" between two different files, once each.
awk 'NR == FNR { owner[$2] = $1; next }
     ($2 in owner) && owner[$2] != $1 { print $1, owner[$2] }' "$tmp/def" "$tmp/use" |
	sort -u >"$tmp/edges"

# tsort orders the files and reports any loop among them on stderr.
[ -n "${LAYERS_EDGES:-}" ] && cat "$tmp/edges" >"$LAYERS_EDGES"
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/loop" || [ -s "$tmp/loop" ]; then
	echo "layers.sh: files of $SRC/ call each other in a loop:" >&2
	cat "$tmp/loop" >&2
	rc=1
fi

for f in "$SRC"/*.c "$SRC"/*.h; do
	n=$(wc -l <"$f")
	if [ "$n" -gt "$MAX_LINES" ]; then
		echo "layers.sh: $f has $n lines (more than $MAX_LINES)" >&2
		rc=1
	fi
done
[ $rc -eq 0 ] && echo "layers.sh: $(wc -l <"$tmp/edges") calls between $(ls "$SRC"/*.c | wc -l) files, no loop, no file over $MAX_LINES lines"
exit $rc
