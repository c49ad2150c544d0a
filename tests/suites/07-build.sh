#!/bin/sh
# 07-build.sh — the build itself: a static library is written afresh from exactly its objects
# (the Makefile's `archive` recipe). With `ar rcs` on the old archive, a member whose source had
# moved stayed in it, and links took its stale symbols. Works on copies, in its temp dir: the
# objects of common/ and their archive are copied there (times kept), a member that is no object
# of common/ is added to the archive, one object is made newer, and make, with BUILD pointing at
# the copy, must write the archive again without it; a second make must not touch it.
# And reading the Makefile asks pkg-config nothing: on a fresh machine, `make test` and `make run`
# install the -dev packages (deps) in the same make that read it, and flags read before that were
# empty (libcjson's and libpq's include directories went missing from the compiles).
T_NAME=build
. "$MADANG_ROOT/tests/lib/harness.sh"

b=$T_DIR/build
lib=$b/lib/libmadang-common.a
src=$MADANG_BUILD/lib/libmadang-common.a
if [ ! -f "$src" ] || ! command -v ar >/dev/null 2>&1; then
	t_fail "missing: $src or ar (make test builds and installs them)"
	t_done
fi
mkdir -p "$b/lib" "$b/obj"
cp -rp "$MADANG_BUILD/obj/common" "$b/obj/" && cp -p "$src" "$lib" || t_fail "copying the build of common/"
members() { ar t "$lib" | sort | tr '\n' ' '; }
want=$(cd "$b/obj/common" && ls -- *.o | sort | tr '\n' ' ')

echo 'int madang_stale_member_07(void) { return 7; }' >"$T_DIR/stale.c"
cc -c -o "$T_DIR/stale.o" "$T_DIR/stale.c" && ar q "$lib" "$T_DIR/stale.o" 2>/dev/null
t_check "the copy has a member that is no object of common/ (the test can fail)" \
	sh -c 'ar t "$1" | grep -qx stale.o' sh "$lib"
first=$(cd "$b/obj/common" && ls -- *.o | head -n 1)
touch "$b/obj/common/$first"
mk() { make -C "$MADANG_ROOT" --no-print-directory BUILD="$b" Q=@ "$lib" 2>&1; }
out=$(mk)
echo "$out" | sed 's/^/    /'
t_check "make writes the archive again, from its objects alone" [ "$(members)" = "$want" ]
t_check "the stale member is gone" sh -c '! ar t "$1" | grep -qx stale.o' sh "$lib"
out=$(mk)
t_check "a second make leaves the archive as it is ($out)" \
	sh -c 'echo "$1" | grep -q "is up to date" || [ -z "$1" ]' sh "$out"

# A pkg-config that notes each call: `make -n deps` expands no compile, so it must not be called.
cat >"$T_DIR/pkg-config" <<'SH'
#!/bin/sh
echo "$*" >>"${0%/*}/pkg-config.calls"
exec pkg-config "$@"
SH
chmod +x "$T_DIR/pkg-config"
make -C "$MADANG_ROOT" --no-print-directory -n BUILD="$b" PKG_CONFIG="$T_DIR/pkg-config" deps >/dev/null 2>&1
t_check "reading the Makefile asks pkg-config nothing (asked: $(tr '\n' ',' <"$T_DIR/pkg-config.calls" 2>/dev/null))" \
	test ! -s "$T_DIR/pkg-config.calls"
make -C "$MADANG_ROOT" --no-print-directory -n BUILD="$b" PKG_CONFIG="$T_DIR/pkg-config" \
	"$b/obj/broker/store_pg.o" >"$T_DIR/store_pg.n" 2>&1
t_check "a compile that needs a package's flags asks for them (store_pg.o: libpq's -I)" \
	grep -q -- "-I/usr/include/postgresql" "$T_DIR/store_pg.n"
t_done
