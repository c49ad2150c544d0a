/* ws_client.c — what a client's messages do: the rate limit, then each command of client protocol
 * v1 (docs/protocol.md) turned into a broker request, and the answers sent back. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "validate.h"
#include "wire.h"
#include "ws_client.h"
#include "ws_history.h"
#include "ws_link.h"
#include "ws_members.h"
#include "ws_out.h"
#include "ws_request.h"
#include "ws_rpc.h"
#include "ws_state.h"
#include "ws_wait.h"

/* WELCOME, then the path's room is joined at once on /ws/{room_id}/{username}. */
void
client_opened(struct ws_session *s, const struct route *rt)
{
	cJSON *o, *lim;

	if (!link_up()) { /* a broker restart or a failover: the client sees a pause */
		if (wait_open(s, rt) != 0)
			out_close(s, WS_CLOSE_INTERNAL, "out of memory", false);
		return;
	}
	if ((o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "type", "welcome");
	cJSON_AddNumberToObject(o, "protocol", 1);
	cJSON_AddStringToObject(o, "session", s->id);
	if (s->user != NULL)
		cJSON_AddStringToObject(o, "user", s->user);
	else
		cJSON_AddNullToObject(o, "user");
	cJSON_AddStringToObject(o, "frontend", ws->o.id);
	cJSON_AddStringToObject(o, "epoch", ws->epoch);
	if ((lim = cJSON_AddObjectToObject(o, "limits")) != NULL) {
		cJSON_AddNumberToObject(lim, "max_message", (double)ws->o.max_message);
		cJSON_AddNumberToObject(lim, "max_frame", WS_FRAME_MAX);
		cJSON_AddNumberToObject(lim, "rate", ws->o.rate);
		cJSON_AddNumberToObject(lim, "burst", ws->o.burst);
		cJSON_AddNumberToObject(lim, "max_rooms", (double)ws->o.max_rooms);
		cJSON_AddNumberToObject(lim, "history_max_bytes", (double)ws->o.history_max_bytes);
	}
	out_send_obj(s, o);
	if (rt->single &&
	    members_join(s, rt->room_id, s->user, rt->has_since, rt->since, rt->epoch) != 0)
		out_close(s, WS_CLOSE_INTERNAL, "out of memory", true);
}

/* The member a command is about: its room_id, or the connection's only room. */
static struct ws_member *
client_member(struct ws_session *s, const struct cmd *c, const char *request)
{
	struct ws_member *m;

	if (c->has_room) {
		m = sess_member(s, c->room_id);
		if (m == NULL || m->state != MEMBER_ACTIVE) {
			out_send_error(s, WS_ERR_NOT_IN_ROOM, "you are not in this room", request,
			               c->room_id, c->has_client_id ? c->client_id : NULL);
			return NULL;
		}
		return m;
	}
	m = sess_sole_member(s);
	if (m == NULL) {
		out_send_error(s, s->nrooms == 0 ? WS_ERR_NOT_IN_ROOM : WS_ERR_ROOM_REQUIRED,
		               s->nrooms == 0 ? "join a room first"
		                              : "room_id is required: you are in several rooms",
		               request, NULL, c->has_client_id ? c->client_id : NULL);
		return NULL;
	}
	if (m->state != MEMBER_ACTIVE) {
		out_send_error(s, WS_ERR_NOT_IN_ROOM, "the join is not complete yet", request,
		               m->room->id, c->has_client_id ? c->client_id : NULL);
		return NULL;
	}
	return m;
}

static void
client_join(struct ws_session *s, struct cmd *c)
{
	const char *user = c->has_user ? c->user : s->user;
	bool has_since = false;
	int64_t since = 0;
	const char *epoch = NULL;

	if (s->authenticated && c->has_user) {
		/* With tokens the nickname is the token's; another one is refused. */
		char a[MADANG_NICK_MAX_BYTES + 1], b[MADANG_NICK_MAX_BYTES + 1];
		nick_fold(c->user, a, sizeof(a));
		nick_fold(s->user, b, sizeof(b));
		if (strcmp(a, b) != 0) {
			out_send_error(s, WS_ERR_UNAUTHORIZED, "your token is for another nickname",
			               "join_room", c->room_id,
			               c->has_client_id ? c->client_id : NULL);
			return;
		}
	}
	if (user == NULL) {
		out_send_error(s, WS_ERR_NICKNAME_REQUIRED,
		               "give a nickname: \"user\" in join_room, or ?user= on /ws",
		               "join_room", c->room_id, c->has_client_id ? c->client_id : NULL);
		return;
	}
	if (c->has_user && s->user != NULL && !s->authenticated && s->nrooms > 0) {
		/* One nickname per connection while it is in (or joining) a room; in none, a join
		 * may name another (say after nickname_taken). */
		char a[MADANG_NICK_MAX_BYTES + 1], b[MADANG_NICK_MAX_BYTES + 1];
		nick_fold(c->user, a, sizeof(a));
		nick_fold(s->user, b, sizeof(b));
		if (strcmp(a, b) != 0) {
			out_send_error(s, WS_ERR_INVALID_ARGUMENT,
			               "this connection already has a nickname; open another "
			               "connection for another one",
			               "join_room", c->room_id,
			               c->has_client_id ? c->client_id : NULL);
			return;
		}
		user = s->user;
	}
	if (sess_member(s, c->room_id) != NULL) {
		out_send_error(s, WS_ERR_INVALID_ARGUMENT, "you are already in this room",
		               "join_room", c->room_id, c->has_client_id ? c->client_id : NULL);
		return;
	}
	if (s->nrooms >= s->max_rooms) {
		out_send_error(s, WS_ERR_TOO_MANY_ROOMS, "too many rooms on one connection",
		               "join_room", c->room_id, c->has_client_id ? c->client_id : NULL);
		return;
	}
	if (wire_has(c->json, "since") || wire_has(c->json, "epoch")) {
		epoch = wire_str(c->json, "epoch", NULL);
		if (!wire_int(c->json, "since", &since) || since < 0 || epoch == NULL ||
		    !route_hex(epoch, WS_EPOCH_LEN)) {
			out_send_error(s, WS_ERR_INVALID_ARGUMENT,
			               "since (a seq) and epoch (16 hex digits) go together",
			               "join_room", c->room_id,
			               c->has_client_id ? c->client_id : NULL);
			return;
		}
		has_since = true;
	}
	if (((s->user == NULL || strcmp(s->user, user) != 0) && sess_set_user(s, user) != 0) ||
	    (c->has_resume && sess_set_resume(s, c->resume) != 0)) {
		out_send_error(s, ERR_INTERNAL, "out of memory", "join_room", c->room_id,
		               c->has_client_id ? c->client_id : NULL);
		return;
	}
	if (members_join(s, c->room_id, user, has_since, (uint64_t)since, epoch) != 0)
		out_send_error(s, ERR_INTERNAL, "out of memory", "join_room", c->room_id,
		               c->has_client_id ? c->client_id : NULL);
}

/* An error answering command c: its request, room and client_id as far as they could be read
 * (also after a failed parse), and retry_after_ms when not 0. */
static void
client_error(struct ws_session *s, const char *code, const char *why, const struct cmd *c,
             uint64_t retry_after_ms)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "type", "error");
	cJSON_AddStringToObject(o, "code", code);
	cJSON_AddStringToObject(o, "message", why);
	if (c != NULL && c->has_type)
		cJSON_AddStringToObject(o, "request", cmd_name(c->type));
	if (c != NULL && c->has_room)
		cJSON_AddStringToObject(o, "room_id", c->room_id);
	if (c != NULL && c->has_client_id)
		cJSON_AddStringToObject(o, "client_id", c->client_id);
	if (retry_after_ms > 0)
		cJSON_AddNumberToObject(o, "retry_after_ms", (double)retry_after_ms);
	out_send_obj(s, o);
}

