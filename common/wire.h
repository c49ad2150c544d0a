/* wire.h — the JSON codec shared by the daemons: checked parsing, typed field access, replies,
 * and the topic framing of broker events ("r/<room>\n{json}", "f/<frontend>\n{json}"). */
#ifndef MADANG_WIRE_H
#define MADANG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "limits.h"

#define WIRE_TOPIC_ROOM     'r' /* r/<room_id>\n : room events (seq-numbered, and typing) */
#define WIRE_TOPIC_FRONTEND 'f' /* f/<frontend_id>\n : events for one front-end */
#define WIRE_TOPIC_ALL      "a\n" /* events for every front-end (rooms created/deleted) */
#define WIRE_TOPIC_ROOMS    "r/"  /* the prefix of every room's topic */
#define WIRE_TOPIC_BUNDLE   "b\n" /* rooms' events: each "r/<room_id>" line, then its events */
#define WIRE_TOPIC_MAX      (2 + MADANG_ROOM_ID_MAX + 1)

/* Parses len bytes (not necessarily NUL-terminated) into a JSON object. Refuses, with a human
 * reason in *why: more than max bytes, invalid UTF-8, nesting deeper than MADANG_JSON_DEPTH_MAX,
 * a "\u0000" escape, syntax errors, trailing garbage, and anything but an object.
 * Returns the object (cJSON_Delete it) or NULL. */
cJSON *wire_parse_object(const char *buf, size_t len, size_t max, const char **why);

/* Field access that checks types. wire_str returns NULL when the key is absent or not a string. */
const char *wire_str(const cJSON *obj, const char *key, size_t *len);
/* True when key holds an integer-valued number within +-2^53 (stored in *out). */
bool wire_int(const cJSON *obj, const char *key, int64_t *out);
/* True when key holds a boolean (stored in *out). */
bool wire_bool(const cJSON *obj, const char *key, bool *out);
/* True when key is present (any type, null included). */
bool wire_has(const cJSON *obj, const char *key);

/* {"ok":false,"error":code,"message":message} */
cJSON *wire_error(const char *code, const char *message);
/* {"ok":true} */
cJSON *wire_ok(void);

/* Writes the topic prefix for kind ('r' or 'f') and id, with its trailing newline; returns its
 * length (0 if it does not fit). */
size_t wire_topic(char *buf, size_t size, char kind, const char *id);
/* Splits an event body into topic (without the newline) and JSON. False when malformed. */
bool wire_split_event(const char *body, size_t len, const char **topic, size_t *topic_len,
		      const char **json, size_t *json_len);

#endif
