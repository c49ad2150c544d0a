// load.test.mjs — failover under load (26-failover.sh sets MADANG_TEST_PG_URI: a PostgreSQL
// database of its own). Two madang-brokers on that store in one cluster, each on its own ports
// (A active, B standby: it does not listen), two madang-ws given both (--rpc A,B --events A,B),
// two members per room (one on each front-end) in three rooms, every member sending
// continuously with client_ids and resending, with the same client_id, whatever was not
// acknowledged. kill -9 the active; then bring it back (a standby) and kill the other.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, Proc, WORK, freePort, startWs, stopAll, waitFor, waitPort, sleep } from '../../lib/stack.mjs';
import { closeAll, joinPath, nick } from '../../lib/wsclient.mjs';
import { checkDelivery } from './delivery.mjs';

const URI = process.env.MADANG_TEST_PG_URI;
const ROOMS = ['fa', 'fb', 'fc'];
const T = { timeout: 180000 };

after(async () => { closeAll(); await stopAll(); });

const roomsFile = path.join(WORK, 'failover-rooms.json');
fs.writeFileSync(roomsFile, JSON.stringify({ rooms: ROOMS.map((id) => ({ id, name: id })) }));

// A broker of the cluster on its own ports; it listens only once it is the active one.
function broker(name, ports) {
  const b = new Proc(name, `${BIN}/madang-broker`, ['--rpc', `tcp://127.0.0.1:${ports[0]}`,
    '--events', `tcp://127.0.0.1:${ports[1]}`, '--store', URI, '--cluster', 'madang-fo',
    '--rooms', roomsFile, '--frontend-timeout', '3000']).start();
  b.ports = ports;
  return b;
}
const isActive = (b) => /took the lead/.test(b.logText());
const isStandby = (b) => /standby/.test(b.logText()) && !isActive(b);

// One member sending continuously: each message has a client_id and is sent again, with the
// same one, until it is acknowledged (outcome_unknown, broker_unavailable, a close: all retried
// on the same connection while it lives).
class Sender {
  constructor(c, room, tag) {
    this.c = c; this.room = room; this.tag = tag;
    this.acks = new Map(); // client_id → ack
    this.n = 0; this.stopped = false; this.resends = 0; this.errors = [];
  }
  async run() {
    while (!this.stopped && !this.c.closeInfo) {
      const id = `${this.tag}-${++this.n}`;
      for (;;) {
        this.c.send({ type: 'message', text: `m ${id}`, client_id: id });
        let r;
        try {
          r = await this.c.next((m) => (m.type === 'ack' || m.type === 'error') && m.client_id === id, 12000, `answer to ${id}`);
        } catch (e) {
          this.errors.push(String(e));
          return;
        }
        if (r.type === 'ack') { this.acks.set(id, r); break; }
        this.errors.push(r.code);
        this.resends++;
        await sleep(100);
      }
      await sleep(20);
    }
  }
}

test('kill -9 the active broker under load: the standby serves, nothing acknowledged is lost or doubled; then back the other way', T, async (t) => {
  if (!URI) { t.skip('MADANG_TEST_PG_URI not set: run through tests/suites/26-failover.sh'); return; }
  const pa = [await freePort(), await freePort()], pb = [await freePort(), await freePort()];
  let a = broker('broker-a', pa);
  await waitPort(pa[0]);
  await waitFor(() => isActive(a), 10000, 'broker-a active');
  let b = broker('broker-b', pb);
  await waitFor(() => isStandby(b), 10000, 'broker-b standby');
  const urls = {
    rpc: `tcp://127.0.0.1:${pa[0]},tcp://127.0.0.1:${pb[0]}`,
    events: `tcp://127.0.0.1:${pa[1]},tcp://127.0.0.1:${pb[1]}`,
  };
  const w1 = await startWs(urls, { id: 'ws-fo1', name: 'ws-fo1' });
  const w2 = await startWs(urls, { id: 'ws-fo2', name: 'ws-fo2' });

  const members = [], senders = [];
  for (const room of ROOMS) {
    for (const w of [w1, w2]) {
      const c = await joinPath(w.url, room, nick(`${room}${w.opts.id.slice(-1)}`));
      members.push(c);
      senders.push(new Sender(c, room, `${room}-${w.opts.id}`));
    }
  }
  await sleep(300);
  const runs = senders.map((s) => s.run());
  const ackCount = () => senders.reduce((n, s) => n + s.acks.size, 0);

  // Round 1: a is killed, b takes over.
  for (const [victim, next, round] of [[() => a, () => b, 1], [() => b, () => a, 2]]) {
    await sleep(1500);
    const before = ackCount();
    assert.ok(before > 0, 'messages are acknowledged before the kill');
    const t0 = Date.now();
    await victim().kill9();
    await waitFor(() => isActive(next()), 3000,
      `round ${round}: the standby to take the lead within 3 s`);
    const lead = Date.now() - t0;
    await waitFor(() => ackCount() > before + senders.length, 10000, `round ${round}: acknowledgements again after the kill`);
    t.diagnostic(`round ${round}: standby led after ${lead} ms, acks again after ${Date.now() - t0} ms`);
    if (round === 1) {
      // The killed one comes back: a standby.
      a = broker('broker-a2', pa);
      await waitFor(() => isStandby(a), 10000, 'broker-a back as a standby');
    }
  }
  await sleep(1500);
  for (const s of senders) s.stopped = true;
  await Promise.all(runs);
  for (const s of senders) assert.deepEqual(s.errors.filter((e) => e.startsWith('timeout') || e.startsWith('closed')), [], `${s.tag}: ${s.errors}`);

  // A resend of an acknowledged message is a duplicate with the same seq (each sender's last:
  // the broker remembers client_ids of the newest --history events of a room).
  for (const s of senders) {
    const [id, ack] = [...s.acks].at(-1);
    s.c.send({ type: 'message', text: `m ${id}`, client_id: id });
    const r = await s.c.next((m) => m.type === 'ack' && m.client_id === id, 5000, `duplicate ack of ${id}`);
    assert.equal(r.duplicate, true);
    assert.equal(r.seq, ack.seq);
  }
  await sleep(1000); // the last events reach everyone
  for (const room of ROOMS) checkDelivery(members.filter((m) => m.joined.room_id === room), senders, room);
  // Across the failovers each member was re-synced from the store: recovered, and nothing an
  // internal error code.
  for (const m of members) {
    const rejoins = m.msgs.filter((x) => x.type === 'joined').slice(1);
    assert.ok(rejoins.length >= 1, `${m.welcome.user} was re-synced`);
    assert.ok(rejoins.every((x) => x.recovered === true), JSON.stringify(rejoins));
    assert.deepEqual(m.msgs.filter((x) => x.type === 'error' && !['outcome_unknown'].includes(x.code)), [],
      `${m.welcome.user}: only outcome_unknown may be seen (a send in flight at the kill)`);
  }
  t.diagnostic(`${ackCount()} messages acknowledged, ${senders.reduce((n, s) => n + s.resends, 0)} resends`);
  closeAll();
  await w1.stop(); await w2.stop(); await a.stop(); await b.stop();
});
