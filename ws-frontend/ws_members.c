/* ws_members.c — membership (ws_members.h). Joining rooms: the join requests of a room go to the
 * broker in rounds, and each reply turns into "joined", the history it carries, then live events
 * from the join's seq on (docs/protocol.md). A refused join is an error event, and on
 * /ws/{room_id}/{username} a close with the documented code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "policy.h"
#include "validate.h"
#include "wire.h"
#include "ws_delivery.h"
#include "ws_link.h"
#include "ws_members.h"
#include "ws_out.h"
#include "ws_rpc.h"
#include "ws_state.h"
#include "ws_wait.h"

static struct members_hooks hk;

void
members_init(const struct members_hooks *hooks)
{
	hk = *hooks;
	delivery_init(members_frontend_event, NULL);
}

/* The close code for a refused join on a /ws/{room}/{user} connection. */
static uint16_t
join_close_code(const char *err)
{
	/* An unknown room that this join may not create (the broker's create_limit, name_taken) is
	 * as final as one that does not exist: a client retrying at once would only loop. */
	if (strcmp(err, ERR_NO_SUCH_ROOM) == 0 || strcmp(err, "create_limit") == 0 ||
	    strcmp(err, "name_taken") == 0)
		return WS_CLOSE_NO_ROOM;
	if (strcmp(err, ERR_NICKNAME_TAKEN) == 0)
		return WS_CLOSE_NICK_TAKEN;
	if (strcmp(err, ERR_ROOM_FULL) == 0)
		return WS_CLOSE_ROOM_FULL;
	if (strcmp(err, ERR_INVALID_ARGUMENT) == 0)
		return WS_CLOSE_BAD_REQUEST;
	if (strcmp(err, WS_ERR_BANNED) == 0)
		return WS_CLOSE_MODERATED;
	return WS_CLOSE_TRY_LATER;
}

/* What a join's completion needs to know (its rpc_call state). */
struct join_state {
	char room_id[MADANG_ROOM_ID_MAX + 1];
	uint64_t generation; /* the room's generation when sent */
	bool has_below;      /* asked for the history before below only */
	uint64_t below;
};

/* True when a refused join waits for the broker instead of failing: the broker answered
 * unknown_frontend (it does not know this front-end: a restart or a failover), or no answer
 * came and the link is down (the request went to a broker that is gone). */
static bool
join_waits(const struct rpc_result *res)
{
	if (res->rv == 0)
		return res->error != NULL && strcmp(res->error, ERR_UNKNOWN_FRONTEND) == 0;
	return res->rv != RPC_ENOMEM && res->rv != RPC_EBUSY && !link_up() && !ws->stopping;
}

