#!/bin/sh
# pg-scratch.sh — a throw-away PostgreSQL 15 server for trying --store and for benchmarks: initdb
# in a new directory, the server on a unix socket in that directory only (no TCP), owned by an
# unprivileged user (nobody when run as root, else yourself). Never touches Debian's default
# cluster, /etc or /run.
#
# Usage:
#   scripts/pg-scratch.sh start DIR   creates DIR (must not exist), starts the server, prints the
#                                     conninfo for madang-broker --store, e.g.
#                                     "host=DIR port=5432 user=madang dbname=postgres"
#   scripts/pg-scratch.sh stop DIR    stops the server started in DIR (by the PID in its
#                                     postmaster.pid) and removes DIR
# Environment: PG_FSYNC=on|off (default on: what a real server does), PGBIN (default
# /usr/lib/postgresql/15/bin, Debian's postgresql-15 package).
set -eu
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}
. "$(dirname "$0")/../tests/lib/pg.sh" # pg_server_start, pg_server_stop

case "$cmd" in
start)
	[ -x "$PGBIN/initdb" ] || { echo "pg-scratch: no $PGBIN/initdb (apt-get install postgresql-15)" >&2; exit 1; }
	[ -e "$dir" ] && { echo "pg-scratch: $dir exists" >&2; exit 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	# The port only names the socket file (listen_addresses is empty): any free number will do.
	port=$((20000 + $$ % 20000))
	pg_server_start "$dir" "$port" "${PG_FSYNC:-on}" 60 || exit 1
	echo "host=$dir port=$port user=madang dbname=postgres"
	;;
stop)
	[ -d "$dir/data" ] || { echo "pg-scratch: no server directory $dir" >&2; exit 1; }
	pg_server_stop "$dir"
	rm -rf "$dir"
	;;
*)
	echo "pg-scratch: unknown command $cmd (start, stop)" >&2
	exit 2
	;;
esac
