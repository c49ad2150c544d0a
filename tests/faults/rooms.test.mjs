// rooms.test.mjs — rooms that joins create, through a real madang-ws (issue 24 item 6, issue 25
// finding 6): with --allow-create a link to an unknown room makes an ephemeral room that goes
// with its last member; madang-ws passes each client's address in the join, so the broker's
// --ephemeral-per-addr bound holds for clients of one address whatever nicknames they use.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ChatClient, closeAllClients } from '../lib/chatclient.mjs';
import { startBroker, startWs, stopAll, sleep } from '../lib/stack.mjs';

after(async () => { closeAllClients(); await stopAll(); });
const log = (...a) => console.log('measure:', ...a);

// Opens url with X-Forwarded-For: addr and resolves with its joined (rejects on a close first).
function joinedVia(url, addr) {
  return new Promise((resolve, reject) => {
    const w = new WebSocket(url, { headers: { 'X-Forwarded-For': addr } });
    const t = setTimeout(() => { w.terminate(); reject(new Error('no joined in 5 s')); }, 5000);
    w.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'joined') { clearTimeout(t); resolve(m); }
      if (m.type === 'error') { clearTimeout(t); w.terminate(); reject(new Error(`error ${m.code}`)); }
    });
    w.on('close', (code) => { clearTimeout(t); reject(new Error(`closed ${code}`)); });
    w.on('error', () => {});
    after(() => w.terminate());
  });
}

test('rooms created by joins through madang-ws: bounded per client address, gone when empty', { timeout: 40000 }, async () => {
  const broker = await startBroker({ args: ['--allow-create', '--ephemeral-per-addr', '2', '--ephemeral-per-user', '2'] });
  const ws = await startWs(broker, { id: 'ws-rooms', args: ['--trusted-proxies', '127.0.0.1'] });
  const a = new ChatClient(ws.url, 'made-1', 'ann', { reconnect: false });
  const b = new ChatClient(ws.url, 'made-2', 'ben', { reconnect: false });
  await a.start();
  await b.start();
  assert.equal(a.joins[0].users.length, 1);
  // A third room from the same address (127.0.0.1), under yet another nickname: refused.
  const c = new ChatClient(ws.url, 'made-3', 'cat', { reconnect: false });
  c.open();
  await c.until(() => c.closes.length > 0, 5000, 'cat refused');
  const err = c.errors.find((e) => e.code === 'create_limit');
  log(`third room from one address: error ${c.errors.map((e) => e.code).join(',')}, close ${c.closes[0].code}`);
  assert.ok(err, `errors: ${JSON.stringify(c.errors)}`);
  assert.equal(c.closes[0].code, 4004, 'final, like an unknown room: a retry at once would loop');
  assert.equal(c.joins.length, 0);
  // The same from another client address (as a trusted proxy reports it): allowed, so the
  // broker counted by the address madang-ws gave, not by front-end.
  const other = await joinedVia(`${ws.url}/ws/made-3/fay`, '198.51.100.7');
  assert.equal(other.room_id, 'made-3');
  // Joining a room that exists is not limited.
  const d = new ChatClient(ws.url, 'made-1', 'dan', { reconnect: false });
  await d.start();
  assert.deepEqual([...d.joins[0].users].sort(), ['ann', 'dan']);
  // made-1 goes with its last member: a later join finds a new room (only its joiner, the seq
  // going on from where the old one stopped), and the address may create one again.
  a.close();
  d.close();
  await sleep(500);
  const e = new ChatClient(ws.url, 'made-1', 'eve', { reconnect: false });
  await e.start();
  log(`made-1 after its members left: users ${e.joins[0].users.join(',')}, seq ${e.joins[0].seq} (old room reached ${d.lastSeq})`);
  assert.deepEqual(e.joins[0].users, ['eve']);
  assert.equal(e.joins[0].seq, 5, 'join, join, leave, leave of the old room, then this join');
  b.close();
  e.close();
  await stopAll();
});
