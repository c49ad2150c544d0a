#!/bin/sh
# 60-systemd.sh — the systemd units in systemd/: rendered the way `make install` renders them,
# `systemd-analyze verify` accepts each without a warning, `systemd-analyze security --offline`
# rates each service OK or better (SAFE, PERFECT) with an exposure of at most 2.0, and
# docs/deploy-systemd.md quotes that score. Then the daemons, started with each unit's own
# command line and environment from the example configuration in etc/, do what the units expect
# of them: READY=1 and STOPPING=1 on $NOTIFY_SOCKET (Type=notify), a FastCGI listening socket on
# fd 0 (StandardInput=socket), and a clean exit on SIGTERM. Last, a real boot: systemd as PID 1
# of private namespaces runs the installed units with their full sandbox behind nginx (see
# "a real boot" below; skipped only where that cannot be done: not root, or systemd on the host).
T_NAME=systemd
. "$MADANG_ROOT/tests/lib/harness.sh"

units="$T_DIR/units"
doc="$MADANG_ROOT/docs/deploy-systemd.md"
services="madang-broker.service madang-ws@.service madang-api.service"
all_units="$services madang-api.socket madang.target"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	t_fail "systemd-analyze is installed (scripts/install-deps.sh test installs systemd)"
	t_done
fi

# --- rendering -----------------------------------------------------------------------------------
# The real render step of mk/install.mk, with ExecStart= pointing at this build's binaries.
unset MAKEFLAGS MFLAGS MAKELEVEL
t_check "make systemd-units renders the units" \
	make -s -C "$MADANG_ROOT" systemd-units UNITS_OUT="$units" BINDIR="$MADANG_BIN" \
	CONFDIR=/etc/madang DOCDIR=/usr/share/doc/madang
for u in $all_units; do
	t_check "$u is rendered" test -s "$units/$u"
done
t_check "no @PLACEHOLDER@ is left in the rendered units" \
	sh -c "! grep -n '@[A-Z_]\+@' '$units'/*"
for d in madang-broker madang-ws madang-api; do
	t_check "$d is built (the units start it)" test -x "$MADANG_BIN/$d"
done

# exec_path UNIT: the program of the unit's ExecStart=.
exec_path() {
	sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$units/$1"
}
t_check "madang-broker.service runs $MADANG_BIN/madang-broker" \
	test "$(exec_path madang-broker.service)" = "$MADANG_BIN/madang-broker"
t_check "madang-ws@.service runs $MADANG_BIN/madang-ws" \
	test "$(exec_path madang-ws@.service)" = "$MADANG_BIN/madang-ws"
t_check "madang-api.service runs $MADANG_BIN/madang-api" \
	test "$(exec_path madang-api.service)" = "$MADANG_BIN/madang-api"

# --- systemd-analyze verify ----------------------------------------------------------------------
for u in $all_units; do
	out=$(cd "$units" && systemd-analyze verify --man=no "./$u" 2>&1)
	rc=$?
	[ -z "$out" ] || echo "$out"
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		t_ok "systemd-analyze verify $u: exit 0, no warning"
	else
		t_fail "systemd-analyze verify $u: exit $rc, output above"
	fi
done

# --- systemd-analyze security --offline ----------------------------------------------------------
# The summary line reads "→ Overall exposure level for madang-api.service: 1.1 OK 🙂".
for u in $services; do
	out=$(cd "$units" && systemd-analyze security --offline=true --no-pager "./$u" 2>&1)
	line=$(echo "$out" | grep 'Overall exposure level for')
	score=$(echo "$line" | sed -nE 's/.*: ([0-9]+\.[0-9]+) ([A-Z]+).*/\1/p')
	rating=$(echo "$line" | sed -nE 's/.*: ([0-9]+\.[0-9]+) ([A-Z]+).*/\2/p')
	echo "$out" | grep '✗'
	echo "security $u: ${score:-none} ${rating:-none}"
	t_check "$u: exposure ${score:-none} is at most 2.0" \
		awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
	case "$rating" in
	OK | SAFE | PERFECT) t_ok "$u: rated OK or better ($rating)" ;;
	*) t_fail "$u: rated OK or better (got ${rating:-none})" ;;
	esac
	t_check "$u: docs/deploy-systemd.md quotes the score $score" \
		grep -q "^| \`$u\` | $score |" "$doc"
done

