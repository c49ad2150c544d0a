/* request.h — parsing what the web server tells madang-api about one HTTP request (the FastCGI
 * params REQUEST_METHOD, REQUEST_URI, CONTENT_LENGTH, ...): method, path segments, query
 * parameters, body size. No I/O; every input is untrusted and checked. */
#ifndef MADANG_API_REQUEST_H
#define MADANG_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on one request (docs/api.md "Limits"). */
#define API_METHOD_MAX       16          /* bytes of a method name */
#define API_URI_MAX          2048        /* bytes of REQUEST_URI (path and query); over: 414 */
#define API_SEGMENTS_MAX     8           /* path segments; more cannot match any route: 404 */
#define API_SEGMENT_MAX      256         /* bytes of one decoded path segment */
#define API_QUERY_PARAMS_MAX 16          /* key=value pairs in the query string */
#define API_QUERY_KEY_MAX    32          /* bytes of a decoded query key */
#define API_QUERY_VALUE_MAX  256         /* bytes of a decoded query value */
#define API_BODY_MAX         (16 * 1024) /* request body; over: 413 */
#define API_HEADER_MAX       1024        /* bytes of a header value we use (Authorization, ...) */

enum api_method {
	API_M_OTHER = 0, /* a syntactically valid method madang-api does not implement */
	API_M_GET,
	API_M_HEAD,
	API_M_POST,
	API_M_DELETE,
	API_M_OPTIONS,
	API_M_PATCH,
};

/* Why a request was refused before routing; each maps to one HTTP status and error code. */
enum api_perr {
	API_PERR_NONE = 0,
	API_PERR_METHOD,      /* missing or not an HTTP token: 400 */
	API_PERR_URI_MISSING, /* no REQUEST_URI: 400 */
	API_PERR_URI_LONG,    /* over API_URI_MAX: 414 */
	API_PERR_URI_BAD,     /* not absolute, control bytes, dot segments: 400 */
	API_PERR_PCT,         /* malformed percent-encoding: 400 */
	API_PERR_FORBIDDEN,   /* decodes to NUL, CR or LF, or to invalid UTF-8: 400 */
	API_PERR_QUERY,       /* too many parameters, too long, repeated: 400 */
	API_PERR_LENGTH,      /* CONTENT_LENGTH not a decimal number: 400 */
	API_PERR_TOO_LARGE,   /* CONTENT_LENGTH over API_BODY_MAX: 413 */
};

struct api_query_param {
	char key[API_QUERY_KEY_MAX + 1];
	char value[API_QUERY_VALUE_MAX + 1];
};

struct api_request {
	enum api_method method;
	char method_name[API_METHOD_MAX + 1];
	size_t nseg; /* path segments after decoding; "/api/rooms/" gives "api", "rooms" */
	char seg[API_SEGMENTS_MAX][API_SEGMENT_MAX + 1];
	bool too_many_segments; /* the path had more than API_SEGMENTS_MAX segments */
	size_t nparam;
	struct api_query_param param[API_QUERY_PARAMS_MAX];
	bool has_length; /* CONTENT_LENGTH was given (and not empty) */
	uint64_t content_length;
};

/* Parses the method, the URI (path and query) and CONTENT_LENGTH (NULL or "" when absent) into
 * *rq. Returns API_PERR_NONE, or why the request must be refused with *why a human reason. */
enum api_perr api_request_parse(struct api_request *rq, const char *method, const char *uri,
                                const char *content_length, const char **why);

/* Percent-decodes in[0..len) into out (size outsz, NUL-terminated). With plus_space, '+' becomes
 * a space (query strings). Refuses malformed escapes (API_PERR_PCT), a decoded or raw NUL, CR or
 * LF and invalid UTF-8 (API_PERR_FORBIDDEN), and output over outsz - 1 bytes (API_PERR_URI_LONG).
 */
enum api_perr api_pct_decode(const char *in, size_t len, bool plus_space, char *out, size_t outsz,
                             size_t *outlen);

/* The decoded value of query parameter key, or NULL. */
const char *api_request_query(const struct api_request *rq, const char *key);

/* Parses a decimal number without sign or spaces, at most max. False when s is not one. */
bool api_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* HTTP status for a parse error (400, 413 or 414) and its machine-readable code. */
int api_perr_status(enum api_perr e);
const char *api_perr_code(enum api_perr e);

#endif
