/* core.h — the broker core's internal structures, shared by room.c, frontend.c and the ops files
 * only.
 *
 * What lasts as long as a session, a member or a room (the structures below, their strings and
 * arrays, and history records) is a slab item (common/slab.h): slab_zalloc, slab_realloc or
 * slab_strdup, freed with slab_release. Then the holes that a burst of requests leaves in
 * malloc's heap are not pinned by them (docs/performance.md, finding 34). */
#ifndef MADANG_BROKER_CORE_H
#define MADANG_BROKER_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "clock.h"
#include "hist.h"
#include "hmap.h"
#include "iset.h"
#include "jsonw.h"
#include "limits.h"

struct member {
	struct room *room;
	struct session *sess;
	/* The low 32 bits of the mono ms at which its front-end was last asked to probe it (0:
	 * never), read only as a difference from now: right for the BROKER_PROBE_MS it matters
	 * (once in 49 days a probe may wait that long more). 4 bytes, not 8: a member of a short
	 * nickname and an IPv4 address fits a 48-byte item (docs/performance.md, finding 34). */
	uint32_t probed_ms;
	uint32_t room_idx;    /* position in room->members_v */
	uint16_t key_off;     /* offset of its folded nickname in names (0: the nickname itself) */
	uint16_t subject_off; /* offset of its token subject in names (0: anonymous) */
	uint16_t addr_off;    /* offset of its client address in names (0: none given) */
	bool marked : 1;      /* scratch flag used by sync */
	bool admin : 1;       /* joined with an admin token (counts only with a subject) */
	/* its canonical nickname, then the folded one unless the same, the subject and the
	 * address when given, each NUL-terminated: sized to fit, not to the maximum (from
	 * offsetof, so the struct's tail padding holds names too) */
	char names[];
};

/* Its canonical nickname. */
static inline const char *
member_user(const struct member *m)
{
	return m->names;
}

/* Its folded nickname: what uniqueness is decided on (the key in room->members). */
static inline const char *
member_key(const struct member *m)
{
	return m->names + m->key_off;
}

/* Who a member is beyond its nickname (join and sync's "subject", "admin" and "addr"). */
struct member_ident {
	const char *subject; /* NULL: anonymous */
	const char *addr;    /* NULL or CLIENT_ADDR_UNKNOWN: none */
	bool admin;
};

struct room {
	char *name;
	uint64_t seq;        /* seq of the newest event; the next event gets seq + 1 */
	struct hmap members; /* key -> member, past ROOM_SCAN_MAX members (room_member_find) */
	struct member **members_v; /* join order, swap-removed */
	size_t nmembers, members_cap;
	struct hist_ev *ring; /* history: ring of cfg.history entries */
	size_t ring_head;     /* index of the oldest entry (0 until the ring is full) */
	size_t ring_len;
	size_t ring_cap;   /* cfg.history */
	size_t ring_alloc; /* entries allocated: grows up to ring_cap as events come */
	size_t order_idx;  /* position in broker->rooms_v */
	char *name_key;    /* folded name: the key in broker->names */
	bool ephemeral;   /* created by a join: never stored, removed when its last member leaves */
	bool eph_counted; /* ephemeral: counted against creator_addr and creator_user */
	uint64_t base_seq; /* ephemeral: the seq it started after (no event of it is older) */
	char *creator_addr, *creator_user; /* ephemeral: client address, folded nickname */
	struct room_mod *mod; /* moderation state (mod.c), NULL until the room has any */
	char id[];            /* at most MADANG_ROOM_ID_MAX bytes, sized to fit (finding 33) */
};

/* Buffer for a folded room name (the folding may lengthen a character). */
#define ROOM_NAME_KEY_MAX (MADANG_ROOM_NAME_MAX * 4 * 3 + 1)

/* Error codes of the broker's own (docs/broker-protocol.md, "Errors"). */
#define ERR_NAME_TAKEN   "name_taken"   /* another room has this name, case-folded */
#define ERR_CREATE_LIMIT "create_limit" /* --ephemeral-per-addr / --ephemeral-per-user */

