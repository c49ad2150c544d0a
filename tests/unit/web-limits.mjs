// web-limits.mjs — prints, as one JSON object, every size limit the web client applies: the
// constants of web/js/validate.js, the limits its checks really enforce (the longest input each
// accepts), the maxlength attributes of web/index.html and the numbers its messages tell the
// person (web/js/i18n.js, every language). test_web_limits compares each with common/limits.h.
import { readFileSync } from 'node:fs';
import * as v from '../../web/js/validate.js';
import { LANGS } from '../../web/js/i18n.js';

const root = process.argv[2] ?? '.';

/* The largest n in 0..cap for which ok(n) holds, assuming ok holds below some bound and fails
 * above it; cap + 1 when it still holds at cap (no limit found). */
function longest(ok, cap = 100000) {
	if (ok(cap)) return cap + 1;
	let lo = 0;
	let hi = cap; /* ok(lo) or lo = 0; !ok(hi) */
	while (hi - lo > 1) {
		const mid = Math.floor((lo + hi) / 2);
		if (ok(mid)) lo = mid;
		else hi = mid;
	}
	return lo;
}

/* maxlength of the element with this id in index.html: a number, or null when it has none. */
function maxlength(html, id) {
	const tag = html.match(new RegExp(`<(?:input|textarea)\\b[^>]*\\bid="${id}"[^>]*>`, 's'));
	if (tag === null) return 'missing';
	const m = tag[0].match(/\bmaxlength="(\d+)"/);
	return m ? Number(m[1]) : null;
}

/* The largest number written in each message, per language: {key: {en: 64, ko: 64}}. */
function toldNumbers(keys) {
	const out = {};
	for (const key of keys) {
		out[key] = {};
		for (const [lang, table] of Object.entries(LANGS)) {
			const nums = (table[key] ?? '').match(/\d+/g) ?? [];
			out[key][lang] = nums.length ? Math.max(...nums.map(Number)) : null;
		}
	}
	return out;
}

const html = readFileSync(`${root}/web/index.html`, 'utf8');
const reserved = ['system', 'System', 'SYSTEM', 'ｓｙｓｔｅｍ', '시스템', '\u1109\u1175\u1109\u1173\u1110\u1166\u11b7'];

process.stdout.write(
	JSON.stringify({
		constants: {
			nick_max_chars: v.NICK_MAX_CHARS,
			nick_key_max_bytes: v.NICK_KEY_MAX_BYTES,
			name_input_max_bytes: v.NAME_INPUT_MAX_BYTES,
			message_max_bytes: v.MESSAGE_MAX_BYTES,
			room_name_max_chars: v.ROOM_NAME_MAX_CHARS,
		},
		enforced: {
			nick_max_chars: longest((n) => v.checkNickname('가'.repeat(n)).ok, 10000),
			room_id_max: longest((n) => v.ROOM_ID_RE.test('a'.repeat(n)), 10000),
			room_name_max_chars: longest((n) => v.checkRoomName('가'.repeat(n)).ok, 10000),
			message_max_bytes: longest((n) => v.checkMessage('a'.repeat(n)).ok, 1000000),
		},
		reserved: Object.fromEntries(reserved.map((r) => [r, v.checkNickname(r).error === 'reserved'])),
		html: {
			'create-id': maxlength(html, 'create-id'),
			'create-name': maxlength(html, 'create-name'),
			nickname: maxlength(html, 'nickname'),
			'message-input': maxlength(html, 'message-input'),
		},
		told: toldNumbers([
			'rooms.create.id.hint',
			'rooms.create.err.id',
			'rooms.create.err.name',
			'join.hint',
			'nick.err.too_long',
			'chat.too.long',
		]),
	}),
);
