/* sbuf.h — a growable byte buffer with JSON-string escaping, for building wire messages fast. */
#ifndef MADANG_SBUF_H
#define MADANG_SBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* set once an allocation failed; later appends are ignored */
};

void sbuf_init(struct sbuf *b);
void sbuf_fini(struct sbuf *b);
void sbuf_reset(struct sbuf *b);
/* Makes room for n more bytes; returns false (and sets oom) when memory runs out. */
bool sbuf_reserve(struct sbuf *b, size_t n);
void sbuf_add(struct sbuf *b, const void *p, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addc(struct sbuf *b, char c);
void sbuf_addi(struct sbuf *b, int64_t v);
void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string. s must be valid UTF-8; control characters are escaped. */
void sbuf_add_jstr(struct sbuf *b, const char *s, size_t n);
/* NUL-terminates and hands the bytes to the caller (free() them); the buffer is left empty. */
char *sbuf_detach(struct sbuf *b, size_t *len);

#endif
