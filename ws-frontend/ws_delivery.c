/* ws_delivery.c — room events from the broker to the local members (ws_delivery.h). Every
 * local member receives a room's events in seq order, gaps are repaired from the broker's
 * history before later events go out, and each event is framed once and shared by every local
 * recipient. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "policy.h"
#include "tombstone.h"
#include "validate.h"
#include "wire.h"
#include "ws_delivery.h"
#include "ws_link.h"
#include "ws_out.h"
#include "ws_rpc.h"
#include "ws_state.h"

static struct {
	struct ws_room *dirty; /* rooms with events not fanned out yet */
	delivery_frontend_fn frontend;
	void *frontend_arg;
} dl;

void
delivery_init(delivery_frontend_fn frontend, void *arg)
{
	dl.frontend = frontend;
	dl.frontend_arg = arg;
}

#define HISTORY_PAGE MADANG_HISTORY_PAGE_MAX

struct ws_room *
delivery_room(const char *id, bool create)
{
	struct ws_room *r = roomtab_get(&ws->rooms, id);

	if (r == NULL && create && (r = roomtab_add(&ws->rooms, id)) != NULL)
		r->keep = (uint64_t)ws->o.history;
	return r;
}

/* Asks every member for a write (flagging the ones over --queue-limit), trims the log. */
void
delivery_fanout(struct ws_room *r)
{
	for (size_t i = 0; i < r->n; i++)
		out_kick(r->members[i]->sess);
	room_trim(r);
}

void
delivery_detach(struct ws_member *m)
{
	struct ws_room *r = m->room;

	if (m->state == MEMBER_ACTIVE) {
		for (uint64_t s = m->cursor < r->log.base ? r->log.base : m->cursor; s < r->log.top;
		     s++)
			sess_push(m->sess, roomlog_get(&r->log, s));
		room_del_member(r, m);
	}
	room_join_remove(r, m);
}

/* Appends event seq (== top) to the log; json is what every member receives. */
static bool
dl_append(struct ws_room *r, uint64_t seq, const char *json, size_t len)
{
	struct ws_frame *f = ws_frame_text(json, len);

	if (f == NULL)
		return false;
	if (roomlog_append(&r->log, seq, f) != 0) {
		ws_frame_unref(f);
		return false;
	}
	return true;
}

/* message_deleted (ev): the message's frame in the log becomes its tombstone, so that members
 * not past it yet, and later joiners (history_below), never get the text. A message no longer
 * in the log is left alone: whoever joins later gets it from the broker, as a tombstone. */
static void
dl_tombstone(struct ws_room *r, const cJSON *ev)
{
	struct ws_frame *old, *f = NULL;
	const char *json;
	char *t;
	size_t len, tlen;
	uint64_t seq;

	if (!tombstone_target(ev, &seq) || (old = roomlog_get(&r->log, seq)) == NULL)
		return;
	json = ws_frame_payload(old, &len);
	if ((t = tombstone_json(json, len, wire_str(ev, "note", NULL), &tlen, NULL, 0)) == NULL)
		return; /* not a message (or one already), or no memory */
	f = ws_frame_text(t, tlen);
	free(t);
	if (f == NULL || roomlog_replace(&r->log, seq, f) != 0) {
		log_warn("ws: room %s: deleted message %llu kept: out of memory", r->id,
		         (unsigned long long)seq);
		ws_frame_unref(f);
	}
}

/* room_deleted: members get it (after everything before it), then they are out of the room. */
static void
dl_deleted(struct ws_room *r)
{
	delivery_fanout(r);
	while (r->n > 0) {
		struct ws_member *m = r->members[0];
		struct ws_session *s = m->sess;
		bool single = s->single_room != NULL && strcmp(s->single_room, r->id) == 0;
		delivery_detach(m);
		sess_member_del(s, m);
		if (single)
			out_close(s, WS_CLOSE_NO_ROOM, "room deleted", true);
		out_kick(s);
	}
}

/* The log jumps to next: what members had pending goes to their own queues first, then each
 * is told that events were lost. */
