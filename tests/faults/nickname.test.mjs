// nickname.test.mjs — a dead connection no longer holds its nickname for ~50 s (issue 24 item 5).
// A client that stops answering (autoPong off: a frozen browser) holds "유령911"; a newcomer with
// that name is refused (nickname_taken, told the name may be free within seconds) and the broker
// asks the holder's madang-ws to probe it: madang-ws pings it and cuts it when nothing comes back
// in 2 s, so the newcomer's next try, a few seconds later, is admitted. A holder that answers
// keeps its name and its connection.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ChatClient, closeAllClients } from '../lib/chatclient.mjs';
import { startBroker, startWs, stopAll, sleep } from '../lib/stack.mjs';

after(async () => { closeAllClients(); await stopAll(); });
const log = (...a) => console.log('measure:', ...a);
const socks = [];
after(() => socks.forEach((w) => w.terminate()));

// Opens /ws/room1/<name>; resolves {joined, error, close, ws} once joined arrives or it closes.
function attempt(url, name, opts = {}) {
  return new Promise((resolve) => {
    const w = new WebSocket(`${url}/ws/room1/${encodeURIComponent(name)}`, opts);
    socks.push(w);
    const out = { ws: w, joined: null, error: null, close: null };
    const t = setTimeout(() => resolve(out), 5000);
    w.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'joined') { out.joined = m; clearTimeout(t); resolve(out); }
      if (m.type === 'error') out.error = m;
    });
    w.on('close', (code, reason) => { out.close = { code, reason: reason.toString(), at: Date.now() }; clearTimeout(t); resolve(out); });
    w.on('error', () => {});
  });
}

test('a frozen connection gives its nickname up within seconds of a newcomer asking for it', { timeout: 40000 }, async () => {
  const broker = await startBroker({});
  const ws = await startWs(broker, { id: 'ws-nick' });
  const frozen = await attempt(ws.url, '유령911', { autoPong: false });
  assert.ok(frozen.joined, 'the holder joined');
  await sleep(2500); // silent for longer than madang-ws's probe wait (2 s)
  const t0 = Date.now();
  const first = await attempt(ws.url, '유령911');
  assert.equal(first.joined, null);
  assert.equal(first.error?.code, 'nickname_taken');
  assert.match(first.error.message, /free again within \d+ s/);
  assert.equal(first.close?.code, 4009);
  // The holder is cut (no close frame: it is not reading) within the probe's 2 s + the sweep.
  const cut = await new Promise((resolve) => {
    if (frozen.ws.readyState === WebSocket.CLOSED) return resolve(Date.now());
    frozen.ws.on('close', () => resolve(Date.now()));
    setTimeout(() => resolve(null), 6000);
  });
  assert.ok(cut, 'the frozen connection was closed');
  await sleep(Math.max(0, 4000 - (Date.now() - t0))); // as the refusal said
  const second = await attempt(ws.url, '유령911');
  const admitted = Date.now() - t0;
  log(`frozen holder cut ${cut - t0} ms after the newcomer's first try; newcomer admitted ${admitted} ms after it (was ~51 s)`);
  assert.ok(second.joined, `second try: ${JSON.stringify(second.error)} ${JSON.stringify(second.close)}`);
  assert.ok(admitted < 8000);
  assert.match(ws.logText(), /no answer to a probe/);
  second.ws.close();

  // A holder that answers pings keeps the name, and its connection.
  const alive = new ChatClient(ws.url, 'room1', 'alive', { reconnect: false });
  await alive.start();
  await sleep(2500);
  const r1 = await attempt(ws.url, 'alive');
  assert.equal(r1.error?.code, 'nickname_taken');
  await sleep(4500);
  const r2 = await attempt(ws.url, 'alive');
  log(`answering holder: refused twice (${r1.close?.code}, ${r2.close?.code}), still connected: ${alive.connected}`);
  assert.equal(r2.error?.code, 'nickname_taken');
  assert.equal(r2.close?.code, 4009);
  assert.ok(alive.connected && alive.closes.length === 0, 'the answering holder kept its connection');
  alive.close();
  await stopAll();
});
