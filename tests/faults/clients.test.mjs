// clients.test.mjs — bad clients next to good ones. While 4 clients chat at 20 msg/s (500-byte
// padding), in the same room: a slow reader (its socket paused 300 ms out of every 400 ms), a
// client that never reads (build/tests/ws-sleeper: 4 KiB receive buffer), and 1,000 clients that
// connect, join and vanish without a close frame (half with FIN, half with RST). Every other
// client receives everything; the never-reader is dropped as a slow consumer; madang-ws's RSS
// stays under a fixed bound and its sessions go back to the good clients.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { ChatClient, closeAllClients, allDelivered } from '../lib/chatclient.mjs';
import { startBroker, startWs, stopAll, sleep, rssSampler, TESTBIN, waitFor } from '../lib/stack.mjs';

after(async () => { closeAllClients(); await stopAll(); });
const log = (...a) => console.log('measure:', ...a);
const RSS_BOUND_KIB = 64 * 1024; // madang-ws's peak VmRSS in this scenario
const VANISHERS = 1000;

// Upgrades /ws/room1/NAME on a raw socket, waits for "joined" in the bytes, then drops the
// socket without a close frame: rst ? RST (SO_LINGER 0) : FIN.
function vanisher(port, name, rst) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok) => {
      clearTimeout(t);
      if (rst) s.resetAndDestroy(); else s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), 5000);
    s.on('error', () => done(false));
    s.on('connect', () => s.write(`GET /ws/room1/${name} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('"type":"joined"')) done(true);
    });
  });
}

async function health(port) {
  const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
  return r.json();
}
const sessions = async (port) => (await health(port)).sessions;

test('slow reader, never-reader and 1,000 vanishing clients: the others get everything, memory bounded', { timeout: 80000 }, async (tc) => {
  const broker = await startBroker({ frontendTimeout: 3000, args: ['--max-members', '2000'] });
  const ws = await startWs(broker, { id: 'ws-c', args: ['--queue-limit', '65536'] });
  const rss = rssSampler(ws, 50);
  // Under AddressSanitizer (tests/suites/80-sanitizers.sh builds) memory is a different story:
  // the shadow memory and quarantine, not madang-ws, set the figure; the bound is not applied.
  const asan = fs.readFileSync(`/proc/${ws.pid}/maps`, 'utf8').includes('libasan');
  const rss0 = ws.rssKiB();
  const cs = [0, 1, 2, 3].map((i) => new ChatClient(ws.url, 'room1', `g${i}`, { pad: 500 }));
  for (const c of cs) await c.start();
  const slow = new ChatClient(ws.url, 'room1', 'slow', { reconnect: false });
  await slow.start();
  const pauser = setInterval(() => {
    if (!slow.ws || slow.ws.readyState !== 1) return;
    slow.ws.pause();
    setTimeout(() => slow.ws.readyState === 1 && slow.ws.resume(), 300);
  }, 400);
  const sleeper = spawn(`${TESTBIN}/ws-sleeper`, [String(ws.port), '/ws/room1/sleeper', '40'], { stdio: ['ignore', 'pipe', 'inherit'] });
  tc.after(() => { if (sleeper.exitCode === null) sleeper.kill('SIGKILL'); clearInterval(pauser); });
  let sleeperOut = '';
  sleeper.stdout.on('data', (d) => { sleeperOut += d; });
  await waitFor(() => sleeperOut.includes('joined'), 5000, 'ws-sleeper joined');
  cs.forEach((c) => c.chat());

  const t0 = Date.now();
  let ok = 0;
  for (let i = 0; i < VANISHERS; i += 50) {
    const batch = [];
    for (let k = i; k < i + 50 && k < VANISHERS; k++) batch.push(vanisher(ws.port, `v${k}`, k % 2 === 1));
    ok += (await Promise.all(batch)).filter(Boolean).length;
  }
  const vanishMs = Date.now() - t0;
  // A bulk sender (3 KB messages, up to 400/s) until the never-reader is dropped: its 4 KiB
  // receive buffer, the kernel's send buffer and the 64 KiB queue limit take a few MB.
  const slow0 = (await health(ws.port)).counters.slow_consumers;
  const bulk = new ChatClient(ws.url, 'room1', 'bulk', { pad: 3000, rate: 400 });
  await bulk.start();
  bulk.chat();
  const b0 = Date.now();
  const droppedAfter = await waitFor(async () => ((await health(ws.port)).counters.slow_consumers > slow0 ? Date.now() - b0 : null),
    25000, 'the never-reader dropped as a slow consumer').catch(() => -1);
  bulk.stopChat();
  await sleep(500);
  cs.forEach((c) => c.stopChat());
  const senders = [...cs, bulk];
  await Promise.all(senders.map((c) => c.drained(15000)));
  const t = await allDelivered(senders, 15000);
  // The slow reader was not a sender: it must have every acknowledged payload too.
  await slow.until(() => senders.every((s) => [...s.acked.keys()].every((n) => slow.got.has(`${s.user} ${n}`))), 15000, 'slow reader caught up').catch(() => {});
  clearInterval(pauser);
  let slowMissed = 0;
  for (const s of senders) for (const n of s.acked.keys()) if (!slow.got.has(`${s.user} ${n}`)) slowMissed++;
  const left = await waitFor(async () => { const n = await sessions(ws.port); return n <= 6 ? n : null; }, 10000, 'vanished sessions gone').catch(() => -1);
  // The broker holds no ghost members: room1 has exactly the 6 good clients.
  const room = JSON.parse(execFileSync(`${TESTBIN}/it_rpc`, ['--timeout', '2000', broker.rpc, '{"op":"get_room","room_id":"room1"}'], { encoding: 'utf8' })).room;
  const r = rss.stop();
  const slowDropped = droppedAfter >= 0;
  log(`${ok}/${VANISHERS} vanishing clients joined and dropped their sockets in ${vanishMs} ms; chat: ${t.acked} acked, lost ${t.lost}, ` +
    `duplicated ${t.duplicated}, out of order ${t.outOfOrder}; slow reader missed ${slowMissed}, closed ${JSON.stringify(slow.closes)}; ` +
    `never-reader dropped as slow consumer after ${droppedAfter} ms of bulk traffic (${bulk.acked.size} x 3 KB acked); sessions after ${left}, broker members of room1 ${room.users_count}; madang-ws VmRSS start ${rss0} KiB, peak ${r.max} KiB, ` +
    `end ${r.last} KiB (bound ${asan ? 'not applied under ASan' : `${RSS_BOUND_KIB} KiB`}, ${r.n} samples)`);
  assert.ok(ok >= VANISHERS * 0.98, `only ${ok} vanishers got joined`);
  assert.equal(t.lost, 0, t.lostSamples.join(', '));
  assert.equal(t.duplicated, 0);
  assert.equal(t.outOfOrder, 0);
  assert.equal(slowMissed, 0);
  assert.equal(slow.closes.length, 0, 'the slow reader keeps its connection');
  assert.ok(slowDropped, 'the never-reader is dropped as a slow consumer');
  assert.ok(left >= 0 && left <= 6, `sessions left: ${left}`);
  assert.deepEqual(room.members.sort(), ['bulk', 'g0', 'g1', 'g2', 'g3', 'slow']);
  if (!asan) assert.ok(r.max < RSS_BOUND_KIB, `peak RSS ${r.max} KiB`);
  bulk.close();
  cs.forEach((c) => c.close());
  slow.close();
  await stopAll();
});
