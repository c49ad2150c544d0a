/* broker.h — madang-broker's state core: rooms, members, sequence numbers, history, front-ends.
 * Pure C with no I/O: requests come in as JSON text, replies go out into a buffer and events
 * through a publish callback. Time is passed in, so tests control it. One thread owns a broker. */
#ifndef MADANG_BROKER_H
#define MADANG_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

/* The language of join/leave notices (`sender` and `message`), --notices. */
enum broker_notices { BROKER_NOTICES_KO, BROKER_NOTICES_EN };

struct broker_config {
	size_t history;               /* events kept per room (ring), --history */
	uint32_t max_members;         /* members per room, --max-members */
	uint32_t max_rooms;           /* rooms per broker, --max-rooms */
	bool allow_create;            /* create_room allowed, join creates unknown rooms */
	uint64_t frontend_timeout_ms; /* a silent front-end is expired after this */
	uint32_t join_history;        /* recent events returned by a join by default */
	bool bundles;                 /* grant front-ends that ask one bundle message per drain */
	bool room_topics;             /* publish r/<room> even when every front-end takes bundles */
	enum broker_notices notices;  /* join/leave texts: ko (default, document 000's) or en */
	uint32_t ephemeral_per_addr;  /* rooms joins may create per client address, live at once */
	uint32_t ephemeral_per_user;  /* and per (folded) nickname; 0: joins create no room */
	size_t history_bytes;         /* bytes of events in a history reply by default */
	uint32_t max_bans;            /* bans per room and mutes per room, --max-bans */
	uint32_t audit_days;          /* a store keeps audit entries this long, --audit-days */
	uint32_t rooms_per_owner;     /* rooms a non-admin actor's create_room may own, per subject */
};

/* Defaults and hard limits of the settings above (README "Limits"). */
#define BROKER_EPHEMERAL_PER_ADDR_DEFAULT 16
#define BROKER_EPHEMERAL_PER_USER_DEFAULT 4
#define BROKER_HISTORY_BYTES_DEFAULT      (256 * 1024)  /* history: events' JSON per reply */
#define BROKER_HISTORY_BYTES_MAX          (1024 * 1024) /* the most a request may ask for */
#define BROKER_HISTORY_BYTES_MIN          (32 * 1024)   /* > the largest event: one always fits */
#define BROKER_AUDIT_DAYS_DEFAULT         90  /* --audit-days */
#define BROKER_ROOMS_PER_OWNER_DEFAULT    10  /* --rooms-per-owner */
#define BROKER_AUDIT_RING                 256 /* audit entries kept in memory per room */

void broker_config_defaults(struct broker_config *cfg);

/* Called for every event: topic with its trailing '\n' (e.g. "r/room1\n"), then the JSON. */
typedef void (*broker_publish_fn)(void *arg, const char *topic, size_t topic_len, const char *json,
                                  size_t json_len);

/* Persistence hooks (all optional). The core calls them, on its own thread, as state changes;
 * the server makes them durable before it publishes events or replies (group commit). */
struct broker_store {
	void *arg;
	/* Returns the seq the room continues from: 0 for a new id, the last seq of a deleted room
	 * of the same id (so that no seq is ever used twice in a room id). */
	uint64_t (*room_created)(void *arg, const char *id, const char *name, int64_t wall_ms);
	void (*room_deleted)(void *arg, const char *id, uint64_t seq);
	/* user_key and client_id: a message's pair for duplicate detection (both or neither);
	 * subject: the token subject of a message's sender (NULL: none, or not a message). */
	void (*event)(void *arg, const char *room_id, uint64_t seq, int64_t wall_ms,
	              const char *json, size_t len, const char *user_key, const char *client_id,
	              const char *subject);
	/* Appends to out the JSON events of room_id with lo < seq < hi, oldest first: the `limit`
	 * oldest of them, or the newest when newest is true, fewer when their JSON (with the
	 * commas between) would pass max_bytes: then *truncated is set. Sets *count and *oldest
	 * (the oldest seq stored for the room, 0 when none). Returns 0, or -1 on storage errors. */
	int (*history)(void *arg, const char *room_id, uint64_t lo, uint64_t hi, size_t limit,
	               bool newest, size_t max_bytes, struct sbuf *out, size_t *count,
	               uint64_t *oldest, bool *truncated);

