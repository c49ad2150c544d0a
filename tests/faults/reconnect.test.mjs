// reconnect.test.mjs — network trouble again and again: chatting clients whose sockets are cut
// (no close frame) every few hundred milliseconds, one at a time and all at once, reconnect with
// since/epoch/resume each time (tests/lib/chatclient.mjs). Every acknowledged message must reach every client
// once and in order, and every rejoin must say recovered: true (the missed events are within the
// broker's ring).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, closeAllClients, allDelivered } from '../lib/chatclient.mjs';
import { startBroker, startWs, stopAll, sleep } from '../lib/stack.mjs';

after(async () => { closeAllClients(); await stopAll(); });
const log = (...a) => console.log('measure:', ...a);

test('clients cut again and again while chatting resume with nothing lost', { timeout: 60000 }, async () => {
  const broker = await startBroker();
  const w = await startWs(broker, { id: 'ws-r' });
  const cs = [0, 1, 2].map((i) => new ChatClient(w.url, 'room1', `r${i}`));
  for (const c of cs) await c.start();
  cs.forEach((c) => c.chat());
  const ROUNDS = 9;
  for (let round = 0; round < ROUNDS; round++) {
    await sleep(300 + 100 * (round % 4));
    // Rounds 0..7 cut one client each; the last cuts all three at once (the room empties on
    // the front-end while they are away).
    const victims = round === ROUNDS - 1 ? cs : [cs[round % cs.length]];
    const before = victims.map((c) => c.joins.length);
    for (const c of victims) c.ws.terminate();
    await Promise.all(victims.map((c, i) => c.until(() => c.joins.length > before[i] && c.joinedNow, 8000, `${c.user} back`)));
  }
  await sleep(500);
  cs.forEach((c) => c.stopChat());
  await Promise.all(cs.map((c) => c.drained(10000)));
  const t = await allDelivered(cs, 10000);
  const rejoins = cs.flatMap((c) => c.joins.slice(1));
  log(`${ROUNDS} rounds of cuts, ${rejoins.length} rejoins (${rejoins.filter((j) => j.recovered).length} recovered, ` +
    `${rejoins.filter((j) => j.resumed).length} resumed): ${t.acked} acked, lost ${t.lost}, duplicated ${t.duplicated}, ` +
    `out of order ${t.outOfOrder}, replays dropped ${t.replays}, resends ${t.resends}`);
  assert.equal(rejoins.length, ROUNDS - 1 + cs.length);
  for (const j of rejoins) assert.equal(j.recovered, true, 'every rejoin recovered what it missed');
  assert.equal(t.lost, 0, t.lostSamples.join('; '));
  assert.equal(t.duplicated, 0);
  assert.equal(t.outOfOrder, 0);
  assert.equal(t.seqBackwards, 0);
  assert.ok(t.acked > 50, `${t.acked} messages acknowledged`);
  cs.forEach((c) => c.close());
  await stopAll();
});
