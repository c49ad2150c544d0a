/* endpoints.c — each REST endpoint of madang-api: the broker request it makes, the checks of its
 * arguments and body, and the shape of its answer. */
#include "endpoints.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jwt.h"
#include "validate.h"
#include "wire.h"

/* Maps a broker error code to the HTTP status madang-api answers with. */
static int
broker_error_status(const char *code)
{
	static const struct {
		const char *code;
		int status;
	} map[] = {
	    {ERR_INVALID_REQUEST, 400}, {ERR_INVALID_ARGUMENT, 400}, {ERR_NO_SUCH_ROOM, 404},
	    {ERR_ROOM_EXISTS, 409},     {ERR_TOO_MANY_ROOMS, 409},   {ERR_ROOM_FULL, 409},
	    {ERR_FORBIDDEN, 403},       {"name_taken", 409}, /* the broker's: names are unique */
	    {ERR_NO_SUCH_USER, 404},    {"no_such_message", 404},    {"no_such_ban", 404},
	    {"too_many_bans", 409}, /* a room's limit (--max-bans), not a rate: Conflict */
	    {"create_limit", 403},  /* the owner has its --rooms-per-owner: not allowed more */
	};

	for (size_t i = 0; code != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].status;
	return 502;
}

cJSON *
api_broker(const struct api_config *cfg, const struct api_input *in, cJSON *req,
           struct api_response *r)
{
	cJSON *reply = NULL;
	enum api_call_result res;
	bool ok;

