// chat.test.mjs — client protocol v1 against a real madang-broker and madang-ws: chat, join and
// leave notices, member lists, close codes, limits, bad input, the rate limit, HTTP answers.
import { test, after } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { closeAll, connect, joinPath, nick, sleep, httpGet, rawConnect, textFrame, rawJson } from '../../lib/wsclient.mjs';

const WS1 = process.env.MADANG_WS1_URL;

after(closeAll);

const T = { timeout: 15000 };

test('two clients chat: both see each message once, the sender included, in seq order', T, async () => {
  const a = nick('alice'), b = nick('bob');
  const ca = await joinPath(WS1, 'room1', a);
  const cb = await joinPath(WS1, 'room1', b);
  await ca.next((m) => m.type === 'join' && m.user === b);
  for (let i = 0; i < 5; i++) {
    ca.send(`from a ${i}`);
    cb.send({ type: 'message', text: `from b ${i}` });
  }
  for (const c of [ca, cb]) {
    const got = [];
    while (got.length < 10) got.push(await c.next((m) => m.type === 'message' && m.seq > c.joined.seq));
    const texts = got.map((m) => m.message);
    for (let i = 0; i < 5; i++) {
      assert.equal(texts.filter((t) => t === `from a ${i}`).length, 1);
      assert.equal(texts.filter((t) => t === `from b ${i}`).length, 1);
    }
    for (let i = 1; i < got.length; i++) assert.equal(got[i].seq, got[i - 1].seq + 1);
    for (const m of got) {
      assert.equal(m.room_id, 'room1');
      assert.match(m.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(m.sender === a || m.sender === b);
    }
    // a's own messages arrive in the order it sent them
    const own = texts.filter((t) => t.startsWith('from a'));
    assert.deepEqual(own, [0, 1, 2, 3, 4].map((i) => `from a ${i}`));
  }
  await sleep(200);
  assert.equal(ca.msgs.filter((m) => m.type === 'message' && m.seq > ca.joined.seq).length, 10, 'no duplicates');
  ca.close(); cb.close();
});

test('bursts from several clients at once: every message once, each sender in its order', T, async () => {
  // Each client sends faster than one broker round trip, so its messages queue behind the one in
  // flight and go out with the other clients' in shared batches (never split across two).
  // M stays under ws1's burst of 20, so that nothing is rate-limited.
  const N = 6, M = 15;
  const cs = [];
  for (let k = 0; k < N; k++) cs.push(await joinPath(WS1, 'room7', nick(`burst${k}`)));
  const first = cs[N - 1].joined.seq;
  for (let i = 0; i < M; i++) cs.forEach((c, k) => c.send(`k${k} ${i}`));
  for (const c of cs) {
    const got = [];
    while (got.length < N * M) got.push(await c.next((m) => m.type === 'message' && m.seq > first, 10000, 'burst'));
    for (let i = 1; i < got.length; i++) assert.equal(got[i].seq, got[i - 1].seq + 1);
    for (let k = 0; k < N; k++) {
      const mine = got.filter((m) => m.message.startsWith(`k${k} `)).map((m) => m.message);
      assert.deepEqual(mine, Array.from({ length: M }, (_, i) => `k${k} ${i}`), `sender ${k} in order, once`);
    }
  }
  cs.forEach((c) => c.close());
});

test('welcome, joined with the member list, join and leave notices with counts', T, async () => {
  const a = nick('ann'), b = nick('ben');
  const ca = await joinPath(WS1, 'room2', a);
  assert.equal(ca.welcome.user, a);
  assert.match(ca.welcome.session, /^[0-9a-f]{32}$/);
  assert.equal(ca.joined.room_id, 'room2');
  assert.equal(ca.joined.name, '기술 토론');
  assert.ok(ca.joined.users.includes(a));
  assert.equal(ca.joined.users_count, ca.joined.users.length);
  assert.equal(ca.joined.recovered, false);
  assert.match(ca.joined.epoch, /^[0-9a-f]{16}$/);
  const ownJoin = await ca.next((m) => m.type === 'join' && m.user === a);
  assert.equal(ownJoin.seq, ca.joined.seq);
  const before = ca.joined.users_count;

  const cb = await joinPath(WS1, 'room2', b);
  assert.deepEqual([...cb.joined.users].sort(), [...ca.joined.users, b].sort());
  assert.equal(cb.joined.users_count, before + 1);
  const j = await ca.next((m) => m.type === 'join' && m.user === b);
  assert.equal(j.users_count, before + 1);
  assert.equal(j.sender, '시스템'); // the broker's --notices ko (default): document 000's texts
  assert.equal(j.message, `${b}님이 입장했습니다.`);
  assert.equal(j.seq, cb.joined.seq);

  cb.close();
  const l = await ca.next((m) => m.type === 'leave' && m.user === b);
  assert.equal(l.users_count, before);
  assert.equal(l.reason, 'disconnected');
  assert.equal(l.sender, '시스템');
  assert.equal(l.message, `${b}님이 퇴장했습니다.`);
  ca.close();
});

test('history replayed after joined: recent events, in order, before live ones', T, async () => {
  const a = nick('hist');
  const ca = await joinPath(WS1, 'room3', a);
  await ca.next((m) => m.type === 'join' && m.user === a);
  ca.send('remember me');
  await ca.next((m) => m.type === 'message' && m.message === 'remember me');
  const b = nick('late');
  const cb = await connect(WS1, `/ws/room3/${b}`);
  await cb.nextType('welcome');
  const joined = await cb.nextType('joined');
  const replay = [];
  for (;;) {
    const m = await cb.next();
    if (m.seq === joined.seq) { assert.equal(m.type, 'join'); assert.equal(m.user, b); break; }
    replay.push(m);
  }
  assert.ok(replay.length >= 2);
  for (let i = 1; i < replay.length; i++) assert.equal(replay[i].seq, replay[i - 1].seq + 1);
  assert.equal(replay[replay.length - 1].seq, joined.seq - 1);
  assert.ok(replay.some((m) => m.type === 'message' && m.message === 'remember me'));
  ca.close(); cb.close();
});

test('nickname taken: error event, then close 4009', T, async () => {
  const a = nick('dup');
  const ca = await joinPath(WS1, 'room1', a);
  const cb = await connect(WS1, `/ws/room1/${a.toUpperCase()}`);
  const e = await cb.nextType('error');
  assert.equal(e.code, 'nickname_taken');
  const c = await cb.waitClose();
  assert.equal(c.code, 4009);
  ca.close();
});

test('a long close reason is cut at a character boundary, never inside one', T, async () => {
  // "x" + 21 Hangul syllables: byte 63 of the broker's "<nick> is already in room room1" falls
  // inside the 21st syllable; the close frame must carry valid UTF-8 (the ws package fails the
  // connection with 1006 otherwise).
  const a = nick('x' + '한'.repeat(21));
  const ca = await joinPath(WS1, 'room1', a);
  const cb = await connect(WS1, `/ws/room1/${encodeURIComponent(a)}`);
  const e = await cb.nextType('error');
  assert.equal(e.code, 'nickname_taken');
  assert.ok(Buffer.byteLength(e.message) > 63, e.message);
  const c = await cb.waitClose();
  assert.equal(c.code, 4009);
  assert.equal(c.reason, 'x' + '한'.repeat(20));
  ca.close();
});

test('unknown room: close 4004', T, async () => {
  const c = await connect(WS1, `/ws/no-such-room/${nick('x')}`);
  const e = await c.nextType('error');
  assert.equal(e.code, 'no_such_room');
  assert.equal((await c.waitClose()).code, 4004);
});

test('a server-initiated close sends exactly one close frame, also after the client answers', T, async () => {
  const c = await rawConnect(WS1, `/ws/no-such-room/${nick('raw')}`);
  const deadline = Date.now() + 5000;
  while (!c.frames.some((f) => f.opcode === 8) && Date.now() < deadline) await sleep(20);
  const close = c.frames.find((f) => f.opcode === 8);
  assert.ok(close, 'a close frame');
  assert.equal(close.payload.readUInt16BE(0), 4004);
  c.sendClose(); // the client's answer
  await Promise.race([c.ended, sleep(5000)]);
  assert.equal(c.frames.filter((f) => f.opcode === 8).length, 1);
  c.sock.destroy();
});

test('invalid nickname or room id in the path: close 4000', T, async () => {
  const c = await connect(WS1, '/ws/room1/system');
  assert.equal((await c.waitClose()).code, 4000);
  const d = await connect(WS1, '/ws/bad%20room/bob');
  assert.equal((await d.waitClose()).code, 4000);
});

test('a message over 64 KiB: close 1009', T, async () => {
  const c = await joinPath(WS1, 'room1', nick('big'));
  c.send('x'.repeat(70 * 1024));
  assert.equal((await c.waitClose()).code, 1009);
});

test('a 64 KiB frame is not closed; a 5000-byte message text is refused', T, async () => {
  const c = await joinPath(WS1, 'room1', nick('mid'));
  c.send('y'.repeat(5000));
  const e = await c.nextType('error');
  assert.equal(e.code, 'message_too_long');
  c.send({ type: 'ping', pad: 'z'.repeat(60000) });
  await c.nextType('pong');
  c.close();
});

test('messages across the 128-byte receive chunk, Hangul split at it, whole or in fragments', T, async () => {
  // lws hands madang-ws a message in chunks of WS_RX_BUFFER (128) bytes; madang-ws joins them.
  // Sizes on each side of one and two chunks, with 3-byte characters that a chunk cuts in two.
  const a = nick('chunk'), b = nick('chunk');
  const ca = await joinPath(WS1, 'room1', a);
  const cb = await joinPath(WS1, 'room1', b);
  await ca.next((m) => m.type === 'join' && m.user === b);
  const texts = [];
  for (const n of [100, 127, 128, 129, 255, 256, 257, 1000]) texts.push('t'.repeat(n));
  for (const pad of [0, 1, 2]) texts.push('p'.repeat(pad) + '한'.repeat(60)); // 180 bytes
  for (const t of texts) cb.send(t);
  // As JSON, in three WebSocket fragments of which the second is cut inside a character.
  const frag = JSON.stringify({ type: 'message', text: '가'.repeat(100) });
  const buf = Buffer.from(frag);
  cb.ws.send(buf.subarray(0, 50), { binary: false, fin: false });
  cb.ws.send(buf.subarray(50, 201), { binary: false, fin: false });
  cb.ws.send(buf.subarray(201), { binary: false, fin: true });
  texts.push('가'.repeat(100));
  for (const t of texts) {
    const m = await ca.next((e) => e.type === 'message' && e.sender === b && e.seq > ca.joined.seq);
    assert.equal(m.message, t);
  }
  ca.close(); cb.close();
});

test('invalid UTF-8: close 1007', T, async () => {
  const c = await joinPath(WS1, 'room1', nick('utf'));
  c.ws.send(Buffer.from([0x68, 0x69, 0xff, 0xfe]), { binary: false });
  assert.equal((await c.waitClose()).code, 1007);
});

test('bad JSON and unknown types get an error event; the socket stays usable', T, async () => {
  const u = nick('json');
  const c = await joinPath(WS1, 'room1', u);
  c.send('{"type":"message", "text": ');
  assert.equal((await c.nextType('error')).code, 'invalid_json');
  c.send({ type: 'dance' });
  assert.equal((await c.nextType('error')).code, 'unknown_type');
  c.send({ type: 'message', text: 42 });
  assert.equal((await c.nextType('error')).code, 'invalid_argument');
  c.send({ type: 'message', text: '   ' });
  assert.equal((await c.nextType('error')).code, 'invalid_argument');
  c.send('{"type":"ping"} trailing');
  assert.equal((await c.nextType('error')).code, 'invalid_json');
  c.send({ type: 'message', text: 'still here' });
  const m = await c.next((x) => x.type === 'message' && x.sender === u);
  assert.equal(m.message, 'still here');
  c.close();
});

test('every error answering a command with a client_id carries it back', T, async () => {
  const u = nick('cide');
  const c = await joinPath(WS1, 'room1', u);
  const cases = [
    [{ type: 'message', text: 'x'.repeat(4097), client_id: 'e-long' }, 'message_too_long', 'message'],
    [{ type: 'message', text: '   ', client_id: 'e-blank' }, 'invalid_argument', 'message'],
    [{ type: 'message', text: 42, client_id: 'e-nan' }, 'invalid_argument', 'message'],
    [{ type: 'dance', client_id: 'e-dance' }, 'unknown_type', undefined],
    [{ type: 3, client_id: 'e-type' }, 'invalid_json', undefined],
    [{ type: 'message', room_id: 'room2', text: 'hi', client_id: 'e-room' }, 'not_in_room', 'message'],
    [{ type: 'private', to: nick('nobody'), text: 'psst', client_id: 'e-priv' }, 'no_such_user', 'private'],
    [{ type: 'history', limit: 0, client_id: 'e-hist' }, 'invalid_argument', 'history'],
    [{ type: 'join_room', room_id: 'room1', client_id: 'e-join' }, 'invalid_argument', 'join_room'],
  ];
  for (const [cmd, code, request] of cases) {
    c.send(cmd);
    const e = await c.nextType('error');
    assert.deepEqual([e.code, e.client_id, e.request], [code, cmd.client_id, request], JSON.stringify(cmd));
  }
  c.close();
});

test('rate_limited names the message (client_id) and says when to retry (retry_after_ms)', T, async () => {
  const c = await joinPath(WS1, 'room6', nick('rl'));
  await sleep(100);
  for (let i = 0; i < 24; i++) c.send({ type: 'message', text: `burst ${i}`, client_id: `rl-${i}` });
  const limited = [];
  let acks = 0;
  while (acks + limited.length < 24) {
    const m = await c.next((x) => x.type === 'ack' || x.type === 'error');
    if (m.type === 'ack') acks++;
    else limited.push(m);
  }
  assert.ok(limited.length >= 3, `limited ${limited.length}`);
  for (const e of limited) {
    assert.equal(e.code, 'rate_limited');
    assert.match(e.client_id, /^rl-(2[0-3]|19)$/);
    assert.equal(e.request, 'message');
    assert.ok(e.retry_after_ms >= 1 && e.retry_after_ms <= 100, `retry_after_ms ${e.retry_after_ms}`);
  }
  await sleep(limited[0].retry_after_ms);
  c.send({ type: 'message', text: 'after the wait', client_id: 'rl-again' });
  assert.equal((await c.next((x) => x.type === 'ack' || x.type === 'error')).type, 'ack');
  c.close();
});

test('40 messages in 1.5 s from a client that backs off as told: all delivered, in order', { timeout: 30000 }, async () => {
  // The web client's outbox: one message in flight, in order; rate_limited → wait retry_after_ms
  // and send the same message again. With the default --rate 10 --burst 20 nothing fails for good.
  const u = nick('typist');
  const c = await joinPath(WS1, 'room7', u);
  const peer = await joinPath(WS1, 'room7', nick('reader'));
  const outbox = [];
  let written = 0;
  const writer = setInterval(() => { if (written < 40) outbox.push(`line ${written++}`); }, 37);
  let retries = 0;
  try {
    for (let i = 0; i < 40; i++) {
      while (outbox.length === 0) await sleep(5);
      const text = outbox[0];
      for (;;) {
        c.send({ type: 'message', text, client_id: `t-${i}` });
        const r = await c.next((x) => (x.type === 'ack' || x.type === 'error') && x.client_id === `t-${i}`, 5000, `answer ${i}`);
        if (r.type === 'ack') break;
        assert.equal(r.code, 'rate_limited', JSON.stringify(r));
        retries++;
        await sleep(r.retry_after_ms);
      }
      outbox.shift();
    }
  } finally {
    clearInterval(writer);
  }
  const got = [];
  while (got.length < 40) got.push((await peer.next((m) => m.type === 'message' && m.sender === u)).message);
  assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => `line ${i}`));
  assert.equal(c.closeInfo, null);
  c.close(); peer.close();
});