static void
join_done(void *state, struct rpc_result *res)
{
	struct join_state *j = state;
	struct ws_session *s = res->sess;
	struct ws_room *r = roomtab_get(&ws->rooms, j->room_id);
	struct ws_member *m = s->wsi != NULL ? sess_member(s, j->room_id) : NULL;
	const char *err = NULL, *msg = NULL;
	bool ok = res->ok, need_fill = false, resumed = false, recovered = false;
	cJSON *reply = res->reply;
	int64_t seq = 0;
	cJSON *hist, *e, *o;

	if (m == NULL || !m->join_sent || r == NULL || m->room != r) {
		/* The client left (or went away) while the join was in flight. */
		if (ok) {
			cJSON *req = rpc_req("leave", s);
			cJSON_AddStringToObject(req, "room_id", j->room_id);
			cJSON_AddStringToObject(req, "reason", "disconnected");
			rpc_call(req, &(struct rpc_call){0});
		}
		if (s->wsi != NULL)
			hk.join_over(s, NULL, NULL, NULL); /* what waited for it: not_in_room */
		return;
	}
	room_join_done(r, m);
	if (r->generation != j->generation) {
		/* The broker restarted while this join was in flight: join again in the new epoch.
		 */
		m->resync = m->resync || ok;
		room_join_enqueue(r, m);
		members_pump(r);
		return;
	}
	if (!ok && join_waits(res)) {
		/* The broker restarted, or a standby took over, before the link noticed: it does
		 * not know us and applied nothing. The join goes again after the re-sync (each room
		 * pumps its queue then); until then, or --broker-wait-ms, the client waits. */
		link_reregister();
		room_join_enqueue(r, m);
		if (wait_add(s) != 0)
			log_warn(
			    "ws: session %llu: out of memory: its join waits without a deadline",
			    (unsigned long long)s->serial);
		return;
	}
	if (ok && (!wire_int(reply, "seq", &seq) || seq < 0)) {
		ok = false;
		err = ERR_INTERNAL;
		msg = "malformed join reply";
	}
	if (!ok) {
		if (err == NULL && res->rv == RPC_ENOMEM) {
			err = ERR_INTERNAL;
			msg = "out of memory";
		} else if (err == NULL) {
			err = res->rv != 0 ? WS_ERR_BROKER_UNAVAILABLE : res->error;
			msg = res->rv != 0 ? "the chat service did not answer" : res->message;
		}
		if (err == NULL)
			err = ERR_INTERNAL;
		if (strcmp(err, ERR_NICKNAME_TAKEN) == 0 && hk.guest_retry(s, m))
			return; /* /ws/chat/{room_id}: joins again under another made-up nickname */
		out_send_refusal(s, err, msg ? msg : "join refused", "join_room", j->room_id, NULL,
		                 res->rv == 0 ? reply : NULL);
		bool fatal = s->single_room != NULL &&
		             (strcmp(j->room_id, s->single_room) == 0 || m->resync);
		if (log_enabled(LOG_LVL_DEBUG))
			log_debug("ws: session %llu (%s) join %s refused: %s",
			          (unsigned long long)s->serial, m->user, j->room_id, err);
		members_leave(s, m, false, NULL); /* also sends the room's next join */
		hk.join_over(s, j->room_id, err, msg ? msg : "join refused");
		if (fatal && strcmp(err, WS_ERR_BANNED) == 0) {
			/* 4003 with until when (the error before it has the note too) */
			const char *until = res->rv == 0 ? wire_str(reply, "until", NULL) : NULL;
			char why[WS_CLOSE_WHY_MAX]; /* out_close cuts it at a character boundary */
			if (until != NULL)
				snprintf(why, sizeof(why), "banned until %s", until);
			else
				snprintf(why, sizeof(why), "banned");
			out_close(s, WS_CLOSE_MODERATED, why, true);
		} else if (fatal) {
			out_close(s, join_close_code(err), msg ? msg : err, true);
		}
		return;
	}

	wire_bool(reply, "resumed", &resumed);
	wire_bool(reply, "recovered", &recovered);
	if (!r->has_base) {
		roomlog_reset(&r->log, (uint64_t)seq);
		r->has_base = true;
		r->seen_max = 0;
		r->live_seen = false; /* ticks refetch until the stream shows it carries the room */
		r->settle_until_ms = clock_mono_ms() + WS_STREAM_SETTLE_MS;
		need_fill = true; /* fetch from seq on, whatever the event stream already dropped */
	} else if (resumed && (uint64_t)seq >= r->log.top) {
		need_fill = true;
	}

	/* JOINED, then the history the reply carries, then live events from seq on. */
	if ((o = cJSON_CreateObject()) != NULL) {
		const char *name = wire_str(reply, "name", NULL),
		           *user = wire_str(reply, "user", NULL);
		cJSON *users = cJSON_GetObjectItemCaseSensitive(reply, "users");
		int64_t count = 0;
		cJSON_AddStringToObject(o, "type", "joined");
		cJSON_AddStringToObject(o, "room_id", r->id);
		cJSON_AddStringToObject(o, "name", name ? name : r->id);
		cJSON_AddStringToObject(o, "user", user ? user : m->user);
		if (cJSON_IsArray(users))
			cJSON_AddItemToObject(o, "users", cJSON_Duplicate(users, true));
		else
			cJSON_AddItemToObject(o, "users", cJSON_CreateArray());
		if (wire_int(reply, "users_count", &count))
			cJSON_AddNumberToObject(o, "users_count", (double)count);
		cJSON_AddNumberToObject(o, "seq", (double)seq);
		const char *epoch = wire_str(reply, "epoch", NULL);
		cJSON_AddStringToObject(o, "epoch", epoch ? epoch : ws->epoch);
		cJSON_AddBoolToObject(o, "recovered", recovered);
		cJSON_AddBoolToObject(o, "resumed", resumed);
		/* Moderation (docs/moderation.md): the member's role, the room's slow mode, and
		 * the end of its mute while it is muted. */
		const char *role = wire_str(reply, "role", NULL),
		           *muted_until = wire_str(reply, "muted_until", NULL);
		int64_t slow = 0;
		cJSON_AddStringToObject(o, "role", role ? role : "member");
		wire_int(reply, "slow_mode_s", &slow);
		cJSON_AddNumberToObject(o, "slow_mode_s", (double)slow);
		if (muted_until != NULL)
			cJSON_AddStringToObject(o, "muted_until", muted_until);
		out_push_obj(s, o);
		cJSON_Delete(o);
	}
	const char *canon = wire_str(reply, "user", NULL);
	if (canon != NULL && strlen(canon) <= MADANG_NICK_MAX_BYTES && strcmp(canon, m->user) != 0)
		sess_member_rename(m, canon); /* out of memory: the name it asked for stays */
	sess_member_since_clear(m);
	hist = cJSON_GetObjectItemCaseSensitive(reply, "history");
	cJSON_ArrayForEach(e, hist)
	{
		int64_t hs;
		if (cJSON_IsObject(e) && wire_int(e, "seq", &hs) && hs < seq)
			out_push_obj(s, e);
	}
	/* With history_below, the rest of the history is the log's own frames from
	 * max(history_first, below) on: the member's cursor starts there. */
	uint64_t cursor = (uint64_t)seq;
	int64_t first;
	if (j->has_below && wire_int(reply, "history_first", &first) && first >= 0) {
		cursor = (uint64_t)first > j->below ? (uint64_t)first : j->below;
		if (cursor > (uint64_t)seq)
			cursor = (uint64_t)seq;
		if (cursor < (uint64_t)seq)
			ws->c.history_shared++;
	}
	m->resync = false;
	if (room_add_member(r, m, cursor) != 0) {
		members_leave(s, m, true, "disconnected");
		out_close(s, WS_CLOSE_INTERNAL, "out of memory", false);
		return;
	}
	if (m->cursor < r->log.base) {
		/* Only after an unrecoverable gap (delivery's skip) reset the log during the join.
		 */
		if (cursor < (uint64_t)seq)
			out_send_error(s, WS_ERR_EVENTS_LOST,
			               "some events of this room could not be recovered", NULL,
			               r->id, NULL);
		m->cursor = r->log.base;
	}
	if (log_enabled(LOG_LVL_DEBUG))
		log_debug("ws: session %llu (%s) joined %s at seq %lld",
		          (unsigned long long)s->serial, m->user, r->id, (long long)seq);
	if (need_fill)
		delivery_repair(r);
	hk.join_over(s, NULL, NULL, NULL);
	out_kick(s);
	members_pump(r);
}

