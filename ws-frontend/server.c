/* server.c — the lws side of madang-ws: our own listening socket (shared with SO_REUSEPORT when
 * asked), the HTTP handshake checks (path, Origin), /healthz, the WebSocket lifecycle of a
 * session, receiving client messages, and the write path that coalesces whole frames. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "sdnotify.h"
#include "validate.h"
#include "ws.h"

#define HEALTH_BODY_MAX 1024
#define HTTP_PATH_MAX   512
#define LISTEN_BACKLOG  1024

/* Per-connection memory lws allocates for us: a session, or an HTTP reply being sent. */
struct pss {
	struct ws_session *s;
	bool counted; /* holds a --max-conns-per-ip slot */
	char addr[NETACL_ADDR_MAX];
	int http_status;
	size_t body_len;
	char *body; /* an HTTP reply being sent (malloc'd: most connections never need one) */
};

/* --- sending -------------------------------------------------------------------------- */

void
ws_kick_writable(struct ws_session *s)
{
	uint64_t pending, now;

	if (s->wsi == NULL)
		return;
	pending = sess_pending(s);
	/* Slow consumer: over --queue-limit while the socket does not drain — lws holds a partial
	 * write, or the backlog has stayed over the limit for WS_QUEUE_GRACE_MS (the kernel took
	 * our last write whole and the socket has not been writable since). A burst that merely
	 * arrived between two writes to a client that keeps up is not held against it, up to
	 * WS_QUEUE_BURST times the limit. */
	if (pending > ws->o.queue_limit) {
		now = clock_mono_ms();
		if (s->over_since_ms == 0)
			s->over_since_ms = now;
		if (s->close_code == 0 &&
		    (lws_partial_buffered(s->wsi) || now - s->over_since_ms >= WS_QUEUE_GRACE_MS ||
		     pending > WS_QUEUE_BURST * ws->o.queue_limit)) {
			ws->c.slow_consumers++;
			log_info("ws: session %llu (%s) closed: slow consumer, %llu bytes queued",
				 (unsigned long long)s->serial, s->has_user ? s->user : "-",
				 (unsigned long long)pending);
			s->close_logged = true;
			/* Out of every room at once, so that nobody else waits for it. */
			for (size_t i = 0; i < s->max_rooms; i++)
				if (s->rooms[i] != NULL)
					rooms_leave(s, s->rooms[i], true, "disconnected");
			sess_drop_queue(s);
			ws_close(s, WS_CLOSE_POLICY, "slow consumer", false);
			return;
		}
	} else {
		s->over_since_ms = 0;
	}
	lws_callback_on_writable(s->wsi);
}

void
ws_send_json(struct ws_session *s, const char *json, size_t len)
{
	struct ws_frame *f;

	if (s->wsi == NULL || (s->close_code != 0 && !s->close_flush))
		return;
	if ((f = ws_frame_text(json, len)) == NULL)
		return;
	sess_push(s, f);
	ws_frame_unref(f);
	ws_kick_writable(s);
}

void
ws_send_obj(struct ws_session *s, cJSON *obj)
{
	char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;

	cJSON_Delete(obj);
	if (text == NULL)
		return;
	ws_send_json(s, text, strlen(text));
	free(text);
}

void
ws_send_error(struct ws_session *s, const char *code, const char *message, const char *request,
	      const char *room_id, const char *client_id)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "type", "error");
	cJSON_AddStringToObject(o, "code", code);
	cJSON_AddStringToObject(o, "message", message);
	if (request != NULL)
		cJSON_AddStringToObject(o, "request", request);
	if (room_id != NULL)
		cJSON_AddStringToObject(o, "room_id", room_id);
	if (client_id != NULL)
		cJSON_AddStringToObject(o, "client_id", client_id);
	ws_send_obj(s, o);
}

void
ws_close(struct ws_session *s, uint16_t code, const char *reason, bool flush)
{
	if (s->wsi == NULL || s->close_code != 0)
		return;
	s->close_code = code;
	s->close_flush = flush;
	snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
	if (!flush)
		sess_drop_queue(s);
	lws_callback_on_writable(s->wsi);
	/* Backstop: a peer that never lets us write is cut without a close frame. */
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, 3);
}

