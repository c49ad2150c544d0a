/* api.c — madang-api's endpoints: checks a request, asks the broker, shapes the HTTP response. */
#include "api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "openapi.h"
#include "validate.h"
#include "wire.h"

#define JSON_TYPE    "application/json; charset=utf-8"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

void
api_response_init(struct api_response *r)
{
	memset(r, 0, sizeof(*r));
	sbuf_init(&r->body);
	r->status = 500;
}

void
api_response_fini(struct api_response *r)
{
	sbuf_fini(&r->body);
}

const char *
api_status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

/* Replaces the body with the JSON text of obj (which is deleted). */
static void
set_json(struct api_response *r, int status, cJSON *obj)
{
	char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;

	cJSON_Delete(obj);
	sbuf_reset(&r->body);
	if (text == NULL) {
		r->status = 500;
		r->content_type = JSON_TYPE;
		sbuf_adds(&r->body, "{\"error\":\"internal\",\"message\":\"out of memory\"}");
		return;
	}
	r->status = status;
	r->content_type = JSON_TYPE;
	sbuf_adds(&r->body, text);
	cJSON_free(text);
}

void
api_error(struct api_response *r, int status, const char *code, const char *message)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL && (cJSON_AddStringToObject(o, "error", code) == NULL ||
	                  cJSON_AddStringToObject(o, "message", message) == NULL)) {
		cJSON_Delete(o);
		o = NULL;
	}
	set_json(r, status, o);
}

bool
api_bearer_ok(const char *value, const char *token)
{
	size_t vlen, tlen;
	unsigned char diff = 0;

	if (value == NULL || token == NULL || strncasecmp(value, "Bearer ", 7) != 0)
		return false;
	value += 7;
	while (*value == ' ')
		value++;
	vlen = strlen(value);
	while (vlen > 0 && value[vlen - 1] == ' ')
		vlen--;
	tlen = strlen(token);
	if (vlen != tlen)
		return false;
	for (size_t i = 0; i < tlen; i++)
		diff |= (unsigned char)(value[i] ^ token[i]);
	return diff == 0;
}

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
	    {ERR_FORBIDDEN, 403},
	};

	for (size_t i = 0; code != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].status;
	return 502;
}

/* Sends req (deleted here) to the broker. Returns the reply when it says ok:true; otherwise fills
 * r with the matching error response and returns NULL. */
static cJSON *
broker(const struct api_config *cfg, const struct api_input *in, cJSON *req, struct api_response *r)
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

static cJSON *
op_room(const char *name, const char *room_id)
{
	cJSON *o = op(name);

	if (o != NULL && cJSON_AddStringToObject(o, "room_id", room_id) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Copies the listed fields of src that exist into a new object, in this order. */
static cJSON *
pick(const cJSON *src, const char *const *keys)
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

	return room_valid(src) ? pick(src, keys) : NULL;
}

/* GET /api/rooms */
static void
get_rooms(const struct api_config *cfg, const struct api_input *in, struct api_response *r)
{
	cJSON *reply = broker(cfg, in, op("list_rooms"), r);
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
	set_json(r, 200, out);
}

/* GET /api/rooms/{id} */
static void
get_room(const struct api_config *cfg, const struct api_input *in, const char *room_id,
         struct api_response *r)
{
	static const char *const keys[] = {"id", "name", "users_count", "members", "seq", NULL};
	cJSON *reply = broker(cfg, in, op_room("get_room", room_id), r);
	const cJSON *room;
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
	out = pick(room, keys);
	cJSON_Delete(reply);
	set_json(r, 200, out);
}

/* GET /api/rooms/{id}/messages?since=N|before=N&limit=N */
static void
get_messages(const struct api_config *cfg, const struct api_input *in, const struct api_request *rq,
             const char *room_id, struct api_response *r)
{
	static const char *const keys[] = {"room_id",  "epoch",  "first_seq", "last_seq",
	                                   "complete", "events", NULL};
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
	req = op_room("history", room_id);
	if (req != NULL && since != NULL &&
	    cJSON_AddNumberToObject(req, "after_seq", (double)v_since) == NULL)
		goto oom;
	if (req != NULL && before != NULL &&
	    cJSON_AddNumberToObject(req, "before_seq", (double)v_before) == NULL)
		goto oom;
	if (req != NULL && cJSON_AddNumberToObject(req, "limit", (double)v_limit) == NULL)
		goto oom;
	if ((reply = broker(cfg, in, req, r)) == NULL)
		return;
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(reply, "events"))) {
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed history");
		return;
	}
	out = pick(reply, keys);
	cJSON_Delete(reply);
	set_json(r, 200, out);
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

