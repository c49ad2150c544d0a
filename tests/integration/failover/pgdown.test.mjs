// pgdown.test.mjs — PostgreSQL away under load, seen from clients (issue 20 tests; 26-failover.sh
// sets MADANG_TEST_PG_URI, MADANG_TEST_PG_STOP and MADANG_TEST_PG_START: its server, and shell
// commands that stop it fast and start it again). Two madang-brokers in one cluster on that
// server (a database of this file's own), two madang-ws given both, in each room one observer
// per front-end (it only listens) and one sender per front-end sending continuously with
// client_ids. A sender does what the web client does: on outcome_unknown it sends again with the
// same client_id; when its connection is closed (broker_unavailable, 1013) it connects again with
// the same nickname (resume=) and sends the same client_id again.
//   1. The server stopped (pg_ctl stop -m fast) for 10 s, then started: no acknowledgement while
//      it is down, waiting clients get broker_unavailable (and close 1013) within
//      --broker-wait-ms and a margin, never a hang or another code; service resumes by itself.
//   2. pg_terminate_backend of the active broker's session: a broker takes the lead again.
// At the end every acknowledged message reached every observer of its room once and in order.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, Proc, WORK, freePort, startWs, stopAll, waitFor, waitPort, sleep } from '../../lib/stack.mjs';
import { closeAll, joinPath, nick } from '../../lib/wsclient.mjs';
import { checkDelivery } from './delivery.mjs';

const BASE_URI = process.env.MADANG_TEST_PG_URI;
const STOP = process.env.MADANG_TEST_PG_STOP;
const START = process.env.MADANG_TEST_PG_START;
const DB = 'madang_pgdown';
const URI = BASE_URI && BASE_URI.replace(/dbname=\S+/, `dbname=${DB}`);
const ROOMS = ['pa', 'pb'];
const WAIT_MS = 3000; // madang-ws --broker-wait-ms
const RPC_MS = 2000; // madang-ws's answer timeout towards the broker (protocol.md, outcome_unknown)
const MARGIN_MS = 1500; // the front-end's tick, the client's own scheduling
const DOWN_MS = 10000;
const T = { timeout: 200000 };

const senders = [];
after(async () => { for (const s of senders) s.stopped = true; closeAll(); await stopAll(); });

const psql = (db, sql) => execSync(`psql -X -q -tA -U madang -d ${db} -c "${sql}"`, { encoding: 'utf8' }).trim();

// A broker of the cluster on its own ports; it listens only while it is the active one.
function broker(name, ports, roomsFile) {
  const b = new Proc(name, `${BIN}/madang-broker`, ['--rpc', `tcp://127.0.0.1:${ports[0]}`,
    '--events', `tcp://127.0.0.1:${ports[1]}`, '--store', URI, '--cluster', 'madang-pgdown',
    '--rooms', roomsFile, '--frontend-timeout', '3000']).start();
  return b;
}
const leads = (b) => (b.logText().match(/took the lead/g) || []).length;

// One sender: every attempt of every client_id is logged with its time and its answer.
class Sender {
  constructor(w, room, user) {
    this.w = w; this.room = room; this.user = user;
    this.acks = new Map(); // client_id → {seq, at}
    this.firstSent = new Map(); // client_id → time of its first send
    this.answers = []; // {id, sent, at, type, code, dup}
    this.closes = []; // {code, at, sent (the last send before it), told: broker_unavailable came first}
    this.reconnects = 0; this.openUnavailable = 0; this.n = 0; this.stopped = false; this.failures = [];
  }
  async connect() {
    const deadline = Date.now() + DOWN_MS + 20000;
    for (;;) {
      if (this.stopped) throw new Error('stopped');
      const q = this.c ? `?resume=${this.c.welcome.session}` : '';
      try {
        this.c = await joinPath(this.w.url, this.room, this.user, q);
        return;
      } catch (e) {
        // Connecting while the broker is away: broker_unavailable and 1013 after WAIT_MS, or
        // the nickname still held for a moment by the old connection: try again.
        if (Date.now() > deadline) { this.failures.push(`reconnect: ${e}`); throw e; }
        await sleep(300);
      }
    }
  }
  async run() {
    while (!this.stopped) {
      const id = `${this.user}-${++this.n}`;
      this.firstSent.set(id, Date.now());
      for (;;) {
        const c = this.c;
        const sent = Date.now();
        c.send({ type: 'message', text: `m ${id}`, client_id: id });
        let r;
        try {
          r = await c.next((m) => (m.type === 'ack' || m.type === 'error') && m.client_id === id,
            RPC_MS + WAIT_MS + MARGIN_MS + 2000, `answer to ${id}`);
        } catch (e) {
          if (!c.closeInfo) { this.failures.push(`hang: ${e}`); return; }
          r = null;
        }
        const at = Date.now();
        if (r) this.answers.push({ id, sent, at, type: r.type, code: r.code, dup: r.duplicate });
        if (r && r.type === 'ack') { this.acks.set(id, { seq: r.seq, at }); break; }
        // broker_unavailable: a command that waited is then closed 1013; one the front-end
        // could not hand to a broker at all (it had not yet seen the broker go) is answered at
        // once and the connection stays: the client sends it again.
        if (r && r.code === 'broker_unavailable' && !c.closeInfo) await Promise.race([c.closed, sleep(1000)]);
        if (c.closeInfo) {
          const told = c.msgs.some((m) => m.type === 'error' && m.code === 'broker_unavailable' && !m.client_id);
          this.closes.push({ code: c.closeInfo.code, at: Date.now(), sent, told });
          this.reconnects++;
          await this.connect();
        } else {
          if (r && r.code === 'broker_unavailable') this.openUnavailable++;
          await sleep(300);
        }
      }
      await sleep(20);
    }
  }
}

