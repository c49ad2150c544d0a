/* ws_delivery.h — room events from the broker to the local members: every member receives a
 * room's events in seq order (policy_seq decides), gaps are repaired from the broker's history
 * before later events go out, each event is framed once and shared by every local recipient.
 * Front-end events (private messages, kicks, probes) are handed to the hook it is given.
 * Joining and leaving: ws_members.h.
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_DELIVERY_H
#define MADANG_WS_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "room.h"
#include "session.h"

/* Gets every f/<our id> event (ev: the parsed object, the caller's; the hook may change it). */
typedef void (*delivery_frontend_fn)(void *arg, cJSON *ev);
void delivery_init(delivery_frontend_fn frontend, void *arg);

/* The room with this id, created (keeping --history frames) when create is set. NULL: none,
 * or no memory. */
struct ws_room *delivery_room(const char *id, bool create);
/* One pub message of the event stream (a link_hooks.event). */
void delivery_event(const char *body, size_t len);
/* Fans out every room that got events since the last call: once per batch of broker messages,
 * not once per event (a link_hooks.events_done). */
void delivery_flush(void);
/* Moves an active member's undelivered room frames into its session queue, then takes it out
 * of the room and its join queue (the frames stay in order, the room may trim). */
void delivery_detach(struct ws_member *m);
/* Fetches the room's events after the log's top from the broker's history (no-op while one
 * is in flight, before the first join, or with the broker down). */
void delivery_repair(struct ws_room *r);
/* A new broker epoch: the room's log starts again (a join reply sets its base) and replies
 * to requests made before are ignored. */
void delivery_reset(struct ws_room *r);
/* Frees the rooms nobody uses any more; retries repairs that are due. Once per tick. */
void delivery_tick(void);
/* Rooms without a join for --history-idle let the frames they kept for joiners go
 * (room_cool). Returns the members of the rooms that did so now. */
uint64_t delivery_cool(uint64_t now_ms);
/* Asks every member of r for a write, then trims r's log. */
void delivery_fanout(struct ws_room *r);

#endif
