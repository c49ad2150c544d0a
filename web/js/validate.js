// validate.js — the same input rules as the broker (docs/broker-protocol.md), checked before
// anything is sent so that the person sees the reason in words at once. Pure: no DOM, no I/O.

export const NICK_MAX_CHARS = 32;
export const MESSAGE_MAX_BYTES = 4096;
export const ROOM_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const ROOM_NAME_MAX_CHARS = 64;

/* Control (Cc), format (Cf: zero-width, bidi controls, soft hyphen…), line/paragraph separators,
 * and the other invisible fillers Unicode does not put in Cf. */
const INVISIBLE_RE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0\u2800\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/u;

/* Returns {ok: true, value} with the trimmed nickname, or {ok: false, error} where error is one
 * of 'empty', 'too_long', 'control', 'reserved' (keys nick.err.* in i18n.js). */
export function checkNickname(raw) {
	const value = String(raw ?? '').trim();
	if (value === '') return { ok: false, error: 'empty' };
	if (INVISIBLE_RE.test(value)) return { ok: false, error: 'control' };
	if ([...value].length > NICK_MAX_CHARS) return { ok: false, error: 'too_long' };
	if (value.toLowerCase() === 'system') return { ok: false, error: 'reserved' };
	return { ok: true, value };
}

export function sameNickname(a, b) {
	return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
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
	const trimmed = String(name ?? '').trim();
	if (trimmed === '' || [...trimmed].length > ROOM_NAME_MAX_CHARS || INVISIBLE_RE.test(trimmed)) {
		return { ok: false, error: 'name' };
	}
	return { ok: true, id, name: trimmed };
}
