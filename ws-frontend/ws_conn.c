/* ws_conn.c — one client connection's life in madang-ws (ws_conn.h): the session set up or
 * refused at the handshake, messages reassembled from frames, keep-alive, and the reap pass.
 * Writing: ws_out.c. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "policy.h"
#include "slab.h"
#include "utf8.h"
#include "validate.h"
#include "ws_client.h"
#include "ws_conn.h"
#include "ws_delivery.h"
#include "ws_members.h"
#include "ws_out.h"
#include "ws_state.h"

static struct {
	struct ipcount ips; /* connections per client address (--max-conns-per-ip) */
	uint64_t next_serial;
	uint64_t churn;       /* connections opened or closed since the last malloc_trim */
	uint64_t churn_swept; /* churn at the last keep-alive sweep (policy_trim) */
} cn;

void
conn_init(void)
{
	ipcount_init(&cn.ips);
}

void
conn_fini(void)
{
	ipcount_fini(&cn.ips);
}

/* A connection that is going away: out of every room (the broker told, the others get a leave
 * notice), and nothing more queued for it. */
static void
ws_leave_all(struct ws_session *s)
{
	for (size_t i = 0; i < s->rooms_cap; i++) {
		struct ws_member *m = sess_slots(s)[i];
		if (m != NULL)
			members_leave(s, m, true, "disconnected");
	}
	sess_drop_queue(s);
}

void
conn_reap(void)
{
	struct ws_session *s;

	while ((s = out_take_slow()) != NULL) {
		if (s->wsi != NULL) {
			/* Out of every room at once, so that nobody else waits for it. */
			ws_leave_all(s);
			out_close(s, WS_CLOSE_POLICY, "slow consumer", false);
		}
		sess_unref(s);
	}
}

/* Keep-alive, done here rather than with lws's per-connection validity timers: those sit in one
 * sorted list that every pong re-enters with a walk from its head, which made each pong cost
 * O(connections). One sweep over the sessions every so often costs O(connections) per sweep
 * instead. Every client gets a ping each --ping-interval seconds (with its next write: the
 * traffic also keeps proxies' read timeouts and NAT entries from expiring on a quiet room); a
 * client from which nothing came for twice the interval is cut without a close frame (it is not
 * reading anyway). Any frame from the client counts, a pong as much as a message. */
struct keepalive_now {
	uint64_t mono_ms;
	int64_t wall_ms;
};

static void
keepalive_one(struct ws_session *s, void *arg)
{
	const struct keepalive_now *t = arg;
	uint64_t now = t->mono_ms, idle, interval = (uint64_t)ws->o.ping_interval * 1000;

	if (s->x != NULL && s->x->hist_init && bytebucket_full(&s->x->hist, clock_mono_ns())) {
		/* Its history budget is paid up: it would start full again, so it need not be kept
		 * (nor the extra part for it). */
		s->x->hist_init = false;
		sess_extra_trim(s);
	}
	if (s->wsi == NULL || !s->opened || s->close_code != 0 ||
	    sess_ms_since(s->last_rx_ms, now) < 0 || sess_ms_since(s->last_ping_ms, now) < 0)
		return; /* heard from after this sweep began */
	if (sess_token_exp(s) != 0 && t->wall_ms >= sess_token_exp(s)) {
		/* The token the connection was opened with is no longer valid: the client gets a
		 * fresh one and connects again (docs/protocol.md, "Close codes"). */
		log_info("ws: session %llu (%s) closed: token expired",
		         (unsigned long long)s->serial, s->user != NULL ? s->user : "-");
		s->close_logged = true;
		out_close(s, WS_CLOSE_UNAUTHORIZED, "token expired", true);
		return;
	}
	if (s->x != NULL && s->x->probe_until_ms != 0 && now >= s->x->probe_until_ms) {
		/* Nothing heard since the probe went out. */
		bool silent =
		    sess_ms_since(s->last_rx_ms, s->x->probe_until_ms - WS_PROBE_WAIT_MS) > 0;
		s->x->probe_until_ms = 0;
		sess_extra_trim(s);
		if (silent) {
			log_info("ws: session %llu (%s) dropped: no answer to a probe (a newcomer "
			         "wants its nickname)",
			         (unsigned long long)s->serial, s->user != NULL ? s->user : "-");
			out_cut(s);
			return;
		}
	}
	idle = (uint64_t)sess_ms_since(s->last_rx_ms, now);
	if (idle >= 2 * interval) {
		log_info("ws: session %llu (%s) dropped: no answer to pings for %llu ms",
		         (unsigned long long)s->serial, s->user != NULL ? s->user : "-",
		         (unsigned long long)idle);
		out_cut(s);
	} else if ((uint64_t)sess_ms_since(s->last_ping_ms, now) >= interval && !s->ping_due) {
		s->last_ping_ms = (uint32_t)now;
		out_ping(s);
	}
}

