/* bundle.h — the broker's event bundle, written by broker/server.c and read by madang-ws
 * (docs/broker-protocol.md "Bundles"): one pub message "b\nr/<room1>\n{…}\n{…}\nr/<room2>\n{…}"
 * carrying several rooms' events, each "r/<room_id>" line followed by that room's events, one
 * JSON object a line. No I/O; the reader never reads past the length it is given. */
#ifndef MADANG_BUNDLE_H
#define MADANG_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>

#include "sbuf.h"

/* Whether a room part of part_len bytes fits in the bundle b without passing max bytes. An
 * empty bundle takes any part (a single room's part may be larger than max). */
bool bundle_fits(const struct sbuf *b, size_t part_len, size_t max);

/* Appends one room's part "r/<room_id>\n{…}\n{…}" (a room topic's message, as the broker
 * publishes it on that topic) to the bundle b, writing the "b" topic line first when b is
 * empty. Allocation failure sets b->oom, as every sbuf call. */
void bundle_add_room(struct sbuf *b, const char *part, size_t part_len);

/* Reads a bundle's body (what follows its "b\n" topic line), event by event. */
struct bundle_reader {
	const char *p, *end;
	const char *room; /* the current room id (without "r/"), or NULL: its events are skipped */
	size_t room_len;
};

void bundle_reader_init(struct bundle_reader *rd, const char *body, size_t len);

/* The next event line: true with the room id it belongs to in *room and *room_len (pointing into
 * the body: the same pointer for every event of one room line) and the line in *json and *json_len
 * (not parsed: the caller checks it is a JSON object); false at the end of the body.
 * Refused without a word, as madang-ws always did: empty lines; events before any room line;
 * a room line that is not "r/" and 1..MADANG_ROOM_ID_MAX bytes (a carriage return counts as
 * part of the id), whose events are skipped up to the next room line. A line is an event when
 * it starts with '{', else a room line. */
bool bundle_next(struct bundle_reader *rd, const char **room, size_t *room_len, const char **json,
                 size_t *json_len);

#endif
