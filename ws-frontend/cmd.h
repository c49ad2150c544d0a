/* cmd.h — parses one client text message into a command (client protocol v1, docs/protocol.md).
 * Pure: no I/O, no allocation that outlives cmd_fini. */
#ifndef MADANG_WS_CMD_H
#define MADANG_WS_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "limits.h"
#include "route.h"

/* Error codes the front-end sends in {"type":"error","code":…} besides the broker's own. */
#define WS_ERR_INVALID_JSON       "invalid_json"
#define WS_ERR_UNKNOWN_TYPE       "unknown_type"
#define WS_ERR_INVALID_ARGUMENT   "invalid_argument"
#define WS_ERR_MESSAGE_TOO_LONG   "message_too_long"
#define WS_ERR_RATE_LIMITED       "rate_limited"
#define WS_ERR_NOT_IN_ROOM        "not_in_room"
#define WS_ERR_ROOM_REQUIRED      "room_required"
#define WS_ERR_TOO_MANY_ROOMS     "too_many_rooms"
#define WS_ERR_NICKNAME_REQUIRED  "nickname_required"
#define WS_ERR_BROKER_UNAVAILABLE "broker_unavailable"
#define WS_ERR_OUTCOME_UNKNOWN    "outcome_unknown"
#define WS_ERR_BUSY               "busy"
#define WS_ERR_EVENTS_LOST        "events_lost"
#define WS_ERR_UNAUTHORIZED       "unauthorized"
/* The broker's moderation refusals that carry more than a code (docs/moderation.md): their
 * until, note and retry_after_ms go to the client with them. */
#define WS_ERR_BANNED    "banned"    /* a join: until, note */
#define WS_ERR_MUTED     "muted"     /* message, private, typing: until */
#define WS_ERR_SLOW_MODE "slow_mode" /* message: retry_after_ms */

enum cmd_type {
	CMD_MESSAGE, /* plain text frame, or {"type":"message"} */
	CMD_PING,
	CMD_TYPING,
	CMD_JOIN,
	CMD_LEAVE,
	CMD_PRIVATE,
	CMD_HISTORY,
	/* Moderation (docs/moderation.md): sent to the broker with this session as the actor. */
	CMD_KICK,
	CMD_BAN,
	CMD_UNBAN,
	CMD_MUTE,
	CMD_UNMUTE,
	CMD_DELETE_MESSAGE,
	CMD_SLOW_MODE,
};

/* True for the moderation commands (CMD_KICK .. CMD_SLOW_MODE). */
static inline bool
cmd_is_moderation(enum cmd_type t)
{
	return t >= CMD_KICK && t <= CMD_SLOW_MODE;
}

struct cmd {
	bool has_type; /* type is known (also after a failed parse: the error's "request") */
	enum cmd_type type;
	bool has_room;
	char room_id[MADANG_ROOM_ID_MAX + 1];
	const char *text; /* message/private text, points into the input or json; not NUL-ended */
	size_t text_len;
	bool has_client_id;
	char client_id[MADANG_CLIENT_ID_MAX + 1];
	bool has_user;                        /* join_room "user" (its nickname for that room) */
	char user[MADANG_NICK_MAX_BYTES + 1]; /* canonical nickname (join_room user, private to) */
	bool has_resume;                      /* join_room "resume": the previous session id */
	char resume[WS_SESSION_LEN + 1];
	bool active; /* typing */
	bool has_before;
	int64_t before_seq; /* history */
	int64_t limit;      /* history: 0 = the front-end's default */
	/* Moderation: user (has_user) is the member acted on. */
	const char *note; /* kick, ban, mute "reason" (NULL: none), points into json; no NUL */
	size_t note_len;  /* 1..MADANG_NOTE_MAX bytes */
	bool has_duration;
	int64_t duration_s; /* ban (optional), mute: 1..MADANG_RESTRICT_MAX_S */
	int64_t seq;        /* delete_message: the message's seq (>= 0) */
	int64_t interval_s; /* slow_mode: 0..MADANG_SLOW_MODE_MAX_S (0: off) */
	cJSON *json;        /* owned; text may point into it */
};

/* Parses buf[0..len) (valid UTF-8, already checked by the caller). A message whose first
 * non-blank byte is not '{' is a plain chat message (text trimmed of nothing: sent as is), and
 * so is an object with a string "text" and no "type". Every command may carry a client_id.
 * max_text bounds message and private text in bytes.
 * Returns 0 and fills *c (call cmd_fini), or -1 with *code (WS_ERR_… or a broker error code)
 * and a human reason in *why; *c needs no cmd_fini then, and what could be read before the
 * error is still in it for the reply: has_client_id/client_id, has_type/type and
 * has_room/room_id. */
int cmd_parse(const char *buf, size_t len, size_t max_text, struct cmd *c, const char **code,
              const char **why);
void cmd_fini(struct cmd *c);
const char *cmd_name(enum cmd_type t);

#endif
