// events.test.mjs — hostile input from the broker's side: a madang-ws of its own talks to the real
// broker for requests (MADANG_HOSTILE_RPC) but takes its event stream from nng_pub.c, which
// publishes malformed messages: bundles with events before any room line, room lines that are
// empty, too long or unknown, broken JSON, wrong types and epochs, room topics (which a front-end
// granted bundles ignores), binary garbage, and at the end a message over madang-ws's event size
// limit. A member of room1 must get none of it, then the one valid event that follows, and
// madang-ws must keep running. Environment from tests/suites/71-hostile.sh: MADANG_HOSTILE_RPC,
// MADANG_NNG_PUB (nng_pub built); madang-ws is started by tests/lib/stack.mjs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { freePort, startWs, stopAll } from '../lib/stack.mjs';
import { closeAll, open } from '../lib/wsclient.mjs';

const RPC = process.env.MADANG_HOSTILE_RPC;
const PUB = process.env.MADANG_NNG_PUB;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];
after(() => { closeAll(); for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); });
after(stopAll);

// nng_pub: one command, one line back.
function startPub(url) {
  const p = spawn(PUB, [url], { stdio: ['pipe', 'pipe', 'inherit'] });
  procs.push(p);
  const lines = [];
  const waiters = [];
  readline.createInterface({ input: p.stdout }).on('line', (l) => { lines.push(l); while (waiters.length) waiters.shift()(); });
  const next = async (ms) => {
    const end = Date.now() + ms;
    while (lines.length === 0) {
      if (Date.now() > end || p.exitCode !== null) throw new Error('nng_pub did not answer');
      await new Promise((r) => { const t = setTimeout(r, 50); waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return lines.shift();
  };
  const cmd = async (c, ms = 5000) => { p.stdin.write(c + '\n'); return next(ms); };
  return { p, next, cmd, send: (body) => cmd(`hex ${body.length ? Buffer.from(body).toString('hex') : '-'}`) };
}

async function healthz(port) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    return { status: r.status, body: await r.json() };
  } catch {
    return null;
  }
}

test('malformed event messages from the broker side are dropped; the next valid event is delivered', { timeout: 60000 }, async () => {
  const evUrl = `tcp://127.0.0.1:${await freePort()}`;
  const pub = startPub(evUrl);
  assert.equal(await pub.next(5000), 'listening');
  // madang-ws through the shared launcher, with the real broker's RPC and nng_pub's events.
  const ws = await startWs({ rpc: RPC, events: evUrl }, { plain: true, id: 'ws-evil', name: 'ws-evil' });
  const wsPort = ws.port;
  assert.equal(await pub.cmd('wait', 12000), 'ready');
  let h = null;
  for (let i = 0; i < 100 && !(h && h.status === 200); i++) { await sleep(100); h = await healthz(wsPort); }
  assert.equal(h && h.status, 200, 'madang-ws registered with the real broker');
  assert.equal(h.body.event_bundles, true);

  // alice joins room1; her own join event reaches her from the broker's history (the event
  // stream here is nng_pub), after which the room's next seq is known.
  const a = open(`ws://127.0.0.1:${wsPort}/ws/room1/evil_alice`);
  const joined = await a.until(() => a.msgs.find((m) => m.type === 'joined'), 5000, 'joined');
  const own = await a.until(() => a.msgs.find((m) => m.type === 'join' && m.user === 'evil_alice'), 5000, 'her own join event');
  const next = own.seq + 1;
  const ev = (text, extra = {}) => JSON.stringify({
    type: 'message', room_id: 'room1', seq: next, epoch: joined.epoch, time: '2026-12-05T00:00:00.000Z',
    sender: 'mallory', message: text, ...extra,
  });

  const cases = [
    '',
    'b',
    'b\n',
    'b\n\n\n',
    `b\n${ev('orphan: an event before any room line')}`,
    `b\nr/\n${ev('orphan: an empty room id')}`,
    `b\nr/${'x'.repeat(300)}\n${ev('orphan: a room id too long')}`,
    `b\nr/nope\n${ev('orphan: a room nobody here is in')}`,
    `b\nr/room1\r\n${ev('orphan: a room line with a carriage return')}`,
    'b\nr/room1\n{not json',
    'b\nr/room1\n[1,2,3]',
    'b\nr/room1\n{"type":7,"seq":"x"}',
    `b\nr/room1\n${ev('orphan: a negative seq', { seq: -5 })}`,
    `b\nr/room1\n${ev('orphan: another epoch', { epoch: '0000000000000000' })}`,
    `b\nr/room1\n${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`,
    `r/room1\n${ev('orphan: a room topic while bundles are granted')}`,
    'f/ws-evil\n{"type":"kick"}',
    'f/ws-evil\n{"type":"private","session":"nobody","message":"x"}',
    'a\n{"type":"room_deleted","room_id":"room1"}',
    Buffer.from([0x62, 0x0a, 0x00, 0xff, 0xfe, 0x0a, 0x7b, 0x00, 0x7d]),
  ];
  for (const body of cases) assert.equal(await pub.send(body), 'sent');
  assert.equal(await pub.send(`b\nr/nope\n${ev('orphan: before the valid one')}\nr/room1\n${ev('after the garbage')}`), 'sent');

  const got = await a.until(() => a.msgs.find((m) => m.type === 'message'), 5000, 'the valid event');
  assert.equal(got.message, 'after the garbage');
  assert.equal(got.seq, next);
  await sleep(300);
  assert.deepEqual(a.msgs.filter((m) => m.type === 'message' || m.type === 'error').map((m) => m.message), ['after the garbage']);
  assert.equal(a.closeInfo, null, 'alice is still connected');

  // Over --events' size limit (1 MiB): nng drops the connection and madang-ws dials again.
  assert.equal(await pub.cmd('big 2000000'), 'sent');
  await sleep(500);
  assert.equal(ws.exitInfo, null, 'madang-ws still running');
  h = await healthz(wsPort);
  assert.ok(h !== null, 'madang-ws still answers /healthz');
  const text = ws.logText();
  assert.match(text, /malformed event dropped/);
  assert.doesNotMatch(text, /AddressSanitizer|runtime error/);
  a.ws.close();
  await ws.stop();
  pub.p.stdin.end();
  await sleep(300);
});