void
conn_keepalive(void)
{
	struct keepalive_now t = {clock_mono_ms(), (int64_t)clock_wall_ms()};

	sesstab_each(&ws->sessions, keepalive_one, &t);
	/* A quiet room's frames are about a join event per member: count them as churn. */
	cn.churn += delivery_cool(t.mono_ms);
	if (policy_trim(cn.churn, cn.churn_swept)) {
		/* A burst is over: its free pages go back (policy.h), the slabs' and malloc's. */
		uint64_t t0 = clock_mono_ns();
		size_t slabs = slab_trim();
#ifdef __GLIBC__
		malloc_trim(0);
#endif
		log_debug("ws: trim after %llu connections came or went (or their rooms went "
		          "quiet): %zu empty slabs, %llu us",
		          (unsigned long long)cn.churn, slabs,
		          (unsigned long long)(clock_mono_ns() - t0) / 1000);
		cn.churn = 0;
	}
	cn.churn_swept = cn.churn;
}

void
conn_probe(struct ws_session *s)
{
	uint64_t now = clock_mono_ms();
	struct ws_sess_extra *x;

	if (s->wsi == NULL || s->close_code != 0 || (s->x != NULL && s->x->probe_until_ms != 0) ||
	    sess_ms_since(s->last_rx_ms, now) < WS_PROBE_WAIT_MS)
		return;
	if ((x = sess_extra(s)) == NULL)
		return; /* out of memory: no probe (the holder keeps its nickname) */
	x->probe_until_ms = now + WS_PROBE_WAIT_MS;
	s->last_ping_ms = (uint32_t)now;
	out_ping(s);
}

void
conn_heard(struct ws_session *s)
{
	s->last_rx_ms = (uint32_t)clock_mono_ms();
}

/* --- sessions ------------------------------------------------------------------------- */

/* Fills buf with kernel randomness (getrandom). */
static void
ws_random(unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort(); /* no kernel randomness: nothing safe to do */
		got += (size_t)n;
	}
}