/* The address ephemeral rooms are counted against when the join gives none. */
#define CLIENT_ADDR_UNKNOWN "unknown"

/* A gap longer than this (or a third of --frontend-timeout when that is shorter, but never less
 * than BROKER_STALL_MIN_MS: the loop ticks every 50 ms) between two runs of the loop is a
 * stall: it does not count towards any front-end's silence. */
#define BROKER_STALL_MS     1000
#define BROKER_STALL_MIN_MS 250

/* A join that collides with a member asks that member's front-end to probe its connection
 * (at most once per this period per member); the joiner is told to try again after it. The
 * front-end cuts a connection that stays silent for most of it (madang-ws: 2 s). */
#define BROKER_PROBE_MS 4000

#define FE_STATS_MAX 16 /* counters a front-end may report with its heartbeat */

struct fe_stat {
	char name[33]; /* [a-z_]{1,32} */
	int64_t value;
};

struct frontend {
	char id[MADANG_FRONTEND_ID_MAX + 1];
	char instance[MADANG_SESSION_MAX + 1];
	uint64_t last_seen_ms;
	struct fe_stat stats[FE_STATS_MAX]; /* the latest heartbeat's "stats" */
	int nstats;
	struct iset sessions; /* sessions by key (iset: keyed by each session's own key) */
	bool bundles;         /* takes room events as bundles (hello "bundles": true, granted) */
};

/* A session's key is its id as the front-end gave it, or, for an id of 32 lowercase hex digits
 * (madang-ws's), those 128 bits as SESSION_PACKED bytes of 7 bits each with the high bit set:
 * never NUL, and never an id as given (printable ASCII). sess_get takes ids; sess_id gives the
 * id back. */
#define SESSION_PACKED    19               /* ceil(5 + 128 bits, 7) */
#define SESSION_ROOMS_MAX ((1u << 24) - 1) /* memberships of one session */

/* 20 bytes before its key, so that a session of madang-ws is a slab item of 40 bytes
 * (docs/performance.md, findings 33 and 34: 80 bytes of malloc's, then 56 with its id as
 * text). */
struct session {
	struct frontend *fe;
	union {
		struct member *one; /* rooms_log2 == 0: its membership, while it has at most one */
		struct member **many; /* else: an array of 1 << rooms_log2 slots */
	} rooms;
	uint32_t nrooms : 24;    /* at most SESSION_ROOMS_MAX */
	uint32_t rooms_log2 : 8; /* at most 24 */
	char key[];              /* sized to fit: at most MADANG_SESSION_MAX bytes */
};

/* The session's memberships: nrooms of them. Most sessions are in one room, held in the
 * session itself. */
static inline struct member **
sess_rooms(struct session *s)
{
	return s->rooms_log2 ? s->rooms.many : &s->rooms.one;
}

struct broker_counters {
	uint64_t requests, request_errors, messages, duplicates, joins, leaves, privates, typing,
	    events_published, frontends_registered, frontends_expired, rooms_created, rooms_deleted,
	    stalls, probes;
};

struct broker {
	struct broker_config cfg;
	char epoch[17];
	uint64_t term; /* --store: the cluster's lead term this broker holds (0: no cluster) */
	broker_publish_fn publish;
	void *publish_arg;
	struct hmap rooms;              /* id -> room */
	struct hmap names;              /* folded name -> room */
	struct hmap eph_addr, eph_user; /* address / folded nickname -> struct eph_count */
	uint64_t eph_seq_floor; /* highest seq an ephemeral room reached: the next starts there */
	bool reap_pending;      /* an ephemeral room may be empty: room_reap() looks */
	struct room **rooms_v;
	size_t nrooms, rooms_cap;
	struct hmap frontends;    /* id -> frontend */
	size_t frontends_bundled; /* of them, those that take bundles */
	size_t members_total;
	size_t sessions_total;
	uint64_t start_ms;
	struct broker_counters ctr;
	struct broker_store store; /* all NULL without --data */
	struct sbuf ev;            /* scratch for building events */
	int64_t now_wall;
	uint64_t now_mono;
	uint64_t last_run_ms; /* mono time the loop last did work (request or tick), 0 before */
	char now_iso[CLOCK_ISO8601_LEN];
	size_t expire_room, expire_iter; /* mod_expire: where its walk goes on (rooms_v index, */
	int expire_kind;                 /* hmap iterator, 0 bans / 1 mutes) */
	uint64_t audit_next;             /* id of the newest audit entry kept in memory */
};

