/* ws_out.c — the output layer (ws_out.h): frames queued per client, written as raw bytes in
 * one lws_write per turn (per loop iteration on libev, per WRITEABLE on poll), close frames,
 * and the slow-consumer flag. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "policy.h"
#include "utf8.h"
#include "wire.h"
#include <libwebsockets.h>

#include "ws_state.h"
#include "ws_out.h"

static struct {
	uint64_t queue_limit;
	bool libev;
	struct sbuf wbuf;                     /* write scratch: LWS_PRE headroom + frames */
	struct ws_session *wq_head, *wq_tail; /* libev: sessions to write (out_flush_writes) */
	uint64_t wq_sessions;                 /* listed (the pacing reads it) */
	/* Flagged slow, for the reap pass: an array, not a link in every session (finding 34). */
	struct ws_session **slow_v;
	size_t nslow, slow_cap;
} out;

int
out_init(uint64_t queue_limit, bool libev)
{
	out.queue_limit = queue_limit;
	out.libev = libev;
	sbuf_init(&out.wbuf);
	return sbuf_reserve(&out.wbuf, LWS_PRE + WS_WRITE_CHUNK + 4096) ? 0 : -1;
}

void
out_cut(struct ws_session *s)
{
	s->close_logged = true;
	s->close_code = WS_CLOSE_GOING_AWAY;
	s->close_sent = true;
	sess_drop_queue(s);
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Asks for a write to s. On poll, that is lws's WRITEABLE. On libev, lws would change the
 * socket's epoll registration twice per write (arm, then disarm after WRITEABLE: finding 23 of
 * docs/performance.md), so the session is listed instead, once however many frames it gets,
 * and out_flush_writes writes it when the loop iteration ends. */
static void
out_want_write(struct ws_session *s)
{
	if (!out.libev) {
		lws_callback_on_writable(s->wsi);
		return;
	}
	if (s->wq_listed)
		return;
	s->wq_listed = true;
	out.wq_sessions++;
	s->wq_next = NULL;
	if (out.wq_tail != NULL)
		out.wq_tail->wq_next = sess_ref(s);
	else
		out.wq_head = sess_ref(s);
	out.wq_tail = s;
}

/* Flags s as a slow consumer: nothing more is queued or written for it, and the reap pass
 * takes it out of its rooms and closes it. False when out of memory for the list: s stays as
 * it was, and the next kick tries again. */
static bool
out_flag_slow(struct ws_session *s, uint64_t pending)
{
	if (out.nslow == out.slow_cap) {
		size_t cap = out.slow_cap ? out.slow_cap * 2 : 16;
		struct ws_session **v = realloc(out.slow_v, cap * sizeof(*v));
		if (v == NULL)
			return false;
		out.slow_v = v;
		out.slow_cap = cap;
	}
	ws->c.slow_consumers++;
	log_info("ws: session %llu (%s) closed: slow consumer, %llu bytes queued",
	         (unsigned long long)s->serial, s->user != NULL ? s->user : "-",
	         (unsigned long long)pending);
	s->close_logged = true;
	s->slow = true;
	sess_drop_queue(s);
	out.slow_v[out.nslow++] = sess_ref(s);
	return true;
}

void
out_kick(struct ws_session *s)
{
	uint64_t pending, since = 0;
	struct ws_sess_extra *x;

	if (s->wsi == NULL || s->slow)
		return;
	pending = sess_pending(s);
	/* Over the limit: since when, in the extra part (no memory for it: the grace starts
	 * again at each kick, the burst limit still holds). */
	x = pending > out.queue_limit ? sess_extra(s) : s->x;
	if (x != NULL)
		since = x->over_since_ms;
	bool slow = policy_slow(pending, out.queue_limit, &since, clock_mono_ms(),
	                        pending > out.queue_limit && lws_partial_buffered(s->wsi));
	if (x != NULL && x->over_since_ms != since) {
		x->over_since_ms = since;
		if (since == 0)
			sess_extra_trim(s);
	}
	if (slow && s->close_code == 0 && out_flag_slow(s, pending))
		return;
	out_want_write(s);
}