	if (req == NULL) {
		api_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	res = in->call(in->call_arg, req, &reply);
	cJSON_Delete(req);
	if (res == API_CALL_UNAVAILABLE) {
		if (cfg->metrics != NULL)
			atomic_fetch_add(&cfg->metrics->broker_unavailable, 1);
		api_error(r, 503, "broker_unavailable",
		          "the chat broker did not answer in time; try again");
		r->retry_after = true;
		return NULL;
	}
	if (res != API_CALL_OK || reply == NULL || !wire_bool(reply, "ok", &ok)) {
		if (cfg->metrics != NULL)
			atomic_fetch_add(&cfg->metrics->broker_bad_replies, 1);
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed reply");
		return NULL;
	}
	if (!ok) {
		const char *code = wire_str(reply, "error", NULL);
		const char *msg = wire_str(reply, "message", NULL);
		int status = broker_error_status(code);

		if (status == 502)
			api_error(r, 502, "broker_error", msg != NULL ? msg : "the broker refused");
		else
			api_error(r, status, code, msg != NULL ? msg : code);
		cJSON_Delete(reply);
		return NULL;
	}
	return reply;
}

static cJSON *
op(const char *name)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL && cJSON_AddStringToObject(o, "op", name) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *
api_op_room(const char *name, const char *room_id)
{
	cJSON *o = op(name);

	if (o != NULL && cJSON_AddStringToObject(o, "room_id", room_id) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

bool
api_add_actor(cJSON *req, const struct api_actor *who)
{
	cJSON *a = cJSON_AddObjectToObject(req, "actor");

	return a != NULL && cJSON_AddStringToObject(a, "name", who->name) != NULL &&
	       (who->subject[0] == '\0' ||
	        cJSON_AddStringToObject(a, "subject", who->subject) != NULL) &&
	       cJSON_AddBoolToObject(a, "admin", who->admin) != NULL;
}

cJSON *
api_pick(const cJSON *src, const char *const *keys)
{
	cJSON *o = cJSON_CreateObject();

	for (; o != NULL && *keys != NULL; keys++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, *keys);
		cJSON *copy;

		if (v == NULL)
			continue;
		if ((copy = cJSON_Duplicate(v, 1)) == NULL) {
			cJSON_Delete(o);
			return NULL;
		}
		cJSON_AddItemToObject(o, *keys, copy);
	}
	return o;
}

/* True when src has the fields of a room summary: string id and name, integer users_count. */
static bool
room_valid(const cJSON *src)
{
	int64_t n;

	return wire_str(src, "id", NULL) != NULL && wire_str(src, "name", NULL) != NULL &&
	       wire_int(src, "users_count", &n);
}

/* A room summary exactly as GET /api/rooms shows it; NULL when src lacks a field. */
static cJSON *
room_summary(const cJSON *src)
{
	static const char *const keys[] = {"id", "name", "users_count", NULL};

	return room_valid(src) ? api_pick(src, keys) : NULL;
}

/* GET /api/rooms */
void
api_ep_rooms(const struct api_config *cfg, const struct api_input *in, struct api_response *r)
{
	cJSON *reply = api_broker(cfg, in, op("list_rooms"), r);
	const cJSON *rooms, *it;
	cJSON *out, *arr;

	if (reply == NULL)
		return;
	rooms = cJSON_GetObjectItemCaseSensitive(reply, "rooms");
	out = cJSON_CreateObject();
	arr = out != NULL ? cJSON_AddArrayToObject(out, "rooms") : NULL;
	if (!cJSON_IsArray(rooms) || arr == NULL) {
		cJSON_Delete(out);
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed room list");
		return;
	}
	cJSON_ArrayForEach(it, rooms)
	{
		cJSON *s = room_summary(it);

		if (s == NULL) {
			cJSON_Delete(out);
			cJSON_Delete(reply);
			api_error(r, 502, "bad_gateway", "the chat broker sent a malformed room");
			return;
		}
		cJSON_AddItemToArray(arr, s);
	}
	cJSON_Delete(reply);
	api_set_json(r, 200, out);
}

/* GET /api/rooms/{id}: everybody sees slow_mode_s; the room's moderation settings only its
 * owner and admins. */
void
api_ep_room(const struct api_config *cfg, const struct api_input *in, const char *room_id,
            const struct api_actor *who, struct api_response *r)
{
	static const char *const keys[] = {"id", "name", "users_count", "members", "seq", NULL};
	cJSON *reply = api_broker(cfg, in, api_op_room("get_room", room_id), r);
	const cJSON *room, *mod;
	const char *owner;
	int64_t slow = 0;
	cJSON *out;

	if (reply == NULL)
		return;
	room = cJSON_GetObjectItemCaseSensitive(reply, "room");
	if (!room_valid(room) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(room, "members"))) {
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed room");
		return;
	}
	mod = cJSON_GetObjectItemCaseSensitive(room, "moderation");
	wire_int(mod, "slow_mode_s", &slow); /* a broker without moderation: no slow mode */
	owner = wire_str(mod, "owner", NULL);
	out = api_pick(room, keys);
	if (out != NULL && cJSON_AddNumberToObject(out, "slow_mode_s", (double)slow) == NULL) {
		cJSON_Delete(out);
		out = NULL;
	}
	if (out != NULL && cJSON_IsObject(mod) &&
	    (who->admin ||
	     (who->kind == API_AUTH_JWT && owner != NULL && strcmp(owner, who->subject) == 0))) {
		cJSON *copy = cJSON_Duplicate(mod, 1);

		if (copy == NULL) {
			cJSON_Delete(out);
			out = NULL;
		} else {
			cJSON_AddItemToObject(out, "moderation", copy);
		}
	}
	cJSON_Delete(reply);
	api_set_json(r, 200, out);
}

/* Moves the events of reply into out as a page of at most max bytes of JSON (the commas and
 * brackets counted): from the oldest when oldest_first (since=), else from the newest, always at
 * least one. When the page is shorter than asked (cut here, or by the broker's max_bytes) while
 * the room has more in that direction, adds "truncated":true and the cursor of the next page
 * ("next_since" or "next_before"). Returns false when out of memory. */
static bool
page_events(cJSON *reply, cJSON *out, size_t max, bool oldest_first, uint64_t limit)
{
	cJSON *events = cJSON_DetachItemFromObjectCaseSensitive(reply, "events");
	cJSON *page = cJSON_CreateArray(), *ev;
	int n = cJSON_GetArraySize(events), kept = 0;
	size_t used = 2; /* [] */
	int64_t edge = 0, first_seq = 0, last_seq = 0;
	bool cut = false;

	if (events == NULL || page == NULL) {
		cJSON_Delete(events);
		cJSON_Delete(page);
		return false;
	}
	for (int k = 0; k < n; k++) {
		int i = oldest_first ? 0 : cJSON_GetArraySize(events) - 1;
		char *text;
		size_t len;

		ev = cJSON_GetArrayItem(events, i);
		if ((text = cJSON_PrintUnformatted(ev)) == NULL) {
			cJSON_Delete(events);
			cJSON_Delete(page);
			return false;
		}
		len = strlen(text) + (kept > 0 ? 1 : 0);
		cJSON_free(text);
		if (kept > 0 && used + len > max) {
			cut = true;
			break;
		}
		used += len;
		ev = cJSON_DetachItemFromArray(events, i);
		if (oldest_first)
			cJSON_AddItemToArray(page, ev);
		else if (kept == 0)
			cJSON_AddItemToArray(page, ev);
		else
			cJSON_InsertItemInArray(page, 0, ev);
		wire_int(ev, "seq", &edge); /* the page's newest (since=) or oldest event so far */
		kept++;
	}
	cJSON_Delete(events);
	wire_int(reply, "first_seq", &first_seq);
	wire_int(reply, "last_seq", &last_seq);
	/* The broker may have cut the page itself (max_bytes): more exist in that direction. */
	if (!cut && kept > 0 && (uint64_t)kept < limit)
		cut = oldest_first ? edge < last_seq : edge > first_seq;
	if (cut && kept > 0 &&
	    (cJSON_AddTrueToObject(out, "truncated") == NULL ||
	     cJSON_AddNumberToObject(out, oldest_first ? "next_since" : "next_before",
	                             (double)edge) == NULL)) {
		cJSON_Delete(page);
		return false;
	}
	cJSON_AddItemToObject(out, "events", page);
	return true;
}

/* GET /api/rooms/{id}/messages?since=N|before=N&limit=N */
void
api_ep_messages(const struct api_config *cfg, const struct api_input *in,
                const struct api_request *rq, const char *room_id, struct api_response *r)
{
	static const char *const keys[] = {"room_id",  "epoch",    "first_seq",
	                                   "last_seq", "complete", NULL};
	size_t max_bytes =
	    cfg->history_max_bytes ? cfg->history_max_bytes : API_HISTORY_BYTES_DEFAULT;
	const char *since = api_request_query(rq, "since");
	const char *before = api_request_query(rq, "before");
	const char *limit = api_request_query(rq, "limit");
	uint64_t v_since = 0, v_before = 0, v_limit = API_HISTORY_LIMIT_DEFAULT;
	cJSON *req, *reply, *out;

	if (since != NULL && before != NULL) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, "give either since or before, not both");
		return;
	}
	if (since != NULL && !api_parse_uint(since, API_SEQ_MAX, &v_since)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT,
		          "since must be a sequence number (0 or more)");
		return;
	}
	if (before != NULL && (!api_parse_uint(before, API_SEQ_MAX, &v_before) || v_before == 0)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT,
		          "before must be a sequence number (1 or more)");
		return;
	}
	if (limit != NULL &&
	    (!api_parse_uint(limit, MADANG_HISTORY_PAGE_MAX, &v_limit) || v_limit == 0)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, "limit must be a number from 1 to 500");
		return;
	}
	req = api_op_room("history", room_id);
	if (req != NULL && since != NULL &&
	    cJSON_AddNumberToObject(req, "after_seq", (double)v_since) == NULL)
		goto oom;
	if (req != NULL && before != NULL &&
	    cJSON_AddNumberToObject(req, "before_seq", (double)v_before) == NULL)
		goto oom;
	if (req != NULL && cJSON_AddNumberToObject(req, "limit", (double)v_limit) == NULL)
		goto oom;
	/* The broker cuts its reply near this too (docs/broker-protocol.md, history); the page is
	 * cut again here, so the bound holds whatever the broker does. */
	if (req != NULL && cJSON_AddNumberToObject(req, "max_bytes", (double)max_bytes) == NULL)
		goto oom;
	if ((reply = api_broker(cfg, in, req, r)) == NULL)
		return;
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(reply, "events"))) {
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed history");
		return;
	}
	out = api_pick(reply, keys);
	if (out == NULL || !page_events(reply, out, max_bytes, since != NULL, v_limit)) {
		cJSON_Delete(out);
		cJSON_Delete(reply);
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	cJSON_Delete(reply);
	api_set_json(r, 200, out);
	return;
oom:
	cJSON_Delete(req);
	api_error(r, 500, "internal", "out of memory");
}

