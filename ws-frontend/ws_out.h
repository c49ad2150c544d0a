/* ws_out.h — madang-ws's output layer: queueing frames for a client, writing them (every
 * pending whole frame coalesced into one raw write), close frames, and the queue limit. A
 * client over --queue-limit that does not drain is only flagged here (slow consumer); the
 * connection layer's reap pass, once per loop turn, takes it out of its rooms and closes it
 * (ws_conn.h). Nothing here calls up into rooms, the broker or the connection layer.
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_OUT_H
#define MADANG_WS_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "session.h"

struct lws;

/* Sets up the write scratch buffer (queue_limit: --queue-limit, libev: writes are listed and
 * made by out_flush_writes instead of on WRITEABLE). Returns 0 or -1 (no memory). */
int out_init(uint64_t queue_limit, bool libev);
/* Drops the sessions still listed for a write or a reap, frees the scratch buffer. */
void out_fini(void);

/* After frames were queued for s (private queue or its rooms' logs): flags it as a slow
 * consumer (out_take_slow) when policy_slow says so, else asks for a write. Never closes. */
void out_kick(struct ws_session *s);
/* Queues a frame built from json (copied) for s alone and kicks it. Dropped silently when s is
 * closed or closing without flush, flagged slow, or memory runs out. */
void out_send_json(struct ws_session *s, const char *json, size_t len);
/* The same for a JSON object; consumes obj (NULL: nothing sent). */
void out_send_obj(struct ws_session *s, cJSON *obj);
/* Queues a frame built from o (stays the caller's) for s alone, without a kick: the caller
 * kicks once after queueing several. */
void out_push_obj(struct ws_session *s, const cJSON *o);
/* Queues an error event; request, room_id and client_id are omitted when NULL. */
void out_send_error(struct ws_session *s, const char *code, const char *message,
                    const char *request, const char *room_id, const char *client_id);
/* The same for a broker's refusal (reply: its reply, or NULL), with what the refusal carries
 * besides its code: until and note for banned and muted, retry_after_ms for slow_mode
 * (docs/moderation.md). */
void out_send_refusal(struct ws_session *s, const char *code, const char *message,
                      const char *request, const char *room_id, const char *client_id,
                      const cJSON *reply);
/* Closes s: code and reason (cut to WS_CLOSE_REASON_MAX bytes of whole UTF-8 characters) go
 * out in a close frame, after what is pending when flush is true. A second close is ignored. */
void out_close(struct ws_session *s, uint16_t code, const char *reason, bool flush);
/* Cuts s without a close frame (it is not reading, or cannot be written to): nothing more is
 * written, lws closes it on its next turn. The caller has logged why. */
void out_cut(struct ws_session *s);
/* Sends an error event (no request, room or client_id) to every open session. */
void out_notify_all(const char *code, const char *message);
/* A ping goes out with the next write (the keep-alive sweep and the broker's probe). */
void out_ping(struct ws_session *s);

/* WRITEABLE for s: its close frame when one is due, else its pending frames. Returns 0, or -1
 * when the connection must close (lws closes it). */
int out_writable(struct lws *wsi, struct ws_session *s);
/* --event-loop libev, at the end of a loop iteration: writes to each session that got frames
 * since the last call. */
void out_flush_writes(void);
/* True when sessions wait for out_flush_writes. */
bool out_writes_pending(void);
/* How many sessions wait for out_flush_writes (the pacing reads it). */
uint64_t out_writes_listed(void);

/* The next session flagged slow since the last call, off the list; the reference is the
 * caller's (sess_unref). NULL when none. */
struct ws_session *out_take_slow(void);

#endif
