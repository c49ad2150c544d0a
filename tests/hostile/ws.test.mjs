// ws.test.mjs — drives the WebSocket corpus (ws-cases.json) against madang-ws with its default
// limits, then the floods (messages, joins; anonymous /ws/chat/{room_id} members too) and 5,000
// connections from one address. Each case
// asserts the documented answer (docs/protocol.md: error code, close code); after each group a
// normal pair of clients still chats. Environment from tests/suites/71-hostile.sh:
// MADANG_HOSTILE_WS (ws://127.0.0.1:PORT).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { closeAll, open } from '../lib/wsclient.mjs';

const BASE = process.env.MADANG_HOSTILE_WS;
const PORT = Number(new URL(BASE).port);
const corpus = JSON.parse(fs.readFileSync(new URL('./ws-cases.json', import.meta.url), 'utf8')).cases;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
after(closeAll);

let counter = 0;
const nick = () => `h${process.pid % 1000}_${++counter}`;

// A connection that records every event, its close, or the HTTP status of a refused handshake
// (tests/lib/wsclient.mjs); frames of any size are accepted.
function conn(path) {
  return open(BASE + path, { maxPayload: 0, handshakeTimeout: 5000 });
}

function expandPath(p, ctx) {
  return p.replace(/\{nick\}/g, ctx.nick).replace(/\{taken\}/g, ctx.taken)
    .replace(/\{enc:([\s\S]*)\}/, (_, x) => encodeURIComponent(x));
}
function expandJson(o, ctx) {
  return JSON.parse(JSON.stringify(o).replace(/\{nick\}/g, ctx.nick));
}

function payload(cs) {
  if (cs.text !== undefined) return [[Buffer.from(cs.text, 'utf8'), { binary: false }]];
  if (cs.json !== undefined) return [[Buffer.from(JSON.stringify(cs.json), 'utf8'), { binary: false }]];
  if (cs.hex) return [[Buffer.from(cs.hex, 'hex'), { binary: false }]];
  if (cs.binary_hex) return [[Buffer.from(cs.binary_hex, 'hex'), { binary: true }]];
  if (cs.fragments_hex) return cs.fragments_hex.map((h, i, a) => [Buffer.from(h, 'hex'), { binary: false, fin: i === a.length - 1 }]);
  switch (cs.gen) {
  case 'big': return [[Buffer.alloc(cs.bytes, 'a'), { binary: false }]];
  case 'bigfrag': {
    const per = Math.ceil(cs.bytes / cs.parts), out = [];
    for (let i = 0; i < cs.parts; i++) out.push([Buffer.alloc(Math.min(per, cs.bytes - i * per), 'a'), { binary: false, fin: i === cs.parts - 1 }]);
    return out;
  }
  case 'maxjson': {
    const head = '{"type":"message","text":"', tail = '"}';
    return [[Buffer.from(head + 'x'.repeat(cs.bytes - head.length - tail.length) + tail), { binary: false }]];
  }
  case 'nest': return [[Buffer.from('{"type":"message","text":' + '['.repeat(cs.depth) + ']'.repeat(cs.depth) + '}'), { binary: false }]];
  case 'openbraces': return [[Buffer.from('{'.repeat(cs.count)), { binary: false }]];
  default: throw new Error(`unknown gen ${cs.gen}`);
  }
}

async function sendAll(c, frames) {
  for (const [buf, opt] of frames) {
    await new Promise((resolve) => c.ws.send(buf, opt, () => resolve()));
  }
}

// A normal client still chats: A says something in room3, B (and A) receive it.
async function normalChat(tag) {
  const a = conn(`/ws/room3/${nick()}`), b = conn(`/ws/room3/${nick()}`);
  await a.until(() => a.msgs.some((m) => m.type === 'joined'), 5000, 'a joined');
  await b.until(() => b.msgs.some((m) => m.type === 'joined'), 5000, 'b joined');
  const text = `still chatting after ${tag}`;
  a.ws.send(JSON.stringify({ type: 'message', text, client_id: 'n1' }));
  await b.until(() => b.msgs.some((m) => m.type === 'message' && m.message === text), 5000, 'b got the message');
  await a.until(() => a.msgs.some((m) => m.type === 'ack' && m.client_id === 'n1'), 5000, 'a acked');
  a.ws.close();
  b.ws.close();
}

