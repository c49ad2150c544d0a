// broker.test.mjs — the broker dies or stops while 4 clients chat at 20 msg/s each.
// * SIGKILL + restart with --data: no acknowledged message lost, nothing duplicated; the
//   clients get a fresh joined with recovered:true (same epoch: exactly the missed events)
//   in the same epoch; a client that was away during the outage and comes back with
//   since/epoch gets recovered:true and exactly what it missed.
// * SIGKILL + restart without --data: a new epoch, every client told recovered:false (also one
//   that resumes with its old since/epoch); chat goes on, nothing duplicated.
// * SIGSTOP 5 s + SIGCONT: madang-api answers 503 within its --timeout, madang-ws still answers
//   pings (client and server), everything resumes without loss.
// * SIGSTOP 8 s (> --frontend-timeout) + SIGCONT: no front-end expired, no leave announced;
//   a front-end SIGKILLed afterwards still expires within the timeout.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ChatClient, closeAllClients, tally, allDelivered } from '../lib/chatclient.mjs';
import { startBroker, restartBroker, startWs, startApi, startNginx, stopAll, sleep, WORK, waitFor } from '../lib/stack.mjs';

after(async () => { closeAllClients(); await stopAll(); });

const T = { timeout: 60000 };
const log = (...a) => console.log('measure:', ...a);

async function chatters(base, room, k, opts = {}) {
  const cs = [];
  for (let i = 0; i < k; i++) cs.push(new ChatClient(base, room, `${opts.prefix || 'u'}${i}`, opts));
  await Promise.all(cs.map((c) => c.start()));
  return cs;
}

test('broker SIGKILL and restart with --data: no acknowledged message lost or doubled', T, async () => {
  const data = fs.mkdtempSync(path.join(WORK, 'data-'));
  let broker = await startBroker({ data, frontendTimeout: 3000 });
  const ws = await startWs(broker, { id: 'ws-d' });
  const cs = await chatters(ws.url, 'room1', 4, { prefix: 'd' });
  const away = new ChatClient(ws.url, 'room1', 'away', { reconnect: false });
  await away.start();
  cs.forEach((c) => c.chat());
  await sleep(2000);
  const epoch0 = cs[0].epoch;
  const ackedBefore = cs.reduce((a, c) => a + c.acked.size, 0);
  // The away client goes before the crash; it comes back after the restart with since/epoch.
  await waitFor(() => away.lastSeq >= cs[0].lastSeq - 5, 2000, 'away caught up');
  const awaySeq = away.lastSeq;
  away.close();
  const t0 = Date.now();
  await broker.kill9();
  await sleep(1000);
  broker = await restartBroker(broker);
  // Each chatting client sees a fresh joined after the front-end re-syncs.
  await Promise.all(cs.map((c) => c.until(() => c.joins.length >= 2, 15000, `${c.user} re-joined`)));
  const resync = Date.now() - t0;
  await sleep(2000);
  cs.forEach((c) => c.stopChat());
  await Promise.all(cs.map((c) => c.drained(10000)));
  const t = await allDelivered(cs, 10000);
  log(`durable restart: ${ackedBefore} acked before the kill, ${t.acked} in all; lost ${t.lost}, duplicated ${t.duplicated}, ` +
    `out of order ${t.outOfOrder}, resends ${t.resends} (dup acks ${t.dupAcks}), replays dropped ${t.replays}; ` +
    `kill to fresh joined on every client ${resync} ms`);
  assert.equal(t.lost, 0, `lost: ${t.lostSamples.join(', ')}`);
  assert.equal(t.duplicated, 0);
  assert.equal(t.outOfOrder, 0);
  assert.equal(t.seqBackwards, 0);
  for (const c of cs) {
    const j = c.joins[c.joins.length - 1];
    assert.equal(j.epoch, epoch0, 'durable history keeps the epoch');
    assert.equal(j.recovered, true, 'a durable broker restart re-joins with recovered:true and exactly the missed events (docs/protocol.md)');
  }
  // The away client resumes: exactly the events after its seq, recovered:true.
  const back = new ChatClient(ws.url, 'room1', 'away', { reconnect: false });
  back.epoch = epoch0;
  back.lastSeq = awaySeq;
  back.seen = away.seen;
  back.got = away.got;
  back.lastFrom = away.lastFrom;
  await back.start();
  const bj = back.joins[0];
  assert.equal(bj.recovered, true, 'since/epoch after a durable restart: recovered:true');
  await sleep(500);
  const missed = [];
  for (const c of cs) for (const n of c.acked.keys()) if (!back.got.has(`${c.user} ${n}`)) missed.push(`${c.user} ${n}`);
  log(`away client resumed at seq ${awaySeq}: recovered ${bj.recovered}, missed after resume ${missed.length}, replays ${back.replays}`);
  // Up to --history (50) events come with the joined; the rest the client may fetch. It had
  // been away for the crash: all it missed is in the ring unless more than 50 happened.
  assert.ok(missed.length === 0 || bj.seq - awaySeq > 50, `missed ${missed.slice(0, 5)}`);
  back.close();
  cs.forEach((c) => c.close());
  await stopAll();
});