test('{"text"} with no type is a chat message (document 001); other typeless objects are invalid_json', T, async () => {
  const u = nick('doc1');
  const c = await joinPath(WS1, 'room2', u);
  c.send(JSON.stringify({ text: '훅에서 보낸 메시지' }));
  const m = await c.next((x) => x.type === 'message' && x.sender === u);
  assert.equal(m.message, '훅에서 보낸 메시지');
  c.send({ message: 'no text field' });
  assert.equal((await c.nextType('error')).code, 'invalid_json');
  c.send({ text: 'typed null', type: null });
  assert.equal((await c.nextType('error')).code, 'invalid_json');
  c.close();
});

test('what a client sends right after the handshake is held until joined, in order, not lost', T, async () => {
  const u = nick('eager'), w = nick('watch');
  const watcher = await joinPath(WS1, 'room3', w);
  const first = Buffer.concat([
    textFrame('first, plain'),
    textFrame(JSON.stringify({ text: 'second, {text}' })),
    textFrame(JSON.stringify({ type: 'message', text: 'third', client_id: 'eager-3' })),
    textFrame(JSON.stringify({ type: 'ping' })),
    textFrame(JSON.stringify({ type: 'history', limit: 1, client_id: 'eager-h' })),
  ]);
  const raw = await rawConnect(WS1, `/ws/room3/${u}`, first);
  const want = ['first, plain', 'second, {text}', 'third'];
  for (const text of want) await watcher.next((m) => m.type === 'message' && m.sender === u && m.message === text, 5000, text);
  // The history reply is the broker's answer and the messages come through its event stream:
  // either may reach this socket first, so wait for both (the watcher having them says nothing
  // of when this socket reads them).
  const ownCount = () => rawJson(raw).filter((m) => m.type === 'message' && m.sender === u).length;
  const deadline = Date.now() + 5000;
  while (!(rawJson(raw).some((m) => m.type === 'history') && ownCount() >= want.length) && Date.now() < deadline) await sleep(20);
  const got = rawJson(raw);
  assert.equal(got.filter((m) => m.type === 'error').length, 0, JSON.stringify(got.filter((m) => m.type === 'error')));
  const types = got.map((m) => m.type);
  assert.ok(types.indexOf('joined') < types.indexOf('ack'), types.join());
  assert.ok(types.includes('pong'));
  assert.equal(got.find((m) => m.type === 'history').client_id, 'eager-h');
  const mine = got.filter((m) => m.type === 'message' && m.sender === u).map((m) => m.message);
  assert.deepEqual(mine, want);
  raw.sendClose();
  await raw.ended;
  watcher.close();
});