/* The member a command would go to while its join is still in flight, else NULL: such a
 * command waits for the join (client_hold) instead of failing with not_in_room. */
static struct ws_member *
client_waits_join(const struct ws_session *s, const struct cmd *c)
{
	struct ws_member *m;

	if (c->type == CMD_JOIN || c->type == CMD_PING)
		return NULL;
	m = c->has_room ? sess_member(s, c->room_id) : sess_sole_member(s);
	return m != NULL && m->state == MEMBER_JOINING ? m : NULL;
}

static void client_dispatch(struct ws_session *s, struct cmd *c);

/* Keeps a message that arrived during a join (or behind one that did), to dispatch it in
 * order when the join is over (client_release). Over WS_HELD_MAX / WS_HELD_BYTES_MAX: busy. */
static void
client_hold(struct ws_session *s, const char *buf, size_t len, const struct cmd *c)
{
	struct ws_member *m = client_waits_join(s, c);

	if (sess_hold(s, m != NULL ? m->room->id : NULL, buf, len) != 0)
		client_error(s, WS_ERR_BUSY, "too many messages waiting for the join to complete",
		             c, 0);
}

/* The join of a room ended (failed_room: it was refused with err and msg): the messages held
 * for it go on in order, or get the join's error when it failed. Stops at a message that
 * waits for another join still in flight. */
