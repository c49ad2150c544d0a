/* ops.c — decodes broker requests and applies them to the state (docs/broker-protocol.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core.h"
#include "log.h"
#include "validate.h"
#include "wire.h"

/* Per-request context: the parsed request, the reply being built, and error state. */
struct req {
	struct broker *b;
	const cJSON *rq;
	struct sbuf *out;
	bool failed;
};

static void
reply_error(struct req *q, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
reply_error(struct req *q, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	sbuf_reset(q->out);
	sbuf_adds(q->out, "{\"ok\":false,\"error\":\"");
	sbuf_adds(q->out, code);
	sbuf_adds(q->out, "\",\"message\":");
	sbuf_add_jstr(q->out, msg, (size_t)n);
	sbuf_addc(q->out, '}');
	q->failed = true;
	q->b->ctr.request_errors++;
}

static void
add_key_str(struct sbuf *o, const char *key, const char *val)
{
	sbuf_addc(o, '"');
	sbuf_adds(o, key);
	sbuf_adds(o, "\":");
	sbuf_add_jstr(o, val, strlen(val));
}

static void
add_key_int(struct sbuf *o, const char *key, int64_t val)
{
	sbuf_addc(o, '"');
	sbuf_adds(o, key);
	sbuf_adds(o, "\":");
	sbuf_addi(o, val);
}

/* Reads a required string field checked by valid_room_id (room and front-end ids). */
static const char *
arg_id(struct req *q, const char *key)
{
	size_t len;
	const char *s = wire_str(q->rq, key, &len);

	if (s == NULL) {
		reply_error(q, ERR_INVALID_ARGUMENT, "%s must be a string", key);
		return NULL;
	}
	if (!valid_room_id(s, len)) {
		reply_error(q, ERR_INVALID_ARGUMENT, "%s must match [A-Za-z0-9_-]{1,64}", key);
		return NULL;
	}
	return s;
}

static const char *
arg_token(struct req *q, const char *key, bool required)
{
	size_t len;
	const char *s = wire_str(q->rq, key, &len);

	if (s == NULL) {
		if (required || wire_has(q->rq, key))
			reply_error(q, ERR_INVALID_ARGUMENT, "%s must be a string", key);
		return NULL;
	}
	if (!valid_token(s, len, MADANG_SESSION_MAX)) {
		reply_error(q, ERR_INVALID_ARGUMENT, "%s must be 1-64 printable ASCII characters",
			    key);
		return NULL;
	}
	return s;
}

/* Optional integer field in [lo, hi]; *present tells whether it was given. */
static bool
arg_int_opt(struct req *q, const char *key, int64_t lo, int64_t hi, int64_t *out, bool *present)
{
	*present = wire_has(q->rq, key);
	if (!*present)
		return true;
	if (!wire_int(q->rq, key, out) || *out < lo || *out > hi) {
		reply_error(q, ERR_INVALID_ARGUMENT, "%s must be an integer from %lld to %lld", key,
			    (long long)lo, (long long)hi);
		return false;
	}
	return true;
}

static struct room *
arg_room(struct req *q)
{
	const char *id = arg_id(q, "room_id");
	struct room *r;

	if (id == NULL)
		return NULL;
	if ((r = room_get(q->b, id)) == NULL)
		reply_error(q, ERR_NO_SUCH_ROOM, "no room %s", id);
	return r;
}

/* The front-end named by "frontend"; any request from it counts as a sign of life. */
static struct frontend *
arg_frontend(struct req *q)
{
	const char *id = arg_id(q, "frontend");
	struct frontend *fe;

	if (id == NULL)
		return NULL;
	if ((fe = fe_get(q->b, id)) == NULL) {
		reply_error(q, ERR_UNKNOWN_FRONTEND, "front-end %s is not registered: send hello",
			    id);
		return NULL;
	}
	fe->last_seen_ms = q->b->now_mono;
	return fe;
}

/* The member that (frontend, session) holds in room_id. */
static struct member *
arg_member(struct req *q, struct room **room_out)
{
	struct frontend *fe = arg_frontend(q);
	const char *sid;
	struct session *s;
	struct room *r;
	struct member *m;

	if (fe == NULL || (sid = arg_token(q, "session", true)) == NULL || (r = arg_room(q)) == NULL)
		return NULL;
	if ((s = sess_get(fe, sid)) == NULL || (m = sess_member_of(s, r)) == NULL) {
		reply_error(q, ERR_NOT_MEMBER, "session is not in room %s", r->id);
		return NULL;
	}
	if (room_out)
		*room_out = r;
	return m;
}

static bool
arg_nick(struct req *q, const char *key, char *canon, char *folded)
{
	size_t len;
	const char *s = wire_str(q->rq, key, &len);
	const char *why;

	if (s == NULL) {
		reply_error(q, ERR_INVALID_ARGUMENT, "%s must be a string", key);
		return false;
	}
	if (!nick_canonical(s, len, canon, MADANG_NICK_MAX_BYTES + 1, &why)) {
		reply_error(q, ERR_INVALID_ARGUMENT, "%s", why);
		return false;
	}
	nick_fold(canon, folded, MADANG_NICK_MAX_BYTES + 1);
	return true;
}

/* The chat text of send and private: 1..4096 bytes of UTF-8, not only white space. */
static const char *
arg_text(struct req *q, size_t *len)
{
	const char *text = wire_str(q->rq, "text", len), *why;

	if (text == NULL) {
		reply_error(q, ERR_INVALID_ARGUMENT, "text must be a string");
		return NULL;
	}
	if (!valid_text(text, *len, &why)) {
		reply_error(q, ERR_INVALID_ARGUMENT, "%s", why);
		return NULL;
	}
	return text;
}

static void
add_room_summary(struct sbuf *o, const struct room *r)
{
	sbuf_addc(o, '{');
	add_key_str(o, "id", r->id);
	sbuf_addc(o, ',');
	add_key_str(o, "name", r->name);
	sbuf_addc(o, ',');
	add_key_int(o, "users_count", (int64_t)r->nmembers);
}

static void
add_users(struct sbuf *o, const struct room *r)
{
	sbuf_adds(o, "\"users\":[");
	for (size_t i = 0; i < r->nmembers; i++) {
		if (i)
			sbuf_addc(o, ',');
		sbuf_add_jstr(o, r->members_v[i]->user, strlen(r->members_v[i]->user));
	}
	sbuf_addc(o, ']');
}

/* Appends the array of the ring's events whose seq is in (lo, hi), at most limit of the newest
 * of them (the oldest when !newest), oldest first, leaving out those with seq >= below (the
 * front-end already holds them), and fewer when the events' JSON (with the commas between)
 * would pass max_bytes: then the oldest (the newest when !newest) are left out and *truncated
 * is set. Returns the seq of the window's first event, or hi when the window is empty. */
static uint64_t
add_history(struct sbuf *o, struct room *r, uint64_t lo, uint64_t hi, size_t limit, bool newest,
	    uint64_t below, size_t max_bytes, bool *truncated)
{
	size_t first = r->ring_len, last = 0, n = 0;
	uint64_t first_seq = hi;

	*truncated = false;
	for (size_t i = 0; i < r->ring_len; i++) {
		uint64_t seq = room_hist_at(r, i)->seq;
		if (seq > lo && seq < hi) {
			if (first == r->ring_len)
				first = i;
			last = i + 1;
		}
	}
	if (first < last) {
		n = last - first;
		if (n > limit) {
			if (newest)
				first = last - limit;
			else
				last = first + limit;
		}
		size_t wend = last; /* the window, before what the front-end holds is left out */
		while (last > first && room_hist_at(r, last - 1)->seq >= below)
			last--;
		size_t bytes = 0;
		for (size_t i = first; i < last; i++)
			bytes += room_hist_at(r, i)->len + (i > first);
		while (bytes > max_bytes && first < last) {
			size_t drop = newest ? first++ : --last;
			bytes -= room_hist_at(r, drop)->len + (first < last);
			*truncated = true;
		}
		if (first < wend)
			first_seq = room_hist_at(r, first)->seq;
	}
	sbuf_adds(o, "[");
	for (size_t i = first; i < last; i++) {
		struct hist_ev *e = room_hist_at(r, i);
		if (i != first)
			sbuf_addc(o, ',');
		sbuf_add(o, e->json, e->len);
	}
	sbuf_addc(o, ']');
	return first_seq;
}

/* hello {frontend, instance, bundles?} */
static void
op_hello(struct req *q)
{
	struct broker *b = q->b;
	const char *id = arg_id(q, "frontend");
	const char *inst = id ? arg_token(q, "instance", true) : NULL;
	struct frontend *fe;
	bool bundles = false;

	if (inst == NULL)
		return;
	if (cJSON_GetObjectItemCaseSensitive(q->rq, "bundles") != NULL &&
	    !wire_bool(q->rq, "bundles", &bundles)) {
		reply_error(q, ERR_INVALID_ARGUMENT, "bundles must be true or false");
		return;
	}
	if ((fe = fe_register(b, id, inst)) == NULL) {
		reply_error(q, ERR_INTERNAL, "out of memory");
		return;
	}
	fe_set_bundles(b, fe, bundles && b->cfg.bundles);
	uint64_t hb = b->cfg.frontend_timeout_ms / 3;
	sbuf_adds(q->out, "{\"ok\":true,");
	add_key_str(q->out, "frontend", fe->id);
	sbuf_addc(q->out, ',');
	add_key_str(q->out, "epoch", b->epoch);
	sbuf_addc(q->out, ',');
	add_key_int(q->out, "heartbeat_ms", (int64_t)(hb < 50 ? 50 : hb));
	sbuf_addc(q->out, ',');
	add_key_int(q->out, "timeout_ms", (int64_t)b->cfg.frontend_timeout_ms);
	sbuf_adds(q->out, fe->bundles ? ",\"bundles\":true}" : ",\"bundles\":false}");
}

/* heartbeat {frontend, instance} */
static void
op_heartbeat(struct req *q)
{
	const char *id = arg_id(q, "frontend");
	const char *inst = id ? arg_token(q, "instance", true) : NULL;
	struct frontend *fe;

	if (inst == NULL)
		return;
	fe = fe_get(q->b, id);
	if (fe == NULL || strcmp(fe->instance, inst) != 0) {
		reply_error(q, ERR_UNKNOWN_FRONTEND,
			    "front-end %s instance %s is not registered: send hello and sync", id,
			    inst);
		return;
	}
	fe->last_seen_ms = q->b->now_mono;
	/* Optional counters of the front-end ({"connections":12,…}), summed into stats. */
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(q->rq, "stats"), *it;
	if (cJSON_IsObject(st)) {
		fe->nstats = 0;
		cJSON_ArrayForEach(it, st)
		{
			size_t n = strlen(it->string);
			int64_t v;
			if (fe->nstats == FE_STATS_MAX || n == 0 || n > 32 ||
			    strspn(it->string, "abcdefghijklmnopqrstuvwxyz_") != n ||
			    !wire_int(st, it->string, &v))
				continue;
			memcpy(fe->stats[fe->nstats].name, it->string, n + 1);
			fe->stats[fe->nstats++].value = v;
		}
	}
	sbuf_adds(q->out, "{\"ok\":true,");
	add_key_str(q->out, "epoch", q->b->epoch);
	sbuf_addc(q->out, '}');
}

/* A join of an unknown room id: with --allow-create, an ephemeral room named like its id (never
 * stored, removed when its last member leaves), within the bounds per address and per user. */
static struct room *
room_autocreate(struct req *q, const char *id, const char *addr, const char *user_key)
{
	struct broker *b = q->b;
	struct room *r;
	const char *why;

	if (!b->cfg.allow_create) {
		reply_error(q, ERR_NO_SUCH_ROOM, "no room %s", id);
		return NULL;
	}
	if (b->nrooms >= b->cfg.max_rooms) {
		reply_error(q, ERR_TOO_MANY_ROOMS, "the broker already has %zu rooms", b->nrooms);
		return NULL;
	}
	if ((r = room_by_name(b, id)) != NULL) {
		reply_error(q, ERR_NAME_TAKEN, "room %s already has this name", r->id);
		return NULL;
	}
	if ((why = eph_refusal(b, addr, user_key)) != NULL) {
		reply_error(q, ERR_CREATE_LIMIT, "%s", why);
		return NULL;
	}
	if ((r = room_create_ephemeral(b, id, addr, user_key)) == NULL) {
		reply_error(q, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	return r;
}

/* Sends the holder of a nickname's front-end a kick for its session. */
static void
publish_kick(struct broker *b, struct member *m, const char *reason)
{
	char topic[WIRE_TOPIC_MAX + 1];
	size_t tlen = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, m->sess->fe->id);
	struct sbuf *e = &b->ev;

	sbuf_reset(e);
	sbuf_adds(e, "{\"type\":\"kick\",");
	add_key_str(e, "session", m->sess->id);
	sbuf_addc(e, ',');
	add_key_str(e, "room_id", m->room->id);
	sbuf_addc(e, ',');
	add_key_str(e, "user", m->user);
	sbuf_addc(e, ',');
	add_key_str(e, "reason", reason);
	sbuf_addc(e, '}');
	room_publish(b, topic, tlen, e->data, e->len);
}

/* Asks the front-end of m, whose nickname a newcomer wants, to probe m's connection: the event
 * {"type":"probe","session","room_id","user"} on f/<frontend>, at most once per
 * BROKER_PROBE_MS. A connection that does not answer is closed there, and its leave frees the
 * name. Returns the ms after which a new join may find the name free. */
static uint64_t
probe_holder(struct broker *b, struct member *m)
{
	char topic[WIRE_TOPIC_MAX + 1];
	struct sbuf *e = &b->ev;

	if (m->probed_ms == 0 || b->now_mono - m->probed_ms >= BROKER_PROBE_MS) {
		const char *fe = m->sess->fe->id;
		size_t tlen = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, fe);
		sbuf_reset(e);
		sbuf_adds(e, "{\"type\":\"probe\",");
		add_key_str(e, "session", m->sess->id);
		sbuf_addc(e, ',');
		add_key_str(e, "room_id", m->room->id);
		sbuf_addc(e, ',');
		add_key_str(e, "user", m->user);
		sbuf_addc(e, '}');
		room_publish(b, topic, tlen, e->data, e->len);
		m->probed_ms = b->now_mono ? b->now_mono : 1;
		b->ctr.probes++;
	}
	uint64_t until = m->probed_ms + BROKER_PROBE_MS;
	return until > b->now_mono ? until - b->now_mono : 1;
}

/* join {frontend, session, room_id, user, [since, epoch], [history], [history_below], [resume],
 *       [addr]} */
static void
op_join(struct req *q)
{
	struct broker *b = q->b;
	char user[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1];
	struct frontend *fe = arg_frontend(q);
	const char *sid, *rid, *resume = NULL, *epoch = NULL, *addr = CLIENT_ADDR_UNKNOWN;
	int64_t since = 0, hist = b->cfg.join_history, below = 0;
	bool has_since, has_hist, has_below, resumed = false, recovered = false;
	struct session *s;
	struct room *r;
	struct member *m, *held;
	uint64_t first_live;

	if (fe == NULL || (sid = arg_token(q, "session", true)) == NULL ||
	    (rid = arg_id(q, "room_id")) == NULL || !arg_nick(q, "user", user, key))
		return;
	if (!arg_int_opt(q, "since", 0, INT64_C(1) << 53, &since, &has_since) ||
	    !arg_int_opt(q, "history", 0, MADANG_HISTORY_PAGE_MAX, &hist, &has_hist) ||
	    !arg_int_opt(q, "history_below", 0, INT64_C(1) << 53, &below, &has_below))
		return;
	if (has_since && has_below) {
		reply_error(q, ERR_INVALID_ARGUMENT, "history_below cannot be combined with since");
		return;
	}
	if (wire_has(q->rq, "resume") && (resume = arg_token(q, "resume", false)) == NULL)
		return;
	if (wire_has(q->rq, "addr") && (addr = arg_token(q, "addr", false)) == NULL)
		return;
	if (has_since) {
		size_t elen;
		epoch = wire_str(q->rq, "epoch", &elen);
		if (epoch == NULL) {
			reply_error(q, ERR_INVALID_ARGUMENT, "since needs an epoch string");
			return;
		}
	}
	if ((r = room_get(b, rid)) == NULL && (r = room_autocreate(q, rid, addr, key)) == NULL)
		return;

	s = sess_get(fe, sid);
	if (s != NULL && (m = sess_member_of(s, r)) != NULL) {
		first_live = r->seq + 1; /* already a member: nothing changes */
	} else if ((held = hmap_get(&r->members, key)) != NULL) {
		if (resume == NULL || strcmp(held->sess->id, resume) != 0) {
			uint64_t wait = probe_holder(b, held);
			reply_error(q, ERR_NICKNAME_TAKEN,
				    "%s is already in room %s (if that connection is gone, the "
				    "name is free again within %llu s)",
				    held->user, r->id, (unsigned long long)(wait + 999) / 1000);
			q->out->len--; /* reopen the object: when to try again */
			sbuf_adds(q->out, ",");
			add_key_int(q->out, "retry_after_ms", (int64_t)wait);
			sbuf_addc(q->out, '}');
			return;
		}
		/* Takeover by a reconnecting client: move the membership, no events. */
		publish_kick(b, held, "replaced");
		sess_leave(b, held, NULL);
		if ((s = sess_get_or_create(b, fe, sid)) == NULL)
			goto oom;
		if (room_member_add(b, r, s, user, key, &m) != 0) {
			sess_release_if_empty(b, s);
			goto oom;
		}
		log_debug("broker: %s in %s taken over by a reconnecting client", user, r->id);
		resumed = true;
		first_live = r->seq + 1;
	} else {
		if (r->nmembers >= b->cfg.max_members) {
			reply_error(q, ERR_ROOM_FULL, "room %s is full (%u members)", r->id,
				    b->cfg.max_members);
			return;
		}
		if ((s = sess_get_or_create(b, fe, sid)) == NULL)
			goto oom;
		if (room_member_add(b, r, s, user, key, &m) != 0) {
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
	struct sbuf *o = q->out;
	sbuf_adds(o, "{\"ok\":true,");
	add_key_str(o, "room_id", r->id);
	sbuf_addc(o, ',');
	add_key_str(o, "name", r->name);
	sbuf_addc(o, ',');
	add_key_str(o, "user", m->user);
	sbuf_addc(o, ',');
	add_users(o, r);
	sbuf_addc(o, ',');
	add_key_int(o, "users_count", (int64_t)r->nmembers);
	sbuf_addc(o, ',');
	add_key_int(o, "seq", (int64_t)first_live);
	sbuf_addc(o, ',');
	add_key_str(o, "epoch", b->epoch);
	sbuf_adds(o, recovered ? ",\"recovered\":true" : ",\"recovered\":false");
	sbuf_adds(o, resumed ? ",\"resumed\":true" : ",\"resumed\":false");
	sbuf_adds(o, ",\"history\":");
	if (from_store) {
		sbuf_add(o, stored.data, stored.len);
	} else {
		/* A resume gets every missed event; a fresh join at most --history's newest that
		 * fit the byte budget of a history reply (the client pages with history). */
		bool cut;
		uint64_t first = add_history(o, r, lo, first_live, limit, true,
					     has_below ? (uint64_t)below : UINT64_MAX,
					     recovered ? SIZE_MAX : b->cfg.history_bytes, &cut);
		if (has_below) {
			sbuf_addc(o, ',');
			add_key_int(o, "history_first", (int64_t)first);
		}
	}
	sbuf_addc(o, '}');
	sbuf_fini(&stored);
	return;
oom:
	reply_error(q, ERR_INTERNAL, "out of memory");
}

/* leave {frontend, session, room_id, [reason]} */
static void
op_leave(struct req *q)
{
	struct room *r;
	struct member *m = arg_member(q, &r);
	const char *reason = wire_str(q->rq, "reason", NULL);

	if (m == NULL)
		return;
	if (reason == NULL || strcmp(reason, "disconnected") != 0)
		reason = "left";
	sess_leave(q->b, m, reason);
	sbuf_adds(q->out, "{\"ok\":true,");
	add_key_int(q->out, "seq", (int64_t)r->seq);
	sbuf_addc(q->out, '}');
}

/* send {frontend, session, room_id, text, [client_id]} */
static void
op_send(struct req *q)
{
	struct broker *b = q->b;
	struct room *r;
	struct member *m = arg_member(q, &r);
	const char *text, *cid = NULL;
	size_t tlen;

	if (m == NULL)
		return;
	if ((text = arg_text(q, &tlen)) == NULL)
		return;
	if (wire_has(q->rq, "client_id")) {
		size_t clen;
		cid = wire_str(q->rq, "client_id", &clen);
		if (cid == NULL || !valid_token(cid, clen, MADANG_CLIENT_ID_MAX)) {
			reply_error(q, ERR_INVALID_ARGUMENT,
				    "client_id must be 1-64 printable ASCII characters");
			return;
		}
		struct hist_ev *dup = room_find_dup(r, m->key, cid);
		if (dup != NULL) {
			b->ctr.duplicates++;
			sbuf_adds(q->out, "{\"ok\":true,");
			add_key_int(q->out, "seq", (int64_t)dup->seq);
			sbuf_adds(q->out, ",\"duplicate\":true}");
			return;
		}
	}
	struct sbuf *e = &b->ev;
	room_event_begin(b, r, "message");
	sbuf_adds(e, ",\"sender\":");
	sbuf_add_jstr(e, m->user, strlen(m->user));
	sbuf_adds(e, ",\"message\":");
	sbuf_add_jstr(e, text, tlen);
	if (cid) {
		sbuf_adds(e, ",\"client_id\":");
		sbuf_add_jstr(e, cid, strlen(cid));
	}
	sbuf_addc(e, '}');
	room_emit(b, r, m->key, cid);
	b->ctr.messages++;
	sbuf_adds(q->out, "{\"ok\":true,");
	add_key_int(q->out, "seq", (int64_t)r->seq);
	sbuf_adds(q->out, ",\"duplicate\":false}");
}

/* typing {frontend, session, room_id, active} */
static void
op_typing(struct req *q)
{
	struct broker *b = q->b;
	struct room *r;
	struct member *m = arg_member(q, &r);
	bool active;
	char topic[WIRE_TOPIC_MAX + 1];

	if (m == NULL)
		return;
	if (!wire_bool(q->rq, "active", &active)) {
		reply_error(q, ERR_INVALID_ARGUMENT, "active must be true or false");
		return;
	}
	struct sbuf *e = &b->ev;
	sbuf_reset(e);
	sbuf_adds(e, "{\"type\":\"typing\",");
	add_key_str(e, "room_id", r->id);
	sbuf_addc(e, ',');
	add_key_str(e, "user", m->user);
	sbuf_adds(e, active ? ",\"active\":true," : ",\"active\":false,");
	add_key_str(e, "time", b->now_iso);
	sbuf_addc(e, '}');
	size_t tl = wire_topic(topic, sizeof(topic), WIRE_TOPIC_ROOM, r->id);
	room_publish(b, topic, tl, e->data, e->len);
	b->ctr.typing++;
	sbuf_adds(q->out, "{\"ok\":true}");
}

/* private {frontend, session, room_id, to, text} */
static void
op_private(struct req *q)
{
	struct broker *b = q->b;
	char to[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1];
	struct room *r;
	struct member *m = arg_member(q, &r), *t;
	const char *text;
	size_t tlen;
	char topic[WIRE_TOPIC_MAX + 1];

	if (m == NULL || !arg_nick(q, "to", to, key))
		return;
	if ((text = arg_text(q, &tlen)) == NULL)
		return;
	if ((t = hmap_get(&r->members, key)) == NULL) {
		reply_error(q, ERR_NO_SUCH_USER, "%s is not in room %s", to, r->id);
		return;
	}
	struct sbuf *e = &b->ev;
	sbuf_reset(e);
	sbuf_adds(e, "{\"type\":\"private\",");
	add_key_str(e, "session", t->sess->id);
	sbuf_addc(e, ',');
	add_key_str(e, "room_id", r->id);
	sbuf_addc(e, ',');
	add_key_str(e, "from", m->user);
	sbuf_addc(e, ',');
	add_key_str(e, "to", t->user);
	sbuf_adds(e, ",\"message\":");
	sbuf_add_jstr(e, text, tlen);
	sbuf_addc(e, ',');
	add_key_str(e, "time", b->now_iso);
	sbuf_addc(e, '}');
	size_t tl = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, t->sess->fe->id);
	room_publish(b, topic, tl, e->data, e->len);
	b->ctr.privates++;
	sbuf_adds(q->out, "{\"ok\":true,");
	add_key_str(q->out, "from", m->user);
	sbuf_addc(q->out, ',');
	add_key_str(q->out, "to", t->user);
	sbuf_addc(q->out, ',');
	add_key_str(q->out, "time", b->now_iso);
	sbuf_addc(q->out, '}');
}

/* sync {frontend, instance, members:[{session, room_id, user}]} */
static void
op_sync(struct req *q)
{
	struct broker *b = q->b;
	const char *id = arg_id(q, "frontend");
	const char *inst = id ? arg_token(q, "instance", true) : NULL;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(q->rq, "members");
	struct frontend *fe;
	size_t it = 0;
	void *v;

	if (inst == NULL)
		return;
	if ((fe = fe_get(b, id)) == NULL || strcmp(fe->instance, inst) != 0) {
		reply_error(q, ERR_UNKNOWN_FRONTEND, "front-end %s is not registered: send hello",
			    id);
		return;
	}
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > MADANG_SYNC_MAX) {
		reply_error(q, ERR_INVALID_ARGUMENT, "members must be an array of at most %d",
			    MADANG_SYNC_MAX);
		return;
	}
	fe->last_seen_ms = b->now_mono;
	while (hmap_next(&fe->sessions, &it, NULL, &v)) {
		struct session *s = v;
		for (size_t i = 0; i < s->nrooms; i++)
			s->rooms[i]->marked = false;
	}
	struct sbuf *o = q->out;
	sbuf_adds(o, "{\"ok\":true,");
	add_key_str(o, "epoch", b->epoch);
	sbuf_adds(o, ",\"results\":[");
	const cJSON *item;
	bool first = true;
	cJSON_ArrayForEach(item, list)
	{
		char user[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1];
		const char *err = NULL, *sid = NULL, *rid = NULL;
		struct session *s;
		struct room *r = NULL;
		struct member *m = NULL, *held;

		if (!first)
			sbuf_addc(o, ',');
		first = false;
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
		}
		if (!err) {
			s = sess_get(fe, sid);
			if (s != NULL && (m = sess_member_of(s, r)) != NULL) {
				m->marked = true;
			} else if ((held = hmap_get(&r->members, key)) != NULL) {
				err = ERR_NICKNAME_TAKEN;
			} else if (r->nmembers >= b->cfg.max_members) {
				err = ERR_ROOM_FULL;
			} else if ((s = sess_get_or_create(b, fe, sid)) == NULL ||
				   room_member_add(b, r, s, user, key, &m) != 0) {
				err = ERR_INTERNAL;
			} else {
				m->marked = true;
				room_emit_join(b, m, true);
			}
		}
		sbuf_addc(o, '{');
		if (sid && valid_token(sid, strlen(sid), MADANG_SESSION_MAX)) {
			add_key_str(o, "session", sid);
			sbuf_addc(o, ',');
		}
		if (rid && valid_room_id(rid, strlen(rid))) {
			add_key_str(o, "room_id", rid);
			sbuf_addc(o, ',');
		}
		if (err) {
			sbuf_adds(o, "\"ok\":false,");
			add_key_str(o, "error", err);
		} else {
			sbuf_adds(o, "\"ok\":true,");
			add_key_int(o, "seq", (int64_t)r->seq);
			sbuf_addc(o, ',');
			add_key_int(o, "users_count", (int64_t)r->nmembers);
		}
		sbuf_addc(o, '}');
	}
	sbuf_adds(o, "]}");
	/* Whatever the front-end no longer declares leaves. */
	size_t dropped = 0;
	it = 0;
	while (hmap_next(&fe->sessions, &it, NULL, &v)) {
		struct session *s = v;
		for (size_t i = s->nrooms; i-- > 0;) {
			if (s->rooms[i]->marked)
				continue;
			bool last = s->nrooms == 1; /* sess_leave frees the session with it */
			dropped++;
			sess_leave(b, s->rooms[i], "resync");
			if (last)
				break;
		}
	}
	log_info("broker: front-end %s synced %d members (%zu dropped)", fe->id,
		 cJSON_GetArraySize(list), dropped);
}

