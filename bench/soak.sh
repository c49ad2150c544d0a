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
#   SOAK_OUT: where logs and snapshots go (default BUILD_DIR/bench/soak).
# Needs node and curl, as bench/run.sh does.
#   SNAP_FROM (default 2): the round whose heap is the baseline.
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
dir=$(mktemp -d /tmp/madang-soak.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "soak: $*" >&2; }

# under WHO CMD...: CMD, under massif when WHO is the daemon measured.
under() {
	if [ "$massif" = "$1" ]; then
		exec valgrind --tool=massif --vgdb=yes --threshold=0.01 \
			--massif-out-file="$out/massif.out" "${@:2}"
	fi
	exec "${@:2}"
}
under broker "$bin/madang-broker" --rpc "ipc://$dir/rpc" --events "ipc://$dir/events" --allow-create \
	--max-members 100000 --max-rooms 100000 --ephemeral-per-addr 100000 \
	--ephemeral-per-user 100000 >"$out/broker.log" 2>&1 &
broker=$!
pids+=("$broker")
for ((i = 0; i < 200; i++)); do [ -S "$dir/rpc" ] && break; sleep 0.05; done
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
under ws "$bin/madang-ws" --listen "127.0.0.1:$port" --rpc "ipc://$dir/rpc" --events "ipc://$dir/events" \
	--id soak-ws --rate 100000 --burst 100000 --max-conns-per-ip 100000 \
	--queue-limit 67108864 >"$out/ws.log" 2>&1 &
ws=$!
pids+=("$ws")
for ((i = 0; i < 600; i++)); do
	curl -s --max-time 5 "http://127.0.0.1:$port/healthz" | grep -q '"status":"ok"' && break
	kill -0 "$ws" 2>/dev/null || { log "madang-ws exited (see $out/ws.log)"; exit 1; }
	sleep 0.1
done
measured=$ws
[ "$massif" = broker ] && measured=$broker

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

python3 - "$out/round$from.ms" "$out/round$rounds.ms" "$from" "$rounds" "$massif" <<'EOF'
import re, sys
# Heap in use by allocation site (the allocator's caller and its caller) in a detailed snapshot;
# a function of a library without symbols shows as "???", with the library's name kept.
def tree(path):
    sites, total, stack = {}, 0, []
    for line in open(path):
        m = re.match(r'^( *)n(\d+): (\d+) (.*)$', line)
        if not m:
            t = re.match(r'^mem_heap_B=(\d+)', line)
            if t: total = int(t.group(1))
            continue
        depth, nbytes = len(m.group(1)), int(m.group(3))
        place = re.sub(r'^0x[0-9A-F]+: ', '', m.group(4))
        name = place.split(' (')[0]
        lib = re.search(r'\(in (?:.*/)?([^/)]+)\)', place)
        if name == '???' and lib:  # a library without symbols: keep its name
            name = '??? in ' + re.sub(r'\.so.*', '', lib.group(1))
        del stack[depth:]
        stack.append(name)
        if 1 <= depth <= 2:
            key = ' < '.join(stack[1:depth + 1])
            sites[key] = sites.get(key, 0) + nbytes
    return total, sites
(a_total, a), (b_total, b) = tree(sys.argv[1]), tree(sys.argv[2])
print(f"{sys.argv[5]}: heap in use after round {sys.argv[3]}: {a_total} bytes; after round "
      f"{sys.argv[4]}: {b_total} bytes ({b_total - a_total:+d})")
for k in sorted(set(a) | set(b), key=lambda k: -abs(b.get(k, 0) - a.get(k, 0))):
    d = b.get(k, 0) - a.get(k, 0)
    if d != 0:
        print(f"{d:+10d}  {k}")
EOF
