/* validate.c — the syntax of room ids, nicknames, room names and message text. */
#include "validate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>

#include "utf8.h"

/* Nicknames nobody may take, written as their fold keys (lowercase, NFKC: each is its own key),
 * so that "SYSTEM", "ｓｙｓｔｅｍ" and the decomposed "시스템" are all refused. */
static const char *const nick_reserved_keys[] = {"system", "시스템"};

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

/* Characters that render as nothing, as blank, or reorder text, and so let one name look like
 * another: format characters (Cf: zero-width, bidi controls, U+1D173…), line and paragraph
 * separators, every Default_Ignorable_Code_Point (variation selectors, U+180B, Hangul fillers,
 * tags…), noncharacters, and the Braille blank U+2800. The web client tests the same sets
 * (web/js/validate.js). */
static bool
is_invisible(uint32_t cp)
{
	return cp == 0x2800 ||
	       uc_is_general_category_withtable(cp, UC_CATEGORY_MASK_Cf | UC_CATEGORY_MASK_Zl |
	                                                UC_CATEGORY_MASK_Zp) ||
	       uc_is_property_default_ignorable_code_point(cp) ||
	       uc_is_property_not_a_character(cp);
}

/* White space other than U+0020 (Zs and U+0085): trimmed at the ends, refused inside names. */
static bool
is_unicode_space(uint32_t cp)
{
	return cp == 0x85 || (cp != ' ' && uc_is_general_category(cp, UC_CATEGORY_Zs));
}

static bool
is_trim_space(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
	       cp == 0x2028 || cp == 0x2029 || is_unicode_space(cp);
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

/* The shared rules of nicknames and room names ("nickname" or "room name" in the reasons):
 * valid UTF-8, trimmed, NFC, 1..max_chars characters, no control or invisible character, no
 * white space but U+0020 inside. Writes the NFC form (NUL-terminated) to out. */
static bool
name_canonical(const char *what, const char *in, size_t len, size_t max_chars, char *out,
               size_t outsz, const char **why)
{
	static _Thread_local char reason[96];
	uint8_t nfc_buf[MADANG_NAME_INPUT_MAX * 3];
	const char *s = in;
	size_t n = len, chars = 0, nlen = sizeof(nfc_buf);
	uint8_t *nfc;
	bool ok = false;

	*why = NULL;
	if (in == NULL || !utf8_valid(in, len)) {
		snprintf(reason, sizeof(reason), "%s is not valid UTF-8", what);
		*why = reason;
		return false;
	}
	trim_utf8(&s, &n);
	if (n == 0) {
		snprintf(reason, sizeof(reason), "%s is empty", what);
		*why = reason;
		return false;
	}
	if (n > MADANG_NAME_INPUT_MAX) {
		snprintf(reason, sizeof(reason), "%s is longer than %zu characters", what,
		         max_chars);
		*why = reason;
		return false;
	}
	nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)s, n, nfc_buf, &nlen);
	if (nfc == NULL) {
		snprintf(reason, sizeof(reason), "%s cannot be normalised", what);
		*why = reason;
		return false;
	}
	for (size_t i = 0; i < nlen;) {
		uint32_t cp;
		size_t k = utf8_decode(nfc + i, nlen - i, &cp);

		if (k == 0 || is_control(cp)) {
			snprintf(reason, sizeof(reason), "%s contains a control character", what);
			goto out;
		}
		if (is_invisible(cp) || is_unicode_space(cp) || cp == 0x2028 || cp == 0x2029) {
			snprintf(reason, sizeof(reason),
			         "%s contains an invisible or formatting character", what);
			goto out;
		}
		i += k;
		chars++;
	}
	if (chars > max_chars || nlen >= outsz) {
		snprintf(reason, sizeof(reason), "%s is longer than %zu characters", what,
		         max_chars);
		goto out;
	}
	memcpy(out, nfc, nlen);
	out[nlen] = '\0';
	ok = true;
out:
	if (!ok)
		*why = reason;
	if (nfc != nfc_buf)
		free(nfc);
	return ok;
}