/* list_rooms {} */
static void
op_list_rooms(struct req *q)
{
	struct broker *b = q->b;

	sbuf_adds(q->out, "{\"ok\":true,\"rooms\":[");
	for (size_t i = 0; i < b->nrooms; i++) {
		if (i)
			sbuf_addc(q->out, ',');
		add_room_summary(q->out, b->rooms_v[i]);
		sbuf_addc(q->out, '}');
	}
	sbuf_adds(q->out, "]}");
}

/* get_room {room_id} */
static void
op_get_room(struct req *q)
{
	struct room *r = arg_room(q);

	if (r == NULL)
		return;
	sbuf_adds(q->out, "{\"ok\":true,\"room\":");
	add_room_summary(q->out, r);
	sbuf_addc(q->out, ',');
	sbuf_adds(q->out, "\"members\":[");
	for (size_t i = 0; i < r->nmembers; i++) {
		if (i)
			sbuf_addc(q->out, ',');
		sbuf_add_jstr(q->out, r->members_v[i]->user, strlen(r->members_v[i]->user));
	}
	sbuf_adds(q->out, "],");
	add_key_int(q->out, "seq", (int64_t)r->seq);
	sbuf_adds(q->out, "}}");
}

/* create_room {room_id, [name]} */
static void
op_create_room(struct req *q)
{
	struct broker *b = q->b;
	const char *id, *name, *why;
	char canon[MADANG_ROOM_NAME_MAX_BYTES + 1];
	size_t nlen;
	struct room *r;

	if (!b->cfg.allow_create) {
		reply_error(q, ERR_FORBIDDEN, "room creation is disabled on this broker");
		return;
	}
	if ((id = arg_id(q, "room_id")) == NULL)
		return;
	name = wire_str(q->rq, "name", &nlen);
	if (name == NULL && wire_has(q->rq, "name")) {
		reply_error(q, ERR_INVALID_ARGUMENT, "name must be a string");
		return;
	}
	if (name == NULL) {
		name = id;
		nlen = strlen(id);
	}
	if (!room_name_canonical(name, nlen, canon, sizeof(canon), &why)) {
		reply_error(q, ERR_INVALID_ARGUMENT, "%s", why);
		return;
	}
	if (room_get(b, id) != NULL) {
		reply_error(q, ERR_ROOM_EXISTS, "room %s already exists", id);
		return;
	}
	if ((r = room_by_name(b, canon)) != NULL) {
		reply_error(q, ERR_NAME_TAKEN, "room %s already has this name", r->id);
		return;
	}
	if (b->nrooms >= b->cfg.max_rooms) {
		reply_error(q, ERR_TOO_MANY_ROOMS, "the broker already has %zu rooms", b->nrooms);
		return;
	}
	if ((r = room_create_new(b, id, canon)) == NULL) {
		reply_error(q, ERR_INTERNAL, "out of memory");
		return;
	}
	b->ctr.rooms_created++;
	log_info("broker: room %s created", r->id);
	struct sbuf *e = &b->ev;
	sbuf_reset(e);
	sbuf_adds(e, "{\"type\":\"room_created\",");
	add_key_str(e, "room_id", r->id);
	sbuf_addc(e, ',');
	add_key_str(e, "name", r->name);
	sbuf_addc(e, '}');
	room_publish(b, WIRE_TOPIC_ALL, strlen(WIRE_TOPIC_ALL), e->data, e->len);
	sbuf_adds(q->out, "{\"ok\":true,\"room\":");
	add_room_summary(q->out, r);
	sbuf_adds(q->out, "}}");
}