void
client_release(struct ws_session *s, const char *failed_room, const char *err, const char *msg)
{
	struct ws_held *h;
	const char *code, *why;
	struct cmd c;

	while ((h = sess_held(s)) != NULL && s->wsi != NULL && s->close_code == 0) {
		if (cmd_parse(h->buf, h->len, ws->o.max_message, &c, &code, &why) != 0) {
			/* Parsed once already: only --max-message could differ. */
			client_error(s, code, why, &c, 0);
		} else if (failed_room != NULL && strcmp(h->room_id, failed_room) == 0) {
			if (!c.has_room) {
				snprintf(c.room_id, sizeof(c.room_id), "%s", failed_room);
				c.has_room = true;
			}
			client_error(s, err, msg, &c, 0);
			cmd_fini(&c);
		} else if (client_waits_join(s, &c) != NULL) {
			cmd_fini(&c);
			return;
		} else if (c.type != CMD_PING && !link_up()) {
			/* The broker went away meanwhile: it waits for it again. */
			cmd_fini(&c);
			wait_add(s);
			return;
		} else {
			sess_unhold(s);
			client_dispatch(s, &c);
			cmd_fini(&c);
			free(h);
			continue;
		}
		free(sess_unhold(s));
	}
}

/* Dispatches one complete message from the client: the rate limit first (so that a refusal
 * can still name the message's client_id, the message is parsed before), then the command,
 * or the hold while the room it is for is being joined. */
void
client_message(struct ws_session *s, const char *buf, size_t len)
{
	const char *code, *why;
	struct cmd c;
	int rv = cmd_parse(buf, len, ws->o.max_message, &c, &code, &why);

	if (!bucket_take(&s->bucket, &ws->o.msg_rate, clock_mono_ns())) {
		ws->c.rate_limited++;
		if (rv == 0)
			cmd_fini(&c);
		if (++s->strikes >= WS_RATE_STRIKES) {
			out_close(s, WS_CLOSE_POLICY, "rate limit exceeded", false);
			return;
		}
		client_error(s, WS_ERR_RATE_LIMITED, "too many messages: slow down", &c,
		             bucket_wait_ms(&s->bucket, &ws->o.msg_rate));
		return;
	}
	s->strikes = 0;
	if (rv != 0) {
		client_error(s, code, why, &c, 0);
		return;
	}
	if (c.type != CMD_PING && !link_up()) {
		/* The broker is away (a restart, a failover): the message waits for it, each held
		 * one listing the session (at most WS_HELD_MAX times) for its deadline. */
		client_hold(s, buf, len, &c);
		wait_add(s);
	} else if (sess_held(s) != NULL || client_waits_join(s, &c) != NULL) {
		client_hold(s, buf, len, &c);
	} else {
		client_dispatch(s, &c);
	}
	cmd_fini(&c);
}