/* Writes the NFKC case-folded form of s to out; false when it does not fit. */
static bool
fold_key(const char *s, size_t n, char *out, size_t outsz)
{
	size_t klen = outsz;
	uint8_t *key =
	    u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFKC, (uint8_t *)out, &klen);

	if (key == NULL)
		return false;
	if (key != (uint8_t *)out) { /* did not fit in out: libunistring allocated it */
		free(key);
		return false;
	}
	if (klen >= outsz)
		return false;
	out[klen] = '\0';
	return true;
}

bool
nick_canonical(const char *in, size_t len, char *out, size_t outsz, const char **why)
{
	char key[MADANG_NICK_MAX_BYTES + 1], canon[MADANG_NICK_MAX_BYTES + 1];

	if (!name_canonical("nickname", in, len, MADANG_NICK_MAX_CHARS, canon, sizeof(canon), why))
		return false;
	if (!fold_key(canon, strlen(canon), key, sizeof(key))) {
		*why = "nickname is too long once normalised";
		return false;
	}
	for (size_t i = 0; i < sizeof(nick_reserved_keys) / sizeof(nick_reserved_keys[0]); i++) {
		if (strcmp(key, nick_reserved_keys[i]) == 0) {
			*why = "nickname is reserved";
			return false;
		}
	}
	if (strlen(canon) >= outsz) {
		*why = "nickname is longer than 32 characters";
		return false;
	}
	memcpy(out, canon, strlen(canon) + 1);
	return true;
}

void
nick_fold(const char *canon, char *out, size_t outsz)
{
	size_t n = strlen(canon);

	if (outsz == 0)
		return;
	if (!fold_key(canon, n, out, outsz)) {
		/* Only for input nick_canonical() would refuse: keep such keys distinct from
		 * every canonical one by not folding them at all. */
		snprintf(out, outsz, "%s", canon);
	}
}

bool
room_name_canonical(const char *in, size_t len, char *out, size_t outsz, const char **why)
{
	return name_canonical("room name", in, len, MADANG_ROOM_NAME_MAX, out, outsz, why);
}

bool
valid_room_name(const char *s, size_t len, const char **why)
{
	char canon[MADANG_ROOM_NAME_MAX_BYTES + 1];

	return room_name_canonical(s, len, canon, sizeof(canon), why);
}

/* What text_scan finds wrong with a text, the first thing in it. */
enum text_fault { TEXT_OK, TEXT_BAD_UTF8, TEXT_CONTROL, TEXT_BLANK };

/* Walks len bytes of text: not valid UTF-8, a control character (tab, CR and LF allowed when
 * lines), only white space, or TEXT_OK. */
static enum text_fault
text_scan(const char *s, size_t len, bool lines)
{
	bool visible = false;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = utf8_decode((const unsigned char *)s + i, len - i, &cp);

		if (k == 0)
			return TEXT_BAD_UTF8;
		if (is_control(cp) && !(lines && (cp == '\t' || cp == '\n' || cp == '\r')))
			return TEXT_CONTROL;
		if (!is_trim_space(cp))
			visible = true;
		i += k;
	}
	return visible ? TEXT_OK : TEXT_BLANK;
}

bool
valid_text(const char *s, size_t len, const char **why)
{
	static const char *const faults[] = {
	    [TEXT_BAD_UTF8] = "message is not valid UTF-8",
	    [TEXT_CONTROL] = "message contains a control character",
	    [TEXT_BLANK] = "message is empty",
	};
	enum text_fault f;

	if (s == NULL || len == 0) {
		*why = "message is empty";
		return false;
	}
	if (len > MADANG_TEXT_MAX) {
		*why = "message is longer than 4096 bytes";
		return false;
	}
	if ((f = text_scan(s, len, true)) != TEXT_OK)
		*why = faults[f];
	return f == TEXT_OK;
}

bool
valid_note(const char *s, size_t len, const char **why)
{
	static const char *const faults[] = {
	    [TEXT_BAD_UTF8] = "reason is not valid UTF-8",
	    [TEXT_CONTROL] = "reason must be one line without control characters",
	    [TEXT_BLANK] = "reason is only white space",
	};
	enum text_fault f;

	if (len == 0)
		return true;
	if (len > MADANG_NOTE_MAX) {
		*why = "reason is longer than 256 bytes";
		return false;
	}
	if ((f = text_scan(s, len, false)) != TEXT_OK)
		*why = faults[f];
	return f == TEXT_OK;
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
