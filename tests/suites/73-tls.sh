#!/bin/sh
# 73-tls.sh — mutual TLS on the nng links (issue 21): certificates made by scripts/make-certs.sh
# in a temp dir; the real madang-broker on tls+tcp://127.0.0.1 (free ports) and the real
# madang-api dialing it, behind a private nginx; rooms, a message posted over TLS, its history.
# Refusals: a self-signed client, a client of another CA, one without a certificate and a plain
# tcp:// dialer get nothing and the broker logs them; madang-api given the wrong
# --tls-server-name refuses the broker (logged, /api/health 503); every start-up refusal with its
# message. Connections that never start the TLS handshake are shut down after 10 s. A TLS
# listener that nng stops (ClientHellos reset at once) is found by the broker's
# probe and replaced. Then two hosts: the broker and an edge (madang-api, test clients) in network
# namespaces of their own joined by a veth pair, the same link and refusals across it (skipped,
# with the reason, where namespaces cannot be made). Loopback or private namespaces only; every
# process is cleaned up by PID, the namespaces with their holders.
T_NAME=tls
. "$MADANG_ROOT/tests/lib/harness.sh"
. "$MADANG_ROOT/tests/lib/apihttp.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! command -v openssl >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1 || [ ! -x "$NGINX" ]; then
	t_skip "openssl, curl or nginx is not installed (scripts/install-deps.sh test)"
	t_done
fi

MK="$MADANG_ROOT/scripts/make-certs.sh"
CERTS="$T_DIR/certs"
IT_TLS="$MADANG_TESTBIN/it_tls"

# --- scripts/make-certs.sh ----------------------------------------------------------------------
"$MK" --dir "$CERTS" broker:127.0.0.1,broker.test api:127.0.0.1 api-b >"$T_DIR/mk1.out" 2>&1 ||
	t_fail "make-certs.sh failed: $(cat "$T_DIR/mk1.out")"
t_check "make-certs.sh: the output directory is 0700" test "$(stat -c %a "$CERTS")" = 700
t_check "make-certs.sh: the CA key and every host PEM are 0600" test \
	"$(stat -c %a "$CERTS/ca.key") $(stat -c %a "$CERTS/broker.pem") $(stat -c %a "$CERTS/api.pem")" = "600 600 600"
openssl x509 -in "$CERTS/broker.crt" -noout -ext subjectAltName >"$T_DIR/san" 2>&1
t_check "make-certs.sh: the broker's subjectAltName has its name, its address as IP and as DNS, and the extra name" \
	grep -q 'DNS:broker, IP Address:127.0.0.1, DNS:127.0.0.1, DNS:broker.test' "$T_DIR/san"
t_check "make-certs.sh: each host certificate verifies against the CA" sh -c \
	"openssl verify -CAfile '$CERTS/ca.crt' '$CERTS/broker.crt' '$CERTS/api.crt' '$CERTS/api-b.crt' >/dev/null"
cp "$CERTS/ca.crt" "$T_DIR/ca.before"
cp "$CERTS/broker.pem" "$T_DIR/broker.before"
"$MK" --dir "$CERTS" broker:127.0.0.1 api:127.0.0.1 edge-9:10.9.0.1 >"$T_DIR/mk2.out" 2>&1
t_check "make-certs.sh run again keeps the CA and existing certificates, adds the new host" \
	sh -c "cmp -s '$CERTS/ca.crt' '$T_DIR/ca.before' && cmp -s '$CERTS/broker.pem' '$T_DIR/broker.before' &&
		grep -q 'broker.pem exists, kept' '$T_DIR/mk2.out' && test -f '$CERTS/edge-9.pem'"
"$MK" --dir "$T_DIR/scratch" one >/dev/null 2>&1 && cp "$T_DIR/scratch/ca.crt" "$T_DIR/scratch-ca.before"
"$MK" --dir "$T_DIR/scratch" --new-ca >"$T_DIR/mk4.out" 2>&1
t_check "make-certs.sh --new-ca replaces the CA, and says that its certificates stop working" \
	sh -c "! cmp -s '$T_DIR/scratch/ca.crt' '$T_DIR/scratch-ca.before' &&
		grep -q 'certificates it signed stop working' '$T_DIR/mk4.out'"