/* room.c */
int room_ring_push(struct room *r, struct hist_ev *ev);
struct room *room_create(struct broker *b, const char *id, const char *name);
struct room *room_create_new(struct broker *b, const char *id, const char *name);
void room_destroy(struct broker *b, struct room *r);
struct room *room_get(struct broker *b, const char *id);
/* Appends a seq-numbered event built in b->ev (its "seq" already written with r->seq + 1),
 * stores it in the ring and publishes it on r/<id>. sender: the member whose message it is
 * (NULL for every other event); client_id: the message's, when it has one. */
void room_emit(struct broker *b, struct room *r, const struct member *sender,
               const char *client_id);
void room_publish(struct broker *b, const char *topic, size_t tlen, const char *json, size_t jlen);
/* Starts an event object {"type":T,"room_id":R,"seq":N,"epoch":E,"time":T in b->ev, written
 * through e, which the caller goes on with and closes (jw_end) before room_emit. */
void room_event_begin(struct broker *b, struct room *r, const char *type, struct jsonw *e);
struct hist_ev *room_find_dup(struct room *r, const char *user_key, const char *client_id);
/* Index range helpers over the ring: entry i (0 = oldest). */
struct hist_ev *room_hist_at(struct room *r, size_t i);
uint64_t room_first_seq(const struct room *r);
int room_member_add(struct broker *b, struct room *r, struct session *s, const char *user,
                    const char *key, const struct member_ident *id, struct member **out);
/* The member whose folded nickname is key, or NULL. A room of up to ROOM_SCAN_MAX members
 * walks its members_v and has no hash table (about 26 bytes per member less: most rooms are
 * small; docs/performance.md, finding 32); the table is built when the room grows past that
 * and freed when it is back to half of it. */
#define ROOM_SCAN_MAX 16
struct member *room_member_find(const struct room *r, const char *key);
/* The member's token subject and client address, NULL when it has none. */
const char *member_subject(const struct member *m);
const char *member_addr(const struct member *m);
void room_member_remove(struct broker *b, struct member *m);
/* Emits a join or leave event for m (which must still be in the room for leave). */
void room_emit_join(struct broker *b, struct member *m, bool resync);
void room_emit_leave(struct broker *b, struct member *m, const char *reason);
/* Emits the leave of a member a moderator removed: reason "kicked" or "banned", by the actor's
 * name, note (NULL: none), and the removal notice of --notices as its message. */
void room_emit_removal(struct broker *b, struct member *m, const char *reason, const char *by,
                       const char *note);

/* room.c: the sender of the room's system notices in --notices ("시스템" / "system"). */
const char *room_notice_sender(const struct broker *b);

/* ---- mod.c and restrict.c: moderation state (docs/moderation.md) ---- */

/* Error codes of moderation (docs/moderation.md, "What clients receive"). */
#define ERR_BANNED          "banned"
#define ERR_MUTED           "muted"
#define ERR_SLOW_MODE       "slow_mode"
#define ERR_NO_SUCH_MESSAGE "no_such_message"
#define ERR_NO_SUCH_BAN     "no_such_ban"
#define ERR_TOO_MANY_BANS   "too_many_bans"

