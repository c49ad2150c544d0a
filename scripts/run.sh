#!/usr/bin/env bash
# run.sh — `make run`: starts madang-broker, madang-api, madang-ws and a private nginx in the
# foreground, all logging to this terminal with a prefix per process, until Ctrl-C or SIGTERM.
#
# Environment: PORT (nginx, default 8080), WS_PORT (madang-ws, default PORT+1),
# RUN_DIR (sockets, nginx config and logs; default build/run, wiped at each start; the broker's
# sockets go to RUN_DIR/broker, mode 0700, so that only this user may talk to the broker),
# DATA_DIR (the broker's SQLite rooms and history, kept between runs; default build/data;
# DATA_DIR=none runs in memory), BIN (default build/bin).
# Everything listens on 127.0.0.1 only. Needs no privileges; run as root it still keeps every
# file under RUN_DIR.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${PORT:-8080}
ws_port=${WS_PORT:-$((port + 1))}
bin=${BIN:-$root/build/bin}
run=${RUN_DIR:-$root/build/run}
data=${DATA_DIR:-$root/build/data}

for p in "$port" "$ws_port"; do
	case "$p" in
	'' | *[!0-9]*) echo "run: ports must be numbers (PORT=$port WS_PORT=$ws_port)" >&2; exit 2 ;;
	esac
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "run: 127.0.0.1:$p is already in use; choose another with PORT=… (and WS_PORT=…)" >&2
		exit 1
	fi
done
for b in madang-broker madang-api madang-ws; do
	[ -x "$bin/$b" ] || { echo "run: $bin/$b is missing: run 'make' first" >&2; exit 1; }
done
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "run: nginx is not installed (scripts/install-deps.sh run)" >&2; exit 1; }

rm -rf "$run"
mkdir -p "$run/nginx"
mkdir -m 0700 "$run/broker"
rpc="ipc://$run/broker/broker.rpc"
events="ipc://$run/broker/broker.events"
pids=()
names=()

# start NAME CMD... : runs CMD with its output prefixed by [NAME], remembering its PID.
start() {
	local name=$1
	shift
	# The daemon runs in its own session, so Ctrl-C reaches only this script, which then stops
	# the daemons in order; the prefixer ignores Ctrl-C so that it prints their last lines.
	setsid "$@" > >(trap '' INT TERM; exec sed -u "s/^/[$name] /") 2>&1 &
	pids+=($!)
	names+=("$name")
}

stopping=0
stop_all() {
	[ $stopping -eq 1 ] && return
	stopping=1
	echo "[run] stopping madang"
	# Reverse order: nginx first (no new clients), the broker last.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[$i]}" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "${pids[$i]}" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "${pids[$i]}" 2>/dev/null; then
			echo "[run] ${names[$i]} did not stop in 5 s: killing it"
			kill -KILL "${pids[$i]}" 2>/dev/null || true
		fi
	done
	wait 2>/dev/null || true
	echo "[run] stopped"
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT
trap '' PIPE # a closed terminal or pipe must not stop us before the daemons are stopped

wait_for() { # wait_for SECONDS DESCRIPTION TEST...
	local limit=$(($1 * 10)) what=$2
	shift 2
	for _ in $(seq "$limit"); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "[run] $what did not come up; see its log lines above" >&2
	return 1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

data_args=()
[ "$data" = none ] || data_args=(--data "$data")
start broker "$bin/madang-broker" --rpc "$rpc" --events "$events" --allow-create "${data_args[@]}"
wait_for 10 "madang-broker" test -S "$run/broker/broker.rpc"
start api "$bin/madang-api" --listen "unix:$run/api.sock" --rpc "$rpc"
# nginx is the only peer of madang-ws: believe its X-Forwarded-For, so that each browser gets its
# own per-address connection budget (as etc/ws.env does), not one shared by everyone.
start ws "$bin/madang-ws" --listen "127.0.0.1:$ws_port" --rpc "$rpc" --events "$events" --id ws-1 \
	--trusted-proxies 127.0.0.1
wait_for 10 "madang-api" test -S "$run/api.sock"
wait_for 10 "madang-ws" port_open "$ws_port"
"$root/scripts/render-nginx.sh" --out "$run/nginx" --port "$port" --web-root "$root/web" \
	--api "unix:$run/api.sock" --ws "127.0.0.1:$ws_port"
start nginx "$nginx" -c "$run/nginx/nginx.conf" -p "$run/nginx" -e stderr
wait_for 10 "nginx" port_open "$port"

echo
echo "madang is running at http://127.0.0.1:$port/"
echo "(Ctrl-C stops it; logs of every process appear below with their prefix)"
echo

# Stay up until a signal arrives or one of the processes ends on its own.
while :; do
	for i in "${!pids[@]}"; do
		if ! kill -0 "${pids[$i]}" 2>/dev/null; then
			echo "[run] ${names[$i]} exited unexpectedly; stopping everything" >&2
			exit 1
		fi
	done
	sleep 0.5
done
