#!/bin/sh
# 25-pgstore.sh — madang-broker on PostgreSQL (--store): the durable-history tests of it_durable.c
# against PostgreSQL, active/standby failover (it_failover.c: kill -9, pg_terminate_backend,
# the server stopped and started), and the SQLite-to-PostgreSQL port (it_port.c,
# madang-port-sqlite).
#
# The suite runs its own PostgreSQL 15 from Debian's binaries (/usr/lib/postgresql/15/bin):
# initdb and pg_ctl in a temporary directory owned by an unprivileged user (nobody when the
# suite runs as root), listening only on a unix socket in that directory (no TCP at all),
# stopped and removed at the end (also on failure). The Debian default cluster is never used.
T_NAME=pgstore
. "$MADANG_ROOT/tests/lib/harness.sh"

PGBIN=/usr/lib/postgresql/15/bin
t_need "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/postgres" /usr/bin/psql \
	"$MADANG_TESTBIN/it_durable" "$MADANG_TESTBIN/it_failover" "$MADANG_TESTBIN/it_port" \
	"$MADANG_BIN/madang-port-sqlite"

PGD=$(mktemp -d "${TMPDIR:-/tmp}/madang-pg.XXXXXX")
if [ "$(id -u)" -eq 0 ]; then
	chown nobody "$PGD"
	as_pg="runuser -u nobody --"
else
	as_pg=""
fi
chmod 0700 "$PGD"
PGPORT=$(t_free_port) # only names the socket file: listen_addresses is empty

# Kills the brokers a crashed test program left behind (only processes whose command line names
# this suite's server directory), stops the server by the PID in its postmaster.pid (only while
# that PID is still a postgres), then removes the directory; runs on every exit.
pg_cleanup() {
	for f in /proc/[0-9]*/cmdline; do
		case "$(tr '\0' ' ' 2>/dev/null <"$f")" in
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

pg_ctl() {
	$as_pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 20 "$@" >/dev/null
}
if ! $as_pg "$PGBIN/initdb" -D "$PGD/data" -U madang -A trust --no-sync >"$T_DIR/initdb.log" 2>&1; then
	cat "$T_DIR/initdb.log"
	t_fail "initdb"
	t_done
fi
# madang_pw must give a password (the wrong-credentials test); everyone else is trusted.
{
	echo "local all madang_pw scram-sha-256"
	echo "local all all trust"
} >"$PGD/data/pg_hba.conf"
opts="-k $PGD -p $PGPORT -c listen_addresses='' -c fsync=off -c max_connections=60"
if ! pg_ctl -o "$opts" start; then
	cat "$PGD/server.log"
	t_fail "PostgreSQL did not start"
	t_done
fi
export PGHOST="$PGD" PGPORT
psql -X -q -U madang -d postgres -c "CREATE ROLE madang_pw LOGIN PASSWORD 'right'" >/dev/null
export MADANG_TEST_PG="$PGD" MADANG_TEST_PG_USER=madang
export MADANG_TEST_PG_STOP="$as_pg $PGBIN/pg_ctl -D $PGD/data -w -t 20 -m fast stop >/dev/null"
export MADANG_TEST_PG_START="$as_pg $PGBIN/pg_ctl -D $PGD/data -l $PGD/server.log -w -t 20 -o \"$opts\" start >/dev/null"

run_it() {
	prog=$1
	out=$(cd "$MADANG_ROOT" && timeout 300 "$MADANG_TESTBIN/$prog" 2>&1)
	rc=$?
	echo "$out" | sed "s/^/[$prog] /"
	p=$(echo "$out" | sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
	f=$(echo "$out" | sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' | tail -n 1)
	s=$(echo "$out" | sed -nE 's/^\[  SKIPPED \] ([0-9]+) test.*/\1/p' | tail -n 1)
	T_PASS=$((T_PASS + ${p:-0}))
	T_FAIL=$((T_FAIL + ${f:-0}))
	T_SKIP=$((T_SKIP + ${s:-0}))
	[ $rc -ne 0 ] && [ -z "$f" ] && t_fail "$prog exited $rc"
}

run_it it_durable
run_it it_failover
run_it it_port

# The failover benchmark's tool (bench/failover.sh, docs/performance.md) against this server:
# two rounds, every acknowledged message in the history once. Its timings are not checked here.
if [ -x "$MADANG_BIN/madang-bench-failover" ]; then
	fo_out=$(timeout 120 "$MADANG_BIN/madang-bench-failover" --rounds 2 \
		--store "host=$PGD port=$PGPORT user=madang dbname=postgres" 2>"$T_DIR/failover.err")
	fo_rc=$?
	echo "$fo_out"
	t_check "madang-bench-failover: two failovers measured, nothing acknowledged lost or doubled" \
		sh -c "[ $fo_rc -eq 0 ] && echo '$fo_out' | grep -q '\"rounds\":2,.*\"history_missing\":0,\"history_doubled\":0'"
fi
t_done