static bool
is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Reads the whole body (at most API_BODY_MAX bytes) into b. Returns 0, or the HTTP status of the
 * refusal (400 truncated or unreadable, 413 too large) with r filled. */
static int
read_body(const struct api_input *in, const struct api_request *rq, struct sbuf *b,
          struct api_response *r)
{
	size_t want = rq->has_length ? (size_t)rq->content_length : API_BODY_MAX + 1;

	if (!sbuf_reserve(b, want + 1)) {
		api_error(r, 500, "internal", "out of memory");
		return 500;
	}
	while (b->len < want) {
		long n = in->read_body != NULL
		             ? in->read_body(in->read_arg, b->data + b->len, want - b->len)
		             : 0;
		if (n < 0) {
			api_error(r, 400, ERR_INVALID_REQUEST,
			          "the request body could not be read");
			return 400;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	if (b->len > API_BODY_MAX) {
		api_error(r, 413, "payload_too_large", "request body over 16 KiB");
		return 413;
	}
	if (rq->has_length && b->len != want) {
		api_error(r, 400, ERR_INVALID_REQUEST,
		          "the request body is shorter than its length");
		return 400;
	}
	b->data[b->len] = '\0';
	return 0;
}

cJSON *
api_read_object(const struct api_input *in, const struct api_request *rq, const char *type_msg,
                struct api_response *r)
{
	struct sbuf b;
	cJSON *body = NULL;
	const char *why;

	if (!is_json_type(in->content_type)) {
		api_error(r, 415, "unsupported_media_type", type_msg);
		return NULL;
	}
	sbuf_init(&b);
	if (read_body(in, rq, &b, r) == 0 &&
	    (body = wire_parse_object(b.data, b.len, API_BODY_MAX, &why)) == NULL)
		api_error(r, 400, ERR_INVALID_REQUEST, why);
	sbuf_fini(&b);
	return body;
}

void
api_set_empty(struct api_response *r)
{
	sbuf_reset(&r->body);
	r->status = 204;
	r->content_type = NULL;
}

/* The owner a new room gets (docs/api.md "Rooms and owners"): the "owner" of the body, which
 * only an admin may give (or somebody naming themselves); else the creating token's subject;
 * none for the admin token and without credentials. Writes it to owner ("" for none); false
 * with r filled when the body's owner is refused. */
static bool
new_owner(const cJSON *body, const struct api_actor *who, char *owner, size_t size,
          struct api_response *r)
{
	size_t len;
	const char *o = wire_str(body, "owner", &len);

	owner[0] = '\0';
	if (!wire_has(body, "owner")) {
		if (who->kind == API_AUTH_JWT)
			snprintf(owner, size, "%s", who->subject);
		return true;
	}
	if (o == NULL || !jwt_subject_ok(o, len)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT,
		          "owner must be a subject: 1 to 128 bytes of UTF-8 without control "
		          "characters");
		return false;
	}
	if (!who->admin && !(who->kind == API_AUTH_JWT && strcmp(o, who->subject) == 0)) {
		api_error(r, 403, ERR_FORBIDDEN, "only an admin may name another owner");
		return false;
	}
	snprintf(owner, size, "%s", o);
	return true;
}

/* POST /api/rooms {"id":"jazz","name":"Jazz","owner"?:"u-17"} */
void
api_ep_create(const struct api_config *cfg, const struct api_input *in,
              const struct api_request *rq, const struct api_actor *who, struct api_response *r)
{
	static const char *const keys[] = {"id", "name", "users_count", NULL};
	cJSON *body, *req = NULL, *reply, *room;
	const char *why, *id, *name;
	char canon[MADANG_ROOM_NAME_MAX_BYTES + 1]; /* the name trimmed and NFC */
	char owner[MADANG_SUBJECT_MAX + 1];
	size_t id_len, name_len;

	if ((body = api_read_object(in, rq, "send the room as application/json", r)) == NULL)
		return;
	id = wire_str(body, "id", &id_len);
	name = wire_str(body, "name", &name_len);
	if (id == NULL || !valid_room_id(id, id_len)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, "id must match [A-Za-z0-9_-]{1,64}");
		goto out;
	}
	if (wire_has(body, "name") && name == NULL) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, "name must be a string");
		goto out;
	}
	if (name == NULL) {
		name = id; /* like a room the broker creates on join: named after its id */
		name_len = id_len;
	}
	if (!room_name_canonical(name, name_len, canon, sizeof(canon), &why)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, why);
		goto out;
	}
	if (!new_owner(body, who, owner, sizeof(owner), r))
		goto out;
	/* The actor lets the broker count the room against its owner (--rooms-per-owner) and
	 * audit it; a request without credentials (none configured) names nobody. */
	req = api_op_room("create_room", id);
	if (req != NULL &&
	    (cJSON_AddStringToObject(req, "name", canon) == NULL ||
	     (owner[0] != '\0' && cJSON_AddStringToObject(req, "owner", owner) == NULL) ||
	     ((who->kind == API_AUTH_TOKEN || who->kind == API_AUTH_JWT) &&
	      !api_add_actor(req, who)))) {
		cJSON_Delete(req);
		req = NULL;
	}
	if ((reply = api_broker(cfg, in, req, r)) == NULL)
		goto out;
	room = cJSON_GetObjectItemCaseSensitive(reply, "room");
	if (!room_valid(room)) {
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed room");
		goto out;
	}
	api_set_json(r, 201, api_pick(room, keys));
	cJSON_Delete(reply);
	if (r->status == 201)
		snprintf(r->location, sizeof(r->location), "/api/rooms/%s", id);