struct notify_arg {
	const char *code, *message;
};

static void
notify_one(struct ws_session *s, void *arg)
{
	struct notify_arg *a = arg;

	if (s->wsi != NULL && s->close_code == 0)
		ws_send_error(s, a->code, a->message, NULL, NULL, NULL);
}

void
ws_notify_all(const char *code, const char *message)
{
	struct notify_arg a = {code, message};

	sesstab_each(&ws->sessions, notify_one, &a);
}

/* One lws_write per WRITEABLE: every pending whole frame, up to WS_WRITE_CHUNK, as raw bytes
 * (server frames are unmasked, so they pass through unchanged and arrive as that many
 * messages). lws keeps whatever the kernel does not take and fires no WRITEABLE until it has
 * drained, so every write and the close frame start on a frame boundary. */
static int
ws_writable(struct lws *wsi, struct ws_session *s)
{
	struct sbuf *b = &ws->wbuf;
	uint64_t pending;
	size_t frames;

	if (s->close_sent)
		return 0; /* waiting for the client's close frame (or the timeout) */
	if (s->close_code != 0 && (!s->close_flush || sess_pending(s) == 0)) {
		/* The close frame goes out now, but the socket stays open until the client answers
		 * with its own close frame (lws then closes it) or PENDING_TIMEOUT_CLOSE_ACK passes.
		 * Closing at once would make the kernel answer the client's data still in flight
		 * with a reset, which can destroy the close frame before the client reads it. */
		unsigned char buf[LWS_PRE + 4 + sizeof(s->close_reason)], *f = buf + LWS_PRE;
		size_t rl = strlen(s->close_reason); /* < 64: fits a one-byte length */
		f[0] = 0x88; /* FIN + close; written raw like every other frame of ours */
		f[1] = (unsigned char)(2 + rl);
		f[2] = (unsigned char)(s->close_code >> 8);
		f[3] = (unsigned char)(s->close_code & 0xff);
		memcpy(f + 4, s->close_reason, rl);
		s->close_sent = true;
		if (lws_write(wsi, f, 4 + rl, LWS_WRITE_RAW) < 0)
			return -1;
		lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, 3);
		return 0;
	}
	sbuf_reset(b);
	if (!sbuf_reserve(b, LWS_PRE))
		return -1;
	b->len = LWS_PRE;
	frames = sess_collect(s, b, LWS_PRE + WS_WRITE_CHUNK);
	if (b->oom) {
		log_error("ws: session %llu: out of memory writing", (unsigned long long)s->serial);
		return -1;
	}
	if (frames > 0 &&
	    lws_write(wsi, (unsigned char *)b->data + LWS_PRE, b->len - LWS_PRE, LWS_WRITE_RAW) < 0)
		return -1;
	pending = sess_pending(s);
	if (pending <= ws->o.queue_limit)
		s->over_since_ms = 0; /* caught up */
	if (pending > 0 || s->close_code != 0)
		lws_callback_on_writable(wsi);
	return 0;
}

/* --- sessions ------------------------------------------------------------------------- */