// One corpus case; returns a string describing what happened (for the failure message).
async function runCase(cs, ctx) {
  const c = conn(expandPath(cs.path || '/ws/room1/{nick}', ctx));
  try {
    return await runCaseOn(c, cs, ctx);
  } finally {
    c.ws.terminate();
  }
}
async function runCaseOn(c, cs, ctx) {
  const ex = cs.expect;
  const single = /^\/ws\/[^/?]+\/[^?]+/.test(cs.path || '/ws/room1/{nick}');
  // Wait until the connection is usable (or refused).
  await c.until(() => c.closeInfo || (single ? c.msgs.some((m) => m.type === 'joined') : c.msgs.some((m) => m.type === 'welcome')), 8000, 'ready');
  if (ex.http) {
    assert.ok(ex.http.includes(c.http), `${cs.name}: want HTTP ${ex.http}, got ${c.http} / ${JSON.stringify(c.closeInfo)}`);
    return;
  }
  if (ex.lws_path) {
    // Refused by libwebsockets' request parser (no answer: 1006; or an HTTP 4xx), by madang-ws
    // (4000), or the path ended at a CR: then the nickname is only what came before it.
    if (c.closeInfo) {
      const ok = c.closeInfo.code === 4000 || c.closeInfo.code === 1006 || (c.http >= 400 && c.http < 500);
      assert.ok(ok, `${cs.name}: refused with ${JSON.stringify(c.closeInfo)} / HTTP ${c.http}`);
      return `refused ${c.closeInfo.code}`;
    }
    const j = c.msgs.find((m) => m.type === 'joined');
    assert.ok(j && !/[\u0000-\u001f\u007f]/.test(j.users.join('')), `${cs.name}: ${JSON.stringify(j)}`);
    return 'path cut before the control character';
  }
  if (ex.refused) {
    // Closed by madang-ws with that code, or dropped by libwebsockets' request parser (no
    // answer: 1006; or an HTTP 4xx): never served.
    assert.ok(c.closeInfo, `${cs.name}: served: ${JSON.stringify(c.msgs)}`);
    assert.ok(!c.msgs.some((m) => m.type === 'welcome'), `${cs.name}: served: ${JSON.stringify(c.msgs)}`);
    const ok = c.closeInfo.code === ex.refused || c.closeInfo.code === 1006 || (c.http >= 400 && c.http < 500);
    assert.ok(ok, `${cs.name}: refused with ${JSON.stringify(c.closeInfo)} / HTTP ${c.http}`);
    return `refused ${c.closeInfo.code}`;
  }
  if (c.closeInfo) {
    // Refused before any command: must be the expected close (or an accepted HTTP refusal).
    if (c.http != null) {
      assert.ok(ex.or_http && ex.or_http.includes(c.http), `${cs.name}: handshake refused with HTTP ${c.http}`);
      return `http ${c.http}`;
    }
    assert.equal(c.closeInfo.code, ex.close, `${cs.name}: closed ${JSON.stringify(c.closeInfo)} ${JSON.stringify(c.msgs)}`);
    return `close ${c.closeInfo.code} ${c.closeInfo.reason}`;
  }
  if (ex.reply === 'joined' && !cs.json && !cs.text) {
    assert.ok(c.msgs.some((m) => m.type === 'joined'));
    c.ws.close();
    return 'joined';
  }
  if (ex.close && !cs.json && !cs.text && !cs.hex && !cs.gen && !cs.fragments_hex && !cs.binary_hex) {
    assert.fail(`${cs.name}: want close ${ex.close}, connection was accepted: ${JSON.stringify(c.msgs.slice(-2))}`);
  }
  const n0 = c.msgs.length;
  const frames = cs.json !== undefined ? [[Buffer.from(JSON.stringify(expandJson(cs.json, ctx))), { binary: false }]] : payload(cs);
  sendAll(c, frames).catch(() => {});
  if (ex.close) {
    await c.until(() => c.closeInfo, 15000, `close ${ex.close}`);
    assert.equal(c.closeInfo.code, ex.close, `${cs.name}: ${JSON.stringify(c.closeInfo)} after ${JSON.stringify(c.msgs.slice(n0))}`);
    return `close ${c.closeInfo.code} ${c.closeInfo.reason}`;
  }
  if (ex.error) {
    const e = await c.until(() => c.msgs.slice(n0).find((m) => m.type === 'error' || (m.type === 'joined' && ex.error !== 'invalid_argument' && false)), 8000, `error ${ex.error}`);
    assert.equal(e.code, ex.error, `${cs.name}: ${JSON.stringify(e)}`);
  } else if (ex.reply) {
    const r = await c.until(() => c.msgs.slice(n0).find((m) => m.type === ex.reply || m.type === 'error'), 8000, `reply ${ex.reply}`);
    assert.equal(r.type, ex.reply, `${cs.name}: ${JSON.stringify(r)}`);
  }
  // The connection stays open: a ping still gets a pong.
  const n1 = c.msgs.length;
  c.ws.send('{"type":"ping"}');
  await c.until(() => c.msgs.slice(n1).some((m) => m.type === 'pong') || c.closeInfo, 5000, 'pong');
  assert.equal(c.closeInfo, null, `${cs.name}: the connection should stay open, closed ${JSON.stringify(c.closeInfo)}`);
  c.ws.close();
  return 'ok';
}

