/* ws_http.h — the glue layer's HTTP side: request headers read whole, the handshake's Host and
 * Origin checks, GET /healthz and 404, and the per-connection memory lws allocates for us.
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_HTTP_H
#define MADANG_WS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "netacl.h"
#include "session.h"

/* Per-connection memory lws allocates for us: a session, or an HTTP reply being sent.
 * 32 bytes (a slab item of 32, docs/performance.md, finding 32): the address is the copy its
 * --max-conns-per-ip entry keeps. */
struct ws_pss {
	struct ws_session *s;
	char *body; /* an HTTP reply being sent, NUL-terminated (malloc'd: most connections never
	             * need one) */
	const char *addr;     /* the client address while it holds a --max-conns-per-ip slot (the
	                       * ipcount entry's copy), else NULL */
	uint16_t http_status; /* of body; 0: no reply pending */
	bool guest;           /* /ws/chat/{room_id}: a generated nickname, replaced when taken */
	uint8_t guest_tries;  /* nicknames tried so far (WS_GUEST_TRIES) */
};

/* Header h whole into buf: its length (0 when absent or empty), or -1 when it does not fit
 * (the caller refuses the request). */
int http_header(struct lws *wsi, enum lws_token_indexes h, char *buf, size_t size);
/* The handshake's Host against --hosts, its Origin against --origins or else the Host header.
 * False with *why (for the log) when refused. */
bool http_origin_ok(struct lws *wsi, const char **why);
/* Answers a plain HTTP GET (/healthz, else 404); the body goes out in HTTP_WRITEABLE. Returns
 * 0, or -1 when the connection must close. */
int http_request(struct lws *wsi, struct ws_pss *p, const char *uri);

#endif
