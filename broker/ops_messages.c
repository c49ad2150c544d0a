/* ops_messages.c — send, typing and private: what members say in a room. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

/* send's reply: {"ok":true,"seq":N,"duplicate":dup}. */
static void
ops_reply_sent(struct req *q, uint64_t seq, bool dup)
{
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_int(&w, "seq", (int64_t)seq);
	jw_bool(&w, "duplicate", dup);
	jw_end(&w);
}

/* Refuses (muted, with until) what a muted member says; true after the error reply. Admins
 * and the owner are never held. */
static bool
refuse_muted(struct req *q, struct member *m)
{
	struct room *r = m->room;
	struct restriction *x;
	char iso[CLOCK_ISO8601_LEN];

	if (r->mod == NULL || r->mod->mutes.by_key.count == 0 ||
	    (x = restr_match(q->b, &r->mod->mutes, mod_member_role(m), member_subject(m),
	                     member_key(m), NULL)) == NULL)
		return false;
	clock_iso8601(x->until_ms, iso);
	struct jsonw w;
	ops_reply_error_begin(q, &w, ERR_MUTED, "muted in room %s until %s", r->id, iso);
	jw_str(&w, "until", iso);
	jw_end(&w);
	return true;
}

/* Refuses (slow_mode, with retry_after_ms) a message sooner than the room's slow mode allows
 * after the sender's last one; moderators and above are not held. True after the error. */
static bool
refuse_slow(struct req *q, struct member *m)
{
	struct room *r = m->room;
	uint64_t wait;

	if (r->mod == NULL || r->mod->slow_mode_s == 0 || mod_member_role(m) >= ROLE_MODERATOR ||
	    (wait = mod_slow_wait(q->b, m)) == 0)
		return false;
	struct jsonw w;
	ops_reply_error_begin(q, &w, ERR_SLOW_MODE,
	                      "slow mode in room %s: one message per %u s; wait %llu ms", r->id,
	                      r->mod->slow_mode_s, (unsigned long long)wait);
	jw_int(&w, "retry_after_ms", (int64_t)wait);
	jw_end(&w);
	return true;
}

/* send {frontend, session, room_id, text, [client_id]} */
void
op_send(struct req *q)
{
	struct broker *b = q->b;
	struct room *r;
	struct member *m = ops_arg_member(q, &r);
	const char *text, *cid = NULL;
	size_t tlen;

	if (m == NULL)
		return;
	if ((text = ops_arg_text(q, &tlen)) == NULL)
		return;
	if (wire_has(q->rq, "client_id")) {
		size_t clen;
		cid = wire_str(q->rq, "client_id", &clen);
		if (cid == NULL || !valid_token(cid, clen, MADANG_CLIENT_ID_MAX)) {
			ops_reply_error(q, ERR_INVALID_ARGUMENT,
			                "client_id must be 1-64 printable ASCII characters");
			return;
		}
		struct hist_ev *dup = room_find_dup(r, member_key(m), cid);
		if (dup != NULL) {
			b->ctr.duplicates++;
			ops_reply_sent(q, dup->seq, true);
			return;
		}
	}
	if (refuse_muted(q, m) || refuse_slow(q, m))
		return;
	struct jsonw e;
	room_event_begin(b, r, "message", &e);
	jw_str(&e, "sender", member_user(m));
	jw_strn(&e, "message", text, tlen);
	if (cid)
		jw_str(&e, "client_id", cid);
	jw_end(&e);
	room_emit(b, r, m, cid);
	if (r->mod != NULL && r->mod->slow_mode_s != 0 && mod_member_role(m) < ROLE_MODERATOR)
		mod_slow_note(b, m);
	b->ctr.messages++;
	ops_reply_sent(q, r->seq, false);
}

/* typing {frontend, session, room_id, active} */
void
op_typing(struct req *q)
{
	struct broker *b = q->b;
	struct room *r;
	struct member *m = ops_arg_member(q, &r);
	bool active;
	char topic[WIRE_TOPIC_MAX + 1];

	if (m == NULL)
		return;
	if (!wire_bool(q->rq, "active", &active)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "active must be true or false");
		return;
	}
	if (refuse_muted(q, m))
		return;
	struct jsonw e;
	ops_event_begin(b, &e, "typing");
	jw_str(&e, "room_id", r->id);
	jw_str(&e, "user", member_user(m));
	jw_bool(&e, "active", active);
	jw_str(&e, "time", b->now_iso);
	jw_end(&e);
	size_t tl = wire_topic(topic, sizeof(topic), WIRE_TOPIC_ROOM, r->id);
	room_publish(b, topic, tl, b->ev.data, b->ev.len);
	b->ctr.typing++;
	ops_reply_ok(q);
}

/* private {frontend, session, room_id, to, text} */
void
op_private(struct req *q)
{
	struct broker *b = q->b;
	char to[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1];
	struct room *r;
	struct member *m = ops_arg_member(q, &r), *t;
	const char *text;
	size_t tlen;
	char topic[WIRE_TOPIC_MAX + 1];

	if (m == NULL || !ops_arg_nick(q, "to", to, key))
		return;
	if ((text = ops_arg_text(q, &tlen)) == NULL || refuse_muted(q, m))
		return;
	if ((t = room_member_find(r, key)) == NULL) {
		ops_reply_error(q, ERR_NO_SUCH_USER, "%s is not in room %s", to, r->id);
		return;
	}
	struct jsonw e;
	ops_event_begin(b, &e, "private");
	jw_session(&e, t->sess);
	jw_str(&e, "room_id", r->id);
	jw_str(&e, "from", member_user(m));
	jw_str(&e, "to", member_user(t));
	jw_strn(&e, "message", text, tlen);
	jw_str(&e, "time", b->now_iso);
	jw_end(&e);
	size_t tl = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, t->sess->fe->id);
	room_publish(b, topic, tl, b->ev.data, b->ev.len);
	b->ctr.privates++;
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_str(&w, "from", member_user(m));
	jw_str(&w, "to", member_user(t));
	jw_str(&w, "time", b->now_iso);
	jw_end(&w);
}
