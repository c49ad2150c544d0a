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
dir=$BENCH_TMP

# The measured daemon runs under massif; its pid is the one vgdb asks for snapshots.
massif=(valgrind --tool=massif --vgdb=yes --threshold=0.01 --massif-out-file="$out/massif.out")
under() { if [ "$target" = "$1" ]; then exec "${massif[@]}" "${@:2}"; else exec "${@:2}"; fi; }
under broker "$bin/madang-broker" --rpc "ipc://$dir/rpc" --events "ipc://$dir/events" --allow-create \
	--max-members 100000 --max-rooms 100000 --ephemeral-per-addr 100000 \
	--ephemeral-per-user 100000 >"$out/broker.log" 2>&1 &
broker=$!
pids+=("$broker")
for ((i = 0; i < 200; i++)); do [ -S "$dir/rpc" ] && break; sleep 0.05; done
port=$(freeport)
under ws "$bin/madang-ws" --listen "127.0.0.1:$port" --rpc "ipc://$dir/rpc" --events "ipc://$dir/events" \
	--id massif-ws --rate 100000 --burst 100000 --max-conns-per-ip 100000 \
	--queue-limit 67108864 >"$out/ws.log" 2>&1 &
ws=$!
pids+=("$ws")
measured=$ws
[ "$target" = broker ] && measured=$broker

health() { curl -s --max-time 5 "http://127.0.0.1:$port/healthz"; }
for ((i = 0; i < 600; i++)); do
	health | grep -q '"status":"ok"' && break
	kill -0 "$ws" 2>/dev/null || { log "madang-ws exited (see $out/ws.log)"; exit 1; }
	sleep 0.1
done
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
sleep 5 # the last joins' replies
vgdb --pid="$measured" detailed_snapshot "$out/held.ms" >/dev/null || { log "vgdb failed"; exit 1; }

python3 "$root/bench/massif_sites.py" per-conn "$out/empty.ms" "$out/held.ms" "$conns"
