/* cmd.c — the client command grammar (docs/protocol.md, "Client to server"). */
#include "cmd.h"

#include <string.h>

#include "validate.h"
#include "wire.h"

#define CMD_HISTORY_LIMIT_MAX MADANG_HISTORY_PAGE_MAX

static const struct {
	const char *name;
	enum cmd_type type;
} cmd_types[] = {
    {"message", CMD_MESSAGE}, {"ping", CMD_PING},        {"typing", CMD_TYPING},
    {"join_room", CMD_JOIN},  {"leave_room", CMD_LEAVE}, {"private", CMD_PRIVATE},
    {"history", CMD_HISTORY},
};

const char *
cmd_name(enum cmd_type t)
{
	for (size_t i = 0; i < sizeof(cmd_types) / sizeof(cmd_types[0]); i++)
		if (cmd_types[i].type == t)
			return cmd_types[i].name;
	return "?";
}

void
cmd_fini(struct cmd *c)
{
	cJSON_Delete(c->json);
	c->json = NULL;
}

static int
cmd_fail(struct cmd *c, const char **code, const char **why, const char *ecode, const char *ewhy)
{
	cmd_fini(c);
	*code = ecode;
	*why = ewhy;
	return -1;
}

/* Chat text: at most max_text bytes, and the shared text rules (common/validate.h). */
static int
cmd_text(const char *s, size_t len, size_t max_text, const char **code, const char **why)
{
	if (len > max_text) {
		*code = WS_ERR_MESSAGE_TOO_LONG;
		*why = "message text too long";
		return -1;
	}
	if (!valid_text(s, len, why)) {
		*code = WS_ERR_INVALID_ARGUMENT;
		return -1;
	}
	return 0;
}

/* Optional "room_id": absent is fine, present must be a valid room id. */
static int
cmd_room(struct cmd *c, bool required, const char **why)
{
	size_t n;
	const char *s = wire_str(c->json, "room_id", &n);

	if (s == NULL) {
		if (wire_has(c->json, "room_id") &&
		    !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c->json, "room_id"))) {
			*why = "room_id must be a string";
			return -1;
		}
		if (required) {
			*why = "room_id is required";
			return -1;
		}
		return 0;
	}
	if (!valid_room_id(s, n)) {
		*why = "room_id must be 1-64 characters of A-Z a-z 0-9 _ -";
		return -1;
	}
	memcpy(c->room_id, s, n + 1);
	c->has_room = true;
	return 0;
}