test('messages held for a join that fails each get the join\'s error, then the close', T, async () => {
  const u = nick('taken');
  const owner = await joinPath(WS1, 'room3', u);
  const first = Buffer.concat([
    textFrame(JSON.stringify({ type: 'message', text: 'lost?', client_id: 'f-1' })),
    textFrame(JSON.stringify({ type: 'message', text: 'lost too?', client_id: 'f-2' })),
  ]);
  // The frames ride in the handshake's own write, but whether madang-ws reads them before the
  // broker's answer to the join is up to the loop: hold the broker (SIGSTOP) until they are
  // surely read and held, so the test checks what it means to, every time.
  const pid = Number(process.env.MADANG_BROKER_PID);
  process.kill(pid, 'SIGSTOP');
  let raw;
  try {
    raw = await rawConnect(WS1, `/ws/room3/${u}`, first);
    await sleep(300);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await raw.ended;
  const errs = rawJson(raw).filter((m) => m.type === 'error');
  assert.deepEqual(errs.map((e) => [e.code, e.client_id ?? null]),
    [['nickname_taken', null], ['nickname_taken', 'f-1'], ['nickname_taken', 'f-2']]);
  const close = raw.frames.find((f) => f.opcode === 8);
  assert.equal(close.payload.readUInt16BE(0), 4009);
  await sleep(100);
  assert.equal(owner.msgs.filter((m) => m.type === 'message' && m.message.startsWith('lost')).length, 0);
  owner.close();
});

test('binary messages: close 1003', T, async () => {
  const c = await joinPath(WS1, 'room1', nick('bin'));
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await c.waitClose()).code, 1003);
});

