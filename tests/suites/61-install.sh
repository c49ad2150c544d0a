#!/bin/sh
# 61-install.sh — `make install` and `make uninstall` into temporary DESTDIRs: the installed tree
# (files, modes, contents, unit paths rendered for the PREFIX), the sysusers.d and tmpfiles.d
# entries creating the madang user and /run/madang, configuration that already exists or was
# edited being kept, installing twice (an upgrade), a PREFIX outside /usr, and uninstall leaving
# no madang file behind.
T_NAME=install
. "$MADANG_ROOT/tests/lib/harness.sh"

unset MAKEFLAGS MFLAGS MAKELEVEL
root="$MADANG_ROOT"
# mk PREFIX DESTDIR TARGET: make install/uninstall for this build, output in $T_DIR/make.log.
mk() {
	make -s -C "$root" BUILD="$MADANG_BUILD" UNITS_OUT="$T_DIR/units-out" \
		PREFIX="$1" DESTDIR="$2" "$3" >>"$T_DIR/make.log" 2>&1
}
# mode FILE: the permission bits in octal.
mode() {
	stat -c %a "$1" 2>/dev/null
}
# same SRC DEST: DEST exists with SRC's content and mode 0644.
same() {
	cmp -s "$1" "$2" && [ "$(mode "$2")" = 644 ]
}
# empty_tree DIR: nothing left below DIR.
empty_tree() {
	[ -z "$(find "$1" -mindepth 1 -print -quit)" ]
}

# --- PREFIX=/usr/local ---------------------------------------------------------------------------
D="$T_DIR/dest"
mkdir -p "$D"
if ! mk /usr/local "$D" install; then
	cat "$T_DIR/make.log"
	t_fail "make install PREFIX=/usr/local DESTDIR=$D"
	t_done
fi
t_ok "make install PREFIX=/usr/local DESTDIR=$D"

for b in madang-broker madang-ws madang-api; do
	t_check "bin/$b installed, mode 755, the built program" \
		sh -c '[ "$(stat -c %a "$1")" = 755 ] && cmp -s "$2" "$1"' sh \
		"$D/usr/local/bin/$b" "$MADANG_BIN/$b"
done

n=0
bad=""
for f in $(cd "$root" && find web -type f ! -name '.*'); do
	n=$((n + 1))
	same "$root/$f" "$D/usr/local/share/madang/$f" || bad="$bad $f"
done
t_check "web/ installed to share/madang/web ($n files, mode 644)" test "$n" -gt 0 -a -z "$bad"
[ -z "$bad" ] || echo "missing or different:$bad"

n=0
bad=""
for f in $(cd "$root" && find deploy/README.md deploy/nginx deploy/apache -type f ! -name '.*' 2>/dev/null); do
	n=$((n + 1))
	same "$root/$f" "$D/usr/local/share/madang/$f" || bad="$bad $f"
done
t_check "deploy/ (README.md, nginx, apache) installed to share/madang/deploy ($n files)" \
	test "$n" -gt 0 -a -z "$bad"
[ -z "$bad" ] || echo "missing or different:$bad"

U="$D/usr/local/lib/systemd/system"
for u in madang-broker.service madang-ws@.service madang-api.service madang-api.socket \
	madang.target; do
	t_check "unit $u installed, mode 644" test "$(mode "$U/$u")" = 644
done
t_check "no other file in lib/systemd/system" test "$(ls "$U" | wc -l)" -eq 5
t_check "madang-broker.service starts /usr/local/bin/madang-broker" \
	grep -q '^ExecStart=/usr/local/bin/madang-broker ' "$U/madang-broker.service"
t_check "madang-ws@.service starts /usr/local/bin/madang-ws" \
	grep -q '^ExecStart=/usr/local/bin/madang-ws ' "$U/madang-ws@.service"
t_check "madang-api.service starts /usr/local/bin/madang-api" \
	grep -q '^ExecStart=/usr/local/bin/madang-api ' "$U/madang-api.service"
t_check "units read /etc/madang/broker.env" \
	grep -q '^EnvironmentFile=-/etc/madang/broker.env$' "$U/madang-broker.service"
t_check "units point at the installed documentation" \
	grep -q '^Documentation=file:///usr/local/share/doc/madang/deploy-systemd.md$' \
	"$U/madang-broker.service"
t_check "the installed documentation is there" \
	same "$root/docs/deploy-systemd.md" "$D/usr/local/share/doc/madang/deploy-systemd.md"
t_check "no @PLACEHOLDER@ left in the installed units" sh -c "! grep -q '@[A-Z_]\+@' '$U'/*"

S="$D/usr/local/lib/sysusers.d/madang.conf"
t_check "sysusers.d/madang.conf installed, mode 644" test "$(mode "$S")" = 644
# The sysusers entry, applied to an empty root, creates the madang user and group.
sr="$T_DIR/sysroot"
mkdir -p "$sr/etc"
: >"$sr/etc/passwd"
: >"$sr/etc/group"
systemd-sysusers --root="$sr" "$S" >/dev/null 2>&1
t_check "systemd-sysusers creates the madang system user with no login shell" \
	grep -Eq '^madang:x:[0-9]+:[0-9]+:[^:]*:/var/lib/madang:/usr/sbin/nologin$' "$sr/etc/passwd"
