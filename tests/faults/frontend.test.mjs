// frontend.test.mjs — two madang-ws on separate ports, clients chatting on both; one is
// SIGKILLed. The broker expires it after --frontend-timeout (1500 ms here) and announces each of
// its members' leaves ("reason":"expired") to the clients on the other one, which keep chatting
// without loss.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, closeAllClients, allDelivered } from '../lib/chatclient.mjs';
import { startBroker, startWs, stopAll, sleep } from '../lib/stack.mjs';

after(async () => { closeAllClients(); await stopAll(); });
const log = (...a) => console.log('measure:', ...a);
const TIMEOUT = 1500;
const MARGIN = 1500; // heartbeat period (1 s) + scheduling on a busy 2-core machine

test('one of two madang-ws SIGKILLed: its members leave, announced within --frontend-timeout', { timeout: 40000 }, async () => {
  const broker = await startBroker({ frontendTimeout: TIMEOUT });
  const wa = await startWs(broker, { id: 'ws-a' });
  const wb = await startWs(broker, { id: 'ws-b' });
  const as = [0, 1].map((i) => new ChatClient(wa.url, 'room1', `a${i}`));
  const bs = [0, 1].map((i) => new ChatClient(wb.url, 'room1', `b${i}`, { reconnect: false }));
  for (const c of [...as, ...bs]) await c.start();
  await Promise.all(as.map((c) => c.until(() => c.events.filter((e) => e.type === 'join' && /^b/.test(e.user)).length >= 2 ||
    c.joins[0].users.filter((u) => /^b/.test(u)).length + c.events.filter((e) => e.type === 'join' && /^b/.test(e.user)).length >= 2, 5000, 'b members seen')));
  [...as, ...bs].forEach((c) => c.chat());
  await sleep(1500);
  bs.forEach((c) => c.stopChat());
  const killedAt = Date.now();
  await wb.kill9();
  const leaves = await Promise.all(as.map((c) => c.until(() => {
    const l = c.events.filter((e) => e.type === 'leave' && /^b/.test(e.user));
    return l.length >= 2 ? l : null;
  }, TIMEOUT + MARGIN + 3000, 'leaves of ws-b members').then(() => {
    const l = c.events.filter((e) => e.type === 'leave' && /^b/.test(e.user));
    return { at: Date.now(), l };
  })));
  const after = leaves.map((x) => x.at - killedAt);
  log(`madang-ws SIGKILL: leaves of its 2 members seen on the other front-end after ${after.join('/')} ms ` +
    `(--frontend-timeout ${TIMEOUT}, bound ${TIMEOUT + MARGIN}); reasons ${leaves[0].l.map((e) => e.reason).join(',')}`);
  for (const x of leaves) {
    assert.deepEqual(x.l.map((e) => e.user).sort(), ['b0', 'b1']);
    for (const e of x.l) assert.equal(e.reason, 'expired');
  }
  for (const t of after) assert.ok(t <= TIMEOUT + MARGIN, `leave after ${t} ms`);
  await sleep(500);
  as.forEach((c) => c.stopChat());
  await Promise.all(as.map((c) => c.drained(5000)));
  const t = await allDelivered(as, 5000);
  log(`clients on the surviving front-end: ${t.acked} acked, lost ${t.lost}, duplicated ${t.duplicated}, out of order ${t.outOfOrder}`);
  assert.equal(t.lost, 0);
  assert.equal(t.duplicated, 0);
  // The members of the dead front-end can come back under their names at once.
  const back = new ChatClient(wa.url, 'room1', 'b0', { reconnect: false });
  await back.start();
  back.close();
  [...as, ...bs].forEach((c) => c.close());
  await stopAll();
});