"$MK" --dir "$T_DIR/scratch" one >"$T_DIR/mk5.out" 2>&1
rc=$?
t_check "make-certs.sh refuses to keep a host certificate of the old CA (exit 2, --renew named)" \
	sh -c "test $rc -eq 2 && grep -q 'give --renew' '$T_DIR/mk5.out'"
"$MK" --dir "$T_DIR/scratch" --renew one >/dev/null 2>&1
t_check "make-certs.sh --renew issues it again under the new CA" \
	sh -c "openssl verify -CAfile '$T_DIR/scratch/ca.crt' '$T_DIR/scratch/one.pem' >/dev/null 2>&1"
"$MK" --dir "$CERTS" 'bad/name' >"$T_DIR/mk3.out" 2>&1
rc=$?
t_check "make-certs.sh refuses a host name with '/' (exit 2, nothing written)" \
	sh -c "test $rc -eq 2 && grep -q \"host 'bad/name'\" '$T_DIR/mk3.out' && ! test -e '$CERTS/bad'"
t_check "make-certs.sh --help documents --new-ca and exits 0" sh -c "'$MK' --help | grep -q -- --new-ca"
"$MK" --dir "$T_DIR/rogue" api:127.0.0.1 broker:127.0.0.1 >/dev/null 2>&1 ||
	t_fail "make-certs.sh for a second CA"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_DIR/self.key" \
	-out "$T_DIR/self.crt" -days 2 -subj /CN=api -addext subjectAltName=DNS:api,DNS:127.0.0.1 \
	>/dev/null 2>&1 || t_fail "openssl: a self-signed certificate"