test('rate limit: a burst over 20 gets rate_limited errors and stays open', T, async () => {
  const c = await joinPath(WS1, 'room1', nick('rate'));
  await sleep(100);
  for (let i = 0; i < 25; i++) c.send({ type: 'ping' });
  let pongs = 0, limited = 0;
  while (pongs + limited < 25) {
    const m = await c.next((x) => x.type === 'pong' || x.type === 'error');
    if (m.type === 'pong') pongs++;
    else { assert.equal(m.code, 'rate_limited'); limited++; }
  }
  assert.ok(pongs >= 20 && pongs <= 21, `pongs ${pongs}`);
  assert.ok(limited >= 4, `limited ${limited}`);
  await sleep(300); // three tokens back at 10/s
  c.send({ type: 'ping' });
  await c.nextType('pong');
  assert.equal(c.closeInfo, null);
  c.close();
});

test('rate limit: sustained abuse is closed with 1008', T, async () => {
  const c = await joinPath(WS1, 'room1', nick('abuse'));
  for (let i = 0; i < 100; i++) c.send({ type: 'ping' });
  const cl = await c.waitClose();
  assert.equal(cl.code, 1008);
  assert.match(cl.reason, /rate/);
});

test('ping gets pong; plain text and JSON messages are equivalent', T, async () => {
  const u = nick('pp');
  const c = await joinPath(WS1, 'room2', u);
  c.send({ type: 'ping' });
  await c.nextType('pong');
  c.send('  plain text  ');
  const m = await c.next((x) => x.type === 'message' && x.sender === u);
  assert.equal(m.message, '  plain text  ');
  c.close();
});