/* Expired bans and mutes broker_tick looks at per call, at most (the rest wait for the next). */
#define BROKER_EXPIRE_BUDGET 64 /* also the rooms it walks over per call */

/* Roles, in rank order: an actor acts only on a lower rank. */
enum mod_role { ROLE_MEMBER, ROLE_MODERATOR, ROLE_OWNER, ROLE_ADMIN };

/* A ban or a mute. Bans of anonymous members hold their nickname and address. */
struct restriction {
	char *key;             /* "s:" + subject, or "n:" + folded nickname: the key in its map */
	char *user;            /* nickname it was set on, or NULL (a ban of a subject) */
	char *subject;         /* or NULL */
	char *addr;            /* bans of anonymous members: their client address, or NULL */
	char *by;              /* the actor's name */
	char *note;            /* or NULL */
	int64_t until_ms;      /* wall clock end, 0: none */
	int64_t time_ms;       /* wall clock it was set */
	enum mod_role by_role; /* the setter's role: it never holds anyone of that rank or above */
};

/* One kind (bans, mutes) of a room's restrictions. */
struct restr_set {
	struct hmap by_key;  /* key -> restriction */
	struct hmap by_addr; /* address -> a restriction holding it (bans of anonymous members) */
};

/* An audit entry kept in memory (the newest BROKER_AUDIT_RING per room). */
struct audit_ent {
	uint64_t id;
	char *json; /* the entry with its "id" */
};

struct room_mod {
	char *owner;                             /* subject, or NULL */
	char *moderators[MADANG_MODERATORS_MAX]; /* subjects */
	uint32_t nmoderators;
	bool moderators_may_ban;
	uint32_t slow_mode_s;
	struct restr_set bans, mutes;
	struct hmap slow_last;   /* slow mode: sender key -> struct slow_ent (its last message) */
	struct audit_ent *audit; /* ring of BROKER_AUDIT_RING, allocated with its first entry */
	size_t audit_head, audit_len;
};

/* When a sender (by subject, else nickname) last spoke in a room in slow mode. Kept per user,
 * not per membership, so that leaving and joining again does not reset it; at most
 * 2 × --max-members per room (the ones whose interval is over are dropped first). */
struct slow_ent {
	uint64_t ms; /* mono time */
	char key[];  /* "s:" + subject or "n:" + folded nickname */
};

/* The ms m must still wait before its next message in slow mode (0: none). */
uint64_t mod_slow_wait(struct broker *b, const struct member *m);
/* Notes that m sent a message now (slow mode only). */
void mod_slow_note(struct broker *b, const struct member *m);
/* Forgets every sender's last message (slow mode turned off). */
void mod_slow_clear(struct room_mod *md);

/* The room's moderation state, created empty when needed; NULL when memory runs out. */
struct room_mod *mod_get(struct room *r);
void mod_free(struct room *r);
/* The role of (subject, admin) in r. No subject: a member (admins included). */
enum mod_role mod_role_of(const struct room *r, const char *subject, bool admin);
const char *mod_role_name(enum mod_role role);
/* The member's role in its room. */
enum mod_role mod_member_role(const struct member *m);
/* The restriction of kind (bans, mutes) that holds a user of role with this subject (or
 * NULL), folded nickname key and address (or NULL; consulted only when subject is NULL), or
 * NULL. Admins and owners are never held, nor anyone whose role is not below the setter's.
 * Ended ones are removed on the way. */
struct restriction *restr_match(struct broker *b, struct restr_set *set, enum mod_role role,
                                const char *subject, const char *key, const char *addr);
/* The key a user is known by in bans, mutes and slow mode: "s:" + subject, else "n:" + folded
 * nickname (one of the two non-NULL), in buf of MOD_KEY_MAX bytes. */
