/* session.h — one client connection's state apart from its socket: id, nickname, rooms with
 * cursors, the queue of frames meant for it alone, its rate limit, and the byte count of
 * everything it has not been sent yet. Pure bookkeeping; ws_conn.c owns the lws side. */
#ifndef MADANG_WS_SESSION_H
#define MADANG_WS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bucket.h"
#include "frame.h"
#include "iset.h"
#include "room.h"
#include "route.h"
#include "sbuf.h"

#define WS_ROOMS_PER_CONN_MAX 256 /* hard ceiling for --max-rooms-per-conn */
#define WS_CLOSE_REASON_MAX   63  /* bytes of a close frame's reason that we send */
/* A close reason as written before out_close cuts it: "kicked by " and a nickname fit whole. */
#define WS_CLOSE_WHY_MAX (32 + MADANG_NICK_MAX_BYTES + 1)

struct ws_outq_node {
	struct ws_outq_node *next;
	struct ws_frame *frame;
};

/* The frames for one session alone (replies, errors, history), in order: allocated with the
 * first and freed with the last, so that an idle session keeps one pointer, not 24 bytes
 * (docs/performance.md, finding 33). */
struct ws_outq {
	struct ws_outq_node *head, *tail;
	uint64_t bytes;
};

/* A client message that arrived while the room it is for was still being joined: sent on once
 * the join is over (ws_client.c). */
#define WS_HELD_MAX       32          /* messages held per connection; more: error busy */
#define WS_HELD_BYTES_MAX (64 * 1024) /* their bytes together; more: error busy */
struct ws_held {
	struct ws_held *next;
	char room_id[MADANG_ROOM_ID_MAX + 1]; /* the room it waits for ("" for none) */
	size_t len;
	char buf[]; /* the message as received */
};

/* The parts of a session that most connections never use: allocated when first needed
 * (sess_extra) and freed again when none of them is in use (sess_extra_trim), so that an idle
 * connection does not carry them (docs/performance.md, finding 28: 104 bytes, and the
 * session's malloc chunk 368 → 240 with the narrower bucket). */
struct ws_sess_extra {
	struct bytebucket hist;                /* --history-rate: bytes of history replies */
	struct sbuf rx;                        /* a message being reassembled from fragments */
	struct ws_held *held_head, *held_tail; /* messages waiting for a join, in order */
	size_t held_bytes;                     /* their bytes (WS_HELD_BYTES_MAX) */
	char *close_reason;      /* at most WS_CLOSE_REASON_MAX bytes; NULL: none (or no memory) */
	uint64_t probe_until_ms; /* the broker's probe: cut if silent until then (0: none) */
	uint64_t over_since_ms;  /* monotonic ms since the backlog is over --queue-limit, or 0 */
	uint32_t held_n;         /* held messages (WS_HELD_MAX) */
	bool hist_init;          /* hist is set up (on the first history command) */
};

/* Who a connection is beyond its nickname, for the connections that say so: a resumed
 * session's id, a token's subject and expiry. Allocated when the first is set, freed with the
 * session: most connections have none of it (docs/performance.md, finding 33). */
struct ws_sess_who {
	int64_t token_exp_ms; /* --jwt-secret-file: wall-clock ms when the token expires, or 0 */
	char *resume;         /* ?resume=: the previous session's id, sent with every join */
	char *subject;        /* its token's subject (jwt_claims.sub), else NULL */
};

/* Fields are ordered so that nothing is padding, and counters are as narrow as their limits
 * allow: with 10,000 idle connections every byte here is 10 KB (docs/performance.md, findings
 * 28, 33 and 34, say where each byte of a connection goes). What idle connections do not use
 * is apart: struct ws_sess_extra, struct ws_sess_who and struct ws_outq. 168 bytes. */
