/* ws_conn.h — one client connection's life: the session set up or refused at the handshake
 * (path, query, token, address limits), messages reassembled from frames, keep-alive pings and
 * token expiry, and the reap pass that closes the slow consumers the output layer flagged.
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_CONN_H
#define MADANG_WS_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "session.h"
#include "ws_http.h"

/* The handshake is done: sets up the session, or closes with the documented code. Returns 0,
 * or -1 when lws must drop the connection (no memory). */
int conn_established(struct lws *wsi);
/* CLOSED: out of every room, the session released (nothing when the connection has none). */
void conn_closed(struct lws *wsi);
/* RECEIVE: reassembles a message (at most WS_FRAME_MAX bytes) and hands it to ws_client.
 * Returns 0. */
int conn_receive(struct lws *wsi, struct ws_session *s, const char *in, size_t len);
/* Something (a frame or a pong) came from the client: it is alive. */
void conn_heard(struct ws_session *s);
/* The broker's "probe" (a newcomer wants this member's nickname): unless the client was heard
 * from in the last WS_PROBE_WAIT_MS, ping it now; the keep-alive sweep cuts it (its leave frees
 * the name) when nothing came back WS_PROBE_WAIT_MS later. */
#define WS_PROBE_WAIT_MS 2000
void conn_probe(struct ws_session *s);
/* Pings the clients silent for --ping-interval, cuts those silent for twice as long, closes
 * those whose token has expired (4001); lets quiet rooms' kept frames go (delivery_cool), and
 * gives free pages back after a burst (policy_trim). */
void conn_keepalive(void);
/* /ws/chat/{room_id}: after the broker refused member m's generated nickname as taken, picks
 * another one and queues the join again. False when s is not a guest or out of tries. */
bool conn_guest_retry(struct ws_session *s, struct ws_member *m);
/* The reap pass, once per loop turn: each client the output layer flagged as a slow consumer
 * leaves its rooms (the broker told) and is closed with 1008. */
void conn_reap(void);
/* Start-up and shutdown of the per-address connection counts. */
void conn_init(void);
void conn_fini(void);

#endif