cat "$T_DIR/self.crt" "$T_DIR/self.key" >"$T_DIR/self.pem"
sed -n '/BEGIN PRIVATE KEY/,/END PRIVATE KEY/p' "$T_DIR/rogue/api.pem" >"$T_DIR/rogue.key"
cat "$CERTS/api.crt" "$T_DIR/rogue.key" >"$T_DIR/mismatch.pem"
printf 'not a certificate\n' >"$T_DIR/garbage.pem"
chmod 600 "$T_DIR"/*.pem

PR=$(t_free_port)
PE=$(t_free_port)
RPC="tls+tcp://127.0.0.1:$PR"
EVENTS="tls+tcp://127.0.0.1:$PE"
CA="$CERTS/ca.crt"

# --- start-up refusals --------------------------------------------------------------------------
# refuse DESC MESSAGE CMD...: CMD exits 1 within 10 s and its output contains MESSAGE
refuse() {
	desc=$1
	msg=$2
	shift 2
	timeout 10 "$@" >"$T_DIR/refuse.out" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -qF -- "$msg" "$T_DIR/refuse.out"; then t_ok "$desc"; else
		t_fail "$desc"
		echo "  want exit 1 and: $msg"
		echo "  got exit $rc: $(head -c 600 "$T_DIR/refuse.out")"
	fi
}
B="$MADANG_BIN/madang-broker"
A="$MADANG_BIN/madang-api"
ASOCK="unix:$T_DIR/refused-api.sock"
refuse "broker: tls+tcp:// without the files is refused" \
	"not started: $RPC needs --tls-ca and --tls-cert (missing: both)" \
	"$B" --rpc "$RPC" --events "$EVENTS"
refuse "broker: tls+tcp:// with --tls-ca only is refused" "(missing: --tls-cert)" \
	"$B" --rpc "$RPC" --events "$EVENTS" --tls-ca "$CA"
refuse "broker: an unreadable --tls-ca is refused" \
	"--tls-ca $T_DIR/none.crt: cannot read it: No such file or directory" \
	"$B" --rpc "$RPC" --events "$EVENTS" --tls-ca "$T_DIR/none.crt" --tls-cert "$CERTS/broker.pem"
refuse "broker: a --tls-ca that is not PEM is refused" \
	"--tls-ca $T_DIR/garbage.pem: no PEM certificate in it" \
	"$B" --rpc "$RPC" --events "$EVENTS" --tls-ca "$T_DIR/garbage.pem" --tls-cert "$CERTS/broker.pem"
refuse "broker: a --tls-cert without its key is refused" \
	"--tls-cert $CERTS/broker.crt: no unencrypted private key in it" \
	"$B" --rpc "$RPC" --events "$EVENTS" --tls-ca "$CA" --tls-cert "$CERTS/broker.crt"
refuse "broker: a key that does not match the certificate is refused" \
	"--tls-cert $T_DIR/mismatch.pem: the key does not match the certificate" \
	"$B" --rpc "$RPC" --events "$EVENTS" --tls-ca "$CA" --tls-cert "$T_DIR/mismatch.pem"
refuse "broker: a certificate the CA did not sign is refused" \
	"--tls-cert $T_DIR/self.pem: the certificate does not verify against --tls-ca: self-signed certificate" \
	"$B" --rpc "$RPC" --events "$EVENTS" --tls-ca "$CA" --tls-cert "$T_DIR/self.pem"
refuse "broker: TLS flags without a tls+tcp:// URL are refused" \
	"--tls-ca given but no URL is tls+tcp://" \
	"$B" --rpc "tcp://127.0.0.1:$PR" --events "tcp://127.0.0.1:$PE" --tls-ca "$CA" --tls-cert "$CERTS/broker.pem"
refuse "api: tls+tcp:// without the files is refused" \
	"not started: $RPC needs --tls-ca and --tls-cert (missing: both)" "$A" --listen "$ASOCK" --rpc "$RPC"
refuse "api: a key that does not match the certificate is refused" \
	"the key does not match the certificate" \
	"$A" --listen "$ASOCK" --rpc "$RPC" --tls-ca "$CA" --tls-cert "$T_DIR/mismatch.pem"
refuse "api: --tls-server-name without a tls+tcp:// URL is refused" \
	"--tls-server-name given but no URL is tls+tcp://" \
	"$A" --listen "$ASOCK" --rpc "ipc://$T_DIR/x.rpc" --tls-server-name broker
# The warning comes from the start-up check, before anything is dialed: the listen socket's
# directory does not exist, so madang-api stops right after it (no packet leaves the machine).
refuse "api: a tcp:// broker off loopback logs that the link is unauthenticated" \
	"tcp://192.0.2.1:9 is plain tcp:// off loopback: the link is neither encrypted nor authenticated" \
	"$A" --listen "unix:$T_DIR/no-dir/api.sock" --rpc tcp://192.0.2.1:9
t_check "no socket file was left by the refused starts" test ! -e "$T_DIR/refused-api.sock"

# --- a working link: broker and madang-api over tls+tcp:// --------------------------------------
t_start broker "$B" --rpc "$RPC" --events "$EVENTS" --tls-ca "$CA" --tls-cert "$CERTS/broker.pem" \
	--allow-create --frontend-timeout 600000
BROKER_PID=$T_LAST_PID
tls_rpc() {
	"$IT_TLS" --ca "$CA" --cert "$CERTS/api.pem" --server-name 127.0.0.1 "$RPC" "$@"
}
t_check "the broker answers a front-end with a certificate of the CA over tls+tcp://" \
	t_wait_for 5 tls_rpc '{"op":"health"}'
tls_rpc '{"op":"hello","frontend":"t-tls","instance":"i1"}' \
	'{"op":"join","frontend":"t-tls","session":"s-alice","room_id":"room1","user":"alice"}' \
	'{"op":"send","frontend":"t-tls","session":"s-alice","room_id":"room1","text":"hello over tls"}' \
	>"$T_DIR/post.out" 2>&1
t_check "hello, join and a message posted over tls+tcp:// are all answered ok" \
	test "$(grep -c '"ok":true' "$T_DIR/post.out")" -eq 3

AP=$(t_free_port)
t_start api "$A" --listen "127.0.0.1:$AP" --rpc "$RPC" --tls-ca "$CA" --tls-cert "$CERTS/api.pem" \
	--timeout 2000
AB=$(t_free_port)
t_start api_b "$A" --listen "127.0.0.1:$AB" --rpc "$RPC" --tls-ca "$CA" --tls-cert "$CERTS/api-b.pem" \
	--tls-server-name wrong.example --timeout 500
API_B_PID=$T_LAST_PID
WS_DEAD=$(t_free_port)
NP=$(t_free_port)
NB=$(t_free_port)
"$MADANG_ROOT/scripts/render-nginx.sh" --out "$T_DIR/nginx" --port "$NP" \
	--web-root "$MADANG_ROOT/web" --api "127.0.0.1:$AP" --ws "127.0.0.1:$WS_DEAD" >/dev/null ||
	t_fail "render-nginx.sh"
"$MADANG_ROOT/scripts/render-nginx.sh" --out "$T_DIR/nginx-b" --port "$NB" \
	--web-root "$MADANG_ROOT/web" --api "127.0.0.1:$AB" --ws "127.0.0.1:$WS_DEAD" >/dev/null ||
	t_fail "render-nginx.sh B"
t_start nginx "$NGINX" -c "$T_DIR/nginx/nginx.conf" -p "$T_DIR/nginx" -e stderr
t_start nginx_b "$NGINX" -c "$T_DIR/nginx-b/nginx.conf" -p "$T_DIR/nginx-b" -e stderr
t_check "madang-api listens" t_wait_port "$AP"
t_check "nginx listens" t_wait_port "$NP"
t_check "nginx B listens" t_wait_port "$NB"
t_check "madang-api reached the broker over tls+tcp:// (GET /api/health is 200)" \
	wait_200 "http://127.0.0.1:$NP/api/health" 10
http GET "http://127.0.0.1:$NP/api/rooms"
expect_match "GET /api/rooms through madang-api over TLS counts alice in room1" 200 \
	'^\{"rooms":\[\{"id":"room1","name":"일반 대화","users_count":1\},'
http GET "http://127.0.0.1:$NP/api/rooms/room1/messages"
expect_match "GET /api/rooms/room1/messages over TLS has the message posted over TLS" 200 \
	'"sender":"alice","message":"hello over tls"'
t_check "madang-api's start line says the broker link is mutual TLS" \
	grep -qF "broker $RPC (mutual TLS)" "$T_DIR/api.log"

# --- madang-api with the wrong --tls-server-name refuses the broker ------------------------------
http GET "http://127.0.0.1:$NB/api/health"
expect_match "madang-api with the wrong --tls-server-name: /api/health is 503 broker_unavailable" 503 \
	'"error":"broker_unavailable"'
t_check "madang-api with the wrong --tls-server-name logs the failed handshake" \
	t_wait_for 5 grep -qF "the TLS handshake with the broker at $RPC failed" "$T_DIR/api_b.log"
kill -TERM "$API_B_PID"
wait_exit "$API_B_PID" 0 || t_fail "madang-api B did not stop on SIGTERM"

# --- madang-api refuses a broker whose certificate another CA signed ----------------------------
# The impostor trusts both CAs, so it would accept madang-api's certificate: the only check that
# can fail is madang-api's own check of the broker.
cat "$T_DIR/rogue/ca.crt" "$CA" >"$T_DIR/both-cas.crt"
PX=$(t_free_port)
PXE=$(t_free_port)
t_start impostor "$B" --rpc "tls+tcp://127.0.0.1:$PX" --events "tls+tcp://127.0.0.1:$PXE" \
	--tls-ca "$T_DIR/both-cas.crt" --tls-cert "$T_DIR/rogue/broker.pem"
IMPOSTOR_PID=$T_LAST_PID
t_check "the impostor broker answers a client that does not check it" \
	t_wait_for 5 "$IT_TLS" --cert "$CERTS/api.pem" --timeout 300 "tls+tcp://127.0.0.1:$PX" '{"op":"health"}'
AX=$(t_free_port)
t_start api_x "$A" --listen "127.0.0.1:$AX" --rpc "tls+tcp://127.0.0.1:$PX" --tls-ca "$CA" \
	--tls-cert "$CERTS/api.pem" --timeout 500
t_check "madang-api logs that it cannot verify a broker of another CA" \
	t_wait_for 5 grep -qF "the TLS handshake with the broker at tls+tcp://127.0.0.1:$PX failed" \
	"$T_DIR/api_x.log"
# Two broker URLs, the impostor's first (issue 20 item 3): every request goes to the real broker,
# over the one link whose handshake succeeded. nginx B's upstream port is free again.
imp_requests() {
	"$IT_TLS" --cert "$CERTS/api.pem" "tls+tcp://127.0.0.1:$PX" '{"op":"stats"}' |
		grep -o '"requests":[0-9]*' | head -n 1 | cut -d: -f2
}
t_start api_two "$A" --listen "127.0.0.1:$AB" --rpc "tls+tcp://127.0.0.1:$PX,$RPC" --tls-ca "$CA" \
	--tls-cert "$CERTS/api.pem"
API_TWO_PID=$T_LAST_PID
t_wait_port "$AB"
r0=$(imp_requests)
ok=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	http GET "http://127.0.0.1:$NB/api/rooms"
	[ "$CODE" = 200 ] && grep -q '"users_count":1' "$T_DIR/body" && ok=$((ok + 1))
done
r1=$(imp_requests)
t_check "madang-api given the impostor's URL and the broker's: 10 of 10 requests answered ($ok)" \
	[ "$ok" -eq 10 ]
t_check "... and none reached the impostor (its requests $r0 -> $r1: only our stats)" \
	sh -c "[ -n '$r0' ] && [ '$r1' -eq $((r0 + 1)) ]"
t_check "... which madang-api logs as a refused handshake" \
	t_wait_for 5 grep -qF "the TLS handshake with the broker at tls+tcp://127.0.0.1:$PX failed" \
	"$T_DIR/api_two.log"
kill -TERM "$API_TWO_PID"
wait_exit "$API_TWO_PID" 0 || t_fail "madang-api with two URLs did not stop on SIGTERM"
t_check "the impostor never saw a request from madang-api (no front-end, no member)" \
	sh -c "'$IT_TLS' --cert '$CERTS/api.pem' 'tls+tcp://127.0.0.1:$PX' '{\"op\":\"health\"}' | grep -q '\"frontends\":0'"
kill -TERM "$IMPOSTOR_PID"
wait_exit "$IMPOSTOR_PID" 0 || t_fail "the impostor broker did not stop on SIGTERM"

# --- peers the broker refuses --------------------------------------------------------------------
# no_reply DESC IT_TLS-ARGS...: the request gets no reply within 1.5 s (exit 1, nothing printed)
no_reply() {
	desc=$1
	shift
	"$IT_TLS" --timeout 1500 "$@" '{"op":"health"}' >"$T_DIR/noreply.out" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && ! grep -q '"ok"' "$T_DIR/noreply.out"; then t_ok "$desc"; else
		t_fail "$desc (exit $rc: $(head -c 300 "$T_DIR/noreply.out"))"
	fi
}
refused_count() {
	grep -c "broker: $1 refused [0-9]* connection(s) in the TLS handshake" "$T_DIR/broker.log"
}
before=$(refused_count "$RPC")
no_reply "a self-signed client certificate gets nothing from the broker" \
	--ca "$CA" --cert "$T_DIR/self.pem" --server-name 127.0.0.1 "$RPC"
t_check "the broker logs the refused self-signed client" \
	t_wait_for 5 sh -c "test \$(grep -c 'broker: $RPC refused [0-9]* connection(s) in the TLS handshake' '$T_DIR/broker.log') -gt $before"
before=$(refused_count "$RPC")
no_reply "a client certificate of another CA gets nothing from the broker" \
	--ca "$CA" --cert "$T_DIR/rogue/api.pem" --server-name 127.0.0.1 "$RPC"
no_reply "a TLS client without a certificate gets nothing from the broker" \
	--ca "$CA" --server-name 127.0.0.1 "$RPC"
t_check "the broker logs those refusals" \
	t_wait_for 5 sh -c "test \$(grep -c 'broker: $RPC refused [0-9]* connection(s) in the TLS handshake' '$T_DIR/broker.log') -gt $before"
before=$(refused_count "$RPC")
no_reply "a plain tcp:// dialer gets nothing from the broker" "tcp://127.0.0.1:$PR"
t_check "the broker logs the plain tcp:// dialer as refused" \
	t_wait_for 5 sh -c "test \$(grep -c 'broker: $RPC refused [0-9]* connection(s) in the TLS handshake' '$T_DIR/broker.log') -gt $before"
before=$(refused_count "$EVENTS")
no_reply "a self-signed client gets nothing from the event endpoint either" \
	--ca "$CA" --cert "$T_DIR/self.pem" --server-name 127.0.0.1 "$EVENTS"
t_check "the broker logs the refusal on the event endpoint" \
	t_wait_for 5 sh -c "test \$(grep -c 'broker: $EVENTS refused [0-9]* connection(s) in the TLS handshake' '$T_DIR/broker.log') -gt $before"
no_reply "a client that does not check the broker still cannot talk without a certificate" "$RPC"

# --- connections that never start the TLS handshake ---------------------------------------------
# nng 1.5.2 keeps them for good; the broker shuts each down after 10 s (broker/tlsheld.c).
# madang-api's connection, a pipe, is not one of them.
ROGUE="$MADANG_TESTBIN/it_tls_rogue"
"$ROGUE" idle --count 40 --wait 20000 127.0.0.1 "$PR" >"$T_DIR/idle.out" 2>&1
rc=$?
first=$(sed -n 's/.*the first after \([0-9-]*\) ms.*/\1/p' "$T_DIR/idle.out")
t_check "40 connections that never start the TLS handshake are closed by the broker within 20 s, none before 9.5 s ($(cat "$T_DIR/idle.out"))" \
	sh -c "[ $rc -eq 0 ] && [ '${first:-0}' -ge 9500 ]"
