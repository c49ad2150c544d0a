# pg.sh — a throw-away PostgreSQL 15 server for the suites (25-pgstore, 26-failover) and
# scripts/pg-scratch.sh; sourced (POSIX sh). Debian's binaries (PGBIN, default
# /usr/lib/postgresql/15/bin): initdb and pg_ctl in a directory of the caller's, owned by an
# unprivileged user (nobody when run as root, else the caller), listening only on a unix socket
# in that directory (listen_addresses is empty: no TCP at all). The Debian default cluster,
# /etc and /run are never touched. Safe under set -eu.
#
# pg_server_start DIR PORT FSYNC MAXCONN [HBA_LINE...]
#     initdb in DIR/data (DIR must exist and be empty), pg_hba.conf = the HBA_LINEs then
#     "local all all trust", starts the server; sets PG_OPTS, PG_STOP_CMD, PG_START_CMD (shell
#     command lines that stop the server fast and start it again, for the tests). On failure
#     prints initdb's or the server's log on stderr and returns 1.
# pg_server_stop DIR
#     stops the server by the PID in DIR/data/postmaster.pid (only while that PID is still a
#     postgres: fast shutdown, SIGKILL after 10 s).
# pg_kill_brokers DIR
#     SIGKILLs every madang-broker whose command line names DIR as its host (left behind by a
#     crashed test program).
# pg_suite_start PREFIX MAXCONN [HBA_LINE...]   (suites only: harness.sh sourced first)
#     a new temporary directory PGD, a free PGPORT, the server started in it; on every exit the
#     brokers left behind are killed, the server stopped and PGD removed (then t_cleanup).
#     Exports PGHOST, PGPORT, MADANG_TEST_PG_STOP and MADANG_TEST_PG_START. Fails the suite
#     (t_fail, t_done) if the server does not start.
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
pg_as=""
[ "$(id -u)" -eq 0 ] && pg_as="runuser -u nobody --"

pg_server_start() {
	_d=$1 _port=$2 _fsync=$3 _max=$4
	shift 4
	chmod 0700 "$_d"
	if [ -n "$pg_as" ]; then chown nobody "$_d" || return 1; fi
	if ! $pg_as "$PGBIN/initdb" -D "$_d/data" -U madang -A trust --no-sync >"$_d/initdb.log" 2>&1; then
		cat "$_d/initdb.log" >&2
		return 1
	fi
	{
		for l in "$@"; do echo "$l"; done
		echo "local all all trust"
	} >"$_d/data/pg_hba.conf"
	PG_OPTS="-k $_d -p $_port -c listen_addresses='' -c fsync=$_fsync -c max_connections=$_max"
	PG_STOP_CMD="$pg_as $PGBIN/pg_ctl -D $_d/data -w -t 20 -m fast stop >/dev/null"
	PG_START_CMD="$pg_as $PGBIN/pg_ctl -D $_d/data -l $_d/server.log -w -t 30 -o \"$PG_OPTS\" start >/dev/null"
	if ! $pg_as "$PGBIN/pg_ctl" -D "$_d/data" -l "$_d/server.log" -w -t 30 -o "$PG_OPTS" start >/dev/null; then
		cat "$_d/server.log" >&2
		return 1
	fi
}

pg_server_stop() {
	_pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null || true)
	if [ -n "$_pid" ] && grep -q postgres "/proc/$_pid/cmdline" 2>/dev/null; then
		kill -INT "$_pid" 2>/dev/null || true # fast shutdown
		_i=0
		while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 100 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$_pid" 2>/dev/null || true
	fi
	return 0
}

pg_kill_brokers() {
	for _f in /proc/[0-9]*/cmdline; do
		case "$(tr '\0' ' ' <"$_f" 2>/dev/null)" in
		*madang-broker*"host=$1 "*)
			_p=${_f#/proc/}
			kill -KILL "${_p%/cmdline}" 2>/dev/null || true
			;;
		esac
	done
	return 0
}

pg_suite_start() {
	_prefix=$1 _max=$2
	shift 2
	t_need "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/postgres" /usr/bin/psql
	PGD=$(mktemp -d "${TMPDIR:-/tmp}/$_prefix.XXXXXX")
	PGPORT=$(t_free_port) # only names the socket file: listen_addresses is empty
	trap 'pg_kill_brokers "$PGD"; pg_server_stop "$PGD"; rm -rf "$PGD"; t_cleanup' EXIT
	if ! pg_server_start "$PGD" "$PGPORT" off "$_max" "$@"; then
		t_fail "PostgreSQL did not start"
		t_done
	fi
	export PGHOST="$PGD" PGPORT
	export MADANG_TEST_PG_STOP="$PG_STOP_CMD" MADANG_TEST_PG_START="$PG_START_CMD"
}
