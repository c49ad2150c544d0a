/* jsonw.c — see jsonw.h. */
#include "jsonw.h"

#include <string.h>

void
jw_begin(struct jsonw *w, struct sbuf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* Writes what goes before a value: the comma after an earlier member, and "key":. Returns false
 * (and records the misuse) when the key does not fit where the writer is. */
static bool
jw_sep(struct jsonw *w, const char *key)
{
	if (w->misused)
		return false;
	if (w->depth == 0) {
		if (key != NULL || w->filled[0]) {
			w->misused = true; /* one top-level value only, and it has no key */
			return false;
		}
		return true;
	}
	size_t d = w->depth - 1;
	if ((key != NULL) == w->array[d]) {
		w->misused = true; /* objects take keys, arrays do not */
		return false;
	}
	if (w->filled[d])
		sbuf_addc(w->b, ',');
	w->filled[d] = true;
	if (key != NULL) {
		sbuf_addc(w->b, '"');
		sbuf_adds(w->b, key);
		sbuf_add(w->b, "\":", 2);
	}
	return true;
}

/* Marks a complete top-level value, so that a second one is refused. */
static void
jw_value_done(struct jsonw *w)
{
	if (w->depth == 0)
		w->filled[0] = true;
}

static void
jw_open(struct jsonw *w, const char *key, bool array)
{
	if (w->depth >= JSONW_DEPTH) {
		w->misused = true;
		return;
	}
	if (!jw_sep(w, key))
		return;
	sbuf_addc(w->b, array ? '[' : '{');
	w->array[w->depth] = array;
	w->filled[w->depth] = false;
	w->depth++;
}

void
jw_obj(struct jsonw *w, const char *key)
{
	jw_open(w, key, false);
}

void
jw_arr(struct jsonw *w, const char *key)
{
	jw_open(w, key, true);
}

void
jw_end(struct jsonw *w)
{
	if (w->misused)
		return;
	if (w->depth == 0) {
		w->misused = true;
		return;
	}
	w->depth--;
	sbuf_addc(w->b, w->array[w->depth] ? ']' : '}');
	jw_value_done(w);
}

void
jw_strn(struct jsonw *w, const char *key, const char *s, size_t n)
{
	if (!jw_sep(w, key))
		return;
	sbuf_add_jstr(w->b, s, n);
	jw_value_done(w);
}

void
jw_str(struct jsonw *w, const char *key, const char *s)
{
	jw_strn(w, key, s, strlen(s));
}

void
jw_int(struct jsonw *w, const char *key, int64_t v)
{
	if (!jw_sep(w, key))
		return;
	sbuf_addi(w->b, v);
	jw_value_done(w);
}

void
jw_bool(struct jsonw *w, const char *key, bool v)
{
	if (!jw_sep(w, key))
		return;
	if (v)
		sbuf_add(w->b, "true", 4);
	else
		sbuf_add(w->b, "false", 5);
	jw_value_done(w);
}

void
jw_null(struct jsonw *w, const char *key)
{
	if (!jw_sep(w, key))
		return;
	sbuf_add(w->b, "null", 4);
	jw_value_done(w);
}

void
jw_str_or_null(struct jsonw *w, const char *key, const char *s)
{
	if (s != NULL)
		jw_str(w, key, s);
	else
		jw_null(w, key);
}

void
jw_raw(struct jsonw *w, const char *key, const char *json, size_t n)
{
	if (!jw_sep(w, key))
		return;
	sbuf_add(w->b, json, n);
	jw_value_done(w);
}

bool
jw_ok(const struct jsonw *w)
{
	return !w->misused && w->depth == 0;
}