static void
dl_skip(struct ws_room *r, uint64_t next)
{
	struct ws_frame *lost;
	char text[256];
	int n = snprintf(text, sizeof(text),
	                 "{\"type\":\"error\",\"code\":\"%s\",\"message\":\"some events of this "
	                 "room could not be recovered\",\"room_id\":\"%s\"}",
	                 WS_ERR_EVENTS_LOST, r->id);

	lost = n > 0 && (size_t)n < sizeof(text) ? ws_frame_text(text, (size_t)n) : NULL;
	/* Queue only: the caller fans out after the loop. */
	for (size_t i = 0; i < r->n; i++) {
		struct ws_member *m = r->members[i];
		for (uint64_t q = m->cursor < r->log.base ? r->log.base : m->cursor; q < r->log.top;
		     q++)
			sess_push(m->sess, roomlog_get(&r->log, q));
		if (m->cursor < next)
			m->cursor = next;
		if (lost != NULL)
			sess_push(m->sess, lost);
	}
	ws_frame_unref(lost);
	roomlog_reset(&r->log, next);
}

/* What a repair's completion needs to know (its rpc_call state). */
struct history_state {
	char room_id[MADANG_ROOM_ID_MAX + 1];
	uint64_t generation; /* the room's generation when sent */
};

static void
history_done(void *state, struct rpc_result *res)
{
	const struct history_state *j = state;
	struct ws_room *r = roomtab_get(&ws->rooms, j->room_id);
	cJSON *events, *e;
	bool complete = true, deleted = false;
	int64_t first = 0;
	size_t appended = 0;

	if (r == NULL || r->generation != j->generation)
		return; /* the room went away or was reset meanwhile */
	r->repairing = false;
	if (!res->ok) {
		log_warn("broker: history for %s failed: %s", r->id,
		         res->rv != 0 ? "no answer"
		         : res->error ? res->error
		                      : "refused");
		return; /* retried by delivery_tick */
	}
	wire_bool(res->reply, "complete", &complete);
	events = cJSON_GetObjectItemCaseSensitive(res->reply, "events");
	e = cJSON_IsArray(events) ? events->child : NULL;
	if (e != NULL && wire_int(e, "seq", &first) && (uint64_t)first > r->log.top && !complete) {
		/* The broker no longer has what we missed: members are told, delivery goes on. */
		log_warn("broker: room %s lost events %llu..%lld", r->id,
		         (unsigned long long)r->log.top, (long long)first - 1);
		dl_skip(r, (uint64_t)first);
	}
	for (; e != NULL; e = e->next) {
		int64_t seq;
		char *text;
		const char *type;
		if (!cJSON_IsObject(e) || !wire_int(e, "seq", &seq) || (uint64_t)seq < r->log.top)
			continue;
		if ((uint64_t)seq > r->log.top)
			break; /* another hole: fetched again below */
		if ((text = cJSON_PrintUnformatted(e)) == NULL)
			break;
		bool added = dl_append(r, (uint64_t)seq, text, strlen(text));
		free(text);
		if (!added)
			break;
		appended++;
		type = wire_str(e, "type", NULL);
		if (type != NULL && strcmp(type, "room_deleted") == 0)
			deleted = true;
		else if (type != NULL && strcmp(type, "message_deleted") == 0)
			dl_tombstone(r, e);
	}
	if (appended > 0)
		ws->c.gaps++; /* not the empty answers of policy_refetch's checks */
	delivery_fanout(r);
	if (deleted) {
		dl_deleted(r);
		return;
	}
	/* More to fetch: at once while pages bring events, else from the next tick. */
	if (r->seen_max >= r->log.top && appended > 0)
		delivery_repair(r);
}