shut=$(sed -n "s|.*broker: $RPC: shut down \([0-9]*\) connection(s) that had not finished the TLS handshake within 10000 ms|\1|p" \
	"$T_DIR/broker.log" | awk '{ s += $1 } END { print s + 0 }')
t_check "... which the broker logs: 40 shut down, madang-api's own connection not among them ($shut)" \
	[ "$shut" -eq 40 ]
t_check "... and its listener went on taking connections (it did not listen anew)" \
	sh -c "! grep -q 'listening anew' '$T_DIR/broker.log'"

t_check "the broker still serves a good front-end after the refusals" \
	sh -c "'$IT_TLS' --timeout 5000 --ca '$CA' --cert '$CERTS/api.pem' --server-name 127.0.0.1 '$RPC' '{\"op\":\"health\"}' >/dev/null"
http GET "http://127.0.0.1:$NP/api/rooms"
expect_match "GET /api/rooms still works through madang-api over TLS" 200 '"users_count":1'
t_check "the broker logged no error" sh -c "! grep -q ' error: ' '$T_DIR/broker.log'"
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 0 || t_fail "the broker did not stop on SIGTERM"

# --- a TLS listener that nng stops is replaced ---------------------------------------------------
# nng 1.5.2 stops a tls+tcp:// listener for good when a handshake's write meets EPIPE: a peer
# with no certificate that sends a ClientHello and resets the connection at once does it
# (it_tls_rogue reset). The broker probes its TLS listeners every 5 s with a ClientHello it must
# refuse, and listens anew on one that does not count it (broker/listen.c).
PR2=$(t_free_port)
PE2=$(t_free_port)
RPC2="tls+tcp://127.0.0.1:$PR2"
t_start broker2 "$B" --rpc "$RPC2" --events "tls+tcp://127.0.0.1:$PE2" --tls-ca "$CA" \
	--tls-cert "$CERTS/broker.pem"
