/* validate.c — the syntax of room ids, nicknames, room names and message text. */
#include "validate.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

bool
valid_room_id(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > MADANG_ROOM_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/* Characters that render as nothing (or reorder text) and so let one nickname look like another. */
static bool
is_invisible(uint32_t cp)
{
	return cp == 0x00ad || cp == 0x034f || cp == 0x061c || cp == 0x115f || cp == 0x1160 ||
	       cp == 0x17b4 || cp == 0x17b5 || cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) ||
	       cp == 0x3164 || cp == 0xfeff || cp == 0xffa0 || (cp >= 0xfff0 && cp <= 0xfffb) ||
	       (cp >= 0xe0000 && cp <= 0xe0fff) || (cp & 0xfffe) == 0xfffe ||
	       (cp >= 0xfdd0 && cp <= 0xfdef);
}

static bool
is_unicode_space(uint32_t cp)
{
	return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static bool
is_trim_space(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
	       is_unicode_space(cp);
}

/* Trims leading and trailing white space of valid UTF-8 in place (adjusts *s and *len). */
static void
trim_utf8(const char **s, size_t *len)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t n = *len;
	uint32_t cp;
	size_t k;

	while (n > 0 && (k = utf8_decode(p, n, &cp)) > 0 && is_trim_space(cp)) {
		p += k;
		n -= k;
	}
	/* Walk forwards remembering where the last non-space character ended. */
	size_t end = 0, i = 0;
	while (i < n && (k = utf8_decode(p + i, n - i, &cp)) > 0) {
		i += k;
		if (!is_trim_space(cp))
			end = i;
	}
	*s = (const char *)p;
	*len = end;
}

static bool
ascii_ieq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x + 32);
		if (x != y)
			return false;
	}
	return true;
}

bool
nick_canonical(const char *in, size_t len, char *out, size_t outsz, const char **why)
{
	const char *s = in;
	size_t n = len, chars = 0;

	*why = NULL;
	if (in == NULL || !utf8_valid(in, len)) {
		*why = "nickname is not valid UTF-8";
		return false;
	}
	trim_utf8(&s, &n);
	if (n == 0) {
		*why = "nickname is empty";
		return false;
	}
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)s + i, n - i, &cp);

		if (is_control(cp)) {
			*why = "nickname contains a control character";
			return false;
		}
		if (is_invisible(cp) || (cp != ' ' && is_unicode_space(cp))) {
			*why = "nickname contains an invisible or formatting character";
			return false;
		}
		i += k;
		chars++;
	}
	if (chars > MADANG_NICK_MAX_CHARS || n >= outsz) {
		*why = "nickname is longer than 32 characters";
		return false;
	}
	if (ascii_ieq(s, n, "system") || (n == strlen("시스템") && memcmp(s, "시스템", n) == 0)) {
		*why = "nickname is reserved";
		return false;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* Simple one-to-one case folding for the scripts where it matters most; others are unchanged. */
static uint32_t
fold_cp(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if (c < 0xc0)
		return c;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c >= 0x100 && c <= 0x137 && (c & 1) == 0)
		return c + 1;
	if (c >= 0x139 && c <= 0x148 && (c & 1) == 1)
		return c + 1;
	if (c >= 0x14a && c <= 0x177 && (c & 1) == 0)
		return c + 1;
	if (c == 0x178)
		return 0xff;
	if (c >= 0x179 && c <= 0x17e && (c & 1) == 1)
		return c + 1;
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c >= 0xff21 && c <= 0xff3a) /* full-width A-Z folds to ASCII a-z */
		return c - 0xff21 + 'a';
	if (c >= 0xff41 && c <= 0xff5a)
		return c - 0xff41 + 'a';
	return c;
}

void
nick_fold(const char *canon, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)canon;
	size_t n = strlen(canon), o = 0;

	while (n > 0) {
		uint32_t cp;
		unsigned char buf[4];
		size_t k = utf8_decode(p, n, &cp);

		if (k == 0) { /* not canonical: copy the byte so that keys stay distinct */
			cp = 0xfffd;
			k = 1;
		}
		size_t e = utf8_encode(fold_cp(cp), buf);
		if (o + e >= outsz)
			break;
		memcpy(out + o, buf, e);
		o += e;
		p += k;
		n -= k;
	}
	out[o] = '\0';
}

bool
valid_room_name(const char *s, size_t len, const char **why)
{
	size_t chars = 0;

	if (s == NULL || !utf8_valid(s, len)) {
		*why = "room name is not valid UTF-8";
		return false;
	}
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)s + i, len - i, &cp);

		if (is_control(cp)) {
			*why = "room name contains a control character";
			return false;
		}
		i += k;
		chars++;
	}
	if (chars == 0 || chars > MADANG_ROOM_NAME_MAX) {
		*why = "room name must have 1 to 100 characters";
		return false;
	}
	return true;
}

bool
valid_text(const char *s, size_t len, const char **why)
{
	bool visible = false;

	if (s == NULL || len == 0) {
		*why = "message is empty";
		return false;
	}
	if (len > MADANG_TEXT_MAX) {
		*why = "message is longer than 4096 bytes";
		return false;
	}
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)s + i, len - i, &cp);

		if (k == 0) {
			*why = "message is not valid UTF-8";
			return false;
		}
		if (is_control(cp) && cp != '\t' && cp != '\n' && cp != '\r') {
			*why = "message contains a control character";
			return false;
		}
		if (!is_trim_space(cp))
			visible = true;
		i += k;
	}
	if (!visible) {
		*why = "message is empty";
		return false;
	}
	return true;
}

bool
valid_token(const char *s, size_t len, size_t max)
{
	if (s == NULL || len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
			return false;
	}
	return true;
}