test('typing reaches the others, not the typist', T, async () => {
  const a = nick('ty'), b = nick('tz');
  const ca = await joinPath(WS1, 'room2', a);
  const cb = await joinPath(WS1, 'room2', b);
  ca.send({ type: 'typing', active: true });
  const t = await cb.next((m) => m.type === 'typing' && m.user === a);
  assert.equal(t.active, true);
  assert.equal(t.room_id, 'room2');
  await sleep(200);
  assert.equal(ca.msgs.filter((m) => m.type === 'typing' && m.user === a).length, 0);
  ca.close(); cb.close();
});

test('private messages reach the recipient and echo to the sender', T, async () => {
  const a = nick('pa'), b = nick('pb');
  const ca = await joinPath(WS1, 'room2', a);
  const cb = await joinPath(WS1, 'room2', b);
  ca.send({ type: 'private', to: b, text: 'psst' });
  const got = await cb.nextType('private');
  assert.deepEqual([got.from, got.to, got.message], [a, b, 'psst']);
  assert.equal(got.session, undefined, 'the session id is not leaked');
  const echo = await ca.nextType('private');
  assert.deepEqual([echo.from, echo.to, echo.message], [a, b, 'psst']);
  ca.send({ type: 'private', to: nick('nobody'), text: 'hello?' });
  assert.equal((await ca.nextType('error')).code, 'no_such_user');
  ca.close(); cb.close();
});