out:
	cJSON_Delete(body);
}

/* DELETE /api/rooms/{id} */
void
api_ep_delete(const struct api_config *cfg, const struct api_input *in, const char *room_id,
              struct api_response *r)
{
	cJSON *reply = api_broker(cfg, in, api_op_room("delete_room", room_id), r);

	if (reply == NULL)
		return;
	cJSON_Delete(reply);
	api_set_empty(r);
}

/* GET /api/health: 200 when an active broker answers, with its health reply (with --store the
 * broker adds "role" and "term"); 503 broker_unavailable when none does, or when the one that
 * answered says it is not the active one. */
void
api_ep_health(const struct api_config *cfg, const struct api_input *in, struct api_response *r)
{
	cJSON *reply = api_broker(cfg, in, op("health"), r);
	const char *role;
	cJSON *out;

	if (reply == NULL)
		return;
	if ((role = wire_str(reply, "role", NULL)) != NULL && strcmp(role, "active") != 0) {
		cJSON_Delete(reply);
		if (cfg->metrics != NULL)
			atomic_fetch_add(&cfg->metrics->broker_unavailable, 1);
		api_error(r, 503, "broker_unavailable",
		          "no active chat broker answered; try again");
		r->retry_after = true;
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(reply, "ok");
	out = cJSON_CreateObject();
	if (out == NULL || cJSON_AddStringToObject(out, "status", "ok") == NULL) {
		cJSON_Delete(out);
		cJSON_Delete(reply);
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	cJSON_AddItemToObject(out, "broker", reply);
	api_set_json(r, 200, out);
}

/* GET /api/metrics: answered 200 even when the broker is down (madang_broker_up 0). */
void
api_ep_metrics(const struct api_config *cfg, const struct api_input *in, struct api_response *r)
{
	cJSON *req = op("stats"), *reply = NULL;
	bool ok = false;

	if (req != NULL && in->call(in->call_arg, req, &reply) == API_CALL_OK &&
	    wire_bool(reply, "ok", &ok) && ok) {
		/* reply holds the stats */
	} else {
		cJSON_Delete(reply);
		reply = NULL;
	}
	cJSON_Delete(req);
	sbuf_reset(&r->body);
	if (cfg->metrics != NULL)
		api_metrics_render(cfg->metrics, reply, &r->body);
	cJSON_Delete(reply);
	r->status = 200;
	r->content_type = API_METRICS_TYPE;
}

/* Reads and drops what is left of an oversized body, so that the web server is not cut off in the
 * middle of sending it. */
void
api_ep_drain(const struct api_input *in)
{
	char buf[4096];
	size_t total = 0;
	long n;

	while (in->read_body != NULL && total < API_DRAIN_MAX &&
	       (n = in->read_body(in->read_arg, buf, sizeof(buf))) > 0)
		total += (size_t)n;
}