/* HISTORY after top-1: fills the log from top on before later live events are used. */
void
delivery_repair(struct ws_room *r)
{
	struct history_state h = {.generation = r->generation};
	cJSON *req;

	if (r->repairing || !r->has_base || !link_up())
		return;
	req = rpc_req("history", NULL);
	cJSON_DeleteItemFromObjectCaseSensitive(req, "frontend");
	cJSON_AddStringToObject(req, "room_id", r->id);
	cJSON_AddNumberToObject(req, "after_seq", r->log.top > 0 ? (double)(r->log.top - 1) : 0);
	cJSON_AddNumberToObject(req, "limit", HISTORY_PAGE);
	snprintf(h.room_id, sizeof(h.room_id), "%s", r->id);
	r->repairing = true; /* before the call: its completion may run at once */
	rpc_call(req, &(struct rpc_call){.done = history_done, .state = &h, .size = sizeof(h)});
}

/* typing: not stored, no seq — straight into the members' queues (not the typist's own). */
static void
dl_typing(struct ws_room *r, const cJSON *ev, const char *json, size_t len)
{
	const char *user = wire_str(ev, "user", NULL);
	struct ws_frame *f = ws_frame_text(json, len);

	if (f == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct ws_member *m = r->members[i];
		if (user != NULL && strcmp(m->user, user) == 0)
			continue;
		sess_push(m->sess, f);
	}
	ws_frame_unref(f);
	delivery_fanout(r);
}

static void
dl_room_event(struct ws_room *r, const char *json, size_t len, const cJSON *ev)
{
	const char *type = wire_str(ev, "type", NULL), *epoch;
	struct seq_state st = {r->has_base, r->log.top, r->repairing};
	enum seq_verdict v;
	int64_t seq;

	if (type == NULL)
		return;
	if (strcmp(type, "typing") == 0) {
		dl_typing(r, ev, json, len);
		return;
	}
	if (!wire_int(ev, "seq", &seq) || seq < 0)
		return;
	epoch = wire_str(ev, "epoch", NULL);
	/* Another broker life is stale: the heartbeat notices and we re-sync. */
	v = policy_seq(&st, epoch == NULL || strcmp(epoch, ws->epoch) == 0, (uint64_t)seq);
	r->seen_max = policy_seen_max(v, r->seen_max, (uint64_t)seq);
	if (v != SEQ_STALE)
		r->live_seen = true; /* the stream carries this room: policy_refetch */
	if (v == SEQ_GAP)
		delivery_repair(r); /* the repair brings this event and every later one */
	if (v != SEQ_DELIVER)
		return;
	if (!dl_append(r, (uint64_t)seq, json, len))
		return;
	if (strcmp(type, "message_deleted") == 0)
		dl_tombstone(r, ev);
	if (strcmp(type, "room_deleted") == 0) {
		dl_deleted(r); /* fans out first */
		return;
	}
	if (!r->dirty) {
		r->dirty = true;
		r->dirty_next = dl.dirty;
		dl.dirty = r;
	}
}

void
delivery_flush(void)
{
	while (dl.dirty != NULL) {
		struct ws_room *r = dl.dirty;
		dl.dirty = r->dirty_next;
		r->dirty = false;
		delivery_fanout(r);
	}
}

/* The room of a room id (bundle.h's reader gives it without "r/"); NULL when nobody here is in
 * that room (we get every room's events) or the id is empty or too long. */
static struct ws_room *
id_room(const char *id, size_t len)
{
	char key[MADANG_ROOM_ID_MAX + 1];

	if (len == 0 || len > MADANG_ROOM_ID_MAX)
		return NULL;
	memcpy(key, id, len);
	key[len] = '\0';
	return roomtab_get(&ws->rooms, key);
}

/* The room of a topic line "r/<room_id>" (without its newline); NULL when nobody here is in that
 * room or the line is no room topic. */
static struct ws_room *
topic_room(const char *t, size_t tlen)
{
	if (tlen <= 2 || t[0] != WIRE_TOPIC_ROOM || t[1] != '/')
		return NULL;
	return id_room(t + 2, tlen - 2);
}

/* One event line of a pub message, for room r (kind 'r' or 'b') or our front-end ('f'). */
static void
event_line(int kind, struct ws_room *r, const char *json, size_t n)
{
	const char *why;
	cJSON *ev;

	if ((ev = wire_parse_object(json, n, WS_EVENT_MAX, &why)) == NULL) {
		log_warn("broker: malformed event dropped: %s", why);
		return;
	}
	if (kind == 'f')
		dl.frontend(dl.frontend_arg, ev);
	else
		dl_room_event(r, json, n, ev);
	cJSON_Delete(ev);
}