/* Builds the join request of member m. */
static cJSON *
join_req(struct ws_room *r, struct ws_member *m)
{
	struct ws_session *s = m->sess;
	cJSON *req = rpc_req("join", s);

	if (req == NULL)
		return NULL;
	cJSON_AddStringToObject(req, "room_id", r->id);
	cJSON_AddStringToObject(req, "user", m->user);
	if (m->since != NULL) {
		cJSON_AddNumberToObject(req, "since", (double)m->since->seq);
		cJSON_AddStringToObject(req, "epoch", m->since->epoch);
	}
	if (!m->resync && sess_resume(s) != NULL)
		cJSON_AddStringToObject(req, "resume", sess_resume(s));
	/* The client's address: the broker bounds the rooms joins create per address. */
	if (s->addr != NULL && s->addr[0] != '\0')
		cJSON_AddStringToObject(req, "addr", s->addr);
	cJSON_AddNumberToObject(req, "history", ws->o.history);
	/* With tokens, who it is: the broker gives it its role in the room (docs/moderation.md). */
	if (s->authenticated && sess_subject(s) != NULL) {
		cJSON_AddStringToObject(req, "subject", sess_subject(s));
		cJSON_AddBoolToObject(req, "admin", s->admin);
	}
	return req;
}

/* Sends the room's queued joins, if no round is in flight: one alone, several as one batch
 * (applied in order, so their seqs rise in queue order). */
