/* moderation.c — madang-api's moderation endpoints (docs/api.md "Moderation", the contract in
 * docs/moderation.md): kicks, bans, mutes, deleting a message, a room's moderation settings and
 * its audit trail. Each checks its arguments, names its actor and asks the broker, which decides
 * every right. */
#include "endpoints.h"

#include <stdio.h>
#include <string.h>

#include "jwt.h"
#include "validate.h"
#include "wire.h"

#define MOD_TYPE_MSG "send the request as application/json"

/* DELETE .../messages/{seq}?reason= takes as long a reason as a body does. */
_Static_assert(API_QUERY_VALUE_MAX >= MADANG_NOTE_MAX, "a query value holds a whole reason");

/* {"op":name,"room_id":room_id,"actor":{"name","subject"?,"admin"}}, or NULL when out of memory.
 * The admin token's actor has no subject. */
static cJSON *
mod_op(const char *name, const char *room_id, const struct api_actor *who)
{
	cJSON *req = api_op_room(name, room_id);

	if (req != NULL && !api_add_actor(req, who)) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

/* Refuses (400, r filled) a body with a field not in keys (NULL-terminated): a misspelt field
 * must not be ignored silently. */
static bool
only_fields(const cJSON *body, const char *const *keys, struct api_response *r)
{
	const cJSON *it;
	char msg[160];
	size_t len;

	cJSON_ArrayForEach(it, body)
	{
		const char *const *k = keys;

		while (*k != NULL && strcmp(*k, it->string) != 0)
			k++;
		if (*k != NULL)
			continue;
		len = (size_t)snprintf(msg, sizeof(msg), "unknown field: this request takes");
		for (k = keys; *k != NULL && len < sizeof(msg); k++)
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s %s",
			                        k == keys ? "" : ",", *k);
		api_error(r, 400, ERR_INVALID_ARGUMENT, msg);
		return false;
	}
	return true;
}

/* Adds string s to req as key. False with r filled (500) when memory runs out. */
static bool
add_str(cJSON *req, const char *key, const char *s, struct api_response *r)
{
	if (cJSON_AddStringToObject(req, key, s) != NULL)
		return true;
	api_error(r, 500, "internal", "out of memory");
	return false;
}

/* Writes the canonical form of nickname s (len bytes; NULL: absent or not a string) to out (size
 * MADANG_NICK_MAX_BYTES + 1). False with r filled (400) when it is no nickname. */
static bool
user_arg(const char *s, size_t len, char *out, size_t size, struct api_response *r)
{
	const char *why = "a string is needed";
	char msg[160];

	if (s != NULL && nick_canonical(s, len, out, size, &why))
		return true;
	snprintf(msg, sizeof(msg), "user must be a nickname: %s", why);
	api_error(r, 400, ERR_INVALID_ARGUMENT, msg);
	return false;
}

/* Adds "user" (canonical) from the body's "user" to req. */
static bool
add_user(const cJSON *body, cJSON *req, struct api_response *r)
{
	char nick[MADANG_NICK_MAX_BYTES + 1];
	size_t len;
	const char *s = wire_str(body, "user", &len);

	return user_arg(s, len, nick, sizeof(nick), r) && add_str(req, "user", nick, r);
}

/* Adds "subject" to req when s (len bytes) may be one; else 400. */
static bool
add_subject(const char *s, size_t len, cJSON *req, struct api_response *r)
{
	if (s == NULL || !jwt_subject_ok(s, len)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT,
		          "subject must be 1 to 128 bytes of UTF-8 without control characters");
		return false;
	}
	return add_str(req, "subject", s, r);
}

/* Adds reason s (len bytes; NULL: absent) to req as "note"; an empty one adds nothing. False
 * with r filled (400, valid_note's words) when it is no reason valid_note takes. */
static bool
add_reason(const char *s, size_t len, cJSON *req, struct api_response *r)
{
	const char *why;

	if (s == NULL || len == 0)
		return true;
	if (!valid_note(s, len, &why)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, why);
		return false;
	}
	return add_str(req, "note", s, r);
}

/* Adds the body's "reason" (optional; a string valid_note takes) to req as "note". */
static bool
add_note(const cJSON *body, cJSON *req, struct api_response *r)
{
	size_t len = 0;
	const char *s = wire_str(body, "reason", &len);

	if (wire_has(body, "reason") && s == NULL) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, "reason must be a string");
		return false;
	}
	return add_reason(s, len, req, r);
}

