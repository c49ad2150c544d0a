// client-logic.test.mjs — the browser client's pure parts, run in Node without a browser: input
// rules, backoff, outbox, room state (resume and dedupe), the connection's state machine driven
// through a scripted socket, and the completeness of the ko/en string tables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Backoff } from '../../web/js/backoff.js';
import { RoomConnection, isFatalClose } from '../../web/js/connection.js';
import { LANGS, detectLanguage } from '../../web/js/i18n.js';
import { Outbox, randomPrefix } from '../../web/js/outbox.js';
import { splitLinks } from '../../web/js/links.js';
import { Pacer } from '../../web/js/pacer.js';
import { renewAt, tokenExpiry } from '../../web/js/token.js';
import { RoomState } from '../../web/js/room-state.js';
import { checkMessage, checkNickname, checkRoom } from '../../web/js/validate.js';
import {
	NOTE_MAX_BYTES, canModerate, checkNote, deleteChoice, formatUntil, moderationFrame, parseUntil, roleNotice,
} from '../../web/js/moderation.js';

describe('nickname rules (docs/broker-protocol.md)', () => {
	it('accepts 1 to 32 characters, trimmed, counted as characters not bytes', () => {
		assert.deepEqual(checkNickname('  alice '), { ok: true, value: 'alice' });
		assert.equal(checkNickname('가'.repeat(32)).ok, true);
		assert.equal(checkNickname('😀'.repeat(32)).ok, true);
		assert.deepEqual(checkNickname('a'.repeat(33)), { ok: false, error: 'too_long' });
	});
	it('refuses empty, control, invisible and bidi characters, and "system" in any case', () => {
		assert.deepEqual(checkNickname('   '), { ok: false, error: 'empty' });
		for (const bad of ['a\u0007b', 'a\u200bb', 'a\u202eb', 'a\u2066b', 'a\u00adb', 'a\nb', 'a\u3164b']) {
			assert.deepEqual(checkNickname(bad), { ok: false, error: 'control' }, JSON.stringify(bad));
		}
		assert.deepEqual(checkNickname('System'), { ok: false, error: 'reserved' });
		assert.equal(checkNickname('systems').ok, true);
	});
	it('limits messages to 4096 bytes of UTF-8 that are not only white space', () => {
		assert.equal(checkMessage(' \n ').ok, false);
		assert.equal(checkMessage('a'.repeat(4096)).ok, true);
		assert.deepEqual(checkMessage('가'.repeat(1366)), { ok: false, error: 'too_long', bytes: 4098 });
		assert.equal(checkMessage('tab\tcr\r\nlf').ok, true);
		assert.deepEqual(checkMessage('bell\u0007'), { ok: false, error: 'control' });
		assert.deepEqual(checkMessage('del\u007f'), { ok: false, error: 'control' });
	});
	it('checks room ids and names like the broker', () => {
		assert.equal(checkRoom('jazz_2-b', 'Jazz').ok, true);
		assert.deepEqual(checkRoom('no spaces', 'x'), { ok: false, error: 'id' });
		assert.deepEqual(checkRoom('x'.repeat(65), 'x'), { ok: false, error: 'id' });
		assert.deepEqual(checkRoom('ok', '  '), { ok: false, error: 'name' });
	});
});

