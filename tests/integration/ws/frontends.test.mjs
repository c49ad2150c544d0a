// frontends.test.mjs — several madang-ws at once: two front-ends share a room, --reuseport
// really shares one port between processes, a client that never reads is dropped (1008 slow
// consumer) while the others get every message, per-connection and per-address limits.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { spawnTracked } from '../../lib/stack.mjs';
import { closeAll, connect, joinPath, nick, sleep, httpGet } from '../../lib/wsclient.mjs';

const WS1 = process.env.MADANG_WS1_URL;
const WS2 = process.env.MADANG_WS2_URL;

after(closeAll);

const T = { timeout: 30000 };

async function health(base) {
  return JSON.parse((await httpGet(base, '/healthz')).body);
}

test('two front-ends share a room: each member sees every message once, in order', T, async () => {
  const a = nick('f1'), b = nick('f2');
  const ca = await joinPath(WS1, 'room6', a);
  const cb = await joinPath(WS2, 'room6', b);
  assert.ok(cb.joined.users.includes(a));
  await ca.next((m) => m.type === 'join' && m.user === b);
  for (let i = 0; i < 5; i++) { ca.send(`a${i}`); cb.send(`b${i}`); }
  const runs = [];
  for (const c of [ca, cb]) {
    const got = [];
    while (got.length < 10) got.push(await c.next((m) => m.type === 'message' && m.seq > c.joined.seq));
    for (let i = 1; i < got.length; i++) assert.equal(got[i].seq, got[i - 1].seq + 1);
    runs.push(got.map((m) => `${m.seq}:${m.message}`));
  }
  assert.deepEqual(runs[0], runs[1], 'both front-ends deliver the same sequence');
  ca.close();
  const l = await cb.next((m) => m.type === 'leave' && m.user === a);
  assert.equal(l.reason, 'disconnected');
  cb.close();
});

test("a join served from the front-end's own frames gets the broker's history, then every live event", T, async () => {
  // ws1 holds room6 (a member stays there), so a later join on ws1 asks the broker only for the
  // history before what ws1 still has (history_below) and replays the rest from its own frames.
  const keeper = await joinPath(WS1, 'room6', nick('keep'));
  const p = nick('burst');
  const sender = await joinPath(WS2, 'room6', p);
  for (let i = 0; i < 70; i++) sender.send({ type: 'message', text: `h${i}` });
  await keeper.next((m) => m.type === 'message' && m.message === 'h69', 10000, 'h69');
  const shared = (await health(WS1)).counters.history_shared;
  // Messages keep coming while the late client joins.
  for (let i = 0; i < 30; i++) sender.send({ type: 'message', text: `l${i}` });
  const late = await joinPath(WS1, 'room6', nick('late'));
  // l29 may be live or, when all 30 were sequenced before the join, the replay's last: wait for
  // it and for the client's own join, which follows the replay, whichever comes last.
  await late.until(() => late.msgs.some((m) => m.type === 'message' && m.message === 'l29') &&
    late.msgs.some((m) => m.type === 'join' && m.seq === late.joined.seq), 10000, 'l29 and the own join');
  assert.equal((await health(WS1)).counters.history_shared, shared + 1, 'history came from ws1\'s frames');
  const j = late.msgs.findIndex((m) => m.type === 'joined');
  const after = late.msgs.slice(j + 1).filter((m) => m.seq !== undefined);
  const replay = after.filter((m) => m.seq < late.joined.seq);
  assert.equal(replay.length, 50, 'the newest --history (50) events before the join');
  after.forEach((m, i) => { if (i) assert.equal(m.seq, after[i - 1].seq + 1, 'contiguous, no duplicate'); });
  assert.equal(replay[replay.length - 1].seq, late.joined.seq - 1);
  const own = after.find((m) => m.seq === late.joined.seq);
  assert.equal(own.type, 'join');
  assert.equal(own.user, late.joined.user);
  // The same events, field for field, as the broker's own history of the room.
  late.send({ type: 'history', before_seq: late.joined.seq, limit: 50 });
  const h = await late.nextType('history');
  assert.deepEqual(replay, h.events);
  assert.equal(sender.msgs.filter((m) => m.type === 'error').length, 0);
  keeper.close(); sender.close(); late.close();
});