struct ws_session {
	uint32_t refs;    /* the connection, plus each broker request in flight for it */
	uint32_t strikes; /* rate-limited messages in a row */
	void *wsi;        /* the lws connection; NULL once it is closed */
	const char *addr; /* the client address while connected ("": unknown), else NULL */
	uint64_t serial;  /* 1, 2, … in connection order (log lines) */
	char id[WS_SESSION_LEN + 1];
	/* Flags as bits: fourteen bools would take fourteen bytes. */
	bool opened : 1;        /* accepted (not refused at connect): its close is logged */
	bool wq_listed : 1;     /* on the list of sessions to write (wq_next) */
	bool slow : 1;          /* a slow consumer, waiting for the reap pass (ws_out.c) */
	bool authenticated : 1; /* its nickname came from a verified token (--jwt-secret-file) */
	bool admin : 1;         /* that token had "admin": true (sent with every join, sync) */
	bool ping_due : 1;      /* a ping goes out with the next write */
	bool rx_skip : 1;       /* dropping the rest of a refused message */
	bool close_flush : 1;   /* the close frame goes out after what is pending */
	bool close_sent : 1;    /* our close frame is out; waiting for the client's */
	bool close_logged : 1;  /* the reason was logged where it was decided */
	bool rpc_busy : 1;      /* a broker request of this client is in flight (below) */
	bool user_in_room : 1;  /* user is in single_room's allocation (sess_set_route) */
	bool addr_counted : 1; /* addr is the copy its --max-conns-per-ip entry keeps (ws_conn.c) */
	bool guest : 1;        /* /ws/chat/{room_id}: a generated nickname, replaced when taken */
	uint8_t guest_tries;   /* guest: nicknames tried so far (WS_GUEST_TRIES) */
	uint16_t close_code;   /* closing: the code of the close frame (0: not closing) */
	/* Room slots: rooms_cap of them (NULL when free), grown up to max_rooms
	 * (WS_ROOMS_PER_CONN_MAX at most); nrooms taken; rr is the slot to start the next collect
	 * at (fairness). */
	uint16_t rooms_cap;
	uint16_t max_rooms;
	uint16_t nrooms;
	uint16_t rr;
	uint16_t rpc_queued; /* its rpc jobs queued (WS_SESSION_RPC_MAX) */
	/* What the URL asked for that outlives the handshake (route.h); each NULL when absent.
	 * Strings are allocated to fit; the single room and the nickname set with it share one
	 * allocation (user_in_room) until the nickname changes. */
	char *single_room;       /* /ws/{room_id}/{username}: the one room of this connection */
	char *user;              /* its nickname, once known (else NULL) */
	struct ws_sess_who *who; /* resume, subject, token expiry: NULL while it has none */
	union {
		struct ws_member *one;   /* rooms_cap <= 1: the slot, in the session itself */
		struct ws_member **many; /* else: an allocated array of rooms_cap slots */
	} slot;                          /* sess_slots() */
	struct ws_outq *oq; /* frames for this session alone, in order; NULL while none */
	/* The low 32 bits of monotonic ms, read as a difference from later (sess_ms_since). */
	uint32_t last_rx_ms;     /* of the last frame (or pong) from the client */
	uint32_t last_ping_ms;   /* of the last ping (or of the connection) */
	struct bucket bucket;    /* --rate / --burst (their bucket_rate is the same for all) */
	struct ws_sess_extra *x; /* NULL while none of it is in use */
	/* Broker requests made for this client go out one at a time, in the order the client
	 * sent its messages (the broker may reorder requests that are in flight together). */
	void *rpc_tail; /* its rpc job queue, owned by ws_rpc.c: a ring, the tail's next the head */
	struct ws_session
	    *wq_next; /* --event-loop libev: next session to write (out_flush_writes) */
};

/* ms from then (one of a session's 32-bit times) to now_ms, negative when then is later. The
 * keep-alive sweep keeps those times within 2 × --ping-interval (2 hours at most) of now, far
 * inside the 24 days a signed 32-bit difference holds (docs/performance.md, finding 34). */
static inline int32_t
sess_ms_since(uint32_t then, uint64_t now_ms)
{
	return (int32_t)((uint32_t)now_ms - then);
}

/* The session's room slots: rooms_cap of them, NULL when free. Most connections are in one
 * room, whose slot is in the session itself (finding 33: 8 bytes less than a pointer to it). */
static inline struct ws_member **
sess_slots(const struct ws_session *s)
{
	return s->rooms_cap > 1 ? s->slot.many : (struct ws_member **)&s->slot.one;
}

/* The session's extra part, allocated (zeroed) when absent; NULL when out of memory. */
struct ws_sess_extra *sess_extra(struct ws_session *s);
/* Frees the extra part when nothing in it is in use: no history budget, no reassembly
 * buffer, no held message, no close reason, no probe. */
void sess_extra_trim(struct ws_session *s);
/* The close reason set by out_close, or NULL. */
const char *sess_close_reason(const struct ws_session *s);
/* The oldest held message (still held), or NULL. */
struct ws_held *sess_held(const struct ws_session *s);

/* Allocates a session that may be in up to max_rooms rooms, with the given id; NULL when out
 * of memory. */
