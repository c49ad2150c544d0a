/* ws_members.h — membership: joining rooms (the join requests of a room go to the broker in
 * rounds, each reply turns into "joined", its history, then live events), leaving them, joining
 * everyone again after a broker restart, and the front-end events aimed at one session (kick,
 * mute, private message, probe). Delivery of room events: ws_delivery.h.
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_MEMBERS_H
#define MADANG_WS_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "room.h"
#include "session.h"

/* What membership calls upwards; set once by ws_main.c. None may be NULL. */
struct members_hooks {
	/* A join of s is over: its held messages go on (failed_room: that join was refused with
	 * err and msg, and the messages held for it get that error). */
	void (*join_over)(struct ws_session *s, const char *failed_room, const char *err,
	                  const char *msg);
	/* The broker refused member m's nickname as taken: true when the connection layer picked
	 * another (a guest) and queued the join again (members_pump). */
	bool (*guest_retry)(struct ws_session *s, struct ws_member *m);
	/* The broker's probe of session s (a newcomer wants its nickname). */
	void (*probe)(struct ws_session *s);
};
void members_init(const struct members_hooks *hooks);

/* Queues a join of room_id for s under user (has_since: resume after since in epoch). Returns
 * 0, or -1 when out of memory or s is in max_rooms rooms (nothing queued). */
int members_join(struct ws_session *s, const char *room_id, const char *user, bool has_since,
                 uint64_t since, const char *epoch);
/* Takes member m of s out of its room at once and frees it; tells the broker (reason: NULL
 * when the client asked, then it gets "left") unless tell_broker is false. The room is freed
 * later by delivery_tick, never here. */
void members_leave(struct ws_session *s, struct ws_member *m, bool tell_broker, const char *reason);
/* Sends the room's queued joins unless a round is in flight. */
void members_pump(struct ws_room *r);
/* link_hooks.member_lost: tells the client, takes the member out, closes a one-room
 * connection with the documented code. */
void members_lost(void *arg, struct ws_session *s, struct ws_member *m, const char *err);
/* link_hooks.synced: every room's log restarts and every member joins again, resuming from
 * prev_epoch. */
void members_resync(void *arg, const char *prev_epoch);
/* delivery's front-end hook: probe, private, kick (a moderator's kick or ban: "kicked", and
 * 4003 on a one-room connection), muted and unmuted. */
void members_frontend_event(void *arg, cJSON *ev);

#endif