// Every case is its own test (so that a known failure names exactly one case); after each
// group a normal pair of clients still chats.
const groups = [...new Set(corpus.map((c) => c.group))];
let holder;
const ctx = { taken: `taken${process.pid % 1000}` };
before(async () => {
  // A member of room1 whose nickname a case tries to take, differing only in case.
  holder = conn(`/ws/room1/Taken${process.pid % 1000}`);
  await holder.until(() => holder.msgs.some((m) => m.type === 'joined'), 5000, 'holder joined');
});
for (const g of groups) {
  for (const cs of corpus.filter((x) => x.group === g)) {
    test(`${g}: ${cs.name} -> ${JSON.stringify(cs.expect)}`, { timeout: 30000 }, async () => {
      ctx.nick = nick();
      await runCase(cs, ctx);
    });
  }
  test(`${g}: afterwards a normal client still chats`, { timeout: 20000 }, () => normalChat(`group ${g}`));
}
test('the holder of the nickname is still connected', () => {
  assert.equal(holder.closeInfo, null);
  holder.ws.close();
});

test('message flood: rate_limited errors past the burst, close 1008 after 20 refused in a row', { timeout: 30000 }, async () => {
  const c = conn(`/ws/room4/${nick()}`);
  await c.until(() => c.msgs.some((m) => m.type === 'joined'), 5000, 'joined');
  // 30 at once: the burst (20) goes through, the other 10 are refused (the connection stays).
  for (let i = 0; i < 30; i++) c.ws.send(`flood ${i}`);
  await c.until(() => c.msgs.filter((m) => m.type === 'message').length >= 20 &&
    c.msgs.filter((m) => m.code === 'rate_limited').length >= 10, 5000, '20 messages and 10 rate_limited');
  await sleep(300);
  const delivered = c.msgs.filter((m) => m.type === 'message').length;
  const limited = c.msgs.filter((m) => m.type === 'error' && m.code === 'rate_limited').length;
  assert.equal(c.closeInfo, null);
  // Then 200 at once: after 20 refusals in a row, close 1008.
  for (let i = 30; i < 230; i++) c.ws.send(`flood ${i}`);
  await c.until(() => c.closeInfo, 10000, 'close');
  console.log(`measure: message flood: 30 at once -> ${delivered} delivered, ${limited} rate_limited; then 200 at once -> close ${c.closeInfo.code} "${c.closeInfo.reason}"`);
  // The burst (20), plus at most one token refilled while the 30 frames were read.
  assert.ok(delivered === 20 || delivered === 21, `delivered ${delivered}`);
  assert.equal(limited, 30 - delivered);
  assert.equal(c.closeInfo.code, 1008);
  assert.equal(c.closeInfo.reason, 'rate limit exceeded');
  c.ws.terminate();
  await normalChat('message flood');
});

test('anonymous /ws/chat/{room_id}: the same rate limit, rate_limited then close 1008', { timeout: 30000 }, async () => {
  const c = conn('/ws/chat/room8');
  try {
    const j = await c.until(() => c.msgs.find((m) => m.type === 'joined'), 5000, 'joined');
    // Only its own messages count, not the history its join replays.
    const mine = () => c.msgs.filter((m) => m.type === 'message' && m.seq > j.seq).length;
    for (let i = 0; i < 30; i++) c.ws.send(`anon flood ${i}`);
    await c.until(() => mine() >= 20 && c.msgs.filter((m) => m.code === 'rate_limited').length >= 9, 5000, '20 messages and rate_limited');
    const delivered = mine();
    assert.ok(delivered === 20 || delivered === 21, `delivered ${delivered}`);
    assert.equal(c.closeInfo, null);
    for (let i = 30; i < 230; i++) c.ws.send(`anon flood ${i}`);
    await c.until(() => c.closeInfo, 10000, 'close');
    assert.equal(c.closeInfo.code, 1008);
    assert.equal(c.closeInfo.reason, 'rate limit exceeded');
  } finally {
    c.ws.terminate();
  }
  await normalChat('anonymous flood');
});