/* POST /api/rooms {"id":"jazz","name":"Jazz"} */
static void
post_room(const struct api_config *cfg, const struct api_input *in, const struct api_request *rq,
          struct api_response *r)
{
	static const char *const keys[] = {"id", "name", "users_count", NULL};
	struct sbuf b;
	cJSON *body = NULL, *req = NULL, *reply, *room;
	const char *why, *id, *name;
	size_t id_len, name_len;

	if (!is_json_type(in->content_type)) {
		api_error(r, 415, "unsupported_media_type", "send the room as application/json");
		return;
	}
	sbuf_init(&b);
	if (read_body(in, rq, &b, r) != 0)
		goto out;
	if ((body = wire_parse_object(b.data, b.len, API_BODY_MAX, &why)) == NULL) {
		api_error(r, 400, ERR_INVALID_REQUEST, why);
		goto out;
	}
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
	if (!valid_room_name(name, name_len, &why)) {
		api_error(r, 400, ERR_INVALID_ARGUMENT, why);
		goto out;
	}
	req = op_room("create_room", id);
	if (req != NULL && cJSON_AddStringToObject(req, "name", name) == NULL) {
		cJSON_Delete(req);
		req = NULL;
	}
	if ((reply = broker(cfg, in, req, r)) == NULL)
		goto out;
	room = cJSON_GetObjectItemCaseSensitive(reply, "room");
	if (!room_valid(room)) {
		cJSON_Delete(reply);
		api_error(r, 502, "bad_gateway", "the chat broker sent a malformed room");
		goto out;
	}
	set_json(r, 201, pick(room, keys));
	cJSON_Delete(reply);
	if (r->status == 201)
		snprintf(r->location, sizeof(r->location), "/api/rooms/%s", id);
out:
	cJSON_Delete(body);
	sbuf_fini(&b);
}

/* DELETE /api/rooms/{id} */
static void
delete_room(const struct api_config *cfg, const struct api_input *in, const char *room_id,
            struct api_response *r)
{
	cJSON *reply = broker(cfg, in, op_room("delete_room", room_id), r);

	if (reply == NULL)
		return;
	cJSON_Delete(reply);
	sbuf_reset(&r->body);
	r->status = 204;
	r->content_type = NULL;
}

/* GET /api/health */
static void
get_health(const struct api_config *cfg, const struct api_input *in, struct api_response *r)
{
	cJSON *reply = broker(cfg, in, op("health"), r);
	cJSON *out;

	if (reply == NULL)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(reply, "ok");
	out = cJSON_CreateObject();
	if (out == NULL || cJSON_AddStringToObject(out, "status", "ok") == NULL) {
		cJSON_Delete(out);
		cJSON_Delete(reply);
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	cJSON_AddItemToObject(out, "broker", reply);
	set_json(r, 200, out);
}

/* GET /api/metrics: answered 200 even when the broker is down (madang_broker_up 0). */
static void
get_metrics(const struct api_config *cfg, const struct api_input *in, struct api_response *r)
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
	r->content_type = METRICS_TYPE;
}

/* Reads and drops what is left of an oversized body, so that the web server is not cut off in the
 * middle of sending it. */
static void
drain(const struct api_input *in)
{
	char buf[4096];
	size_t total = 0;
	long n;

	while (in->read_body != NULL && total < API_DRAIN_MAX &&
	       (n = in->read_body(in->read_arg, buf, sizeof(buf))) > 0)
		total += (size_t)n;
}

/* Who may change rooms (docs/api.md "Authorization"): DELETE needs the admin token and is refused
 * when none is configured; POST needs it only when one is configured. */