/* Adds the body's "duration_s" (1..MADANG_RESTRICT_MAX_S) to req; absent is refused when
 * required. */
static bool
add_duration(const cJSON *body, bool required, cJSON *req, struct api_response *r)
{
	int64_t d;

	if (!wire_has(body, "duration_s") && !required)
		return true;
	if (!wire_int(body, "duration_s", &d) || d < 1 || d > MADANG_RESTRICT_MAX_S) {
		api_error(r, 400, ERR_INVALID_ARGUMENT,
		          "duration_s must be a number of seconds from 1 to 31536000");
		return false;
	}
	if (cJSON_AddNumberToObject(req, "duration_s", (double)d) == NULL) {
		api_error(r, 500, "internal", "out of memory");
		return false;
	}
	return true;
}

/* Adds a copy of src's key to out, or null when src has none. */
static bool
copy_or_null(cJSON *out, const cJSON *src, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);
	cJSON *c = v != NULL ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

	if (c == NULL)
		return false;
	cJSON_AddItemToObject(out, key, c);
	return true;
}

/* Sends req (deleted here) and answers status with {"room_id", the string of req named by
 * echo, and the reply's fields in keys (null when absent)}; 204 without a body when status is
 * 204. */
static void
send_action(const struct api_config *cfg, const struct api_input *in, cJSON *req, int status,
            const char *echo, const char *const *keys, struct api_response *r)
{
	const char *room = NULL, *what = NULL;
	cJSON *reply, *out;
	bool ok;

	if (req == NULL) {
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	out = cJSON_CreateObject();
	room = wire_str(req, "room_id", NULL);
	what = echo != NULL ? wire_str(req, echo, NULL) : NULL;
	ok = out != NULL && cJSON_AddStringToObject(out, "room_id", room) != NULL &&
	     (what == NULL || cJSON_AddStringToObject(out, echo, what) != NULL);
	if ((reply = api_broker(cfg, in, req, r)) == NULL) {
		cJSON_Delete(out);
		return;
	}
	for (; ok && keys != NULL && *keys != NULL; keys++)
		ok = copy_or_null(out, reply, *keys);
	cJSON_Delete(reply);
	if (status == 204) {
		cJSON_Delete(out);
		api_set_empty(r);
		return;
	}
	api_set_json(r, status, ok ? out : NULL);
	if (!ok)
		cJSON_Delete(out);
}

/* POST /api/rooms/{id}/kicks {"user","reason"?} */
static void
kick(const struct api_config *cfg, const struct api_input *in, const struct api_request *rq,
     const char *room_id, const struct api_actor *who, struct api_response *r)
{
	static const char *const fields[] = {"user", "reason", NULL};
	cJSON *body = api_read_object(in, rq, MOD_TYPE_MSG, r), *req = NULL;

	if (body == NULL)
		return;
	if (only_fields(body, fields, r) && (req = mod_op("kick", room_id, who)) == NULL)
		api_error(r, 500, "internal", "out of memory");
	else if (req != NULL && add_user(body, req, r) && add_note(body, req, r)) {
		send_action(cfg, in, req, 200, "user", NULL, r);
		req = NULL;
	}
	cJSON_Delete(req);
	cJSON_Delete(body);
}

/* POST /api/rooms/{id}/bans {"user" or "subject","duration_s"?,"reason"?} */
static void
ban(const struct api_config *cfg, const struct api_input *in, const struct api_request *rq,
    const char *room_id, const struct api_actor *who, struct api_response *r)
{
	static const char *const fields[] = {"user", "subject", "duration_s", "reason", NULL};
	static const char *const keys[] = {"until", "kicked", NULL};
	cJSON *body = api_read_object(in, rq, MOD_TYPE_MSG, r), *req = NULL;
	const char *subject;
	size_t len;
	bool has_user, ok;

	if (body == NULL)
		return;
	has_user = wire_has(body, "user");
	subject = wire_str(body, "subject", &len);
	if (!only_fields(body, fields, r))
		goto out;
	if (has_user == wire_has(body, "subject")) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, "give either user or subject");
		goto out;
	}
	if ((req = mod_op("ban", room_id, who)) == NULL) {
		api_error(r, 500, "internal", "out of memory");
		goto out;
	}
	ok = has_user ? add_user(body, req, r) : add_subject(subject, len, req, r);
	if (ok && add_duration(body, false, req, r) && add_note(body, req, r)) {
		send_action(cfg, in, req, 201, has_user ? "user" : "subject", keys, r);
		req = NULL;
	}
