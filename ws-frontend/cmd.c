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
    {"message", CMD_MESSAGE},
    {"ping", CMD_PING},
    {"typing", CMD_TYPING},
    {"join_room", CMD_JOIN},
    {"leave_room", CMD_LEAVE},
    {"private", CMD_PRIVATE},
    {"history", CMD_HISTORY},
    {"kick", CMD_KICK},
    {"ban", CMD_BAN},
    {"unban", CMD_UNBAN},
    {"mute", CMD_MUTE},
    {"unmute", CMD_UNMUTE},
    {"delete_message", CMD_DELETE_MESSAGE},
    {"slow_mode", CMD_SLOW_MODE},
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

/* The moderation commands' fields (docs/moderation.md, "Actions"): 0, or -1 with *why (every
 * error is invalid_argument). */
static int
cmd_moderation(struct cmd *c, const char **why)
{
	const char *s;
	size_t n;

	if (cmd_room(c, false, why) != 0)
		return -1;
	switch (c->type) {
	case CMD_KICK:
	case CMD_BAN:
	case CMD_UNBAN:
	case CMD_MUTE:
	case CMD_UNMUTE:
		/* {"type":T,"room_id"?,"user",…} — the member acted on, by nickname */
		if ((s = wire_str(c->json, "user", &n)) == NULL) {
			*why = "user must be a string (the nickname of the member)";
			return -1;
		}
		if (!nick_canonical(s, n, c->user, sizeof(c->user), why))
			return -1;
		c->has_user = true;
		break;
	case CMD_DELETE_MESSAGE:
		/* {"type":"delete_message","room_id"?,"seq","reason"?} */
		if (!wire_int(c->json, "seq", &c->seq) || c->seq < 0) {
			*why = "seq must be the seq of a message (an integer, 0 or more)";
			return -1;
		}
		break;
	case CMD_SLOW_MODE:
		/* {"type":"slow_mode","room_id"?,"interval_s"} */
		if (!wire_int(c->json, "interval_s", &c->interval_s) || c->interval_s < 0 ||
		    c->interval_s > MADANG_SLOW_MODE_MAX_S) {
			*why = "interval_s must be an integer from 0 (off) to 86400";
			return -1;
		}
		return 0;
	default:
		return 0;
	}
	if (c->type == CMD_BAN || c->type == CMD_MUTE) {
		/* duration_s: a mute's is required, a ban without one lasts until it is lifted */
		if (wire_has(c->json, "duration_s") || c->type == CMD_MUTE) {
			if (!wire_int(c->json, "duration_s", &c->duration_s) || c->duration_s < 1 ||
			    c->duration_s > MADANG_RESTRICT_MAX_S) {
				*why =
				    "duration_s must be an integer from 1 to 31536000 (365 days)";
				return -1;
			}
			c->has_duration = true;
		}
	}
	if (c->type != CMD_UNBAN && c->type != CMD_UNMUTE && wire_has(c->json, "reason") &&
	    !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c->json, "reason"))) {
		/* reason: the moderator's note, 0..MADANG_NOTE_MAX bytes ("" is none) */
		if ((s = wire_str(c->json, "reason", &n)) == NULL) {
			*why = "reason must be a string";
			return -1;
		}
		if (!valid_note(s, n, why))
			return -1;
		if (n > 0) {
			c->note = s;
			c->note_len = n;
		}
	}
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
	case CMD_KICK:
	case CMD_BAN:
	case CMD_UNBAN:
	case CMD_MUTE:
	case CMD_UNMUTE:
	case CMD_DELETE_MESSAGE:
	case CMD_SLOW_MODE:
		if (cmd_moderation(c, why) != 0)
			return cmd_fail(c, code, why, WS_ERR_INVALID_ARGUMENT, *why);
		return 0;
	}
	return cmd_fail(c, code, why, WS_ERR_UNKNOWN_TYPE, "unknown message type");
}