static void
ws_session_id(char out[WS_SESSION_LEN + 1])
{
	unsigned char rnd[WS_SESSION_LEN / 2];
	size_t got = 0;

	while (got < sizeof(rnd)) {
		ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort(); /* no kernel randomness: nothing safe to do */
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

/* The client address: the peer, or the X-Forwarded-For client behind a trusted proxy. */
static void
ws_client_addr(struct lws *wsi, char out[NETACL_ADDR_MAX])
{
	char peer[NETACL_ADDR_MAX] = "", xff[1024];
	int n;

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	n = lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR);
	netacl_client(&ws->o.trusted, peer, n > 0 ? xff : NULL, out);
}

static const char *
ws_arg(struct lws *wsi, const char *name, char *buf, int len)
{
	return lws_get_urlarg_by_name(wsi, name, buf, len);
}

/* The handshake is done: set up the session or close with the documented code. */
static int
ws_established(struct lws *wsi, struct pss *p)
{
	char path[HTTP_PATH_MAX], id[WS_SESSION_LEN + 1];
	char a_user[MADANG_NICK_MAX_BYTES + 8], a_since[32], a_epoch[32], a_resume[64];
	const char *why = NULL;
	struct ws_session *s;
	struct route rt;
	int bad = 0;

	ws_client_addr(wsi, p->addr);
	p->counted = ipcount_take(&ws->ips, p->addr, ws->o.max_conns_per_ip);
	ws_session_id(id);
	if ((s = sess_new(id, ws->o.max_rooms)) == NULL)
		return -1;
	s->wsi = wsi;
	s->serial = ++ws->next_serial;
	bucket_init(&s->bucket, ws->o.rate, ws->o.burst, clock_mono_ns());
	snprintf(s->addr, sizeof(s->addr), "%s", p->addr);
	p->s = s;
	sesstab_add(&ws->sessions, s);
	ws->c.connections++;

	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 ||
	    route_path(path, &rt, &why) != 0)
		bad = 1;
	else if (route_query(&rt, ws_arg(wsi, "user=", a_user, sizeof(a_user)),
			     ws_arg(wsi, "since=", a_since, sizeof(a_since)),
			     ws_arg(wsi, "epoch=", a_epoch, sizeof(a_epoch)),
			     ws_arg(wsi, "resume=", a_resume, sizeof(a_resume)), &why) != 0)
		bad = 1;
	if (!p->counted) {
		ws->c.refused++;
		log_info("ws: session %llu from %s refused: too many connections from one address",
			 (unsigned long long)s->serial, p->addr);
		ws_close(s, WS_CLOSE_POLICY, "too many connections from your address", false);
		return 0;
	}
	if (bad) {
		ws->c.refused++;
		ws_close(s, WS_CLOSE_BAD_REQUEST, why ? why : "bad request", false);
		return 0;
	}
	if (!broker_up() || ws->stopping) {
		ws->c.refused++;
		ws_close(s, ws->stopping ? WS_CLOSE_GOING_AWAY : WS_CLOSE_TRY_LATER,
			 ws->stopping ? "server shutting down" : "chat service unavailable, try again later",
			 false);
		return 0;
	}
	s->route = rt;
	s->opened = true;
	if (rt.has_user) {
		s->has_user = true;
		snprintf(s->user, sizeof(s->user), "%s", rt.user);
	}
	log_info("ws: session %llu from %s opened (%s%s%s)", (unsigned long long)s->serial, p->addr,
		 rt.single ? rt.room_id : "multi-room", rt.has_user ? ", " : "",
		 rt.has_user ? rt.user : "");
	client_opened(s);
	return 0;
}

static void
ws_closed(struct pss *p)
{
	struct ws_session *s = p->s;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->max_rooms; i++)
		if (s->rooms[i] != NULL)
			rooms_leave(s, s->rooms[i], true, "disconnected");
	sess_drop_queue(s);
	sesstab_del(&ws->sessions, s);
	if (s->opened && !s->close_logged)
		log_info("ws: session %llu (%s) closed%s%s", (unsigned long long)s->serial,
			 s->has_user ? s->user : "-", s->close_code ? ": " : "",
			 s->close_code ? s->close_reason : "");
	s->wsi = NULL;
	p->s = NULL;
	sess_unref(s);
}

/* RECEIVE — reassembles a message (at most WS_FRAME_MAX bytes over all its fragments). */
static int
ws_receive(struct lws *wsi, struct ws_session *s, const char *in, size_t len)
{
	size_t remaining = lws_remaining_packet_payload(wsi);
	bool final = lws_is_final_fragment(wsi) && remaining == 0;

	if (s->close_code != 0)
		return 0; /* closing: input is ignored */
	if (lws_frame_is_binary(wsi)) {
		ws_close(s, WS_CLOSE_UNSUPPORTED, "binary messages are not supported", false);
		return 0;
	}
	if (s->rx.len + len + remaining > WS_FRAME_MAX) {
		sbuf_reset(&s->rx);
		ws_close(s, WS_CLOSE_TOO_BIG, "message too big", false);
		return 0;
	}
	if (final && s->rx.len == 0) {
		client_message(s, in, len);
		return 0;
	}
	sbuf_add(&s->rx, in, len);
	if (s->rx.oom) {
		ws_close(s, WS_CLOSE_INTERNAL, "out of memory", false);
		return 0;
	}
	if (final) {
		client_message(s, s->rx.data, s->rx.len);
		sbuf_reset(&s->rx);
		if (s->rx.cap > WS_RX_BUFFER * 4)
			sbuf_fini(&s->rx); /* do not keep a big buffer for every idle client */
	}
	return 0;
}