out:
	cJSON_Delete(req);
	cJSON_Delete(body);
}

/* POST /api/rooms/{id}/mutes {"user","duration_s","reason"?} */
static void
mute(const struct api_config *cfg, const struct api_input *in, const struct api_request *rq,
     const char *room_id, const struct api_actor *who, struct api_response *r)
{
	static const char *const fields[] = {"user", "duration_s", "reason", NULL};
	static const char *const keys[] = {"until", NULL};
	cJSON *body = api_read_object(in, rq, MOD_TYPE_MSG, r), *req = NULL;

	if (body == NULL)
		return;
	if (only_fields(body, fields, r) && (req = mod_op("mute", room_id, who)) == NULL)
		api_error(r, 500, "internal", "out of memory");
	else if (req != NULL && add_user(body, req, r) && add_duration(body, true, req, r) &&
	         add_note(body, req, r)) {
		send_action(cfg, in, req, 201, "user", keys, r);
		req = NULL;
	}
	cJSON_Delete(req);
	cJSON_Delete(body);
}

/* DELETE /api/rooms/{id}/bans/{user}, /mutes/{user} (op unban, unmute: user is the path's
 * segment), and DELETE /api/rooms/{id}/bans?subject=S (user NULL). */
static void
lift(const struct api_config *cfg, const struct api_input *in, const struct api_request *rq,
     const char *op, const char *room_id, const char *user, const struct api_actor *who,
     struct api_response *r)
{
	char nick[MADANG_NICK_MAX_BYTES + 1];
	const char *subject = api_request_query(rq, "subject");
	cJSON *req;

	if (user == NULL && subject == NULL) {
		api_error(r, 400, ERR_INVALID_ARGUMENT,
		          "name the ban: DELETE .../bans/{user} or .../bans?subject=S");
		return;
	}
	if (user != NULL && !user_arg(user, strlen(user), nick, sizeof(nick), r))
		return;
	if ((req = mod_op(op, room_id, who)) == NULL) {
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	if (user != NULL && !add_str(req, "user", nick, r)) {
		cJSON_Delete(req);
		return;
	}
	if (user == NULL && !add_subject(subject, strlen(subject), req, r)) {
		cJSON_Delete(req);
		return;
	}
	send_action(cfg, in, req, 204, NULL, NULL, r);
}

/* GET /api/rooms/{id}/bans, /mutes: {"room_id","bans"|"mutes":[{"user","subject","addr",
 * "until","by","note","time"}]}, every field present (null when the broker has none). */
static void
list(const struct api_config *cfg, const struct api_input *in, const char *op, const char *key,
     const char *room_id, const struct api_actor *who, struct api_response *r)
{
	static const char *const fields[] = {"user", "subject", "addr", "until",
	                                     "by",   "note",    "time", NULL};
	cJSON *reply = api_broker(cfg, in, mod_op(op, room_id, who), r);
	const cJSON *items, *it;
	cJSON *out, *arr;

	if (reply == NULL)
		return;
	items = cJSON_GetObjectItemCaseSensitive(reply, key);
	if (!cJSON_IsArray(items)) {
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed list");
		return;
	}
	out = cJSON_CreateObject();
	arr = out != NULL && cJSON_AddStringToObject(out, "room_id", room_id) != NULL
	          ? cJSON_AddArrayToObject(out, key)
	          : NULL;
	cJSON_ArrayForEach(it, items)
	{
		cJSON *e = arr != NULL ? cJSON_CreateObject() : NULL;

		for (const char *const *k = fields; e != NULL && *k != NULL; k++)
			if (!copy_or_null(e, it, *k)) {
				cJSON_Delete(e);
				e = NULL;
			}
		if (e == NULL) {
			arr = NULL;
			break;
		}
		cJSON_AddItemToArray(arr, e);
	}
	cJSON_Delete(reply);
	if (arr == NULL) {
		cJSON_Delete(out);
		out = NULL;
	}
	api_set_json(r, 200, out);
}

/* DELETE /api/rooms/{id}/messages/{seq}?reason=R (R percent-encoded UTF-8, decoded by the
 * request parser, which refuses bad encoding and more than API_QUERY_VALUE_MAX bytes) */
static void
delete_message(const struct api_config *cfg, const struct api_input *in,
               const struct api_request *rq, const char *room_id, const char *seq,
               const struct api_actor *who, struct api_response *r)
{
	const char *reason = api_request_query(rq, "reason");
	uint64_t v;
	cJSON *req;

	if (!api_parse_uint(seq, API_SEQ_MAX, &v) || v == 0) {
		api_error(r, 400, ERR_INVALID_ARGUMENT,
		          "a message is named by its sequence number (1 or more)");
		return;
	}
	if ((req = mod_op("delete_message", room_id, who)) == NULL) {
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	if (cJSON_AddNumberToObject(req, "seq", (double)v) == NULL) {
		cJSON_Delete(req);
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	if (!add_reason(reason, reason != NULL ? strlen(reason) : 0, req, r)) {
		cJSON_Delete(req);
		return;
	}
	send_action(cfg, in, req, 204, NULL, NULL, r);
}

/* Adds the body's "moderators" (an array of at most MADANG_MODERATORS_MAX subjects) to req. */
static bool
add_moderators(const cJSON *body, cJSON *req, struct api_response *r)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "moderators"), *it;

	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > MADANG_MODERATORS_MAX) {
		api_error(r, 400, ERR_INVALID_ARGUMENT,
		          "moderators must be an array of at most 32 subjects");
		return false;
	}
	cJSON_ArrayForEach(it, list)
	{
		if (!cJSON_IsString(it) ||
		    !jwt_subject_ok(it->valuestring, strlen(it->valuestring))) {
			api_error(r, 400, ERR_INVALID_ARGUMENT,
			          "each moderator is a subject: 1 to 128 bytes of UTF-8 without "
			          "control characters");
			return false;
		}
	}
	if (!cJSON_AddItemToObject(req, "moderators", cJSON_Duplicate(list, 1))) {
		api_error(r, 500, "internal", "out of memory");
		return false;
	}
	return true;
}