test('a client that never reads is closed (slow consumer); the others get everything', T, async (t) => {
  const r = nick('reader'), s = nick('sleeper'), p = nick('sender');
  const reader = await joinPath(WS2, 'room6', r);
  // ws-sleeper (tests/integration/ws/sleeper.c): a 4 KiB receive buffer, and it never reads.
  const port = new URL(WS2).port;
  const sleeper = spawn(`${process.env.MADANG_TESTBIN}/ws-sleeper`, [port, `/ws/room6/${s}`, '60'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (sleeper.exitCode === null) sleeper.kill('SIGKILL'); });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('ws-sleeper did not join')), 5000);
    sleeper.stdout.on('data', (d) => { if (d.toString().includes('joined')) { clearTimeout(timer); resolve(); } });
    sleeper.on('exit', (code) => reject(new Error(`ws-sleeper exited ${code}`)));
  });
  const sender = await joinPath(WS2, 'room6', p);
  await reader.next((m) => m.type === 'join' && m.user === p);
  const before = (await health(WS2)).counters.slow_consumers;
  // Rounds of 100 messages of 3 KB (a client's requests wait in a bounded queue) until the
  // sleeper is dropped: its 4 KiB receive buffer, the kernel's send buffer and its 1 MiB queue
  // limit fill up after a few MB. At most 30 MB.
  const ROUND = 100, MAX = 10000, text = 'x'.repeat(3000);
  let expect = 0, lastSeq = 0, sent = 0;
  const dropped = () => reader.msgs.some((x) => x.type === 'leave' && x.user === s);
  while (sent < MAX && !(dropped() && sent >= 1000)) {
    for (let i = sent; i < sent + ROUND; i++) sender.send({ type: 'message', text: `${i} ${text}` });
    sent += ROUND;
    while (expect < sent) {
      const m = await reader.next((x) => x.type === 'message' && x.sender === p, 10000, `message ${expect}`);
      assert.equal(Number(m.message.split(' ')[0]), expect);
      if (lastSeq) assert.ok(m.seq > lastSeq);
      lastSeq = m.seq;
      expect++;
    }
  }
  assert.equal(sender.msgs.filter((x) => x.type === 'error').length, 0);
  const seqs = reader.msgs.filter((x) => x.seq > reader.joined.seq).map((x) => x.seq);
  seqs.forEach((q, i) => { if (i) assert.equal(q, seqs[i - 1] + 1, 'no room event missing'); });
  const leave = reader.msgs.find((x) => x.type === 'leave' && x.user === s);
  assert.ok(leave, `the sleeper was dropped from the room (after ${sent} messages)`);
  assert.equal(leave.reason, 'disconnected');
  assert.equal((await health(WS2)).counters.slow_consumers, before + 1);
  reader.close(); sender.close();
});