/* One pub message: a topic line, then one or more JSON events, one per line, in order. A bundle
 * ("b") carries several rooms: each "r/<room_id>" line is followed by that room's events (JSON
 * lines start with '{'). Room events are taken from bundles or from room topics, whichever the
 * broker granted at hello (link_bundles()), never from both. */
void
delivery_event(const char *body, size_t len)
{
	const char *topic, *json, *end, *line;
	size_t tlen, jlen, n;
	struct ws_room *r = NULL;
	int kind;

	if (!wire_split_event(body, len, &topic, &tlen, &json, &jlen))
		return;
	if (tlen > 2 && topic[0] == WIRE_TOPIC_ROOM && topic[1] == '/') {
		if (link_bundles() || (r = topic_room(topic, tlen)) == NULL)
			return;
		kind = 'r';
	} else if (tlen == 1 && topic[0] == WIRE_TOPIC_BUNDLE[0]) {
		if (!link_bundles())
			return;
		kind = 'b';
	} else if (tlen > 2 && topic[0] == WIRE_TOPIC_FRONTEND && topic[1] == '/') {
		kind = 'f';
	} else {
		return; /* "a": room_created / room_deleted; the room topic carries what we need */
	}
	if (kind == 'b') {
		struct bundle_reader rd;
		const char *id, *last = NULL;
		size_t idlen;

		bundle_reader_init(&rd, json, jlen);
		while (bundle_next(&rd, &id, &idlen, &line, &n)) {
			if (id != last) { /* the next room; NULL: its events are skipped */
				r = id_room(id, idlen);
				last = id;
			}
			if (r != NULL)
				event_line(kind, r, line, n);
		}
		return;
	}
	for (end = json + jlen; json < end;) {
		const char *nl = memchr(json, '\n', (size_t)(end - json));

		n = nl != NULL ? (size_t)(nl - json) : (size_t)(end - json);
		if (n > 0)
			event_line(kind, r, json, n);
		json += n + (nl != NULL ? 1 : 0);
	}
}

static void
tick_room(struct ws_room *r, void *arg)
{
	struct refetch_state st = {.seq = {r->has_base, r->log.top, r->repairing},
	                           .seen_max = r->seen_max,
	                           .live_seen = r->live_seen,
	                           .settle_until_ms = r->settle_until_ms};

	(void)arg;
	if (policy_refetch(&st, clock_mono_ms()))
		delivery_repair(r);
}

/* Frees the rooms nobody uses any more, and stops their events. */
static void
gc_room(struct ws_room *r, void *arg)
{
	(void)arg;
	if (!room_idle(r) || r->dirty)
		return;
	roomtab_del(&ws->rooms, r);
}

void
delivery_reset(struct ws_room *r)
{
	r->generation++;
	r->repairing = false;
	r->has_base = false;
	r->seen_max = 0;
	r->live_seen = false;
	r->settle_until_ms = 0;
	roomlog_reset(&r->log, 0);
}

struct cool_walk {
	uint64_t now_ms;
	uint64_t members; /* of the rooms that went quiet now */
};

/* A room without joins for --history-idle lets the frames it kept for joiners go. */
static void
cool_room(struct ws_room *r, void *arg)
{
	struct cool_walk *w = arg;

	if (room_cool(r, ws->o.history_idle_ms, w->now_ms)) {
		log_debug("ws: room %s: no join for %llu s, its frames kept for joiners let go",
		          r->id, (unsigned long long)(ws->o.history_idle_ms / 1000));
		w->members += r->n;
	}
}

uint64_t
delivery_cool(uint64_t now_ms)
{
	struct cool_walk w = {now_ms, 0};

	roomtab_each(&ws->rooms, cool_room, &w);
	return w.members;
}

void
delivery_tick(void)
{
	roomtab_each(&ws->rooms, gc_room, NULL);
	if (link_up())
		roomtab_each(&ws->rooms, tick_room, NULL);
}
