// names.mjs — runs tests/unit/name-cases.json through the web client's name rules
// (web/js/validate.js) and prints one result per case as JSON, for test_common to compare with
// common/validate.c: [{"nick": canonical|null, "key": fold key|null, "room": canonical|null}].
import { readFileSync } from 'node:fs';
import { checkNickname, checkRoomName, nameKey } from '../../web/js/validate.js';

const { cases } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = cases.map((c) => {
	const input = c.in.repeat(c.repeat ?? 1);
	const nick = checkNickname(input);
	const room = checkRoomName(input);
	return {
		nick: nick.ok ? nick.value : null,
		key: nick.ok ? nameKey(nick.value) : null,
		room: room.ok ? room.value : null,
	};
});
process.stdout.write(JSON.stringify(out));