test('a client that stops reading for a while gets every message once, in order, when it reads again', T, async (t) => {
  // A madang-ws of its own, with a --queue-limit far above what is sent: this client is slow,
  // not a slow consumer to be dropped.
  const cmd = process.env.MADANG_WS_REUSE_CMD.split(' ');
  const libev = !process.env.MADANG_WS_REUSE_CMD.includes('--event-loop poll');
  const wsPort = await freePort();
  const k = spawnTracked(cmd[0], [...cmd.slice(1), '--listen', `127.0.0.1:${wsPort}`, '--id', 'ws-pause',
    '--queue-limit', String(64 << 20), '--rate', '100000', '--burst', '100000'], { stdio: 'ignore' });
  t.after(() => { if (k.exitCode === null) k.kill('SIGKILL'); });
  const base = `ws://127.0.0.1:${wsPort}`;
  const s = nick('pauser'), p = nick('sender');
  let sender;
  const deadline = Date.now() + 8000;
  while (!sender && Date.now() < deadline) {
    try { sender = await joinPath(base, 'room7', p); } catch { await sleep(100); }
  }
  assert.ok(sender, 'joined its own madang-ws');
  // ws-sleeper with UNTIL: a 4 KiB receive buffer; it reads nothing until told to on its stdin,
  // then reads everything and prints each message, until the one containing the marker.
  const mark = `END-${p}`;
  const pauser = spawn(`${process.env.MADANG_TESTBIN}/ws-sleeper`, [String(wsPort), `/ws/room7/${s}`, '60', mark],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { if (pauser.exitCode === null) pauser.kill('SIGKILL'); });
  let out = '';
  const exited = new Promise((resolve) => pauser.on('exit', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('ws-sleeper did not join')), 5000);
    pauser.stdout.on('data', (d) => { out += d; if (out.includes('joined')) { clearTimeout(timer); resolve(); } });
    pauser.on('exit', (code) => reject(new Error(`ws-sleeper exited ${code}`)));
  });
  await sender.next((m) => m.type === 'join' && m.user === s);
  const before = (await health(base)).counters.socket_full;
  // 2 MB more than the kernel's largest send buffer (tcp_wmem), in rounds of 50 messages of
  // 3 KB paced by the sender's own copies: madang-ws must hold part of it while the client
  // does not read.
  const wmem = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]);
  const ROUND = 50, text = 'y'.repeat(3000), N = Math.ceil((wmem + (2 << 20)) / 3000 / ROUND) * ROUND;
  for (let i = 0; i < N; i += ROUND) {
    for (let k2 = i; k2 < i + ROUND; k2++) sender.send({ type: 'message', text: `${k2} ${text}` });
    for (let k2 = i; k2 < i + ROUND; k2++) {
      await sender.next((m) => m.type === 'message' && m.message.startsWith(`${k2} `), 10000, `own copy ${k2}`);
    }
  }
  sender.send({ type: 'message', text: mark });
  await sender.next((m) => m.type === 'message' && m.message === mark);
  // On libev madang-ws writes without waiting to be told the socket has room, so a full
  // socket shows as a short write; on poll it waits for POLLOUT and may never see one.
  if (libev) assert.ok((await health(base)).counters.socket_full > before, 'counters.socket_full rose');
  pauser.stdin.write('read\n');
  assert.equal(await exited, 0, 'ws-sleeper read up to the marker');
  const got = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
    .filter((m) => m.type === 'message' && m.sender === p);
  assert.deepEqual(got.map((m) => m.message.split(' ')[0]),
    [...Array.from({ length: N }, (_, i) => String(i)), mark], `all ${N} messages once, in order`);
  got.forEach((m, i) => { if (i) assert.equal(m.seq, got[i - 1].seq + 1); });
  assert.equal(sender.msgs.filter((x) => x.type === 'error').length, 0);
  sender.close();
  k.kill('SIGTERM');
});

test('--max-rooms-per-conn: one join too many gets too_many_rooms', T, async () => {
  const u = nick('rooms');
  const c = await connect(WS2, `/ws?user=${u}`);
  await c.nextType('welcome');
  for (const room of ['room1', 'room2']) {
    c.send({ type: 'join_room', room_id: room });
    assert.equal((await c.nextType('joined')).room_id, room);
  }
  c.send({ type: 'join_room', room_id: 'room3' });
  assert.equal((await c.nextType('error')).code, 'too_many_rooms');
  c.close();
});

