#!/bin/bash
# massif-idle.sh — where the memory per idle connection goes: valgrind massif of madang-ws
# (beside a plain madang-broker) or of madang-broker (beside a plain madang-ws) while one
# madang-ws holds CONNS idle connections in rooms of 10, the shape of `bench/run.sh idle`.
# Takes a detailed snapshot (vgdb) before the connections and another while they are all
# held, and prints the difference per connection by allocation site (docs/performance.md,
# findings 27 and 28).
#
# Usage: bench/massif-idle.sh [BUILD_DIR] [CONNS] [ws|broker]   (default: build 10000 ws)
# Writes BUILD_DIR/bench/massif/{empty,held}.ms and prints the breakdown. Needs valgrind
# (vgdb), python3, node and curl. Every process it starts is stopped on exit.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" 2>/dev/null && pwd) || { echo "massif: no build dir ${1:-build}" >&2; exit 2; }
conns=${2:-10000}
target=${3:-ws}
case $target in ws | broker) ;; *) echo "massif: measure ws or broker, not $target" >&2; exit 2 ;; esac
bin=$build/bin
out=$build/bench/massif
mkdir -p "$out"
BENCH_WHO=massif
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

# The measured daemon runs under massif; its pid is the one vgdb asks for snapshots.
bench_stack "$bin" "$out" "$target" || exit 1
port=$PORT measured=$MEASURED
health() { curl -s --max-time 5 "http://127.0.0.1:$port/healthz"; }
sleep 1
vgdb --pid="$measured" detailed_snapshot "$out/empty.ms" >/dev/null || { log "vgdb failed"; exit 1; }

"$bin/madang-loadgen" --url "ws://127.0.0.1:$port" --conns "$conns" --rooms $((conns / 10)) \
	--idle --duration 600 --connect-rate 2000 --inflight 256 --handshake-timeout 120 \
	--timeout 900 >"$out/loadgen.json" 2>"$out/loadgen.err" &
lg=$!
pids+=("$lg")
for ((i = 0; i < 1200; i++)); do
	n=$(health | sed -n 's/.*"sessions":\([0-9]*\).*/\1/p')
	[ "${n:-0}" -ge "$conns" ] && break
	kill -0 "$lg" 2>/dev/null || { log "the load generator ended early"; exit 1; }
	sleep 0.5
done
log "sessions: ${n:-?}"
# The last joins' replies, then past madang-ws's --history-idle (10 s) and the sweep after it:
# the state an idle connection stays in (MASSIF_HOLD_S, default 15; 5 shows the seconds after
# the joins, when each room still keeps its join events for the next joiners).
sleep "${MASSIF_HOLD_S:-15}"
vgdb --pid="$measured" detailed_snapshot "$out/held.ms" >/dev/null || { log "vgdb failed"; exit 1; }

python3 "$root/bench/massif_sites.py" per-conn "$out/empty.ms" "$out/held.ms" "$conns"
