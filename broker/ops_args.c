/* ops_args.c — reading a broker request's fields and writing the reply's pieces
 * (docs/broker-protocol.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

/* Replaces the reply with {"ok":false,"error":code,"message":… through w, left open. */
static void
reply_error_v(struct req *q, struct jsonw *w, const char *code, const char *fmt, va_list ap)
{
	char msg[512];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	sbuf_reset(q->out);
	jw_begin(w, q->out);
	jw_obj(w, NULL);
	jw_bool(w, "ok", false);
	jw_str(w, "error", code);
	jw_strn(w, "message", msg, (size_t)n);
	q->failed = true;
	q->b->ctr.request_errors++;
}

void
ops_reply_error(struct req *q, const char *code, const char *fmt, ...)
{
	struct jsonw w;
	va_list ap;

	va_start(ap, fmt);
	reply_error_v(q, &w, code, fmt, ap);
	va_end(ap);
	jw_end(&w);
}

void
ops_reply_error_begin(struct req *q, struct jsonw *w, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_error_v(q, w, code, fmt, ap);
	va_end(ap);
}

void
ops_reply_begin(struct req *q, struct jsonw *w)
{
	jw_begin(w, q->out);
	jw_obj(w, NULL);
	jw_bool(w, "ok", true);
}

void
ops_reply_ok(struct req *q)
{
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_end(&w);
}

void
ops_reply_seq(struct req *q, uint64_t seq)
{
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_int(&w, "seq", (int64_t)seq);
	jw_end(&w);
}

void
ops_event_begin(struct broker *b, struct jsonw *e, const char *type)
{
	sbuf_reset(&b->ev);
	jw_begin(e, &b->ev);
	jw_obj(e, NULL);
	jw_str(e, "type", type);
}

/* Reads a required string field checked by valid_room_id (room and front-end ids). */
const char *
ops_arg_id(struct req *q, const char *key)
{
	size_t len;
	const char *s = wire_str(q->rq, key, &len);

	if (s == NULL) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "%s must be a string", key);
		return NULL;
	}
	if (!valid_room_id(s, len)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "%s must match [A-Za-z0-9_-]{1,64}", key);
		return NULL;
	}
	return s;
}

const char *
ops_arg_token(struct req *q, const char *key, bool required)
{
	size_t len;
	const char *s = wire_str(q->rq, key, &len);

	if (s == NULL) {
		if (required || wire_has(q->rq, key))
			ops_reply_error(q, ERR_INVALID_ARGUMENT, "%s must be a string", key);
		return NULL;
	}
	if (!valid_token(s, len, MADANG_SESSION_MAX)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT,
		                "%s must be 1-64 printable ASCII characters", key);
		return NULL;
	}
	return s;
}

/* Optional integer field in [lo, hi]; *present tells whether it was given. */
bool
ops_arg_int_opt(struct req *q, const char *key, int64_t lo, int64_t hi, int64_t *out, bool *present)
{
	*present = wire_has(q->rq, key);
	if (!*present)
		return true;
	if (!wire_int(q->rq, key, out) || *out < lo || *out > hi) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "%s must be an integer from %lld to %lld",
		                key, (long long)lo, (long long)hi);
		return false;
	}
	return true;
}

struct room *
ops_arg_room(struct req *q)
{
	const char *id = ops_arg_id(q, "room_id");
	struct room *r;

	if (id == NULL)
		return NULL;
	if ((r = room_get(q->b, id)) == NULL)
		ops_reply_error(q, ERR_NO_SUCH_ROOM, "no room %s", id);
	return r;
}

/* The front-end named by "frontend"; any request from it counts as a sign of life. */
struct frontend *
ops_arg_frontend(struct req *q)
{
	const char *id = ops_arg_id(q, "frontend");
	struct frontend *fe;

	if (id == NULL)
		return NULL;
	if ((fe = fe_get(q->b, id)) == NULL) {
		ops_reply_error(q, ERR_UNKNOWN_FRONTEND,
		                "front-end %s is not registered: send hello", id);
		return NULL;
	}
	fe->last_seen_ms = q->b->now_mono;
	return fe;
}

/* The member that (frontend, session) holds in room_id. */
struct member *
ops_arg_member(struct req *q, struct room **room_out)
{
	struct frontend *fe = ops_arg_frontend(q);
	const char *sid;
	struct session *s;
	struct room *r;
	struct member *m;

	if (fe == NULL || (sid = ops_arg_token(q, "session", true)) == NULL ||
	    (r = ops_arg_room(q)) == NULL)
		return NULL;
	if ((s = sess_get(fe, sid)) == NULL || (m = sess_member_of(s, r)) == NULL) {
		ops_reply_error(q, ERR_NOT_MEMBER, "session is not in room %s", r->id);
		return NULL;
	}
	if (room_out)
		*room_out = r;
	return m;
}

bool
ops_arg_nick(struct req *q, const char *key, char *canon, char *folded)
{
	size_t len;
	const char *s = wire_str(q->rq, key, &len);
	const char *why;

	if (s == NULL) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "%s must be a string", key);
		return false;
	}
	if (!nick_canonical(s, len, canon, MADANG_NICK_MAX_BYTES + 1, &why)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "%s", why);
		return false;
	}
	nick_fold(canon, folded, MADANG_NICK_MAX_BYTES + 1);
	return true;
}

/* The chat text of send and private: 1..4096 bytes of UTF-8, not only white space. */
const char *
ops_arg_text(struct req *q, size_t *len)
{
	const char *text = wire_str(q->rq, "text", len), *why;

	if (text == NULL) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "text must be a string");
		return NULL;
	}
	if (!valid_text(text, *len, &why)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "%s", why);
		return NULL;
	}
	return text;
}

void
ops_room_summary(struct jsonw *w, const struct room *r)
{
	jw_str(w, "id", r->id);
	jw_str(w, "name", r->name);
	jw_int(w, "users_count", (int64_t)r->nmembers);
}

void
ops_users(struct jsonw *w, const struct room *r)
{
	jw_arr(w, "users");
	for (size_t i = 0; i < r->nmembers; i++)
		jw_str(w, NULL, member_user(r->members_v[i]));
	jw_end(w);
}
