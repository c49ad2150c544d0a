/* ws_client.h — what a client's messages do: the rate limit, then each command of client
 * protocol v1 (docs/protocol.md) turned into a broker request, and the answers sent back;
 * messages that arrive while their room is being joined wait for the join.
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_CLIENT_H
#define MADANG_WS_CLIENT_H

#include <stddef.h>

#include "route.h"
#include "session.h"

/* One whole message from the client (buf: len bytes, the caller's). */
void client_message(struct ws_session *s, const char *buf, size_t len);
/* The connection is accepted: welcome, then the path's room joined on /ws/{room_id}/{user}.
 * While the broker link is not up, all this waits for it (ws_wait.h). */
void client_opened(struct ws_session *s, const struct route *rt);
/* wait_hooks.release: the broker link is up again, s's held messages go on. */
void client_wait_over(struct ws_session *s);
/* wait_hooks.expire: each message s holds is answered broker_unavailable with its client_id. */
void client_wait_expired(struct ws_session *s);
/* members_hooks.join_over: a join of s is over, its held messages go on (failed_room: that
 * join was refused with err and msg, and the messages held for it get that error). */
void client_release(struct ws_session *s, const char *failed_room, const char *err,
                    const char *msg);

#endif