/* --- HTTP ----------------------------------------------------------------------------- */

/* Splits "host[:port]" or "[v6]:port" into host and port (port "" when absent). */
static void
split_hostport(const char *in, char *host, size_t hsz, char *port, size_t psz)
{
	const char *colon;
	size_t n;

	port[0] = '\0';
	if (in[0] == '[') {
		const char *close = strchr(in, ']');
		n = close != NULL ? (size_t)(close - in + 1) : strlen(in);
		colon = close != NULL && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(in, ':');
		n = colon != NULL ? (size_t)(colon - in) : strlen(in);
	}
	snprintf(host, hsz, "%.*s", (int)n, in);
	if (colon != NULL)
		snprintf(port, psz, "%s", colon + 1);
}

/* Without --origins, "Origin: scheme://host[:port]" must name the host the client asked for
 * (the Host header). A proxy that passes Host without the port (nginx's $host) is matched on
 * the host name alone. With --origins, the Origin must be one of the list ("*": any). */
static bool
origin_ok(struct lws *wsi)
{
	char origin[256], host[256], oh[256], op[16], hh[256], hp[16];
	const char *o;
	int n = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);

	if (n <= 0)
		return true; /* no Origin: not a browser */
	if (ws->o.origins != NULL) {
		const char *p = ws->o.origins;
		if (strcmp(p, "*") == 0)
			return true;
		while (*p != '\0') {
			size_t len = strcspn(p, ",");
			if (len == strlen(origin) && strncasecmp(p, origin, len) == 0)
				return true;
			p += len;
			if (*p == ',')
				p++;
		}
		return false;
	}
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
		return false;
	o = strstr(origin, "://");
	if (o == NULL)
		return false; /* "null" and other opaque origins */
	split_hostport(o + 3, oh, sizeof(oh), op, sizeof(op));
	split_hostport(host, hh, sizeof(hh), hp, sizeof(hp));
	if (strcasecmp(oh, hh) != 0)
		return false;
	if (hp[0] == '\0')
		return true;
	if (op[0] == '\0')
		snprintf(op, sizeof(op), "%s", strncasecmp(origin, "https:", 6) == 0 ? "443" : "80");
	return strcmp(op, hp) == 0;
}

static int
http_reply(struct lws *wsi, struct pss *p, int status, const char *body)
{
	unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *q = start, *end = buf + sizeof(buf);

	free(p->body);
	p->body_len = strlen(body);
	if ((p->body = strdup(body)) == NULL)
		return -1;
	p->http_status = status;
	if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", p->body_len, &q,
					end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (unsigned char *)"no-store",
					 8, &q, end) ||
	    lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
http_request(struct lws *wsi, struct pss *p, const char *uri)
{
	char body[HEALTH_BODY_MAX];
	bool up = broker_up() && !ws->stopping;

	if (strcmp(uri, "/healthz") != 0)
		return http_reply(wsi, p, 404,
				  "{\"error\":\"not_found\",\"message\":\"WebSocket endpoints: /ws and "
				  "/ws/{room_id}/{username}; health: /healthz\"}\n");
	snprintf(body, sizeof(body),
		 "{\"status\":\"%s\",\"frontend\":\"%s\",\"broker\":\"%s\",\"epoch\":\"%s\","
		 "\"sessions\":%zu,\"rooms\":%zu,\"counters\":{\"connections\":%llu,\"refused\":%llu,"
		 "\"slow_consumers\":%llu,\"rate_limited\":%llu,\"gaps_repaired\":%llu,"
		 "\"events\":%llu,\"resyncs\":%llu}}\n",
		 up ? "ok" : "unavailable", ws->o.id, ws->stopping ? "stopping" : broker_state_name(),
		 ws->epoch, ws->sessions.n, ws->rooms.n, (unsigned long long)ws->c.connections,
		 (unsigned long long)ws->c.refused, (unsigned long long)ws->c.slow_consumers,
		 (unsigned long long)ws->c.rate_limited, (unsigned long long)ws->c.gaps,
		 (unsigned long long)ws->c.events, (unsigned long long)ws->c.resyncs);
	return http_reply(wsi, p, up ? 200 : 503, body);
}

