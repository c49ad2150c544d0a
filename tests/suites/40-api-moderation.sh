#!/bin/sh
# 40-api-moderation.sh — moderation over REST (issue 26, docs/api.md "Moderation"): the real
# madang-broker and madang-api behind a real nginx, checked with curl. The authorization matrix:
# every action by the admin token, an admin JWT, the owner's JWT, a moderator's JWT (bans with and
# without moderators_may_ban), a plain member's JWT and no token; the effects seen through the
# broker (members, bans, mutes, history with the tombstone); owners on POST /api/rooms with
# --user-rooms on and off; the audit trail for owners and admins only; hostile requests.
T_NAME=api-moderation
. "$MADANG_ROOT/tests/lib/harness.sh"
. "$MADANG_ROOT/tests/lib/apihttp.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ] || ! command -v curl >/dev/null 2>&1; then
	t_skip "nginx or curl is not installed (scripts/install-deps.sh test)"
	t_done
fi

RPC="ipc://$T_DIR/broker.rpc"
EVENTS="ipc://$T_DIR/broker.events"
WS_DEAD=$(t_free_port)
start_broker

# api_behind_nginx NAME ARGS...: madang-api NAME on a free TCP port behind its own nginx; sets URL
api_behind_nginx() {
	name=$1
	shift
	ap=$(t_free_port)
	np=$(t_free_port)
	t_start "api_$name" "$MADANG_BIN/madang-api" --listen "127.0.0.1:$ap" --rpc "$RPC" \
		--timeout 5000 "$@"
	"$MADANG_ROOT/scripts/render-nginx.sh" --out "$T_DIR/nginx-$name" --port "$np" \
		--web-root "$MADANG_ROOT/web" --api "127.0.0.1:$ap" --ws "127.0.0.1:$WS_DEAD" ||
		t_fail "render-nginx.sh $name"
	t_start "nginx_$name" "$NGINX" -c "$T_DIR/nginx-$name/nginx.conf" -p "$T_DIR/nginx-$name" \
		-e stderr
	t_wait_port "$ap" || t_fail "madang-api $name did not listen (log: $T_DIR/api_$name.log)"
	t_wait_port "$np" || t_fail "nginx $name did not listen"
	URL="http://127.0.0.1:$np"
}

printf 'secret-admin-token-0123456789\n' >"$T_DIR/token"
chmod 600 "$T_DIR/token"
head -c 48 /dev/urandom | base64 | tr -d '\n' >"$T_DIR/jwt.secret"
head -c 48 /dev/urandom | base64 | tr -d '\n' >"$T_DIR/other.secret"
api_behind_nginx j --admin-token-file "$T_DIR/token" --jwt-secret-file "$T_DIR/jwt.secret"
J=$URL
api_behind_nginx u --jwt-secret-file "$T_DIR/jwt.secret" --user-rooms
U=$URL
api_behind_nginx o
O=$URL

tok() { # NAME SUB [--admin]: a Bearer header value
	echo "Authorization: Bearer $("$MADANG_BIN/madang-token" --secret-file "$T_DIR/jwt.secret" \
		--name "$1" --sub "$2" ${3:-})"
}
ADMIN_TOKEN='Authorization: Bearer secret-admin-token-0123456789'
ADMIN_JWT=$(tok root u-root --admin)
OWNER=$(tok olive u-owner)
MOD=$(tok mona u-mod)
MEMBER=$(tok mel u-mel)
OTHER_MOD=$(tok otto u-otto)
FORGED="Authorization: Bearer $("$MADANG_BIN/madang-token" --secret-file "$T_DIR/other.secret" \
	--name root --sub u-root --admin)"
JSON='Content-Type: application/json'