	/* ---- Moderation (docs/moderation.md). ---- */
	/* The room's moderation settings changed; meta is the JSON object
	 * {"owner":S|null,"moderators":[S,…],"moderators_may_ban":B,"slow_mode_s":N}, which
	 * broker_restore_room_meta takes back. */
	void (*room_meta)(void *arg, const char *room_id, const char *meta, size_t len);
	/* A ban or mute (kind "ban" or "mute") was set under key, replacing the one of the same
	 * room, kind and key; until_ms is its end (wall clock, 0: none); rec is the JSON record
	 * that broker_restore_restriction takes back. */
	void (*restriction_put)(void *arg, const char *room_id, const char *kind, const char *key,
	                        int64_t until_ms, const char *rec, size_t len);
	void (*restriction_del)(void *arg, const char *room_id, const char *kind, const char *key);
	/* The stored message event room_id/seq was deleted: its JSON becomes tombstone (same seq),
	 * and its text must not survive in the store's files. */
	void (*event_redact)(void *arg, const char *room_id, uint64_t seq, const char *tombstone,
	                     size_t len);
	/* Appends the stored JSON of event room_id/seq to out, and its sender's subject (none: no
	 * byte) to subject: 0 found, 1 not stored, -1 error. */
	int (*event_get)(void *arg, const char *room_id, uint64_t seq, struct sbuf *out,
	                 struct sbuf *subject);
	/* Adds an audit entry (the JSON object without its "id", which the store assigns). */
	void (*audit_add)(void *arg, const char *room_id, int64_t wall_ms, const char *entry,
	                  size_t len);
	/* Appends to out the JSON array of room_id's audit entries with id < before_id (0: from the
	 * newest), newest first, at most limit, each with its "id". 0, or -1 on storage errors. */
	int (*audit_read)(void *arg, const char *room_id, uint64_t before_id, size_t limit,
	                  struct sbuf *out);
};

struct broker;

/* epoch: 16 hex digits. Returns NULL when memory runs out. */
struct broker *broker_create(const struct broker_config *cfg, const char *epoch,
                             broker_publish_fn publish, void *publish_arg);
void broker_destroy(struct broker *b);
/* Attaches persistence; call before adding rooms. */
void broker_set_store(struct broker *b, const struct broker_store *store);

/* Restoring durable state at start-up (no hooks are called, no events published). */
int broker_restore_room(struct broker *b, const char *id, const char *name, uint64_t seq);
int broker_restore_event(struct broker *b, const char *room_id, uint64_t seq, const char *json,
                         size_t len, const char *user_key, const char *client_id,
                         const char *subject);
/* A room's moderation settings and its bans and mutes as the room_meta and restriction_put
 * hooks gave them (after broker_restore_room of that room). 0, or -1 for a record it cannot
 * read (logged and skipped by the caller). */
int broker_restore_room_meta(struct broker *b, const char *room_id, const char *meta, size_t len);
int broker_restore_restriction(struct broker *b, const char *room_id, const char *kind,
                               const char *rec, size_t len);

/* Adds a room at start-up (rooms file or the defaults). Returns 0, or -1 with a reason in err. */
int broker_add_room(struct broker *b, const char *id, const char *name, char *err, size_t errsz);
/* Adds the four rooms of the original design. */
int broker_add_default_rooms(struct broker *b);
/* Loads {"rooms":[{"id":…,"name":…},…]} (or a bare array) from JSON text. */
int broker_load_rooms(struct broker *b, const char *json, size_t len, char *err, size_t errsz);

/* Handles one request (JSON text, not necessarily NUL-terminated) at the given times and writes
 * the reply JSON into reply (which is reset first). Never fails: bad requests get error replies. */
void broker_handle(struct broker *b, const char *req, size_t len, int64_t wall_ms, uint64_t mono_ms,
                   struct sbuf *reply);

/* Expires front-ends silent for longer than the timeout. Call at least every 100 ms or so. */
void broker_tick(struct broker *b, int64_t wall_ms, uint64_t mono_ms);

const char *broker_epoch(const struct broker *b);
/* Replaces the epoch (a durable broker keeps the one in its database); the history kept so
 * far stays as it was published. Returns 0, or -1 when out of memory (the epoch unchanged). */
int broker_set_epoch(struct broker *b, const char *epoch);
/* An active broker of a --store cluster: health then reports "role":"active" and the term. */
void broker_set_term(struct broker *b, uint64_t term);
size_t broker_room_count(const struct broker *b);
size_t broker_member_count(const struct broker *b);
size_t broker_frontend_count(const struct broker *b);
/* How room events go out now (docs/broker-protocol.md, "Events"): *rooms, one message per room
 * topic (r/<room_id>), unless every registered front-end takes bundles (and --room-topics is
 * off); *bundle, the bundle topic (b), when at least one front-end takes bundles. */
void broker_event_modes(const struct broker *b, bool *rooms, bool *bundle);

#endif
