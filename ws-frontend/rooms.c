/* rooms.c — leaving rooms and delivering room events (joining: joins.c). Every local member
 * receives a room's events in seq order, gaps are repaired from the broker's history before
 * later events go out, and each event is framed once and shared by every local recipient. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "policy.h"
#include "validate.h"
#include "wire.h"
#include "ws.h"

#define HISTORY_PAGE MADANG_HISTORY_PAGE_MAX

struct ws_room *
rooms_get(const char *id, bool create)
{
	struct ws_room *r = roomtab_get(&ws->rooms, id);

	if (r == NULL && create && (r = roomtab_add(&ws->rooms, id)) != NULL)
		r->keep = (uint64_t)ws->o.history;
	return r;
}

/* Asks every member for a write (flagging the ones over --queue-limit), trims the log. */
static void
rooms_fanout(struct ws_room *r)
{
	for (size_t i = 0; i < r->n; i++)
		out_kick(r->members[i]->sess);
	room_trim(r);
}

void
rooms_detach(struct ws_member *m)
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

static void
leave_done(struct rpc_job *j)
{
	if (j->rv == 0 && j->sess != NULL && j->sess->wsi != NULL && j->kind == 1) {
		bool ok = false;
		int64_t seq = 0;
		cJSON *o = cJSON_CreateObject();
		if (o == NULL)
			return;
		/* The client is out of the room here whatever the broker says (not_member, say). */
		wire_bool(j->reply, "ok", &ok);
		cJSON_AddStringToObject(o, "type", "left");
		cJSON_AddStringToObject(o, "room_id", j->room_id);
		if (ok && wire_int(j->reply, "seq", &seq))
			cJSON_AddNumberToObject(o, "seq", (double)seq);
		out_send_obj(j->sess, o);
	}
}

/* LEAVE — takes the member out locally at once; tells the broker unless it already knows. */
void
rooms_leave(struct ws_session *s, struct ws_member *m, bool tell_broker, const char *reason)
{
	struct ws_room *r = m->room;
	bool was_joined = m->state == MEMBER_ACTIVE || m->join_sent;

	rooms_detach(m);
	if (tell_broker && was_joined) {
		cJSON *req = broker_req("leave", s);
		struct rpc_job *j = rpc_job_new(leave_done, s);
		if (req != NULL && j != NULL) {
			cJSON_AddStringToObject(req, "room_id", r->id);
			if (reason != NULL)
				cJSON_AddStringToObject(req, "reason", reason);
			snprintf(j->room_id, sizeof(j->room_id), "%s", r->id);
			j->kind = reason == NULL ? 1 : 0; /* 1: the client asked, tell it "left" */
			if (rpc_send_ordered(j, req) != 0)
				log_warn(
				    "ws: session %llu: leave %s not sent: too many requests queued",
				    (unsigned long long)s->serial, r->id);
		} else {
			cJSON_Delete(req);
			if (j != NULL)
				sess_unref(j->sess);
			free(j);
		}
	}
	sess_member_del(s, m);
	rooms_pump(r);
	/* An idle room is freed later by rooms_tick, never here: callers up the stack (fan-out
	 * loops, reply handlers) may still hold it. Until then it stays in the table with its log
	 * continuous, so a join meanwhile simply uses it again. */
}

/* Appends event seq (== top) to the log; json is what every member receives. */
static bool
rooms_append(struct ws_room *r, uint64_t seq, const char *json, size_t len)
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

/* room_deleted: members get it (after everything before it), then they are out of the room. */
static void
rooms_deleted(struct ws_room *r)
{
	rooms_fanout(r);
	while (r->n > 0) {
		struct ws_member *m = r->members[0];
		struct ws_session *s = m->sess;
		bool single = s->single_room != NULL && strcmp(s->single_room, r->id) == 0;
		rooms_detach(m);
		sess_member_del(s, m);
		if (single)
			out_close(s, WS_CLOSE_NO_ROOM, "room deleted", true);
		out_kick(s);
	}
}

/* The log jumps to next: what members had pending goes to their own queues first, then each
 * is told that events were lost. */
static void
rooms_skip(struct ws_room *r, uint64_t next)
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

