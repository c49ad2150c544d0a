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

enum cmd_type {
	CMD_MESSAGE, /* plain text frame, or {"type":"message"} */
	CMD_PING,
	CMD_TYPING,
	CMD_JOIN,
	CMD_LEAVE,
	CMD_PRIVATE,
	CMD_HISTORY,
};

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