/* --- the protocol callback ------------------------------------------------------------ */

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *p = user;
	char uri[HTTP_PATH_MAX];

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0) {
			if (lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL))
				return -1;
			return lws_http_transaction_completed(wsi) ? -1 : 0;
		}
		return http_request(wsi, p, uri) != 0 ? -1 : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (p == NULL || p->http_status == 0)
			break;
		if (lws_write(wsi, (unsigned char *)p->body, p->body_len, LWS_WRITE_HTTP_FINAL) !=
		    (int)p->body_len)
			return -1;
		p->http_status = 0;
		free(p->body);
		p->body = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
		/* Handshake checks: a WebSocket path, and an allowed Origin. */
		if (in == NULL || strcmp(in, "websocket") != 0)
			return -1;
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		    (strcmp(uri, "/ws") != 0 && strncmp(uri, "/ws/", 4) != 0)) {
			lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
			return -1;
		}
		if (!origin_ok(wsi)) {
			ws->c.refused++;
			log_info("ws: handshake refused: Origin not allowed");
			lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
			return -1;
		}
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED:
		return ws_established(wsi, p);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (p == NULL || p->s == NULL)
			return -1;
		return ws_writable(wsi, p->s);
	case LWS_CALLBACK_RECEIVE:
		if (p == NULL || p->s == NULL)
			return -1;
		return ws_receive(wsi, p->s, in, len);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* The client's close answers ours: lws must not echo it (a second close frame is a
		 * protocol error for browsers), just close the connection. */
		if (p != NULL && p->s != NULL && p->s->close_sent)
			return 1;
		break;
	case LWS_CALLBACK_CLOSED:
		ws_closed(p);
		if (p != NULL && p->counted) {
			ipcount_drop(&ws->ips, p->addr);
			p->counted = false;
		}
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		rpc_drain();
		break;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_WSI_DESTROY:
		if (p != NULL) {
			free(p->body);
			p->body = NULL;
		}
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* --- raw descriptors: the listener, the broker's events, signals ----------------------- */

