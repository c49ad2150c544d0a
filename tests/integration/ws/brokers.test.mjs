// brokers.test.mjs — madang-ws with several broker URLs, and a broker that goes away: a restart,
// or a failover to another broker, is a pause to the clients (issue 20 items 3-4). Each test
// starts its own brokers and madang-ws (tests/lib/stack.mjs), on free ports; the suite's stack is
// not touched. A "failover" here is one broker killed and another started on the other URL of
// the list, which is what madang-ws sees of a standby taking over (25-pgstore and 26-failover run
// real active/standby brokers on PostgreSQL).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, ROOT, Proc, TESTBIN, WORK, freePort, restartBroker, startBroker as start, startWs, stopAll, waitFor, healthy, sleep } from '../../lib/stack.mjs';
import { closeAll, connect, joinPath, nick } from '../../lib/wsclient.mjs';

after(async () => { closeAll(); await stopAll(); });

const T = { timeout: 40000 };
const ROOMS = path.join(WORK, 'brokers-rooms.json');
fs.writeFileSync(ROOMS, JSON.stringify({ rooms: ['two', 'fo', 'fo2', 'wait', 'uf', 'rd'].map((id) => ({ id, name: id })) }));
const startBroker = (opts) => start({ rooms: ROOMS, ...opts });
// No internal code, and nothing that is not a pause, may reach a client in these scenarios.
const INTERNAL = new Set(['unknown_frontend', 'not_member', 'internal', 'broker_unavailable']);
function noInternal(c) {
  const bad = c.msgs.filter((m) => m.type === 'error' && INTERNAL.has(m.code));
  assert.deepEqual(bad, [], 'no error reached the client');
}

// Two endpoint pairs: the first for broker A, the second for broker B. Four distinct ports:
// freePort closes its listener at once, so two calls may return the same port.
async function urls() {
  const p = [];
  while (p.length < 4) {
    const q = await freePort();
    if (!p.includes(q)) p.push(q);
  }
  return {
    a: { rpc: `tcp://127.0.0.1:${p[0]}`, events: `tcp://127.0.0.1:${p[1]}` },
    b: { rpc: `tcp://127.0.0.1:${p[2]}`, events: `tcp://127.0.0.1:${p[3]}` },
  };
}
const both = (u) => ({ rpc: `${u.a.rpc},${u.b.rpc}`, events: `${u.a.events},${u.b.events}` });

test('--rpc/--events with two brokers, the first not listening: madang-ws serves through the other', T, async () => {
  const u = await urls();
  const b = await startBroker({ ...u.b, name: 'broker-b' });
  const w = await startWs(both(u), { id: 'ws-two', args: ['--broker-wait-ms', '2000'] });
  const x = await joinPath(w.url, 'two', nick('x'));
  const y = await joinPath(w.url, 'two', nick('y'));
  x.send({ type: 'message', text: 'through b', client_id: 'tb-1' });
  const ack = await x.next((m) => m.type === 'ack' && m.client_id === 'tb-1');
  const got = await y.next((m) => m.type === 'message' && m.message === 'through b');
  assert.equal(got.seq, ack.seq);
  assert.match(w.logText(), /broker tcp:\/\/127\.0\.0\.1:\d+,tcp:/);
  x.close(); y.close();
  await w.stop(); await b.stop();
});

test('a failover to the other broker: clients that connect, join and send meanwhile wait, then succeed', T, async () => {
  const u = await urls();
  let a = await startBroker({ ...u.a, name: 'broker-a' });
  const w = await startWs(both(u), { id: 'ws-fo' });
  const c = await joinPath(w.url, 'fo', nick('c'));
  const multi = await connect(w.url, `/ws?user=${nick('m')}`);
  await multi.nextType('welcome');
  multi.send({ type: 'join_room', room_id: 'fo' });
  await multi.nextType('joined');

  await a.kill9();
  // The link notices within a heartbeat and a request timeout; meanwhile everything waits.
  await waitFor(async () => !(await healthy(w.port)), 6000, 'madang-ws to see the broker gone');
  const late = await connect(w.url, `/ws/fo/${nick('late')}`); // connects during the gap
  multi.send({ type: 'message', room_id: 'fo', text: 'during the gap', client_id: 'gap-1' });
  multi.send({ type: 'join_room', room_id: 'fo2' });
  await sleep(1000);
  assert.equal(late.closeInfo, null, 'the connection waits, it is not refused');
  const b = await startBroker({ ...u.b, name: 'broker-b' }); // the "standby" takes over

  const lj = await late.nextType('joined', 8000);
  assert.equal(late.msgs[0].type, 'welcome', 'welcome first, once the broker is there');
  // (A join is not ordered with sends: the two answers may come either way round.)
  const ack = await multi.until(() => multi.msgs.find((m) => m.type === 'ack' && m.client_id === 'gap-1'), 8000, 'the ack of the send');
  assert.equal(ack.duplicate, false);
  await multi.until(() => multi.msgs.find((m) => m.type === 'joined' && m.room_id === 'fo2'), 8000, 'the join of fo2');
  const rj = await c.next((m) => m.type === 'joined', 8000, 're-sync of c');
  assert.equal(rj.recovered, false, 'another broker without the history: not recovered');
  const seen = await c.next((m) => m.type === 'message' && m.message === 'during the gap', 5000);
  assert.equal(seen.seq, ack.seq);
  assert.equal(lj.epoch, rj.epoch);
  for (const x of [c, multi, late]) noInternal(x);
  c.close(); multi.close(); late.close();
  await w.stop(); await b.stop();
  a = null;
});