# as HEADER METHOD PATH [BODY]: a request to madang-api J with these credentials ("" for none)
as() {
	h=$1
	m=$2
	p=$3
	if [ $# -ge 4 ]; then
		if [ -n "$h" ]; then http "$m" "$J$p" -H "$h" -H "$JSON" --data-binary "$4"; else
			http "$m" "$J$p" -H "$JSON" --data-binary "$4"; fi
	elif [ -n "$h" ]; then http "$m" "$J$p" -H "$h"; else http "$m" "$J$p"; fi
}
# broker JSON: one request straight to the broker; the reply in $T_DIR/broker.out
broker() {
	"$MADANG_TESTBIN/broker-rpc" "$RPC" "$1" >"$T_DIR/broker.out" 2>&1
}
broker_has() {
	grep -Eq "$1" "$T_DIR/broker.out"
}
# json_has FILTER: the JSON of $T_DIR/body makes the node expression FILTER (of d) true
json_has() {
	node -e "const d=JSON.parse(require('fs').readFileSync(0,'utf8'));process.exit(($1)?0:1)" \
		<"$T_DIR/body"
}
# join USER SUBJECT [ROOM]: a member with a token subject joins through the broker (front-end t-mod)
join() {
	"$MADANG_TESTBIN/it_rpc" "$RPC" "{\"op\":\"join\",\"frontend\":\"t-mod\",\"session\":\"s-$1\",\"room_id\":\"${3:-modr}\",\"user\":\"$1\",\"subject\":\"$2\",\"admin\":false}" \
		>"$T_DIR/join.out" 2>&1
}
members() { # the members of room modr as GET /api/rooms/modr shows them, sorted: "bob mona olive"
	curl -s -m 5 -H "$ADMIN_TOKEN" "$J/api/rooms/modr" | sed -nE 's/.*"members":\[([^]]*)\].*/\1/p' |
		tr -d '"' | tr ',' '\n' | sort | tr '\n' ' ' | sed 's/ $//'
}
rpc '{"op":"hello","frontend":"t-mod","instance":"i1"}' || t_fail "hello"

# --- creating rooms: owners, --user-rooms off (J) and on (U) --------------------------------------
as "$OWNER" POST /api/rooms '{"id":"modr"}'
expect "without --user-rooms a plain JWT may not create a room (403)" 403 \
	'{"error":"forbidden","message":"this needs a token with the admin claim"}'
as "$ADMIN_JWT" POST /api/rooms '{"id":"modr","name":"Moderated","owner":"u-owner"}'
expect "an admin JWT creates a room for another owner (201)" 201 \
	'{"id":"modr","name":"Moderated","users_count":0}'
broker '{"op":"get_room","room_id":"modr"}'
t_check "... and the broker holds u-owner as its owner" broker_has '"owner":"u-owner"'
as "$ADMIN_TOKEN" POST /api/rooms '{"id":"other"}'
expect_code "the admin token creates a room without an owner (201)" 201
broker '{"op":"get_room","room_id":"other"}'
t_check "... which has none" broker_has '"owner":null'
http POST "$U/api/rooms" -H "$OWNER" -H "$JSON" --data-binary '{"id":"mine"}'
expect "with --user-rooms any valid JWT creates a room (201)" 201 '{"id":"mine","name":"mine","users_count":0}'
broker '{"op":"get_room","room_id":"mine"}'
t_check "... and owns it (its subject)" broker_has '"owner":"u-owner"'
http POST "$U/api/rooms" -H "$MEMBER" -H "$JSON" --data-binary '{"id":"theirs","owner":"u-mod"}'
expect "... but may not name another owner (403)" 403 \
	'{"error":"forbidden","message":"only an admin may name another owner"}'
http POST "$U/api/rooms" -H "$FORGED" -H "$JSON" --data-binary '{"id":"forged"}'
expect_match "... and a forged token creates nothing (401)" 401 '"error":"unauthorized"'
http POST "$U/api/rooms" -H "$JSON" --data-binary '{"id":"anon"}'
expect_match "... nor no token (401)" 401 '"error":"unauthorized"'
# One subject owns at most --rooms-per-owner rooms (the broker's default, 10); beyond: 403.
MANY=$(tok manny u-many)
n=1
while [ $n -le 10 ]; do
	http POST "$U/api/rooms" -H "$MANY" -H "$JSON" --data-binary "{\"id\":\"many$n\"}"
	[ "$CODE" = 201 ] || break
	n=$((n + 1))
done
t_check "with --user-rooms one JWT creates 10 rooms (201 each; stopped at $n)" [ $n -eq 11 ]
http POST "$U/api/rooms" -H "$MANY" -H "$JSON" --data-binary '{"id":"many11"}'
expect_match "... and its 11th is 403 create_limit, the message naming the limit" 403 \
	'^\{"error":"create_limit","message":"[^"]*10 rooms[^"]*"\}$'
broker '{"op":"get_room","room_id":"many11"}'
t_check "... and that room was not made" broker_has '"error":"no_such_room"'
http POST "$J/api/rooms" -H "$ADMIN_TOKEN" -H "$JSON" --data-binary '{"id":"many12","owner":"u-many"}'
expect_code "an admin may still create one for that owner (201)" 201
as "$ADMIN_TOKEN" GET /api/rooms/many1/audit
t_check "creating a room with an owner writes an audit entry owner" json_has \
	"d.entries.some(e=>e.action==='owner'&&e.target&&e.target.subject==='u-many')"
http DELETE "$U/api/rooms/mine" -H "$OWNER"
expect "the owner may not DELETE the room: that stays admin (403)" 403 \
	'{"error":"forbidden","message":"this needs a token with the admin claim"}'

# --- GET /api/rooms/{id}: slow_mode_s for all, moderation for the owner and admins ---------------
as "$MEMBER" GET /api/rooms/modr
expect "a member sees slow_mode_s, not the settings" 200 \
	'{"id":"modr","name":"Moderated","users_count":0,"members":[],"seq":0,"slow_mode_s":0}'
for who in OWNER ADMIN_JWT ADMIN_TOKEN; do
	eval "h=\$$who"
	as "$h" GET /api/rooms/modr
	expect "$who sees the room's moderation settings" 200 \
		'{"id":"modr","name":"Moderated","users_count":0,"members":[],"seq":0,"slow_mode_s":0,"moderation":{"owner":"u-owner","moderators":[],"moderators_may_ban":false,"slow_mode_s":0}}'
done

# --- PATCH: moderators (owner), slow mode (moderators too), owner (admins) ------------------------
as "$OWNER" PATCH /api/rooms/modr '{"moderators":["u-mod"]}'
expect "the owner names a moderator (200)" 200 \
	'{"id":"modr","moderation":{"owner":"u-owner","moderators":["u-mod"],"moderators_may_ban":false,"slow_mode_s":0}}'
as "$ADMIN_TOKEN" PATCH /api/rooms/other '{"moderators":["u-otto"]}'
expect_code "the admin token names otto moderator of room other (200)" 200
as "$MOD" PATCH /api/rooms/modr '{"moderators":["u-mod","u-mel"]}'
expect_match "a moderator may not name moderators (403)" 403 '^\{"error":"forbidden","message":"[^"]+"\}$'
as "$MOD" PATCH /api/rooms/modr '{"moderators_may_ban":true}'
expect_match "... nor allow moderators to ban (403)" 403 '"error":"forbidden"'
as "$MEMBER" PATCH /api/rooms/modr '{"slow_mode_s":5}'
expect_match "a member may not set slow mode (403)" 403 '"error":"forbidden"'
as "" PATCH /api/rooms/modr '{"slow_mode_s":5}'
expect "no token: 401" 401 '{"error":"unauthorized","message":"moderation needs Authorization: Bearer <token>"}'
t_check "... with WWW-Authenticate" has_header 'WWW-Authenticate: Bearer'
as "$MOD" PATCH /api/rooms/modr '{"slow_mode_s":5}'
expect_match "a moderator sets slow mode (200)" 200 '"slow_mode_s":5\}\}$'
as "$OWNER" PATCH /api/rooms/modr '{"owner":"u-mel"}'
expect_match "the owner may not hand the room over (403: admins only)" 403 '"error":"forbidden"'
as "$OTHER_MOD" PATCH /api/rooms/modr '{"slow_mode_s":0}'
expect_match "a moderator of room other is nobody in modr (403)" 403 '"error":"forbidden"'
as "$ADMIN_JWT" PATCH /api/rooms/modr '{"slow_mode_s":0}'
expect_match "an admin JWT turns slow mode off (200)" 200 '"slow_mode_s":0\}\}$'
as "$MEMBER" GET /api/rooms/modr
expect_match "everybody sees slow_mode_s" 200 '"seq":[0-9]+,"slow_mode_s":0\}$'

# --- kick: the member leaves at once, as the broker shows -----------------------------------------
join bob u-bob || t_fail "bob joins"
join olive u-owner || t_fail "olive (the owner) joins"
join mona u-mod || t_fail "mona (a moderator) joins"
t_check "bob, olive and mona are in modr" [ "$(members)" = 'bob mona olive' ]
as "" POST /api/rooms/modr/kicks '{"user":"bob"}'
expect_match "kick without a token: 401" 401 '"error":"unauthorized"'
as "$FORGED" POST /api/rooms/modr/kicks '{"user":"bob"}'
expect "kick with a forged token: 401" 401 '{"error":"unauthorized","message":"the token is not valid (expired, or not ours)"}'
as "$MEMBER" POST /api/rooms/modr/kicks '{"user":"bob"}'
expect_match "kick by a plain member: 403" 403 '"error":"forbidden"'
as "$OTHER_MOD" POST /api/rooms/modr/kicks '{"user":"bob"}'
expect_match "kick by the moderator of another room: 403" 403 '"error":"forbidden"'
t_check "bob is still there" [ "$(members)" = 'bob mona olive' ]
for who in MOD OWNER ADMIN_JWT ADMIN_TOKEN; do
	eval "h=\$$who"
	join bob u-bob
	as "$h" POST /api/rooms/modr/kicks '{"user":"bob","reason":"spam"}'
	expect "kick by $who (200)" 200 '{"room_id":"modr","user":"bob"}'
	t_check "... bob has left the room" [ "$(members)" = 'mona olive' ]
done
as "$MOD" POST /api/rooms/modr/kicks '{"user":"olive"}'
expect_match "a moderator may not kick the owner (403)" 403 '"error":"forbidden"'
as "$OWNER" POST /api/rooms/modr/kicks '{"user":"olive"}'
expect_match "nobody kicks themselves (403)" 403 '"error":"forbidden"'
as "$OWNER" POST /api/rooms/modr/kicks '{"user":"nobody"}'
expect_match "kicking someone not in the room: 404 no_such_user" 404 '^\{"error":"no_such_user"'
as "$OWNER" POST /api/rooms/nosuch/kicks '{"user":"bob"}'
expect_match "kicking in a room that does not exist: 404 no_such_room" 404 '^\{"error":"no_such_room"'
broker '{"op":"history","room_id":"modr","limit":50}'
t_check "the room saw bob's leave with reason kicked and the note" \
	broker_has '"type":"leave"[^}]*"reason":"kicked"[^}]*"note":"spam"'
t_check "... naming the API's admin token as admin" broker_has '"by":"admin"'

# --- bans: moderators only when moderators_may_ban -------------------------------------------------
join carl u-carl || t_fail "carl joins"
as "$MOD" POST /api/rooms/modr/bans '{"user":"carl"}'
expect_match "a moderator may not ban while moderators_may_ban is off (403)" 403 '"error":"forbidden"'
as "$MOD" GET /api/rooms/modr/bans
expect_match "... nor list the bans (403)" 403 '"error":"forbidden"'
as "$MEMBER" POST /api/rooms/modr/bans '{"user":"carl"}'
expect_match "a member may not ban (403)" 403 '"error":"forbidden"'
as "$OWNER" PATCH /api/rooms/modr '{"moderators_may_ban":true}'
expect_match "the owner lets moderators ban (200)" 200 '"moderators_may_ban":true'
as "$MOD" POST /api/rooms/modr/bans '{"user":"carl","duration_s":3600,"reason":"flood"}'
expect_match "now a moderator bans carl (201, kicked, with its end)" 201 \
	'^\{"room_id":"modr","user":"carl","until":"20[0-9-]+T[0-9:.]+Z","kicked":true\}$'
t_check "carl is out of the room" [ "$(members)" = 'mona olive' ]
join carl u-carl
t_check "carl's join is refused: banned" grep -q '"error":"banned"' "$T_DIR/join.out"
join carl2 u-carl
t_check "... under another nickname too (the ban holds his subject)" grep -q '"error":"banned"' "$T_DIR/join.out"
as "$MOD" GET /api/rooms/modr/bans
expect_match "the moderator lists the bans: carl, by mona, with the note" 200 \
	'^\{"room_id":"modr","bans":\[\{"user":"carl","subject":"u-carl","addr":[^,]+,"until":"[^"]+","by":"mona","note":"flood","time":"[^"]+"\}\]\}$'
as "$MEMBER" GET /api/rooms/modr/bans
expect_match "a member may not list the bans (403)" 403 '"error":"forbidden"'
as "$MOD" DELETE /api/rooms/modr/bans/carl
expect "the moderator lifts carl's ban (204)" 204 ''
join carl u-carl
t_check "... and carl may join again" grep -q '"ok":true' "$T_DIR/join.out"
as "$MOD" DELETE /api/rooms/modr/bans/carl
expect_match "lifting it again: 404 no_such_ban" 404 '^\{"error":"no_such_ban"'
as "$OWNER" PATCH /api/rooms/modr '{"moderators_may_ban":false}'
as "$MOD" DELETE /api/rooms/modr/bans/carl
expect_match "with moderators_may_ban off again a moderator may not unban (403)" 403 '"error":"forbidden"'
as "$ADMIN_JWT" POST /api/rooms/modr/bans '{"subject":"u-erin","reason":"known troll"}'
expect "an admin JWT bans a subject not in the room (201, no end)" 201 \
	'{"room_id":"modr","subject":"u-erin","until":null,"kicked":false}'
join erin u-erin
t_check "... and that subject cannot join" grep -q '"error":"banned"' "$T_DIR/join.out"
as "$OWNER" DELETE '/api/rooms/modr/bans?subject=u-erin'
expect "the owner lifts it with DELETE .../bans?subject= (204)" 204 ''
join erin u-erin
t_check "... and erin may join" grep -q '"ok":true' "$T_DIR/join.out"
as "$ADMIN_TOKEN" POST /api/rooms/modr/bans '{"user":"erin","duration_s":60}'
expect_match "the admin token bans erin for 60 s (201)" 201 '"user":"erin","until":"[^"]+","kicked":true\}$'
as "$OWNER" POST /api/rooms/modr/bans '{"subject":"u-root"}'
expect_match "banning an admin's subject... " 201 '"subject":"u-root"'
"$MADANG_TESTBIN/it_rpc" "$RPC" '{"op":"join","frontend":"t-mod","session":"s-root","room_id":"modr","user":"root","subject":"u-root","admin":true}' >"$T_DIR/join.out" 2>&1
t_check "... never keeps an admin out (bans do not apply to admins)" grep -q '"ok":true' "$T_DIR/join.out"
as "$OWNER" POST /api/rooms/modr/kicks '{"user":"root"}'
expect_match "nobody acts on an admin (403)" 403 '"error":"forbidden"'
as "$OWNER" POST /api/rooms/modr/bans '{"user":"root"}'
expect_match "... not even to ban the admin in the room (403)" 403 '"error":"forbidden"'
as "$OWNER" DELETE '/api/rooms/modr/bans?subject=u-root'
expect_code "(the owner lifts the admin's ban)" 204

# A ban and a mute end by themselves: 1 s each.
join fay u-fay || t_fail "fay joins"
as "$OWNER" POST /api/rooms/modr/bans '{"user":"fay","duration_s":1}'
expect_match "a ban of 1 s (201)" 201 '"user":"fay","until":"[^"]+","kicked":true'
join fay u-fay
t_check "... refuses fay's join at once" grep -q '"error":"banned"' "$T_DIR/join.out"
t_check "... and lets her in once it has ended (within 3 s)" t_wait_for 3 sh -c \
	"'$MADANG_TESTBIN/it_rpc' --check '$RPC' '{\"op\":\"join\",\"frontend\":\"t-mod\",\"session\":\"s-fay\",\"room_id\":\"modr\",\"user\":\"fay\",\"subject\":\"u-fay\",\"admin\":false}'"
as "$OWNER" POST /api/rooms/modr/mutes '{"user":"fay","duration_s":1}'
expect_match "a mute of 1 s (201)" 201 '"user":"fay","until":"[^"]+"\}$'
"$MADANG_TESTBIN/it_rpc" "$RPC" '{"op":"send","frontend":"t-mod","session":"s-fay","room_id":"modr","text":"hi"}' >"$T_DIR/send.out" 2>&1
t_check "... refuses her message at once" grep -q '"error":"muted"' "$T_DIR/send.out"
t_check "... and lets her speak once it has ended (within 3 s)" t_wait_for 3 \
	"$MADANG_TESTBIN/it_rpc" --check "$RPC" '{"op":"send","frontend":"t-mod","session":"s-fay","room_id":"modr","text":"hi again"}'
rpc '{"op":"leave","frontend":"t-mod","session":"s-fay","room_id":"modr"}' || t_fail "fay leaves"

# --- mutes -----------------------------------------------------------------------------------------
as "$MEMBER" POST /api/rooms/modr/mutes '{"user":"carl","duration_s":600}'
expect_match "a member may not mute (403)" 403 '"error":"forbidden"'
as "$MOD" POST /api/rooms/modr/mutes '{"user":"carl","duration_s":600,"reason":"calm down"}'
expect_match "a moderator mutes carl for 10 min (201)" 201 '^\{"room_id":"modr","user":"carl","until":"[^"]+"\}$'
"$MADANG_TESTBIN/it_rpc" "$RPC" '{"op":"send","frontend":"t-mod","session":"s-carl","room_id":"modr","text":"still here"}' >"$T_DIR/send.out" 2>&1
t_check "carl's message is refused: muted, with until" grep -q '"error":"muted".*"until"' "$T_DIR/send.out"
as "$MOD" GET /api/rooms/modr/mutes
expect_match "the moderator lists the mutes" 200 '^\{"room_id":"modr","mutes":\[\{"user":"carl","subject":"u-carl",.*"by":"mona","note":"calm down"'
as "$MEMBER" GET /api/rooms/modr/mutes
expect_match "a member may not list the mutes (403)" 403 '"error":"forbidden"'
as "$OWNER" DELETE /api/rooms/modr/mutes/carl
expect "the owner lifts the mute (204)" 204 ''
rpc '{"op":"send","frontend":"t-mod","session":"s-carl","room_id":"modr","text":"thanks"}'
t_check "carl may speak again" [ $? -eq 0 ]
as "$OWNER" DELETE /api/rooms/modr/mutes/carl
expect_match "unmuting someone not muted: 404 no_such_ban" 404 '"error":"no_such_ban"'
as "$MOD" POST /api/rooms/modr/mutes '{"user":"carl"}'
expect_match "a mute without duration_s: 400" 400 '"error":"invalid_argument"'

# --- deleting a message: the tombstone in history ----------------------------------------------------
"$MADANG_TESTBIN/it_rpc" --check "$RPC" '{"op":"send","frontend":"t-mod","session":"s-carl","room_id":"modr","text":"secret words"}' >"$T_DIR/send.out" 2>&1
SEQ=$(sed -nE 's/.*"seq":([0-9]+).*/\1/p' "$T_DIR/send.out" | head -n 1)
t_check "carl's message has a seq ($SEQ)" [ -n "$SEQ" ]
as "$MEMBER" DELETE "/api/rooms/modr/messages/$SEQ"
expect_match "a member may not delete a message (403)" 403 '"error":"forbidden"'
as "$OTHER_MOD" DELETE "/api/rooms/modr/messages/$SEQ"
expect_match "the moderator of another room may not either (403)" 403 '"error":"forbidden"'
as "$MOD" DELETE "/api/rooms/modr/messages/$SEQ?reason=%EC%8A%A4%ED%8C%B8+link"
expect "a moderator deletes it with a reason in the query, 스팸 link (204)" 204 ''
as "$MEMBER" GET "/api/rooms/modr/messages?since=$((SEQ - 1))&limit=1"
expect_match "history keeps a tombstone: same seq, empty text, deleted" 200 \
	"\"events\":\\[\\{\"type\":\"message\",\"room_id\":\"modr\",\"seq\":$SEQ,[^]]*\"message\":\"\"[^]]*\"deleted\":true"
t_check "... and the text is gone from history" sh -c "! grep -q 'secret words' '$T_DIR/body'"
as "$MEMBER" GET "/api/rooms/modr/messages?since=$SEQ&limit=1"
expect_match "... followed by the message_deleted event" 200 "\"type\":\"message_deleted\"[^]]*\"deleted_seq\":$SEQ"
t_check "... which carries the reason as its note" json_has \
	"d.events.some(e=>e.type==='message_deleted'&&e.deleted_seq===$SEQ&&e.note==='스팸 link')"
as "$MOD" DELETE "/api/rooms/modr/messages/$SEQ?reason=a%zzb"
expect_code "a reason with bad percent-encoding: 400 (nginx or madang-api)" 400
as "$MOD" DELETE "/api/rooms/modr/messages/$SEQ?reason=%C3%28"
expect_match "a reason of invalid UTF-8: 400 invalid_request" 400 '^\{"error":"invalid_request"'
as "$MOD" DELETE "/api/rooms/modr/messages/$SEQ?reason=$(head -c 257 /dev/zero | tr '\0' x)"
expect "a reason over 256 bytes: 400" 400 \
	'{"error":"invalid_request","message":"query parameter value over 256 bytes (decoded)"}'
as "$MOD" DELETE "/api/rooms/modr/messages/$SEQ?reason=a%07b"
expect "a reason with a control character: 400 invalid_argument" 400 \
	'{"error":"invalid_argument","message":"reason must be one line without control characters"}'
as "$MOD" DELETE "/api/rooms/modr/messages/$SEQ?reason=%20%20"
expect "a reason of white space only: 400" 400 \
	'{"error":"invalid_argument","message":"reason is only white space"}'
as "$MOD" DELETE "/api/rooms/modr/messages/$SEQ"
expect_match "deleting it again: 404 no_such_message" 404 '^\{"error":"no_such_message"'
# A member deletes its own message (sent with its token's subject, u-carl), not another's.
"$MADANG_TESTBIN/it_rpc" --check "$RPC" '{"op":"send","frontend":"t-mod","session":"s-carl","room_id":"modr","text":"my own words"}' >"$T_DIR/send.out" 2>&1
OWN=$(sed -nE 's/.*"seq":([0-9]+).*/\1/p' "$T_DIR/send.out" | head -n 1)
CARL=$(tok carl u-carl)
as "$MEMBER" DELETE "/api/rooms/modr/messages/$OWN"
expect_match "a member may not delete another member's message (403)" 403 '"error":"forbidden"'
as "$CARL" DELETE "/api/rooms/modr/messages/$OWN"
expect "carl deletes his own message with his token (204)" 204 ''
as "$MEMBER" GET "/api/rooms/modr/messages?since=$((OWN - 1))&limit=2"
t_check "... history keeps its tombstone, and carl deleted it" json_has \
	"d.events.some(e=>e.seq===$OWN&&e.deleted===true&&e.message==='')&&d.events.some(e=>e.type==='message_deleted'&&e.deleted_seq===$OWN&&e.by==='carl')"
as "$OWNER" DELETE /api/rooms/modr/messages/999999
expect_match "deleting seq 999999: 404 no_such_message" 404 '^\{"error":"no_such_message"'
for who in OWNER ADMIN_JWT ADMIN_TOKEN; do
	eval "h=\$$who"
	"$MADANG_TESTBIN/it_rpc" --check "$RPC" '{"op":"send","frontend":"t-mod","session":"s-carl","room_id":"modr","text":"more"}' >"$T_DIR/send.out" 2>&1
	s=$(sed -nE 's/.*"seq":([0-9]+).*/\1/p' "$T_DIR/send.out" | head -n 1)
	as "$h" DELETE "/api/rooms/modr/messages/$s"
	expect "$who deletes a message (204)" 204 ''
done

# --- the audit trail: owners and admins only --------------------------------------------------------
as "$OWNER" GET /api/rooms/modr/audit
expect_match "the owner reads the audit trail, newest first" 200 \
	'^\{"room_id":"modr","entries":\[\{"id":[0-9]+,"time":"[^"]+","room_id":"modr","action":"delete_message"'
t_check "... it has the kicks, bans, mutes and settings" sh -c \
	"for a in kick ban unban mute unmute delete_message moderators moderators_may_ban slow_mode; do grep -q \"\\\"action\\\":\\\"\$a\\\"\" '$T_DIR/body' || exit 1; done"
t_check "... with the moderator as actor, via the API" grep -q '"actor":{"name":"mona","subject":"u-mod","admin":false,"via":"api"}' "$T_DIR/body"
t_check "... and the deletion of seq $SEQ with its reason as note" json_has \
	"d.entries.some(e=>e.action==='delete_message'&&e.seq===$SEQ&&e.note==='스팸 link'&&e.actor.subject==='u-mod')"
as "$ADMIN_TOKEN" GET '/api/rooms/modr/audit?limit=2'
expect_match "the admin token reads a page of 2 with a cursor" 200 '"next_before":[0-9]+\}$'
next=$(sed -nE 's/.*"next_before":([0-9]+)\}$/\1/p' "$T_DIR/body")
as "$ADMIN_JWT" GET "/api/rooms/modr/audit?before=$next&limit=2"
expect_match "an admin JWT reads the next page (before=$next)" 200 '^\{"room_id":"modr","entries":\[\{"id":[0-9]+'
t_check "... older than the cursor" sh -c "[ \$(sed -nE 's/^\\{\"room_id\":\"modr\",\"entries\":\\[\\{\"id\":([0-9]+).*/\\1/p' '$T_DIR/body') -lt $next ]"
as "$MOD" GET /api/rooms/modr/audit
expect_match "a moderator may not read the audit trail (403)" 403 '"error":"forbidden"'
as "$MEMBER" GET /api/rooms/modr/audit
expect_match "a member may not (403)" 403 '"error":"forbidden"'
as "" GET /api/rooms/modr/audit
expect_match "no token: 401" 401 '"error":"unauthorized"'
as "$OWNER" GET '/api/rooms/modr/audit?limit=501'
expect_match "limit=501: 400" 400 '"error":"invalid_argument"'

# --- the whole matrix in one room: each action by each kind of credentials ---------------------------
# ROLES in this order: no token, a member, a moderator, the owner, an admin JWT, the admin token.
as "$ADMIN_TOKEN" POST /api/rooms '{"id":"matrix","owner":"u-owner"}'
expect_code "room matrix, owned by u-owner (201)" 201
as "$OWNER" PATCH /api/rooms/matrix '{"moderators":["u-mod"]}'
expect_code "... with mona as its moderator (200)" 200
join mel u-mel matrix || t_fail "mel joins matrix"
join sam u-sam matrix || t_fail "sam joins matrix"
mx_ban() { # the admin token bans vic (so that there is a ban to lift)
	as "$ADMIN_TOKEN" POST /api/rooms/matrix/bans '{"user":"vic"}'
}
mx_mute() {
	as "$ADMIN_TOKEN" POST /api/rooms/matrix/mutes '{"user":"vic","duration_s":600}'
}
mx_unban() {
	as "$ADMIN_TOKEN" DELETE /api/rooms/matrix/bans/vic
}
mx_msg() { # a new message by sam (not the member's own, which it may delete); its seq in MSG
	"$MADANG_TESTBIN/it_rpc" --check "$RPC" '{"op":"send","frontend":"t-mod","session":"s-sam","room_id":"matrix","text":"m"}' >"$T_DIR/send.out" 2>&1
	MSG=$(sed -nE 's/.*"seq":([0-9]+).*/\1/p' "$T_DIR/send.out" | head -n 1)
}
mx_join() {
	join vic u-vic matrix
}
# matrix NAME SETUP METHOD PATH BODY STATUS...: SETUP (or -) before each, then the request by each role
matrix() {
	name=$1 setup=$2 method=$3 path=$4 body=$5
	shift 5
	got=""
	for role in NONE MEMBER MOD OWNER ADMIN_JWT ADMIN_TOKEN; do
		[ "$setup" = - ] || "$setup" >/dev/null 2>&1
		case $role in NONE) h="" ;; *) eval "h=\$$role" ;; esac
		p=$(echo "$path" | sed "s/MSG/${MSG:-0}/")
		if [ -n "$body" ]; then as "$h" "$method" "$p" "$body"; else as "$h" "$method" "$p"; fi
		got="$got $CODE"
	done
	t_check "matrix: $name (none member mod owner admin-jwt admin-token):$got" [ "$got" = " $*" ]
}
matrix "kick" mx_join POST /api/rooms/matrix/kicks '{"user":"vic"}' 401 403 200 200 200 200
matrix "ban (moderators_may_ban off)" - POST /api/rooms/matrix/bans '{"user":"vic","duration_s":60}' \
	401 403 403 201 201 201
