// moderation.js — the client's rules for moderation (docs/moderation.md): who sees the menus,
// which messages get a "Delete" button, the reason's size, the mute lengths offered, and the end
// time of a mute or a ban. Pure: no DOM, no I/O.

import { utf8Length } from './validate.js';

/* The roles joined.role and the `role` frame name, highest first. */
export const ROLES = Object.freeze(['admin', 'owner', 'moderator', 'member']);
/* Only these three see the moderation menus. */
export const MODERATOR_ROLES = Object.freeze(['admin', 'owner', 'moderator']);
/* MADANG_NOTE_MAX: a reason is 0–256 bytes of UTF-8, counted as the message box counts. */
export const NOTE_MAX_BYTES = 256;
/* The mute lengths the member menu offers: 10 minutes and 1 hour. */
export const MUTE_CHOICES_S = Object.freeze([600, 3600]);
/* The WebSocket commands of moderation; an error or `done` naming one of them answers one. */
export const MODERATION_REQUESTS = Object.freeze(new Set(['kick', 'ban', 'unban', 'mute', 'unmute',
	'delete_message', 'slow_mode']));

/* True when a member with this role in the room gets the member and message menus. */
export function canModerate(role) {
	return MODERATOR_ROLES.includes(role);
}

/* Which "Delete" button a message gets: 'moderator' (moderators, owners and admins, on every
 * message), 'own' (a member whose connection presented a token, on its own messages only), or
 * null for none. The broker lets a member delete a message only when the token that sent it had
 * the same subject as the member's; without a token a nickname proves nothing, so nothing is
 * offered. Never on a tombstone, nor on what has no seq yet (a message still in the outbox, a
 * notice). moderator: canModerate(role); withToken: the connection joined with a token; own: the
 * message's sender is us (RoomState.isMe). */
export function deleteChoice({ moderator, withToken, own, seq, deleted }) {
	if (!Number.isInteger(seq) || seq <= 0 || deleted === true) return null;
	if (moderator === true) return 'moderator';
	return withToken === true && own === true ? 'own' : null;
}

/* The notice for a role that changed while we were in the room (a `role` frame, or a later
 * joined): the i18n key, or null when nothing changed or a role is not one of ROLES. Gaining a
 * role names it ("You are now a moderator of this room."); falling back to member names the
 * role that was lost ("You are no longer a moderator of this room."). */
export function roleNotice(previous, role) {
	if (previous === role || !ROLES.includes(previous) || !ROLES.includes(role)) return null;
	return role === 'member' ? `chat.role.lost.${previous}` : `chat.role.${role}`;
}

/* A reason as typed: {ok: true, note} with the trimmed text ('' for none), or {ok: false, error:
 * 'too_long' | 'control', bytes}. The servers' rule (valid_note, docs/moderation.md): one line,
 * no control character at all, tab and line breaks included. */
export function checkNote(text) {
	const note = String(text ?? '').trim();
	const bytes = utf8Length(note);
	if (/[\u0000-\u001F\u007F-\u009F]/.test(note)) return { ok: false, error: 'control', bytes };
	if (bytes > NOTE_MAX_BYTES) return { ok: false, error: 'too_long', bytes };
	return { ok: true, note, bytes };
}

/* The frame of a moderation command: {type, room_id, …fields}, with `reason` only when given. */
export function moderationFrame(roomId, type, { user, seq, durationS, note } = {}) {
	const frame = { type, room_id: roomId };
	if (user !== undefined) frame.user = user;
	if (seq !== undefined) frame.seq = seq;
	if (durationS !== undefined) frame.duration_s = durationS;
	if (note) frame.reason = note;
	return frame;
}

/* An ISO-8601 end time as epoch milliseconds; null for none (`null`, absent, unreadable). */
export function parseUntil(value) {
	if (typeof value !== 'string' || value === '') return null;
	const ms = Date.parse(value);
	return Number.isNaN(ms) ? null : ms;
}

/* An end time in words for the person: the time alone today, with the day otherwise, with the
 * year in another year ("14:05", "Dec 7, 14:05"), in the language lang. */
export function formatUntil(ms, lang, now = Date.now()) {
	const date = new Date(ms);
	const today = new Date(now);
	const options = { hour: '2-digit', minute: '2-digit' };
	if (date.toDateString() !== today.toDateString()) Object.assign(options, { month: 'short', day: 'numeric' });
	if (date.getFullYear() !== today.getFullYear()) options.year = 'numeric';
	return new Intl.DateTimeFormat(lang, options).format(date);
}
