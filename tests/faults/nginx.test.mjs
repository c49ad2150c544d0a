// nginx.test.mjs — `nginx -s reload` (private config of scripts/render-nginx.sh) while 4 clients
// chat through nginx's /ws/ proxy; and one of two madang-ws upstreams stopped with SIGTERM.
// * As shipped (no worker_shutdown_timeout) the old worker keeps serving the open WebSockets:
//   nothing is even reconnected, nothing lost.
// * With `worker_shutdown_timeout 1s` in the main context (what a deployment that wants old
//   workers gone would set) the old worker cuts every proxied WebSocket 1 s after the reload:
//   the clients reconnect through the new worker with since/epoch/resume, get recovered:true and
//   resumed:true, and nothing acknowledged is lost or doubled.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, closeAllClients, allDelivered } from '../lib/chatclient.mjs';
import { startBroker, startWs, startApi, startNginx, stopAll, sleep } from '../lib/stack.mjs';

after(async () => { closeAllClients(); await stopAll(); });
const log = (...a) => console.log('measure:', ...a);

async function scenario(extraMain, prefix) {
  const broker = await startBroker({ frontendTimeout: 3000 });
  const ws = await startWs(broker, { id: `ws-${prefix}` });
  const api = await startApi(broker);
  const nginx = await startNginx({ api: api.port, ws: [ws.port], extraMain });
  const cs = [0, 1, 2, 3].map((i) => new ChatClient(nginx.url, 'room1', `${prefix}${i}`));
  for (const c of cs) await c.start();
  cs.forEach((c) => c.chat());
  await sleep(1500);
  const t0 = Date.now();
  nginx.reload();
  await sleep(3500);
  cs.forEach((c) => c.stopChat());
  await Promise.all(cs.map((c) => c.drained(10000)));
  const t = await allDelivered(cs, 10000);
  const r = await fetch(`${nginx.http}/api/rooms`, { signal: AbortSignal.timeout(3000) });
  const res = { t, cs, t0, apiStatus: r.status };
  await r.text();
  closeAllClients();
  await stopAll();
  return res;
}

test('nginx reload, as shipped: open WebSockets stay on the old worker, nothing lost', { timeout: 40000 }, async () => {
  const { t, cs, apiStatus } = await scenario('', 'n');
  log(`nginx reload (shipped config): ${t.acked} acked, lost ${t.lost}, duplicated ${t.duplicated}, out of order ${t.outOfOrder}, ` +
    `reconnects ${cs.map((c) => c.connects - 1).join('/')}`);
  assert.equal(t.lost, 0, t.lostSamples.join(', '));
  assert.equal(t.duplicated, 0);
  assert.equal(t.outOfOrder, 0);
  assert.equal(apiStatus, 200);
  for (const c of cs) assert.equal(c.connects, 1, `${c.user} kept its connection`);
});

test('nginx reload with worker_shutdown_timeout 1s: clients reconnect and resume without loss', { timeout: 40000 }, async () => {
  const { t, cs, t0, apiStatus } = await scenario('worker_shutdown_timeout 1s;', 'r');
  const closes = cs.map((c) => c.closes.filter((x) => x.at >= t0));
  const rejoins = cs.map((c) => c.joins.slice(1));
  log(`nginx reload (worker_shutdown_timeout 1s): ${t.acked} acked, lost ${t.lost}, duplicated ${t.duplicated}, out of order ${t.outOfOrder}, ` +
    `resends ${t.resends}, replays dropped ${t.replays}; cut after ${closes.map((c) => (c[0] ? c[0].at - t0 : '-')).join('/')} ms ` +
    `(codes ${closes.map((c) => c.map((x) => x.code).join(',')).join('/')}; connections ${cs.map((c) => c.connects).join('/')}); rejoined ${rejoins.map((j) => j.map((x) => `recovered=${x.recovered},resumed=${x.resumed}`).join(';')).join(' / ')}`);
  for (let i = 0; i < cs.length; i++) {
    assert.ok(closes[i].length >= 1, `${cs[i].user} was cut by the old worker`);
    assert.ok(rejoins[i].length >= 1, `${cs[i].user} reconnected`);
    for (const j of rejoins[i]) assert.equal(j.recovered, true, 'since/epoch resume: recovered:true');
  }
  assert.equal(t.lost, 0, t.lostSamples.join(', '));
  assert.equal(t.duplicated, 0);
  assert.equal(t.outOfOrder, 0);
  assert.equal(apiStatus, 200);
});

// A rolling restart of one front-end behind nginx: SIGTERM closes its clients with 1001; they
// reconnect through nginx, land on the other madang-ws, resume with since/epoch and lose nothing.
test('madang-ws SIGTERM behind nginx (two upstreams): 1001, clients move to the other and resume without loss', { timeout: 40000 }, async () => {
  const broker = await startBroker({ frontendTimeout: 3000 });
  const wa = await startWs(broker, { id: 'ws-ta' });
  const wb = await startWs(broker, { id: 'ws-tb' });
  const api = await startApi(broker);
  const nginx = await startNginx({ api: api.port, ws: [wa.port, wb.port] });
  const cs = [0, 1, 2, 3].map((i) => new ChatClient(nginx.url, 'room1', `t${i}`));
  for (const c of cs) await c.start();
  const onA = cs.filter((c) => c.frontends[0] === 'ws-ta');
  assert.ok(onA.length >= 1 && onA.length <= 3, `nginx spread the clients: ${cs.map((c) => c.frontends[0])}`);
  cs.forEach((c) => c.chat());
  await sleep(1500);
  const t0 = Date.now();
  wa.signal('SIGTERM');
  const exit = await wa.exited;
  await Promise.all(onA.map((c) => c.until(() => c.joins.length >= 2, 10000, `${c.user} back`)));
  const back = Date.now() - t0;
  await sleep(1500);
  cs.forEach((c) => c.stopChat());
  await Promise.all(cs.map((c) => c.drained(10000)));
  const t = await allDelivered(cs, 10000);
  log(`madang-ws SIGTERM behind nginx: ${onA.length} of 4 clients were on it; closes ${onA.map((c) => c.closes.map((x) => x.code).join(',')).join('/')}; ` +
    `exit ${JSON.stringify(exit)}; all back on ${onA.map((c) => c.frontends[c.frontends.length - 1]).join(',')} with recovered=${onA.map((c) => c.joins[1].recovered).join(',')} within ${back} ms; ` +
    `${t.acked} acked, lost ${t.lost}, duplicated ${t.duplicated}, out of order ${t.outOfOrder}, resends ${t.resends}`);
  assert.equal(exit.code, 0);
  for (const c of onA) {
    assert.equal(c.closes[0].code, 1001);
    assert.equal(c.frontends[c.frontends.length - 1], 'ws-tb');
    assert.equal(c.joins[1].recovered, true);
  }
  assert.equal(t.lost, 0, t.lostSamples.join(', '));
  assert.equal(t.duplicated, 0);
  assert.equal(t.outOfOrder, 0);
  closeAllClients();
  await stopAll();
});
