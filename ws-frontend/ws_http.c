/* ws_http.c — what madang-ws answers in plain HTTP: the Origin check of the WebSocket handshake,
 * GET /healthz for load balancers, 404 for anything else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "slab.h"
#include "ws_http.h"
#include "ws_link.h"
#include "ws_state.h"

/* Splits "host[:port]" or "[v6]:port" into host and port (port "" when absent). False when
 * either part does not fit its buffer (the caller refuses). */
static bool
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
	if (n >= hsz || (colon != NULL && strlen(colon + 1) >= psz))
		return false;
	snprintf(host, hsz, "%.*s", (int)n, in);
	if (colon != NULL)
		snprintf(port, psz, "%s", colon + 1);
	return true;
}

int
http_header(struct lws *wsi, enum lws_token_indexes h, char *buf, size_t size)
{
	int total = lws_hdr_total_length(wsi, h);

	buf[0] = '\0';
	if (total < 0 || (size_t)total >= size)
		return -1;
	if (total == 0)
		return 0;
	if (lws_hdr_copy(wsi, buf, (int)size, h) != total)
		return -1;
	return total;
}

/* True when host (a Host header) is in the comma-separated list: an entry with a port must be
 * the whole header, one without matches that name on any port (case-insensitive). */
static bool
host_listed(const char *list, const char *host)
{
	char hh[WS_HOST_MAX], hp[16], eh[WS_HOST_MAX], ep[16], entry[WS_HOST_MAX];

	if (!split_hostport(host, hh, sizeof(hh), hp, sizeof(hp)))
		return false;
	while (*list != '\0') {
		size_t len = strcspn(list, ",");
		if (len < sizeof(entry)) {
			snprintf(entry, sizeof(entry), "%.*s", (int)len, list);
			if (split_hostport(entry, eh, sizeof(eh), ep, sizeof(ep)) &&
			    strcasecmp(eh, hh) == 0 && (ep[0] == '\0' || strcmp(ep, hp) == 0))
				return true;
		}
		list += len;
		if (*list == ',')
			list++;
	}
	return false;
}

/* Without --origins, "Origin: scheme://host[:port]" must name the host the client asked for
 * (the Host header). A proxy that passes Host without the port (nginx's $host) is matched on
 * the host name alone. With --origins, the Origin must be one of the list ("*": any). With
 * --hosts, the Host header must be one of that list first. A header longer than its buffer
 * (WS_ORIGIN_MAX, WS_HOST_MAX) is refused: it is never taken as absent. */
bool
http_origin_ok(struct lws *wsi, const char **why)
{
	char origin[WS_ORIGIN_MAX], host[WS_HOST_MAX], oh[WS_ORIGIN_MAX], op[16], hh[WS_HOST_MAX],
	    hp[16];
	const char *o;
	int n = http_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)),
	    hn = http_header(wsi, WSI_TOKEN_HOST, host, sizeof(host));

	*why = "Origin not allowed";
	if (hn < 0) {
		*why = "Host header too long";
		return false;
	}
	if (ws->o.hosts != NULL && (hn == 0 || !host_listed(ws->o.hosts, host))) {
		*why = "Host not in --hosts";
		return false;
	}
	if (n < 0) {
		*why = "Origin header too long";
		return false;
	}
	/* No Origin at all (lws tells an empty one by its fragment): not a browser. */
	if (n == 0 && lws_hdr_copy_fragment(wsi, oh, sizeof(oh), WSI_TOKEN_ORIGIN, 0) < 0)
		return true;
	if (ws->o.origins != NULL) {
		const char *p = ws->o.origins;
		if (strcmp(p, "*") == 0)
			return true;
		while (*p != '\0') {
			size_t len = strcspn(p, ",");
			if (n > 0 && len == strlen(origin) && strncasecmp(p, origin, len) == 0)
				return true;
			p += len;
			if (*p == ',')
				p++;
		}
		return false;
	}
	if (hn == 0)
		return false;
	o = strstr(origin, "://");
	if (o == NULL)
		return false; /* "null", an empty Origin and other opaque origins */
	if (!split_hostport(o + 3, oh, sizeof(oh), op, sizeof(op)) ||
	    !split_hostport(host, hh, sizeof(hh), hp, sizeof(hp)) || strcasecmp(oh, hh) != 0)
		return false;
	if (hp[0] == '\0')
		return true;
	if (op[0] == '\0')
		snprintf(op, sizeof(op), "%s",
		         strncasecmp(origin, "https:", 6) == 0 ? "443" : "80");
	return strcmp(op, hp) == 0;
}

void
http_reply_drop(struct lws *wsi)
{
	free(lws_wsi_user(wsi));
	lws_set_wsi_user(wsi, NULL);
}

int
http_reply_write(struct lws *wsi)
{
	const char *body = lws_wsi_user(wsi);
	size_t n;

	if (body == NULL)
		return 0;
	n = strlen(body);
	if (lws_write(wsi, (unsigned char *)body, n, LWS_WRITE_HTTP_FINAL) != (int)n)
		return -1;
	http_reply_drop(wsi);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
http_reply(struct lws *wsi, int status, const char *body)
{
	unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *q = start,
	                                  *end = buf + sizeof(buf);
	char *copy = strdup(body);

	if (copy == NULL)
		return -1;
	http_reply_drop(wsi);
	lws_set_wsi_user(wsi, copy);
	if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", strlen(body), &q,
	                                end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                 (unsigned char *)"no-store", 8, &q, end) ||
	    lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

int
http_request(struct lws *wsi, const char *uri)
{
	char body[WS_HEALTH_MAX];
	bool up = link_up() && !ws->stopping;
	struct slab_stats mem;

	if (strcmp(uri, "/healthz") != 0)
		return http_reply(
		    wsi, 404,
		    "{\"error\":\"not_found\",\"message\":\"WebSocket endpoints: /ws and "
		    "/ws/{room_id}/{username}; health: /healthz\"}\n");
	slab_stats(&mem);
	snprintf(
	    body, sizeof(body),
	    "{\"status\":\"%s\",\"frontend\":\"%s\",\"broker\":\"%s\",\"epoch\":\"%s\","
	    "\"event_bundles\":%s,"
	    "\"sessions\":%zu,\"rooms\":%zu,\"counters\":{\"connections\":%llu,\"refused\":%llu,"
	    "\"slow_consumers\":%llu,\"socket_full\":%llu,\"rate_limited\":%llu,"
	    "\"gaps_repaired\":%llu,\"events\":%llu,\"resyncs\":%llu,\"history_shared\":%llu},"
	    "\"memory\":{\"slab_bytes\":%zu,\"slab_items\":%zu,\"slab_range\":%zu}}\n",
	    up ? "ok" : "unavailable", ws->o.id, ws->stopping ? "stopping" : link_state_name(),
	    ws->epoch, link_bundles() ? "true" : "false", ws->sessions.n, ws->rooms.n,
	    (unsigned long long)ws->c.connections, (unsigned long long)ws->c.refused,
	    (unsigned long long)ws->c.slow_consumers, (unsigned long long)ws->c.socket_full,
	    (unsigned long long)ws->c.rate_limited, (unsigned long long)ws->c.gaps,
	    (unsigned long long)ws->c.events, (unsigned long long)ws->c.resyncs,
	    (unsigned long long)ws->c.history_shared, mem.slabs * (size_t)SLAB_BYTES, mem.items,
	    mem.reserved);
	return http_reply(wsi, up ? 200 : 503, body);
}
