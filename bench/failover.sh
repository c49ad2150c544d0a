#!/bin/sh
# failover.sh — the failover measurement of issue 20: a throw-away PostgreSQL
# (scripts/pg-scratch.sh), two madang-broker on it (one active, one standby), and
# madang-bench-failover killing the active --rounds times (default 20), measuring from each kill
# to the first message acknowledged after it. Prints the tool's JSON line; the PostgreSQL server
# is stopped and removed on exit.
#
# Usage: bench/failover.sh [BUILD_DIR] [madang-bench-failover options...]
# Environment: PG_FSYNC=on|off (default on).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
[ $# -gt 0 ] && shift
tool=$build/bin/madang-bench-failover
[ -x "$tool" ] || { echo "failover: no $tool: run make first" >&2; exit 2; }
pgdir=$(mktemp -u /tmp/madang-pgbench.XXXXXX)
trap '"$root/scripts/pg-scratch.sh" stop "$pgdir" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
conninfo=$("$root/scripts/pg-scratch.sh" start "$pgdir")
timeout -k 5 900 "$tool" --store "$conninfo" --broker "$build/bin/madang-broker" "$@"
