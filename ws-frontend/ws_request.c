/* ws_request.c — a client's requests to the broker (send, typing, private, history) and what
 * their replies send back (ws_request.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "validate.h"
#include "wire.h"
#include "ws_history.h"
#include "ws_link.h"
#include "ws_out.h"
#include "ws_request.h"
#include "ws_rpc.h"
#include "ws_state.h"
#include "ws_wait.h"

/* The command a request answers (cmd: the moderation command for KIND_MODERATE). */
static const char *
client_request_name(int kind, int cmd)
{
	return kind == KIND_SEND       ? "message"
	       : kind == KIND_TYPING   ? "typing"
	       : kind == KIND_PRIVATE  ? "private"
	       : kind == KIND_MODERATE ? cmd_name((enum cmd_type)cmd)
	                               : "history";
}

/* What the reply of a client's request needs (its rpc_call state). */
struct client_state {
	int kind;
	int cmd;         /* KIND_MODERATE: its enum cmd_type */
	unsigned hellos; /* link_hellos() when it was made (link_refusal) */
	size_t reserved; /* history: bytes reserved in the session's and address's budgets */
	char room_id[MADANG_ROOM_ID_MAX + 1];
	char client_id[MADANG_CLIENT_ID_MAX + 1]; /* "" when the command had none */
	char to[MADANG_NICK_MAX_BYTES + 1];       /* private: its recipient, to send again */
	size_t text_len;                          /* the command's text length */
	char text[MADANG_TEXT_MAX + 1]; /* private: the text, for a reply without it; send: to
	                                 * send again (client_retry); only the bytes up to its
	                                 * NUL are copied with the request */
};

/* A send, private or typing the broker refused unapplied because it does not know us, or our
 * members, yet (j: its state): it is held as the client's command again, after the ones held
 * already, and waits for the re-sync; if the link is up again already (the refusal's reply came
 * after the sync's), it goes on at once (wait_link_up) instead of waiting for the next tick.
 * Returns true when it waits or went on (or, typing, is dropped), false when the caller must
 * answer it with broker_unavailable. */
static bool
client_retry(struct ws_session *s, const struct client_state *j)
{
	cJSON *o;
	char *text;
	bool held;

	if (j->kind == KIND_TYPING)
		return true; /* stale by the time the broker is back */
	if ((j->kind != KIND_SEND && j->kind != KIND_PRIVATE) || strlen(j->text) != j->text_len ||
	    (o = cJSON_CreateObject()) == NULL)
		return false;
	cJSON_AddStringToObject(o, "type", j->kind == KIND_SEND ? "message" : "private");
	cJSON_AddStringToObject(o, "room_id", j->room_id);
	if (j->kind == KIND_PRIVATE)
		cJSON_AddStringToObject(o, "to", j->to);
	cJSON_AddStringToObject(o, "text", j->text);
	if (j->client_id[0] != '\0')
		cJSON_AddStringToObject(o, "client_id", j->client_id);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	held = text != NULL && sess_hold(s, NULL, text, strlen(text)) == 0;
	free(text);
	if (held && wait_add(s) == 0 && link_up())
		wait_link_up(); /* s, and whoever else waits for the next tick */
	return held;
}