void
members_pump(struct ws_room *r)
{
	struct ws_member *ms[WS_BATCH_MAX];
	struct rpc_batch *b = NULL;
	/* Each reply may carry --history events of the largest size: a round's replies together
	 * must stay under WS_BATCH_REPLY_MAX (ws_rpc.c). */
	size_t bound = (size_t)ws->o.history * WS_EVENT_JSON_MAX + WS_JOIN_USERS_MAX;
	size_t per = WS_BATCH_REPLY_MAX / bound;
	size_t n;

	/* While the broker is away the joins stay queued: the re-sync pumps every room. */
	if (!link_up())
		return;
	if (r->join_head != NULL)
		room_warm(r, (uint64_t)ws->o.history, clock_mono_ms());
	n = room_join_next(r, ms, per < 1 ? 1 : per > WS_BATCH_MAX ? WS_BATCH_MAX : per);
	if (n > 1)
		b = rpc_batch_begin(); /* NULL: no memory, each goes alone */
	for (size_t i = 0; i < n; i++) {
		struct ws_member *m = ms[i];
		struct join_state j = {.generation = r->generation};
		cJSON *req = join_req(r, m);

		snprintf(j.room_id, sizeof(j.room_id), "%s", r->id);
		/* The log holds every event from pin on: the broker sends only the older ones. */
		if (r->has_base && r->keep > 0 && m->since == NULL) {
			j.has_below = true;
			j.below = r->pin;
			cJSON_AddNumberToObject(req, "history_below", (double)r->pin);
		}
		rpc_call(req, &(struct rpc_call){.done = join_done,
		                                 .state = &j,
		                                 .size = sizeof(j),
		                                 .sess = m->sess,
		                                 .reply_bound = bound,
		                                 .batch = b});
	}
	rpc_batch_end(b);
	if (n > 0 && r->joins_in_flight == 0)
		members_pump(r); /* every join failed at once: the next ones may go */
}

int
members_join(struct ws_session *s, const char *room_id, const char *user, bool has_since,
             uint64_t since, const char *epoch)
{
	struct ws_room *r = delivery_room(room_id, true);
	struct ws_member *m;

	if (r == NULL)
		return -1;
	if ((m = sess_member_add(s, r, user)) == NULL)
		return -1;
	if (has_since && sess_member_since(m, since, epoch) != 0) {
		sess_member_del(s, m);
		return -1;
	}
	room_join_enqueue(r, m);
	members_pump(r);
	return 0;
}

/* A leave's rpc_call state. */
struct leave_state {
	bool tell; /* the client asked: it gets "left" when the broker answered */
	char room_id[MADANG_ROOM_ID_MAX + 1];
};

static void
leave_done(void *state, struct rpc_result *r)
{
	const struct leave_state *l = state;
	const char *room_id = l->room_id;

	if (r->rv == RPC_ENOMEM || r->rv == RPC_EBUSY)
		log_warn("ws: session %llu: leave %s not sent: %s",
		         (unsigned long long)r->sess->serial, room_id,
		         r->rv == RPC_EBUSY ? "too many requests queued" : "out of memory");
	if (r->rv == 0 && l->tell && r->sess->wsi != NULL) {
		int64_t seq = 0;
		cJSON *o = cJSON_CreateObject();
		/* The client is out of the room here whatever the broker says (not_member, say). */
		cJSON_AddStringToObject(o, "type", "left");
		cJSON_AddStringToObject(o, "room_id", room_id);
		if (r->ok && wire_int(r->reply, "seq", &seq))
			cJSON_AddNumberToObject(o, "seq", (double)seq);
		out_send_obj(r->sess, o);
	}
}

