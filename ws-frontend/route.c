/* route.c — parses /ws, /ws/chat/{room_id} and /ws/{room_id}/{username} and the resume
 * parameters. */
#include "route.h"

#include <string.h>

#include "validate.h"

bool
route_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

int
route_path(const char *path, struct route *r, const char **why)
{
	const char *room, *slash;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (strcmp(path, "/ws") == 0 || strcmp(path, "/ws/") == 0)
		return 0;
	if (strncmp(path, "/ws/", 4) != 0) {
		*why = "unknown path (use /ws, /ws/chat/{room_id} or /ws/{room_id}/{username})";
		return -1;
	}
	if (strncmp(path, "/ws/chat/", 9) == 0) {
		/* An anonymous member (the URL of document 001). A room named "chat" is reached
		 * with join_room on /ws instead. */
		room = path + 9;
		n = strlen(room);
		if (!valid_room_id(room, n)) {
			*why = "room_id must be 1-64 characters of A-Z a-z 0-9 _ -";
			return -1;
		}
		memcpy(r->room_id, room, n + 1);
		r->single = true;
		r->guest = true;
		return 0;
	}
	room = path + 4;
	slash = strchr(room, '/');
	if (slash == NULL || slash[1] == '\0') {
		*why = "the path must be /ws/{room_id}/{username}";
		return -1;
	}
	n = (size_t)(slash - room);
	if (!valid_room_id(room, n)) {
		*why = "room_id must be 1-64 characters of A-Z a-z 0-9 _ -";
		return -1;
	}
	memcpy(r->room_id, room, n);
	r->room_id[n] = '\0';
	if (!nick_canonical(slash + 1, strlen(slash + 1), r->user, sizeof(r->user), why))
		return -1;
	r->single = true;
	r->has_user = true;
	return 0;
}

int
route_query(struct route *r, const char *user, const char *since, const char *epoch,
            const char *resume, const char **why)
{
	if (user != NULL && !r->single) {
		if (!nick_canonical(user, strlen(user), r->user, sizeof(r->user), why))
			return -1;
		r->has_user = true;
	}
	if ((since == NULL) != (epoch == NULL)) {
		*why = "since and epoch go together";
		return -1;
	}
	if (since != NULL) {
		uint64_t v = 0;
		size_t n = strlen(since);
		if (n == 0 || n > 15) {
			*why = "since must be a sequence number";
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			if (since[i] < '0' || since[i] > '9') {
				*why = "since must be a sequence number";
				return -1;
			}
			v = v * 10 + (uint64_t)(since[i] - '0');
		}
		if (!route_hex(epoch, WS_EPOCH_LEN)) {
			*why = "epoch must be 16 hex digits";
			return -1;
		}
		r->has_since = true;
		r->since = v;
		memcpy(r->epoch, epoch, WS_EPOCH_LEN + 1);
	}
	if (resume != NULL) {
		if (!route_hex(resume, WS_SESSION_LEN)) {
			*why = "resume must be a session id (32 hex digits)";
			return -1;
		}
		memcpy(r->resume, resume, WS_SESSION_LEN + 1);
		r->has_resume = true;
	}
	return 0;
}
