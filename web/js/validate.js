// validate.js — the same input rules as the broker (docs/broker-protocol.md), checked before
// anything is sent so that the person sees the reason in words at once. Pure: no DOM, no I/O.

export const NICK_MAX_CHARS = 32;
export const NICK_KEY_MAX_BYTES = 128; /* MADANG_NICK_MAX_BYTES: the fold key must fit */
export const NAME_INPUT_MAX_BYTES = 1024; /* MADANG_NAME_INPUT_MAX, before normalising */
export const MESSAGE_MAX_BYTES = 4096;
export const ROOM_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const ROOM_NAME_MAX_CHARS = 100;

/* The name rules of common/validate.c, code point set for code point set (one case list,
 * tests/unit/name-cases.json, is run through both by test_common):
 * trimmed at both ends of white space (tab..CR, U+0085, Zs, U+2028/9), then NFC; refused inside:
 * controls (Cc), format characters (Cf), line/paragraph separators, every default-ignorable
 * code point (variation selectors, U+180B, Hangul fillers, tags…), noncharacters, lone
 * surrogates, the Braille blank U+2800, and white space other than U+0020. */
const SPACE = '\\t\\n\\v\\f\\r \\u0085\\u2028\\u2029\\p{Zs}';
const TRIM_RE = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, 'gu');
const INVISIBLE_RE =
	/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}\u2800]/u;
const INNER_SPACE_RE = /[\u0085\p{Zs}]/u;
const RESERVED = ['system', '시스템'];

/* The key names are compared by (uniqueness, reserved names): NFKC with case folding, as the
 * broker's u8_casefold(..., UNINORM_NFKC). Upper- then lower-casing gives full case folding
 * (ß → ss, ς → σ) for every script people type nicknames in. */
export function nameKey(value) {
	return String(value).normalize('NFKD').toUpperCase().toLowerCase().normalize('NFKC');
}

/* The shared part: {ok: true, value} with the trimmed NFC name, or {ok: false, error}. */
function checkName(raw, maxChars) {
	const trimmed = String(raw ?? '').replace(TRIM_RE, '');
	if (trimmed === '') return { ok: false, error: 'empty' };
	if (utf8Length(trimmed) > NAME_INPUT_MAX_BYTES) return { ok: false, error: 'too_long' };
	if (/\p{Cs}/u.test(trimmed)) return { ok: false, error: 'control' };
	const value = trimmed.normalize('NFC');
	for (const ch of value) {
		if (INVISIBLE_RE.test(ch) || (ch !== ' ' && INNER_SPACE_RE.test(ch))) {
			return { ok: false, error: 'control' };
		}
	}
	if ([...value].length > maxChars) return { ok: false, error: 'too_long' };
	return { ok: true, value };
}

/* Returns {ok: true, value} with the trimmed, NFC nickname, or {ok: false, error} where error is
 * one of 'empty', 'too_long', 'control', 'reserved' (keys nick.err.* in i18n.js). */
export function checkNickname(raw) {
	const checked = checkName(raw, NICK_MAX_CHARS);
	if (!checked.ok) return checked;
	const key = nameKey(checked.value);
	if (utf8Length(key) > NICK_KEY_MAX_BYTES) return { ok: false, error: 'too_long' };
	if (RESERVED.some((r) => nameKey(r) === key)) return { ok: false, error: 'reserved' };
	return checked;
}

/* A room's display name: the nickname rules with 1..100 characters and nothing reserved. */
export function checkRoomName(raw) {
	return checkName(raw, ROOM_NAME_MAX_CHARS);
}

export function sameNickname(a, b) {
	return typeof a === 'string' && typeof b === 'string' && nameKey(a) === nameKey(b);
}

export function utf8Length(text) {
	return new TextEncoder().encode(text).length;
}

/* Control characters other than tab, CR and LF, which madang-ws refuses in message text. */
const MESSAGE_CONTROL_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/* A message is sendable when it is not only white space, has no control characters but tab, CR
 * and LF, and fits in MESSAGE_MAX_BYTES. */
export function checkMessage(text) {
	if (String(text).trim() === '') return { ok: false, error: 'empty' };
	if (MESSAGE_CONTROL_RE.test(text)) return { ok: false, error: 'control' };
	const bytes = utf8Length(text);
	if (bytes > MESSAGE_MAX_BYTES) return { ok: false, error: 'too_long', bytes };
	return { ok: true };
}

export function checkRoom(id, name) {
	if (!ROOM_ID_RE.test(String(id ?? ''))) return { ok: false, error: 'id' };
	const checked = checkRoomName(name);
	if (!checked.ok) return { ok: false, error: 'name' };
	return { ok: true, id, name: checked.value };
}
