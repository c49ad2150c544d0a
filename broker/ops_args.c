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

void
ops_reply_error(struct req *q, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	sbuf_reset(q->out);
	sbuf_adds(q->out, "{\"ok\":false,\"error\":\"");
	sbuf_adds(q->out, code);
	sbuf_adds(q->out, "\",\"message\":");
	sbuf_add_jstr(q->out, msg, (size_t)n);
	sbuf_addc(q->out, '}');
	q->failed = true;
	q->b->ctr.request_errors++;
}

void
ops_add_key_str(struct sbuf *o, const char *key, const char *val)
{
	sbuf_addc(o, '"');
	sbuf_adds(o, key);
	sbuf_adds(o, "\":");
	sbuf_add_jstr(o, val, strlen(val));
}

void
ops_add_key_int(struct sbuf *o, const char *key, int64_t val)
{
	sbuf_addc(o, '"');
	sbuf_adds(o, key);
	sbuf_adds(o, "\":");
	sbuf_addi(o, val);
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
ops_add_room_summary(struct sbuf *o, const struct room *r)
{
	sbuf_addc(o, '{');
	ops_add_key_str(o, "id", r->id);
	sbuf_addc(o, ',');
	ops_add_key_str(o, "name", r->name);
	sbuf_addc(o, ',');
	ops_add_key_int(o, "users_count", (int64_t)r->nmembers);
}

void
ops_add_users(struct sbuf *o, const struct room *r)
{
	sbuf_adds(o, "\"users\":[");
	for (size_t i = 0; i < r->nmembers; i++) {
		if (i)
			sbuf_addc(o, ',');
		sbuf_add_jstr(o, r->members_v[i]->user, strlen(r->members_v[i]->user));
	}
	sbuf_addc(o, ']');
}