test('a broker away longer than --broker-wait-ms: broker_unavailable, then close 1013', T, async () => {
  const u = await urls();
  const a = await startBroker({ ...u.a, name: 'broker-a' });
  const w = await startWs(both(u), { id: 'ws-wait', args: ['--broker-wait-ms', '1500'] });
  const c = await joinPath(w.url, 'wait', nick('c'));
  await a.kill9();
  await waitFor(async () => !(await healthy(w.port)), 6000, 'madang-ws to see the broker gone');
  const t0 = Date.now();
  const late = await connect(w.url, `/ws/wait/${nick('late')}`);
  c.send({ type: 'message', text: 'never', client_id: 'nv-1' });
  const [lc, cc] = await Promise.all([late.waitClose(6000), c.waitClose(6000)]);
  const waited = Date.now() - t0;
  assert.equal(lc.code, 1013);
  assert.equal(cc.code, 1013);
  assert.ok(waited >= 1400, `closed after ${waited} ms, not before --broker-wait-ms`);
  for (const x of [late, c]) {
    // The notice to every client (once the wait is over) and the answer to the waiting one.
    const e = x.msgs.filter((m) => m.type === 'error');
    assert.ok(e.length >= 1 && e.every((m) => m.code === 'broker_unavailable'), JSON.stringify(x.msgs));
  }
  // The message that waited gets its own answer, with its client_id, so the client knows what
  // to send again once it is back.
  assert.ok(c.msgs.some((m) => m.type === 'error' && m.code === 'broker_unavailable' && m.client_id === 'nv-1'),
    JSON.stringify(c.msgs));
  assert.ok(!late.msgs.some((m) => m.type === 'welcome'), 'no welcome without a broker');
  await w.stop();
});

test('a join, a message and a private message right after a broker restart, before a heartbeat noticed it, wait and succeed (no unknown_frontend)', T, async () => {
  // --frontend-timeout 60000: heartbeats every 20 s, so the restart goes unnoticed by the link
  // until the join's own answer (issue 20 item 4: it used to reach the client, then close 1013).
  const u = await urls();
  const a = await startBroker({ ...u.a, name: 'broker-r', frontendTimeout: 60000 });
  const w = await startWs({ rpc: u.a.rpc, events: u.a.events }, { id: 'ws-uf' });
  const c = await joinPath(w.url, 'uf', nick('c'));
  const p = await joinPath(w.url, 'uf', nick('p'));
  await a.kill9();
  const a2 = await restartBroker(a);
  await sleep(300); // nng reconnects both sockets (every 50-500 ms)
  // A message and a private message, also answered unknown_frontend by the new broker: they
  // wait for the re-sync and go then (they used to get broker_unavailable).
  c.send({ type: 'message', text: 'right after', client_id: 'ra-1' });
  c.send({ type: 'private', to: p.welcome.user, text: 'psst', client_id: 'pv-1' });
  const d = await connect(w.url, `/ws/uf/${nick('d')}`);
  const dj = await d.next((m) => m.type === 'joined' || m.type === 'error', 8000, 'joined');
  assert.equal(dj.type, 'joined', JSON.stringify(d.msgs));
  assert.equal(d.closeInfo, null);
  const m = await connect(w.url, `/ws?user=${nick('e')}`);
  await m.nextType('welcome');
  m.send({ type: 'join_room', room_id: 'uf' });
  await m.nextType('joined');
  await c.next((x) => x.type === 'joined', 8000, 'c re-synced');
  const ack = await c.until(() => c.msgs.find((x) => x.type === 'ack' && x.client_id === 'ra-1'), 8000, 'the ack');
  assert.equal(ack.duplicate, false);
  await p.until(() => p.msgs.find((x) => x.type === 'message' && x.client_id === 'ra-1'), 5000, 'the message');
  // Its one answer: the private copy, never an error (a not_member the restarted broker gave it
  // between the hello and the sync, its reply handled after the sync's, used to reach c).
  const pv = await c.until(() => c.msgs.find((x) => (x.type === 'private' || x.type === 'error') && x.client_id === 'pv-1'), 5000, 'the private copy');
  assert.equal(pv.type, 'private', JSON.stringify(pv));
  assert.deepEqual(c.msgs.filter((x) => x.type === 'error'), []);
  await p.until(() => p.msgs.find((x) => x.type === 'private' && x.message === 'psst'), 5000, 'the private message');
  for (const x of [c, d, m, p]) noInternal(x);
  c.close(); d.close(); m.close(); p.close();
  await w.stop(); await a2.stop();
});