BROKER2_PID=$T_LAST_PID
rpc2() {
	"$IT_TLS" --ca "$CA" --cert "$CERTS/api.pem" --server-name 127.0.0.1 --timeout 1000 "$RPC2" \
		'{"op":"health"}'
}
t_check "a second broker answers over tls+tcp://" t_wait_for 5 rpc2
sleep 6
t_check "its probes of its TLS listeners (at start and 5 s later) log nothing" \
	sh -c "! grep -q -e 'refused' -e 'listening anew' '$T_DIR/broker2.log'"
stopped=0
for round in 1 2 3 4 5 6 7 8 9 10; do
	"$ROGUE" reset --count 100 127.0.0.1 "$PR2" >/dev/null 2>&1
	rpc2 >/dev/null 2>&1 || { stopped=$round; break; }
done
t_check "TLS ClientHellos reset at once, with no certificate, stop nng's TLS listener (round $stopped; if nng no longer stops, the TLS probe may go)" \
	[ "$stopped" -gt 0 ]
t_check "... and the broker listens anew: a front-end is answered again within 12 s" \
	t_wait_for 12 rpc2
t_check "... which the broker logs" grep -qF \
	"broker: $RPC2 did not take a connection within 2000 ms: listening anew" "$T_DIR/broker2.log"