matrix "list bans" - GET /api/rooms/matrix/bans "" 401 403 403 200 200 200
matrix "unban" mx_ban DELETE /api/rooms/matrix/bans/vic "" 401 403 403 204 204 204
mx_unban
matrix "mute" - POST /api/rooms/matrix/mutes '{"user":"vic","duration_s":60}' 401 403 201 201 201 201
matrix "list mutes" - GET /api/rooms/matrix/mutes "" 401 403 200 200 200 200
matrix "unmute" mx_mute DELETE /api/rooms/matrix/mutes/vic "" 401 403 204 204 204 204
matrix "delete a message" mx_msg DELETE /api/rooms/matrix/messages/MSG "" 401 403 204 204 204 204
matrix "slow mode" - PATCH /api/rooms/matrix '{"slow_mode_s":0}' 401 403 200 200 200 200
matrix "name moderators" - PATCH /api/rooms/matrix '{"moderators":["u-mod"]}' 401 403 403 200 200 200
matrix "moderators_may_ban" - PATCH /api/rooms/matrix '{"moderators_may_ban":false}' \
	401 403 403 200 200 200
matrix "change the owner" - PATCH /api/rooms/matrix '{"owner":"u-owner"}' 401 403 403 403 200 200
matrix "read the audit trail" - GET /api/rooms/matrix/audit "" 401 403 403 200 200 200
as "$OWNER" PATCH /api/rooms/matrix '{"moderators_may_ban":true}'
matrix "ban (moderators_may_ban on)" - POST /api/rooms/matrix/bans '{"user":"vic","duration_s":60}' \
	401 403 201 201 201 201
