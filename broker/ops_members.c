/* ops_members.c — join, leave and a front-end's sync of its members; nickname probes and kicks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jwt.h"
#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

/* A join of an unknown room id: with --allow-create, an ephemeral room named like its id (never
 * stored, removed when its last member leaves), within the bounds per address and per user. */
static struct room *
room_autocreate(struct req *q, const char *id, const char *addr, const char *user_key)
{
	struct broker *b = q->b;
	struct room *r;
	const char *why;

	if (!b->cfg.allow_create) {
		ops_reply_error(q, ERR_NO_SUCH_ROOM, "no room %s", id);
		return NULL;
	}
	if (b->nrooms >= b->cfg.max_rooms) {
		ops_reply_error(q, ERR_TOO_MANY_ROOMS, "the broker already has %zu rooms",
		                b->nrooms);
		return NULL;
	}
	if ((r = room_by_name(b, id)) != NULL) {
		ops_reply_error(q, ERR_NAME_TAKEN, "room %s already has this name", r->id);
		return NULL;
	}
	if ((why = eph_refusal(b, addr, user_key)) != NULL) {
		ops_reply_error(q, ERR_CREATE_LIMIT, "%s", why);
		return NULL;
	}
	if ((r = room_create_ephemeral(b, id, addr, user_key)) == NULL) {
		ops_reply_error(q, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	return r;
}

/* Publishes {"type":TYPE,"session","room_id","user"[,"reason"]} about member m on its
 * front-end's topic f/<frontend> (a kick or a probe: events for that front-end alone). */
static void
publish_to_frontend(struct broker *b, struct member *m, const char *type, const char *reason)
{
	char topic[WIRE_TOPIC_MAX + 1];
	size_t tlen = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, m->sess->fe->id);
	struct jsonw e;

	ops_event_begin(b, &e, type);
	jw_session(&e, m->sess);
	jw_str(&e, "room_id", m->room->id);
	jw_str(&e, "user", member_user(m));
	if (reason != NULL)
		jw_str(&e, "reason", reason);
	jw_end(&e);
	room_publish(b, topic, tlen, b->ev.data, b->ev.len);
}

/* Sends the holder of a nickname's front-end a kick for its session. */
static void
publish_kick(struct broker *b, struct member *m, const char *reason)
{
	publish_to_frontend(b, m, "kick", reason);
}

/* Asks the front-end of m, whose nickname a newcomer wants, to probe m's connection: the event
 * {"type":"probe","session","room_id","user"} on f/<frontend>, at most once per
 * BROKER_PROBE_MS. A connection that does not answer is closed there, and its leave frees the
 * name. Returns the ms after which a new join may find the name free. */
static uint64_t
probe_holder(struct broker *b, struct member *m)
{
	uint32_t now = (uint32_t)b->now_mono, since = now - m->probed_ms; /* modulo 2^32 */

	if (m->probed_ms == 0 || since >= BROKER_PROBE_MS) {
		publish_to_frontend(b, m, "probe", NULL);
		m->probed_ms = now ? now : 1;
		since = 0;
		b->ctr.probes++;
	}
	return since < BROKER_PROBE_MS ? BROKER_PROBE_MS - since : 1;
}

/* Reads a join's or sync member's "subject" and "admin" from o into id (addr is kept as
 * given); false after an error reply when q is not NULL, or for a bad one. */
static bool
arg_ident(struct req *q, const cJSON *o, struct member_ident *id, const char *addr)
{
	const cJSON *sv = cJSON_GetObjectItemCaseSensitive(o, "subject");
	size_t len;

	memset(id, 0, sizeof(*id));
	id->addr = addr;
	if (sv != NULL && !cJSON_IsNull(sv)) {
		id->subject = wire_str(o, "subject", &len);
		if (id->subject == NULL || !jwt_subject_ok(id->subject, len)) {
			if (q)
				ops_reply_error(
				    q, ERR_INVALID_ARGUMENT,
				    "subject must be 1-128 bytes of UTF-8 without control "
				    "characters");
			return false;
		}
	}
	if (wire_has(o, "admin") && !wire_bool(o, "admin", &id->admin)) {
		if (q)
			ops_reply_error(q, ERR_INVALID_ARGUMENT, "admin must be a boolean");
		return false;
	}
	if (id->subject == NULL)
		id->admin = false; /* an anonymous member is never more than a member */
	return true;
}

/* Refuses (banned, with until and note) a join that a ban of r holds: by subject, nickname or
 * (anonymous joiners) address; never an admin or the room's owner. True after the error. */
static bool
refuse_banned(struct req *q, struct room *r, const struct member_ident *id, const char *key)
{
	struct restriction *x;
	char iso[CLOCK_ISO8601_LEN];
	const char *addr = id->addr && strcmp(id->addr, CLIENT_ADDR_UNKNOWN) != 0 ? id->addr : NULL;

	if (r->mod == NULL ||
	    (x = restr_match(q->b, &r->mod->bans, mod_role_of(r, id->subject, id->admin),
	                     id->subject, key, addr)) == NULL)
		return false;
	struct jsonw w;
	ops_reply_error_begin(q, &w, ERR_BANNED, "banned from room %s%s%s", r->id,
	                      x->until_ms ? " until " : "",
	                      x->until_ms ? clock_iso8601(x->until_ms, iso) : "");
	jw_str_or_null(&w, "until", x->until_ms ? iso : NULL);
	jw_str_or_null(&w, "note", x->note);
	jw_end(&w);
	return true;
}

/* The join reply's "role", "slow_mode_s" and, while m is muted, "muted_until". */
static void
join_reply_moderation(struct broker *b, struct jsonw *w, struct member *m)
{
	struct room *r = m->room;
	enum mod_role role = mod_member_role(m);
	struct restriction *x;
	char iso[CLOCK_ISO8601_LEN];

	jw_str(w, "role", mod_role_name(role));
	jw_int(w, "slow_mode_s", r->mod ? r->mod->slow_mode_s : 0);
	if (r->mod != NULL && (x = restr_match(b, &r->mod->mutes, role, member_subject(m),
	                                       member_key(m), NULL)) != NULL)
		jw_str(w, "muted_until", clock_iso8601(x->until_ms, iso));
}

/* join {frontend, session, room_id, user, [since, epoch], [history], [history_below], [resume],
 *       [addr], [subject], [admin]} */
void
op_join(struct req *q)
{
	struct broker *b = q->b;
	char user[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1];
	struct frontend *fe = ops_arg_frontend(q);
	const char *sid, *rid, *resume = NULL, *epoch = NULL, *addr = CLIENT_ADDR_UNKNOWN;
	int64_t since = 0, hist = b->cfg.join_history, below = 0;
	bool has_since, has_hist, has_below, resumed = false, recovered = false;
	struct session *s;
	struct room *r;
	struct member *m, *held;
	struct member_ident ident;
	uint64_t first_live;

	if (fe == NULL || (sid = ops_arg_token(q, "session", true)) == NULL ||
	    (rid = ops_arg_id(q, "room_id")) == NULL || !ops_arg_nick(q, "user", user, key))
		return;
	if (!ops_arg_int_opt(q, "since", 0, INT64_C(1) << 53, &since, &has_since) ||
	    !ops_arg_int_opt(q, "history", 0, MADANG_HISTORY_PAGE_MAX, &hist, &has_hist) ||
	    !ops_arg_int_opt(q, "history_below", 0, INT64_C(1) << 53, &below, &has_below))
		return;
	if (has_since && has_below) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT,
		                "history_below cannot be combined with since");
		return;
	}
	if (wire_has(q->rq, "resume") && (resume = ops_arg_token(q, "resume", false)) == NULL)
		return;
	if (wire_has(q->rq, "addr") && (addr = ops_arg_token(q, "addr", false)) == NULL)
		return;
	if (!arg_ident(q, q->rq, &ident, addr))
		return;
	if (has_since) {
		size_t elen;
		epoch = wire_str(q->rq, "epoch", &elen);
		if (epoch == NULL) {
			ops_reply_error(q, ERR_INVALID_ARGUMENT, "since needs an epoch string");
			return;
		}
	}
	if ((r = room_get(b, rid)) == NULL && (r = room_autocreate(q, rid, addr, key)) == NULL)
		return;

	s = sess_get(fe, sid);
	if (s != NULL && (m = sess_member_of(s, r)) != NULL) {
		first_live = r->seq + 1; /* already a member: nothing changes */
	} else if (refuse_banned(q, r, &ident, key)) {
		return;
	} else if ((held = room_member_find(r, key)) != NULL) {
		char hid[MADANG_SESSION_MAX + 1];
		if (resume == NULL || strcmp(sess_id(held->sess, hid), resume) != 0) {
			uint64_t wait = probe_holder(b, held);
			struct jsonw w;
			ops_reply_error_begin(
			    q, &w, ERR_NICKNAME_TAKEN,
			    "%s is already in room %s (if that connection is gone, the "
			    "name is free again within %llu s)",
			    member_user(held), r->id, (unsigned long long)(wait + 999) / 1000);
			jw_int(&w, "retry_after_ms", (int64_t)wait); /* when to try again */
			jw_end(&w);
			return;
		}
		/* Takeover by a reconnecting client: move the membership, no events. */
		publish_kick(b, held, "replaced");
		sess_leave(b, held, NULL);
		if ((s = sess_get_or_create(b, fe, sid)) == NULL)
			goto oom;
		if (room_member_add(b, r, s, user, key, &ident, &m) != 0) {
			sess_release_if_empty(b, s);
			goto oom;
		}
		log_debug("broker: %s in %s taken over by a reconnecting client", user, r->id);
		resumed = true;
		first_live = r->seq + 1;
	} else {
		if (r->nmembers >= b->cfg.max_members) {
			ops_reply_error(q, ERR_ROOM_FULL, "room %s is full (%u members)", r->id,
			                b->cfg.max_members);
			return;
		}
		if (s != NULL && s->nrooms >= SESSION_ROOMS_MAX) {
			ops_reply_error(q, ERR_TOO_MANY_ROOMS,
			                "a session may be in at most %u rooms", SESSION_ROOMS_MAX);
			return;
		}
		if ((s = sess_get_or_create(b, fe, sid)) == NULL)
			goto oom;
		if (room_member_add(b, r, s, user, key, &ident, &m) != 0) {
			sess_release_if_empty(b, s);
			goto oom;
		}
		room_emit_join(b, m, false);
		first_live = r->seq; /* the member's own join event */
	}

	/* History: exactly the missed events when resuming within reach, else the newest. */
	uint64_t lo = 0;
	size_t limit = (size_t)hist;
	struct sbuf stored;
	bool from_store = false;
	sbuf_init(&stored);
	if (has_since && strcmp(epoch, b->epoch) == 0 && (uint64_t)since < first_live) {
		/* An ephemeral room has no event up to its base_seq: none of those is missed. */
		uint64_t from = (uint64_t)since > r->base_seq ? (uint64_t)since : r->base_seq;
		if (from + 1 >= room_first_seq(r) || (uint64_t)since + 1 >= first_live) {
			recovered = true;
			lo = (uint64_t)since;
			limit = r->ring_cap;
		} else if (b->store.history != NULL && !r->ephemeral) {
			/* Older than the ring: the durable history may still hold every event. */
			size_t n = 0;
			uint64_t oldest = 0;
			bool cut;
			if (b->store.history(b->store.arg, r->id, (uint64_t)since, first_live,
			                     MADANG_HISTORY_PAGE_MAX + 1, false, SIZE_MAX, &stored,
			                     &n, &oldest, &cut) == 0 &&
			    n <= MADANG_HISTORY_PAGE_MAX && n == first_live - 1 - (uint64_t)since) {
				recovered = true;
				from_store = true;
			}
		}
	}
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_str(&w, "room_id", r->id);
	jw_str(&w, "name", r->name);
	jw_str(&w, "user", member_user(m));
	ops_users(&w, r);
	jw_int(&w, "users_count", (int64_t)r->nmembers);
	jw_int(&w, "seq", (int64_t)first_live);
	jw_str(&w, "epoch", b->epoch);
	jw_bool(&w, "recovered", recovered);
	jw_bool(&w, "resumed", resumed);
	join_reply_moderation(b, &w, m);
	if (from_store) {
		jw_raw(&w, "history", stored.data, stored.len);
	} else {
		/* A resume gets every missed event; a fresh join at most --history's newest that
		 * fit the byte budget of a history reply (the client pages with history). */
		bool cut;
		uint64_t first = ops_add_history(&w, "history", b->epoch, r, lo, first_live, limit,
		                                 true, has_below ? (uint64_t)below : UINT64_MAX,
		                                 recovered ? SIZE_MAX : b->cfg.history_bytes, &cut);
		if (has_below)
			jw_int(&w, "history_first", (int64_t)first);
	}
	jw_end(&w);
	sbuf_fini(&stored);
	return;
