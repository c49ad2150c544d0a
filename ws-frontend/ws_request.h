/* ws_request.h — a client's requests to the broker (send, typing, private, history, and the
 * moderation commands): sent in the client's order, and each reply (or failure) answered to
 * the client: an ack, the private copy, the history page, done, or an error. A send the
 * broker refused unapplied because it does not know this front-end yet (a restart, a failover)
 * waits for the re-sync instead (ws_wait.h).
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_REQUEST_H
#define MADANG_WS_REQUEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "session.h"

/* What a request is for. */
enum { KIND_SEND = 1, KIND_TYPING, KIND_PRIVATE, KIND_HISTORY, KIND_MODERATE };

/* Sends a client's request req (NULL when out of memory: answered as such) of kind for
 * room_id and client_id (NULL: none), in order after s's earlier ones; c (or NULL) gives the
 * command's text, kept for the reply; reserve: history bytes already charged to the budgets,
 * settled by the reply. */
void client_rpc(struct ws_session *s, cJSON *req, int kind, const char *room_id,
                const char *client_id, const struct cmd *c, size_t reserve);

/* Sends moderation command c (cmd_is_moderation) of s for room_id to the broker as the op of
 * the same name, with s's session as the actor, in order after s's earlier requests; the reply
 * is answered {"type":"done","request","room_id","client_id"?} or an error. */
void client_moderate(struct ws_session *s, const struct cmd *c, const char *room_id);

#endif