test('history command pages back with before_seq', T, async () => {
  const u = nick('hp');
  const c = await joinPath(WS1, 'room3', u);
  for (let i = 0; i < 3; i++) c.send(`page ${i}`);
  let last;
  for (let i = 0; i < 3; i++) last = await c.next((m) => m.type === 'message' && m.sender === u);
  c.send({ type: 'history', before_seq: last.seq, limit: 2 });
  const h = await c.nextType('history');
  assert.equal(h.room_id, 'room3');
  assert.deepEqual(h.events.map((e) => e.message), ['page 0', 'page 1']);
  c.close();
});

test('message to a room the connection is not in: not_in_room', T, async () => {
  const c = await joinPath(WS1, 'room1', nick('nr'));
  c.send({ type: 'message', room_id: 'room2', text: 'hi' });
  assert.equal((await c.nextType('error')).code, 'not_in_room');
  c.close();
});

test('history of a room the connection is not in: not_in_room, nothing of that room leaks', T, async () => {
  const secret = await joinPath(WS1, 'room2', nick('keeper'));
  secret.send('room2 only');
  await secret.next((m) => m.type === 'message' && m.message === 'room2 only');
  const c = await joinPath(WS1, 'room1', nick('peek'));
  c.send({ type: 'history', room_id: 'room2', limit: 500, client_id: 'h-1' });
  const e = await c.next((m) => m.type === 'error' || m.type === 'history');
  assert.equal(e.type, 'error');
  assert.equal(e.code, 'not_in_room');
  assert.equal(e.room_id, 'room2');
  // Its own room's history is still served.
  c.send({ type: 'history', room_id: 'room1', limit: 1 });
  assert.equal((await c.nextType('history')).room_id, 'room1');
  assert.equal(c.msgs.some((m) => m.room_id === 'room2' && m.type !== 'error'), false);
  // On /ws with no room at all, the same.
  const bare = await connect(WS1, `/ws?user=${nick('bare')}`);
  await bare.nextType('welcome');
  bare.send({ type: 'history', room_id: 'room2' });
  assert.equal((await bare.nextType('error')).code, 'not_in_room');
  secret.close(); c.close(); bare.close();
});

