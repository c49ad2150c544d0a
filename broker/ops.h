/* ops.h — the broker's request handlers (ops_*.c) and the helpers they share; included by the
 * ops files only. ops.c dispatches each request by its op name (docs/broker-protocol.md). */
#ifndef MADANG_BROKER_OPS_H
#define MADANG_BROKER_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core.h"
#include "jsonw.h"
#include "sbuf.h"

/* Per-request context: the parsed request, the reply being built, and error state. */
struct req {
	struct broker *b;
	const cJSON *rq;
	struct sbuf *out;
	bool failed;
};

/* ---- ops_args.c: request fields and reply pieces ---- */

/* Replaces the reply with {"ok":false,"error":code,"message":…} (the message cut to 511 bytes),
 * sets q->failed and counts a request error. */
void ops_reply_error(struct req *q, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same reply left open in w, for an error that carries more members; the caller closes
 * it (jw_end). */
void ops_reply_error_begin(struct req *q, struct jsonw *w, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Starts the reply {"ok":true in q->out through w: the caller adds its members and closes it
 * (jw_end). */
void ops_reply_begin(struct req *q, struct jsonw *w);
/* The whole reply {"ok":true}, and {"ok":true,"seq":seq}. */
void ops_reply_ok(struct req *q);
void ops_reply_seq(struct req *q, uint64_t seq);
/* Starts an event that carries no room seq, {"type":type, in b->ev through e; the caller adds
 * its members and closes it (jw_end) before publishing b->ev. */
void ops_event_begin(struct broker *b, struct jsonw *e, const char *type);
/* A required string field checked by valid_room_id (room and front-end ids); NULL after an
 * error reply. The string belongs to q->rq. */
const char *ops_arg_id(struct req *q, const char *key);
/* A string field checked by valid_token (1-64 printable ASCII). Absent and !required: NULL
 * with no error; any other NULL follows an error reply. */
const char *ops_arg_token(struct req *q, const char *key, bool required);
/* Optional integer field in [lo, hi]; *present tells whether it was given. false after an
 * error reply. */
bool ops_arg_int_opt(struct req *q, const char *key, int64_t lo, int64_t hi, int64_t *out,
                     bool *present);
/* The existing room named by "room_id"; NULL after an error reply (no_such_room). */
struct room *ops_arg_room(struct req *q);
/* The front-end named by "frontend"; any request from it counts as a sign of life. NULL after
 * an error reply (unknown_frontend). */
struct frontend *ops_arg_frontend(struct req *q);
/* The member that (frontend, session) holds in room_id, its room in *room_out when not NULL;
 * NULL after an error reply (not_member). */
struct member *ops_arg_member(struct req *q, struct room **room_out);
/* The nickname in key, canonical form in canon and folded in folded (each
 * MADANG_NICK_MAX_BYTES + 1 bytes); false after an error reply. */
bool ops_arg_nick(struct req *q, const char *key, char *canon, char *folded);
/* The chat text of send and private: 1..4096 bytes of UTF-8, not only white space; its length
 * in *len. NULL after an error reply. */
const char *ops_arg_text(struct req *q, size_t *len);
/* Writes r's "id", "name" and "users_count" into the object open in w. */
void ops_room_summary(struct jsonw *w, const struct room *r);
/* Writes "users":[the members' nicknames] into the object open in w. */
void ops_users(struct jsonw *w, const struct room *r);

/* ---- ops_actor.c: who asks for a moderation action ---- */

/* The actor of a moderation request: the member (frontend, session) holds in the room, or the
 * "actor" object of madang-api. */
struct actor {
	const char *name;    /* nickname, or the API's name for it */
	const char *subject; /* NULL: anonymous */
	bool admin;
	enum mod_role role; /* in the request's room */
	struct member *m;   /* the member, for requests from a front-end */
};

/* Reads the actor and the room ("room_id") of a moderation request; NULL after an error reply
 * (invalid_argument for both or neither form, not_member, no_such_room). */
struct room *ops_arg_actor(struct req *q, struct actor *a);
/* Reads "actor" alone (madang-api's form; no room: role admin or member); false after an error
 * reply. */
bool ops_arg_api_actor(struct req *q, struct actor *a);
/* Refuses with forbidden unless a holds at least role min; false after the error reply. */
bool ops_actor_may(struct req *q, const struct actor *a, enum mod_role min, const char *what);
/* The optional "note" (0..MADANG_NOTE_MAX bytes of UTF-8): NULL when absent or empty; *bad
 * after an error reply. */
const char *ops_arg_note(struct req *q, bool *bad);

/* What an audit entry says beyond its actor (unused members: NULL, or -1 for numbers). */
struct audit_info {
	const char *action;
	const char *user, *subject; /* target */
	const char *note;
	int64_t duration_s, seq, interval_s;
	const char *extra_key, *extra_json; /* one more member, raw JSON (settings changes) */
};
/* A fresh audit_info for action: no target, no note, no numbers. */
struct audit_info ops_audit_info(const char *action);
/* Logs the action (one "moderation:" line) and keeps it as an audit entry. */
void ops_audit(struct broker *b, struct room *r, const struct actor *a,
               const struct audit_info *ai);

/* ---- ops_history.c ---- */

/* Writes (as member key of the object open in w, or as an element when key is NULL) the array of
 * the ring's events (their head written with epoch, the broker's: hist.h) whose seq is in (lo, hi),
 * at most limit of the newest of them (the oldest when !newest), oldest first, leaving out those
 * with seq >= below (the front-end already holds them), and fewer when the events' JSON (with the
 * commas between) would pass max_bytes: then the oldest (the newest when !newest) are left out and
 * *truncated is set. Returns the seq of the window's first event, or hi when the window is empty.
 */
uint64_t ops_add_history(struct jsonw *w, const char *key, const char *epoch, struct room *r,
                         uint64_t lo, uint64_t hi, size_t limit, bool newest, uint64_t below,
                         size_t max_bytes, bool *truncated);

/* ---- The handlers. Each reads q->rq, applies it to q->b and writes exactly one reply object
 * to q->out: {"ok":true,…} or, through ops_reply_error, {"ok":false,…}. Events they publish
 * are queued on the broker for the shell to send after the reply's batch. ---- */

/* ops_frontends.c: hello {frontend, instance, bundles?} registers (or restarts) a front-end. */
void op_hello(struct req *q);
/* ops_frontends.c: heartbeat {frontend, instance}; unknown_frontend or a changed instance
 * tells the front-end to send hello and sync again. */
void op_heartbeat(struct req *q);

/* ops_members.c: join {frontend, session, room_id, user, [since, epoch], [history],
 * [history_below], [resume], …}: membership, nickname claim (probe or kick of a holder),
 * and the history the joiner lacks. */
void op_join(struct req *q);
/* ops_members.c: leave {frontend, session, room_id, [reason]}. */
void op_leave(struct req *q);
/* ops_members.c: sync {frontend, instance, members:[{session, room_id, user}]}: makes the
 * front-end's members at the broker exactly the list. */
void op_sync(struct req *q);

/* ops_messages.c: send {frontend, session, room_id, text, [client_id]}; a repeated client_id
 * answers the first send's seq without a new event. */
void op_send(struct req *q);
/* ops_messages.c: typing {frontend, session, room_id, active}. */
void op_typing(struct req *q);
/* ops_messages.c: private {frontend, session, room_id, to, text}. */
void op_private(struct req *q);

/* ops_rooms.c: list_rooms {}. */
void op_list_rooms(struct req *q);
/* ops_rooms.c: get_room {room_id}. */
void op_get_room(struct req *q);
/* ops_rooms.c: create_room {room_id, [name]}. */
void op_create_room(struct req *q);
/* ops_rooms.c: delete_room {room_id}. */
void op_delete_room(struct req *q);

/* ops_mod.c: the actions on members (docs/moderation.md), each {room_id, actor…}: kick {user,
 * note?}; ban {user | subject, duration_s?, note?}; unban {user | subject}; list_bans; mute
 * {user, duration_s, note?}; unmute {user}; list_mutes. */
void op_kick(struct req *q);
void op_ban(struct req *q);
void op_unban(struct req *q);
void op_list_bans(struct req *q);
void op_mute(struct req *q);
void op_unmute(struct req *q);
void op_list_mutes(struct req *q);
/* ops_modroom.c: delete_message {seq}; slow_mode {interval_s}; set_room {owner?, moderators?,
 * moderators_may_ban?, slow_mode_s?}; audit {before_id?, limit?}; each with room_id and actor. */
void op_delete_message(struct req *q);
void op_slow_mode(struct req *q);
void op_set_room(struct req *q);
void op_audit(struct req *q);

/* ops_history.c: history {room_id, [after_seq | before_seq], [limit], [max_bytes]}. */
void op_history(struct req *q);

/* ops_stats.c: health {}. */
void op_health(struct req *q);
/* ops_stats.c: stats {}: counters, and the live front-ends' own counters summed. */
void op_stats(struct req *q);

#endif