static void
history_done(struct rpc_job *j)
{
	struct ws_room *r = roomtab_get(&ws->rooms, j->room_id);
	cJSON *events, *e;
	bool ok = false, complete = true, deleted = false;
	int64_t first = 0;
	size_t appended = 0;

	if (r == NULL || r->generation != j->generation)
		return; /* the room went away or was reset meanwhile */
	r->repairing = false;
	if (j->rv != 0 || !wire_bool(j->reply, "ok", &ok) || !ok) {
		log_warn("broker: history for %s failed: %s", r->id,
		         j->rv != 0 ? nng_strerror(j->rv) : "refused");
		return; /* retried by rooms_tick */
	}
	wire_bool(j->reply, "complete", &complete);
	events = cJSON_GetObjectItemCaseSensitive(j->reply, "events");
	e = cJSON_IsArray(events) ? events->child : NULL;
	if (e != NULL && wire_int(e, "seq", &first) && (uint64_t)first > r->log.top && !complete) {
		/* The broker no longer has what we missed: members are told, delivery goes on. */
		log_warn("broker: room %s lost events %llu..%lld", r->id,
		         (unsigned long long)r->log.top, (long long)first - 1);
		rooms_skip(r, (uint64_t)first);
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
		bool added = rooms_append(r, (uint64_t)seq, text, strlen(text));
		free(text);
		if (!added)
			break;
		appended++;
		type = wire_str(e, "type", NULL);
		if (type != NULL && strcmp(type, "room_deleted") == 0)
			deleted = true;
	}
	ws->c.gaps++;
	rooms_fanout(r);
	if (deleted) {
		rooms_deleted(r);
		return;
	}
	/* More to fetch: at once while pages bring events, else from the next tick. */
	if (r->seen_max >= r->log.top && appended > 0)
		rooms_repair(r);
}

/* HISTORY after top-1: fills the log from top on before later live events are used. */
void
rooms_repair(struct ws_room *r)
{
	cJSON *req;
	struct rpc_job *j;

	if (r->repairing || !r->has_base || !broker_up())
		return;
	req = broker_req("history", NULL);
	j = rpc_job_new(history_done, NULL);
	if (req == NULL || j == NULL) {
		cJSON_Delete(req);
		free(j);
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(req, "frontend");
	cJSON_AddStringToObject(req, "room_id", r->id);
	cJSON_AddNumberToObject(req, "after_seq", r->log.top > 0 ? (double)(r->log.top - 1) : 0);
	cJSON_AddNumberToObject(req, "limit", HISTORY_PAGE);
	snprintf(j->room_id, sizeof(j->room_id), "%s", r->id);
	j->generation = r->generation;
	r->repairing = true;
	rpc_send(j, req);
}

/* typing: not stored, no seq — straight into the members' queues (not the typist's own). */
static void
rooms_typing(struct ws_room *r, const cJSON *ev, const char *json, size_t len)
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
	rooms_fanout(r);
}

static void
rooms_room_event(struct ws_room *r, const char *json, size_t len, const cJSON *ev)
{
	const char *type = wire_str(ev, "type", NULL), *epoch;
	struct seq_state st = {r->has_base, r->log.top, r->repairing};
	enum seq_verdict v;
	int64_t seq;

	if (type == NULL)
		return;
	if (strcmp(type, "typing") == 0) {
		rooms_typing(r, ev, json, len);
		return;
	}
	if (!wire_int(ev, "seq", &seq) || seq < 0)
		return;
	epoch = wire_str(ev, "epoch", NULL);
	/* Another broker life is stale: the heartbeat notices and we re-sync. */
	v = policy_seq(&st, epoch == NULL || strcmp(epoch, ws->epoch) == 0, (uint64_t)seq);
	r->seen_max = policy_seen_max(v, r->seen_max, (uint64_t)seq);
	if (v == SEQ_GAP)
		rooms_repair(r); /* the repair brings this event and every later one */
	if (v != SEQ_DELIVER)
		return;
	if (!rooms_append(r, (uint64_t)seq, json, len))
		return;
	if (strcmp(type, "room_deleted") == 0) {
		rooms_deleted(r); /* fans out first */
		return;
	}
	if (!r->dirty) {
		r->dirty = true;
		r->dirty_next = ws->dirty;
		ws->dirty = r;
	}
}