/* Copies the fields of a PATCH body to a set_room request, checked. */
static bool
patch_fields(const cJSON *body, cJSON *req, struct api_response *r)
{
	const char *owner;
	size_t len;
	int64_t slow;
	bool b;

	if (wire_has(body, "owner")) {
		owner = wire_str(body, "owner", &len);
		if (owner == NULL || !jwt_subject_ok(owner, len)) {
			api_error(
			    r, 400, ERR_INVALID_ARGUMENT,
			    "owner must be a subject: 1 to 128 bytes of UTF-8 without control "
			    "characters");
			return false;
		}
		if (cJSON_AddStringToObject(req, "owner", owner) == NULL)
			goto oom;
	}
	if (wire_has(body, "moderators") && !add_moderators(body, req, r))
		return false;
	if (wire_has(body, "moderators_may_ban")) {
		if (!wire_bool(body, "moderators_may_ban", &b)) {
			api_error(r, 400, ERR_INVALID_ARGUMENT,
			          "moderators_may_ban must be true or false");
			return false;
		}
		if (cJSON_AddBoolToObject(req, "moderators_may_ban", b) == NULL)
			goto oom;
	}
	if (wire_has(body, "slow_mode_s")) {
		if (!wire_int(body, "slow_mode_s", &slow) || slow < 0 ||
		    slow > MADANG_SLOW_MODE_MAX_S) {
			api_error(r, 400, ERR_INVALID_ARGUMENT,
			          "slow_mode_s must be a number of seconds from 0 (off) to 86400");
			return false;
		}
		if (cJSON_AddNumberToObject(req, "slow_mode_s", (double)slow) == NULL)
			goto oom;
	}
	return true;
oom:
	api_error(r, 500, "internal", "out of memory");
	return false;
}

/* PATCH /api/rooms/{id} {"owner"?,"moderators"?,"moderators_may_ban"?,"slow_mode_s"?}:
 * {"id","moderation":{"owner","moderators","moderators_may_ban","slow_mode_s"}} */