struct ws_session *
out_take_slow(void)
{
	if (out.nslow == 0) {
		free(out.slow_v); /* most of the time there is none */
		out.slow_v = NULL;
		out.slow_cap = 0;
		return NULL;
	}
	return out.slow_v[--out.nslow];
}

void
out_send_json(struct ws_session *s, const char *json, size_t len)
{
	struct ws_frame *f;

	if (s->wsi == NULL || s->slow || (s->close_code != 0 && !s->close_flush))
		return;
	if ((f = ws_frame_text(json, len)) == NULL)
		return;
	sess_push(s, f);
	ws_frame_unref(f);
	out_kick(s);
}

void
out_send_obj(struct ws_session *s, cJSON *obj)
{
	char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;

	cJSON_Delete(obj);
	if (text == NULL)
		return;
	out_send_json(s, text, strlen(text));
	free(text);
}

void
out_push_obj(struct ws_session *s, const cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);
	struct ws_frame *f;

	if (text == NULL)
		return;
	if ((f = ws_frame_text(text, strlen(text))) != NULL) {
		sess_push(s, f);
		ws_frame_unref(f);
	}
	free(text);
}

void
out_send_error(struct ws_session *s, const char *code, const char *message, const char *request,
               const char *room_id, const char *client_id)
{
	out_send_refusal(s, code, message, request, room_id, client_id, NULL);
}

void
out_send_refusal(struct ws_session *s, const char *code, const char *message, const char *request,
                 const char *room_id, const char *client_id, const cJSON *reply)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *v;
	int64_t ms;

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
	if (reply != NULL &&
	    (strcmp(code, WS_ERR_BANNED) == 0 || strcmp(code, WS_ERR_MUTED) == 0)) {
		/* until: an ISO-8601 time, or null for a ban without an end */
		v = cJSON_GetObjectItemCaseSensitive(reply, "until");
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(o, "until", v->valuestring);
		else
			cJSON_AddNullToObject(o, "until");
		v = cJSON_GetObjectItemCaseSensitive(reply, "note");
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(o, "note", v->valuestring);
	} else if (reply != NULL && strcmp(code, WS_ERR_SLOW_MODE) == 0 &&
	           wire_int(reply, "retry_after_ms", &ms) && ms >= 0) {
		cJSON_AddNumberToObject(o, "retry_after_ms", (double)ms);
	}
	out_send_obj(s, o);
}

void
out_close(struct ws_session *s, uint16_t code, const char *reason, bool flush)
{
	/* A close frame's reason must be valid UTF-8: never cut inside a character. */
	size_t n;

	if (s->wsi == NULL || s->close_code != 0)
		return;
	n = utf8_prefix(reason, strlen(reason), WS_CLOSE_REASON_MAX);
	s->close_code = code;
	s->close_flush = flush;
	if (sess_extra(s) != NULL) /* out of memory: the frame goes out without a reason */
		s->x->close_reason = strndup(reason, n);
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
		out_send_error(s, a->code, a->message, NULL, NULL, NULL);
}

void
out_notify_all(const char *code, const char *message)
{
	struct notify_arg a = {code, message};

	sesstab_each(&ws->sessions, notify_one, &a);
}

void
out_ping(struct ws_session *s)
{
	s->ping_due = true;
	out_want_write(s);
}

/* One lws_write: every pending whole frame, up to WS_WRITE_CHUNK, as raw bytes (server frames
 * are unmasked, so they pass through unchanged and arrive as that many messages), and the ping
 * if one is due. lws keeps whatever the kernel does not take and fires no WRITEABLE until it has
 * drained, so every write and the close frame start on a frame boundary. */
