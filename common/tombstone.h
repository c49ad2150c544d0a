/* tombstone.h — a deleted message as history keeps it (docs/moderation.md, "tombstone"): the
 * same message event, same seq, sender and time, with "message":"", "deleted":true, the
 * moderator's reason as "note" when one was given, and no client_id. The broker writes it into
 * its ring and store (delete_message); madang-ws puts the same bytes in place of the message
 * in its room logs when the room's message_deleted event arrives, so that no later joiner on
 * that front-end gets the text. Pure: no I/O, no globals. */
#ifndef MADANG_TOMBSTONE_H
#define MADANG_TOMBSTONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The seq a message_deleted event ev names (its deleted_seq): true and *seq, or false when ev
 * is no message_deleted event or has no usable deleted_seq. */
bool tombstone_target(const cJSON *ev, uint64_t *seq);

/* The tombstone of message event json[0..len), with note (the deletion's reason; NULL: none),
 * as a malloc'd string of *out_len bytes. When sender is not NULL, the message's sender is
 * copied there (sender_size bytes at most) and a message without one has no tombstone. NULL
 * when it is not a message event (type "message"), is one already, or memory runs out. */
char *tombstone_json(const char *json, size_t len, const char *note, size_t *out_len, char *sender,
                     size_t sender_size);

#endif