test('/ws: join and leave rooms by message, room_id chooses the room', T, async () => {
  const u = nick('multi');
  const c = await connect(WS1, `/ws?user=${u}`);
  const w = await c.nextType('welcome');
  assert.equal(w.user, u);
  c.send({ type: 'message', text: 'nowhere' });
  assert.equal((await c.nextType('error')).code, 'not_in_room');
  c.send({ type: 'join_room', room_id: 'room1' });
  const j1 = await c.nextType('joined');
  assert.equal(j1.room_id, 'room1');
  c.send({ type: 'join_room', room_id: 'room2' });
  const j2 = await c.nextType('joined');
  assert.equal(j2.room_id, 'room2');
  c.send({ type: 'message', text: 'which room?' });
  assert.equal((await c.nextType('error')).code, 'room_required');
  c.send({ type: 'message', room_id: 'room2', text: 'to room2' });
  const m = await c.next((x) => x.type === 'message' && x.sender === u);
  assert.equal(m.room_id, 'room2');
  c.send({ type: 'join_room', room_id: 'room1' });
  assert.equal((await c.nextType('error')).code, 'invalid_argument');
  c.send({ type: 'leave_room', room_id: 'room1' });
  const left = await c.nextType('left');
  assert.equal(left.room_id, 'room1');
  c.send({ type: 'message', text: 'only room2 now' });
  const m2 = await c.next((x) => x.type === 'message' && x.sender === u && x.message === 'only room2 now');
  assert.equal(m2.room_id, 'room2');
  c.send({ type: 'join_room', room_id: 'nope' });
  assert.equal((await c.nextType('error')).code, 'no_such_room');
  assert.equal(c.closeInfo, null, 'a refused join_room does not close /ws');
  c.close();
});

test('/ws without a nickname: join_room needs "user"', T, async () => {
  const c = await connect(WS1, '/ws');
  const w = await c.nextType('welcome');
  assert.equal(w.user, null);
  c.send({ type: 'join_room', room_id: 'room1' });
  assert.equal((await c.nextType('error')).code, 'nickname_required');
  const u = nick('late');
  c.send({ type: 'join_room', room_id: 'room1', user: u });
  assert.equal((await c.nextType('joined')).user, u);
  c.close();
});

test('HTTP: /healthz answers 200 with JSON, other paths 404, unknown ws path 404', T, async () => {
  const h = await httpGet(WS1, '/healthz');
  assert.equal(h.status, 200);
  const j = JSON.parse(h.body);
  assert.equal(j.status, 'ok');
  assert.equal(j.broker, 'up');
  assert.equal(typeof j.sessions, 'number');
  assert.equal((await httpGet(WS1, '/index.html')).status, 404);
  await assert.rejects(connect(WS1, '/chat'), (e) => e.status === 404);
});

test('Origin must match Host; no Origin is allowed', T, async () => {
  const port = new URL(WS1).port;
  await assert.rejects(connect(WS1, '/ws', { headers: { Origin: 'http://evil.example' } }), (e) => e.status === 403);
  const ok = await connect(WS1, '/ws', { headers: { Origin: `http://127.0.0.1:${port}` } });
  await ok.nextType('welcome');
  ok.close();
});

