#!/bin/bash
# soak.sh — is what a connection or a room held given back once it is gone? One madang-broker
# and one madang-ws run for ROUNDS rounds; in each, the load generator opens CONNS connections
# in ROOMS fresh rooms (ephemeral, gone when empty), sends for 2 s and closes them all. After
# each round it prints both daemons' RSS, so that growth from round to round shows. With
# SOAK_MASSIF=ws or broker, that daemon runs under valgrind massif and the exact heap in use
# after SNAP_FROM and after the last round is compared by allocation site (docs/performance.md,
# finding 30).
#
# Usage: bench/soak.sh [BUILD_DIR]
# Environment: ROUNDS (default 20), CONNS (2000), ROOMS (400), RATE messages/s (2000),
#   SOAK_MASSIF=ws|broker (needs valgrind and python3; use smaller CONNS, e.g. 500),
#   SNAP_FROM (default 2): the round whose heap is the baseline,
#   SOAK_OUT: where logs and snapshots go (default BUILD_DIR/bench/soak).
# Needs node and curl, as bench/run.sh does.
# Every process it starts is stopped on exit; each round is bounded by the load generator's
# --timeout.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" 2>/dev/null && pwd) || { echo "soak: no build dir ${1:-build}" >&2; exit 2; }
bin=$build/bin
rounds=${ROUNDS:-20}
conns=${CONNS:-2000}
rooms=${ROOMS:-400}
rate=${RATE:-2000}
massif=${SOAK_MASSIF:-}
from=${SNAP_FROM:-2}
case $massif in '' | ws | broker) ;; *) echo "soak: SOAK_MASSIF is ws or broker, not $massif" >&2; exit 2 ;; esac
if [ -n "$massif" ] && ! [ "$from" -lt "$rounds" ] 2>/dev/null; then
	echo "soak: SNAP_FROM must be below ROUNDS" >&2
	exit 2
fi
out=${SOAK_OUT:-$build/bench/soak}
mkdir -p "$out"
BENCH_WHO=soak
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

bench_stack "$bin" "$out" "$massif" || exit 1
broker=$BROKER ws=$WS port=$PORT measured=$MEASURED

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }
printf '%-6s %-12s %-12s %s\n' round broker_kB ws_kB "connections made, lost"
printf '%-6s %-12s %-12s\n' 0 "$(rss "$broker")" "$(rss "$ws")"
for ((r = 1; r <= rounds; r++)); do
	"$bin/madang-loadgen" --url "ws://127.0.0.1:$port/ws" --conns "$conns" --rooms "$rooms" \
		--senders "$rooms" --rate "$rate" --duration 2 --warmup 0.5 --drain 2 \
		--connect-rate 2000 --handshake-timeout 60 --timeout 120 \
		>"$out/round$r.json" 2>"$out/round$r.err" || log "round $r: the load generator failed (see $out/round$r.err)"
	sleep 3 # the leaves, then madang-ws's sweep frees the empty rooms
	if ! kill -0 "$broker" 2>/dev/null || ! kill -0 "$ws" 2>/dev/null; then
		log "a daemon exited (see $out/broker.log, $out/ws.log)"
		exit 1
	fi
	printf '%-6s %-12s %-12s %s\n' "$r" "$(rss "$broker")" "$(rss "$ws")" \
		"$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(r.connections_made, r.lost)' \
			"$out/round$r.json" 2>/dev/null)"
	if [ -n "$massif" ] && { [ "$r" = "$from" ] || [ "$r" = "$rounds" ]; }; then
		vgdb --pid="$measured" detailed_snapshot "$out/round$r.ms" >/dev/null 2>&1 ||
			{ log "vgdb failed"; exit 1; }
	fi
done
[ -n "$massif" ] || exit 0

python3 "$root/bench/massif_sites.py" diff "$out/round$from.ms" "$out/round$rounds.ms" \
	"$massif, after round $from and after round $rounds"
