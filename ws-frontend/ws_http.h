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

/* lws allocates no memory of ours per connection (per_session_data_size 0; docs/performance.md,
 * finding 34). A WebSocket connection's session is its wsi's opaque user data, set at
 * ESTABLISHED and cleared at CLOSED (ws_conn.c). An HTTP reply being sent is its wsi's user
 * pointer: the body, NUL-terminated and malloc'd, from http_request until it is written
 * (http_reply_write) or the connection goes (http_reply_drop). */

/* Header h whole into buf: its length (0 when absent or empty), or -1 when it does not fit
 * (the caller refuses the request). */
int http_header(struct lws *wsi, enum lws_token_indexes h, char *buf, size_t size);
/* The handshake's Host against --hosts, its Origin against --origins or else the Host header.
 * False with *why (for the log) when refused. */
bool http_origin_ok(struct lws *wsi, const char **why);
/* Answers a plain HTTP GET (/healthz, else 404); the body goes out in HTTP_WRITEABLE. Returns
 * 0, or -1 when the connection must close. */
int http_request(struct lws *wsi, const char *uri);
/* HTTP_WRITEABLE: writes the pending reply's body and frees it. Returns 0 (nothing pending, or
 * the transaction completed), or -1 when the connection must close. */
int http_reply_write(struct lws *wsi);
/* Frees the pending reply's body, if any (the connection goes, or changes protocol). */
void http_reply_drop(struct lws *wsi);

#endif