# --- the daemons under the units' command lines --------------------------------------------------
# unitexec.pl UNIT INSTANCE CONFDIR [SOCKET]: starts the unit's ExecStart= as systemd would:
# Environment= then every EnvironmentFile= (read from CONFDIR instead of /etc/madang), %i
# replaced, ${VAR} substituted in place and a lone $VAR split into words, UMask= applied; with
# StandardInput=socket, a listening socket at SOCKET becomes fd 0.
cat >"$T_DIR/unitexec.pl" <<'EOF'
use strict;
use warnings;
use IO::Socket::UNIX;
my ($unit, $inst, $confdir, $sockpath) = @ARGV;
my (%env, @files, $exec, $stdin, $umask);
open(my $fh, '<', $unit) or die "unitexec: $unit: $!\n";
while (my $l = <$fh>) {
	chomp $l;
	next if $l =~ /^\s*(#|;|$)/;
	$l =~ s/%i/$inst/g;
	if ($l =~ /^Environment=([A-Za-z_]\w*)=(.*)$/) { $env{$1} = $2; }
	elsif ($l =~ /^EnvironmentFile=(-?)(.*)$/) { push @files, [$1, $2]; }
	elsif ($l =~ /^ExecStart=(.*)$/) { $exec = $1; }
	elsif ($l =~ /^StandardInput=(.*)$/) { $stdin = $1; }
	elsif ($l =~ /^UMask=([0-7]+)$/) { $umask = oct($1); }
}
for my $f (@files) {
	my ($optional, $path) = @$f;
	$path =~ s{^/etc/madang/}{$confdir/};
	my $ef;
	if (!open($ef, '<', $path)) {
		next if $optional;
		die "unitexec: $path: $!\n";
	}
	while (my $l = <$ef>) {
		chomp $l;
		next if $l =~ /^\s*(#|;|$)/;
		die "unitexec: $path: bad line: $l\n" unless $l =~ /^([A-Za-z_]\w*)=(.*)$/;
		my ($k, $v) = ($1, $2);
		$v =~ s/^"(.*)"$/$1/;
		$env{$k} = $v;
	}
}
die "unitexec: no ExecStart= in $unit\n" unless defined $exec;
my @argv;
for my $w (split ' ', $exec) {
	if ($w =~ /^\$([A-Za-z_]\w*)$/) { push @argv, split(' ', $env{$1} // ''); next; }
	$w =~ s/\$\{([A-Za-z_]\w*)\}/$env{$1} \/\/ ''/ge;
	push @argv, $w;
}
$ENV{$_} = $env{$_} for keys %env;
umask $umask if defined $umask;
if (defined $stdin && $stdin eq 'socket') {
	unlink $sockpath;
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $sockpath, Listen => 128)
	    or die "unitexec: listen $sockpath: $!\n";
	open(STDIN, '<&', $s) or die "unitexec: dup: $!\n";
	close $s;
}
print STDERR "unitexec: @argv\n";
exec { $argv[0] } @argv or die "unitexec: exec $argv[0]: $!\n";
EOF

# notify.pl PATH: the receiving end of $NOTIFY_SOCKET; prints every datagram's lines.
cat >"$T_DIR/notify.pl" <<'EOF'
use strict;
use warnings;
use IO::Socket::UNIX;
$| = 1;
my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $ARGV[0]) or die "notify: $!\n";
while (defined $s->recv(my $buf, 4096)) { print "$buf\n"; }
EOF

# fcgi.pl SOCKET URI: one FastCGI GET request, as nginx sends it; prints the response
# (headers and body). Exits 1 if no complete response arrives within 10 s.
cat >"$T_DIR/fcgi.pl" <<'EOF'
use strict;
use warnings;
use IO::Socket::UNIX;
my ($path, $uri) = @ARGV;
$SIG{ALRM} = sub { die "fcgi: timed out\n" };
alarm 10;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path) or die "fcgi: $path: $!\n";
sub rec { my ($type, $body) = @_; pack('CCnnCx', 1, $type, 1, length $body, 0) . $body }
sub len { my $n = length shift; $n < 128 ? pack('C', $n) : pack('N', $n | 0x80000000) }
my ($script, $query) = split /\?/, $uri, 2;
my %p = (REQUEST_METHOD => 'GET', REQUEST_URI => $uri, DOCUMENT_URI => $script,
	SCRIPT_NAME => $script, PATH_INFO => '', QUERY_STRING => $query // '',
	SERVER_PROTOCOL => 'HTTP/1.1', GATEWAY_INTERFACE => 'CGI/1.1', CONTENT_LENGTH => '0',
	CONTENT_TYPE => '', REMOTE_ADDR => '127.0.0.1', SERVER_NAME => 'localhost',
	SERVER_PORT => '80', HTTP_HOST => 'localhost');
my $params = join '', map { len($_) . len($p{$_}) . $_ . $p{$_} } sort keys %p;
print $s rec(1, pack('nCx5', 1, 0)) . rec(4, $params) . rec(4, '') . rec(5, '');
my ($out, $buf) = ('', '');
while (1) {
	while (length $buf < 8) { my $n = sysread($s, $buf, 65536, length $buf); die "fcgi: eof\n" unless $n; }
	my ($v, $type, $id, $clen, $plen) = unpack('CCnnC', $buf);
	while (length $buf < 8 + $clen + $plen) {
		my $n = sysread($s, $buf, 65536, length $buf); die "fcgi: eof\n" unless $n;
	}
	my $body = substr($buf, 8, $clen);
	$buf = substr($buf, 8 + $clen + $plen);
	$out .= $body if $type == 6;
	last if $type == 3;
}
print $out;
EOF

# The example configuration with its paths moved into the test directory (/run/madang, /etc/madang
# and the state directory /var/lib/madang); the test's copy of
# rooms.json renames one room so that the reply proves broker.env's --rooms was used.
mkdir -p "$T_DIR/etc" "$T_DIR/run"
ws_port=$(t_free_port)
for f in "$MADANG_ROOT"/etc/*; do
	sed -e "s|ipc:///run/madang/|ipc://$T_DIR/run/|g" -e "s|/etc/madang/|$T_DIR/etc/|g" \
		-e "s|/var/lib/madang|$T_DIR/state|g" \
		-e "s|^MADANG_WS_LISTEN=.*|MADANG_WS_LISTEN=127.0.0.1:$ws_port|" \
		-e 's|"id": "room4"|"id": "room4-systemd"|' "$f" >"$T_DIR/etc/$(basename "$f")"
done

# stop_and_wait PID: SIGTERM, then sets STOP_RC to its exit status within 10 s (124: it did not end).
stop_and_wait() {
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		STOP_RC=124
		return
	fi
	wait "$1"
	STOP_RC=$?
}

t_start notify-broker perl "$T_DIR/notify.pl" "$T_DIR/notify-broker"
t_start notify-ws perl "$T_DIR/notify.pl" "$T_DIR/notify-ws"
t_wait_for 5 test -S "$T_DIR/notify-ws"
t_wait_for 5 test -S "$T_DIR/notify-broker"

NOTIFY_SOCKET="$T_DIR/notify-broker" t_start broker \
	perl "$T_DIR/unitexec.pl" "$units/madang-broker.service" "" "$T_DIR/etc"
broker_pid=$T_LAST_PID
t_check "madang-broker.service: READY=1 on \$NOTIFY_SOCKET" \
	t_wait_for 10 grep -qx READY=1 "$T_DIR/notify-broker.log"
t_check "madang-broker.service: its RPC socket is in the runtime directory" \
	t_wait_for 5 test -S "$T_DIR/run/broker.rpc"
# UMask=0077: only the madang services (one user) may connect to the broker; not nginx.
t_check "madang-broker.service: its sockets are private to its user (mode 600, set by the broker)" \
	test "$(stat -c %a "$T_DIR/run/broker.rpc" "$T_DIR/run/broker.events" | tr '\n' ' ')" = "600 600 "

NOTIFY_SOCKET="$T_DIR/notify-ws" t_start ws \
	perl "$T_DIR/unitexec.pl" "$units/madang-ws@.service" 1 "$T_DIR/etc"
ws_pid=$T_LAST_PID
t_check "madang-ws@1.service: READY=1 on \$NOTIFY_SOCKET" \
	t_wait_for 10 grep -qx READY=1 "$T_DIR/notify-ws.log"
t_check "madang-ws@1.service: listens on MADANG_WS_LISTEN from ws.env (port $ws_port)" \
	t_wait_port "$ws_port" 10
t_check "madang-ws@1.service: registers with the broker as ws-1 (--id ws-%i)" \
	t_wait_for 5 grep -q 'front-end ws-1 registered' "$T_DIR/broker.log"

t_start api perl "$T_DIR/unitexec.pl" "$units/madang-api.service" "" "$T_DIR/etc" \
	"$T_DIR/run/api.sock"
api_pid=$T_LAST_PID
t_wait_for 5 test -S "$T_DIR/run/api.sock"
rooms=$(perl "$T_DIR/fcgi.pl" "$T_DIR/run/api.sock" /api/rooms 2>&1)
echo "GET /api/rooms over the fd-0 socket: $rooms"
t_check "madang-api.service: answers FastCGI on the socket passed as fd 0" \
	sh -c 'echo "$1" | grep -q "\"rooms\""' sh "$rooms"
t_check "madang-api.service: rooms come from broker.env's --rooms file" \
	sh -c 'echo "$1" | grep -q "\"id\":\"room4-systemd\""' sh "$rooms"

stop_and_wait "$api_pid"
t_check "madang-api: SIGTERM ends it with status 0 (got $STOP_RC)" test "$STOP_RC" -eq 0
stop_and_wait "$ws_pid"
t_check "madang-ws: SIGTERM ends it with status 0 (got $STOP_RC)" test "$STOP_RC" -eq 0
stop_and_wait "$broker_pid"
t_check "madang-broker: SIGTERM ends it with status 0 (got $STOP_RC)" test "$STOP_RC" -eq 0
t_check "madang-broker: broker.env's --data keeps the rooms in the state directory" \
	test -s "$T_DIR/state/madang.db"
t_check "madang-broker: STOPPING=1 on \$NOTIFY_SOCKET" grep -qx STOPPING=1 "$T_DIR/notify-broker.log"

for n in broker ws api; do
	echo "--- $n log"
	cat "$T_DIR/$n.log"
done

# --- a real boot ---------------------------------------------------------------------------------
# systemd itself as PID 1 of private pid, mount, network, uts, ipc and cgroup namespaces, on an
# overlay of this machine's root (the way systemd-nspawn runs a container; the host's files are
# never written: the overlay's upper layer is a tmpfs, the source tree is mounted read-only).
# Inside it the test follows docs/deploy-systemd.md as an administrator would: `make install`
# as root, `systemctl enable --now`, the nginx site; then it reboots the container and checks
# that everything comes back by itself, chat history included. This is where the sandbox
# settings meet the daemons for real: seccomp filters, user namespaces, a read-only file
# system, socket activation, the ownership of /run/madang and api.sock. The container's /dev
# is its own (nodes made with mknod, a console pty from its own devpts instance): systemd and
# its console getty chown and chmod their console, which once turned the host's /dev/null into
# root:tty 0620 through a bind mount. host_dev_ok checks the host's node after each boot.
# Needs root and no systemd on the host (a nested PID 1 would need a delegated cgroup there).
boot_skip=""
cg2=""
if [ "$(id -u)" -ne 0 ]; then
	boot_skip="not root"
elif [ -d /run/systemd/system ]; then
	boot_skip="the host runs systemd; boot the units with systemd-nspawn instead"
else
	for c in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ "$(stat -fc %T "$c" 2>/dev/null)" = cgroup2fs ] && cg2=$c && break
	done
	[ -n "$cg2" ] || boot_skip="no cgroup2 hierarchy"
	for tool in unshare nsenter pivot_root node nginx curl; do
		command -v $tool >/dev/null 2>&1 || boot_skip="$tool is missing"
	done
fi

if [ -n "$boot_skip" ]; then
	t_skip "boot under systemd: $boot_skip"
	t_done
fi

ct="$T_DIR/ct"
cgroup="$cg2/madang-test-$$"
boot_pid=""
# boot_cleanup: ends the namespaces (killing their PID 1 kills everything in them), removes the
# test's cgroup subtree and unmounts the overlay's tmpfs. Runs before the harness's cleanup.
boot_cleanup() {
	if [ -n "$boot_pid" ] && kill -0 "$boot_pid" 2>/dev/null; then
		kill -KILL "$boot_pid" 2>/dev/null
		sleep 0.5
	fi
	[ -d "$cgroup" ] && find "$cgroup" -depth -type d -exec rmdir {} \; 2>/dev/null
	mountpoint -q "$ct" && umount -l "$ct"
	return 0
}
trap 'boot_cleanup; t_cleanup' EXIT

# The overlay's upper layer, kept across the reboot: a tmpfs, prepared with the test's own bits.
mkdir -p "$ct"
mount -t tmpfs -o mode=755 tmpfs "$ct"
mkdir -p "$ct/up/etc/systemd/system" "$ct/up/opt/madang-test" "$ct/work"
# Services of this machine's image that have nothing to do with madang (apache2 would also take
# port 80 from nginx), and timers.
for u in apache2.service postgresql.service e2scrub_reap.service timers.target; do
	ln -s /dev/null "$ct/up/etc/systemd/system/$u"
done

# ws.js URL ORIGIN: joins through nginx, says "hello" once; every line on stdin sends "again".
# Prints what it receives: JOINED, ECHO hello, ECHO again, CLOSED code.
cat >"$ct/up/opt/madang-test/ws.js" <<'JS'
const WebSocket = require(process.env.WS_MODULE);
const [url, origin] = process.argv.slice(2);
const ws = new WebSocket(url, { origin });
let joined = false;
setTimeout(() => { console.log('TIMEOUT'); process.exit(1); }, 30000);
ws.on('message', (data) => {
	const m = JSON.parse(data.toString());
	if (m.type === 'joined' && !joined) { joined = true; console.log('JOINED'); ws.send('hello'); }
	if (m.type === 'message' && m.sender === 'alice') console.log('ECHO ' + m.message);
	if (m.type === 'message' && m.message === 'again') ws.close(1000);
});
ws.on('close', (code) => { console.log('CLOSED ' + code); process.exit(0); });
ws.on('error', (e) => { console.log('ERROR ' + e.message); process.exit(1); });
process.stdin.on('data', () => ws.send('again'));
JS

# container.sh CT DIR...: PID 1 of the new namespaces until it execs systemd: mounts the overlay
# root (upper layer CT/up), the API file systems, and each DIR read-only at its own path.
cat >"$T_DIR/container.sh" <<'SH'
#!/bin/sh
set -eu
ct=$1
shift
m=$ct/root
mount --make-rprivate /
mkdir -p "$m"
mount -t overlay overlay -o "lowerdir=/,upperdir=$ct/up,workdir=$ct/work" "$m"
# /tmp first: a source tree that lives under /tmp (a CI clone) is bound on top of it below.
mount -t tmpfs -o mode=1777 tmpfs "$m/tmp"
for d in "$@"; do
	mkdir -p "$m$d"
	mount --bind "$d" "$m$d"
	mount -o remount,bind,ro "$m$d"
done
mount -t proc proc "$m/proc"
mount --bind "$m/proc/sys" "$m/proc/sys"
mount -o remount,bind,ro "$m/proc/sys"
mount -t sysfs -o ro sysfs "$m/sys"
# /dev is the container's own: device nodes made here, never the host's bound in (systemd and
# its getty chown and chmod what they are given, and through a bind mount that would be the
# host's node; issue 18).
mount -t tmpfs -o mode=755 tmpfs "$m/dev"
for spec in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
	# shellcheck disable=SC2086
	set -- $spec
	mknod -m 666 "$m/dev/$1" c "$2" "$3"
done
mkdir -p "$m/dev/pts" "$m/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$m/dev/pts"
ln -s pts/ptmx "$m/dev/ptmx"
# The console is a pty of the container's own devpts instance, as systemd-nspawn gives it: its
# master is read into boot.log by ptyconsole.pl for as long as the container lives.
touch "$m/dev/console"
perl "$(dirname "$0")/ptyconsole.pl" "$m/dev/pts" "$m/dev/console" &
i=0
until mountpoint -q "$m/dev/console"; do
	i=$((i + 1))
	[ $i -lt 50 ] || { echo "container.sh: no console pty" >&2; exit 1; }
	sleep 0.1
done
ln -s /proc/self/fd "$m/dev/fd"
mount -t tmpfs -o mode=1777 tmpfs "$m/dev/shm"
hostname madang-test
cd "$m"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
exec /usr/bin/env -i container=madang-test /lib/systemd/systemd --unit=multi-user.target
SH
chmod +x "$T_DIR/container.sh"

# ptyconsole.pl PTS CONSOLE: makes a pty in the devpts instance at PTS, binds its slave onto
# CONSOLE, then copies what the container writes to its console into boot.log (standard
# output) until the container's PID namespace ends. It holds the slave open itself so that
# reading the master blocks rather than failing while nobody else has the console open.
cat >"$T_DIR/ptyconsole.pl" <<'PL'
use strict;
use warnings;
use Fcntl qw(O_RDWR O_NOCTTY);
my ($pts, $console) = @ARGV;
my ($TIOCGPTN, $TIOCSPTLCK) = (0x80045430, 0x40045431);
sysopen(my $master, "$pts/ptmx", O_RDWR | O_NOCTTY) or die "ptyconsole: $pts/ptmx: $!\n";
my $unlock = pack('i', 0);
ioctl($master, $TIOCSPTLCK, $unlock) or die "ptyconsole: unlock: $!\n";
my $n = pack('i', 0);
ioctl($master, $TIOCGPTN, $n) or die "ptyconsole: pty number: $!\n";
my $slave = "$pts/" . unpack('i', $n);
sysopen(my $hold, $slave, O_RDWR | O_NOCTTY) or die "ptyconsole: $slave: $!\n";
system('mount', '--bind', $slave, $console) == 0 or die "ptyconsole: cannot bind $slave\n";
$| = 1;
while (1) {
	my $got = sysread($master, my $buf, 4096);
	if (!defined $got) { select(undef, undef, undef, 0.2); next; }
	last if $got == 0;
	print $buf;
}
PL

binds="$MADANG_ROOT"
case "$MADANG_BUILD" in "$MADANG_ROOT"/*) ;; *) binds="$binds $MADANG_BUILD" ;; esac

# in_ct CMD...: runs CMD inside the container.
in_ct() {
	nsenter -t "$sd_pid" -m -u -i -n -p -r -w "$@"
}
# boot_ct WHAT: boots the container and waits until systemd is up; sets boot_pid, sd_pid and
# boot_state (running, or degraded when a unit failed).
boot_ct() {
	mkdir -p "$cgroup"
	# shellcheck disable=SC2086
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec unshare --mount --pid --fork --kill-child \
		--uts --ipc --net --cgroup "$@"' sh "$cgroup" "$T_DIR/container.sh" "$ct" $binds \
		>>"$T_DIR/boot.log" 2>&1 &
	boot_pid=$!
	T_PIDS="$T_PIDS $boot_pid"
	sd_pid=""
	boot_state=""
	t_wait_for 10 pgrep -P "$boot_pid" >/dev/null
	sd_pid=$(pgrep -P "$boot_pid" | head -n 1)
	if [ -n "$sd_pid" ] && t_wait_for 30 in_ct test -S /run/systemd/private; then
		boot_state=$(in_ct timeout 60 systemctl is-system-running --wait 2>/dev/null)
	fi
	if [ "$boot_state" != running ]; then
		cat "$T_DIR/boot.log"
		[ -n "$sd_pid" ] && in_ct systemctl --no-pager list-units --failed
	fi
	t_check "$1: systemd is up, every unit started (state ${boot_state:-none})" \
		test "$boot_state" = running
	[ -n "$boot_state" ] || t_done
}
# poweroff_ct WHAT: shuts the container down cleanly.
poweroff_ct() {
	in_ct journalctl --no-pager -b -u 'madang*' >>"$T_DIR/journal.log" 2>&1
	in_ct systemctl poweroff >/dev/null 2>&1
	t_check "$1: systemctl poweroff ends the container" \
		t_wait_for 30 sh -c '! kill -0 "$1" 2>/dev/null' sh "$boot_pid"
}
# rooms_ok: GET /api/rooms through nginx lists room1.
rooms_ok() {
	rooms=$(in_ct curl -s --max-time 10 http://127.0.0.1/api/rooms)
	echo "GET /api/rooms through nginx: $rooms"
	echo "$rooms" | grep -q '"id":"room1"'
}
# units_active: every madang unit that should run is active.
units_active() {
	for u in madang-broker.service madang-ws@1.service madang-ws@2.service madang-api.socket \
		nginx.service; do
		in_ct systemctl is-active --quiet "$u" || { echo "$u is not active"; return 1; }
	done
}

# host_dev_ok WHEN: the host's /dev/null is still the node it was, and a user who is not root can
# still write to it (systemd once chowned the host's /dev/null through a bind-mounted console).
host_dev_ok() {
	t_check "$1: the host's /dev/null is still 666 root:root (got $(stat -c '%a %U:%G' /dev/null))" \
		test "$(stat -c '%a %U:%G' /dev/null)" = "666 root:root"
	t_check "$1: a user who is not root can write to the host's /dev/null" \
		runuser -u nobody -- sh -c 'echo x >/dev/null'
}

boot_ct "boot"
host_dev_ok "boot"
t_check "boot: the container's /dev/console is a pty of its own devpts (major 136)" \
	test "$(in_ct stat -Lc '%t' /dev/console)" = 88
t_check "boot: inside, a user who is not root can write to /dev/null" \
	in_ct runuser -u nobody -- sh -c 'echo x >/dev/null'

# docs/deploy-systemd.md, steps 1, 3 and 4, as root on the container's real root.
t_check "boot: make install (no DESTDIR) as root" \
	in_ct make -s -C "$MADANG_ROOT" install BUILD="$MADANG_BUILD" UNITS_OUT=/tmp/madang-units
t_check "boot: make install created the madang system user" in_ct getent passwd madang
t_check "boot: make install created /run/madang as madang:madang 0755 (tmpfiles.d)" \
	test "$(in_ct stat -c '%U:%G %a' /run/madang)" = "madang:madang 755"
# The second front-end runs on poll (ws-2.env overrides ws.env for that instance alone), so
# that both event loops are exercised under the units' sandbox.
t_check "boot: /etc/madang/ws-2.env puts madang-ws@2 on --event-loop poll" \
	in_ct sh -c 'echo "MADANG_WS_ARGS=--trusted-proxies 127.0.0.1 --event-loop poll" >/etc/madang/ws-2.env'
t_check "boot: systemctl enable --now madang.target madang-ws@1 madang-ws@2" \
	in_ct systemctl enable --now madang.target madang-ws@1 madang-ws@2
t_check "boot: the nginx site from share/madang/deploy, nginx -t, reload" \
	in_ct sh -c 'cp /usr/local/share/madang/deploy/nginx/madang.conf /etc/nginx/sites-available/madang &&
		ln -s ../sites-available/madang /etc/nginx/sites-enabled/madang &&
		rm -f /etc/nginx/sites-enabled/default && nginx -t -q && systemctl reload nginx'
t_check "boot: the units are active" t_wait_for 10 units_active
# ws_loop N LOOP: madang-ws@N's command line asks for that event loop (libev: none asked).
ws_loop() {
	cmd=$(in_ct sh -c "tr '\\0' ' ' </proc/\$(systemctl show -p MainPID --value madang-ws@$1)/cmdline")
	echo "madang-ws@$1: $cmd"
	case "$2" in
	libev) case "$cmd" in *--event-loop*) ;; *) return 0 ;; esac ;;
	poll) case "$cmd" in *"--event-loop poll"*) return 0 ;; esac ;;
	esac
	return 1
}
t_check "boot: madang-ws@1 runs on libev (the default)" ws_loop 1 libev
t_check "boot: madang-ws@2 runs on poll (ws-2.env)" ws_loop 2 poll

t_check "boot: api.sock is madang:www-data 0660, after the services started" \
	test "$(in_ct stat -c '%U:%G %a' /run/madang/api.sock)" = "madang:www-data 660"
t_check "boot: the broker's sockets are madang's only" \
	test "$(in_ct stat -c '%U:%G %a' /run/madang/broker.rpc)" = "madang:madang 600"
t_check "boot: madang-ws@1 has LimitNOFILE=65536" \
	test "$(in_ct systemctl show -p LimitNOFILE --value madang-ws@1.service)" = 65536

# (nginx reloads asynchronously: its old workers may answer the first requests)
t_check "boot: nginx (www-data) → api.sock → madang-api → broker answers /api/rooms" \
	t_wait_for 10 rooms_ok
t_check "boot: the request started madang-api.service (socket activation)" \
	in_ct systemctl is-active --quiet madang-api.service

for u in madang-broker.service madang-ws@1.service madang-api.service; do
	line=$(in_ct systemd-analyze security --no-pager "$u" 2>&1 | grep 'Overall exposure level')
	score=$(echo "$line" | sed -nE 's/.*: ([0-9]+\.[0-9]+) ([A-Z]+).*/\1/p')
	echo "running $u: $line"
	t_check "boot: running $u scores ${score:-none}, at most 2.0" \
		awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
done

# A WebSocket through nginx stays open across a broker restart: the front-ends keep running
# (Wants=, not Requires=) and re-sync, and the same connection still chats afterwards.
mkfifo "$T_DIR/ws.in"
in_ct env WS_MODULE="$MADANG_ROOT/tests/node_modules/ws" node /opt/madang-test/ws.js \
	ws://127.0.0.1/ws/room1/alice http://127.0.0.1 <"$T_DIR/ws.in" >"$T_DIR/ws.out" 2>&1 &
ws_client=$!
T_PIDS="$T_PIDS $ws_client"
# Opened read-write, so that neither this open nor a later write can block or raise SIGPIPE,
# whatever became of the client.
exec 7<>"$T_DIR/ws.in"
t_check "boot: a WebSocket through nginx joins room1 and gets its message back" \
	t_wait_for 15 grep -qx 'ECHO hello' "$T_DIR/ws.out"
pids_before=$(in_ct systemctl show -p MainPID --value madang-ws@1.service madang-ws@2.service | tr -s '\n' ' ')
t_check "boot: systemctl restart madang-broker" in_ct systemctl restart madang-broker.service
pids_after=$(in_ct systemctl show -p MainPID --value madang-ws@1.service madang-ws@2.service | tr -s '\n' ' ')
t_check "boot: the front-ends keep running across it (PIDs $pids_before→ $pids_after)" \
	test "$pids_before" = "$pids_after"
t_check "boot: the front-ends re-sync with the new broker" \
	t_wait_for 10 sh -c 'nsenter -t "$1" -m -u -i -n -p -r -w journalctl -b -u madang-broker.service | grep -Eq "ws-[12] synced 1 members"' sh "$sd_pid"
echo again >&7
t_check "boot: the same WebSocket chats after the broker restart" \
	t_wait_for 15 grep -qx 'ECHO again' "$T_DIR/ws.out"
history=$(in_ct curl -s --max-time 10 'http://127.0.0.1/api/rooms/room1/messages?limit=50')
echo "room1 history after the restart: $history"
t_check "boot: history from before the broker restart is still there (--data in StateDirectory=)" \
	sh -c 'echo "$1" | grep -q "\"message\":\"hello\""' sh "$history"
t_check "boot: the database is /var/lib/madang/madang.db, madang's, in a 0750 directory" \
	test "$(in_ct stat -c '%U %a' /var/lib/madang /var/lib/madang/madang.db | tr '\n' ' ')" = "madang 750 madang 600 "
exec 7>&-
cat "$T_DIR/ws.out"

t_check "boot: journalctl -u madang-broker has the broker's start line" \
	sh -c 'nsenter -t "$1" -m -u -i -n -p -r -w journalctl -b -u madang-broker.service | grep -q "broker: started"' sh "$sd_pid"

in_ct systemctl stop madang.target
all_inactive() {
	for u in madang-broker.service madang-ws@1.service madang-ws@2.service madang-api.service \
		madang-api.socket; do
		in_ct systemctl is-active --quiet "$u" && return 1
	done
	return 0
}
t_check "boot: systemctl stop madang.target stops all five units" t_wait_for 20 all_inactive
t_check "boot: systemctl start madang.target" in_ct systemctl start madang.target
t_check "boot: /api/rooms answers again after the restart" t_wait_for 10 rooms_ok

poweroff_ct "boot"

# The reboot: the same root, a fresh /run. The enabled units come up by themselves, tmpfiles.d
# recreates /run/madang before madang-api.socket, and the history is read back from disk.
boot_ct "reboot"
t_check "reboot: the units are active" t_wait_for 10 units_active
t_check "reboot: /run/madang is madang:madang 0755, api.sock madang:www-data 0660" \
	test "$(in_ct stat -c '%U:%G %a' /run/madang /run/madang/api.sock | tr '\n' ' ')" = \
	"madang:madang 755 madang:www-data 660 "
t_check "reboot: /api/rooms through nginx" t_wait_for 10 rooms_ok
history=$(in_ct curl -s --max-time 10 'http://127.0.0.1/api/rooms/room1/messages?limit=50')
t_check "reboot: room1 still has the messages from before the reboot" \
	sh -c 'echo "$1" | grep -q "\"message\":\"again\""' sh "$history"
poweroff_ct "reboot"
host_dev_ok "after both boots"

echo "--- journal of the madang units (both boots)"
cat "$T_DIR/journal.log"
t_done