oom:
	ops_reply_error(q, ERR_INTERNAL, "out of memory");
}

/* leave {frontend, session, room_id, [reason]} */
void
op_leave(struct req *q)
{
	struct room *r;
	struct member *m = ops_arg_member(q, &r);
	const char *reason = wire_str(q->rq, "reason", NULL);

	if (m == NULL)
		return;
	if (reason == NULL || strcmp(reason, "disconnected") != 0)
		reason = "left";
	sess_leave(q->b, m, reason);
	ops_reply_seq(q, r->seq);
}

/* sync {frontend, instance, members:[{session, room_id, user, [addr], [subject], [admin]}]} */
void
op_sync(struct req *q)
{
	struct broker *b = q->b;
	const char *id = ops_arg_id(q, "frontend");
	const char *inst = id ? ops_arg_token(q, "instance", true) : NULL;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(q->rq, "members");
	struct frontend *fe;
	size_t it = 0;
	void *v;

	if (inst == NULL)
		return;
	if ((fe = fe_get(b, id)) == NULL || strcmp(fe->instance, inst) != 0) {
		ops_reply_error(q, ERR_UNKNOWN_FRONTEND,
		                "front-end %s is not registered: send hello", id);
		return;
	}
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > MADANG_SYNC_MAX) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "members must be an array of at most %d",
		                MADANG_SYNC_MAX);
		return;
	}
	fe->last_seen_ms = b->now_mono;
	while (iset_next(&fe->sessions, &it, &v)) {
		struct session *s = v;
		for (size_t i = 0; i < s->nrooms; i++)
			sess_rooms(s)[i]->marked = false;
	}
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_str(&w, "epoch", b->epoch);
	jw_arr(&w, "results");
	const cJSON *item;
	cJSON_ArrayForEach(item, list)
	{
		char user[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1];
		const char *err = NULL, *sid = NULL, *rid = NULL;
		struct session *s;
		struct room *r = NULL;
		struct member *m = NULL, *held;
		struct member_ident ident = {0};

		if (!cJSON_IsObject(item)) {
			err = ERR_INVALID_ARGUMENT;
		} else {
			size_t n;
			sid = wire_str(item, "session", &n);
			if (sid == NULL || !valid_token(sid, n, MADANG_SESSION_MAX))
				err = ERR_INVALID_ARGUMENT;
			rid = wire_str(item, "room_id", &n);
			if (!err && (rid == NULL || !valid_room_id(rid, n)))
				err = ERR_INVALID_ARGUMENT;
			const char *u = wire_str(item, "user", &n), *why;
			if (!err && (u == NULL || !nick_canonical(u, n, user, sizeof(user), &why)))
				err = ERR_INVALID_ARGUMENT;
		}
		if (!err) {
			nick_fold(user, key, sizeof(key));
			r = room_get(b, rid);
			/* A room a join had created (before a broker restart): ephemeral again,
			 * counted but not refused (these members were admitted before). */
			size_t alen;
			const char *a = wire_str(item, "addr", &alen);
			if (a == NULL || !valid_token(a, alen, MADANG_SESSION_MAX))
				a = CLIENT_ADDR_UNKNOWN;
			if (r == NULL && b->cfg.allow_create && b->nrooms < b->cfg.max_rooms &&
			    room_by_name(b, rid) == NULL)
				r = room_create_ephemeral(b, rid, a, key);
			if (r == NULL)
				err = ERR_NO_SUCH_ROOM;
			if (!err && !arg_ident(NULL, item, &ident, a))
				err = ERR_INVALID_ARGUMENT;
		}
		if (!err) {
			s = sess_get(fe, sid);
			if (s != NULL && (m = sess_member_of(s, r)) != NULL) {
				m->marked = true;
			} else if ((held = room_member_find(r, key)) != NULL) {
				err = ERR_NICKNAME_TAKEN;
			} else if (r->nmembers >= b->cfg.max_members) {
				err = ERR_ROOM_FULL;
			} else if ((s = sess_get_or_create(b, fe, sid)) == NULL ||
			           room_member_add(b, r, s, user, key, &ident, &m) != 0) {
				err = ERR_INTERNAL;
			} else {
				m->marked = true;
				room_emit_join(b, m, true);
			}
		}
		jw_obj(&w, NULL);
		if (sid && valid_token(sid, strlen(sid), MADANG_SESSION_MAX))
			jw_str(&w, "session", sid);
		if (rid && valid_room_id(rid, strlen(rid)))
			jw_str(&w, "room_id", rid);
		jw_bool(&w, "ok", err == NULL);
		if (err) {
			jw_str(&w, "error", err);
		} else {
			jw_int(&w, "seq", (int64_t)r->seq);
			jw_int(&w, "users_count", (int64_t)r->nmembers);
		}
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
	/* Whatever the front-end no longer declares leaves. */
	size_t dropped = 0;
	it = 0;
	while (iset_next(&fe->sessions, &it, &v)) {
		struct session *s = v;
		for (size_t i = s->nrooms; i-- > 0;) {
			if (sess_rooms(s)[i]->marked)
				continue;
			bool last = s->nrooms == 1; /* sess_leave frees the session with it */
			dropped++;
			sess_leave(b, sess_rooms(s)[i], "resync");
			if (last)
				break;
		}
	}
	log_info("broker: front-end %s synced %d members (%zu dropped)", fe->id,
	         cJSON_GetArraySize(list), dropped);
}