test('a broker that closed connections before nng\'s handshake, so that nng gave madang-ws\'s dialers up: madang-ws dials again and registers', { timeout: 60000 }, async () => {
  // nng 1.5.2's dialer stops for good when its handshake write meets EPIPE (common/redial.h), as
  // when the broker closed the connection first (killed at that moment). tests/lib/sp_epipe.c
  // makes that certain: while the file exists, madang-ws's handshake writes fail so.
  const dir = fs.mkdtempSync(path.join(WORK, 'rd-'));
  const u = { rpc: `ipc://${dir}/rpc`, events: `ipc://${dir}/events` };
  const epipe = path.join(dir, 'epipe');
  const asan = process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : '';
  const a = await startBroker({ ...u, name: 'broker-rd' });
  const w = await startWs(u, { id: 'ws-rd', args: ['-v', '--broker-wait-ms', '30000'],
    env: { LD_PRELOAD: path.join(TESTBIN, 'sp-epipe.so'), MADANG_TEST_EPIPE_FILE: epipe,
      ASAN_OPTIONS: `${asan}verify_asan_link_order=0` } });
  const c = await joinPath(w.url, 'rd', nick('c'));
  await a.kill9();
  fs.writeFileSync(epipe, '');
  const a2 = await restartBroker(a);
  // Both sockets (requests, events) dial the broker that is back, and each handshake fails
  // (within a second here; once 5 s were not enough under ASan on a loaded machine).
  await waitFor(() => fs.statSync(epipe).size >= 2, 15000, 'both handshakes failed');
  fs.rmSync(epipe);
  const t0 = Date.now();
  await waitFor(async () => !(await healthy(w.port)), 6000, 'madang-ws to see the broker gone');
  // Every REDIAL_IDLE_MS (5 s) without a connection, madang-ws replaces its dialers.
  await waitFor(() => healthy(w.port), 15000, 'madang-ws registered with the broker again');
  console.log(`measure: registered again ${Date.now() - t0} ms after the handshakes failed`);
  assert.match(w.logText(), /dialing again/);
  await c.next((x) => x.type === 'joined', 8000, 'c re-synced');
  c.send({ type: 'message', text: 'after the redial', client_id: 'rd-1' });
  const ack = await c.next((x) => x.type === 'ack' && x.client_id === 'rd-1', 8000, 'the ack');
  assert.equal(ack.duplicate, false);
  noInternal(c);
  c.close();
  await w.stop(); await a2.stop();
});

