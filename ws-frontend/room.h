/* room.h — what one madang-ws knows about a room: its local members with their cursors, the
 * framed events they still need (roomlog), and the state of joins and gap repair in flight.
 * Pure bookkeeping; ws_members.c and ws_delivery.c connect it to the broker and the clients. */
#ifndef MADANG_WS_ROOM_H
#define MADANG_WS_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"
#include "limits.h"
#include "roomlog.h"

struct ws_session;
struct ws_room;

enum member_state {
	MEMBER_JOINING, /* join request sent (or queued), no delivery yet */
	MEMBER_ACTIVE,  /* in room->members, receives events from cursor on */
};

/* A join that resumes: it asks for the events after seq in epoch (16 hex digits). */
struct ws_since {
	uint64_t seq;
	char epoch[17];
};

/* One session's membership in one room. Owned by the session (its rooms[] slot). 56 bytes:
 * what only a resuming join needs is apart, for as long as it is pending. */
struct ws_member {
	struct ws_session *sess;
	struct ws_room *room;
	uint64_t cursor;             /* next seq this member must receive */
	struct ws_member *join_next; /* the room's queue of joins waiting for their turn */
	char *user; /* its nickname in this room: the session's own string when the same (most
	             * members), else allocated to fit (session.c) */
	struct ws_since
	    *since;        /* resume: its pending join asks for the events after it; else NULL */
	uint32_t room_idx; /* index in room->members while active */
	uint8_t state;     /* enum member_state */
	bool join_sent;    /* its join request is the one in flight */
	bool resync;       /* this join re-declares a member after a broker restart */
	bool user_shared;  /* user is the session's string (not freed with the member) */
};

struct ws_room {
	struct roomlog log; /* frames of seq in [base, top); top is the next seq expected */
	bool has_base;      /* false until the first join reply tells where the log starts */
	struct ws_member **members; /* active members */
	size_t n, cap;
	/* Joins go out one round at a time per room (a round is every join queued when the last
	 * one finished, sent as one batch and applied in order), so the log's base is set by the
	 * first reply and never has to move backwards; while a round is in flight the log keeps
	 * every frame from pin on: the round's joins ask the broker only for the history before
	 * pin and take the rest from the log (no joiner's join event can be older than that). */
	struct ws_member *join_head, *join_tail;
	unsigned joins_in_flight;
	uint64_t pin;
	/* The newest frames kept after every member has passed them (madang-ws --history): the
	 * history of the next joins, served from the log instead of the broker's reply. 0 while
	 * the room is quiet (room_cool); the next join sets it again (room_warm). */
	uint64_t keep;
	uint64_t last_join_ms; /* monotonic ms of the last join queued (room_warm) */
	bool repairing;        /* a history request for the gap is in flight */
	uint64_t seen_max;     /* highest seq seen live while repairing (0: none) */
	bool live_seen;        /* a live event of this epoch arrived since the base was set */
	uint64_t
	    settle_until_ms; /* until then, without live_seen, ticks refetch (policy_refetch) */
	uint64_t generation; /* changes when the log is reset (new epoch) */
	bool dirty;          /* got events since the last fan-out (delivery_flush) */
	struct ws_room *dirty_next;
	char id[]; /* at most MADANG_ROOM_ID_MAX bytes, sized to fit (finding 33) */
};

/* Rooms by id (common/hmap, keyed by each room's own id). A table whose rooms are all
 * deleted holds no memory. */
struct roomtab {
	struct hmap map;
	size_t n; /* rooms */
};

void roomtab_init(struct roomtab *t);
/* The room with this id, or NULL. Never allocates. */
struct ws_room *roomtab_get(struct roomtab *t, const char *id);
/* Creates an empty room (no base yet) and adds it; NULL when out of memory. */
struct ws_room *roomtab_add(struct roomtab *t, const char *id);
/* Removes and frees a room that has no members and no joins queued. */
void roomtab_del(struct roomtab *t, struct ws_room *r);
/* Calls fn for each room; fn may delete the room it is given (roomtab_del), no other, and must
 * not add rooms. */
void roomtab_each(struct roomtab *t, void (*fn)(struct ws_room *, void *), void *arg);

/* Makes m an active member with the given cursor. Returns 0 or -1 (no memory). */
int room_add_member(struct ws_room *r, struct ws_member *m, uint64_t cursor);
/* Removes an active member (swap with the last). */
void room_del_member(struct ws_room *r, struct ws_member *m);
/* Appends m to the queue of joins; the first one is returned by room_join_next. */
void room_join_enqueue(struct ws_room *r, struct ws_member *m);
/* Removes m from the queue wherever it is. */
void room_join_remove(struct ws_room *r, struct ws_member *m);
/* The joins to send next, in queue order (at most max, into out): none while a round is in
 * flight. Marks them sent and pins the log at room_history_floor. Returns how many. */
size_t room_join_next(struct ws_room *r, struct ws_member **out, size_t max);
/* A join in flight got its reply (or failed); when the round is over the next may go. */
void room_join_done(struct ws_room *r, struct ws_member *m);
/* The oldest seq of the frames the log keeps for joiners: max(base, top - keep). */
uint64_t room_history_floor(const struct ws_room *r);
/* Releases the frames every member (and a join in flight) has passed, but the newest keep. */
void room_trim(struct ws_room *r);
/* A join is queued at now_ms: the newest keep frames stay for the joins that follow. */
void room_warm(struct ws_room *r, uint64_t keep, uint64_t now_ms);
/* When no join was queued for idle_ms (0: never) and none waits or is in flight, lets the
 * frames kept only for joiners go, and the log's ring when no member needs a frame of it: an
 * idle connection's join event is then held by the broker alone (docs/performance.md, finding
 * 31). Returns true when it did so now. */
bool room_cool(struct ws_room *r, uint64_t idle_ms, uint64_t now_ms);
/* True when nobody uses the room any more (no members, no joins). */
bool room_idle(const struct ws_room *r);

#endif