int
cmd_parse(const char *buf, size_t len, size_t max_text, struct cmd *c, const char **code,
          const char **why)
{
	const char *type, *s;
	size_t i, n;
	bool found = false;

	memset(c, 0, sizeof(*c));
	for (i = 0;
	     i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'); i++)
		;
	if (i == len || buf[i] != '{') {
		/* MESSAGE <raw text> — clients of the original design send plain text. */
		c->has_type = true;
		c->type = CMD_MESSAGE;
		c->text = buf;
		c->text_len = len;
		return cmd_text(buf, len, max_text, code, why);
	}

	c->json = wire_parse_object(buf, len, len, why);
	if (c->json == NULL)
		return cmd_fail(c, code, why, WS_ERR_INVALID_JSON, *why);
	/* Read first, so that every later error can name the message it answers. */
	if (wire_has(c->json, "client_id")) {
		s = wire_str(c->json, "client_id", &n);
		if (s == NULL || !valid_token(s, n, MADANG_CLIENT_ID_MAX))
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT,
			                "client_id must be 1-64 printable ASCII characters, "
			                "no space, \" or \\");
		memcpy(c->client_id, s, n + 1);
		c->has_client_id = true;
	}
	type = wire_str(c->json, "type", NULL);
	if (type == NULL && !wire_has(c->json, "type") && wire_str(c->json, "text", NULL) != NULL) {
		/* {"text"} — document 001's client sends JSON.stringify({text}): a message. */
		type = "message";
	}
	if (type == NULL)
		return cmd_fail(c, code, why, WS_ERR_INVALID_JSON, "\"type\" must be a string");
	for (i = 0; i < sizeof(cmd_types) / sizeof(cmd_types[0]); i++) {
		if (strcmp(type, cmd_types[i].name) == 0) {
			c->type = cmd_types[i].type;
			found = true;
			break;
		}
	}
	if (!found)
		return cmd_fail(c, code, why, WS_ERR_UNKNOWN_TYPE, "unknown message type");
	c->has_type = true;

	switch (c->type) {
	case CMD_PING:
		/* {"type":"ping"} */
		return 0;
	case CMD_MESSAGE:
		/* {"type":"message","room_id"?,"text","client_id"?}, or {"text",…} */
		if (cmd_room(c, false, why) != 0)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT, *why);
		if ((c->text = wire_str(c->json, "text", &c->text_len)) == NULL)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT,
			                "text must be a string");
		if (cmd_text(c->text, c->text_len, max_text, code, why) != 0)
			return cmd_fail(c, code, why, *code, *why);
		return 0;
	case CMD_TYPING:
		/* {"type":"typing","room_id"?,"active"} */
		if (cmd_room(c, false, why) != 0)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT, *why);
		if (!wire_bool(c->json, "active", &c->active))
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT,
			                "active must be true or false");
		return 0;
	case CMD_JOIN:
		/* {"type":"join_room","room_id","user"?,"since"?,"epoch"?,"resume"?} */
		if (cmd_room(c, true, why) != 0)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT, *why);
		if (wire_has(c->json, "user")) {
			s = wire_str(c->json, "user", &n);
			if (s == NULL)
				return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT,
				                "user must be a string");
			if (!nick_canonical(s, n, c->user, sizeof(c->user), why))
				return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT, *why);
			c->has_user = true;
		}
		if (wire_has(c->json, "resume")) {
			/* The ?resume= of the URL, kept out of URLs and access logs. */
			s = wire_str(c->json, "resume", &n);
			if (s == NULL || n != WS_SESSION_LEN || !route_hex(s, n))
				return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT,
				                "resume must be a session id (32 hex digits)");
			memcpy(c->resume, s, n + 1);
			c->has_resume = true;
		}
		return 0;
	case CMD_LEAVE:
		/* {"type":"leave_room","room_id"?} */
		if (cmd_room(c, false, why) != 0)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT, *why);
		return 0;
	case CMD_PRIVATE:
		/* {"type":"private","room_id"?,"to","text"} */
		if (cmd_room(c, false, why) != 0)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT, *why);
		if ((s = wire_str(c->json, "to", &n)) == NULL)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT,
			                "to must be a string");
		if (!nick_canonical(s, n, c->user, sizeof(c->user), why))
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT, *why);
		c->has_user = true;
		if ((c->text = wire_str(c->json, "text", &c->text_len)) == NULL)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT,
			                "text must be a string");
		if (cmd_text(c->text, c->text_len, max_text, code, why) != 0)
			return cmd_fail(c, code, why, *code, *why);
		return 0;
	case CMD_HISTORY:
		/* {"type":"history","room_id"?,"before_seq"?,"limit"?} */
		if (cmd_room(c, false, why) != 0)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT, *why);
		if (wire_has(c->json, "before_seq")) {
			if (!wire_int(c->json, "before_seq", &c->before_seq) || c->before_seq < 1)
				return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT,
				                "before_seq must be a positive integer");
			c->has_before = true;
		}
		if (wire_has(c->json, "limit") &&
		    (!wire_int(c->json, "limit", &c->limit) || c->limit < 1 ||
		     c->limit > CMD_HISTORY_LIMIT_MAX))
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT,
			                "limit must be an integer from 1 to 500");
		return 0;
	}
	return cmd_fail(c, code, why, WS_ERR_UNKNOWN_TYPE, "unknown message type");
}
