/* api.c — madang-api's request handler: parse, route, check who may, dispatch to an endpoint. */
#include "api.h"
#include "endpoints.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "openapi.h"
#include "validate.h"

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

void
api_actor_of(const struct api_config *cfg, const char *authorization, struct api_actor *a)
{
	struct jwt_claims c;
	const char *tok, *why;

	memset(a, 0, sizeof(*a));
	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return;
	a->kind = API_AUTH_BAD;
	if (cfg->admin_token != NULL && api_bearer_ok(authorization, cfg->admin_token)) {
		a->kind = API_AUTH_TOKEN;
		a->admin = true;
		snprintf(a->name, sizeof(a->name), "admin");
		return;
	}
	if (cfg->jwt == NULL)
		return;
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	if (jwt_verify(cfg->jwt, tok, strlen(tok), (int64_t)time(NULL), &c, &why) != 0)
		return;
	a->kind = API_AUTH_JWT;
	a->admin = c.admin;
	snprintf(a->name, sizeof(a->name), "%s", c.name);
	snprintf(a->subject, sizeof(a->subject), "%s", c.sub);
}

/* Who may change rooms (docs/api.md "Authorization"): DELETE needs admin credentials and is
 * refused when none are configured; POST needs them only when some are configured, except that
 * with --user-rooms any valid JWT may create a room. Admin credentials are the admin token, or
 * (with --jwt-secret-file) an HS256 token whose "admin" claim is true. */
static bool
authorized(const struct api_config *cfg, const struct api_actor *a, enum api_method m,
           struct api_response *r)
{
	if (cfg->admin_token == NULL && cfg->jwt == NULL) {
		if (m != API_M_DELETE)
			return true;
		api_error(r, 403, ERR_FORBIDDEN,
		          "deleting rooms is disabled: no admin token is configured");
		return false;
	}
	if (a->admin || (a->kind == API_AUTH_JWT && m == API_M_POST && cfg->user_rooms))
		return true;
	if (a->kind == API_AUTH_JWT) {
		api_error(r, 403, ERR_FORBIDDEN, "this needs a token with the admin claim");
		return false;
	}
	api_error(r, 401, "unauthorized", "this needs Authorization: Bearer <admin token>");
	r->www_authenticate = true;
	return false;
}

/* Who may read a room's members and history when cfg->reads_need_token: the bearer of any valid
 * HS256 token of the site (the same tokens madang-ws takes) or of the admin token. The room list,
 * health, metrics and the OpenAPI document stay open. */
static bool
reader_ok(const struct api_actor *a, struct api_response *r)
{
	if (a->kind == API_AUTH_TOKEN || a->kind == API_AUTH_JWT)
		return true;
	api_error(r, 401, "unauthorized",
	          a->kind == API_AUTH_BAD ? "the token is not valid (expired, or not ours)"
	                                  : "reading a room needs Authorization: Bearer <token>");
	r->www_authenticate = true;
	return false;
}

/* Who may ask for a moderation action (docs/api.md "Moderation"): anybody with the admin token or
 * a valid JWT; the broker then decides by the actor's role in the room. Without either kind of
 * credentials configured nobody can be told apart, so moderation is off. */
static bool
moderator_ok(const struct api_config *cfg, const struct api_actor *a, struct api_response *r)
{
	if (cfg->admin_token == NULL && cfg->jwt == NULL) {
		api_error(r, 403, ERR_FORBIDDEN,
		          "moderation is disabled: madang-api has neither --admin-token-file nor "
		          "--jwt-secret-file");
		return false;
	}
	if (a->kind == API_AUTH_TOKEN || a->kind == API_AUTH_JWT)
		return true;
	api_error(r, 401, "unauthorized",
	          a->kind == API_AUTH_BAD ? "the token is not valid (expired, or not ours)"
	                                  : "moderation needs Authorization: Bearer <token>");
	r->www_authenticate = true;
	return false;
}

/* True for the requests that moderate a room: every method of its moderation routes but
 * OPTIONS, and PATCH of the room itself. */
static bool
is_moderation(const struct api_route *rt, enum api_method m)
{
	switch (rt->id) {
	case API_R_KICKS:
	case API_R_BANS:
	case API_R_BAN:
	case API_R_MUTES:
	case API_R_MUTE:
	case API_R_MESSAGE:
	case API_R_AUDIT:
		return m != API_M_OPTIONS;
	case API_R_ROOM:
		return m == API_M_PATCH;
	default:
		return false;
	}
}

void
api_handle(const struct api_config *cfg, const struct api_input *in, struct api_response *r)
{
	struct api_request rq;
	struct api_route rt;
	struct api_actor who;
	const char *why;
	enum api_perr pe;

	r->route = API_R_NONE;
	if ((pe = api_request_parse(&rq, in->method, in->uri, in->content_length, &why)) !=
	    API_PERR_NONE) {
		if (pe == API_PERR_TOO_LARGE)
			api_ep_drain(in);
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
	api_actor_of(cfg, in->authorization, &who);
	if (is_moderation(&rt, rq.method)) {
		if (moderator_ok(cfg, &who, r))
			api_ep_moderate(cfg, in, &rq, &rt, &who, r);
		return;
	}
	if ((rq.method == API_M_GET || rq.method == API_M_HEAD) && cfg->reads_need_token &&
	    (rt.id == API_R_ROOM || rt.id == API_R_MESSAGES) && !reader_ok(&who, r))
		return;
	switch (rq.method) {
	case API_M_OPTIONS:
		api_allow_string(rt.allow, r->allow, sizeof(r->allow));
		r->status = 204;
		r->content_type = NULL;
		r->preflight = true;
		return;
	case API_M_POST:
	case API_M_DELETE:
		if (!authorized(cfg, &who, rq.method, r))
			return;
		if (rq.method == API_M_POST)
			api_ep_create(cfg, in, &rq, &who, r);
		else
			api_ep_delete(cfg, in, rt.room_id, r);
		return;
	default: /* GET and HEAD */
		break;
	}
	switch (rt.id) {
	case API_R_ROOMS:
		api_ep_rooms(cfg, in, r);
		break;
	case API_R_ROOM:
		api_ep_room(cfg, in, rt.room_id, &who, r);
		break;
	case API_R_MESSAGES:
		api_ep_messages(cfg, in, &rq, rt.room_id, r);
		break;
	case API_R_HEALTH:
		api_ep_health(cfg, in, r);
		break;
	case API_R_METRICS:
		api_ep_metrics(cfg, in, r);
		break;
	case API_R_OPENAPI:
		sbuf_reset(&r->body);
		sbuf_add(&r->body, api_openapi_json, api_openapi_json_len);
		r->status = 200;
		r->content_type = API_JSON_TYPE;
		break;
	default:
		api_error(r, 404, "not_found", "no such API endpoint");
		break;
	}
}