test('--max-conns-per-ip with a trusted proxy: counted per X-Forwarded-For client', T, async () => {
  // ws2 runs with --max-conns-per-ip 4 --trusted-proxies 127.0.0.1
  const open = [];
  for (let i = 0; i < 4; i++) {
    const c = await connect(WS2, '/ws', { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    await c.nextType('welcome');
    open.push(c);
  }
  const extra = await connect(WS2, '/ws', { headers: { 'X-Forwarded-For': '203.0.113.7' } });
  const cl = await extra.waitClose();
  assert.equal(cl.code, 1008);
  assert.match(cl.reason, /too many connections/);
  // Only 127.0.0.1 is trusted: the client is the rightmost other entry, 203.0.113.7 again.
  const other = await connect(WS2, '/ws', { headers: { 'X-Forwarded-For': '198.51.100.1, 203.0.113.7' } });
  const cl2 = await other.waitClose();
  assert.equal(cl2.code, 1008);
  const fresh = await connect(WS2, '/ws', { headers: { 'X-Forwarded-For': '198.51.100.1' } });
  await fresh.nextType('welcome');
  await sleep(200);
  assert.equal(fresh.closeInfo, null);
  open[0].close();
  await open[0].closed;
  await sleep(200);
  const again = await connect(WS2, '/ws', { headers: { 'X-Forwarded-For': '203.0.113.7' } });
  await again.nextType('welcome');
  await sleep(200);
  assert.equal(again.closeInfo, null, 'a slot freed by a close is usable again');
  for (const c of [...open, fresh, again]) c.close();
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

test('--reuseport: two processes serve one port', T, async (t) => {
  const cmd = process.env.MADANG_WS_REUSE_CMD.split(' ');
  const port = await freePort();
  const kids = [];
  t.after(() => { for (const k of kids) if (k.exitCode === null) k.kill('SIGKILL'); });
  for (const id of ['ws-reuse-a', 'ws-reuse-b']) {
    const k = spawnTracked(cmd[0], [...cmd.slice(1), '--listen', `127.0.0.1:${port}`, '--id', id], { stdio: 'ignore' });
    kids.push(k);
  }
  const base = `ws://127.0.0.1:${port}`;
  const deadline = Date.now() + 8000;
  const seen = new Set();
  while (seen.size < 2 && Date.now() < deadline) {
    try {
      const c = await connect(base, '/ws');
      const w = await c.nextType('welcome', 2000);
      seen.add(w.frontend);
      c.close();
    } catch {
      await sleep(100);
    }
  }
  assert.deepEqual([...seen].sort(), ['ws-reuse-a', 'ws-reuse-b']);
  for (const k of kids) assert.equal(k.exitCode, null, 'both processes still run');
  for (const k of kids) k.kill('SIGTERM');
  for (const k of kids) {
    const code = k.exitCode ?? await new Promise((r) => k.on('exit', (c) => r(c)));
    assert.equal(code, 0);
  }
});

test('--ping-interval: pings are sent; a peer that never answers is dropped', T, async (t) => {
  const cmd = process.env.MADANG_WS_REUSE_CMD.split(' ');
  const port = await freePort();
  const k = spawnTracked(cmd[0], [...cmd.slice(1), '--listen', `127.0.0.1:${port}`, '--id', 'ws-ping', '--ping-interval', '1'],
    { stdio: 'ignore' });
  t.after(() => { if (k.exitCode === null) k.kill('SIGKILL'); });
  const base = `ws://127.0.0.1:${port}`;
  let answering, silent;
  const deadline = Date.now() + 8000;
  while (!silent && Date.now() < deadline) {
    try {
      // Both must be welcomed: until its broker hello is answered, a fresh madang-ws refuses
      // connections with 1013, and a refused "answering" client would never be pinged.
      const a = await connect(base, '/ws');
      await a.nextType('welcome', 2000);
      const s = await connect(base, '/ws', { autoPong: false });
      await s.nextType('welcome', 2000);
      [answering, silent] = [a, s];
    } catch {
      await sleep(100);
    }
  }
  assert.ok(silent, 'connected');
  let pings = 0;
  answering.ws.on('ping', () => { pings++; });
  const start = Date.now();
  const cl = await silent.waitClose(6000);
  const after = Date.now() - start;
  assert.equal(cl.code, 1006, 'cut without a close frame');
  assert.ok(after >= 1000 && after <= 4500, `dropped after ${after} ms`);
  // The answering client sends nothing but its pongs: they alone keep it, well past two intervals.
  // (Its pings are counted only now: one sweep may queue its ping and cut the silent client.)
  await sleep(3000);
  assert.ok(pings >= 3, `the answering client is pinged every interval (${pings})`);
  assert.equal(answering.closeInfo, null, 'a peer that answers stays');
  answering.close();
  k.kill('SIGTERM');
});

test('--origins: only the listed origins may open a WebSocket', T, async (t) => {
  const cmd = process.env.MADANG_WS_REUSE_CMD.split(' ');
  const port = await freePort();
  const k = spawnTracked(cmd[0], [...cmd.slice(1), '--listen', `127.0.0.1:${port}`, '--id', 'ws-origins',
    '--origins', 'https://chat.example,http://localhost:8080'], { stdio: 'ignore' });
  t.after(() => { if (k.exitCode === null) k.kill('SIGKILL'); });
  const base = `ws://127.0.0.1:${port}`;
  let ok;
  const deadline = Date.now() + 8000;
  while (!ok && Date.now() < deadline) {
    try {
      ok = await connect(base, '/ws', { headers: { Origin: 'https://chat.example' } });
    } catch {
      await sleep(100);
    }
  }
  assert.ok(ok, 'a listed origin is accepted');
  ok.close();
  const second = await connect(base, '/ws', { headers: { Origin: 'http://localhost:8080' } });
  second.close();
  await assert.rejects(connect(base, '/ws', { headers: { Origin: `http://127.0.0.1:${port}` } }), (e) => e.status === 403);
  await assert.rejects(connect(base, '/ws', { headers: { Origin: 'https://chat.example.evil' } }), (e) => e.status === 403);
  const none = await connect(base, '/ws'); // no Origin: not a browser
  none.close();
  k.kill('SIGTERM');
});

/* Joins room1 on a madang-ws just spawned, trying for 8 s while it starts; fails the test
 * when it never answers. */
async function joinWhenUp(base, name) {
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline) {
    try {
      return await joinPath(base, 'room1', name);
    } catch {
      await sleep(100);
    }
  }
  assert.fail(`no madang-ws at ${base} within 8 s`);
}

test('--max-message, and SIGINT: clients closed with 1001, exit status 0', T, async (t) => {
  const cmd = process.env.MADANG_WS_REUSE_CMD.split(' ');
  const port = await freePort();
  const k = spawnTracked(cmd[0], [...cmd.slice(1), '--listen', `127.0.0.1:${port}`, '--id', 'ws-int', '--max-message', '10'],
    { stdio: 'ignore' });
  t.after(() => { if (k.exitCode === null) k.kill('SIGKILL'); });
  const exited = new Promise((resolve) => k.on('exit', (code, signal) => resolve({ code, signal })));
  const c = await joinWhenUp(`ws://127.0.0.1:${port}`, nick('int'));
  assert.equal(c.welcome.limits.max_message, 10);
  c.send('0123456789');
  await c.next((m) => m.type === 'message' && m.message === '0123456789');
  c.send('0123456789a');
  assert.equal((await c.nextType('error')).code, 'message_too_long');
  k.kill('SIGINT');
  assert.equal((await c.waitClose()).code, 1001);
  assert.deepEqual(await exited, { code: 0, signal: null });
});

// nng 1.5.2 can deadlock in nng_close (common/stopguard.h); a shim makes it certain here.
test('--stop-timeout: a stop stuck in nng_close ends with status 0 (its work is done), its clients closed with 1001 first', T, async (t) => {
  const cmd = process.env.MADANG_WS_REUSE_CMD.split(' ');
  const port = await freePort();
  const asan = process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : '';
  const k = spawnTracked(cmd[0], [...cmd.slice(1), '--listen', `127.0.0.1:${port}`, '--id', 'ws-hang', '--stop-timeout', '1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LD_PRELOAD: `${process.env.MADANG_TESTBIN}/nng-close-hang.so`,
      ASAN_OPTIONS: `${asan}verify_asan_link_order=0` },
  });
  t.after(() => { if (k.exitCode === null) k.kill('SIGKILL'); });
  let log = '';
  k.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => k.on('exit', (code, signal) => resolve({ code, signal })));
  const c = await joinWhenUp(`ws://127.0.0.1:${port}`, nick('hang'));
  const t0 = Date.now();
  k.kill('SIGTERM');
  assert.equal((await c.waitClose()).code, 1001);
  assert.deepEqual(await exited, { code: 0, signal: null });
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 4000, `stopped after ${took} ms`);
  assert.match(log, /ws: nng_close did not return within 1 s \(nng 1\.5\.2's close deadlock\?\): exiting with status 0/);
});