test('broker SIGKILLed three times in a row with --data (one kill while the front-end re-syncs)', T, async () => {
  const data = fs.mkdtempSync(path.join(WORK, 'data-'));
  let broker = await startBroker({ data, frontendTimeout: 3000 });
  const ws = await startWs(broker, { id: 'ws-d3' });
  const cs = await chatters(ws.url, 'room2', 4, { prefix: 'k' });
  cs.forEach((c) => c.chat());
  const gaps = [1200, 300, 1200]; // the second kill lands about when the first restart is re-syncing
  for (const g of gaps) {
    await sleep(g);
    await broker.kill9();
    await sleep(400);
    broker = await restartBroker(broker);
  }
  await Promise.all(cs.map((c) => c.until(() => c.joins.length >= 2 && c.joinedNow, 15000, `${c.user} back`)));
  await sleep(1500);
  cs.forEach((c) => c.stopChat());
  await Promise.all(cs.map((c) => c.drained(15000)));
  const t = await allDelivered(cs, 10000);
  log(`3 durable kills: ${t.acked} acked, lost ${t.lost}, duplicated ${t.duplicated}, out of order ${t.outOfOrder}, ` +
    `resends ${t.resends} (dup acks ${t.dupAcks}), joined per client ${cs.map((c) => c.joins.length).join('/')}`);
  assert.equal(t.lost, 0, t.lostSamples.join(', '));
  assert.equal(t.duplicated, 0);
  assert.equal(t.outOfOrder, 0);
  assert.equal(t.seqBackwards, 0);
  cs.forEach((c) => c.close());
  await stopAll();
});

test('broker SIGKILL and restart without --data: clients are told recovered:false, chat goes on', T, async () => {
  let broker = await startBroker({ frontendTimeout: 3000 });
  const ws = await startWs(broker, { id: 'ws-m' });
  const cs = await chatters(ws.url, 'room1', 4, { prefix: 'm' });
  cs.forEach((c) => c.chat());
  await sleep(1500);
  const epoch0 = cs[0].epoch;
  const oldSeq = cs[0].lastSeq;
  await broker.kill9();
  await sleep(1000);
  broker = await restartBroker(broker);
  await Promise.all(cs.map((c) => c.until(() => c.joins.length >= 2, 15000, `${c.user} re-joined`)));
  const ackedAtRestart = new Map(cs.map((c) => [c.user, Math.max(0, ...c.acked.keys())]));
  await sleep(1500);
  cs.forEach((c) => c.stopChat());
  await Promise.all(cs.map((c) => c.drained(10000)));
  await sleep(300);
  for (const c of cs) {
    const j = c.joins[c.joins.length - 1];
    assert.notEqual(j.epoch, epoch0, 'a new epoch');
    assert.equal(j.recovered, false);
  }
  // Everything acknowledged after the restart reached everyone, once.
  let lost = 0, dup = 0;
  for (const c of cs) for (const s of cs) for (const n of s.acked.keys()) {
    if (n <= ackedAtRestart.get(s.user)) continue;
    const g = c.got.get(`${s.user} ${n}`) || 0;
    if (g === 0) lost++;
    if (g > 1) dup += g - 1;
  }
  const t = tally(cs);
  log(`memory restart: new epoch, recovered:false on all 4; after the restart lost ${lost}, duplicated ${dup}; ` +
    `over the whole run ${t.lost} acked-before-kill payloads not seen (in flight at the kill: allowed without --data)`);
  assert.equal(lost, 0);
  assert.equal(dup, 0);
  assert.equal(t.duplicated, 0);
  // A client that resumes with the old epoch's since is told recovered:false.
  const late = new ChatClient(ws.url, 'room1', 'late', { reconnect: false });
  late.epoch = epoch0;
  late.lastSeq = oldSeq;
  await late.start();
  assert.equal(late.joins[0].recovered, false);
  late.close();
  cs.forEach((c) => c.close());
  await stopAll();
});

