/* request.c — method, path, query and body-size parsing for madang-api (no I/O). */
#include "request.h"

#include <string.h>

#include "utf8.h"

#define UINT_DIGITS_MAX 15 /* enough for any limit here, and no overflow in uint64_t */

static const struct {
	const char *name;
	enum api_method m;
} methods[] = {
    {"GET", API_M_GET},       {"HEAD", API_M_HEAD},       {"POST", API_M_POST},
    {"DELETE", API_M_DELETE}, {"OPTIONS", API_M_OPTIONS}, {"PATCH", API_M_PATCH},
};

/* RFC 9110 tchar */
static bool
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
is_forbidden_byte(unsigned char c)
{
	return c == '\0' || c == '\r' || c == '\n';
}

bool
api_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= UINT_DIGITS_MAX)
			return false;
		v = v * 10 + (uint64_t)(s[n] - '0');
	}
	if (n == 0 || v > max)
		return false;
	*out = v;
	return true;
}

enum api_perr
api_pct_decode(const char *in, size_t len, bool plus_space, char *out, size_t outsz, size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return API_PERR_PCT;
			hi = hexval((unsigned char)in[i + 1]);
			lo = hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return API_PERR_PCT;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (is_forbidden_byte(c))
			return API_PERR_FORBIDDEN;
		if (o + 1 >= outsz)
			return API_PERR_URI_LONG;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (!utf8_valid(out, o))
		return API_PERR_FORBIDDEN;
	if (outlen != NULL)
		*outlen = o;
	return API_PERR_NONE;
}

static enum api_perr
parse_method(struct api_request *rq, const char *method, const char **why)
{
	size_t n = method != NULL ? strlen(method) : 0;

	if (n == 0 || n > API_METHOD_MAX) {
		*why = "missing or overlong request method";
		return API_PERR_METHOD;
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_tchar((unsigned char)method[i])) {
			*why = "request method is not an HTTP token";
			return API_PERR_METHOD;
		}
	}
	memcpy(rq->method_name, method, n + 1);
	rq->method = API_M_OTHER;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(method, methods[i].name) == 0)
			rq->method = methods[i].m;
	return API_PERR_NONE;
}

static enum api_perr
parse_path(struct api_request *rq, const char *p, size_t len, const char **why)
{
	size_t i = 1; /* p[0] is '/' */

	while (i < len) {
		const char *s = p + i;
		const char *slash = memchr(s, '/', len - i);
		size_t slen = slash != NULL ? (size_t)(slash - s) : len - i;
		char dec[API_SEGMENT_MAX + 1];
		size_t dlen;
		enum api_perr e;

		if (slen == 0) {
			*why = "empty path segment";
			return API_PERR_URI_BAD;
		}
		if ((e = api_pct_decode(s, slen, false, dec, sizeof(dec), &dlen)) !=
		    API_PERR_NONE) {
			*why = e == API_PERR_PCT ? "malformed percent-encoding in the path"
			       : e == API_PERR_URI_LONG
			           ? "path segment too long"
			           : "path decodes to NUL, CR, LF or invalid UTF-8";
			return e;
		}
		if (strcmp(dec, ".") == 0 || strcmp(dec, "..") == 0) {
			*why = "dot segments are not allowed in the path";
			return API_PERR_URI_BAD;
		}
		if (rq->nseg < API_SEGMENTS_MAX)
			memcpy(rq->seg[rq->nseg++], dec, dlen + 1);
		else
			rq->too_many_segments = true;
		i += slen + 1; /* a trailing slash ends the loop: it adds no segment */
	}
	return API_PERR_NONE;
}