# SIGKILL, as in it_broker.c's ipc:// case: nng 1.5.2 never frees a listener it stopped, and
# LeakSanitizer would report it at exit.
kill -KILL "$BROKER2_PID"
wait "$BROKER2_PID" 2>/dev/null

# --- two hosts: the broker and an edge in network namespaces of their own -----------------------
# Each namespace is held by a `sleep` started with `unshare --net` (nothing is written under
# /run, unlike `ip netns add`); a veth pair joins them with private addresses 10.213.7.1 (broker)
# and 10.213.7.2 (edge). Daemons run inside with nsenter, which execs them, so t_start's PIDs are
# the daemons' own. When the holders are killed at the end the namespaces and the veth pair go.
NS_PIDS=""
ns_cleanup() {
	for p in $NS_PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	NS_PIDS=""
}
trap 't_cleanup; ns_cleanup' EXIT
ns_skip=""
if [ "$(id -u)" != 0 ]; then
	ns_skip="not root: network namespaces cannot be made"
elif ! command -v unshare >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1 ||
	! command -v ip >/dev/null 2>&1; then
	ns_skip="unshare, nsenter or ip is missing (util-linux, iproute2)"
else
	unshare --net sleep 600 &
	NS_B=$!
	unshare --net sleep 600 &
	NS_E=$!
	NS_PIDS="$NS_B $NS_E"
	own=$(readlink /proc/self/ns/net)
	t_wait_for 5 sh -c "test \"\$(readlink /proc/$NS_B/ns/net)\" != '$own' &&
		test \"\$(readlink /proc/$NS_E/ns/net)\" != '$own'" || ns_skip="unshare --net failed here"
