// history.test.mjs — the history command costs bytes, not one message (issue 25 finding 4): each
// reply stays within --history-max-bytes (256 KiB), a connection and a client address each have
// a byte budget (1 MiB/s and 4 MiB/s, 2 s saved up) answered with rate_limited + retry_after_ms,
// and many large replies at once never cost madang-ws its broker link or a bystander's message.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnTracked } from '../../lib/stack.mjs';
import { closeAll, connect, joinPath, nick, sleep, httpGet } from '../../lib/wsclient.mjs';

const WS1 = process.env.MADANG_WS1_URL;
const WS2 = process.env.MADANG_WS2_URL;

after(closeAll);

const T = { timeout: 30000 };
const ROOM = 'room2'; // no test file after this one uses it: its history fills up here
const MAX_BYTES = 256 * 1024;
// 4096 bytes that JSON doubles: the largest events there are.
const BIG = '"\\'.repeat(2048);
let newest;

before(async () => {
  // 100 of the largest messages (the broker keeps 100 in memory here), through the unlimited ws2.
  const w = await joinPath(WS2, ROOM, nick('filler'));
  for (let i = 0; i < 100; i++) w.send({ type: 'message', text: `${i} ${BIG}`.slice(0, 4096) });
  newest = await w.next((m) => m.type === 'message' && m.message.startsWith('99 '), 20000, 'the last filler');
  w.close();
});

test('a run of the largest messages is never refused as too large for the broker', T, async () => {
  // 48 texts of 4096 bytes that JSON doubles made one batch of ~400 KB: the broker refuses
  // requests over 256 KiB, and every message of the batch failed with invalid_request.
  const c = await joinPath(WS2, ROOM, nick('bulk'));
  for (let i = 0; i < 96; i++) c.send({ type: 'message', text: `${i} ${BIG}`.slice(0, 4096), client_id: `bulk-${i}` });
  const answers = [];
  for (let i = 0; i < 96; i++) answers.push(await c.next((m) => (m.type === 'ack' || m.type === 'error') && m.client_id === `bulk-${i}`, 10000, `bulk-${i}`));
  assert.deepEqual(answers.filter((a) => a.type !== 'ack').map((a) => a.code), []);
  c.close();
});

// Sends a history command and returns its answer (history or error).
async function ask(c, cmd) {
  c.send({ type: 'history', ...cmd });
  return c.next((m) => (m.type === 'history' || m.type === 'error') && m.client_id === cmd.client_id, 10000, `answer to ${cmd.client_id}`);
}

test('a history reply is cut to --history-max-bytes: the newest events, truncated, paged on with before_seq', T, async () => {
  const c = await joinPath(WS1, ROOM, nick('pager'));
  assert.equal(c.welcome.limits.history_max_bytes, MAX_BYTES, 'welcome tells the page size');
  const h = await ask(c, { limit: 500, client_id: 'p-1' });
  assert.equal(h.type, 'history');
  const bytes = JSON.stringify(h.events).length;
  assert.ok(bytes <= MAX_BYTES + 2, `events ${bytes} bytes`);
  assert.ok(h.events.length >= 20 && h.events.length < 100, `${h.events.length} events`);
  assert.equal(h.truncated, true);
  assert.equal(h.complete, false);
  assert.ok(h.events.at(-1).seq >= newest.seq, 'the newest are kept');
  const next = await ask(c, { limit: 500, before_seq: h.events[0].seq, client_id: 'p-2' });
  assert.equal(next.type, 'history');
  assert.equal(next.events.at(-1).seq, h.events[0].seq - 1, 'the next page ends where the first began');
  c.close();
});

test('a connection that keeps asking gets rate_limited with retry_after_ms, then is served again', T, async () => {
  const c = await joinPath(WS1, ROOM, nick('greedy'));
  let limited, served = 0;
  for (let i = 0; i < 40 && !limited; i++) {
    const r = await ask(c, { limit: 500, client_id: `g-${i}` });
    if (r.type === 'error') limited = r;
    else served++;
  }
  assert.ok(limited, 'refused at some point');
  assert.equal(limited.code, 'rate_limited');
  assert.equal(limited.request, 'history');
  assert.ok(served >= 4 && served <= 12, `served ${served} pages of ~256 KiB first (2 MiB saved up)`);
  assert.ok(limited.retry_after_ms > 0 && limited.retry_after_ms <= 1000, `retry_after_ms ${limited.retry_after_ms}`);
  await sleep(limited.retry_after_ms);
  assert.equal((await ask(c, { limit: 500, client_id: 'g-again' })).type, 'history');
  // Chat is not history: the message budget is untouched.
  c.send({ type: 'message', text: 'still chatting', client_id: 'g-msg' });
  assert.equal((await c.next((m) => (m.type === 'ack' || m.type === 'error') && m.client_id === 'g-msg')).type, 'ack');
  c.close();
});