static void
ws_session_id(char out[WS_SESSION_LEN + 1])
{
	unsigned char rnd[WS_SESSION_LEN / 2];

	ws_random(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

/* A nickname for an anonymous member: "guest-" and --guest-digits random hex digits. */
static void
ws_guest_name(char out[MADANG_NICK_MAX_BYTES + 1])
{
	unsigned char rnd[8];
	size_t len = sizeof(WS_GUEST_PREFIX) - 1;

	ws_random(rnd, sizeof(rnd));
	memcpy(out, WS_GUEST_PREFIX, len);
	for (int i = 0; i < ws->o.guest_digits; i++)
		out[len++] = "0123456789abcdef"[(rnd[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
	out[len] = '\0';
}

bool
conn_guest_retry(struct ws_session *s, struct ws_member *m)
{
	char name[MADANG_NICK_MAX_BYTES + 1];

	if (s->wsi == NULL || !s->guest || s->guest_tries >= WS_GUEST_TRIES || s->close_code != 0)
		return false;
	s->guest_tries++;
	ws_guest_name(name);
	if (sess_member_rename(m, name) != 0 || sess_set_user(s, name) != 0)
		return false;
	if (log_enabled(LOG_LVL_DEBUG))
		log_debug("ws: session %llu: nickname taken, trying %s (%u of %d)",
		          (unsigned long long)s->serial, name, s->guest_tries, WS_GUEST_TRIES);
	room_join_enqueue(m->room, m);
	members_pump(m->room);
	return true;
}

/* The client address: the peer, or the X-Forwarded-For client behind a trusted proxy (the
 * handshake refused an X-Forwarded-For longer than WS_XFF_MAX). */
static void
ws_client_addr(struct lws *wsi, char out[NETACL_ADDR_MAX])
{
	char peer[NETACL_ADDR_MAX] = "", xff[WS_XFF_MAX];
	int n;

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	n = http_header(wsi, WSI_TOKEN_X_FORWARDED_FOR, xff, sizeof(xff));
	netacl_client(&ws->o.trusted, peer, n > 0 ? xff : NULL, out);
}

/* The query parameter name (with its '=', e.g. "user=") into buf (size bytes), the first one
 * when repeated. Returns 1 with *val pointing at its value in buf, 0 when absent, -1 when its
 * value does not fit buf or holds a NUL (%00): the connection is refused, never served as if
 * the parameter were absent (lws_get_urlarg_by_name would stop at such a parameter and
 * report it, and every one after it, as absent). */
static int
ws_query(struct lws *wsi, const char *name, char *buf, size_t size, const char **val)
{
	/* Every fragment fits: lws keeps at most WS_HTTP_HEADER_DATA bytes of headers. */
	static char frag[WS_HTTP_HEADER_DATA + 1];
	size_t nl = strlen(name);
	int n;

	*val = NULL;
	for (int i = 0;
	     (n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i)) >= 0;
	     i++) {
		if ((size_t)n < nl || strncmp(frag, name, nl) != 0)
			continue;
		if ((size_t)n - nl >= size || strlen(frag) != (size_t)n)
			return -1;
		memcpy(buf, frag + nl, (size_t)n - nl + 1);
		*val = buf;
		return 1;
	}
	return 0;
}

/* With --jwt-secret-file: the connection's nickname is the one its token names (t, the value of
 * ?token=, or NULL), and nothing else. A missing, malformed, forged, expired or alg-confused
 * token, or a URL nickname that is not the token's, closes it with 4001. The session is closed
 * with 4001 "token expired" when the token expires (ws_keepalive). Returns 0 when authorized,
 * -1 when closed. */
static int
ws_authorize(struct ws_session *s, struct route *rt, const char *t)
{
	struct jwt_claims c;
	const char *why = "a token is required (?token=)";
	char a[MADANG_NICK_MAX_BYTES + 1], b[MADANG_NICK_MAX_BYTES + 1];

	if (t == NULL ||
	    jwt_verify(&ws->o.jwt, t, strlen(t), clock_wall_ms() / 1000, &c, &why) != 0)
		goto refuse;
	if (rt->has_user) {
		nick_fold(rt->user, a, sizeof(a));
		nick_fold(c.name, b, sizeof(b));
		if (strcmp(a, b) != 0) {
			why = "the token is for another nickname";
			goto refuse;
		}
	}
	rt->has_user = true;
	snprintf(rt->user, sizeof(rt->user), "%s", c.name);
	if (sess_set_subject(s, c.sub) != 0) {
		out_close(s, WS_CLOSE_INTERNAL, "out of memory", false);
		return -1;
	}
	s->authenticated = true;
	s->admin = c.admin;
	/* Closed (4001) once the token would no longer be accepted: exp plus the clock leeway
	 * jwt_verify allows. */
	if (sess_set_token_exp(s, c.exp < INT64_MAX / 1000 - JWT_LEEWAY_S
	                              ? (c.exp + JWT_LEEWAY_S) * 1000
	                              : INT64_MAX) != 0) {
		out_close(s, WS_CLOSE_INTERNAL, "out of memory", false);
		return -1;
	}
	return 0;
refuse:
	ws->c.refused++;
	log_info("ws: session %llu from %s refused: %s", (unsigned long long)s->serial, s->addr,
	         why);
	out_close(s, WS_CLOSE_UNAUTHORIZED, why, false);
	return -1;
}

/* The request path, percent-decoded by lws, into path (WS_HTTP_PATH_MAX). lws ends the string
 * at a decoded %00 but counts the bytes after it: a path whose length is not what lws counted
 * is refused, as is one too long. lws also ends the request line at a decoded CR or LF
 * (%0D, %0A) and drops the rest, the HTTP version with it: a request line without one was cut
 * (/ws/room1/a%0Ab would join as "a") and is refused. 0 or -1 with *why. */
static int
ws_path(struct lws *wsi, char path[WS_HTTP_PATH_MAX], const char **why)
{
	int n = http_header(wsi, WSI_TOKEN_GET_URI, path, WS_HTTP_PATH_MAX);

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP) <= 0) {
		*why = "the request line holds a CR or LF (%0D, %0A)";
		return -1;
	}
	if (n <= 0) {
		*why = "the request path is too long";
		return -1;
	}
	if (strlen(path) != (size_t)n) {
		*why = "the path contains a NUL (%00)";
		return -1;
	}
	return 0;
}

/* The query parameters route.h knows, checked; 0 or -1 with *why. */
static int
ws_route_query(struct lws *wsi, struct route *rt, char *token, size_t toksz, const char **tok,
               const char **why)
{
	char a_user[MADANG_NICK_MAX_BYTES + 8], a_since[32], a_epoch[32], a_resume[64];
	const char *user, *since, *epoch, *resume;

	*tok = NULL;
	if (ws_query(wsi, "user=", a_user, sizeof(a_user), &user) < 0 ||
	    ws_query(wsi, "since=", a_since, sizeof(a_since), &since) < 0 ||
	    ws_query(wsi, "epoch=", a_epoch, sizeof(a_epoch), &epoch) < 0 ||
	    ws_query(wsi, "resume=", a_resume, sizeof(a_resume), &resume) < 0 ||
	    (ws->o.auth && ws_query(wsi, "token=", token, toksz, tok) < 0)) {
		*why = "a query parameter is too long or contains a NUL (%00)";
		return -1;
	}
	return route_query(rt, user, since, epoch, resume, why);
}

/* The handshake is done: set up the session or close with the documented code. */
int
conn_established(struct lws *wsi)
{
	char path[WS_HTTP_PATH_MAX], id[WS_SESSION_LEN + 1], addr[NETACL_ADDR_MAX];
	static char a_token[WS_QUERY_ARG_MAX]; /* lws thread only */
	const char *why = NULL, *token = NULL, *counted;
	struct ws_session *s;
	struct route rt;
	int bad = 0;

	ws_client_addr(wsi, addr);
	counted = ipcount_take(&cn.ips, addr, ws->o.max_conns_per_ip);
	ws_session_id(id);
	if ((s = sess_new(id, ws->o.max_rooms)) == NULL) {
		if (counted != NULL)
			ipcount_drop(&cn.ips, counted);
		return -1;
	}
	s->wsi = wsi;
	s->addr = counted != NULL ? counted : ""; /* "": refused below */
	s->addr_counted = counted != NULL;
	s->serial = ++cn.next_serial;
	cn.churn++;
	conn_heard(s);
	s->last_ping_ms = s->last_rx_ms;
	bucket_init(&s->bucket, &ws->o.msg_rate, clock_mono_ns());
	if (sesstab_add(&ws->sessions, s) != 0) {
		sess_unref(s); /* out of memory: refused like a failed sess_new */
		if (counted != NULL)
			ipcount_drop(&cn.ips, counted);
		return -1;
	}
	lws_set_opaque_user_data(wsi, s); /* until conn_closed */
	ws->c.connections++;

	if (ws_path(wsi, path, &why) != 0 || route_path(path, &rt, &why) != 0 ||
	    ws_route_query(wsi, &rt, a_token, sizeof(a_token), &token, &why) != 0)
		bad = 1;
	if (counted == NULL) {
		ws->c.refused++;
		log_info("ws: session %llu from %s refused: too many connections from one address",
		         (unsigned long long)s->serial, addr);
		out_close(s, WS_CLOSE_POLICY, "too many connections from your address", false);
		return 0;
	}
	if (bad) {
		ws->c.refused++;
		out_close(s, WS_CLOSE_BAD_REQUEST, why ? why : "bad request", false);
		return 0;
	}
	if (ws->stopping) {
		ws->c.refused++;
		out_close(s, WS_CLOSE_GOING_AWAY, "server shutting down", false);
		return 0;
	}
	if (ws->o.auth && ws_authorize(s, &rt, token) != 0)
		return 0;
	if (rt.guest && !rt.has_user) {
		/* /ws/chat/{room_id} without a token: a made-up nickname, another one if taken. */
		ws_guest_name(rt.user);
		rt.has_user = true;
		s->guest = true;
		s->guest_tries = 1;
	}
	if (sess_set_route(s, &rt, rt.has_user ? rt.user : NULL) != 0) {
		out_close(s, WS_CLOSE_INTERNAL, "out of memory", false);
		return 0;
	}
	s->opened = true;
	log_info("ws: session %llu from %s opened (%s%s%s%s)", (unsigned long long)s->serial,
	         s->addr, rt.single ? rt.room_id : "multi-room", rt.has_user ? ", " : "",
	         rt.has_user ? rt.user : "", s->guest ? ", guest" : "");
	client_opened(s, &rt);
	return 0;
}

void
conn_closed(struct lws *wsi)
{
	struct ws_session *s = lws_get_opaque_user_data(wsi);
	/* The session's addr is this entry's copy: dropped last. */
	const char *counted = s != NULL && s->addr_counted ? s->addr : NULL;

	if (s == NULL)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	cn.churn++;
	ws_leave_all(s);
	sesstab_del(&ws->sessions, s);
	if (s->opened && !s->close_logged)
		log_info("ws: session %llu (%s) closed%s%s", (unsigned long long)s->serial,
		         s->user != NULL ? s->user : "-", s->close_code ? ": " : "",
		         s->close_code && sess_close_reason(s) ? sess_close_reason(s) : "");
	s->wsi = NULL;
	s->addr = NULL;
	s->addr_counted = false;
	sess_unref(s);
	if (counted != NULL)
		ipcount_drop(&cn.ips, counted);
}

/* RECEIVE — reassembles a message (at most WS_FRAME_MAX bytes over all its fragments). */
int
conn_receive(struct lws *wsi, struct ws_session *s, const char *in, size_t len)
{
	size_t remaining = lws_remaining_packet_payload(wsi), have;
	bool final = lws_is_final_fragment(wsi) && remaining == 0;
	struct ws_sess_extra *x;

	conn_heard(s);
	if (s->close_code != 0)
		return 0; /* closing: input is ignored */
	if (lws_frame_is_binary(wsi)) {
		out_close(s, WS_CLOSE_UNSUPPORTED, "binary messages are not supported", false);
		return 0;
	}
	x = s->x;
	have = x != NULL ? x->rx.len : 0;
	if (have + len + remaining > WS_FRAME_MAX) {
		if (x != NULL)
			sbuf_fini(&x->rx);
		out_close(s, WS_CLOSE_TOO_BIG, "message too big", false);
		return 0;
	}
	if (final && have == 0) {
		client_message(s, in, len); /* whole in one piece: no reassembly buffer */
		return 0;
	}
	if ((x = sess_extra(s)) == NULL) {
		out_close(s, WS_CLOSE_INTERNAL, "out of memory", false);
		return 0;
	}
	sbuf_add(&x->rx, in, len);
	if (x->rx.oom) {
		out_close(s, WS_CLOSE_INTERNAL, "out of memory", false);
		return 0;
	}
	if (final) {
		/* x stays while client_message runs: its rx buffer is in use. */
		client_message(s, x->rx.data, x->rx.len);
		/* Freed, not kept for the next: a client that sent one long message would otherwise
		 * hold the buffer and the extra part for as long as it stays connected. */
		sbuf_fini(&x->rx);
		sess_extra_trim(s);
	}
	return 0;
}