/* Replies of send, typing, private, history and the moderation commands. */
static void
client_reply(void *state, struct rpc_result *r)
{
	struct client_state *j = state;
	struct ws_session *s = r->sess;
	const char *request = client_request_name(j->kind, j->cmd);
	const char *cid = j->client_id[0] ? j->client_id : NULL;
	const char *err = r->error, *msg = r->message;
	cJSON *reply = r->reply, *o;

	if (j->kind == KIND_HISTORY && !r->ok)
		history_settle(s, &j->reserved, -1);
	if (s->wsi == NULL || s->close_code != 0)
		return;
	if (r->rv == RPC_EBUSY || r->rv == RPC_ENOMEM) {
		out_send_error(s, r->rv == RPC_EBUSY ? WS_ERR_BUSY : ERR_INTERNAL,
		               r->rv == RPC_EBUSY ? "too many requests waiting for the chat service"
		                                  : "out of memory",
		               request, j->room_id, cid);
		return;
	}
	if (r->rv != 0 && r->unknown && j->kind != KIND_TYPING && j->kind != KIND_HISTORY) {
		/* It went out and no answer came back: it may have been delivered. Never say
		 * "unavailable" for it (issue 25): a resend with the same client_id settles it. */
		out_send_error(s, WS_ERR_OUTCOME_UNKNOWN,
		               "the chat service did not answer in time: this may have been sent; "
		               "send it again with the same client_id to find out",
		               request, j->room_id, cid);
		return;
	}
	if (r->rv != 0) {
		out_send_error(s, WS_ERR_BROKER_UNAVAILABLE, "the chat service did not answer",
		               request, j->room_id, cid);
		return;
	}
	if (!r->ok) {
		/* A restarted broker (or a standby that took over) does not know us, or our
		 * members, until we have registered and re-synced: it applied nothing. */
		enum link_refusal f = link_refusal(j->hellos, err);
		if (f != LINK_ANSWER) {
			if (f == LINK_RETRY_REGISTER)
				link_reregister();
			if (client_retry(s, j))
				return;
			err = WS_ERR_BROKER_UNAVAILABLE;
			msg = "the chat service is reconnecting; try again in a moment";
		}
		out_send_refusal(s, err ? err : ERR_INTERNAL, msg ? msg : "refused", request,
		                 j->room_id, cid, reply);
		return;
	}
	switch (j->kind) {
	case KIND_MODERATE:
		/* DONE request room_id [client_id]: the effect itself arrives as events */
		if ((o = cJSON_CreateObject()) == NULL)
			return;
		cJSON_AddStringToObject(o, "type", "done");
		cJSON_AddStringToObject(o, "request", request);
		cJSON_AddStringToObject(o, "room_id", j->room_id);
		if (cid != NULL)
			cJSON_AddStringToObject(o, "client_id", cid);
		out_send_obj(s, o);
		return;
	case KIND_SEND: {
		/* ACK only when the client named its message: it is how a resent message is
		 * matched. */
		int64_t seq;
		bool dup = false;
		if (cid == NULL || (o = cJSON_CreateObject()) == NULL)
			return;
		cJSON_AddStringToObject(o, "type", "ack");
		cJSON_AddStringToObject(o, "room_id", j->room_id);
		cJSON_AddStringToObject(o, "client_id", cid);
		if (wire_int(reply, "seq", &seq))
			cJSON_AddNumberToObject(o, "seq", (double)seq);
		wire_bool(reply, "duplicate", &dup);
		cJSON_AddBoolToObject(o, "duplicate", dup);
		out_send_obj(s, o);
		return;
	}
	case KIND_PRIVATE: {
		/* The sender's copy of its private message. */
		const char *from = wire_str(reply, "from", NULL), *to = wire_str(reply, "to", NULL);
		const char *time = wire_str(reply, "time", NULL);
		cJSON *text = cJSON_GetObjectItemCaseSensitive(reply, "message");
		if ((o = cJSON_CreateObject()) == NULL)
			return;
		cJSON_AddStringToObject(o, "type", "private");
		cJSON_AddStringToObject(o, "room_id", j->room_id);
		cJSON_AddStringToObject(o, "from", from ? from : "");
		cJSON_AddStringToObject(o, "to", to ? to : "");
		if (cJSON_IsString(text))
			cJSON_AddStringToObject(o, "message", text->valuestring);
		else
			cJSON_AddStringToObject(o, "message", j->text);
		if (time != NULL)
			cJSON_AddStringToObject(o, "time", time);
		if (cid != NULL)
			cJSON_AddStringToObject(o, "client_id", cid);
		out_send_obj(s, o);
		return;
	}
	case KIND_HISTORY: {
		/* The broker's page (cut to --history-max-bytes if the broker did not), typed for
		 * the client; its bytes are what the budgets pay. */
		bool truncated;
		char *text;
		if (!wire_bool(reply, "truncated", &truncated))
			history_trim(reply, ws->o.history_max_bytes);
		cJSON_DeleteItemFromObjectCaseSensitive(reply, "ok");
		cJSON_AddStringToObject(reply, "type", "history");
		if (!wire_has(reply, "room_id"))
			cJSON_AddStringToObject(reply, "room_id", j->room_id);
		if (cid != NULL)
			cJSON_AddStringToObject(reply, "client_id", cid);
		text = cJSON_PrintUnformatted(reply);
		history_settle(s, &j->reserved, text != NULL ? (int64_t)strlen(text) : -1);
		if (text != NULL)
			out_send_json(s, text, strlen(text));
		free(text);
		return;
	}
	default:
		return;
	}
}