/* delete_room {room_id} */
static void
op_delete_room(struct req *q)
{
	struct broker *b = q->b;
	struct room *r = arg_room(q);

	if (r == NULL)
		return;
	while (r->nmembers > 0)
		sess_leave(b, r->members_v[r->nmembers - 1], NULL);
	room_event_begin(b, r, "room_deleted");
	sbuf_addc(&b->ev, '}');
	room_emit(b, r, NULL, NULL);
	room_publish(b, WIRE_TOPIC_ALL, strlen(WIRE_TOPIC_ALL), b->ev.data, b->ev.len);
	if (b->store.room_deleted && !r->ephemeral)
		b->store.room_deleted(b->store.arg, r->id, r->seq);
	log_info("broker: room %s deleted", r->id);
	room_destroy(b, r);
	b->ctr.rooms_deleted++;
	sbuf_adds(q->out, "{\"ok\":true}");
}

/* history {room_id, [after_seq | before_seq], [limit], [max_bytes]} */
static void
op_history(struct req *q)
{
	struct room *r = arg_room(q);
	int64_t after = 0, before = 0, limit = 50, max_bytes = (int64_t)q->b->cfg.history_bytes;
	bool has_after, has_before, has_limit, has_max, complete, truncated = false;
	uint64_t lo, hi, first;

	if (r == NULL ||
	    !arg_int_opt(q, "after_seq", 0, INT64_C(1) << 53, &after, &has_after) ||
	    !arg_int_opt(q, "before_seq", 0, INT64_C(1) << 53, &before, &has_before) ||
	    !arg_int_opt(q, "limit", 1, MADANG_HISTORY_PAGE_MAX, &limit, &has_limit) ||
	    !arg_int_opt(q, "max_bytes", BROKER_HISTORY_BYTES_MIN, BROKER_HISTORY_BYTES_MAX,
			 &max_bytes, &has_max))
		return;
	if (has_after && has_before) {
		reply_error(q, ERR_INVALID_ARGUMENT, "give after_seq or before_seq, not both");
		return;
	}
	first = room_first_seq(r);
	/* Nothing is missing below an ephemeral room's base_seq: it never had those events. */
	if (has_after) {
		lo = (uint64_t)after;
		hi = UINT64_MAX;
		complete = (lo > r->base_seq ? lo : r->base_seq) + 1 >= first || lo >= r->seq;
	} else {
		hi = has_before ? (uint64_t)before : r->seq + 1;
		lo = 0;
		uint64_t want = hi > (uint64_t)limit + 1 ? hi - (uint64_t)limit : 1;
		complete = first <= want || first <= r->base_seq + 1;
	}
	sbuf_adds(q->out, "{\"ok\":true,");
	add_key_str(q->out, "room_id", r->id);
	sbuf_addc(q->out, ',');
	add_key_str(q->out, "epoch", q->b->epoch);
	sbuf_addc(q->out, ',');
	add_key_int(q->out, "first_seq", (int64_t)first);
	sbuf_addc(q->out, ',');
	add_key_int(q->out, "last_seq", (int64_t)r->seq);
	if (q->b->store.history != NULL && !r->ephemeral) {
		/* Durable history: the database holds every event the ring does, and older ones. */
		struct sbuf ev;
		size_t n = 0;
		uint64_t oldest = 0;
		sbuf_init(&ev);
		if (q->b->store.history(q->b->store.arg, r->id, lo, hi, (size_t)limit, !has_after,
					(size_t)max_bytes, &ev, &n, &oldest, &truncated) != 0) {
			sbuf_fini(&ev);
			reply_error(q, ERR_INTERNAL, "history storage failed");
			return;
		}
		first = oldest ? oldest : r->seq + 1;
		if (has_after) {
			complete = lo + 1 >= first || lo >= r->seq;
		} else {
			uint64_t want = hi > (uint64_t)limit + 1 ? hi - (uint64_t)limit : 1;
			complete = first <= want;
		}
		complete = complete && !truncated;
		sbuf_reset(q->out);
		sbuf_adds(q->out, "{\"ok\":true,");
		add_key_str(q->out, "room_id", r->id);
		sbuf_addc(q->out, ',');
		add_key_str(q->out, "epoch", q->b->epoch);
		sbuf_addc(q->out, ',');
		add_key_int(q->out, "first_seq", (int64_t)first);
		sbuf_addc(q->out, ',');
		add_key_int(q->out, "last_seq", (int64_t)r->seq);
		sbuf_adds(q->out, complete ? ",\"complete\":true" : ",\"complete\":false");
		sbuf_adds(q->out, truncated ? ",\"truncated\":true" : ",\"truncated\":false");
		sbuf_adds(q->out, ",\"events\":");
		sbuf_add(q->out, ev.data, ev.len);
		sbuf_addc(q->out, '}');
		sbuf_fini(&ev);
		return;
	}
	/* complete and truncated are known once the events are chosen: build them aside. */
	struct sbuf ev;
	sbuf_init(&ev);
	add_history(&ev, r, lo, hi, (size_t)limit, !has_after, UINT64_MAX, (size_t)max_bytes,
		    &truncated);
	complete = complete && !truncated;
	sbuf_adds(q->out, complete ? ",\"complete\":true" : ",\"complete\":false");
	sbuf_adds(q->out, truncated ? ",\"truncated\":true" : ",\"truncated\":false");
	sbuf_adds(q->out, ",\"events\":");
	sbuf_add(q->out, ev.data, ev.len);
	sbuf_addc(q->out, '}');
	if (ev.oom)
		q->out->oom = true;
	sbuf_fini(&ev);
}

