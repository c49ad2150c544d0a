// multihost.test.mjs — the client host of 74-multihost.sh (run inside its network namespace):
// clients on edge-1 and edge-2 (madang-ws in namespaces of their own, each given both brokers
// over tls+tcp://), messages across the edges, a failover across hosts, an edge killed. The
// suite passes the addresses, the daemons' PIDs and logs, and broker-a's command line in MH_*.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { closeAll, joinPath, nick, sleep } from '../../lib/wsclient.mjs';

const env = process.env;
const E1 = env.MH_EDGE1, E2 = env.MH_EDGE2;
const T = { timeout: 60000 };
after(closeAll);

const log = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return ''; } };
async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timeout (${ms} ms): ${what}`);
    await sleep(50);
  }
}

// Sends continuously with client_ids, each again until acknowledged.
class Sender {
  constructor(c, room, tag) { Object.assign(this, { c, room, tag, acks: new Map(), n: 0, stopped: false }); }
  async run() {
    while (!this.stopped && !this.c.closeInfo) {
      const id = `${this.tag}-${++this.n}`;
      for (;;) {
        this.c.send({ type: 'message', text: id, client_id: id });
        const r = await this.c.next((m) => (m.type === 'ack' || m.type === 'error') && m.client_id === id, 12000, id);
        if (r.type === 'ack') { this.acks.set(id, r.seq); break; }
        await sleep(100);
      }
      await sleep(20);
    }
  }
}

// Every member of room got each acknowledged message once, seqs rising, the same sequence.
function check(members, senders, room) {
  const acked = new Map();
  for (const s of senders.filter((x) => x.room === room)) for (const [id, seq] of s.acks) acked.set(id, seq);
  let first = null;
  for (const m of members) {
    const got = m.msgs.filter((x) => x.type === 'message' && x.room_id === room && x.client_id);
    for (let i = 1; i < got.length; i++) assert.ok(got[i].seq > got[i - 1].seq, `seq ${got[i].seq} after ${got[i - 1].seq}`);
    for (const [id, seq] of acked) {
      const hits = got.filter((x) => x.client_id === id);
      assert.equal(hits.length, 1, `${id} seen ${hits.length} times on ${m.welcome.frontend}`);
      assert.equal(hits[0].seq, seq);
    }
    const line = got.map((x) => `${x.seq}:${x.client_id}`).join(',');
    if (first === null) first = line;
    else assert.equal(line, first, 'both edges deliver the same sequence');
  }
  return acked.size;
}

const members = [], senders = [];

// GET /api/rooms through an edge's nginx: {room_id: users_count}.
async function rooms(edge) {
  const r = await fetch(`${edge.replace(/^ws/, 'http')}/api/rooms`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 200);
  const body = await r.json();
  const list = Array.isArray(body) ? body : body.rooms;
  return Object.fromEntries(list.map((x) => [x.id, x.users_count]));
}

test('clients on both edges in the same rooms see each other\'s messages once and in order', T, async () => {
  for (const room of ['m1', 'm2']) {
    for (const [edge, tag] of [[E1, 'e1'], [E2, 'e2']]) {
      const c = await joinPath(edge, room, nick(`${room}${tag}`));
      members.push(c);
      senders.push(new Sender(c, room, `${room}-${tag}`));
    }
  }
  await sleep(300);
  const runs = senders.map((s) => s.run());
  await sleep(1500);
  for (const s of senders) s.stopped = true;
  await Promise.all(runs);
  await sleep(500);
  for (const room of ['m1', 'm2']) assert.ok(check(members.filter((m) => m.joined.room_id === room), senders, room) > 10);
  assert.notEqual(members[0].welcome.frontend, members[1].welcome.frontend);
  const [r1, r2] = [await rooms(E1), await rooms(E2)];
  assert.deepEqual(r1, r2, 'GET /api/rooms is the same through either edge');
  assert.equal(r1.m1, 2);
  assert.equal(r1.m2, 2);
});

test('failover across hosts: broker-a killed, broker-b serves, nothing acknowledged lost; broker-a back as a standby', T, async (t) => {
  for (const s of senders) s.stopped = false;
  const runs = senders.map((s) => s.run());
  await sleep(1000);
  const before = senders.reduce((n, s) => n + s.acks.size, 0);
  const t0 = Date.now();
  process.kill(Number(env.MH_BA_PID), 'SIGKILL');
  await waitFor(() => /took the lead/.test(log(env.MH_BB_LOG)), 3000, 'broker-b takes the lead within 3 s');
  await waitFor(() => senders.reduce((n, s) => n + s.acks.size, 0) > before + senders.length, 10000, 'acks again');
  t.diagnostic(`acknowledgements again ${Date.now() - t0} ms after the kill`);
  await sleep(1000);
  for (const s of senders) s.stopped = true;
  await Promise.all(runs);
  await sleep(500);
  for (const room of ['m1', 'm2']) check(members.filter((m) => m.joined.room_id === room), senders, room);
  for (const m of members) {
    const rj = m.msgs.filter((x) => x.type === 'joined').slice(1);
    assert.ok(rj.length >= 1 && rj.every((x) => x.recovered === true), JSON.stringify(rj));
  }
  // broker-a comes back on its host: a standby.
  const [cmd, ...args] = env.MH_BA_RESTART.split(' ');
  const fd = fs.openSync(env.MH_BA2_LOG, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: false });
  fs.closeSync(fd);
  if (env.MADANG_STACK_PIDDIR) fs.writeFileSync(path.join(env.MADANG_STACK_PIDDIR, `broker-a2.${child.pid}`), String(child.pid));
  child.unref();
  await waitFor(() => /standby/.test(log(env.MH_BA2_LOG)), 10000, 'broker-a back as a standby');
  assert.deepEqual(await rooms(E1), await rooms(E2), 'GET /api/rooms after the failover, through either edge');
  assert.ok(!/took the lead/.test(log(env.MH_BA2_LOG)));
});

test('an edge dies: its members leave within the front-end timeout, the other edge\'s clients carry on', T, async () => {
  const t0 = Date.now();
  process.kill(Number(env.MH_WS1_PID), 'SIGKILL');
  const e2 = members.filter((m) => m.welcome.frontend === 'edge-2');
  const gone = members.filter((m) => m.welcome.frontend === 'edge-1');
  for (const c of e2) {
    const peer = gone.find((g) => g.joined.room_id === c.joined.room_id);
    const l = await c.next((m) => m.type === 'leave' && m.user === peer.welcome.user, 8000, 'the leave of the dead edge\'s member');
    assert.equal(l.reason, 'expired');
  }
  assert.ok(Date.now() - t0 < 8000, `leaves after ${Date.now() - t0} ms`);
  const c = e2[0];
  c.send({ type: 'message', text: 'still here', client_id: 'still-1' });
  const ack = await c.next((m) => m.type === 'ack' && m.client_id === 'still-1', 5000);
  assert.equal(ack.duplicate, false);
});