static void
ws_accept(void)
{
	int one = 1;

	for (int i = 0; i < 256; i++) {
		lws_sock_file_fd_type fd;
		int c = accept4(ws->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("ws: accept: %s", strerror(errno));
			return;
		}
		/* Small frames go out at once (lws leaves adopted sockets as they are). */
		if (setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
			log_warn("ws: TCP_NODELAY: %s", strerror(errno));
		fd.sockfd = c;
		if (lws_adopt_descriptor_vhost(ws->vh, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP, fd, NULL,
					       NULL) == NULL)
			log_warn("ws: could not adopt a connection"); /* lws closed it */
	}
}

static void
ws_signal(void)
{
	struct signalfd_siginfo si;

	while (read(lws_get_socket_fd(ws->signal_wsi), &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (!ws->stopping)
			log_info("ws: signal %u, shutting down", si.ssi_signo);
		ws_stop();
	}
}

static int
raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == ws->listen_wsi)
			ws_accept();
		else if (wsi == ws->events_wsi)
			broker_events_readable();
		else if (wsi == ws->signal_wsi)
			ws_signal();
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == ws->listen_wsi)
			ws->listen_wsi = NULL;
		else if (wsi == ws->events_wsi)
			ws->events_wsi = NULL;
		else if (wsi == ws->signal_wsi)
			ws->signal_wsi = NULL;
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		rpc_drain();
		broker_poke();
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols ws_protocols[] = {
	{"madang", ws_callback, sizeof(struct pss), WS_RX_BUFFER, 0, NULL, WS_WRITE_CHUNK + 64},
	{"madang-raw", raw_callback, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static lws_retry_bo_t ws_retry;

static void
ws_tick_cb(lws_sorted_usec_list_t *sul)
{
	broker_tick();
	rooms_tick();
	if (ws->stopping) {
		if ((ws->sessions.n == 0 && ws->njobs == 0) || clock_mono_ms() >= ws->stop_deadline_ms)
			ws->exit_loop = true;
		lws_sul_schedule(ws->ctx, 0, sul, ws_tick_cb, 50 * LWS_US_PER_MS);
		return;
	}
	lws_sul_schedule(ws->ctx, 0, sul, ws_tick_cb, (lws_usec_t)ws->heartbeat_ms * LWS_US_PER_MS);
}

static void
stop_one(struct ws_session *s, void *arg)
{
	(void)arg;
	ws_close(s, WS_CLOSE_GOING_AWAY, "server shutting down", false);
}

void
ws_stop(void)
{
	if (ws->stopping)
		return;
	ws->stopping = true;
	ws->stop_deadline_ms = clock_mono_ms() + WS_STOP_GRACE_MS;
	sd_notify_send("STOPPING=1");
	if (ws->listen_wsi != NULL) {
		lws_set_timeout(ws->listen_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	sesstab_each(&ws->sessions, stop_one, NULL);
	lws_sul_schedule(ws->ctx, 0, &ws->tick, ws_tick_cb, 10 * LWS_US_PER_MS);
}

static int
ws_listen_socket(void)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char port[16];
	int fd = -1, one = 1, rv;

	snprintf(port, sizeof(port), "%d", ws->o.port);
	if ((rv = getaddrinfo(ws->o.host[0] ? ws->o.host : NULL, port, &hints, &res)) != 0) {
		log_error("ws: cannot resolve %s: %s", ws->o.listen, gai_strerror(rv));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ws->o.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		log_error("ws: cannot listen on %s: %s", ws->o.listen, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
server_init(void)
{
	struct lws_context_creation_info info;
	lws_sock_file_fd_type fd;
	sigset_t mask;
	int sfd;

	memset(&info, 0, sizeof(info));
	memset(&ws_retry, 0, sizeof(ws_retry));
	ws_retry.secs_since_valid_ping = (uint16_t)ws->o.ping_interval;
	ws_retry.secs_since_valid_hangup = (uint16_t)(ws->o.ping_interval * 2);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.retry_and_idle_policy = &ws_retry;
	info.timeout_secs = 10; /* handshake and HTTP */
	info.vhost_name = "madang-ws";
	info.user = ws;
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	if ((ws->ctx = lws_create_context(&info)) == NULL) {
		log_error("ws: lws_create_context failed");
		return -1;
	}
	if ((ws->vh = lws_get_vhost_by_name(ws->ctx, "madang-ws")) == NULL) {
		log_error("ws: no vhost");
		return -1;
	}
	if (sbuf_reserve(&ws->wbuf, LWS_PRE + WS_WRITE_CHUNK + 4096) == false)
		return -1;

	/* Signals arrive as a readable descriptor inside the loop. They are blocked in every
	 * thread (nng's threads inherit the mask, main.c blocks them before nng starts). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		log_error("ws: signalfd: %s", strerror(errno));
		return -1;
	}
	fd.filefd = sfd;
	if ((ws->signal_wsi = lws_adopt_descriptor_vhost(ws->vh, LWS_ADOPT_RAW_FILE_DESC, fd,
							 "madang-raw", NULL)) == NULL) {
		log_error("ws: cannot adopt the signal descriptor");
		return -1;
	}

	if ((ws->listen_fd = ws_listen_socket()) < 0)
		return -1;
	fd.filefd = ws->listen_fd;
	if ((ws->listen_wsi = lws_adopt_descriptor_vhost(ws->vh, LWS_ADOPT_RAW_FILE_DESC, fd,
							 "madang-raw", NULL)) == NULL) {
		log_error("ws: cannot adopt the listening socket");
		return -1;
	}
	lws_sul_schedule(ws->ctx, 0, &ws->tick, ws_tick_cb, (lws_usec_t)ws->heartbeat_ms * LWS_US_PER_MS);
	return 0;
}

void
server_fini(void)
{
	if (ws->ctx != NULL)
		lws_context_destroy(ws->ctx);
	ws->ctx = NULL;
	sbuf_fini(&ws->wbuf);
}