struct ws_session *sess_new(const char *id, size_t max_rooms);
/* Sets the nickname. Returns 0 or -1 (no memory). */
int sess_set_user(struct ws_session *s, const char *user);
/* Sets the token's subject sent with every join and sync member (NULL: none). Returns 0 or -1
 * (no memory, the old one kept). */
int sess_set_subject(struct ws_session *s, const char *subject);
/* Sets the previous session's id sent with every later join (join_room "resume"); NULL:
 * none. Returns 0 or -1 (no memory, the old one kept). */
int sess_set_resume(struct ws_session *s, const char *resume);
/* Sets the wall-clock ms at which its token is no longer accepted (0: none). Returns 0 or -1
 * (no memory, the old one kept). */
int sess_set_token_exp(struct ws_session *s, int64_t exp_ms);
/* Each of them, as set: NULL or 0 when none. */
const char *sess_subject(const struct ws_session *s);
const char *sess_resume(const struct ws_session *s);
int64_t sess_token_exp(const struct ws_session *s);
/* Copies the URL's lasting parameters (single room, resume) and sets the nickname (NULL:
 * none), once, at the connection's start. The room and the nickname share one allocation.
 * Returns 0 or -1 (no memory). */
int sess_set_route(struct ws_session *s, const struct route *rt, const char *user);
struct ws_session *sess_ref(struct ws_session *s);
/* Drops a reference; the last one frees the session (its members must be gone already). */
void sess_unref(struct ws_session *s);

/* The member of room_id, or NULL. */
struct ws_member *sess_member(const struct ws_session *s, const char *room_id);
/* Adds a member slot for room r (state JOINING). NULL when max_rooms are taken or no memory. */
struct ws_member *sess_member_add(struct ws_session *s, struct ws_room *r, const char *user);
/* Sets the member's nickname (the broker's canonical form). Returns 0 or -1 (no memory). */
int sess_member_rename(struct ws_member *m, const char *user);
/* Its next join asks for the events after seq in epoch (16 hex digits). 0 or -1 (no memory;
 * the member as it was). */
int sess_member_since(struct ws_member *m, uint64_t seq, const char *epoch);
/* Its next join asks for no such events (the last one was answered). */
void sess_member_since_clear(struct ws_member *m);
/* Frees a member slot (the caller has removed it from the room and its join queue). */
void sess_member_del(struct ws_session *s, struct ws_member *m);
/* The only room the session is in (active or joining), or NULL when it is in none or several. */
struct ws_member *sess_sole_member(const struct ws_session *s);

/* Queues a frame for this session alone (takes a new reference). Returns 0 or -1 (no memory). */
int sess_push(struct ws_session *s, struct ws_frame *f);
/* Appends a copy of buf[0..len) to the held messages, waiting for room_id (NULL: none).
 * Returns 0, or -1 when WS_HELD_MAX or WS_HELD_BYTES_MAX would be passed or no memory. */
int sess_hold(struct ws_session *s, const char *room_id, const char *buf, size_t len);
/* Takes the oldest held message off the queue (the caller frees it), or NULL. The extra part
 * is trimmed when the queue is empty after it. */
struct ws_held *sess_unhold(struct ws_session *s);
/* Drops everything queued for this session alone. */
void sess_drop_queue(struct ws_session *s);
/* Bytes not yet handed to the socket: the private queue plus each room's backlog. */
uint64_t sess_pending(const struct ws_session *s);
/* Moves whole frames into out, the private queue first (its frames must precede the room
 * events that follow a join), then each room's frames from the cursor, until out holds at
 * least soft_cap bytes. Advances the cursors. Returns the number of frames moved. */
size_t sess_collect(struct ws_session *s, struct sbuf *out, size_t soft_cap);

/* Sessions by id (common/iset, keyed by each session's own id). The table does not own the
 * sessions; an empty one holds no memory. */
struct sesstab {
	struct iset set;
	size_t n; /* sessions */
};
void sesstab_init(struct sesstab *t);
/* Adds s. Returns 0, or -1 when its id is already taken or memory runs out (s not added). */
int sesstab_add(struct sesstab *t, struct ws_session *s);
/* Removes s if it is in the table. */
void sesstab_del(struct sesstab *t, struct ws_session *s);
/* The session with this id, or NULL. Never allocates. */
struct ws_session *sesstab_get(struct sesstab *t, const char *id);
/* Calls fn for each session; fn may remove any session (sesstab_del), and must not add one. */
void sesstab_each(struct sesstab *t, void (*fn)(struct ws_session *, void *), void *arg);

#endif