static bool
authorized(const struct api_config *cfg, const struct api_input *in, enum api_method m,
           struct api_response *r)
{
	if (cfg->admin_token == NULL) {
		if (m != API_M_DELETE)
			return true;
		api_error(r, 403, ERR_FORBIDDEN,
		          "deleting rooms is disabled: no admin token is configured");
		return false;
	}
	if (api_bearer_ok(in->authorization, cfg->admin_token))
		return true;
	api_error(r, 401, "unauthorized", "this needs Authorization: Bearer <admin token>");
	r->www_authenticate = true;
	return false;
}

void
api_handle(const struct api_config *cfg, const struct api_input *in, struct api_response *r)
{
	struct api_request rq;
	struct api_route rt;
	const char *why;
	enum api_perr pe;

	r->route = API_R_NONE;
	if ((pe = api_request_parse(&rq, in->method, in->uri, in->content_length, &why)) !=
	    API_PERR_NONE) {
		if (pe == API_PERR_TOO_LARGE)
			drain(in);
		api_error(r, api_perr_status(pe), api_perr_code(pe), why);
		return;
	}
	r->head = rq.method == API_M_HEAD;
	switch (api_route(&rq, &rt)) {
	case API_ROUTE_NOT_FOUND:
		api_error(r, 404, "not_found", "no such API endpoint");
		return;
	case API_ROUTE_BAD_ROOM_ID:
		r->route = rt.id;
		api_error(r, 400, ERR_INVALID_ARGUMENT, "a room id is [A-Za-z0-9_-]{1,64}");
		return;
	case API_ROUTE_BAD_METHOD:
		r->route = rt.id;
		api_allow_string(rt.allow, r->allow, sizeof(r->allow));
		api_error(r, 405, "method_not_allowed", "this endpoint does not take that method");
		return;
	case API_ROUTE_OK:
		break;
	}
	r->route = rt.id;
	switch (rq.method) {
	case API_M_OPTIONS:
		api_allow_string(rt.allow, r->allow, sizeof(r->allow));
		r->status = 204;
		r->content_type = NULL;
		r->preflight = true;
		return;
	case API_M_POST:
	case API_M_DELETE:
		if (!authorized(cfg, in, rq.method, r))
			return;
		if (rq.method == API_M_POST)
			post_room(cfg, in, &rq, r);
		else
			delete_room(cfg, in, rt.room_id, r);
		return;
	default: /* GET and HEAD */
		break;
	}
	switch (rt.id) {
	case API_R_ROOMS:
		get_rooms(cfg, in, r);
		break;
	case API_R_ROOM:
		get_room(cfg, in, rt.room_id, r);
		break;
	case API_R_MESSAGES:
		get_messages(cfg, in, &rq, rt.room_id, r);
		break;
	case API_R_HEALTH:
		get_health(cfg, in, r);
		break;
	case API_R_METRICS:
		get_metrics(cfg, in, r);
		break;
	case API_R_OPENAPI:
		sbuf_reset(&r->body);
		sbuf_add(&r->body, api_openapi_json, api_openapi_json_len);
		r->status = 200;
		r->content_type = JSON_TYPE;
		break;
	default:
		api_error(r, 404, "not_found", "no such API endpoint");
		break;
	}
}

void
api_response_head(const struct api_config *cfg, const struct api_response *r, struct sbuf *out)
{
	sbuf_addf(out, "Status: %d %s\r\n", r->status, api_status_text(r->status));
	if (r->content_type != NULL) {
		sbuf_addf(out, "Content-Type: %s\r\n", r->content_type);
		sbuf_addf(out, "Content-Length: %zu\r\n", r->body.len);
	}
	sbuf_adds(out, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
	if (r->allow[0] != '\0')
		sbuf_addf(out, "Allow: %s\r\n", r->allow);
	if (r->location[0] != '\0')
		sbuf_addf(out, "Location: %s\r\n", r->location);
	if (r->www_authenticate)
		sbuf_adds(out, "WWW-Authenticate: Bearer realm=\"madang\"\r\n");
	if (r->retry_after)
		sbuf_adds(out, "Retry-After: 1\r\n");
	if (cfg->cors_origin != NULL) {
		sbuf_addf(out, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n",
		          cfg->cors_origin);
		if (r->preflight)
			sbuf_addf(out,
			          "Access-Control-Allow-Methods: %s\r\n"
			          "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
			          "Access-Control-Max-Age: 600\r\n",
			          r->allow);
	}
	sbuf_adds(out, "\r\n");
}