void
rooms_flush(void)
{
	while (ws->dirty != NULL) {
		struct ws_room *r = ws->dirty;
		ws->dirty = r->dirty_next;
		r->dirty = false;
		rooms_fanout(r);
	}
}

/* f/<id>: private messages, kicks and probes aimed at one of our sessions. */
static void
rooms_frontend_event(cJSON *ev)
{
	const char *type = wire_str(ev, "type", NULL), *sid = wire_str(ev, "session", NULL);
	struct ws_session *s;

	if (type == NULL || sid == NULL || (s = sesstab_get(&ws->sessions, sid)) == NULL ||
	    s->wsi == NULL)
		return;
	if (strcmp(type, "probe") == 0) {
		ws_probe(s);
	} else if (strcmp(type, "private") == 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(ev, "session");
		out_push_obj(s, ev);
		out_kick(s);
	} else if (strcmp(type, "kick") == 0) {
		const char *room = wire_str(ev, "room_id", NULL),
		           *reason = wire_str(ev, "reason", NULL);
		struct ws_member *m = room != NULL ? sess_member(s, room) : NULL;
		log_info("ws: session %llu (%s) kicked from %s: %s", (unsigned long long)s->serial,
		         m ? m->user : "?", room ? room : "?", reason ? reason : "?");
		if (m != NULL)
			rooms_leave(s, m, false, NULL);
		/* Its nickname now belongs to a newer connection (resume): this one is done. */
		out_close(s, WS_CLOSE_NICK_TAKEN,
		         reason != NULL && strcmp(reason, "replaced") == 0
		             ? "replaced by a newer connection"
		             : "removed by the server",
		         true);
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
		rooms_frontend_event(ev);
	else
		rooms_room_event(r, json, n, ev);
	cJSON_Delete(ev);
}

/* One pub message: a topic line, then one or more JSON events, one per line, in order. A bundle
 * ("b") carries several rooms: each "r/<room_id>" line is followed by that room's events (JSON
 * lines start with '{'). Room events are taken from bundles or from room topics, whichever the
 * broker granted at hello (ws->bundles), never from both. */
void
rooms_event(const char *body, size_t len)
{
	const char *topic, *json, *end, *line;
	size_t tlen, jlen, n;
	struct ws_room *r = NULL;
	int kind;

	if (!wire_split_event(body, len, &topic, &tlen, &json, &jlen))
		return;
	if (tlen > 2 && topic[0] == WIRE_TOPIC_ROOM && topic[1] == '/') {
		if (ws->bundles || (r = topic_room(topic, tlen)) == NULL)
			return;
		kind = 'r';
	} else if (tlen == 1 && topic[0] == WIRE_TOPIC_BUNDLE[0]) {
		if (!ws->bundles)
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

/* After hello + sync: every log restarts (a new epoch's seqs start again) and every active
 * member joins again, asking for the events after the last one it was given in the old epoch.
 * A durable broker (same epoch, history on disk) answers with exactly the missed events and
 * "recovered": true; after a new epoch the client gets recovered: false and the recent history. */
static void
resync_room(struct ws_room *r, void *arg)
{
	(void)arg;
	r->generation++;
	r->repairing = false;
	r->has_base = false;
	r->seen_max = 0;
	while (r->n > 0) {
		struct ws_member *m = r->members[0];
		room_del_member(r, m);
		m->resync = true;
		m->has_since = ws->prev_epoch[0] != '\0' && m->cursor > 0;
		m->since = m->cursor > 0 ? m->cursor - 1 : 0;
		memcpy(m->epoch, ws->prev_epoch, sizeof(m->epoch));
		room_join_enqueue(r, m);
	}
	roomlog_reset(&r->log, 0);
	rooms_pump(r);
}

void
rooms_resync(void)
{
	roomtab_each(&ws->rooms, resync_room, NULL);
}

static void
tick_room(struct ws_room *r, void *arg)
{
	(void)arg;
	if (r->has_base && !r->repairing && r->seen_max >= r->log.top)
		rooms_repair(r);
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
rooms_tick(void)
{
	roomtab_each(&ws->rooms, gc_room, NULL);
	if (broker_up())
		roomtab_each(&ws->rooms, tick_room, NULL);
}