void
client_wait_over(struct ws_session *s)
{
	client_release(s, NULL, NULL, NULL);
}

/* wait_hooks.expire: every message s holds gets broker_unavailable with its client_id, so that
 * the client knows which of its messages to send again after the close. */
void
client_wait_expired(struct ws_session *s)
{
	struct ws_held *h;
	const char *code, *why;
	struct cmd c;

	while ((h = sess_unhold(s)) != NULL) {
		if (cmd_parse(h->buf, h->len, ws->o.max_message, &c, &code, &why) != 0) {
			client_error(s, code, why, &c, 0);
		} else {
			client_error(s, WS_ERR_BROKER_UNAVAILABLE,
			             "the chat service is unavailable; try again later", &c, 0);
			cmd_fini(&c);
		}
		free(h);
	}
}

/* One parsed command (c stays the caller's). */
static void
client_dispatch(struct ws_session *s, struct cmd *c)
{
	const char *cid = c->has_client_id ? c->client_id : NULL;
	struct ws_member *m;
	cJSON *req;

	if (c->type == CMD_PING) {
		out_send_json(s, "{\"type\":\"pong\"}", 15);
		return;
	}
	if (!link_up()) {
		client_error(s, WS_ERR_BROKER_UNAVAILABLE,
		             "the chat service is unavailable; try again shortly", c, 0);
		return;
	}
	switch (c->type) {
	case CMD_MESSAGE:
		/* MESSAGE [room_id] text [client_id] */
		if ((m = client_member(s, c, "message")) == NULL)
			break;
		req = rpc_req("send", s);
		if (req != NULL) {
			cJSON_AddStringToObject(req, "room_id", m->room->id);
			char *text = strndup(c->text, c->text_len);
			if (text == NULL) {
				cJSON_Delete(req);
				req = NULL;
			} else {
				cJSON_AddStringToObject(req, "text", text);
				free(text);
			}
			if (req != NULL && c->has_client_id)
				cJSON_AddStringToObject(req, "client_id", c->client_id);
		}
		client_rpc(s, req, KIND_SEND, m->room->id, cid, c, 0);
		break;
	case CMD_TYPING:
		/* TYPING [room_id] active */
		if ((m = client_member(s, c, "typing")) == NULL)
			break;
		if ((req = rpc_req("typing", s)) != NULL) {
			cJSON_AddStringToObject(req, "room_id", m->room->id);
			cJSON_AddBoolToObject(req, "active", c->active);
		}
		client_rpc(s, req, KIND_TYPING, m->room->id, cid, NULL, 0);
		break;
	case CMD_JOIN:
		/* JOIN_ROOM room_id [user] [since epoch] */
		client_join(s, c);
		break;
	case CMD_LEAVE:
		/* LEAVE_ROOM [room_id] */
		if (c->has_room)
			m = sess_member(s, c->room_id);
		else
			m = sess_sole_member(s);
		if (m == NULL) {
			client_error(s, WS_ERR_NOT_IN_ROOM, "you are not in this room", c, 0);
			break;
		}
		members_leave(s, m, true, NULL);
		break;
	case CMD_PRIVATE:
		/* PRIVATE [room_id] to text */
		if ((m = client_member(s, c, "private")) == NULL)
			break;
		if ((req = rpc_req("private", s)) != NULL) {
			char *text = strndup(c->text, c->text_len);
			cJSON_AddStringToObject(req, "room_id", m->room->id);
			cJSON_AddStringToObject(req, "to", c->user);
			if (text == NULL || !cJSON_AddStringToObject(req, "text", text)) {
				cJSON_Delete(req);
				req = NULL; /* out of memory: answered by client_reply */
			}
			free(text);
		}
		client_rpc(s, req, KIND_PRIVATE, m->room->id, cid, c, 0);
		break;
	case CMD_HISTORY: {
		/* HISTORY [room_id] [before_seq] [limit] — only of a room the connection is in
		 * (issue 25: a named room was read without a join). */
		const char *room;
		uint64_t now = clock_mono_ns(), wait = 0;
		size_t reserve = ws->o.history_max_bytes + WS_REPLY_SMALL;
		struct bytebucket *ipb;
		struct ws_sess_extra *x;
		if ((m = client_member(s, c, "history")) == NULL)
			break;
		room = m->room->id;
		/* HISTORY costs bytes, not one message (issue 25: a 60-byte command returned 2 MB):
		 * a budget per connection and per client address, paid when the reply goes out. */
		if ((x = sess_extra(s)) == NULL) {
			client_error(s, ERR_INTERNAL, "out of memory", c, 0);
			break;
		}
		if (!x->hist_init) {
			bytebucket_init(&x->hist, ws->o.history_rate,
			                ws->o.history_rate * WS_HISTORY_BURST_S, now);
			x->hist_init = true;
		}
		ipb = history_ip_budget(s, now);
		if (!bytebucket_admit(&x->hist, now))
			wait = bytebucket_wait_ms(&x->hist);
		if (ipb != NULL && !bytebucket_admit(ipb, now) && bytebucket_wait_ms(ipb) > wait)
			wait = bytebucket_wait_ms(ipb);
		if (wait > 0) {
			ws->c.rate_limited++;
			client_error(s, WS_ERR_RATE_LIMITED,
			             "too much history asked for: wait before asking again", c,
			             wait);
			break;
		}
		req = rpc_req("history", NULL);
		if (req != NULL) {
			cJSON_DeleteItemFromObjectCaseSensitive(req, "frontend");
			cJSON_AddStringToObject(req, "room_id", room);
			if (c->has_before)
				cJSON_AddNumberToObject(req, "before_seq", (double)c->before_seq);
			/* Without a limit: --history's, or under --history 0 (no replay on join)
			 * still a page, not the broker's invalid_argument for limit 0. */
			cJSON_AddNumberToObject(req, "limit",
			                        c->limit            ? (double)c->limit
			                        : ws->o.history > 0 ? (double)ws->o.history
			                                            : WS_HISTORY_PAGE_DEFAULT);
			cJSON_AddNumberToObject(req, "max_bytes", (double)ws->o.history_max_bytes);
		}
		/* Charged now, settled for the bytes sent by the reply (all given back when it
		 * fails). */
		bytebucket_charge(&x->hist, (int64_t)reserve);
		if (ipb != NULL)
			bytebucket_charge(ipb, (int64_t)reserve);
		client_rpc(s, req, KIND_HISTORY, room, cid, NULL, reserve);
		break;
	}
	case CMD_KICK:
	case CMD_BAN:
	case CMD_UNBAN:
	case CMD_MUTE:
	case CMD_UNMUTE:
	case CMD_DELETE_MESSAGE:
	case CMD_SLOW_MODE:
		/* KICK|BAN|UNBAN|MUTE|UNMUTE [room_id] user …, DELETE_MESSAGE [room_id] seq,
		 * SLOW_MODE [room_id] interval_s — the broker decides the right. Without a token a
		 * nickname proves nothing: nobody has a role (docs/moderation.md). */
		if ((m = client_member(s, c, cmd_name(c->type))) == NULL)
			break;
		if (!s->authenticated) {
			client_error(s, ERR_FORBIDDEN,
			             "moderation needs a token: this server runs without them", c,
			             0);
			break;
		}
		client_moderate(s, c, m->room->id);
		break;
	case CMD_PING:
		break;
	}
}