/* Sends a client's request (req: NULL when out of memory) in order; its reply, or its failure,
 * is answered by client_reply (c: keeps its text for the reply; reserve: history bytes already
 * charged to the budgets, settled by the reply). */
void
client_rpc(struct ws_session *s, cJSON *req, int kind, const char *room_id, const char *client_id,
           const struct cmd *c, size_t reserve)
{
	struct client_state j = {.kind = kind, .hellos = link_hellos(), .reserved = reserve};
	size_t reply_bound = 0;

	if (kind == KIND_HISTORY) {
		/* limit events of the largest size, for the batch's reply budget (ws_rpc.c) */
		int64_t lim = 0;
		wire_int(req, "limit", &lim);
		reply_bound = (size_t)(lim > 0 ? lim : 1) * WS_EVENT_JSON_MAX + WS_REPLY_SMALL;
	}
	snprintf(j.room_id, sizeof(j.room_id), "%s", room_id ? room_id : "");
	snprintf(j.client_id, sizeof(j.client_id), "%s", client_id ? client_id : "");
	if (kind == KIND_MODERATE && c != NULL)
		j.cmd = (int)c->type;
	else if (c != NULL && c->text != NULL && c->text_len < sizeof(j.text)) {
		memcpy(j.text, c->text, c->text_len); /* NUL-terminated by the initializer */
		j.text_len = c->text_len;
		if (kind == KIND_PRIVATE)
			snprintf(j.to, sizeof(j.to), "%s", c->user);
	}
	rpc_call(req, &(struct rpc_call){.done = client_reply,
	                                 .state = &j,
	                                 .size = offsetof(struct client_state, text) +
	                                         strlen(j.text) + 1,
	                                 .sess = s,
	                                 .ordered = true,
	                                 .reply_bound = reply_bound});
}

void
client_moderate(struct ws_session *s, const struct cmd *c, const char *room_id)
{
	const char *op = cmd_name(c->type);
	cJSON *req = rpc_req(op, s);
	char *note = NULL;

	cJSON_AddStringToObject(req, "room_id", room_id);
	if (c->has_user)
		cJSON_AddStringToObject(req, "user", c->user);
	if (c->has_duration)
		cJSON_AddNumberToObject(req, "duration_s", (double)c->duration_s);
	if (c->type == CMD_DELETE_MESSAGE)
		cJSON_AddNumberToObject(req, "seq", (double)c->seq);
	if (c->type == CMD_SLOW_MODE)
		cJSON_AddNumberToObject(req, "interval_s", (double)c->interval_s);
	if (req != NULL && c->note != NULL &&
	    ((note = strndup(c->note, c->note_len)) == NULL ||
	     !cJSON_AddStringToObject(req, "note", note))) {
		cJSON_Delete(req);
		req = NULL; /* out of memory: answered by client_reply */
	}
	free(note);
	client_rpc(s, req, KIND_MODERATE, room_id, c->has_client_id ? c->client_id : NULL, c, 0);
}
