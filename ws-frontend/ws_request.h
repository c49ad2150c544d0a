/* ws_request.h — a client's requests to the broker (send, typing, private, history): sent in
 * the client's order, and each reply (or failure) answered to the client: an ack, the private
 * copy, the history page, or an error. A send the broker refused unapplied because it does not
 * know this front-end yet (a restart, a failover) waits for the re-sync instead (ws_wait.h).
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_REQUEST_H
#define MADANG_WS_REQUEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "session.h"

/* What a request is for. */
enum { KIND_SEND = 1, KIND_TYPING, KIND_PRIVATE, KIND_HISTORY };

/* Sends a client's request req (NULL when out of memory: answered as such) of kind for
 * room_id and client_id (NULL: none), in order after s's earlier ones; c (or NULL) gives the
 * command's text, kept for the reply; reserve: history bytes already charged to the budgets,
 * settled by the reply. */
void client_rpc(struct ws_session *s, cJSON *req, int kind, const char *room_id,
                const char *client_id, const struct cmd *c, size_t reserve);

#endif