matrix "list bans (moderators_may_ban on)" - GET /api/rooms/matrix/bans "" 401 403 200 200 200 200
matrix "unban (moderators_may_ban on)" mx_ban DELETE /api/rooms/matrix/bans/vic "" \
	401 403 204 204 204 204

# --- hostile requests ---------------------------------------------------------------------------------
as "$OWNER" POST /api/rooms/modr/kicks '{"user":'
expect_match "bad JSON: 400 invalid_request" 400 '^\{"error":"invalid_request","message":"[^"]+"\}$'
as "$OWNER" POST /api/rooms/modr/kicks '{"user":"carl","reson":"typo"}'
expect_match "an unknown field: 400 invalid_argument" 400 '^\{"error":"invalid_argument","message":"unknown field'
as "$OWNER" POST /api/rooms/modr/kicks "{\"user\":\"carl\",\"reason\":\"$(head -c 300 /dev/zero | tr '\0' x)\"}"
expect "a reason over 256 bytes: 400" 400 '{"error":"invalid_argument","message":"reason is longer than 256 bytes"}'
as "$OWNER" POST /api/rooms/modr/kicks '{"user":"carl","reason":"two\nlines"}'
expect "a reason of two lines: 400, in madang-api's words (the broker's rule is the same)" 400 \
	'{"error":"invalid_argument","message":"reason must be one line without control characters"}'
