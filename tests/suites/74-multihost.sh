#!/bin/sh
# 74-multihost.sh — madang on several "machines" (issue 21 item 3, issue 20): network namespaces
# made by this suite (`unshare --net`, held by a sleep each; nothing under /run), joined by veth
# pairs to a bridge in a hub namespace, private addresses 10.213.8.0/24 only:
#   db 10.213.8.10 (PostgreSQL 15 on TCP), broker-a .2 and broker-b .3 (one --store cluster:
#   active and standby), edge-1 .21 and edge-2 .22 (madang-ws each, given both brokers), client
#   .30 (the node test file); edges run madang-api and nginx too. Every nng link is tls+tcp:// with scripts/make-certs.sh's CA.
# It shows: messages across the edges once and in order; failover across hosts (broker-a's
# process killed: broker-b serves, nothing acknowledged lost; broker-a back: a standby); refusals
# (a self-signed edge gets nothing and the broker logs it; a plain tcp:// dialer gets nothing;
# an edge given the wrong --tls-server-name refuses the broker); an edge killed (its members
# leave within the front-end timeout, the other edge's clients carry on).
# Each edge also runs madang-api (given both brokers) and nginx; clients and /api/rooms go
# through nginx.
# Skipped, with the reason, where namespaces cannot be made (not root, no unshare/nsenter/ip).
T_NAME=multihost
. "$MADANG_ROOT/tests/lib/harness.sh"

PGBIN=/usr/lib/postgresql/15/bin
B=$MADANG_BIN/madang-broker
W=$MADANG_BIN/madang-ws
MK=$MADANG_ROOT/scripts/make-certs.sh
t_need --node "$PGBIN/initdb" "$PGBIN/pg_ctl" /usr/bin/psql /usr/bin/curl "$B" "$W"

NS_PIDS=""
PGD=""
mh_cleanup() {
	if [ -n "$PGD" ]; then
		pid=$(head -n 1 "$PGD/data/postmaster.pid" 2>/dev/null)
		if [ -n "$pid" ] && grep -q postgres "/proc/$pid/cmdline" 2>/dev/null; then
			kill -INT "$pid" 2>/dev/null
			i=0
			while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
				sleep 0.1
				i=$((i + 1))
			done
			kill -KILL "$pid" 2>/dev/null
		fi
		rm -rf "$PGD"
	fi
	for p in $NS_PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
}
trap 't_cleanup; mh_cleanup' EXIT

skip=""
if [ "$(id -u)" != 0 ]; then
	skip="not root: network namespaces cannot be made"
elif ! command -v unshare >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1 ||
	! command -v ip >/dev/null 2>&1; then
	skip="unshare, nsenter or ip is missing (util-linux, iproute2)"
fi
# host name, its address's last byte
HOSTS="db:10 ba:2 bb:3 e1:21 e2:22 cl:30"
if [ -z "$skip" ]; then
	unshare --net sleep 900 &
	NS_hub=$!
	NS_PIDS=$NS_hub
	for h in $HOSTS; do
		unshare --net sleep 900 &
		eval "NS_${h%%:*}=$!"
		NS_PIDS="$NS_PIDS $!"
	done
	own=$(readlink /proc/self/ns/net)
	for p in $NS_PIDS; do
		t_wait_for 5 sh -c "test \"\$(readlink /proc/$p/ns/net)\" != '$own'" ||
			skip="unshare --net failed here"
	done
