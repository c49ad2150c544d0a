/* router.c — the table of madang-api's endpoints and the method each takes. */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "validate.h"

#define GET_ONLY (API_ALLOW(API_M_GET) | API_ALLOW(API_M_HEAD) | API_ALLOW(API_M_OPTIONS))

#define POST_ONLY   (API_ALLOW(API_M_POST) | API_ALLOW(API_M_OPTIONS))
#define DELETE_ONLY (API_ALLOW(API_M_DELETE) | API_ALLOW(API_M_OPTIONS))

/* A pattern is the path after "/api", one entry per segment; "*" matches a room id, "@" any one
 * segment (a {user} or a {seq}, checked by its endpoint). */
static const struct {
	enum api_route_id id;
	const char *name;
	size_t nseg;
	const char *seg[4];
	unsigned allow;
} routes[] = {
    {API_R_ROOMS, "rooms", 1, {"rooms"}, GET_ONLY | API_ALLOW(API_M_POST)},
    {API_R_ROOM,
     "room",
     2,
     {"rooms", "*"},
     GET_ONLY | API_ALLOW(API_M_DELETE) | API_ALLOW(API_M_PATCH)},
    {API_R_MESSAGES, "messages", 3, {"rooms", "*", "messages"}, GET_ONLY},
    {API_R_HEALTH, "health", 1, {"health"}, GET_ONLY},
    {API_R_METRICS, "metrics", 1, {"metrics"}, GET_ONLY},
    {API_R_OPENAPI, "openapi", 1, {"openapi.json"}, GET_ONLY},
    {API_R_KICKS, "kicks", 3, {"rooms", "*", "kicks"}, POST_ONLY},
    {API_R_BANS,
     "bans",
     3,
     {"rooms", "*", "bans"},
     GET_ONLY | API_ALLOW(API_M_POST) | API_ALLOW(API_M_DELETE)},
    {API_R_BAN, "ban", 4, {"rooms", "*", "bans", "@"}, DELETE_ONLY},
    {API_R_MUTES, "mutes", 3, {"rooms", "*", "mutes"}, GET_ONLY | API_ALLOW(API_M_POST)},
    {API_R_MUTE, "mute", 4, {"rooms", "*", "mutes", "@"}, DELETE_ONLY},
    {API_R_MESSAGE, "message", 4, {"rooms", "*", "messages", "@"}, DELETE_ONLY},
    {API_R_AUDIT, "audit", 3, {"rooms", "*", "audit"}, GET_ONLY},
};

enum api_route_result
api_route(const struct api_request *rq, struct api_route *rt)
{
	memset(rt, 0, sizeof(*rt));
	if (rq->too_many_segments || rq->nseg < 2 || strcmp(rq->seg[0], "api") != 0)
		return API_ROUTE_NOT_FOUND;
	for (size_t r = 0; r < sizeof(routes) / sizeof(routes[0]); r++) {
		const char *room = NULL, *arg = NULL;
		size_t i;

		if (routes[r].nseg != rq->nseg - 1)
			continue;
		for (i = 0; i < routes[r].nseg; i++) {
			const char *want = routes[r].seg[i];
			const char *got = rq->seg[i + 1];

			if (strcmp(want, "*") == 0)
				room = got;
			else if (strcmp(want, "@") == 0)
				arg = got;
			else if (strcmp(want, got) != 0)
				break;
		}
		if (i < routes[r].nseg)
			continue;
		rt->id = routes[r].id;
		rt->room_id = room;
		rt->arg = arg;
		rt->allow = routes[r].allow;
		if (room != NULL && !valid_room_id(room, strlen(room)))
			return API_ROUTE_BAD_ROOM_ID;
		if ((rt->allow & API_ALLOW(rq->method)) == 0 || rq->method == API_M_OTHER)
			return API_ROUTE_BAD_METHOD;
		return API_ROUTE_OK;
	}
	return API_ROUTE_NOT_FOUND;
}

void
api_allow_string(unsigned allow, char *buf, size_t size)
{
	static const struct {
		enum api_method m;
		const char *name;
	} order[] = {{API_M_GET, "GET"},       {API_M_HEAD, "HEAD"},   {API_M_POST, "POST"},
	             {API_M_DELETE, "DELETE"}, {API_M_PATCH, "PATCH"}, {API_M_OPTIONS, "OPTIONS"}};
	size_t len = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int n;

		if ((allow & API_ALLOW(order[i].m)) == 0)
			continue;
		n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", order[i].name);
		if (n < 0 || (size_t)n >= size - len)
			return; /* truncated: the caller's buffer is too small (a programming error)
			         */
		len += (size_t)n;
	}
}

const char *
api_route_name(enum api_route_id id)
{
	for (size_t r = 0; r < sizeof(routes) / sizeof(routes[0]); r++)
		if (routes[r].id == id)
			return routes[r].name;
	return "other";
}