static void
add_overview(struct req *q)
{
	struct broker *b = q->b;

	add_key_str(q->out, "epoch", b->epoch);
	sbuf_addc(q->out, ',');
	add_key_int(q->out, "uptime_ms", (int64_t)(b->now_mono - b->start_ms));
	sbuf_addc(q->out, ',');
	add_key_int(q->out, "rooms", (int64_t)b->nrooms);
	sbuf_addc(q->out, ',');
	add_key_int(q->out, "members", (int64_t)b->members_total);
	sbuf_addc(q->out, ',');
	add_key_int(q->out, "frontends", (int64_t)b->frontends.count);
}

/* health {} */
static void
op_health(struct req *q)
{
	sbuf_adds(q->out, "{\"ok\":true,\"status\":\"ok\",");
	add_overview(q);
	sbuf_addc(q->out, '}');
}

/* stats {} */
static void
op_stats(struct req *q)
{
	const struct broker_counters *c = &q->b->ctr;

	sbuf_adds(q->out, "{\"ok\":true,");
	add_overview(q);
	sbuf_addc(q->out, ',');
	add_key_int(q->out, "sessions", (int64_t)q->b->sessions_total);
	sbuf_addf(q->out,
		  ",\"counters\":{\"requests\":%llu,\"request_errors\":%llu,\"messages\":%llu,"
		  "\"duplicates\":%llu,\"joins\":%llu,\"leaves\":%llu,\"privates\":%llu,"
		  "\"typing\":%llu,\"events_published\":%llu,\"frontends_registered\":%llu,"
		  "\"frontends_expired\":%llu,\"rooms_created\":%llu,\"rooms_deleted\":%llu,"
		  "\"stalls\":%llu,\"probes\":%llu}}",
		  (unsigned long long)c->requests, (unsigned long long)c->request_errors,
		  (unsigned long long)c->messages, (unsigned long long)c->duplicates,
		  (unsigned long long)c->joins, (unsigned long long)c->leaves,
		  (unsigned long long)c->privates, (unsigned long long)c->typing,
		  (unsigned long long)c->events_published,
		  (unsigned long long)c->frontends_registered,
		  (unsigned long long)c->frontends_expired, (unsigned long long)c->rooms_created,
		  (unsigned long long)c->rooms_deleted, (unsigned long long)c->stalls,
		  (unsigned long long)c->probes);
	/* The front-ends' own counters (connections, drops…), summed over the live front-ends. */
	struct fe_stat sum[FE_STATS_MAX * 2];
	int nsum = 0;
	size_t it = 0;
	void *v;
	while (hmap_next(&q->b->frontends, &it, NULL, &v)) {
		struct frontend *fe = v;
		for (int i = 0; i < fe->nstats; i++) {
			int j = 0;
			while (j < nsum && strcmp(sum[j].name, fe->stats[i].name) != 0)
				j++;
			if (j == nsum) {
				if (nsum == FE_STATS_MAX * 2)
					continue;
				sum[nsum] = fe->stats[i];
				nsum++;
			} else {
				sum[j].value += fe->stats[i].value;
			}
		}
	}
	q->out->len--; /* reopen the object */
	sbuf_adds(q->out, ",\"frontend_stats\":{");
	for (int i = 0; i < nsum; i++) {
		if (i)
			sbuf_addc(q->out, ',');
		add_key_int(q->out, sum[i].name, sum[i].value);
	}
	sbuf_adds(q->out, "}}");
}