/* LEAVE — takes the member out locally at once; tells the broker unless it already knows. */
void
members_leave(struct ws_session *s, struct ws_member *m, bool tell_broker, const char *reason)
{
	struct ws_room *r = m->room;
	bool was_joined = m->state == MEMBER_ACTIVE || m->join_sent;

	delivery_detach(m);
	if (tell_broker && was_joined) {
		struct leave_state l = {.tell = reason == NULL}; /* the client asked: "left" */
		cJSON *req = rpc_req("leave", s);
		cJSON_AddStringToObject(req, "room_id", r->id);
		if (reason != NULL)
			cJSON_AddStringToObject(req, "reason", reason);
		snprintf(l.room_id, sizeof(l.room_id), "%s", r->id);
		rpc_call(req, &(struct rpc_call){.done = leave_done,
		                                 .state = &l,
		                                 .size = sizeof(l),
		                                 .sess = s,
		                                 .ordered = true});
	}
	sess_member_del(s, m);
	members_pump(r);
	/* An idle room is freed later by delivery_tick, never here: until then it stays in the
	 * table with its log continuous, so a join meanwhile simply uses it again. */
}

/* KICKED — a moderator removed s from its room (ev: the broker's kick with reason kicked or
 * banned): the broker has already taken the member out, so it leaves here without telling it;
 * the client gets "kicked" {room_id, reason, by, note, until}, and a connection for that one
 * room (/ws/{room_id}/{username}, /ws/chat/{room_id}) is then closed with 4003. */