as "$OWNER" POST /api/rooms/modr/kicks '{"user":"carl","reason":"tab\tinside"}'
expect "a reason with a tab: 400" 400 '{"error":"invalid_argument","message":"reason must be one line without control characters"}'
as "$OWNER" POST /api/rooms/modr/kicks '{"user":"carl","reason":7}'
expect "a reason that is no string: 400" 400 '{"error":"invalid_argument","message":"reason must be a string"}'
head -c 17000 /dev/zero | tr '\0' ' ' >"$T_DIR/big"
http POST "$J/api/rooms/modr/bans" -H "$OWNER" -H "$JSON" --data-binary "@$T_DIR/big"
expect_match "a body over 16 KiB: 413" 413 '"error":"payload_too_large"'
as "$OWNER" DELETE /api/rooms/modr/bans/b%zzob
expect_code "bad percent-encoding in {user}: 400 (nginx refuses it before madang-api, whose own answer test_api_moderation checks)" 400
as "$OWNER" DELETE /api/rooms/modr/mutes/%C3%28
expect_match "invalid UTF-8 in {user}: 400 invalid_request" 400 '"error":"invalid_request"'
as "$OWNER" DELETE /api/rooms/modr/bans/%E2%80%AEbob
expect_match "a {user} that is no nickname (RLO): 400 invalid_argument" 400 '^\{"error":"invalid_argument","message":"user must be a nickname'
as "$OWNER" DELETE /api/rooms/modr/messages/abc
expect_match "a {seq} that is no number: 400" 400 '"error":"invalid_argument"'
as "$OWNER" POST /api/rooms/bad.id/kicks '{"user":"carl"}'
expect_match "a bad room id: 400" 400 '"error":"invalid_argument"'
http POST "$J/api/rooms/modr/kicks" -H "$OWNER" -H 'Content-Type: text/plain' --data-binary '{"user":"carl"}'
expect_match "a body that is not JSON by type: 415" 415 '"error":"unsupported_media_type"'
as "$OWNER" PUT /api/rooms/modr/bans
expect_code "PUT on bans: 405" 405
t_check "... naming the methods" has_header 'Allow: GET, HEAD, POST, DELETE, OPTIONS'
as "" OPTIONS /api/rooms/modr
expect_code "OPTIONS on a room: 204" 204
t_check "... allows PATCH" has_header 'Allow: GET, HEAD, DELETE, PATCH, OPTIONS'
http GET "$J/api/metrics"
for m in 'kicks",class="2xx' 'kicks",class="4xx' 'bans",class="2xx' 'ban",class="2xx' \
	'mutes",class="2xx' 'mute",class="2xx' 'message",class="2xx' 'audit",class="2xx' \
	'room",class="2xx'; do
	t_check "metrics count the moderation route ${m%%\"*} (${m#*=\"})" \
		body_match "^madang_api_requests_total\\{route=\"$m\"\\} [1-9]"
done
t_check "the broker survived all of it" sh -c \
	"'$MADANG_TESTBIN/it_rpc' --check '$RPC' '{\"op\":\"health\"}' >/dev/null"
# Without any credentials configured (O) moderation is off, whatever the request says.
http POST "$O/api/rooms/modr/kicks" -H "$JSON" --data-binary '{"user":"carl"}'
expect "without credentials configured moderation is disabled (403)" 403 \
	'{"error":"forbidden","message":"moderation is disabled: madang-api has neither --admin-token-file nor --jwt-secret-file"}'
http PATCH "$O/api/rooms/modr" -H "$OWNER" -H "$JSON" --data-binary '{"slow_mode_s":9}'
expect_match "... PATCH too (403)" 403 '"message":"moderation is disabled'
http GET "$O/api/rooms/modr/audit"
expect_code "... and the audit trail (403)" 403
t_check "carl is still in the room" [ "$(members | grep -c carl)" = 1 ]
t_check "madang-api -- user-rooms without a JWT secret is refused (exit 2)" sh -c \
	"'$MADANG_BIN/madang-api' --rpc '$RPC' --user-rooms </dev/null 2>/dev/null; [ \$? -eq 2 ]"
t_done
