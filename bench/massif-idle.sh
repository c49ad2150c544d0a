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
# (vgdb), python3 and curl. Every process it starts is stopped on exit.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" 2>/dev/null && pwd) || { echo "massif: no build dir ${1:-build}" >&2; exit 2; }
conns=${2:-10000}
target=${3:-ws}
case $target in ws | broker) ;; *) echo "massif: measure ws or broker, not $target" >&2; exit 2 ;; esac
bin=$build/bin
out=$build/bench/massif
mkdir -p "$out"
dir=$(mktemp -d /tmp/madang-massif.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "massif: $*" >&2; }

# The measured daemon runs under massif; its pid is the one vgdb asks for snapshots.
massif=(valgrind --tool=massif --vgdb=yes --threshold=0.01 --massif-out-file="$out/massif.out")
under() { if [ "$target" = "$1" ]; then exec "${massif[@]}" "${@:2}"; else exec "${@:2}"; fi; }
under broker "$bin/madang-broker" --rpc "ipc://$dir/rpc" --events "ipc://$dir/events" --allow-create \
	--max-members 100000 --max-rooms 100000 --ephemeral-per-addr 100000 \
	--ephemeral-per-user 100000 >"$out/broker.log" 2>&1 &
broker=$!
pids+=("$broker")
for ((i = 0; i < 200; i++)); do [ -S "$dir/rpc" ] && break; sleep 0.05; done
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
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

python3 - "$out/empty.ms" "$out/held.ms" "$conns" <<'EOF'
import re, sys
# A detailed snapshot is a tree: "n<kids>: <bytes> <place>" lines, indented one space per level;
# depth 1 is who called the allocator, depth 2 its caller. Functions of a library without symbols
# show as "???": the library's name is kept instead.
def tree(path):
    sites, total, extra, stack = {}, 0, 0, []
    for line in open(path):
        m = re.match(r'^( *)n(\d+): (\d+) (.*)$', line)
        if not m:
            t = re.match(r'^mem_heap_B=(\d+)', line)
            if t: total = int(t.group(1))
            t = re.match(r'^mem_heap_extra_B=(\d+)', line)
            if t: extra = int(t.group(1))
            continue
        depth, nbytes, place = len(m.group(1)), int(m.group(3)), m.group(4)
        place = re.sub(r'^0x[0-9A-F]+: ', '', place)
        lib = re.search(r'\(in (?:.*/)?([^/)]+)\)', place)
        name = place.split(' (')[0]
        if name == '???' and lib:
            name = '??? in ' + re.sub(r'\.so.*', '', lib.group(1))
        del stack[depth:]
        stack.append(name)
        if 1 <= depth <= 2:
            key = tuple(stack[1:depth + 1])
            sites[key] = sites.get(key, 0) + nbytes
    return total, extra, sites
e_total, e_extra, e = tree(sys.argv[1])
h_total, h_extra, h = tree(sys.argv[2])
n = int(sys.argv[3])
print(f"heap: {e_total} bytes empty, {h_total} with {n} connections: "
      f"{(h_total - e_total) / n:.0f} bytes per connection; malloc's headers and rounding "
      f"{(h_extra - e_extra) / n:.0f} more")
per = {k: (h.get(k, 0) - e.get(k, 0)) / n for k in h}
for k1 in sorted((k for k in per if len(k) == 1), key=lambda k: -per[k]):
    if per[k1] < 2:
        continue
    print(f"{per[k1]:8.0f}  {k1[0]}")
    for k2 in sorted((k for k in per if len(k) == 2 and k[0] == k1[0]), key=lambda k: -per[k]):
        if per[k2] >= 2:
            print(f"{per[k2]:14.0f}  < {k2[1]}")
EOF