static void
members_kicked(struct ws_session *s, const cJSON *ev, const char *room, const char *reason)
{
	struct ws_member *m = sess_member(s, room);
	const char *by = wire_str(ev, "by", NULL), *note = wire_str(ev, "note", NULL),
	           *until = wire_str(ev, "until", NULL);
	bool banned = strcmp(reason, "banned") == 0;
	/* Whole: out_close cuts it to WS_CLOSE_REASON_MAX bytes at a character boundary, which a
	 * buffer of that size would not (snprintf would cut inside a nickname's character). */
	char why[WS_CLOSE_WHY_MAX];
	cJSON *o;

	log_info("ws: session %llu (%s) %s from %s by %s", (unsigned long long)s->serial,
	         m ? m->user : "?", reason, room, by ? by : "?");
	if (m == NULL)
		return; /* it left meanwhile: nothing to end */
	members_leave(s, m, false, NULL);
	if ((o = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(o, "type", "kicked");
		cJSON_AddStringToObject(o, "room_id", room);
		cJSON_AddStringToObject(o, "reason", reason);
		if (by != NULL)
			cJSON_AddStringToObject(o, "by", by);
		else
			cJSON_AddNullToObject(o, "by");
		if (note != NULL)
			cJSON_AddStringToObject(o, "note", note);
		else
			cJSON_AddNullToObject(o, "note");
		if (banned && until != NULL)
			cJSON_AddStringToObject(o, "until", until);
		else
			cJSON_AddNullToObject(o, "until");
		out_push_obj(s, o);
		cJSON_Delete(o);
	}
	out_kick(s);
	if (s->single_room == NULL || strcmp(s->single_room, room) != 0)
		return;
	if (!banned)
		snprintf(why, sizeof(why), "kicked by %s", by ? by : "a moderator");
	else if (until != NULL)
		snprintf(why, sizeof(why), "banned until %s", until);
	else
		snprintf(why, sizeof(why), "banned");
	out_close(s, WS_CLOSE_MODERATED, why, true);
}

/* f/<id>: private messages, kicks, mutes, role changes and probes aimed at one of our
 * sessions. */
void
members_frontend_event(void *arg, cJSON *ev)
{
	const char *type = wire_str(ev, "type", NULL), *sid = wire_str(ev, "session", NULL);
	struct ws_session *s;

	(void)arg;

	if (type == NULL || sid == NULL || (s = sesstab_get(&ws->sessions, sid)) == NULL ||
	    s->wsi == NULL)
		return;
	if (strcmp(type, "probe") == 0) {
		hk.probe(s);
	} else if (strcmp(type, "private") == 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(ev, "session");
		out_push_obj(s, ev);
		out_kick(s);
	} else if (strcmp(type, "muted") == 0 || strcmp(type, "unmuted") == 0 ||
	           strcmp(type, "role") == 0) {
		/* MUTED / UNMUTED room_id until by note, ROLE room_id role: only these go to the
		 * client */
		static const char *const mute_keys[] = {"room_id", "until", "by", "note", NULL};
		static const char *const role_keys[] = {"room_id", "role", NULL};
		const char *const *keys = type[0] == 'r' ? role_keys : mute_keys;
		cJSON *o = cJSON_CreateObject(), *v;
		if (o == NULL)
			return;
		cJSON_AddStringToObject(o, "type", type);
		for (size_t i = 0; keys[i] != NULL; i++) {
			v = cJSON_GetObjectItemCaseSensitive(ev, keys[i]);
			if (cJSON_IsString(v))
				cJSON_AddStringToObject(o, keys[i], v->valuestring);
			else
				cJSON_AddNullToObject(o, keys[i]);
		}
		out_send_obj(s, o);
	} else if (strcmp(type, "kick") == 0) {
		const char *room = wire_str(ev, "room_id", NULL),
		           *reason = wire_str(ev, "reason", NULL);
		struct ws_member *m;
		if (room != NULL && reason != NULL &&
		    (strcmp(reason, "kicked") == 0 || strcmp(reason, "banned") == 0)) {
			members_kicked(s, ev, room, reason);
			return;
		}
		m = room != NULL ? sess_member(s, room) : NULL;
		log_info("ws: session %llu (%s) kicked from %s: %s", (unsigned long long)s->serial,
		         m ? m->user : "?", room ? room : "?", reason ? reason : "?");
		if (m != NULL)
			members_leave(s, m, false, NULL);
		/* Its nickname now belongs to a newer connection (resume): this one is done. */
		out_close(s, WS_CLOSE_NICK_TAKEN,
		          reason != NULL && strcmp(reason, "replaced") == 0
		              ? "replaced by a newer connection"
		              : "removed by the server",
		          true);
	}
}

/* After hello + sync: every log restarts (a new epoch's seqs start again) and every active
 * member joins again, asking for the events after the last one it was given in the old epoch.
 * A durable broker (same epoch, history on disk) answers with exactly the missed events and
 * "recovered": true; after a new epoch the client gets recovered: false and the recent history. */
static void
resync_room(struct ws_room *r, void *arg)
{
	const char *prev_epoch = arg;

	delivery_reset(r);
	while (r->n > 0) {
		struct ws_member *m = r->members[0];
		room_del_member(r, m);
		m->resync = true;
		/* Out of memory for it: the join asks for no events, and the client gets
		 * recovered: false with the recent history, as after a new epoch. */
		if (prev_epoch[0] == '\0' || m->cursor == 0 ||
		    sess_member_since(m, m->cursor - 1, prev_epoch) != 0)
			sess_member_since_clear(m);
		room_join_enqueue(r, m);
	}
	members_pump(r);
}

void
members_resync(void *arg, const char *prev_epoch)
{
	(void)arg;
	roomtab_each(&ws->rooms, resync_room, (void *)prev_epoch);
}

void
members_lost(void *arg, struct ws_session *s, struct ws_member *m, const char *err)
{
	const char *room = m->room->id;

	(void)arg;
	out_send_error(s, err, "could not rejoin the room after a restart", "join_room", room,
	               NULL);
	members_leave(s, m, false, NULL);
	if (s->single_room != NULL)
		out_close(s,
		          strcmp(err, ERR_NICKNAME_TAKEN) == 0 ? WS_CLOSE_NICK_TAKEN
		          : strcmp(err, ERR_NO_SUCH_ROOM) == 0 ? WS_CLOSE_NO_ROOM
		          : strcmp(err, WS_ERR_BANNED) == 0    ? WS_CLOSE_MODERATED
		                                               : WS_CLOSE_TRY_LATER,
		          "could not rejoin the room", true);
}
