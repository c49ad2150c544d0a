/* http.c — what madang-ws answers in plain HTTP: the Origin check of the WebSocket handshake,
 * GET /healthz for load balancers, 404 for anything else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ws.h"

/* Splits "host[:port]" or "[v6]:port" into host and port (port "" when absent). */
static void
split_hostport(const char *in, char *host, size_t hsz, char *port, size_t psz)
{
	const char *colon;
	size_t n;

	port[0] = '\0';
	if (in[0] == '[') {
		const char *close = strchr(in, ']');
		n = close != NULL ? (size_t)(close - in + 1) : strlen(in);
		colon = close != NULL && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(in, ':');
		n = colon != NULL ? (size_t)(colon - in) : strlen(in);
	}
	snprintf(host, hsz, "%.*s", (int)n, in);
	if (colon != NULL)
		snprintf(port, psz, "%s", colon + 1);
}

/* Without --origins, "Origin: scheme://host[:port]" must name the host the client asked for
 * (the Host header). A proxy that passes Host without the port (nginx's $host) is matched on
 * the host name alone. With --origins, the Origin must be one of the list ("*": any). */
bool
http_origin_ok(struct lws *wsi)
{
	char origin[256], host[256], oh[256], op[16], hh[256], hp[16];
	const char *o;
	int n = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);

	if (n <= 0)
		return true; /* no Origin: not a browser */
	if (ws->o.origins != NULL) {
		const char *p = ws->o.origins;
		if (strcmp(p, "*") == 0)
			return true;
		while (*p != '\0') {
			size_t len = strcspn(p, ",");
			if (len == strlen(origin) && strncasecmp(p, origin, len) == 0)
				return true;
			p += len;
			if (*p == ',')
				p++;
		}
		return false;
	}
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
		return false;
	o = strstr(origin, "://");
	if (o == NULL)
		return false; /* "null" and other opaque origins */
	split_hostport(o + 3, oh, sizeof(oh), op, sizeof(op));
	split_hostport(host, hh, sizeof(hh), hp, sizeof(hp));
	if (strcasecmp(oh, hh) != 0)
		return false;
	if (hp[0] == '\0')
		return true;
	if (op[0] == '\0')
		snprintf(op, sizeof(op), "%s",
		         strncasecmp(origin, "https:", 6) == 0 ? "443" : "80");
	return strcmp(op, hp) == 0;
}

static int
http_reply(struct lws *wsi, struct ws_pss *p, int status, const char *body)
{
	unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *q = start,
	                                  *end = buf + sizeof(buf);

	free(p->body);
	p->body_len = strlen(body);
	if ((p->body = strdup(body)) == NULL)
		return -1;
	p->http_status = status;
	if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", p->body_len, &q,
	                                end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                 (unsigned char *)"no-store", 8, &q, end) ||
	    lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

int
http_request(struct lws *wsi, struct ws_pss *p, const char *uri)
{
	char body[WS_HEALTH_MAX];
	bool up = broker_up() && !ws->stopping;

	if (strcmp(uri, "/healthz") != 0)
		return http_reply(
		    wsi, p, 404,
		    "{\"error\":\"not_found\",\"message\":\"WebSocket endpoints: /ws and "
		    "/ws/{room_id}/{username}; health: /healthz\"}\n");
	snprintf(
	    body, sizeof(body),
	    "{\"status\":\"%s\",\"frontend\":\"%s\",\"broker\":\"%s\",\"epoch\":\"%s\","
	    "\"event_bundles\":%s,"
	    "\"sessions\":%zu,\"rooms\":%zu,\"counters\":{\"connections\":%llu,\"refused\":%llu,"
	    "\"slow_consumers\":%llu,\"socket_full\":%llu,\"rate_limited\":%llu,"
	    "\"gaps_repaired\":%llu,\"events\":%llu,\"resyncs\":%llu,\"history_shared\":%llu}}\n",
	    up ? "ok" : "unavailable", ws->o.id, ws->stopping ? "stopping" : broker_state_name(),
	    ws->epoch, ws->bundles ? "true" : "false", ws->sessions.n, ws->rooms.n,
	    (unsigned long long)ws->c.connections, (unsigned long long)ws->c.refused,
	    (unsigned long long)ws->c.slow_consumers, (unsigned long long)ws->c.socket_full,
	    (unsigned long long)ws->c.rate_limited, (unsigned long long)ws->c.gaps,
	    (unsigned long long)ws->c.events, (unsigned long long)ws->c.resyncs,
	    (unsigned long long)ws->c.history_shared);
	return http_reply(wsi, p, up ? 200 : 503, body);
}