describe('backoff', () => {
	it('starts at 0.25 s, doubles, stops at 5 s', () => {
		const b = new Backoff({ random: () => 0.5 });
		assert.deepEqual(Array.from({ length: 8 }, () => b.next()), [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
		b.reset();
		assert.equal(b.next(), 250);
	});
	it('jitters by ±50 %, so a client is back at most 7.5 s after the server', () => {
		assert.equal(new Backoff({ random: () => 0 }).next(), 125);
		assert.equal(new Backoff({ random: () => 0.999999 }).next(), 375);
		const far = new Backoff({ random: () => 0.999999 });
		for (let i = 0; i < 10; i += 1) far.next();
		assert.equal(far.next(), 7500);
	});
});

describe('outbox', () => {
	it('gives unique ids, sends each entry once per socket and again only after a loss', () => {
		const box = new Outbox('cabc');
		const a = box.add('one');
		const b = box.add('two');
		assert.notEqual(a.clientId, b.clientId);
		assert.deepEqual(box.due().map((e) => e.text), ['one', 'two']);
		box.markSent(a.clientId);
		assert.deepEqual(box.due().map((e) => e.text), ['two']);
		assert.deepEqual(box.requeueSent(), [a]);
		assert.deepEqual(box.due().map((e) => e.text), ['one', 'two']);
		assert.equal(box.confirm(a.clientId).text, 'one');
		assert.equal(box.confirm(a.clientId), null);
		box.fail(b.clientId);
		assert.deepEqual(box.due(), []);
		box.retry(b.clientId);
		assert.equal(box.due().length, 1);
	});
	it('never resends a private message silently: a possibly lost one is marked failed', () => {
		const box = new Outbox('cabc');
		const secret = box.add('psst', 'bob');
		const note = box.add('hi');
		box.markSent(secret.clientId);
		box.markSent(note.clientId);
		assert.equal(box.sentPrivate('psst'), secret);
		assert.equal(box.sentPrivate('other'), null);
		assert.deepEqual(box.requeueSent(), [note]);
		assert.deepEqual(box.failSentPrivates(), [secret]);
		assert.equal(secret.state, 'failed');
		assert.deepEqual(box.due(), [note]);
	});
	it('makes printable ids of at most 64 bytes', () => {
		const prefix = randomPrefix();
		assert.match(prefix, /^c[0-9a-f]{12}$/);
		assert.ok(new Outbox(prefix).add('x').clientId.length <= 64);
	});
});

describe('room state', () => {
	it('drops events already shown and resumes after the last seq', () => {
		const room = new RoomState('room1');
		room.me = 'alice';
		assert.deepEqual(room.resumeParams(), {});
		assert.deepEqual(room.joined({ seq: 5, epoch: 'e1', users: ['bob', 'alice'], recovered: false }),
			{ first: true, epochChanged: false, lost: false });
		assert.deepEqual(room.event({ type: 'message', seq: 4 }), { live: false, gap: false });
		assert.deepEqual(room.event({ type: 'join', seq: 5, user: 'alice' }), { live: true, gap: false });
		assert.equal(room.event({ type: 'message', seq: 5 }), null);
		assert.equal(room.event({ type: 'message', seq: 3 }), null);
		assert.deepEqual(room.resumeParams(), { since: 5, epoch: 'e1' });
	});
	it('changes members only with live events, and says when a reconnect lost events', () => {
		const room = new RoomState('room1');
		room.joined({ seq: 10, epoch: 'e1', users: ['alice'] });
		room.event({ type: 'join', seq: 10, user: 'alice' });
		room.event({ type: 'join', seq: 11, user: 'Bob' });
		assert.deepEqual(room.members, ['alice', 'Bob']);
		/* reconnect: the replay (seq < joined seq) holds an old leave that must not remove anyone */
		assert.equal(room.joined({ seq: 14, epoch: 'e1', users: ['alice', 'Bob'], recovered: true }).lost, false);
		room.event({ type: 'leave', seq: 12, user: 'bob' });
		assert.deepEqual(room.members, ['alice', 'Bob']);
		room.event({ type: 'leave', seq: 15, user: 'bob' });
		assert.deepEqual(room.members, ['alice']);
		const next = room.joined({ seq: 3, epoch: 'e2', users: ['alice'], recovered: false });
		assert.deepEqual(next, { first: false, epochChanged: true, lost: true });
		assert.deepEqual(room.event({ type: 'message', seq: 2 }), { live: false, gap: false }, 'a new epoch numbers from 0 again');
	});
	it('checks an unrecovered join in the same epoch against the seqs it then receives', () => {
		const room = new RoomState('room1');
		room.joined({ seq: 1, epoch: 'e1', users: ['alice'] });
		room.event({ type: 'join', seq: 1, user: 'alice' });
		room.event({ type: 'message', seq: 2 });
		/* a re-sync replays the recent history from the start: it reaches back, nothing is lost */
		assert.equal(room.joined({ seq: 4, epoch: 'e1', users: ['alice'], recovered: false }).lost, false);
		assert.equal(room.event({ type: 'join', seq: 1, user: 'alice' }), null);
		assert.deepEqual(room.event({ type: 'join', seq: 3, user: 'alice', resync: true }), { live: false, gap: false });
		/* a reconnect whose replay starts after a hole: the first event says so, once */
		assert.equal(room.joined({ seq: 60, epoch: 'e1', users: ['alice'], recovered: false }).lost, false);
		assert.deepEqual(room.event({ type: 'message', seq: 10 }), { live: false, gap: true });
		assert.deepEqual(room.event({ type: 'message', seq: 11 }), { live: false, gap: false });
		/* recovered: true is taken at its word */
		room.joined({ seq: 70, epoch: 'e1', users: ['alice'], recovered: true });
		assert.deepEqual(room.event({ type: 'message', seq: 65 }), { live: false, gap: false });
	});
});

/* A scripted stand-in for the browser's WebSocket: the test plays the server's frames. */
class ScriptedSocket {
	static CONNECTING = 0;
	static OPEN = 1;
	static CLOSED = 3;
	static made = [];
	constructor(url) {
		this.url = new URL(url);
		this.sent = [];
		this.readyState = 1;
		this.OPEN = 1;
		this.CONNECTING = 0;
		ScriptedSocket.made.push(this);
	}
	send(text) { this.sent.push(JSON.parse(text)); }
	close(code = 1005) { this.readyState = 3; this.closedWith = code; }
	/* a socket the client has let go of (closed, replaced) has no handlers left */
	serverSays(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
	serverCloses(code, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
	/* the frames the client wrote, but the join (see welcomeAndJoin) */
	chat() { return this.sent.filter((f) => f.type !== 'join_room'); }
}

function connection(backoffDelays = [], { online = () => true, netEvents = null, getToken = null, serverWaitMs } = {}) {
	ScriptedSocket.made = [];
	const delays = [...backoffDelays];
	const conn = new RoomConnection({
		roomId: 'room1', user: 'alice', WebSocketImpl: ScriptedSocket, online, netEvents, getToken, serverWaitMs,
		makeUrl: (params) => `ws://h/ws?${new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined))}`,
		backoff: { next: () => delays.shift() ?? 1, reset() {} },
	});
	const seen = [];
	for (const type of ['state', 'joined', 'room-event', 'fatal', 'outbox', 'server-wait', 'muted', 'unmuted', 'moderation', 'role']) {
		conn.addEventListener(type, (ev) => seen.push([type, ev.detail]));
	}
	return { conn, seen };
}

const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('connection state machine', () => {
	it('joins by message with since/epoch/resume (never in the URL), queues until joined, resends unconfirmed', async () => {
		const { conn, seen } = connection([5]);
		conn.start();
		const first = ScriptedSocket.made[0];
		assert.equal(first.url.pathname, '/ws');
		assert.equal(first.url.search, '');
		const entry = conn.sendMessage('hello');
		assert.deepEqual(first.sent, [], 'nothing is sent before welcome');
		first.serverSays({ type: 'welcome', session: 'S1', user: null, limits: { rate: 10, burst: 20 } });
		assert.deepEqual(first.sent, [{ type: 'join_room', room_id: 'room1', user: 'alice' }]);
		first.serverSays({ type: 'joined', room_id: 'room1', user: 'alice', users: ['alice'], seq: 7, epoch: 'E', recovered: false });
		assert.deepEqual(first.chat(), [{ type: 'message', room_id: 'room1', text: 'hello', client_id: entry.clientId }]);
		first.serverSays({ type: 'join', room_id: 'room1', seq: 7, user: 'alice' });
		first.serverCloses(1006);
		assert.equal(conn.state, 'waiting');
		assert.ok(seen.some(([type, d]) => type === 'outbox' && d.entry.state === 'queued'));
		await tick(30);
		const second = ScriptedSocket.made[1];
		assert.equal(second.url.search, '', 'no since, epoch or resume key in the address');
		second.serverSays({ type: 'welcome', session: 'S2', user: null });
		assert.deepEqual(second.sent, [{ type: 'join_room', room_id: 'room1', user: 'alice', since: 7, epoch: 'E', resume: 'S1' }]);
		second.serverSays({ type: 'joined', room_id: 'room1', user: 'alice', users: ['alice'], seq: 7, epoch: 'E', recovered: true });
		assert.equal(second.chat().length, 1, 'the unconfirmed message is sent again with the same id');
		assert.equal(second.chat()[0].client_id, entry.clientId);
		second.serverSays({ type: 'message', room_id: 'room1', seq: 8, sender: 'alice', message: 'hello', client_id: entry.clientId });
		second.serverSays({ type: 'message', room_id: 'room1', seq: 8, sender: 'alice', message: 'hello', client_id: entry.clientId });
		const events = seen.filter(([type]) => type === 'room-event').map(([, d]) => d);
		assert.equal(events.filter((d) => d.msg.seq === 8 && !d.duplicate).length, 1);
		assert.equal(events.find((d) => d.msg.seq === 8).confirmed.clientId, entry.clientId);
		assert.equal(conn.outbox.size, 0);
		conn.leave();
		assert.equal(second.closedWith, 1000);
		assert.equal(conn.state, 'closed');
	});
	it('resumes the session that last joined, not one that only got its welcome', async () => {
		const { conn } = connection([1, 1]);
		conn.start();
		welcomeAndJoin(ScriptedSocket.made[0], { session: 'S1' });
		ScriptedSocket.made[0].serverCloses(1006);
		await tick(10);
		ScriptedSocket.made[1].serverSays({ type: 'welcome', session: 'S2', user: null });
		assert.equal(ScriptedSocket.made[1].sent[0].resume, 'S1');
		ScriptedSocket.made[1].serverCloses(1013); /* before joined: S2 never held the nickname */
		await tick(10);
		ScriptedSocket.made[2].serverSays({ type: 'welcome', session: 'S3', user: null });
		assert.equal(ScriptedSocket.made[2].sent[0].resume, 'S1');
		conn.leave();
	});
	it('stops for good on 4009 and 4004, retries 1001, 1006, 1008 and 1013', async () => {
		assert.deepEqual([4009, 4004, 4001].map(isFatalClose), [true, true, true]);
		assert.deepEqual([1000, 1001, 1006, 1008, 1011, 1013].map(isFatalClose), [false, false, false, false, false, false]);
		const { conn, seen } = connection([5]);
		conn.start();
		ScriptedSocket.made[0].serverSays({ type: 'error', code: 'nickname_taken', message: 'alice is taken' });
		ScriptedSocket.made[0].serverCloses(4009, 'nickname taken');
		assert.equal(conn.state, 'failed');
		const fatal = seen.find(([type]) => type === 'fatal')[1];
		assert.equal(fatal.code, 4009);
		assert.equal(fatal.error.code, 'nickname_taken');
		await tick(20);
		assert.equal(ScriptedSocket.made.length, 1, 'no reconnect after a fatal close');
	});
	it('marks a refused private message "not sent" and retries messages after broker_unavailable', async () => {
		const { conn, seen } = connection();
		conn.start();
		const ws = ScriptedSocket.made[0];
		ws.serverSays({ type: 'joined', users: ['alice', 'bob'], seq: 1, epoch: 'E' });
		const secret = conn.sendPrivate('bob', 'psst');
		ws.serverSays({ type: 'error', code: 'no_such_user', message: 'bob is not in room room1', request: 'private' });
		assert.equal(secret.state, 'failed');
		assert.equal(seen.filter(([type, d]) => type === 'outbox' && d.entry === secret).at(-1)[1].entry.state, 'failed');
		const note = conn.sendMessage('hello');
		ws.serverSays({ type: 'error', code: 'broker_unavailable', message: 'later', request: 'message', client_id: note.clientId });
		assert.equal(note.state, 'queued');
		await tick(700);
		assert.deepEqual(ws.sent.filter((f) => f.client_id === note.clientId).length, 2, 'sent again after the pause');
		ws.serverSays({ type: 'error', code: 'unknown_frontend', message: 'send hello', request: 'message', client_id: note.clientId });
		assert.equal(note.state, 'queued', 'madang-ws re-registering with a restarted broker passes too');
		for (let i = 0; i < 12; i += 1) {
			conn.outbox.markSent(note.clientId);
			ws.serverSays({ type: 'error', code: 'not_member', message: 'not yet', request: 'message', client_id: note.clientId });
		}
		assert.equal(note.state, 'queued', 'never given up while the connection lasts');
		conn.leave();
	});
	it('leaves a socket still in its handshake only once it opens, with 1000', () => {
		const { conn } = connection();
		conn.start();
		const ws = ScriptedSocket.made[0];
		ws.readyState = ScriptedSocket.CONNECTING;
		conn.leave();
		assert.equal(ws.closedWith, undefined);
		ws.readyState = ScriptedSocket.OPEN;
		ws.onopen();
		assert.equal(ws.closedWith, 1000);
		assert.equal(conn.state, 'closed');
	});
	it('takes a refusal before "joined" as final even when the browser reports 1006', async () => {
		const { conn, seen } = connection([5]);
		conn.start();
		ScriptedSocket.made[0].serverSays({ type: 'welcome', session: 'S', user: 'alice' });
		ScriptedSocket.made[0].serverSays({ type: 'error', code: 'nickname_taken', message: 'taken', request: 'join_room' });
		ScriptedSocket.made[0].serverCloses(1006);
		assert.equal(conn.state, 'failed');
		assert.equal(seen.find(([type]) => type === 'fatal')[1].code, 4009);
	});
	it('retries after an error that came once joined, and confirms a duplicate by its ack', async () => {
		const { conn } = connection([5]);
		const confirmed = [];
		conn.addEventListener('confirmed', (ev) => confirmed.push(ev.detail.entry.clientId));
		conn.start();
		const ws = ScriptedSocket.made[0];
		ws.serverSays({ type: 'joined', users: ['alice'], seq: 1, epoch: 'E' });
		const entry = conn.sendMessage('again');
		ws.serverSays({ type: 'ack', client_id: entry.clientId, seq: 2, duplicate: false });
		assert.equal(conn.outbox.size, 1, 'a fresh message waits for its event');
		ws.serverSays({ type: 'ack', client_id: entry.clientId, seq: 2, duplicate: true });
		assert.deepEqual(confirmed, [entry.clientId]);
		assert.equal(conn.outbox.size, 0);
		ws.serverSays({ type: 'error', code: 'nickname_taken', message: 'late' });
		ws.serverCloses(1006);
		assert.equal(conn.state, 'waiting');
		conn.leave();
	});
});

/* A JWT-shaped string with these claims (the client never checks the signature). */
function fakeToken(claims) {
	return `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
}

/* Brings a scripted connection to "joined": welcome (with limits), then joined. */
function welcomeAndJoin(ws, { limits = { rate: 1000, burst: 1000 }, session = 'S', seq = 1 } = {}) {
	ws.serverSays({ type: 'welcome', session, user: null, limits });
	ws.serverSays({ type: 'joined', room_id: 'room1', user: 'alice', users: ['alice', 'bob'], seq, epoch: 'E', recovered: false });
}

describe('outbox order (issue 24 item 4)', () => {
	it('has one message in flight, sends the next on its ack, and never lets a later one overtake', async () => {
		const { conn } = connection();
		conn.start();
		const ws = ScriptedSocket.made[0];
		welcomeAndJoin(ws);
		const entries = ['one', 'two', 'three'].map((text) => conn.sendMessage(text));
		assert.deepEqual(ws.chat().map((f) => f.text), ['one'], 'the second waits for the first answer');
		ws.serverSays({ type: 'ack', client_id: entries[0].clientId, seq: 2, duplicate: false });
		assert.deepEqual(ws.chat().map((f) => f.text), ['one', 'two']);
		/* refused over the rate, with the server's wait: the same message again after it, not the next */
		ws.serverSays({ type: 'error', code: 'rate_limited', message: 'too fast', retry_after_ms: 60 });
		assert.equal(entries[1].state, 'queued');
		await tick(20);
		assert.deepEqual(ws.chat().map((f) => f.text), ['one', 'two'], 'nothing before retry_after_ms');
		await tick(70);
		assert.deepEqual(ws.chat().map((f) => f.text), ['one', 'two', 'two']);
		for (let i = 0; i < 30; i += 1) {
			ws.serverSays({ type: 'error', code: 'rate_limited', message: 'too fast', request: 'message',
				client_id: entries[1].clientId, retry_after_ms: 0 });
			await tick(2);
		}
		assert.equal(entries[1].state, 'sent', 'never given up while connected');
		assert.equal(ws.chat().filter((f) => f.text === 'three').length, 0);
		ws.serverSays({ type: 'ack', client_id: entries[1].clientId, seq: 3, duplicate: false });
		assert.equal(ws.chat().at(-1).text, 'three');
		conn.leave();
	});
	it('backs off by itself when the error gives no wait, and a permanent refusal lets the next go', async () => {
		const { conn } = connection();
		conn.start();
		const ws = ScriptedSocket.made[0];
		welcomeAndJoin(ws);
		const [a, b] = [conn.sendMessage('a'), conn.sendMessage('b')];
		ws.serverSays({ type: 'error', code: 'rate_limited', message: 'too fast' });
		await tick(250);
		assert.equal(ws.chat().length, 1, 'fallback pause of 0.5 s');
		await tick(400);
		assert.equal(ws.chat().length, 2);
		ws.serverSays({ type: 'error', code: 'message_too_long', message: 'long', request: 'message', client_id: a.clientId });
		assert.equal(a.state, 'failed');
		assert.deepEqual(ws.chat().map((f) => f.text), ['a', 'a', 'b']);
		assert.equal(b.state, 'sent');
		conn.leave();
	});
	it('sends a message again after outcome_unknown (deduplicated by id), but never a private one', () => {
		const { conn } = connection();
		conn.start();
		const ws = ScriptedSocket.made[0];
		welcomeAndJoin(ws);
		const secret = conn.sendPrivate('bob', 'psst');
		ws.serverSays({ type: 'error', code: 'outcome_unknown', message: 'no answer', request: 'private' });
		assert.equal(secret.state, 'failed', 'left to the person (Retry)');
		const note = conn.sendMessage('maybe');
		ws.serverSays({ type: 'error', code: 'outcome_unknown', message: 'no answer', request: 'message', client_id: note.clientId });
		assert.equal(note.state, 'queued', 'goes again with the same id');
		conn.leave();
	});
	it('paces frames by the welcome limits, keeping two in hand for pings and typing', () => {
		const pacer = new Pacer();
		pacer.configure(5, 4, 0);
		assert.equal(pacer.wait(0), 0);
		pacer.take(0);
		pacer.take(0);
		assert.equal(pacer.wait(0), 200, 'two left: the next message waits for one more');
		assert.equal(pacer.wait(0, 0), 0, 'a hint may use the margin');
		assert.equal(pacer.wait(200), 0);
		pacer.configure(Number.NaN, undefined, 0);
		assert.deepEqual([pacer.rate, pacer.burst], [10, 20]);
	});
});

describe('waiting for the server (issue 24 item 3)', () => {
	it('says so when the message in flight is unanswered for serverWaitMs, and clears on the answer', async () => {
		const { conn, seen } = connection([], { serverWaitMs: 40 });
		conn.start();
		const ws = ScriptedSocket.made[0];
		welcomeAndJoin(ws);
		const entry = conn.sendMessage('hello?');
		await tick(20);
		assert.equal(conn.serverWait, false);
		await tick(40);
		assert.equal(conn.serverWait, true);
		ws.serverSays({ type: 'ack', client_id: entry.clientId, seq: 2, duplicate: false });
		assert.equal(conn.serverWait, false);
		assert.deepEqual(seen.filter(([type]) => type === 'server-wait').map(([, d]) => d.waiting), [true, false]);
		/* an unanswered join counts too */
		conn.leave();
		const other = connection([], { serverWaitMs: 30 });
		other.conn.start();
		ScriptedSocket.made[0].serverSays({ type: 'welcome', session: 'S', user: null });
		await tick(50);
		assert.equal(other.conn.serverWait, true);
		other.conn.leave();
		assert.equal(other.conn.serverWait, false);
	});
});

describe('tokens (issue 25 finding 8)', () => {
	it('reads the expiry of a JWT and renews a minute early, or at half its life', () => {
		assert.equal(tokenExpiry(fakeToken({ name: 'a', exp: 2000 })), 2000000);
		assert.equal(tokenExpiry('not a token'), null);
		assert.equal(tokenExpiry(fakeToken({ name: 'a' })), null);
		assert.equal(renewAt(fakeToken({ exp: 3600 }), 0), 3540000);
		assert.equal(renewAt(fakeToken({ exp: 10 }), 0), 5000);
	});
	it('asks the hook before connecting, and again after a close 4001 "expired", up to a limit', async () => {
		const asked = [];
		const getToken = async ({ user, room }) => {
			asked.push(`${user}@${room}`);
			return fakeToken({ name: user, exp: Math.floor(Date.now() / 1000) + 3600, n: asked.length });
		};
		const { conn, seen } = connection([1, 1, 1, 1], { getToken });
		conn.start();
		await tick(5);
		assert.deepEqual(asked, ['alice@room1']);
		const first = ScriptedSocket.made[0];
		assert.equal(tokenExpiry(first.url.searchParams.get('token')) > Date.now(), true);
		welcomeAndJoin(first);
		first.serverCloses(4001, 'token expired');
		assert.equal(conn.state, 'waiting', 'an expired token is not the end');
		await tick(20);
		assert.equal(asked.length, 2, 'a new token for the reconnect');
		assert.notEqual(ScriptedSocket.made[1].url.searchParams.get('token'), first.url.searchParams.get('token'));
		for (let i = 1; i <= 3; i += 1) {
			ScriptedSocket.made[i].serverCloses(4001, 'expired');
			await tick(20);
		}
		assert.equal(conn.state, 'failed', 'three refusals in a row without a join are final');
		assert.equal(seen.find(([type]) => type === 'fatal')[1].code, 4001);
		assert.equal(ScriptedSocket.made.length, 4);
	});
	it('renews before expiry on a new socket that resumes the session, then lets the old one go', async () => {
		let n = 0;
		const getToken = async () => {
			n += 1;
			/* 1.2 s of life: renewed at half of it */
			return fakeToken({ name: 'alice', exp: (Date.now() + 1200) / 1000, n });
		};
		const { conn } = connection([], { getToken });
		conn.start();
		await tick(5);
		const first = ScriptedSocket.made[0];
		welcomeAndJoin(first, { session: 'S1' });
		await tick(700);
		assert.equal(n, 2);
		const second = ScriptedSocket.made[1];
		assert.ok(second, 'a new socket with the new token');
		assert.equal(conn.state, 'connected', 'the view does not see a reconnect');
		second.serverSays({ type: 'welcome', session: 'S2', user: null });
		assert.equal(second.sent[0].resume, 'S1');
		welcomeAndJoin(second, { session: 'S2', seq: 1 });
		assert.equal(first.closedWith, 1000);
		conn.leave();
	});
});

describe('links in messages', () => {
	it('finds http and https addresses only, without the punctuation after them', () => {
		assert.deepEqual(splitLinks('see https://x.org/a.'), [{ text: 'see ' }, { text: 'https://x.org/a', href: 'https://x.org/a' }, { text: '.' }]);
		assert.deepEqual(splitLinks('(http://a.b/(x))'), [{ text: '(' }, { text: 'http://a.b/(x)', href: 'http://a.b/(x)' }, { text: ')' }]);
		for (const text of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'ftp://x.org/', 'http://', 'no links']) {
			assert.deepEqual(splitLinks(text), [{ text }], text);
		}
		assert.equal(splitLinks('x https://예제.한국/경로 y')[1].href, 'https://xn--2j5b21b.xn--3e0b707e/%EA%B2%BD%EB%A1%9C');
	});
});

describe('a refused join on /ws', () => {
	it('ends with the close code of the same refusal on a room path: no_such_room is 4004', () => {
		const { conn, seen } = connection([5]);
		conn.start();
		const ws = ScriptedSocket.made[0];
		ws.serverSays({ type: 'welcome', session: 'S', user: null });
		ws.serverSays({ type: 'error', code: 'no_such_room', message: 'no room', request: 'join_room', room_id: 'room1' });
		assert.equal(conn.state, 'failed');
		assert.equal(seen.find(([type]) => type === 'fatal')[1].code, 4004);
		assert.equal(ws.closedWith, 1000, 'the client closes the socket the server kept open');
	});
	it('retries a join the broker could not answer', async () => {
		const { conn } = connection([5]);
		conn.start();
		ScriptedSocket.made[0].serverSays({ type: 'welcome', session: 'S', user: null });
		ScriptedSocket.made[0].serverSays({ type: 'error', code: 'broker_unavailable', message: 'later', request: 'join_room' });
		assert.equal(conn.state, 'waiting');
		await tick(20);
		assert.equal(ScriptedSocket.made.length, 2);
		conn.leave();
	});
});

describe('offline', () => {
	it('waits for the browser to come back online instead of counting down, then connects at once', () => {
		let online = true;
		const net = new EventTarget();
		const { conn } = connection([60000], { online: () => online, netEvents: net });
		conn.start();
		ScriptedSocket.made[0].serverSays({ type: 'joined', users: ['alice'], seq: 1, epoch: 'E' });
		online = false;
		ScriptedSocket.made[0].serverCloses(1006);
		assert.equal(conn.state, 'offline');
		online = true;
		net.dispatchEvent(new Event('online'));
		assert.equal(conn.state, 'connecting');
		assert.equal(ScriptedSocket.made.length, 2);
		conn.leave();
	});
	it('shows offline when the network goes away during the backoff wait', () => {
		const net = new EventTarget();
		const { conn } = connection([60000], { netEvents: net });
		conn.start();
		ScriptedSocket.made[0].serverCloses(1006);
		assert.equal(conn.state, 'waiting');
		net.dispatchEvent(new Event('offline'));
		assert.equal(conn.state, 'offline');
		conn.leave();
		assert.equal(conn.state, 'closed');
	});
});

describe('moderation (issue 26, docs/moderation.md)', () => {
	it('gives the menus to moderators, owners and admins only', () => {
		assert.deepEqual(['admin', 'owner', 'moderator', 'member', undefined, 'Admin'].map(canModerate),
			[true, true, true, false, false, false]);
	});
	it('counts a reason in bytes as the message box does: 256 bytes, not characters', () => {
		assert.deepEqual(checkNote('  spam  '), { ok: true, note: 'spam', bytes: 4 });
		assert.equal(checkNote('a'.repeat(NOTE_MAX_BYTES)).ok, true);
		assert.deepEqual(checkNote('a'.repeat(NOTE_MAX_BYTES + 1)), { ok: false, error: 'too_long', bytes: 257 });
		assert.equal(checkNote('가'.repeat(85)).ok, true, '255 bytes');
		assert.deepEqual(checkNote('가'.repeat(86)), { ok: false, error: 'too_long', bytes: 258 });
		assert.equal(checkNote('bad\u0007bell').error, 'control');
		// One line, as the servers want it (valid_note): tab, CR, LF and C1 controls refused.
		for (const s of ['two\nlines', 'a\tb', 'a\rb', 'a\u0085b']) assert.equal(checkNote(s).error, 'control', JSON.stringify(s));
		assert.deepEqual(checkNote(''), { ok: true, note: '', bytes: 0 });
	});
	it('writes the commands of the contract, with reason only when one was given', () => {
		assert.deepEqual(moderationFrame('r', 'kick', { user: 'bob', note: '' }), { type: 'kick', room_id: 'r', user: 'bob' });
		assert.deepEqual(moderationFrame('r', 'mute', { user: 'bob', durationS: 600, note: 'calm down' }),
			{ type: 'mute', room_id: 'r', user: 'bob', duration_s: 600, reason: 'calm down' });
		assert.deepEqual(moderationFrame('r', 'delete_message', { seq: 7 }), { type: 'delete_message', room_id: 'r', seq: 7 });
	});
	it('reads end times, null for none, and words them with the day only when it is not today', () => {
		assert.equal(parseUntil(null), null);
		assert.equal(parseUntil('soon'), null);
		assert.equal(parseUntil('2026-12-06T14:03:11.201Z'), Date.UTC(2026, 11, 6, 14, 3, 11, 201));
		const now = new Date(2026, 11, 6, 9, 0).getTime();
		assert.equal(formatUntil(new Date(2026, 11, 6, 14, 5).getTime(), 'en', now), '02:05 PM');
		assert.match(formatUntil(new Date(2026, 11, 7, 14, 5).getTime(), 'en', now), /Dec 7/);
		assert.match(formatUntil(new Date(2027, 0, 2, 14, 5).getTime(), 'ko', now), /2027/);
	});
	it('takes role, slow mode and muted_until from joined, and sends moderation commands', () => {
		const { conn, seen } = connection();
		conn.start();
		const ws = ScriptedSocket.made[0];
		ws.serverSays({ type: 'welcome', session: 'S', user: null, limits: { rate: 1000, burst: 1000 } });
		const until = new Date(Date.now() + 600000).toISOString();
		ws.serverSays({ type: 'joined', room_id: 'room1', user: 'alice', users: ['alice', 'bob'], seq: 3, epoch: 'E',
			role: 'moderator', slow_mode_s: 30, muted_until: until });
		assert.equal(conn.role, 'moderator');
		assert.equal(conn.slowModeS, 30);
		assert.equal(conn.mutedUntil, Date.parse(until));
		assert.equal(seen.filter(([type]) => type === 'muted').length, 1);
		conn.sendTyping(true);
		assert.deepEqual(ws.chat(), [], 'no typing hint while muted');
		assert.equal(conn.moderate('kick', { user: 'bob', note: 'spam' }), true);
		assert.deepEqual(ws.chat().at(-1), { type: 'kick', room_id: 'room1', user: 'bob', reason: 'spam' });
		ws.serverSays({ type: 'error', code: 'forbidden', message: 'not allowed', request: 'ban', room_id: 'room1' });
		ws.serverSays({ type: 'done', request: 'kick', room_id: 'room1' });
		assert.deepEqual(seen.filter(([type]) => type === 'moderation').map(([, d]) => [d.msg.type, d.msg.request]),
			[['error', 'ban'], ['done', 'kick']]);
		assert.equal(conn.state, 'connected', 'a refused moderation command ends nothing');
		ws.serverSays({ type: 'unmuted', room_id: 'room1', by: 'carol' });
		assert.equal(conn.mutedUntil, null);
		assert.equal(seen.filter(([type]) => type === 'unmuted').length, 1);
		conn.leave();
	});
	it('follows mutes: a muted frame, a muted refusal (the message is not sent, not retried), and the end by itself', async () => {
		const { conn, seen } = connection();
		conn.start();
		const ws = ScriptedSocket.made[0];
		welcomeAndJoin(ws);
		const until = new Date(Date.now() + 150).toISOString();
		ws.serverSays({ type: 'muted', room_id: 'room1', until, by: 'carol', note: 'calm down' });
		const muted = seen.filter(([type]) => type === 'muted');
		assert.equal(muted.length, 1);
		assert.equal(muted[0][1].msg.note, 'calm down');
		assert.equal(muted[0][1].until, Date.parse(until));
		const entry = conn.sendMessage('let me talk');
		ws.serverSays({ type: 'error', code: 'muted', until, request: 'message', client_id: entry.clientId });
		assert.equal(entry.state, 'failed', 'marked not sent, with Retry');
		assert.equal(seen.filter(([type]) => type === 'muted').length, 1, 'the same mute is not news twice');
		await tick(250);
		assert.equal(conn.mutedUntil, null);
		assert.equal(seen.filter(([type]) => type === 'unmuted').length, 1, 'the mute ran out by itself');
		conn.leave();
	});
	it('ends for good on a kicked frame (4003), and on a join refused as banned, and never comes back by itself', async () => {
		const { conn, seen } = connection([5]);
		conn.start();
		const ws = ScriptedSocket.made[0];
		welcomeAndJoin(ws);
		ws.serverSays({ type: 'kicked', room_id: 'other', reason: 'kicked', by: 'carol' });
		assert.equal(conn.state, 'connected', 'another room\'s kick is not ours');
		ws.serverSays({ type: 'kicked', room_id: 'room1', reason: 'kicked', by: 'carol', note: 'spam', until: null });
		assert.equal(conn.state, 'failed');
		const fatal = seen.find(([type]) => type === 'fatal')[1];
		assert.equal(fatal.code, 4003);
		assert.equal(fatal.kicked.note, 'spam');
		assert.equal(ws.closedWith, 1000);
		await tick(20);
		assert.equal(ScriptedSocket.made.length, 1, 'no rejoin after a kick');

		const again = connection([5]);
		again.conn.start();
		const ws2 = ScriptedSocket.made[0];
		ws2.serverSays({ type: 'welcome', session: 'S', user: null });
		ws2.serverSays({ type: 'error', code: 'banned', request: 'join_room', room_id: 'room1', until: null, note: 'spam' });
		ws2.serverCloses(1006); /* what a browser may report after the server's 4003 */
		assert.equal(again.conn.state, 'failed');
		const refused = again.seen.find(([type]) => type === 'fatal')[1];
		assert.equal(refused.code, 4003);
		assert.equal(refused.error.code, 'banned');
		await tick(20);
		assert.equal(ScriptedSocket.made.length, 1, 'no rejoin after a ban');
	});
	it('waits retry_after_ms on slow_mode and sends the same client id again, without "waiting for the server"', async () => {
		const { conn, seen } = connection([], { serverWaitMs: 60 });
		conn.start();
		const ws = ScriptedSocket.made[0];
		welcomeAndJoin(ws);
		const entry = conn.sendMessage('slowly');
		ws.serverSays({ type: 'error', code: 'slow_mode', retry_after_ms: 120, request: 'message', client_id: entry.clientId });
		assert.equal(entry.state, 'queued');
		await tick(80);
		assert.equal(ws.chat().filter((f) => f.client_id === entry.clientId).length, 1, 'not before retry_after_ms');
		assert.ok(!seen.some(([type, d]) => type === 'server-wait' && d.waiting), 'the server did answer');
		await tick(100);
		assert.equal(ws.chat().filter((f) => f.client_id === entry.clientId).length, 2, 'sent again with the same id');
		conn.leave();
	});
	it('sends a deletion\'s reason as `reason`, and none when it is empty (issue 26 follow-up 2)', () => {
		assert.deepEqual(moderationFrame('r', 'delete_message', { seq: 7, note: 'spam' }),
			{ type: 'delete_message', room_id: 'r', seq: 7, reason: 'spam' });
		assert.deepEqual(moderationFrame('r', 'delete_message', { seq: 7, note: '' }), { type: 'delete_message', room_id: 'r', seq: 7 });
		const { conn } = connection();
		conn.start();
		const ws = ScriptedSocket.made[0];
		welcomeAndJoin(ws);
		const note = checkNote('  광고 도배  ');
		assert.equal(note.ok, true);
		assert.equal(conn.moderate('delete_message', { seq: 1, note: note.note }), true);
		assert.deepEqual(ws.chat().at(-1), { type: 'delete_message', room_id: 'room1', seq: 1, reason: '광고 도배' });
		conn.leave();
	});
	it('words a role change: the role gained, or the role lost when back to member; nothing for no change', () => {
		assert.equal(roleNotice('member', 'moderator'), 'chat.role.moderator');
		assert.equal(roleNotice('moderator', 'owner'), 'chat.role.owner');
		assert.equal(roleNotice('owner', 'moderator'), 'chat.role.moderator');
		assert.equal(roleNotice('member', 'admin'), 'chat.role.admin');
		assert.equal(roleNotice('moderator', 'member'), 'chat.role.lost.moderator');
		assert.equal(roleNotice('owner', 'member'), 'chat.role.lost.owner');
		assert.equal(roleNotice('admin', 'member'), 'chat.role.lost.admin');
		assert.equal(roleNotice('member', 'member'), null);
		assert.equal(roleNotice('member', 'king'), null);
		assert.equal(roleNotice(undefined, 'moderator'), null);
		for (const key of ['chat.role.admin', 'chat.role.owner', 'chat.role.moderator', 'chat.role.lost.admin',
			'chat.role.lost.owner', 'chat.role.lost.moderator']) {
			assert.equal(typeof LANGS.en[key], 'string', key);
			assert.equal(typeof LANGS.ko[key], 'string', key);
		}
		assert.equal(LANGS.ko['chat.role.moderator'], '이제 이 방의 관리자입니다.');
	});
	it('follows `role` frames without a rejoin: this room, a known role, a change; and a later joined with another role', async () => {
		const { conn, seen } = connection([1]);
		conn.start();
		const ws = ScriptedSocket.made[0];
		ws.serverSays({ type: 'welcome', session: 'S', user: null, limits: { rate: 1000, burst: 1000 } });
		ws.serverSays({ type: 'role', room_id: 'room1', role: 'moderator' }); /* before joined: joined decides */
		assert.equal(conn.role, 'member');
		welcomeAndJoin(ws);
		assert.equal(conn.role, 'member');
		const roles = () => seen.filter(([type]) => type === 'role').map(([, d]) => [d.previous, d.role]);
		assert.deepEqual(roles(), [], 'the first joined is no change');
		ws.serverSays({ type: 'role', room_id: 'other', role: 'owner' });
		ws.serverSays({ type: 'role', room_id: 'room1', role: 'superuser' });
		ws.serverSays({ type: 'role', room_id: 'room1', role: 42 });
		assert.equal(conn.role, 'member', 'another room\'s role, an unknown role: ignored');
		ws.serverSays({ type: 'role', room_id: 'room1', role: 'moderator' });
		assert.equal(conn.role, 'moderator');
		ws.serverSays({ type: 'role', room_id: 'room1', role: 'moderator' });
		assert.deepEqual(roles(), [['member', 'moderator']], 'a repeat is no news');
		assert.equal(seen.filter(([type]) => type === 'role')[0][1].msg.type, 'role');
		assert.equal(conn.moderate('kick', { user: 'bob' }), true, 'the same socket, still connected');
		ws.serverSays({ type: 'role', room_id: 'room1', role: 'member' });
		assert.equal(conn.role, 'member');
		assert.deepEqual(roles().at(-1), ['moderator', 'member']);
		assert.equal(ScriptedSocket.made.length, 1, 'no rejoin');
		/* changed while away: the reconnect's joined carries it, and it is news too */
		ws.serverCloses(1006);
		await tick(10);
		const again = ScriptedSocket.made[1];
		again.serverSays({ type: 'welcome', session: 'S2', user: null, limits: { rate: 1000, burst: 1000 } });
		again.serverSays({ type: 'joined', room_id: 'room1', user: 'alice', users: ['alice'], seq: 1, epoch: 'E', role: 'owner' });
		assert.equal(conn.role, 'owner');
		assert.deepEqual(roles().at(-1), ['member', 'owner']);
		assert.equal(seen.filter(([type]) => type === 'role').at(-1)[1].msg, null);
		conn.leave();
	});
	it('offers "Delete" on every message to moderators, and to a member with a token on its own only', () => {
		const message = { seq: 7, deleted: false };
		const ask = (rights, own, m = message) => deleteChoice({ ...rights, own, ...m });
		const member = { moderator: false, withToken: true };
		const anonymous = { moderator: false, withToken: false };
		const moderator = { moderator: true, withToken: true };
		assert.equal(ask(member, true), 'own');
		assert.equal(ask(member, false), null, 'not someone else\'s message');
		assert.equal(ask(anonymous, true), null, 'without a token a nickname proves nothing');
		assert.equal(ask(moderator, false), 'moderator');
		assert.equal(ask(moderator, true), 'moderator', 'a moderator\'s own message: the button it had before');
		for (const rights of [member, moderator]) {
			assert.equal(ask(rights, true, { seq: 7, deleted: true }), null, 'not on a tombstone');
			for (const seq of [null, undefined, '', 0, -1, 1.5, '7']) {
				assert.equal(ask(rights, true, { seq, deleted: false }), null, `not without a seq (${JSON.stringify(seq)})`);
			}
		}
		assert.equal(deleteChoice({ moderator: 'yes', withToken: 1, own: 1, seq: 7 }), null, 'only true counts');
		for (const key of ['mod.message.own', 'mod.dialog.own', 'mod.err.forbidden.own']) {
			assert.equal(typeof LANGS.en[key], 'string', key);
			assert.equal(typeof LANGS.ko[key], 'string', key);
		}
	});
	it('says after each joined whether its socket presented a token, also after a reconnect without one', async () => {
		const tokens = [fakeToken({ name: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 }), null];
		const getToken = async () => tokens.shift() ?? null;
		const { conn } = connection([1], { getToken });
		conn.start();
		assert.equal(conn.withToken, false, 'nothing before the first joined');
		await tick(5);
		const ws = ScriptedSocket.made[0];
		assert.ok(ws.url.searchParams.get('token'));
		welcomeAndJoin(ws);
		assert.equal(conn.withToken, true);
		/* the token ran out and the hook has none any more: the next socket joins without one */
		ws.serverCloses(4001, 'token expired');
		await tick(20);
		const again = ScriptedSocket.made[1];
		assert.equal(again.url.searchParams.get('token'), null);
		assert.equal(conn.withToken, true, 'unchanged until the next joined');
		welcomeAndJoin(again, { session: 'S2', seq: 2 });
		assert.equal(conn.withToken, false);
		conn.leave();

		const plain = connection();
		plain.conn.start();
		welcomeAndJoin(ScriptedSocket.made[0]);
		assert.equal(plain.conn.withToken, false, 'no hook: no token');
		plain.conn.leave();
	});
	it('takes message_deleted and slow_mode as room events with their own seq', () => {
		const { conn, seen } = connection();
		conn.start();
		const ws = ScriptedSocket.made[0];
		welcomeAndJoin(ws, { seq: 4 });
		ws.serverSays({ type: 'message_deleted', room_id: 'room1', seq: 5, deleted_seq: 3, by: 'carol' });
		ws.serverSays({ type: 'slow_mode', room_id: 'room1', seq: 6, interval_s: 30, by: 'carol' });
		ws.serverSays({ type: 'slow_mode', room_id: 'room1', seq: 6, interval_s: 30, by: 'carol' });
		const events = seen.filter(([type, d]) => type === 'room-event' && !d.duplicate).map(([, d]) => d.msg.type);
		assert.deepEqual(events, ['message_deleted', 'slow_mode']);
		assert.equal(conn.slowModeS, 30);
		assert.deepEqual(conn.room.resumeParams(), { since: 6, epoch: 'E' });
		conn.leave();
	});
});

describe('strings', () => {
	it('has every key, with the same placeholders, in Korean and English', () => {
		const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
		const keys = Object.keys(LANGS.en).sort();
		for (const [lang, table] of Object.entries(LANGS)) {
			assert.deepEqual(Object.keys(table).sort(), keys, `${lang} keys`);
			for (const key of keys) assert.deepEqual(placeholders(table[key]), placeholders(LANGS.en[key]), `${lang} ${key}`);
		}
	});
	it('follows a saved choice, else the browser language, else English', () => {
		assert.equal(detectLanguage(null, ['ko-KR', 'en']), 'ko');
		assert.equal(detectLanguage(null, ['fr-FR', 'en-GB']), 'en');
		assert.equal(detectLanguage('ko', ['en-US']), 'ko');
		assert.equal(detectLanguage('xx', ['de']), 'en');
	});
});