#define MOD_KEY_MAX (2 + MADANG_SUBJECT_MAX + MADANG_NICK_MAX_BYTES + 1)
void mod_key(char *buf, const char *subject, const char *folded);
/* Finds the restriction of key, ended ones removed (NULL). */
struct restriction *restr_find(struct broker *b, struct restr_set *set, const char *key);
/* Sets (or replaces, same key) a restriction from the filled template t, whose strings are
 * copied; ended ones do not count towards max. Returns it, or NULL: too many (*full set) or
 * out of memory. */
struct restriction *restr_put(struct broker *b, struct restr_set *set, const struct restriction *t,
                              uint32_t max, bool *full);
void restr_del(struct restr_set *set, struct restriction *x);
/* Frees every restriction of set and its maps. */
void restr_set_fini(struct restr_set *set);
/* Writes x as the JSON record of the restriction_put hook and broker_restore_restriction. */
void restr_record(struct jsonw *w, const struct restriction *x);
/* Writes x as an element of list_bans / list_mutes. */
void restr_list_item(struct jsonw *w, const struct restriction *x);
/* Drops ended bans and mutes, looking at no more than BROKER_EXPIRE_BUDGET of them. */
void mod_expire(struct broker *b);
/* Writes {"owner","moderators","moderators_may_ban","slow_mode_s"} (the key's value, or an
 * element when key is NULL). */
void mod_write_meta(struct jsonw *w, const char *key, const struct room *r);
/* Calls the room_meta hook with the room's settings (stored rooms only). */
void mod_meta_changed(struct broker *b, struct room *r);
/* Adds the audit entry json (an object without "id") to the room's ring and the store. */
void mod_audit_add(struct broker *b, struct room *r, const char *json, size_t len);

/* names.c (room names are checked by common/validate.c's room_name_canonical) */
/* The room whose name equals name once case-folded, or NULL. */
struct room *room_by_name(struct broker *b, const char *name);
int room_name_register(struct broker *b, struct room *r);
void room_name_unregister(struct broker *b, struct room *r);
/* Why a join from addr by user_key may not create a room now (a human text), or NULL. */
const char *eph_refusal(struct broker *b, const char *addr, const char *user_key);
/* Creates an ephemeral room for a join (not stored, counted against addr and user_key). */
struct room *room_create_ephemeral(struct broker *b, const char *id, const char *addr,
                                   const char *user_key);
/* Releases what an ephemeral room holds (counts, seq floor); room_destroy calls it. */
void eph_release(struct broker *b, struct room *r);
void eph_fini(struct broker *b);
/* Removes the ephemeral rooms that have no member left. Called after every request and tick. */
void room_reap(struct broker *b);

/* frontend.c */
struct frontend *fe_get(struct broker *b, const char *id);
/* Sets the broker's clock for the work about to be done. When the loop has not run for more
 * than BROKER_STALL_MS, every front-end's silence starts again from mono_ms: a broker never
 * expires a peer for time in which it was not running (docs/reliability.md). */
void fe_clock_advance(struct broker *b, int64_t wall_ms, uint64_t mono_ms);
/* Whether fe takes room events as bundles; keeps b->frontends_bundled. */
void fe_set_bundles(struct broker *b, struct frontend *fe, bool on);
struct frontend *fe_register(struct broker *b, const char *id, const char *instance);
void fe_expire(struct broker *b, struct frontend *fe, const char *reason);
struct session *sess_get(struct frontend *fe, const char *id);
/* The session's id as its front-end gave it: its key, or the key unpacked into buf. */
const char *sess_id(const struct session *s, char buf[MADANG_SESSION_MAX + 1]);
/* Adds "session": the session's id to an event. */
void jw_session(struct jsonw *w, const struct session *s);
struct session *sess_get_or_create(struct broker *b, struct frontend *fe, const char *id);
void sess_release_if_empty(struct broker *b, struct session *s);
struct member *sess_member_of(struct session *s, struct room *r);
/* Removes member m (emitting a leave with reason when reason != NULL); frees the session when
 * it has no room left. */
void sess_leave(struct broker *b, struct member *m, const char *reason);

#endif