t_check "systemd-sysusers creates the madang group" grep -q '^madang:x:' "$sr/etc/group"
TF="$D/usr/local/lib/tmpfiles.d/madang.conf"
t_check "tmpfiles.d/madang.conf installed, mode 644" test "$(mode "$TF")" = 644
# ... and the tmpfiles entry creates /run/madang owned by that user, mode 0755.
systemd-tmpfiles --root="$sr" --create "$TF" >/dev/null 2>&1
uid=$(sed -n 's/^madang:x:\([0-9]*\):.*/\1/p' "$sr/etc/passwd")
t_check "systemd-tmpfiles creates /run/madang as madang:madang 0755" \
	test "$(stat -c '%u %a' "$sr/run/madang" 2>/dev/null)" = "${uid:-none} 755"

for f in "$root"/etc/*; do
	b=$(basename "$f")
	t_check "etc/madang/$b installed (mode 644) with its pristine copy in share/madang/examples" \
		sh -c 'cmp -s "$1" "$2" && cmp -s "$1" "$3" && [ "$(stat -c %a "$2")" = 644 ]' sh \
		"$f" "$D/etc/madang/$b" "$D/usr/local/share/madang/examples/$b"
done

# A second install over the first (an upgrade) succeeds and keeps the edited configuration.
echo "MADANG_WS_ARGS=--rate 5" >>"$D/etc/madang/ws.env"
cp "$D/etc/madang/ws.env" "$T_DIR/ws.env.edited"
t_check "make install again over the installation" mk /usr/local "$D" install
t_check "  ... keeps the edited etc/madang/ws.env" cmp -s "$T_DIR/ws.env.edited" "$D/etc/madang/ws.env"
t_check "  ... lists every path once in the manifest" \
	sh -c '[ -z "$(sort "$1" | uniq -d)" ]' sh "$D/usr/local/share/madang/install-manifest"

t_check "make uninstall" mk /usr/local "$D" uninstall
left=$(cd "$D" && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ')
echo "left after uninstall: $left"
t_check "uninstall keeps only the edited etc/madang/ws.env" \
	test "$left" = "./etc ./etc/madang ./etc/madang/ws.env "
t_check "  ... unchanged" cmp -s "$T_DIR/ws.env.edited" "$D/etc/madang/ws.env"
rm -rf "$D/etc"
if mk /usr/local "$D" uninstall; then
	t_fail "uninstall again fails: nothing is installed"
else
	t_ok "uninstall again fails: nothing is installed"
fi

# --- a configuration file that exists before the installation is never touched ------------------
D2="$T_DIR/dest2"
mkdir -p "$D2/etc/madang"
echo "MADANG_BROKER_ARGS=--history 7" >"$D2/etc/madang/broker.env"
t_check "make install with an existing etc/madang/broker.env" mk /usr/local "$D2" install
t_check "  ... leaves it as it was" \
	test "$(cat "$D2/etc/madang/broker.env")" = "MADANG_BROKER_ARGS=--history 7"
t_check "  ... installs the other configuration files" test -f "$D2/etc/madang/madang.env"
t_check "make uninstall" mk /usr/local "$D2" uninstall
left=$(cd "$D2" && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ')
t_check "  ... removes everything but that file and its directory (left: $left)" \
	test "$left" = "./etc ./etc/madang ./etc/madang/broker.env "

# --- a PREFIX outside /usr: units and sysusers.d go to /etc, where systemd looks ----------------
D3="$T_DIR/dest3"
mkdir -p "$D3"
t_check "make install PREFIX=/opt/madang" mk /opt/madang "$D3" install
t_check "  ... units in /etc/systemd/system start /opt/madang/bin/madang-broker" \
	grep -q '^ExecStart=/opt/madang/bin/madang-broker ' "$D3/etc/systemd/system/madang-broker.service"
t_check "  ... madang-ws@.service starts /opt/madang/bin/madang-ws" \
	grep -q '^ExecStart=/opt/madang/bin/madang-ws ' "$D3/etc/systemd/system/madang-ws@.service"
t_check "  ... sysusers entry in /etc/sysusers.d" test -f "$D3/etc/sysusers.d/madang.conf"
t_check "  ... tmpfiles entry in /etc/tmpfiles.d" test -f "$D3/etc/tmpfiles.d/madang.conf"
t_check "  ... web client in /opt/madang/share/madang/web" \
	test -f "$D3/opt/madang/share/madang/web/index.html"
t_check "make uninstall PREFIX=/opt/madang" mk /opt/madang "$D3" uninstall
t_check "  ... leaves the DESTDIR empty" empty_tree "$D3"

# --- etc/*.env name every option of their daemon ------------------------------------------------
# env_lists_help PROG ENV: every option in PROG --help (but --help/--version) appears in ENV, so
# that the "every option" the env files promise stays true (issue 19: five were missing).
env_lists_help() {
	missing=""
	for o in $("$MADANG_BIN/$1" --help 2>&1 |
		sed -nE 's/^ {1,4}(-[a-z], )?(--?[a-z][a-z-]*).*/\2/p' | sort -u); do
		case $o in --help | --version | -h) continue ;; esac
		grep -qE -- "(^|[^a-z-])$o([^a-z-]|\$)" "$root/etc/$2" || missing="$missing $o"
	done
	[ -z "$missing" ] || echo "etc/$2 lacks:$missing"
	[ -z "$missing" ]
}
t_check "etc/broker.env names every option of madang-broker --help" env_lists_help madang-broker broker.env
t_check "etc/ws.env names every option of madang-ws --help" env_lists_help madang-ws ws.env
t_check "etc/api.env names every option of madang-api --help" env_lists_help madang-api api.env

[ "$T_FAIL" -eq 0 ] || cat "$T_DIR/make.log"
t_done
