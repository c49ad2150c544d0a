/* ops_actor.c — who asks for a moderation action (a member of the room, or madang-api's
 * actor), whether its role allows it, the note it gives, and the audit line and entry of each
 * action (docs/moderation.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jwt.h"
#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

bool
ops_arg_api_actor(struct req *q, struct actor *a)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(q->rq, "actor");
	size_t len;

	memset(a, 0, sizeof(*a));
	if (!cJSON_IsObject(o)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "actor must be an object");
		return false;
	}
	a->name = wire_str(o, "name", &len);
	if (a->name == NULL || !jwt_subject_ok(a->name, len)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT,
		                "actor.name must be 1-128 bytes of UTF-8 without control "
		                "characters");
		return false;
	}
	if (wire_has(o, "subject") && !cJSON_IsNull(cJSON_GetObjectItem(o, "subject"))) {
		a->subject = wire_str(o, "subject", &len);
		if (a->subject == NULL || !jwt_subject_ok(a->subject, len)) {
			ops_reply_error(q, ERR_INVALID_ARGUMENT,
			                "actor.subject must be 1-128 bytes of UTF-8 without "
			                "control characters");
			return false;
		}
	}
	if (wire_has(o, "admin") && !wire_bool(o, "admin", &a->admin)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "actor.admin must be a boolean");
		return false;
	}
	a->role = a->admin ? ROLE_ADMIN : ROLE_MEMBER;
	return true;
}

struct room *
ops_arg_actor(struct req *q, struct actor *a)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(q->rq, "actor");
	bool fe = wire_has(q->rq, "frontend") || wire_has(q->rq, "session");
	struct room *r;

	memset(a, 0, sizeof(*a));
	if (fe == (o != NULL)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT,
		                "give either frontend and session or actor, not both");
		return NULL;
	}
	if (fe) {
		if ((a->m = ops_arg_member(q, &r)) == NULL)
			return NULL;
		a->name = member_user(a->m);
		a->subject = member_subject(a->m);
		a->admin = a->subject != NULL && a->m->admin;
	} else {
		if (!ops_arg_api_actor(q, a))
			return NULL;
		if ((r = ops_arg_room(q)) == NULL)
			return NULL;
	}
	/* The API's admin token has no subject, and is an admin all the same. */
	a->role = a->admin && a->m == NULL ? ROLE_ADMIN : mod_role_of(r, a->subject, a->admin);
	return r;
}

bool
ops_actor_may(struct req *q, const struct actor *a, enum mod_role min, const char *what)
{
	if (a->role >= min)
		return true;
	ops_reply_error(q, ERR_FORBIDDEN, "%s may not %s in this room", a->name, what);
	return false;
}

const char *
ops_arg_note(struct req *q, bool *bad)
{
	size_t len;
	const char *s = wire_str(q->rq, "note", &len), *why;

	*bad = false;
	if (s == NULL && wire_has(q->rq, "note") &&
	    !cJSON_IsNull(cJSON_GetObjectItem(q->rq, "note"))) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "note must be a string");
		*bad = true;
		return NULL;
	}
	if (s != NULL && !valid_note(s, len, &why)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "note: %s", why);
		*bad = true;
		return NULL;
	}
	return s != NULL && len > 0 ? s : NULL;
}

/* Appends s to the log line: as is, or NULL as "-". */
static const char *
or_dash(const char *s)
{
	return s ? s : "-";
}

void
ops_audit(struct broker *b, struct room *r, const struct actor *a, const struct audit_info *ai)
{
	struct sbuf buf;
	struct jsonw w;
	char extra[96] = "";

	if (ai->duration_s >= 0)
		snprintf(extra, sizeof(extra), " duration_s=%lld", (long long)ai->duration_s);
	else if (ai->seq >= 0)
		snprintf(extra, sizeof(extra), " seq=%lld", (long long)ai->seq);
	else if (ai->interval_s >= 0)
		snprintf(extra, sizeof(extra), " interval_s=%lld", (long long)ai->interval_s);
	/* The note has no control character (valid_note); the log writes it as given. */
	log_info(
	    "moderation: room=%s action=%s by=%s (sub %s)%s target=%s (sub %s)%s%s%s%s%s%s%s%s",
	    r->id, ai->action, a->name, or_dash(a->subject), a->role == ROLE_ADMIN ? " admin" : "",
	    or_dash(ai->user), or_dash(ai->subject), extra, ai->note ? " note=\"" : "",
	    ai->note ? ai->note : "", ai->note ? "\"" : "", ai->extra_key ? " " : "",
	    ai->extra_key ? ai->extra_key : "", ai->extra_key ? "=" : "",
	    ai->extra_json ? ai->extra_json : "");

	sbuf_init(&buf);
	jw_begin(&w, &buf);
	jw_obj(&w, NULL);
	jw_str(&w, "time", b->now_iso);
	jw_str(&w, "room_id", r->id);
	jw_str(&w, "action", ai->action);
	jw_obj(&w, "actor");
	jw_str(&w, "name", a->name);
	jw_str_or_null(&w, "subject", a->subject);
	jw_bool(&w, "admin", a->role == ROLE_ADMIN);
	jw_str(&w, "via", a->m ? "ws" : "api");
	jw_end(&w);
	if (ai->user || ai->subject) {
		jw_obj(&w, "target");
		jw_str_or_null(&w, "user", ai->user);
		jw_str_or_null(&w, "subject", ai->subject);
		jw_end(&w);
	}
	if (ai->note)
		jw_str(&w, "note", ai->note);
	if (ai->duration_s >= 0)
		jw_int(&w, "duration_s", ai->duration_s);
	if (ai->seq >= 0)
		jw_int(&w, "seq", ai->seq);
	if (ai->interval_s >= 0)
		jw_int(&w, "interval_s", ai->interval_s);
	if (ai->extra_key)
		jw_raw(&w, ai->extra_key, ai->extra_json, strlen(ai->extra_json));
	jw_end(&w);
	if (buf.oom)
		log_error("broker: out of memory writing an audit entry of room %s", r->id);
	else
		mod_audit_add(b, r, buf.data, buf.len);
	sbuf_fini(&buf);
}

struct audit_info
ops_audit_info(const char *action)
{
	return (struct audit_info){.action = action, .duration_s = -1, .seq = -1, .interval_s = -1};
}
