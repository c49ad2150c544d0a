#!/bin/sh
# 60-systemd.sh — the systemd units in systemd/: rendered the way `make install` renders them,
# `systemd-analyze verify` accepts each without a warning, `systemd-analyze security --offline`
# rates each service OK or better (SAFE, PERFECT) with an exposure of at most 2.0, and
# docs/deploy-systemd.md quotes that score. Then the daemons, started with each unit's own
# command line and environment from the example configuration in etc/, do what the units expect
# of them: READY=1 and STOPPING=1 on $NOTIFY_SOCKET (Type=notify), a FastCGI listening socket on
# fd 0 (StandardInput=socket), and a clean exit on SIGTERM. PID 1 need not be systemd: all of
# this works offline.
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

# The example configuration with its paths moved into the test directory; the test's copy of
# rooms.json renames one room so that the reply proves broker.env's --rooms was used.
mkdir -p "$T_DIR/etc" "$T_DIR/run"
ws_port=$(t_free_port)
for f in "$MADANG_ROOT"/etc/*; do
	sed -e "s|ipc:///run/madang/|ipc://$T_DIR/run/|g" -e "s|/etc/madang/|$T_DIR/etc/|g" \
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
t_check "madang-broker.service: its sockets are private to its user (mode 700 under UMask=0077)" \
	test "$(stat -c %a "$T_DIR/run/broker.rpc" "$T_DIR/run/broker.events" | tr '\n' ' ')" = "700 700 "

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
t_check "madang-broker: STOPPING=1 on \$NOTIFY_SOCKET" grep -qx STOPPING=1 "$T_DIR/notify-broker.log"

for n in broker ws api; do
	echo "--- $n log"
	cat "$T_DIR/$n.log"
done
t_done
