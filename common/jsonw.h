/* jsonw.h — a JSON writer over an sbuf that places the commas and colons itself.
 *
 * Replies and events were built from hand-placed separators ("{\"ok\":true," then a key, then
 * ","...), where one missing comma is invalid JSON that only a test with that exact branch
 * would catch. A writer keeps, per open object or array, whether something was written in it,
 * and writes the separator before each member. No allocation beyond the sbuf's own: it costs a
 * byte of state per level and a branch per member.
 *
 *   struct jsonw w;
 *   jw_begin(&w, out);             // out: the sbuf to append to (not reset)
 *   jw_obj(&w, NULL);              // {
 *   jw_bool(&w, "ok", true);       //  "ok":true
 *   jw_int(&w, "seq", 7);          //  ,"seq":7
 *   jw_arr(&w, "users");           //  ,"users":[
 *   jw_str(&w, NULL, "alice");     //   "alice"
 *   jw_end(&w);                    //  ]
 *   jw_end(&w);                    // }
 *   assert(jw_ok(&w));
 *
 * Keys are the program's own constants: written as they are, never escaped, so they must be
 * plain ASCII without '"' or '\\' (every key of madang's protocols is). Values given as strings
 * are escaped (sbuf_add_jstr: valid UTF-8 in, control characters escaped). Inside an object a
 * member needs a key; inside an array or at the top level, the key must be NULL. A misuse
 * (a key where none belongs or the reverse, more than JSONW_DEPTH levels, jw_end with nothing
 * open) writes nothing and makes jw_ok() false, so a test catches it; it never writes outside
 * the buffer. Out of memory is the sbuf's `oom`, as with any sbuf. */
#ifndef MADANG_JSONW_H
#define MADANG_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

#define JSONW_DEPTH 8

struct jsonw {
	struct sbuf *b;
	uint8_t depth;
	bool misused;
	/* Per open level: whether it is an array, and whether it already holds a member. */
	bool array[JSONW_DEPTH];
	bool filled[JSONW_DEPTH];
};

/* Starts writing at the end of b. */
void jw_begin(struct jsonw *w, struct sbuf *b);
/* Opens an object or array (as member `key`, or as an element/top-level value when key is NULL). */
void jw_obj(struct jsonw *w, const char *key);
void jw_arr(struct jsonw *w, const char *key);
/* Closes the innermost open object or array. */
void jw_end(struct jsonw *w);
/* Members or elements. jw_str takes a NUL-terminated string, jw_strn n bytes. */
void jw_str(struct jsonw *w, const char *key, const char *s);
void jw_strn(struct jsonw *w, const char *key, const char *s, size_t n);
void jw_int(struct jsonw *w, const char *key, int64_t v);
void jw_bool(struct jsonw *w, const char *key, bool v);
void jw_null(struct jsonw *w, const char *key);
/* jw_str of s, or jw_null when s is NULL. */
void jw_str_or_null(struct jsonw *w, const char *key, const char *s);
/* A value that is already JSON (n bytes), written as it is: the caller vouches for it. */
void jw_raw(struct jsonw *w, const char *key, const char *json, size_t n);
/* True when nothing was misused and every object and array opened was closed. */
bool jw_ok(const struct jsonw *w);

#endif
