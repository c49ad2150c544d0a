/* ops_messages.c — send, typing and private: what members say in a room. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

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
		struct hist_ev *dup = room_find_dup(r, m->key, cid);
		if (dup != NULL) {
			b->ctr.duplicates++;
			sbuf_adds(q->out, "{\"ok\":true,");
			ops_add_key_int(q->out, "seq", (int64_t)dup->seq);
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
	ops_add_key_int(q->out, "seq", (int64_t)r->seq);
	sbuf_adds(q->out, ",\"duplicate\":false}");
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
	struct sbuf *e = &b->ev;
	sbuf_reset(e);
	sbuf_adds(e, "{\"type\":\"typing\",");
	ops_add_key_str(e, "room_id", r->id);
	sbuf_addc(e, ',');
	ops_add_key_str(e, "user", m->user);
	sbuf_adds(e, active ? ",\"active\":true," : ",\"active\":false,");
	ops_add_key_str(e, "time", b->now_iso);
	sbuf_addc(e, '}');
	size_t tl = wire_topic(topic, sizeof(topic), WIRE_TOPIC_ROOM, r->id);
	room_publish(b, topic, tl, e->data, e->len);
	b->ctr.typing++;
	sbuf_adds(q->out, "{\"ok\":true}");
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
	if ((text = ops_arg_text(q, &tlen)) == NULL)
		return;
	if ((t = hmap_get(&r->members, key)) == NULL) {
		ops_reply_error(q, ERR_NO_SUCH_USER, "%s is not in room %s", to, r->id);
		return;
	}
	struct sbuf *e = &b->ev;
	sbuf_reset(e);
	sbuf_adds(e, "{\"type\":\"private\",");
	ops_add_key_str(e, "session", t->sess->id);
	sbuf_addc(e, ',');
	ops_add_key_str(e, "room_id", r->id);
	sbuf_addc(e, ',');
	ops_add_key_str(e, "from", m->user);
	sbuf_addc(e, ',');
	ops_add_key_str(e, "to", t->user);
	sbuf_adds(e, ",\"message\":");
	sbuf_add_jstr(e, text, tlen);
	sbuf_addc(e, ',');
	ops_add_key_str(e, "time", b->now_iso);
	sbuf_addc(e, '}');
	size_t tl = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, t->sess->fe->id);
	room_publish(b, topic, tl, e->data, e->len);
	b->ctr.privates++;
	sbuf_adds(q->out, "{\"ok\":true,");
	ops_add_key_str(q->out, "from", m->user);
	sbuf_addc(q->out, ',');
	ops_add_key_str(q->out, "to", t->user);
	sbuf_addc(q->out, ',');
	ops_add_key_str(q->out, "time", b->now_iso);
	sbuf_addc(q->out, '}');
}