test('broker SIGSTOP 5 s: API 503 within its --broker-wait-ms, madang-ws answers pings, all resumes', T, async () => {
  const broker = await startBroker({ frontendTimeout: 3000 });
  const ws = await startWs(broker, { id: 'ws-s', args: ['--ping-interval', '1'] });
  // madang-api waits --broker-wait-ms for a broker (a failover is a pause), then says 503.
  const WAIT_MS = 1000;
  const api = await startApi(broker, { timeout: 500, args: ['--broker-wait-ms', String(WAIT_MS)] });
  const nginx = await startNginx({ api: api.port, ws: [ws.port] });
  const cs = await chatters(ws.url, 'room1', 4, { prefix: 's' });
  cs.forEach((c) => c.chat());
  await sleep(1000);
  broker.signal('SIGSTOP');
  const stoppedAt = Date.now();
  const pings0 = cs[0].serverPings;
  // madang-api through nginx: 503 within --broker-wait-ms (+ 1 s for nginx and the machine).
  const apiTimes = [];
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const r = await fetch(`${nginx.http}/api/rooms`, { signal: AbortSignal.timeout(5000) });
    const body = await r.text();
    apiTimes.push(Date.now() - t0);
    assert.equal(r.status, 503, body);
    assert.match(body, /"error":"broker_unavailable"/);
  }
  // The ws loop runs: a client ping is answered at once.
  const pingTimes = [];
  for (let i = 0; i < 5; i++) {
    const p0 = cs[1].pongs, t0 = Date.now();
    cs[1].ping();
    await cs[1].until(() => cs[1].pongs > p0, 1000, 'pong while the broker is stopped');
    pingTimes.push(Date.now() - t0);
    await sleep(200);
  }
  // /healthz of madang-ws answers at once too (its loop runs; the broker's state is its own).
  const h0 = Date.now();
  const hr = await fetch(`${ws.url.replace('ws:', 'http:')}/healthz`, { signal: AbortSignal.timeout(2000) });
  const healthMs = Date.now() - h0;
  const health = await hr.json();
  assert.ok(healthMs < 1000, `/healthz took ${healthMs} ms`);
  // Then /healthz every 250 ms until the 5 s are over: what madang-ws says of the broker.
  const healthSeen = [];
  while (Date.now() - stoppedAt < 4800) {
    const q0 = Date.now();
    const x = await fetch(`${ws.url.replace('ws:', 'http:')}/healthz`, { signal: AbortSignal.timeout(2000) });
    const b = await x.json();
    healthSeen.push(`${q0 - stoppedAt}:${x.status}/${b.broker}(${Date.now() - q0}ms)`);
    await sleep(250);
  }
  // Within a heartbeat (1 s) plus madang-ws's request timeout (2 s) it reports the broker
  // unreachable: 503 "down" (docs/protocol.md, /healthz).
  assert.match(healthSeen[healthSeen.length - 1], /:503\/down\(/, healthSeen.join(' '));
  await sleep(Math.max(0, 5000 - (Date.now() - stoppedAt)));
  const serverPings = cs[0].serverPings - pings0;
  broker.signal('SIGCONT');
  log(`SIGSTOP 5 s: API 503 after ${apiTimes.join('/')} ms (--broker-wait-ms ${WAIT_MS}), client ping->pong ${pingTimes.join('/')} ms, ` +
    `${serverPings} server pings in the 5 s (--ping-interval 1); /healthz answered ${hr.status} "${health.broker}" in ${healthMs} ms; /healthz over the stop (ms:status/broker) ${healthSeen.join(' ')}`);
  for (const t of apiTimes) assert.ok(t >= WAIT_MS - 50 && t < WAIT_MS + 1000, `503 after ${t} ms`);
  assert.ok(serverPings >= 3, `server pings while stopped: ${serverPings}`);
  await sleep(3000);
  cs.forEach((c) => c.stopChat());
  await Promise.all(cs.map((c) => c.drained(15000)));
  const t = await allDelivered(cs, 10000);
  log(`after SIGCONT: ${t.acked} acked, lost ${t.lost}, duplicated ${t.duplicated}, out of order ${t.outOfOrder}, resends ${t.resends}, ` +
    `joined per client ${cs.map((c) => c.joins.length).join('/')}`);
  assert.equal(t.lost, 0, t.lostSamples.join(', '));
  assert.equal(t.duplicated, 0);
  assert.equal(t.outOfOrder, 0);
  const r = await fetch(`${nginx.http}/api/rooms`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 200);
  cs.forEach((c) => c.close());
  await stopAll();
});

