#!/bin/sh
# 26-failover.sh — failover under load through madang-ws (issue 20 items 3-4): a real PostgreSQL
# 15, two madang-brokers on it (--store, one --cluster: active and standby, each on its own
# ports), two madang-ws given both brokers (--rpc A,B --events A,B), clients in several rooms
# sending continuously with client_ids. kill -9 the active: the standby serves, every
# acknowledged message reaches every member once and in order, resends are duplicates, counts
# are right; the killed broker comes back as the standby and takes over when the other is
# killed (tests/integration/failover/load.test.mjs).
#
# PostgreSQL is started as 25-pgstore.sh does: Debian's binaries, initdb and pg_ctl in this
# suite's own temporary directory, owned by an unprivileged user (nobody under root), a unix
# socket only (no TCP), stopped and removed on every exit.
T_NAME=failover
. "$MADANG_ROOT/tests/lib/harness.sh"

PGBIN=/usr/lib/postgresql/15/bin
t_need --node "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/postgres" /usr/bin/psql \
	"$MADANG_BIN/madang-broker" "$MADANG_BIN/madang-ws"

PGD=$(mktemp -d "${TMPDIR:-/tmp}/madang-fo.XXXXXX")
if [ "$(id -u)" -eq 0 ]; then
	chown nobody "$PGD"
	as_pg="runuser -u nobody --"
else
	as_pg=""
fi
chmod 0700 "$PGD"
PGPORT=$(t_free_port) # only names the socket file: listen_addresses is empty

# Kills brokers a crashed test file left behind (only those whose command line names this
# suite's server directory), stops the server by its postmaster.pid (only while that PID is a
# postgres), removes the directory.
pg_cleanup() {
	for f in /proc/[0-9]*/cmdline; do
		case "$(tr '\0' ' ' <"$f" 2>/dev/null)" in
		*madang-broker*"host=$PGD "*)
			p=${f#/proc/}
			kill -KILL "${p%/cmdline}" 2>/dev/null
			;;
		esac
	done
	pid=$(head -n 1 "$PGD/data/postmaster.pid" 2>/dev/null)
	if [ -n "$pid" ] && grep -q postgres "/proc/$pid/cmdline" 2>/dev/null; then
		kill -INT "$pid" 2>/dev/null # fast shutdown
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$PGD"
}
trap 'pg_cleanup; t_cleanup' EXIT

if ! $as_pg "$PGBIN/initdb" -D "$PGD/data" -U madang -A trust --no-sync >"$T_DIR/initdb.log" 2>&1; then
	cat "$T_DIR/initdb.log"
	t_fail "initdb"
	t_done
fi
echo "local all all trust" >"$PGD/data/pg_hba.conf"
opts="-k $PGD -p $PGPORT -c listen_addresses='' -c fsync=off -c max_connections=40"
if ! $as_pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 20 -o "$opts" start >/dev/null; then
	cat "$PGD/server.log"
	t_fail "PostgreSQL did not start"
	t_done
fi
export PGHOST="$PGD" PGPORT
psql -X -q -U madang -d postgres -c "CREATE DATABASE madang_fo" >/dev/null ||
	t_fail "CREATE DATABASE"
export MADANG_TEST_PG_URI="host=$PGD port=$PGPORT user=madang dbname=madang_fo"

t_stack_dirs
t_node_file "$MADANG_ROOT/tests/integration/failover" load.test.mjs 240
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_STACK_DIR"/*.log; do echo "--- $log"; tail -n 30 "$log"; done
fi
t_done
