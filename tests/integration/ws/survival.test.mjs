// survival.test.mjs — dead parts are noticed and survived. Runs last in 30-ws.sh: it kills the
// broker with SIGKILL and starts it again (restartBroker of tests/lib/stack.mjs: same command
// line, its PID recorded so that the suite stops it), kills ws2 with SIGKILL, and ends ws1 with
// SIGTERM (the suite then checks its exit status).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { brokerFromEnv, restartBroker } from '../../lib/stack.mjs';
import { closeAll, connect, joinPath, nick, sleep, httpGet } from '../../lib/wsclient.mjs';

const WS1 = process.env.MADANG_WS1_URL;
const WS2 = process.env.MADANG_WS2_URL;

after(closeAll);

const T = { timeout: 40000 };
const env = process.env;

// Running and not a zombie (the suite's shell reaps its children only later).
function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitDead(pid, ms) {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await sleep(50);
  return !alive(pid);
}

let a, b;

test('a send the broker took but did not answer in time: outcome_unknown, and a resend is not doubled', T, async () => {
  // SIGSTOP holds the broker past madang-ws's 2 s request timeout with the send already on its
  // socket: it stores it once it runs again, but the answer comes too late. "unavailable" would
  // be false (issue 25); outcome_unknown tells the client to resend with the same client_id.
  const u = nick('ou'), w = nick('ouw');
  const c = await joinPath(WS1, 'room6', u);
  const watcher = await joinPath(WS2, 'room6', w);
  await c.next((m) => m.type === 'join' && m.user === w);
  const pid = Number(env.MADANG_BROKER_PID);
  process.kill(pid, 'SIGSTOP');
  let e;
  try {
    c.send({ type: 'message', text: 'maybe stored', client_id: 'ou-1' });
    e = await c.next((m) => m.type === 'error' && m.client_id === 'ou-1', 6000, 'the answer to ou-1');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  assert.equal(e.code, 'outcome_unknown');
  assert.equal(e.request, 'message');
  // Both front-ends come back (they may have to register again after the stall).
  for (const base of [WS1, WS2]) {
    const end = Date.now() + 15000;
    while ((await httpGet(base, '/healthz')).status !== 200 && Date.now() < end) await sleep(100);
  }
  let ack;
  for (let i = 0; i < 50 && !ack; i++) {
    c.send({ type: 'message', text: 'maybe stored', client_id: 'ou-1' });
    const r = await c.next((m) => (m.type === 'ack' || m.type === 'error') && m.client_id === 'ou-1', 5000, 'resend answer');
    if (r.type === 'ack') ack = r;
    else await sleep(200);
  }
  assert.ok(ack, 'the resend was acknowledged');
  await watcher.next((m) => m.type === 'message' && m.seq === ack.seq, 5000, 'the message');
  await sleep(300);
  const seqs = new Set(watcher.msgs.filter((m) => m.type === 'message' && m.message === 'maybe stored').map((m) => m.seq));
  assert.deepEqual([...seqs], [ack.seq], 'delivered once (an event seen again after a re-join has the same seq)');
  c.close(); watcher.close();
});

test('broker SIGKILL: idle clients stay connected and are told after --broker-wait-ms; a connect or a send waits, then gets broker_unavailable and 1013; after a restart they chat on', T, async () => {
  const ua = nick('sa'), ub = nick('sb');
  a = await joinPath(WS1, 'room7', ua);
  b = await joinPath(WS2, 'room7', ub);
  const z = await joinPath(WS1, 'room7', nick('sz'));
  await a.next((m) => m.type === 'join' && m.user === ub);

  const pid = Number(env.MADANG_BROKER_PID);
  process.kill(pid, 'SIGKILL');
  assert.ok(await waitDead(pid, 3000), 'broker gone');

  // A failover or restart is a pause: the notice comes only once the wait (5 s) is over.
  const t0 = Date.now();
  const note = await a.next((m) => m.type === 'error' && m.code === 'broker_unavailable', 12000);
  assert.ok(note.message);
  assert.ok(Date.now() - t0 >= 4000, `told after ${Date.now() - t0} ms, not at once`);
  await b.next((m) => m.type === 'error' && m.code === 'broker_unavailable', 12000);
  const refused = await connect(WS1, `/ws/room7/${nick('new')}`);
  z.send('while down');
  assert.equal((await refused.waitClose(9000)).code, 1013);
  assert.equal((await z.waitClose(9000)).code, 1013);
  assert.ok(refused.msgs.some((m) => m.type === 'error' && m.code === 'broker_unavailable'));
  assert.ok(!refused.msgs.some((m) => m.type === 'welcome'));
  assert.equal(a.closeInfo, null);

  // The same command line again (tests/lib/stack.mjs); it outlives this file, the suite ends it.
  (await restartBroker(brokerFromEnv())).detach();

  // Both front-ends re-register and re-sync: each client gets a fresh joined, not recovered.
  const ja = await a.next((m) => m.type === 'joined', 12000);
  const jb = await b.next((m) => m.type === 'joined', 12000);
  assert.equal(ja.recovered, false);
  assert.equal(jb.recovered, false);
  assert.notEqual(ja.epoch, a.joined.epoch, 'a new broker life');
  // Each front-end re-syncs on its own: whoever came back second shows up as a resync join.
  assert.ok(jb.users.includes(ub));
  if (!jb.users.includes(ua)) {
    const rj = await b.next((m) => m.type === 'join' && m.user === ua, 5000);
    assert.equal(rj.resync, true);
  }
  const jaAt = a.msgs.indexOf(ja);
  a.send('after restart');
  for (const c of [a, b]) {
    const m = await c.next((x) => x.type === 'message' && x.message === 'after restart', 5000);
    assert.equal(m.sender, ua);
    assert.equal(m.epoch, ja.epoch);
  }
  // docs/protocol.md: a re-sync's joined is no first join. Its seq is the next event's; what
  // came before is history (the members' re-declaring joins, resync: true, on a broker that lost
  // its memory), and no join of the client's own follows it.
  const after = a.msgs.slice(jaAt + 1);
  const mine = after.filter((x) => x.type === 'join' && x.user === ua);
  assert.ok(mine.every((x) => x.resync === true && x.seq < ja.seq), JSON.stringify(mine));
  const said = after.find((x) => x.type === 'message' && x.message === 'after restart');
  assert.ok(said.seq >= ja.seq, `message seq ${said.seq}, joined seq ${ja.seq}`);
  const late = await joinPath(WS1, 'room7', nick('late'));
  assert.equal(late.joined.epoch, ja.epoch);
  late.close();
});

test('madang-ws SIGKILL: members on the other front-end see the leaves within the broker timeout', T, async () => {
  const pid = Number(env.MADANG_WS2_PID);
  const start = Date.now();
  process.kill(pid, 'SIGKILL');
  const l = await a.next((m) => m.type === 'leave' && m.user === b.welcome.user, 6000);
  assert.equal(l.reason, 'expired');
  assert.ok(Date.now() - start < 5000, `leave after ${Date.now() - start} ms`);
});

test('SIGTERM: every client is closed with 1001', T, async () => {
  const c = await joinPath(WS1, 'room1', nick('term'));
  process.kill(Number(env.MADANG_WS1_PID), 'SIGTERM');
  const [x, y] = await Promise.all([a.waitClose(5000), c.waitClose(5000)]);
  assert.equal(x.code, 1001);
  assert.equal(y.code, 1001);
});
