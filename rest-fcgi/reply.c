/* reply.c — madang-api's HTTP responses: JSON bodies, error objects, reason phrases and the CGI
 * header block. */
#include "api.h"
#include "endpoints.h"

#include <stdio.h>
#include <string.h>

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

void
api_set_json(struct api_response *r, int status, cJSON *obj)
{
	char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;

	cJSON_Delete(obj);
	sbuf_reset(&r->body);
	if (text == NULL) {
		r->status = 500;
		r->content_type = API_JSON_TYPE;
		sbuf_adds(&r->body, "{\"error\":\"internal\",\"message\":\"out of memory\"}");
		return;
	}
	r->status = status;
	r->content_type = API_JSON_TYPE;
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
	api_set_json(r, status, o);
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