fi
if [ -z "$ns_skip" ]; then
	nb="nsenter --net=/proc/$NS_B/ns/net"
	ne="nsenter --net=/proc/$NS_E/ns/net"
	if ! { $nb ip link add vb type veth peer name ve netns "$NS_E" &&
		$nb ip addr add 10.213.7.1/30 dev vb && $nb ip link set vb up && $nb ip link set lo up &&
		$ne ip addr add 10.213.7.2/30 dev ve && $ne ip link set ve up &&
		$ne ip link set lo up; } >"$T_DIR/netns.out" 2>&1; then
		ns_skip="cannot make a veth pair between namespaces: $(head -c 200 "$T_DIR/netns.out")"
	fi
fi
if [ -n "$ns_skip" ]; then
	t_skip "two network namespaces: $ns_skip"
	t_done
fi
"$MK" --dir "$CERTS" broker-ns:10.213.7.1 edge-ns:10.213.7.2 >/dev/null 2>&1 ||
	t_fail "make-certs.sh for the namespaces"
NRPC=tls+tcp://10.213.7.1:7001
NEVENTS=tls+tcp://10.213.7.1:7002
t_start ns_broker $nb "$B" --rpc "$NRPC" --events "$NEVENTS" --tls-ca "$CA" \
	--tls-cert "$CERTS/broker-ns.pem" --frontend-timeout 600000
NS_BROKER_PID=$T_LAST_PID
edge_rpc() {
	$ne "$IT_TLS" --ca "$CA" --cert "$CERTS/edge-ns.pem" --server-name 10.213.7.1 "$NRPC" "$@"
}
t_check "namespaces: the edge reaches the broker's host over tls+tcp://10.213.7.1" \
	t_wait_for 5 edge_rpc '{"op":"health"}'