test('room deleted: members get room_deleted; /ws/{room}/{user} is closed with 4004, /ws stays', T, async () => {
  const a = nick('gone'), b = nick('multi');
  const ca = await joinPath(WS1, 'doomed', a);
  const cb = await connect(WS1, `/ws?user=${b}`);
  await cb.nextType('welcome');
  cb.send({ type: 'join_room', room_id: 'doomed' });
  await cb.nextType('joined');
  cb.send({ type: 'join_room', room_id: 'room1' });
  await cb.nextType('joined');
  ca.send('last words');
  await cb.next((m) => m.type === 'message' && m.message === 'last words');
  // delete_room straight at the broker (tests/integration/it_rpc.c)
  execFileSync(`${process.env.MADANG_TESTBIN}/it_rpc`,
    ['--check', process.env.MADANG_BROKER_RPC, '{"op":"delete_room","room_id":"doomed"}'], { timeout: 5000 });
  const da = await ca.nextType('room_deleted');
  assert.equal(da.room_id, 'doomed');
  assert.equal((await ca.waitClose()).code, 4004);
  const db = await cb.nextType('room_deleted');
  assert.equal(db.seq, da.seq);
  cb.send({ type: 'message', room_id: 'doomed', text: 'anyone?' });
  assert.equal((await cb.nextType('error')).code, 'not_in_room');
  cb.send({ type: 'message', text: 'only room1 is left' });
  const m = await cb.next((x) => x.type === 'message' && x.sender === b);
  assert.equal(m.room_id, 'room1');
  cb.close();
});

test('/ws: one nickname per connection; another is refused while it is in a room', T, async () => {
  const u = nick('one'), other = nick('two');
  const c = await connect(WS1, '/ws');
  await c.nextType('welcome');
  c.send({ type: 'join_room', room_id: 'room1', user: u });
  assert.equal((await c.nextType('joined')).user, u);
  c.send({ type: 'join_room', room_id: 'room3', user: other, client_id: 'j-2' });
  const e = await c.nextType('error');
  assert.deepEqual([e.code, e.request, e.room_id, e.client_id], ['invalid_argument', 'join_room', 'room3', 'j-2']);
  c.send({ type: 'join_room', room_id: 'room3', user: u.toUpperCase() }); // the same nickname
  const j = await c.nextType('joined');
  assert.deepEqual([j.room_id, j.user], ['room3', u]);
  // In no room any more, a join may name another nickname (a client whose name was taken).
  c.send({ type: 'leave_room', room_id: 'room1' });
  await c.nextType('left');
  c.send({ type: 'leave_room', room_id: 'room3' });
  await c.nextType('left');
  c.send({ type: 'join_room', room_id: 'room1', user: other });
  assert.equal((await c.nextType('joined')).user, other);
  c.close();
});

test('/ws: a join refused as nickname_taken lets the next join_room name another', T, async () => {
  const taken = nick('tk'), mine = nick('mn');
  const holder = await joinPath(WS1, 'room3', taken);
  const c = await connect(WS1, '/ws');
  await c.nextType('welcome');
  c.send({ type: 'join_room', room_id: 'room3', user: taken });
  assert.equal((await c.nextType('error')).code, 'nickname_taken');
  c.send({ type: 'join_room', room_id: 'room3', user: mine });
  assert.equal((await c.nextType('joined')).user, mine);
  c.close();
  holder.close();
});

test('client_id: printable ASCII without space, " or \\ (a space is refused)', T, async () => {
  const u = nick('cidsp');
  const c = await joinPath(WS1, 'room1', u);
  c.send({ type: 'message', text: 'spaced', client_id: 'a b' });
  const e = await c.nextType('error');
  assert.equal(e.code, 'invalid_argument');
  assert.equal(e.client_id, undefined);
  assert.match(e.message, /no space/);
  c.send({ type: 'message', text: 'punct', client_id: '!#$%&\'()*+,-./:;<=>?@[]^_`{|}~' });
  assert.equal((await c.nextType('ack')).client_id, '!#$%&\'()*+,-./:;<=>?@[]^_`{|}~');
  c.close();
});

test('the rate limit counts every frame: pings, typing, join_room and refused ones too', T, async () => {
  // docs/protocol.md, Limits: 20 at once (burst), then 10/s; what a frame is does not matter.
  const u = nick('every');
  const c = await joinPath(WS1, 'room4', u);
  await sleep(100);
  for (let i = 0; i < 5; i++) c.send({ type: 'ping' });
  for (let i = 0; i < 5; i++) c.send({ type: 'typing', active: i % 2 === 0 });
  for (let i = 0; i < 5; i++) c.send({ type: 'join_room', room_id: 'room4' }); // already in: refused
  for (let i = 0; i < 5; i++) c.send('{not json');
  c.send({ type: 'message', text: 'one too many', client_id: 'rl-last' });
  const e = await c.next((m) => m.client_id === 'rl-last');
  assert.deepEqual([e.type, e.code], ['error', 'rate_limited']);
  c.close();
});
