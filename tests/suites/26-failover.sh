#!/bin/sh
# 26-failover.sh — failover under load through madang-ws (issue 20 items 3-4): a real PostgreSQL
# 15, two madang-brokers on it (--store, one --cluster: active and standby, each on its own
# ports), two madang-ws given both brokers (--rpc A,B --events A,B), clients in several rooms
# sending continuously with client_ids. kill -9 the active: the standby serves, every
# acknowledged message reaches every member once and in order, resends are duplicates, counts
# are right; the killed broker comes back as the standby and takes over when the other is
# killed (tests/integration/failover/load.test.mjs).
#
# PostgreSQL is started as 25-pgstore.sh does (tests/lib/pg.sh): Debian's binaries, initdb and
# pg_ctl in this suite's own temporary directory, owned by an unprivileged user (nobody under
# root), a unix socket only (no TCP), stopped and removed on every exit. The test stops and
# starts it (MADANG_TEST_PG_STOP, MADANG_TEST_PG_START) and ends brokers' sessions with
# pg_terminate_backend.
T_NAME=failover
. "$MADANG_ROOT/tests/lib/harness.sh"

. "$MADANG_ROOT/tests/lib/pg.sh"
t_need --node "$MADANG_BIN/madang-broker" "$MADANG_BIN/madang-ws"
pg_suite_start madang-fo 40
psql -X -q -U madang -d postgres -c "CREATE DATABASE madang_fo" >/dev/null ||
	t_fail "CREATE DATABASE"
export MADANG_TEST_PG_URI="host=$PGD port=$PGPORT user=madang dbname=madang_fo"

t_stack_dirs
t_node_file "$MADANG_ROOT/tests/integration/failover" load.test.mjs 240
t_node_file "$MADANG_ROOT/tests/integration/failover" pgdown.test.mjs 240
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_STACK_DIR"/*.log; do echo "--- $log"; tail -n 30 "$log"; done
fi
t_done
