/* route.h — the WebSocket endpoints and their query parameters (docs/protocol.md, "Endpoints"). */
#ifndef MADANG_WS_ROUTE_H
#define MADANG_WS_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define WS_EPOCH_LEN   16 /* the broker's epoch: 16 hex digits */
#define WS_SESSION_LEN 32 /* a session id: 128 bits as 32 hex digits */

struct route {
	bool single; /* /ws/{room_id}/{username}: joined to that room at connect */
	bool guest;  /* /ws/chat/{room_id}: single, with a nickname madang-ws makes up */
	char room_id[MADANG_ROOM_ID_MAX + 1];
	bool has_user; /* from the path, or from ?user= on /ws */
	char user[MADANG_NICK_MAX_BYTES + 1];
	bool has_since; /* ?since=<seq>&epoch=<epoch>: both or neither */
	uint64_t since;
	char epoch[WS_EPOCH_LEN + 1];
	bool has_resume; /* ?resume=<previous session id> */
	char resume[WS_SESSION_LEN + 1];
};

/* Parses the (percent-decoded) request path: "/ws" or "/ws/" → multi-room; "/ws/chat/ROOM" →
 * single room, guest (no user: the caller makes one up); "/ws/ROOM/USER" → single room (USER
 * may contain '/'); anything else → -1. Returns 0 or -1 with *why. */
int route_path(const char *path, struct route *r, const char **why);
/* The query parameters, each given as NULL when absent. Returns 0 or -1 with *why. */
int route_query(struct route *r, const char *user, const char *since, const char *epoch,
                const char *resume, const char **why);
/* True for exactly n lower- or upper-case hex digits. */
bool route_hex(const char *s, size_t n);

#endif
