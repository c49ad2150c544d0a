#!/bin/sh
# 25-pgstore.sh — madang-broker on PostgreSQL (--store): the durable-history tests of it_durable.c
# and the moderation-state tests of it_modstore.c against PostgreSQL (with a failover that keeps
# a ban and the port of the moderation state), active/standby failover (it_failover.c: kill -9,
# pg_terminate_backend, the server stopped and started), and the SQLite-to-PostgreSQL port
# (it_port.c, madang-port-sqlite).
#
# The suite runs its own PostgreSQL 15 from Debian's binaries (tests/lib/pg.sh: initdb and
# pg_ctl in a temporary directory owned by an unprivileged user, nobody when the suite runs as
# root, listening only on a unix socket in that directory, no TCP at all), stopped and removed
# at the end (also on failure). The Debian default cluster is never used.
T_NAME=pgstore
. "$MADANG_ROOT/tests/lib/harness.sh"

. "$MADANG_ROOT/tests/lib/pg.sh"
t_need "$MADANG_TESTBIN/it_durable" "$MADANG_TESTBIN/it_modstore" "$MADANG_TESTBIN/it_failover" \
	"$MADANG_TESTBIN/it_port" \
	"$MADANG_BIN/madang-port-sqlite"
# madang_pw must give a password (the wrong-credentials test); everyone else is trusted.
pg_suite_start madang-pg 60 "local all madang_pw scram-sha-256"
psql -X -q -U madang -d postgres -c "CREATE ROLE madang_pw LOGIN PASSWORD 'right'" >/dev/null
export MADANG_TEST_PG="$PGD" MADANG_TEST_PG_USER=madang

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
run_it it_modstore
run_it it_failover
run_it it_port

# The failover benchmark's tool (bench/failover.sh, docs/performance.md) against this server:
# two rounds, every acknowledged message in the history once. Its timings are not checked here.
# On failure the line names the cause (the tool's exit status and last words, or the counts), and
# the tool's error output and both brokers' logs are printed.
if [ -x "$MADANG_BIN/madang-bench-failover" ]; then
	fo_name="madang-bench-failover: two failovers measured, nothing acknowledged lost or doubled"
	mkdir -p "$T_DIR/failover"
	fo_out=$(timeout 120 "$MADANG_BIN/madang-bench-failover" --rounds 2 --dir "$T_DIR/failover" \
		--store "host=$PGD port=$PGPORT user=madang dbname=postgres" 2>"$T_DIR/failover.err")
	fo_rc=$?
	echo "$fo_out"
	if [ $fo_rc -eq 0 ] && echo "$fo_out" |
		grep -q '"rounds":2,.*"history_missing":0,"history_doubled":0'; then
		t_ok "$fo_name"
	else
		fo_why=$(tail -n 1 "$T_DIR/failover.err" | cut -c 1-200)
		[ $fo_rc -eq 0 ] && fo_why=$(echo "$fo_out" |
			grep -oE '"(rounds|history_missing|history_doubled)":[0-9]+' | tr '\n' ' ')
		t_fail "$fo_name (exit $fo_rc: ${fo_why:-no output})"
		echo "--- madang-bench-failover's error output:"
		cat "$T_DIR/failover.err"
		for f in "$T_DIR"/failover/broker-*.log; do
			[ -f "$f" ] || continue
			echo "--- ${f##*/} (last 40 lines):"
			tail -n 40 "$f"
		done
	fi
fi
t_done