static int
out_write_frames(struct lws *wsi, struct ws_session *s)
{
	struct sbuf *b = &out.wbuf;
	uint64_t pending;
	size_t frames;

	sbuf_reset(b);
	if (!sbuf_reserve(b, LWS_PRE))
		return -1;
	b->len = LWS_PRE;
	frames = sess_collect(s, b, LWS_PRE + WS_WRITE_CHUNK);
	if (s->ping_due) {
		/* A ping after the last whole frame (server frames are unmasked). It carries one
		 * byte because lws 4.1 passes only non-empty pongs to LWS_CALLBACK_RECEIVE_PONG:
		 * the answer to an empty ping would never count as a sign of life. */
		static const char ping[3] = {(char)0x89, 0x01, 'k'};
		sbuf_add(b, ping, sizeof(ping));
		s->ping_due = false;
		frames++;
	}
	if (b->oom) {
		log_error("ws: session %llu: out of memory writing", (unsigned long long)s->serial);
		return -1;
	}
	if (frames > 0) {
		if (lws_write(wsi, (unsigned char *)b->data + LWS_PRE, b->len - LWS_PRE,
		              LWS_WRITE_RAW) < 0)
			return -1;
		if (lws_partial_buffered(wsi))
			ws->c.socket_full++;
	}
	pending = sess_pending(s);
	if (pending <= out.queue_limit && s->x != NULL && s->x->over_since_ms != 0) {
		s->x->over_since_ms = 0; /* caught up */
		sess_extra_trim(s);
	}
	if (pending > 0 || s->close_code != 0)
		lws_callback_on_writable(wsi);
	return 0;
}

int
out_writable(struct lws *wsi, struct ws_session *s)
{
	if (s->close_sent || (s->slow && s->close_code == 0))
		return 0; /* waiting for the client's close frame (or the timeout), or the reap */
	if (s->close_code != 0 && (!s->close_flush || sess_pending(s) == 0)) {
		/* The close frame goes out now, but the socket stays open until the client answers
		 * with its own close frame (lws then closes it) or PENDING_TIMEOUT_CLOSE_ACK
		 * passes. Closing at once would make the kernel answer the client's data still in
		 * flight with a reset, which can destroy the close frame before the client reads
		 * it. */
		unsigned char buf[LWS_PRE + 4 + WS_CLOSE_REASON_MAX], *f = buf + LWS_PRE;
		const char *reason = sess_close_reason(s);
		size_t rl = reason ? strlen(reason) : 0; /* fits a one-byte length */
		f[0] = 0x88; /* FIN + close; written raw like every other frame of ours */
		f[1] = (unsigned char)(2 + rl);
		f[2] = (unsigned char)(s->close_code >> 8);
		f[3] = (unsigned char)(s->close_code & 0xff);
		if (rl > 0)
			memcpy(f + 4, reason, rl);
		s->close_sent = true;
		if (lws_write(wsi, f, 4 + rl, LWS_WRITE_RAW) < 0)
			return -1;
		lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, 3);
		return 0;
	}
	return out_write_frames(wsi, s);
}

/* The first listed session, off the list; its reference is the caller's. NULL: none. */
static struct ws_session *
wq_pop(void)
{
	struct ws_session *s = out.wq_head;

	if (s != NULL) {
		out.wq_head = s->wq_next;
		if (out.wq_head == NULL)
			out.wq_tail = NULL;
		out.wq_sessions--;
		s->wq_listed = false;
		s->wq_next = NULL;
	}
	return s;
}

bool
out_writes_pending(void)
{
	return out.wq_head != NULL;
}

uint64_t
out_writes_listed(void)
{
	return out.wq_sessions;
}

/* One write to each session listed by out_want_write, outside WRITEABLE (lws 4.1 buffers what
 * the kernel does not take and drains it on WRITEABLE itself). A session with such a remainder
 * still waiting, or being closed, goes through WRITEABLE instead: writing now would only grow
 * lws's buffer. */
void
out_flush_writes(void)
{
	struct ws_session *s;

	while ((s = wq_pop()) != NULL) {
		if (s->wsi == NULL || s->close_sent) {
			/* closed meanwhile */
		} else if (s->close_code != 0 || lws_partial_buffered(s->wsi)) {
			lws_callback_on_writable(s->wsi);
		} else if (s->slow) {
			/* waiting for the reap */
		} else if (out_write_frames(s->wsi, s) != 0) {
			log_info("ws: session %llu (%s) closed: write failed",
			         (unsigned long long)s->serial, s->user != NULL ? s->user : "-");
			out_cut(s);
		}
		sess_unref(s);
	}
}

void
out_fini(void)
{
	struct ws_session *s;

	while ((s = wq_pop()) != NULL)
		sess_unref(s);
	while ((s = out_take_slow()) != NULL)
		sess_unref(s);
	sbuf_fini(&out.wbuf);
}