// Issue 24 item 3: a broker stopped for longer than --frontend-timeout must not expire the
// front-ends for its own silence (no leave afterwards, members intact), while a front-end that
// is really dead still expires within the timeout once the broker runs again.
test('broker SIGSTOP 8 s (> --frontend-timeout 3000): no false leaves; a killed front-end still expires', T, async () => {
  const broker = await startBroker({ frontendTimeout: 3000 });
  const wsA = await startWs(broker, { id: 'ws-st-a' });
  const wsB = await startWs(broker, { id: 'ws-st-b' });
  const cs = await chatters(wsA.url, 'room3', 2, { prefix: 'st' });
  const far = new ChatClient(wsB.url, 'room3', 'far', { reconnect: false });
  await far.start();
  await cs[0].until(() => cs[0].events.some((e) => e.type === 'join' && e.user === 'far'), 5000, 'far joined');
  const mark = cs.map((c) => c.events.length);
  broker.signal('SIGSTOP');
  await sleep(8000);
  broker.signal('SIGCONT');
  const contAt = Date.now();
  await sleep(4500); // longer than the timeout: a false expiry would have happened by now
  const after = cs.flatMap((c, i) => c.events.slice(mark[i])).concat(far.events.slice(0));
  const leaves = after.filter((e) => e.type === 'leave');
  const logText = broker.logText();
  log(`SIGSTOP 8 s: ${leaves.length} leave events afterwards; broker log: ` +
    `${(logText.match(/did not run for \d+ ms/) || ['no stall line'])[0]}, ` +
    `${(logText.match(/expired/g) || []).length} expiry lines`);
  assert.equal(leaves.length, 0, `leaves after the stall: ${leaves.map((e) => `${e.user}/${e.reason}`).join(', ')}`);
  assert.doesNotMatch(logText, /expired:/);
  // Members intact: a newcomer's joined lists all three.
  const probe = new ChatClient(wsA.url, 'room3', 'probe', { reconnect: false });
  await probe.start();
  assert.deepEqual([...probe.joins[0].users].sort(), ['far', 'probe', 'st0', 'st1']);
  assert.ok(cs.every((c) => c.connected && c.closes.length === 0), 'no client lost its socket');
  // A front-end that is really dead still expires within the timeout (+ 1 s).
  const k0 = Date.now();
  await wsB.kill9();
  const farLeave = () => cs[0].events.find((e) => e.type === 'leave' && e.user === 'far');
  await cs[0].until(farLeave, 5000, 'far expired');
  const gone = farLeave();
  const expiredMs = Date.now() - k0;
  log(`killed front-end expired after ${expiredMs} ms (timeout 3000), ${Date.now() - contAt} ms after SIGCONT`);
  assert.equal(gone.reason, 'expired');
  assert.ok(expiredMs < 4000, `expired after ${expiredMs} ms`);
  probe.close();
  far.close();
  cs.forEach((c) => c.close());
  await stopAll();
});
