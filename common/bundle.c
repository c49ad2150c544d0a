/* bundle.c — the broker's event bundle: writer and reader (see bundle.h). */
#include <string.h>

#include "bundle.h"
#include "limits.h"
#include "wire.h"

bool
bundle_fits(const struct sbuf *b, size_t part_len, size_t max)
{
	return b->len == 0 || b->len + 1 + part_len <= max;
}

void
bundle_add_room(struct sbuf *b, const char *part, size_t part_len)
{
	if (b->len == 0)
		sbuf_add(b, WIRE_TOPIC_BUNDLE, strlen(WIRE_TOPIC_BUNDLE));
	else
		sbuf_addc(b, '\n');
	sbuf_add(b, part, part_len);
}

void
bundle_reader_init(struct bundle_reader *rd, const char *body, size_t len)
{
	rd->p = body;
	rd->end = body + len;
	rd->room = NULL;
	rd->room_len = 0;
}

bool
bundle_next(struct bundle_reader *rd, const char **room, size_t *room_len, const char **json,
            size_t *json_len)
{
	while (rd->p < rd->end) {
		const char *line = rd->p;
		const char *nl = memchr(line, '\n', (size_t)(rd->end - line));
		size_t n = nl != NULL ? (size_t)(nl - line) : (size_t)(rd->end - line);

		rd->p = line + n + (nl != NULL ? 1 : 0);
		if (n == 0)
			continue;
		if (line[0] != '{') {
			bool ok = n > 2 && line[0] == WIRE_TOPIC_ROOM && line[1] == '/' &&
			          n - 2 <= MADANG_ROOM_ID_MAX;
			rd->room = ok ? line + 2 : NULL;
			rd->room_len = ok ? n - 2 : 0;
			continue;
		}
		if (rd->room == NULL)
			continue;
		*room = rd->room;
		*room_len = rd->room_len;
		*json = line;
		*json_len = n;
		return true;
	}
	return false;
}