test('anonymous /ws/chat/{room_id}: 100 connections from one address, 64 served with distinct names, 36 closed 1008', { timeout: 60000 }, async () => {
  const health = async () => (await fetch(`${BASE.replace('ws:', 'http:')}/healthz`, { signal: AbortSignal.timeout(5000) })).json();
  const end = Date.now() + 5000;
  while ((await health()).sessions > 0 && Date.now() < end) await sleep(100);
  const cs = Array.from({ length: 100 }, () => conn('/ws/chat/room5'));
  try {
    await Promise.all(cs.map((c) => c.until(() => c.closeInfo || c.msgs.some((m) => m.type === 'joined'), 20000, 'joined or closed')));
    const joined = cs.filter((c) => !c.closeInfo).map((c) => c.msgs.find((m) => m.type === 'joined').user);
    const refused = cs.filter((c) => c.closeInfo && c.closeInfo.code === 1008).length;
    console.log(`measure: 100 anonymous connections: ${joined.length} joined, ${refused} closed 1008`);
    assert.equal(joined.length, 64);
    assert.equal(refused, 36);
    assert.equal(new Set(joined).size, 64, 'every made-up nickname is unique in the room');
  } finally {
    for (const c of cs) c.ws.terminate();
  }
  await sleep(500);
  await normalChat('100 anonymous connections');
});

test('join flood: 16 rooms, then too_many_rooms, then the rate limit closes 1008', { timeout: 30000 }, async () => {
  const u = nick();
  const c = conn(`/ws?user=${u}`);
  await c.until(() => c.msgs.some((m) => m.type === 'welcome'), 5000, 'welcome');
  for (let i = 1; i <= 17; i++) c.ws.send(JSON.stringify({ type: 'join_room', room_id: `room${i}` }));
  await c.until(() => c.msgs.filter((m) => m.type === 'joined').length >= 16 && c.msgs.some((m) => m.type === 'error'), 10000, '16 joined + an error');
  const err = c.msgs.find((m) => m.type === 'error');
  assert.equal(err.code, 'too_many_rooms');
  for (let i = 0; i < 100; i++) c.ws.send(JSON.stringify({ type: 'join_room', room_id: `room${(i % 20) + 1}` }));
  await c.until(() => c.closeInfo, 10000, 'close');
  console.log(`measure: join flood: ${c.msgs.filter((m) => m.type === 'joined').length} rooms joined, then ${c.msgs.filter((m) => m.code === 'too_many_rooms').length} too_many_rooms, ` +
    `${c.msgs.filter((m) => m.code === 'rate_limited').length} rate_limited, close ${c.closeInfo.code}`);
  assert.equal(c.closeInfo.code, 1008);
  // Its memberships are gone with it.
  const r = await fetch(`${BASE.replace('ws:', 'http:')}/healthz`, { signal: AbortSignal.timeout(2000) });
  assert.equal(r.status, 200);
  await normalChat('join flood');
});

// 5,000 raw connections from 127.0.0.1, all held open: the first --max-conns-per-ip (64) are
// served, every other one gets the handshake and then close 1008; after they go, the address
// may connect again.
test('5,000 connections from one address: 64 served, the rest closed 1008, then it recovers', { timeout: 90000 }, async () => {
  const N = 5000, socks = [];
  const health = async () => (await fetch(`${BASE.replace('ws:', 'http:')}/healthz`, { signal: AbortSignal.timeout(5000) })).json();
  // Nothing of ours is left open from the earlier tests (they count against the address).
  const end = Date.now() + 5000;
  while ((await health()).sessions > 0 && Date.now() < end) await sleep(100);
  let welcomed = 0, refused = 0, other = 0;
  const one = (i) => new Promise((resolve) => {
    const s = net.connect(PORT, '127.0.0.1');
    socks.push(s);
    let buf = Buffer.alloc(0), done = false;
    const finish = (what) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      if (what === 'w') welcomed++; else if (what === 'r') refused++; else other++;
      resolve();
    };
    const t = setTimeout(() => finish('o'), 20000);
    s.on('error', () => finish('o'));
    s.on('close', () => finish('o'));
    s.on('connect', () => s.write(`GET /ws?user=c${i} HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.includes('"type":"welcome"')) finish('w');
      else if (buf.includes(Buffer.from([0x88])) && buf.includes(Buffer.from([0x03, 0xf0]))) finish('r');
    });
  });
  const h0 = await health();
  const t0 = Date.now();
  for (let i = 0; i < N; i += 250) {
    const batch = [];
    for (let k = i; k < i + 250; k++) batch.push(one(k));
    await Promise.all(batch);
  }
  const ms = Date.now() - t0;
  const h = await health();
  console.log(`measure: 5000 connections from 127.0.0.1 in ${ms} ms: ${welcomed} served, ${refused} closed 1008, ${other} other; healthz sessions ${h.sessions}`);
  for (const s of socks) s.destroy();
  console.log(`measure: healthz sessions before ${h0.sessions}`);
  assert.equal(welcomed, 64);
  assert.equal(refused, N - 64);
  await sleep(500);
  await normalChat('5,000 connections');
});
