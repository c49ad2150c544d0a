/* utf8.h — strict UTF-8 decoding (no overlongs, no surrogates, nothing above U+10FFFF). */
#ifndef MADANG_UTF8_H
#define MADANG_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one code point at s[0..len). Returns its byte length (1..4) and sets *cp,
 * or returns 0 for an invalid or truncated sequence. */
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
/* Encodes cp into out (at least 4 bytes); returns the byte length, 0 if cp is invalid. */
size_t utf8_encode(uint32_t cp, unsigned char *out);
bool utf8_valid(const char *s, size_t len);
/* Valid UTF-8 with no C0 control byte and no DEL: one line of text that is safe in a log
 * (subjects, moderators' reasons). */
bool utf8_line_ok(const char *s, size_t len);
/* Number of code points in valid UTF-8, or SIZE_MAX when invalid. */
size_t utf8_count(const char *s, size_t len);
/* The longest prefix of valid UTF-8 s[0..len) that fits in max bytes and ends on a character
 * boundary: len when it fits, else max moved back over continuation bytes. */
size_t utf8_prefix(const char *s, size_t len, size_t max);

#endif
