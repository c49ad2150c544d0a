/* api.h — madang-api's request handler: one parsed FastCGI request in, one HTTP response out.
 * Pure: the broker and the request body are reached through callbacks, so the whole REST surface
 * is unit-tested without sockets. Safe to call from many threads at once (no shared state but
 * the atomic metrics). */
#ifndef MADANG_API_API_H
#define MADANG_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "metrics.h"
#include "request.h"
#include "router.h"
#include "jwt.h"
#include "sbuf.h"

#define API_DRAIN_MAX             (1024 * 1024) /* body bytes read and dropped before answering 413 */
#define API_TOKEN_MIN             16            /* admin token: 16..256 bytes of printable ASCII */
#define API_TOKEN_MAX             256
#define API_CORS_ORIGIN_MAX       256
#define API_HISTORY_LIMIT_DEFAULT 50                  /* ?limit= of /messages when absent */
#define API_SEQ_MAX               9007199254740991ull /* 2^53 - 1: ?since= and ?before= */
#define API_HISTORY_BYTES_DEFAULT (256 * 1024)        /* events' bytes in one /messages reply */
#define API_HISTORY_BYTES_MIN     (16 * 1024) /* more than the largest event: a page holds one */
#define API_HISTORY_BYTES_MAX     (16 * 1024 * 1024)
#define API_AUDIT_LIMIT_DEFAULT   50  /* ?limit= of /audit when absent */
#define API_AUDIT_LIMIT_MAX       500 /* entries in one /audit reply (the broker's bound) */

enum api_call_result {
	API_CALL_OK = 0,      /* *reply holds the broker's JSON object reply */
	API_CALL_UNAVAILABLE, /* no reply within the timeout, or the request could not be sent */
	API_CALL_BAD_REPLY,   /* the reply was not a JSON object */
};

/* Sends one request to the broker; on API_CALL_OK the caller owns *reply. */
typedef enum api_call_result (*api_call_fn)(void *arg, const cJSON *req, cJSON **reply);
/* Reads up to n body bytes; returns the count, 0 at the end of the body, -1 on error. */
typedef long (*api_read_fn)(void *arg, char *buf, size_t n);

struct api_config {
	const char *admin_token;      /* NULL: none configured (DELETE is then refused with 403) */
	const struct jwt_secret *jwt; /* --jwt-secret-file: a Bearer HS256 token with "admin": true
	                               * also allows POST and DELETE; NULL: off */
	bool user_rooms;              /* --user-rooms: any valid JWT may create a room (and owns
	                               * it); else creating needs admin credentials */
	bool reads_need_token;        /* GET/HEAD of /api/rooms/{id} and its /messages need a Bearer
	                               * JWT (or the admin token): on with --jwt-secret-file unless
	                               * --public-reads (docs/api.md "Authorization") */
	size_t history_max_bytes;     /* --history-max-bytes: events' JSON in one /messages reply;
	                               * 0 means API_HISTORY_BYTES_DEFAULT */
	const char *cors_origin;      /* NULL: no CORS headers */
	struct api_metrics *metrics;
};

/* What the web server said about the request; NULL for any absent parameter. */
struct api_input {
	const char *method;         /* REQUEST_METHOD */
	const char *uri;            /* REQUEST_URI: raw path and query */
	const char *content_length; /* CONTENT_LENGTH */
	const char *content_type;   /* CONTENT_TYPE */
	const char *authorization;  /* HTTP_AUTHORIZATION */
	api_read_fn read_body;
	void *read_arg;
	api_call_fn call;
	void *call_arg;
};

/* Who sent a request, from its Authorization header (docs/api.md "Authorization"). */
enum api_auth {
	API_AUTH_NONE = 0, /* no "Bearer" credentials */
	API_AUTH_BAD,      /* Bearer credentials that are neither the admin token nor a valid JWT */
	API_AUTH_TOKEN,    /* the admin token: name "admin", no subject, admin */
	API_AUTH_JWT,      /* a valid HS256 token of the site */
};

struct api_actor {
	enum api_auth kind;
	char
	    name[MADANG_NICK_MAX_BYTES + 1]; /* the token's nickname; "admin" for the admin token */
	char subject[MADANG_SUBJECT_MAX + 1]; /* the token's subject; "" for the admin token */
	bool admin;                           /* the admin token, or a JWT with "admin": true */
};

struct api_response {
	int status;
	const char *content_type; /* NULL: no body (204) */
	char allow[64];           /* Allow header, "" when none */
	char location[96];        /* Location header, "" when none */
	bool www_authenticate;    /* 401: WWW-Authenticate: Bearer */
	bool retry_after;         /* 503: Retry-After: 1 */
	bool preflight;           /* OPTIONS: add the CORS preflight headers when CORS is on */
	bool head;                /* HEAD: send the headers only */
	enum api_route_id route;
	struct sbuf body;
};

void api_response_init(struct api_response *r);
void api_response_fini(struct api_response *r);

/* Answers one request. Never fails: every problem becomes an HTTP error response. */
void api_handle(const struct api_config *cfg, const struct api_input *in, struct api_response *out);

/* Writes the CGI response header block ("Status: ...\r\n", headers, "\r\n") for r. */
void api_response_head(const struct api_config *cfg, const struct api_response *r,
                       struct sbuf *out);

/* Fills r with {"error":code,"message":message} and status. */
void api_error(struct api_response *r, int status, const char *code, const char *message);

/* The reason phrase of an HTTP status ("Not Found"). */
const char *api_status_text(int status);

/* True when value is "Bearer <token>" with exactly this token (compared in constant time). */
bool api_bearer_ok(const char *value, const char *token);

/* Fills *a with who the Authorization header value (NULL when absent) names under cfg. */
void api_actor_of(const struct api_config *cfg, const char *authorization, struct api_actor *a);

#endif