static void
patch_room(const struct api_config *cfg, const struct api_input *in, const struct api_request *rq,
           const char *room_id, const struct api_actor *who, struct api_response *r)
{
	static const char *const fields[] = {"owner", "moderators", "moderators_may_ban",
	                                     "slow_mode_s", NULL};
	cJSON *body = api_read_object(in, rq, MOD_TYPE_MSG, r), *req = NULL, *reply, *out;
	const cJSON *mod;

	if (body == NULL)
		return;
	if (!only_fields(body, fields, r))
		goto out;
	if (cJSON_GetArraySize(body) == 0) {
		api_error(
		    r, 400, ERR_INVALID_ARGUMENT,
		    "give at least one of owner, moderators, moderators_may_ban, slow_mode_s");
		goto out;
	}
	if ((req = mod_op("set_room", room_id, who)) == NULL) {
		api_error(r, 500, "internal", "out of memory");
		goto out;
	}
	if (!patch_fields(body, req, r))
		goto out;
	reply = api_broker(cfg, in, req, r);
	req = NULL;
	if (reply == NULL)
		goto out;
	mod = cJSON_GetObjectItemCaseSensitive(reply, "moderation");
	if (!cJSON_IsObject(mod)) {
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed reply");
		goto out;
	}
	out = cJSON_CreateObject();
	if (out != NULL && (cJSON_AddStringToObject(out, "id", room_id) == NULL ||
	                    !cJSON_AddItemToObject(out, "moderation", cJSON_Duplicate(mod, 1)))) {
		cJSON_Delete(out);
		out = NULL;
	}
	cJSON_Delete(reply);
	api_set_json(r, 200, out);
out:
	cJSON_Delete(req);
	cJSON_Delete(body);
}

/* GET /api/rooms/{id}/audit?before=ID&limit=N: {"room_id","entries":[…],"next_before"} */
static void
audit(const struct api_config *cfg, const struct api_input *in, const struct api_request *rq,
      const char *room_id, const struct api_actor *who, struct api_response *r)
{
	const char *before = api_request_query(rq, "before");
	const char *limit = api_request_query(rq, "limit");
	uint64_t v_before = 0, v_limit = API_AUDIT_LIMIT_DEFAULT;
	cJSON *req, *reply, *out;

	if (before != NULL && (!api_parse_uint(before, API_SEQ_MAX, &v_before) || v_before == 0)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, "before must be an entry id (1 or more)");
		return;
	}
	if (limit != NULL &&
	    (!api_parse_uint(limit, API_AUDIT_LIMIT_MAX, &v_limit) || v_limit == 0)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, "limit must be a number from 1 to 500");
		return;
	}
	req = mod_op("audit", room_id, who);
	if (req != NULL && ((before != NULL &&
	                     cJSON_AddNumberToObject(req, "before_id", (double)v_before) == NULL) ||
	                    cJSON_AddNumberToObject(req, "limit", (double)v_limit) == NULL)) {
		cJSON_Delete(req);
		req = NULL;
	}
	if ((reply = api_broker(cfg, in, req, r)) == NULL)
		return;
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(reply, "entries"))) {
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed audit trail");
		return;
	}
	out = cJSON_CreateObject();
	if (out != NULL &&
	    (cJSON_AddStringToObject(out, "room_id", room_id) == NULL ||
	     !copy_or_null(out, reply, "entries") || !copy_or_null(out, reply, "next_before"))) {
		cJSON_Delete(out);
		out = NULL;
	}
	cJSON_Delete(reply);
	api_set_json(r, 200, out);
}

void
api_ep_moderate(const struct api_config *cfg, const struct api_input *in,
                const struct api_request *rq, const struct api_route *rt,
                const struct api_actor *who, struct api_response *r)
{
	bool get = rq->method == API_M_GET || rq->method == API_M_HEAD;

	switch (rt->id) {
	case API_R_KICKS:
		kick(cfg, in, rq, rt->room_id, who, r);
		return;
	case API_R_BANS:
		if (get)
			list(cfg, in, "list_bans", "bans", rt->room_id, who, r);
		else if (rq->method == API_M_POST)
			ban(cfg, in, rq, rt->room_id, who, r);
		else
			lift(cfg, in, rq, "unban", rt->room_id, NULL, who, r);
		return;
	case API_R_BAN:
		lift(cfg, in, rq, "unban", rt->room_id, rt->arg, who, r);
		return;
	case API_R_MUTES:
		if (get)
			list(cfg, in, "list_mutes", "mutes", rt->room_id, who, r);
		else
			mute(cfg, in, rq, rt->room_id, who, r);
		return;
	case API_R_MUTE:
		lift(cfg, in, rq, "unmute", rt->room_id, rt->arg, who, r);
		return;
	case API_R_MESSAGE:
		delete_message(cfg, in, rq, rt->room_id, rt->arg, who, r);
		return;
	case API_R_AUDIT:
		audit(cfg, in, rq, rt->room_id, who, r);
		return;
	case API_R_ROOM:
		patch_room(cfg, in, rq, rt->room_id, who, r);
		return;
	default:
		api_error(r, 404, "not_found", "no such API endpoint");
		return;
	}
}