static const struct {
	const char *name;
	void (*fn)(struct req *);
} ops[] = {
	{"send", op_send},
	{"typing", op_typing},
	{"join", op_join},
	{"leave", op_leave},
	{"heartbeat", op_heartbeat},
	{"private", op_private},
	{"history", op_history},
	{"list_rooms", op_list_rooms},
	{"get_room", op_get_room},
	{"create_room", op_create_room},
	{"delete_room", op_delete_room},
	{"hello", op_hello},
	{"sync", op_sync},
	{"stats", op_stats},
	{"health", op_health},
};

static bool
dispatch(struct req *q, const char *op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(op, ops[i].name) == 0) {
			ops[i].fn(q);
			return true;
		}
	}
	return false;
}

/* batch {requests:[{op…},…]} — applies each request in order, as if sent alone; the replies come
 * back in the same order. Lets a front-end send everything one loop turn produced in one message. */
static void
op_batch(struct req *q)
{
	struct broker *b = q->b;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(q->rq, "requests");
	const cJSON *item;
	struct sbuf one;
	bool first = true;

	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > MADANG_BATCH_MAX) {
		reply_error(q, ERR_INVALID_ARGUMENT, "requests must be an array of at most %d",
			    MADANG_BATCH_MAX);
		return;
	}
	sbuf_init(&one);
	sbuf_adds(q->out, "{\"ok\":true,\"replies\":[");
	cJSON_ArrayForEach(item, list)
	{
		struct req sub = {.b = b, .rq = item, .out = &one};
		const char *op = cJSON_IsObject(item) ? wire_str(item, "op", NULL) : NULL;

		sbuf_reset(&one);
		b->ctr.requests++;
		if (op == NULL)
			reply_error(&sub, ERR_INVALID_REQUEST, "op must be a string");
		else if (strcmp(op, "batch") == 0)
			reply_error(&sub, ERR_INVALID_REQUEST, "batches do not nest");
		else if (!dispatch(&sub, op))
			reply_error(&sub, ERR_UNKNOWN_OP, "unknown op");
		if (!first)
			sbuf_addc(q->out, ',');
		first = false;
		sbuf_add(q->out, one.data, one.len);
	}
	sbuf_adds(q->out, "]}");
	sbuf_fini(&one);
}

void
broker_handle(struct broker *b, const char *text, size_t len, int64_t wall_ms, uint64_t mono_ms,
	      struct sbuf *reply)
{
	struct req q = {.b = b, .out = reply};
	const char *why, *op;
	cJSON *rq;

	fe_clock_advance(b, wall_ms, mono_ms);
	b->ctr.requests++;
	sbuf_reset(reply);
	if ((rq = wire_parse_object(text, len, MADANG_RPC_MAX, &why)) == NULL) {
		reply_error(&q, ERR_INVALID_REQUEST, "%s", why);
		return;
	}
	q.rq = rq;
	if ((op = wire_str(rq, "op", NULL)) == NULL) {
		reply_error(&q, ERR_INVALID_REQUEST, "op must be a string");
		goto out;
	}
	if (strcmp(op, "batch") == 0)
		op_batch(&q);
	else if (!dispatch(&q, op))
		reply_error(&q, ERR_UNKNOWN_OP, "unknown op");
out:
	room_reap(b);
	if (reply->oom) {
		sbuf_reset(reply);
		sbuf_adds(reply, "{\"ok\":false,\"error\":\"internal\",\"message\":\"out of memory\"}");
	}
	cJSON_Delete(rq);
}