test('many connections of one address share its budget; the broker link and a bystander survive', { timeout: 60000 }, async () => {
  await sleep(2500); // the address's budget refills after the tests above
  const readers = [];
  for (let i = 0; i < 40; i++) readers.push(await joinPath(WS1, ROOM, nick(`rd${i}_`)));
  const by = await joinPath(WS1, ROOM, nick('bystander'));
  let bytes = 0;
  for (const r of readers) r.ws.on('message', (d) => { bytes += d.length; });
  const start = Date.now();
  // All at once (one loop turn of madang-ws: one batch if nothing cut it), then as fast as answered.
  const loops = readers.map(async (r, i) => {
    let n = 0, limited = 0;
    while (Date.now() - start < 3000) {
      const a = await ask(r, { limit: 500, client_id: `r${i}-${n++}` });
      if (a.type === 'error') {
        assert.equal(a.code, 'rate_limited', JSON.stringify(a));
        limited++;
        await sleep(Math.min(a.retry_after_ms, 500));
      }
    }
    return limited;
  });
  const sends = [];
  for (let i = 0; i < 10; i++) {
    by.send({ type: 'message', text: `bystander ${i}`, client_id: `by-${i}` });
    sends.push(by.next((m) => (m.type === 'ack' || m.type === 'error') && m.client_id === `by-${i}`, 10000, `by-${i}`));
    await sleep(250);
  }
  const answers = await Promise.all(sends);
  const limitedTotal = (await Promise.all(loops)).reduce((a, b) => a + b, 0);
  const secs = (Date.now() - start) / 1000;
  assert.deepEqual(answers.map((a) => a.type), Array(10).fill('ack'), JSON.stringify(answers.filter((a) => a.type !== 'ack')));
  assert.ok(limitedTotal > 0, 'the address budget refused some');
  // 8 MiB saved up plus 4 MiB/s, with one reservation of slack per connection in flight.
  assert.ok(bytes < 8.5 * 2 ** 20 + 4 * 2 ** 20 * secs + 40 * MAX_BYTES, `${(bytes / 2 ** 20).toFixed(1)} MiB in ${secs} s`);
  for (const c of [...readers, by]) {
    assert.equal(c.msgs.filter((m) => m.type === 'error' && m.code !== 'rate_limited').length, 0,
      JSON.stringify(c.msgs.filter((m) => m.type === 'error' && m.code !== 'rate_limited').slice(0, 3)));
    assert.equal(c.closeInfo, null);
  }
  const health = JSON.parse((await httpGet(WS1, '/healthz')).body);
  assert.equal(health.broker, 'up');
  for (const c of [...readers, by]) c.close();
});

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

test('40 large history replies asked at once never exceed one broker reply: the link stays up', { timeout: 60000 }, async (t) => {
  // Budgets lifted so that nothing but the batching stands between the replies and the 16 MiB a
  // broker reply may take: what the clients ask in one loop turn goes to the broker as one
  // batch. 40 x ~540 KB (an old broker's uncut pages) made nng drop the connection, failing
  // every request in flight ("broker: unreachable (Connection reset)").
  const cmd = process.env.MADANG_WS_REUSE_CMD.split(' ');
  const port = await freePort();
  const k = spawnTracked(cmd[0], [...cmd.slice(1), '--listen', `127.0.0.1:${port}`, '--id', 'ws-hist',
    '--rate', '100000', '--burst', '100000', '--history-rate', '1073741824',
    '--history-rate-per-ip', '1073741824', '--history-max-bytes', '1048576', '--queue-limit', '67108864'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  k.stderr.on('data', (d) => { log += d; });
  t.after(() => { if (k.exitCode === null) k.kill('SIGKILL'); });
  const base = `ws://127.0.0.1:${port}`;
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    try { if ((await httpGet(base, '/healthz')).status === 200) break; } catch { /* not yet */ }
    await sleep(100);
  }
  const readers = [];
  for (let i = 0; i < 40; i++) readers.push(await joinPath(base, ROOM, nick(`big${i}_`)));
  const by = await joinPath(base, ROOM, nick('by'));
  // The broker's 100 kept events all large again (the joins above are events too).
  for (let i = 0; i < 100; i++) by.send({ type: 'message', text: `${i} ${BIG}`.slice(0, 4096) });
  await by.next((m) => m.type === 'message' && m.message.startsWith('99 '), 20000, 'the last large one');
  await sleep(200);
  for (let round = 0; round < 3; round++) {
    readers.forEach((r, i) => r.send({ type: 'history', limit: 500, client_id: `q-${round}-${i}` }));
    by.send({ type: 'message', text: `bystander ${round}`, client_id: `by-${round}` });
    const answers = await Promise.all(readers.map((r, i) =>
      r.next((m) => (m.type === 'history' || m.type === 'error') && m.client_id === `q-${round}-${i}`, 20000, `q-${round}-${i}`)));
    assert.deepEqual(answers.filter((a) => a.type !== 'history').map((a) => a.code), []);
    const ack = await by.next((m) => (m.type === 'ack' || m.type === 'error') && m.client_id === `by-${round}`, 10000);
    assert.equal(ack.type, 'ack', JSON.stringify(ack));
  }
  assert.doesNotMatch(log, /unreachable/);
  for (const c of [...readers, by]) c.close();
  k.kill('SIGTERM');
});