test('PostgreSQL stopped for 10 s, then a broker session terminated, under load: no acknowledgement while it is down, broker_unavailable not a hang, service resumes, nothing acknowledged lost', T, async (t) => {
  if (!BASE_URI || !STOP || !START) { t.skip('MADANG_TEST_PG_URI/STOP/START not set: run through tests/suites/26-failover.sh'); return; }
  const baseDb = /dbname=(\S+)/.exec(BASE_URI)[1];
  psql(baseDb, `CREATE DATABASE ${DB}`);
  const roomsFile = path.join(WORK, 'pgdown-rooms.json');
  fs.writeFileSync(roomsFile, JSON.stringify({ rooms: ROOMS.map((id) => ({ id, name: id })) }));
  const pa = [await freePort(), await freePort()], pb = [await freePort(), await freePort()];
  const a = broker('pgdown-a', pa, roomsFile);
  await waitPort(pa[0]);
  await waitFor(() => leads(a) === 1, 10000, 'broker-a active');
  const b = broker('pgdown-b', pb, roomsFile);
  await waitFor(() => /standby/.test(b.logText()), 10000, 'broker-b standby');
  const urls = {
    rpc: `tcp://127.0.0.1:${pa[0]},tcp://127.0.0.1:${pb[0]}`,
    events: `tcp://127.0.0.1:${pa[1]},tcp://127.0.0.1:${pb[1]}`,
  };
  const wsArgs = { args: ['--broker-wait-ms', String(WAIT_MS)] };
  const w1 = await startWs(urls, { id: 'ws-pd1', name: 'ws-pd1', ...wsArgs });
  const w2 = await startWs(urls, { id: 'ws-pd2', name: 'ws-pd2', ...wsArgs });

  const observers = [];
  for (const room of ROOMS) {
    for (const w of [w1, w2]) {
      observers.push(await joinPath(w.url, room, nick(`o${room}${w.opts.id.slice(-1)}`)));
      const s = new Sender(w, room, nick(`s${room}${w.opts.id.slice(-1)}`));
      await s.connect();
      senders.push(s);
    }
  }
  await sleep(300);
  const runs = senders.map((s) => s.run());
  const ackCount = () => senders.reduce((n, s) => n + s.acks.size, 0);
  const allAcks = () => senders.flatMap((s) => [...s.acks].map(([id, x]) => ({ id, ...x, s })));

  // 1. The server stopped for DOWN_MS.
  await sleep(2000);
  assert.ok(ackCount() > 0, 'messages are acknowledged before the stop');
  const stopBegin = Date.now();
  execSync(STOP, { shell: '/bin/sh' });
  const stopEnd = Date.now();
  await sleep(DOWN_MS);
  const startBegin = Date.now();
  execSync(START, { shell: '/bin/sh' });
  const startEnd = Date.now();
  const before = ackCount();
  await waitFor(() => ackCount() > before + senders.length, 20000, 'acknowledgements again after the server is back');
  t.diagnostic(`stop took ${stopEnd - stopBegin} ms; acks again ${Date.now() - startEnd} ms after the server was back`);

  // No acknowledgement while it was down: none of a message first sent once the stop had
  // returned came before the server was started again, and none at all arrived from 1 s after
  // the stop returned (an ack of a commit made before the stop may still be on its way) until
  // then. (Not "once the stop had begun": until pg_ctl's signal reaches the server, commits
  // still succeed, and a message sent in the same millisecond as the stop was seen committed.)
  for (const x of allAcks()) {
    const first = x.s.firstSent.get(x.id);
    assert.ok(!(first >= stopEnd && x.at < startBegin),
      `${x.id} first sent ${first - stopEnd} ms after the stop returned was acknowledged ${x.at - startBegin} ms before the server was started`);
    assert.ok(!(x.at >= stopEnd + 1000 && x.at < startBegin), `${x.id} acknowledged while the server was down`);
  }
  // The clients that waited were told broker_unavailable, never another code, never a hang:
  // - a message madang-ws could not hand to a broker (it had not yet seen the broker go: up to
  //   its RPC_MS answer timeout) is answered broker_unavailable with its client_id, the
  //   connection stays;
  // - one that then waited for the broker gets broker_unavailable (with its client_id) and
  //   close 1013 within WAIT_MS after that (so RPC_MS + WAIT_MS after its send at most, plus a
  //   margin).
  let unavailable = 0;
  for (const s of senders) {
    for (const r of s.answers.filter((x) => x.type === 'error')) {
      assert.ok(['broker_unavailable', 'outcome_unknown'].includes(r.code), `${s.user}: ${r.id} answered ${r.code}`);
      if (r.code !== 'broker_unavailable' || r.at < stopBegin) continue;
      unavailable++;
      const closedAfter = s.closes.some((c) => c.at >= r.at && c.at - r.at <= 1000);
      assert.ok(r.at - Math.max(r.sent, stopBegin) <= RPC_MS + (closedAfter ? WAIT_MS : 0) + MARGIN_MS,
        `${s.user}: broker_unavailable for ${r.id} ${r.at - r.sent} ms after its send` +
        (closedAfter ? ' (then closed 1013)' : ' (not closed)'));
    }
    for (const c of s.closes) {
      assert.equal(c.code, 1013, `${s.user}: closed while the server was down`);
      assert.ok(c.told, `${s.user}: broker_unavailable before the close`);
      unavailable++;
      assert.ok(c.at - Math.max(c.sent, stopBegin) <= RPC_MS + WAIT_MS + MARGIN_MS,
        `${s.user}: closed 1013 ${c.at - c.sent} ms after its send`);
    }
  }
  assert.ok(unavailable >= 1, 'the senders that waited were told broker_unavailable');
  for (const s of senders) {
    const ev = [...s.answers.filter((x) => x.type === 'error').map((x) => [x.at, `${x.code} (sent ${x.sent - stopBegin})`]),
      ...s.closes.map((x) => [x.at, `close ${x.code} (sent ${x.sent - stopBegin})`])].sort((p, q) => p[0] - q[0]);
    t.diagnostic(`${s.user}, ms from the stop: ${ev.map(([at, what]) => `${at - stopBegin} ${what}`).join(', ')}`);
  }

  // 2. The active broker's database session ended under load: a broker leads again.
  await sleep(1500);
  const leadsBefore = leads(a) + leads(b);
  const pid = psql(DB, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted");
  assert.match(pid, /^\d+$/, 'one session holds the cluster lock');
  const before2 = ackCount();
  const t0 = Date.now();
  psql(DB, `SELECT pg_terminate_backend(${pid})`);
  await waitFor(() => leads(a) + leads(b) > leadsBefore, 5000, 'a broker takes the lead after pg_terminate_backend');
  await waitFor(() => ackCount() > before2 + senders.length, 10000, 'acknowledgements again after pg_terminate_backend');
  t.diagnostic(`pg_terminate_backend: acks again after ${Date.now() - t0} ms`);
  const holder = psql(DB, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted");
  assert.notEqual(holder, pid, 'the lock is held by another session');

  await sleep(1500);
  for (const s of senders) s.stopped = true;
  await Promise.all(runs);
  for (const s of senders) assert.deepEqual(s.failures, [], s.user);
  await sleep(1000); // the last events reach everyone
  for (const room of ROOMS) checkDelivery(observers.filter((m) => m.joined.room_id === room), senders, room);
  // And the store holds each acknowledged message once, with its acknowledged seq: nothing was
  // acknowledged before its COMMIT, by either broker, across the stop and the ended session.
  const stored = new Map();
  for (const line of psql(DB, 'SELECT client_id, seq FROM madang_events WHERE client_id IS NOT NULL').split('\n')) {
    const [id, seq] = line.split('|');
    assert.ok(!stored.has(id), `${id} stored twice`);
    stored.set(id, Number(seq));
  }
  for (const x of allAcks()) assert.equal(stored.get(x.id), x.seq, `${x.id} acknowledged with seq ${x.seq}, stored ${stored.get(x.id)}`);
  for (const m of observers) {
    assert.equal(m.closeInfo, null, `${m.welcome.user} (nothing waiting) stays connected`);
    const rejoins = m.msgs.filter((x) => x.type === 'joined').slice(1);
    assert.ok(rejoins.length >= 2 && rejoins.every((x) => x.recovered === true), `${m.welcome.user}: ${JSON.stringify(rejoins)}`);
    assert.deepEqual(m.msgs.filter((x) => x.type === 'error' && x.code !== 'broker_unavailable'), [], m.welcome.user);
  }
  t.diagnostic(`${ackCount()} acknowledged, ${unavailable} broker_unavailable, ${senders.reduce((n, s) => n + s.reconnects, 0)} reconnects, ` +
    `${senders.reduce((n, s) => n + s.openUnavailable, 0)} of them without a close`);
  closeAll();
  await w1.stop(); await w2.stop(); await a.stop(); await b.stop();
});
