/* router.h — which endpoint a parsed request names, and which methods that endpoint takes. */
#ifndef MADANG_API_ROUTER_H
#define MADANG_API_ROUTER_H

#include <stddef.h>

#include "request.h"

enum api_route_id {
	API_R_NONE = 0, /* no route (refused before routing, or unknown path) */
	API_R_ROOMS,    /* /api/rooms */
	API_R_ROOM,     /* /api/rooms/{id} */
	API_R_MESSAGES, /* /api/rooms/{id}/messages */
	API_R_HEALTH,   /* /api/health */
	API_R_METRICS,  /* /api/metrics */
	API_R_OPENAPI,  /* /api/openapi.json */
	API_R_KICKS,    /* /api/rooms/{id}/kicks */
	API_R_BANS,     /* /api/rooms/{id}/bans */
	API_R_BAN,      /* /api/rooms/{id}/bans/{user} */
	API_R_MUTES,    /* /api/rooms/{id}/mutes */
	API_R_MUTE,     /* /api/rooms/{id}/mutes/{user} */
	API_R_MESSAGE,  /* /api/rooms/{id}/messages/{seq} */
	API_R_AUDIT,    /* /api/rooms/{id}/audit */
	API_R_COUNT,
};

/* Method bits for api_route.allow */
#define API_ALLOW(m) (1u << (m))

struct api_route {
	enum api_route_id id;
	const char *room_id; /* routes under /api/rooms/{id}: the decoded id (points into the
	                      * request) */
	const char *arg;     /* API_R_BAN, API_R_MUTE: the decoded {user}; API_R_MESSAGE: {seq}
	                      * (unchecked: the endpoint validates it) */
	unsigned allow;      /* methods the path takes, for 405 and OPTIONS */
};

enum api_route_result {
	API_ROUTE_OK = 0,
	API_ROUTE_NOT_FOUND,   /* 404 not_found */
	API_ROUTE_BAD_METHOD,  /* 405 method_not_allowed, with rt->allow filled */
	API_ROUTE_BAD_ROOM_ID, /* 400 invalid_argument: the {id} is not [A-Za-z0-9_-]{1,64} */
};

/* Finds the route for rq. On API_ROUTE_OK and API_ROUTE_BAD_METHOD, *rt names the route. */
enum api_route_result api_route(const struct api_request *rq, struct api_route *rt);

/* Writes the Allow header value for a method set ("GET, HEAD, POST, OPTIONS") into buf (64 bytes
 * hold every set). */
void api_allow_string(unsigned allow, char *buf, size_t size);

/* Short stable name of a route for metrics labels ("rooms", "room", ..., "other"). */
const char *api_route_name(enum api_route_id id);

#endif