t_check "namespaces: the broker's address is not reachable from this host's namespace" \
	sh -c "! '$IT_TLS' --timeout 500 --ca '$CA' --cert '$CERTS/edge-ns.pem' '$NRPC' '{\"op\":\"health\"}' >/dev/null 2>&1"
edge_rpc '{"op":"hello","frontend":"t-edge","instance":"e1"}' \
	'{"op":"join","frontend":"t-edge","session":"s-dana","room_id":"room2","user":"dana"}' \
	'{"op":"send","frontend":"t-edge","session":"s-dana","room_id":"room2","text":"from the edge"}' \
	>"$T_DIR/edge-post.out" 2>&1
t_check "namespaces: hello, join and a message from the edge are answered ok" \
	test "$(grep -c '"ok":true' "$T_DIR/edge-post.out")" -eq 3
# madang-api on the edge: --rpc by address, so the name checked is 10.213.7.1 (a DNS entry of
# the broker's certificate, as make-certs.sh writes it); FastCGI on a unix socket that this
# host's nginx reaches (the file system is shared, the network is not).
t_start ns_api $ne "$A" --listen "unix:$T_DIR/edge-api.sock" --rpc "$NRPC" --tls-ca "$CA" \
	--tls-cert "$CERTS/edge-ns.pem" --timeout 2000
NE_PORT=$(t_free_port)
"$MADANG_ROOT/scripts/render-nginx.sh" --out "$T_DIR/nginx-e" --port "$NE_PORT" \
	--web-root "$MADANG_ROOT/web" --api "unix:$T_DIR/edge-api.sock" --ws "127.0.0.1:$WS_DEAD" \
	>/dev/null || t_fail "render-nginx.sh E"
t_check "namespaces: the edge's madang-api made its socket" t_wait_for 5 test -S "$T_DIR/edge-api.sock"
t_start nginx_e "$NGINX" -c "$T_DIR/nginx-e/nginx.conf" -p "$T_DIR/nginx-e" -e stderr
t_check "namespaces: nginx E listens" t_wait_port "$NE_PORT"
t_check "namespaces: the edge's madang-api reached the broker over TLS (/api/health 200)" \
	wait_200 "http://127.0.0.1:$NE_PORT/api/health" 10
http GET "http://127.0.0.1:$NE_PORT/api/rooms/room2/messages"
expect_match "namespaces: /api/rooms/room2/messages through the edge has the edge's message" 200 \
	'"sender":"dana","message":"from the edge"'
http GET "http://127.0.0.1:$NE_PORT/api/rooms"
expect_match "namespaces: /api/rooms through the edge counts dana in room2" 200 \
	'\{"id":"room2","name":"기술 토론","users_count":1\}'
$ne "$IT_TLS" --timeout 1500 --ca "$CA" --cert "$T_DIR/self.pem" --server-name 10.213.7.1 "$NRPC" \
	'{"op":"health"}' >"$T_DIR/ns-self.out" 2>&1
rc=$?
t_check "namespaces: a self-signed front-end on the edge gets nothing" \
	sh -c "test $rc -eq 1 && ! grep -q '\"ok\"' '$T_DIR/ns-self.out'"
$ne "$IT_TLS" --timeout 1500 tcp://10.213.7.1:7001 '{"op":"health"}' >"$T_DIR/ns-plain.out" 2>&1
rc=$?
t_check "namespaces: a plain tcp:// dialer on the edge gets nothing" \
	sh -c "test $rc -eq 1 && ! grep -q '\"ok\"' '$T_DIR/ns-plain.out'"
t_check "namespaces: the broker logs the refusals" \
	t_wait_for 5 grep -q "broker: $NRPC refused [0-9]* connection(s) in the TLS handshake" \
	"$T_DIR/ns_broker.log"
kill -TERM "$NS_BROKER_PID"
wait_exit "$NS_BROKER_PID" 0 || t_fail "the broker in its namespace did not stop on SIGTERM"
t_done