fi
in_ns() { # in_ns HOST CMD...: runs CMD in HOST's namespace
	eval "p=\$NS_$1"
	shift
	nsenter --net="/proc/$p/ns/net" "$@"
}
if [ -z "$skip" ]; then
	{
		in_ns hub ip link add br0 type bridge && in_ns hub ip link set br0 up &&
			in_ns hub ip link set lo up
	} >"$T_DIR/netns.out" 2>&1 || skip="cannot make a bridge: $(head -c 200 "$T_DIR/netns.out")"
	for h in $HOSTS; do
		[ -n "$skip" ] && break
		n=${h%%:*}
		a=${h#*:}
		eval "p=\$NS_$n"
		{
			in_ns hub ip link add "v$n" type veth peer name eth0 netns "$p" &&
				in_ns hub ip link set "v$n" master br0 && in_ns hub ip link set "v$n" up &&
				in_ns "$n" ip addr add "10.213.8.$a/24" dev eth0 &&
				in_ns "$n" ip link set eth0 up && in_ns "$n" ip link set lo up
		} >>"$T_DIR/netns.out" 2>&1 || skip="cannot join $n to the bridge: $(tail -c 200 "$T_DIR/netns.out")"
	done
fi
if [ -n "$skip" ]; then
	t_skip "network namespaces: $skip"
	t_done
fi
# $ns_HOST CMD...: CMD in HOST's namespace; nsenter execs it, so t_start's PID is CMD's own.
for h in $HOSTS; do
	n=${h%%:*}
	eval "ns_$n=\"nsenter --net=/proc/\$NS_$n/ns/net\""
done

# --- db: PostgreSQL on 10.213.8.10:5432 (and a unix socket in its directory) -------------------
PGD=$(mktemp -d "${TMPDIR:-/tmp}/madang-mh.XXXXXX")
chown nobody "$PGD"
chmod 0700 "$PGD"
if ! runuser -u nobody -- "$PGBIN/initdb" -D "$PGD/data" -U madang -A trust --no-sync >"$T_DIR/initdb.log" 2>&1; then
	cat "$T_DIR/initdb.log"
	t_fail "initdb"
	t_done
fi
printf 'local all all trust\nhost all all 10.213.8.0/24 trust\n' >"$PGD/data/pg_hba.conf"
if ! in_ns db runuser -u nobody -- "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 20 \
	-o "-k $PGD -p 5432 -c listen_addresses=10.213.8.10 -c fsync=off" start >/dev/null; then
	cat "$PGD/server.log"
	t_fail "PostgreSQL did not start in the db namespace"
	t_done
fi
psql -X -q -h "$PGD" -p 5432 -U madang -d postgres -c "CREATE DATABASE madang_mh" >/dev/null ||
	t_fail "CREATE DATABASE"
STORE=postgresql://madang@10.213.8.10:5432/madang_mh

# --- certificates, rooms ---------------------------------------------------------------------
CERTS=$T_DIR/certs
"$MK" --dir "$CERTS" broker-a:10.213.8.2 broker-b:10.213.8.3 edge-1:10.213.8.21 \
	edge-2:10.213.8.22 >"$T_DIR/mk.out" 2>&1 || t_fail "make-certs.sh: $(cat "$T_DIR/mk.out")"
"$MK" --dir "$T_DIR/rogue" edge-1:10.213.8.21 >/dev/null 2>&1 || t_fail "make-certs.sh (rogue CA)"
CA=$CERTS/ca.crt
echo '{"rooms":[{"id":"m1","name":"m1"},{"id":"m2","name":"m2"}]}' >"$T_DIR/rooms.json"
RPCS=tls+tcp://10.213.8.2:7001,tls+tcp://10.213.8.3:7001
EVS=tls+tcp://10.213.8.2:7002,tls+tcp://10.213.8.3:7002

# broker_cmd N ADDR: the command line of broker N (a or b) on its host
broker_args() {
	echo "--rpc tls+tcp://$2:7001 --events tls+tcp://$2:7002 --tls-ca $CA --tls-cert $CERTS/broker-$1.pem --store $STORE --cluster mh --rooms $T_DIR/rooms.json --frontend-timeout 3000"
}
# shellcheck disable=SC2046
t_start broker_a $ns_ba "$B" $(broker_args a 10.213.8.2)
PID_BA=$T_LAST_PID
t_check "broker-a is active" t_wait_for 10 grep -q "took the lead" "$T_DIR/broker_a.log"
# shellcheck disable=SC2046
t_start broker_b $ns_bb "$B" $(broker_args b 10.213.8.3)
PID_BB=$T_LAST_PID
t_check "broker-b is a standby" t_wait_for 10 grep -q "standby" "$T_DIR/broker_b.log"

edge() { # edge N: madang-ws on edge-N, given both brokers
	eval "nse=\$ns_e$1"
	t_start "ws_$1" $nse "$W" --listen "10.213.8.2$1:8081" --id "edge-$1" --rpc "$RPCS" \
		--events "$EVS" --tls-ca "$CA" --tls-cert "$CERTS/edge-$1.pem" --rate 1000 --burst 1000
}
edge 1
PID_WS1=$T_LAST_PID
edge 2
PID_WS2=$T_LAST_PID
# madang-api and nginx on each edge: madang-api given both brokers, FastCGI on a unix socket;
# nginx (scripts/render-nginx.sh's site, its listen line moved to the edge's address) serves
# /api/ and proxies /ws/ to the edge's madang-ws. Clients go through nginx.
A=$MADANG_BIN/madang-api
NGINX=${MADANG_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
for n in 1 2; do
	eval "nse=\$ns_e$n"
	t_start "api_$n" $nse "$A" --listen "unix:$T_DIR/api-$n.sock" --rpc "$RPCS" --tls-ca "$CA" \
		--tls-cert "$CERTS/edge-$n.pem" --timeout 2000
	"$MADANG_ROOT/scripts/render-nginx.sh" --out "$T_DIR/nginx-$n" --port 8080 \
		--web-root "$MADANG_ROOT/web" --api "unix:$T_DIR/api-$n.sock" --ws "10.213.8.2$n:8081" \
		>/dev/null || t_fail "render-nginx.sh for edge-$n"
	sed -i "s/listen 127.0.0.1:8080/listen 10.213.8.2$n:8080/" "$T_DIR/nginx-$n/madang.conf"
	t_start "nginx_$n" $nse "$NGINX" -c "$T_DIR/nginx-$n/nginx.conf" -p "$T_DIR/nginx-$n" -e stderr
done
api_ok() { $ns_cl curl -fsS --max-time 2 "http://10.213.8.2$1:8080/api/health" >/dev/null 2>&1; }
t_check "edge-1's madang-api reached the brokers over tls+tcp:// (/api/health through nginx)" t_wait_for 10 api_ok 1
t_check "edge-2's madang-api reached the brokers over tls+tcp:// (/api/health through nginx)" t_wait_for 10 api_ok 2

healthy() { in_ns "e$1" curl -fsS --max-time 2 "http://10.213.8.2$1:8081/healthz" >/dev/null 2>&1; }
t_check "edge-1's madang-ws registered over tls+tcp:// (healthz)" t_wait_for 10 healthy 1
t_check "edge-2's madang-ws registered over tls+tcp:// (healthz)" t_wait_for 10 healthy 2

# --- refusals ----------------------------------------------------------------------------------
t_start ws_rogue $ns_e1 "$W" --listen 10.213.8.21:8091 --id edge-rogue --rpc "$RPCS" \
	--events "$EVS" --tls-ca "$T_DIR/rogue/ca.crt" --tls-cert "$T_DIR/rogue/edge-1.pem"
t_check "a self-signed edge (another CA) is refused: the active broker logs it" \
	t_wait_for 8 grep -q "refused [0-9]* connection(s) in the TLS handshake" "$T_DIR/broker_a.log"
t_check "... and it never registers" sh -c "! $ns_e1 curl -fsS --max-time 1 http://10.213.8.21:8091/healthz 2>/dev/null"
t_start ws_plain $ns_e2 "$W" --listen 10.213.8.22:8092 --id edge-plain \
	--rpc tcp://10.213.8.2:7001 --events tcp://10.213.8.2:7002
t_start ws_name $ns_e2 "$W" --listen 10.213.8.22:8093 --id edge-name --rpc "$RPCS" \
	--events "$EVS" --tls-ca "$CA" --tls-cert "$CERTS/edge-2.pem" --tls-server-name wrong.example
t_check "an edge given the wrong --tls-server-name refuses the broker (logged)" \
	t_wait_for 8 grep -q "TLS handshake with the broker at tls+tcp://10.213.8.2:7001 failed" "$T_DIR/ws_name.log"
t_check "... and never registers" sh -c "! $ns_e2 curl -fsS --max-time 1 http://10.213.8.22:8093/healthz 2>/dev/null"
t_check "a plain tcp:// edge gets nothing from a tls+tcp:// broker" \
	sh -c "sleep 1; ! $ns_e2 curl -fsS --max-time 1 http://10.213.8.22:8092/healthz 2>/dev/null"

# --- clients on both edges (the node file runs in the client's namespace) ---------------------
t_stack_dirs
export MH_EDGE1=ws://10.213.8.21:8080 MH_EDGE2=ws://10.213.8.22:8080
export MH_BA_PID=$PID_BA MH_BB_PID=$PID_BB MH_WS1_PID=$PID_WS1
export MH_BA_LOG=$T_DIR/broker_a.log MH_BB_LOG=$T_DIR/broker_b.log
export MH_BA_RESTART="nsenter --net=/proc/$NS_ba/ns/net $B $(broker_args a 10.213.8.2)"
export MH_BA2_LOG=$T_DIR/broker_a2.log
echo "--- multihost.test.mjs"
out=$(cd "$MADANG_ROOT/tests/integration/multihost" && timeout --kill-after=5 180 \
	nsenter --net="/proc/$NS_cl/ns/net" node --test --test-reporter=tap multihost.test.mjs 2>&1)
echo "$out"
p=$(echo "$out" | sed -nE 's/^# pass ([0-9]+)$/\1/p' | tail -n 1)
f=$(echo "$out" | sed -nE 's/^# fail ([0-9]+)$/\1/p' | tail -n 1)
T_PASS=$((T_PASS + ${p:-0}))
T_FAIL=$((T_FAIL + ${f:-0}))
[ -z "$p" ] && t_fail "multihost.test.mjs did not run"
# broker-a, started again by the test file, is killed by PID from its pid file.
for f in "$MADANG_STACK_PIDDIR"/*; do
	[ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
done
if [ "$T_FAIL" -ne 0 ]; then
	for log in "$T_DIR"/*.log; do echo "--- $log"; tail -n 20 "$log"; done
fi
t_done