static enum api_perr
parse_query(struct api_request *rq, const char *q, size_t len, const char **why)
{
	size_t i = 0;

	while (i < len) {
		const char *s = q + i;
		const char *amp = memchr(s, '&', len - i);
		size_t plen = amp != NULL ? (size_t)(amp - s) : len - i;
		const char *eq = memchr(s, '=', plen);
		size_t klen = eq != NULL ? (size_t)(eq - s) : plen;
		struct api_query_param *qp;
		const char *long_why;
		enum api_perr e;

		i += plen + 1;
		if (plen == 0)
			continue; /* "a=1&&b=2" */
		if (rq->nparam >= API_QUERY_PARAMS_MAX) {
			*why = "too many query parameters";
			return API_PERR_QUERY;
		}
		qp = &rq->param[rq->nparam];
		e = api_pct_decode(s, klen, true, qp->key, sizeof(qp->key), NULL);
		long_why = "query parameter name over 32 bytes";
		if (e == API_PERR_NONE && eq != NULL) {
			e = api_pct_decode(eq + 1, plen - klen - 1, true, qp->value,
			                   sizeof(qp->value), NULL);
			long_why = "query parameter value over 256 bytes (decoded)";
		} else if (e == API_PERR_NONE) {
			qp->value[0] = '\0';
		}
		if (e != API_PERR_NONE) {
			*why = e == API_PERR_PCT ? "malformed percent-encoding in the query"
			       : e == API_PERR_URI_LONG
			           ? long_why
			           : "query decodes to NUL, CR, LF or invalid UTF-8";
			return e == API_PERR_URI_LONG ? API_PERR_QUERY : e;
		}
		if (qp->key[0] == '\0') {
			*why = "empty query parameter name";
			return API_PERR_QUERY;
		}
		if (api_request_query(rq, qp->key) != NULL) {
			*why = "repeated query parameter";
			return API_PERR_QUERY;
		}
		rq->nparam++;
	}
	return API_PERR_NONE;
}

enum api_perr
api_request_parse(struct api_request *rq, const char *method, const char *uri,
                  const char *content_length, const char **why)
{
	enum api_perr e;
	size_t len, plen;
	const char *qm;

	memset(rq, 0, sizeof(*rq));
	*why = "";
	if ((e = parse_method(rq, method, why)) != API_PERR_NONE)
		return e;
	if (uri == NULL || uri[0] == '\0') {
		*why = "missing request URI";
		return API_PERR_URI_MISSING;
	}
	len = strnlen(uri, API_URI_MAX + 1);
	if (len > API_URI_MAX) {
		*why = "request URI too long";
		return API_PERR_URI_LONG;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)uri[i];

		if (c == '\r' || c == '\n') {
			*why = "CR or LF in the request URI";
			return API_PERR_FORBIDDEN;
		}
		if (c < 0x20 || c == 0x7f || c == '#') {
			*why = "control character or fragment in the request URI";
			return API_PERR_URI_BAD;
		}
	}
	if (uri[0] != '/') {
		*why = "request URI is not an absolute path";
		return API_PERR_URI_BAD;
	}
	qm = memchr(uri, '?', len);
	plen = qm != NULL ? (size_t)(qm - uri) : len;
	if ((e = parse_path(rq, uri, plen, why)) != API_PERR_NONE)
		return e;
	if (qm != NULL && (e = parse_query(rq, qm + 1, len - plen - 1, why)) != API_PERR_NONE)
		return e;
	if (content_length != NULL && content_length[0] != '\0') {
		if (!api_parse_uint(content_length, UINT64_MAX, &rq->content_length)) {
			*why = "CONTENT_LENGTH is not a decimal number";
			return API_PERR_LENGTH;
		}
		rq->has_length = true;
		if (rq->content_length > API_BODY_MAX) {
			*why = "request body over 16 KiB";
			return API_PERR_TOO_LARGE;
		}
	}
	return API_PERR_NONE;
}

const char *
api_request_query(const struct api_request *rq, const char *key)
{
	for (size_t i = 0; i < rq->nparam; i++)
		if (strcmp(rq->param[i].key, key) == 0)
			return rq->param[i].value;
	return NULL;
}

int
api_perr_status(enum api_perr e)
{
	switch (e) {
	case API_PERR_NONE:
		return 200;
	case API_PERR_URI_LONG:
		return 414;
	case API_PERR_TOO_LARGE:
		return 413;
	default:
		return 400;
	}
}

const char *
api_perr_code(enum api_perr e)
{
	switch (e) {
	case API_PERR_URI_LONG:
		return "uri_too_long";
	case API_PERR_TOO_LARGE:
		return "payload_too_large";
	default:
		return "invalid_request";
	}
}