// --- TLS (issue 21): the same flags and refusals as the broker and madang-api --------------------
const CERTS = path.join(WORK, 'brokers-certs');
function certs() {
  if (!fs.existsSync(path.join(CERTS, 'ca.crt')))
    execFileSync(path.join(ROOT, 'scripts/make-certs.sh'), ['--dir', CERTS, 'broker:127.0.0.1', 'edge:127.0.0.1'], { stdio: 'ignore' });
  return { ca: path.join(CERTS, 'ca.crt'), broker: path.join(CERTS, 'broker.pem'), edge: path.join(CERTS, 'edge.pem') };
}
const tlsUrls = (u) => ({ rpc: u.rpc.replace('tcp://', 'tls+tcp://'), events: u.events.replace('tcp://', 'tls+tcp://') });
// madang-ws run to its start-up refusal: its exit status and output.
function wsRefusal(args) {
  const r = spawnSync(path.join(BIN, 'madang-ws'), ['--listen', '127.0.0.1:1', ...args], { encoding: 'utf8', timeout: 5000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('madang-ws over tls+tcp:// to two brokers (one not listening): mutual TLS, chat works', T, async () => {
  const c = certs(), u = await urls();
  const tb = tlsUrls(u.b);
  const b = await startBroker({ ...tb, name: 'broker-tls', args: ['--tls-ca', c.ca, '--tls-cert', c.broker] });
  const two = { rpc: `${tlsUrls(u.a).rpc},${tb.rpc}`, events: `${tlsUrls(u.a).events},${tb.events}` };
  const w = await startWs(two, { id: 'ws-tls', args: ['--tls-ca', c.ca, '--tls-cert', c.edge] });
  const x = await joinPath(w.url, 'two', nick('tx'));
  const y = await joinPath(w.url, 'two', nick('ty'));
  x.send({ type: 'message', text: 'over tls', client_id: 'tl-1' });
  const ack = await x.next((m) => m.type === 'ack' && m.client_id === 'tl-1');
  assert.equal((await y.next((m) => m.type === 'message' && m.message === 'over tls')).seq, ack.seq);
  assert.match(w.logText(), /\(mutual TLS\)/);
  x.close(); y.close();
  await w.stop(); await b.stop();
});

test('madang-ws given the wrong --tls-server-name refuses the broker and logs it', T, async () => {
  const c = certs(), u = await urls();
  const tb = tlsUrls(u.b);
  const b = await startBroker({ ...tb, name: 'broker-tls2', args: ['--tls-ca', c.ca, '--tls-cert', c.broker] });
  const port = await freePort();
  const w = new Proc('ws-wrongname', path.join(BIN, 'madang-ws'), ['--listen', `127.0.0.1:${port}`, '--rpc', tb.rpc,
    '--events', tb.events, '--id', 'ws-wn', '--tls-ca', c.ca, '--tls-cert', c.edge, '--tls-server-name', 'wrong.example']).start();
  await waitFor(() => /TLS handshake with the broker at tls\+tcp:\/\/127\.0\.0\.1:\d+ failed/.test(w.logText()), 8000, 'the refusal in the log');
  assert.equal(await healthy(port), false, 'never registered');
  await w.stop(); await b.stop();
});

test('madang-ws start-up refusals: TLS files missing or bad, TLS flags without tls+tcp://, broker lists that do not match', T, async () => {
  const c = certs();
  const cases = [
    [['--rpc', 'tls+tcp://127.0.0.1:9', '--events', 'tls+tcp://127.0.0.1:10'], 1, /not started: .*needs --tls-ca and --tls-cert \(missing: both\)/],
    [['--rpc', 'tls+tcp://127.0.0.1:9', '--events', 'tls+tcp://127.0.0.1:10', '--tls-ca', c.ca], 1, /\(missing: --tls-cert\)/],
    [['--rpc', 'tls+tcp://127.0.0.1:9', '--events', 'tls+tcp://127.0.0.1:10', '--tls-ca', c.ca, '--tls-cert', path.join(CERTS, 'edge.crt')], 1, /no unencrypted private key/],
    [['--rpc', 'tcp://127.0.0.1:9', '--events', 'tcp://127.0.0.1:10', '--tls-ca', c.ca, '--tls-cert', c.edge], 1, /no URL is tls\+tcp:\/\//],
    [['--rpc', 'tcp://127.0.0.1:9,tcp://127.0.0.1:11', '--events', 'tcp://127.0.0.1:10'], 2, /--rpc and --events must list the same brokers/],
    [['--rpc', 'tcp://127.0.0.1:9,', '--events', 'tcp://127.0.0.1:10,tcp://127.0.0.1:12'], 2, /--rpc: an empty URL/],
    [['--rpc', 'tcp://a:1,tcp://a:2,tcp://a:3,tcp://a:4,tcp://a:5', '--events', 'tcp://a:6'], 2, /--rpc: at most 4 URLs/],
    [['--broker-wait-ms', '60001'], 2, /--broker-wait-ms/],
  ];
  for (const [args, status, re] of cases) {
    const r = wsRefusal(args);
    assert.equal(r.status, status, `${args.join(' ')}: ${r.out}`);
    assert.match(r.out, re, args.join(' '));
  }
});
