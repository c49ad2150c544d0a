// conn.test.mjs — madang-ws's handshake and connection layer: headers too long to read whole
// are refused (never taken as absent), --hosts, /ws/chat/{room_id} (an anonymous member with a
// made-up nickname), a path or query that lws cut at a decoded %00. Environment as lib.mjs, and
// MADANG_WS_REUSE_CMD (30-ws.sh) for the front-ends started here with their own flags.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { spawnTracked } from '../../lib/stack.mjs';
import { closeAll, connect, joinPath, nick, sleep } from '../../lib/wsclient.mjs';

const WS1 = process.env.MADANG_WS1_URL;

after(closeAll);
const T = { timeout: 30000 };
const PORT1 = new URL(WS1).port;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Starts a madang-ws of this test with extra flags; resolves with its ws:// base once it
// answers /healthz with 200 (registered with the broker).
async function ownFrontend(t, id, flags, port) {
  const cmd = process.env.MADANG_WS_REUSE_CMD.split(' ');
  port = port || await freePort();
  const k = spawnTracked(cmd[0], [...cmd.slice(1), '--listen', `127.0.0.1:${port}`, '--id', id, ...flags],
    { stdio: 'ignore' });
  t.after(() => { if (k.exitCode === null) k.kill('SIGKILL'); });
  const deadline = Date.now() + 8000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`madang-ws ${id} did not come up`);
    await sleep(100);
  }
  return { base: `ws://127.0.0.1:${port}`, port, proc: k };
}

const status403 = (e) => e.status === 403;

// A syntactically valid host name of n characters under .example (labels of at most 63).
function longHost(n) {
  const labels = [];
  let left = n - '.example'.length;
  while (left > 0) {
    const len = Math.min(63, left - (labels.length ? 1 : 0));
    labels.push('a'.repeat(Math.max(len, 1)));
    left -= len + (labels.length > 1 ? 1 : 0);
  }
  return `${labels.join('.')}.example`;
}

test('an Origin too long to read whole is refused (403), not taken as absent', T, async () => {
  // 300 characters whose host part is foreign: once treated as "no Origin" and allowed.
  const origin = `https://${longHost(300 - 'https://'.length)}`;
  assert.equal(origin.length, 300);
  await assert.rejects(connect(WS1, '/ws', { headers: { Origin: origin } }), status403);
  // Longer than any buffer: the same.
  await assert.rejects(connect(WS1, '/ws', { headers: { Origin: `http://x${'y'.repeat(3000)}.example` } }), status403);
  // A browser on a 249-character host name (the probe's page) is refused as well.
  await assert.rejects(connect(WS1, '/ws/room1/spy', { headers: { Origin: `https://${longHost(249)}` } }), status403);
  // The same front-end still takes its own Origin, and a client without one.
  const ok = await connect(WS1, '/ws', { headers: { Origin: `http://127.0.0.1:${PORT1}` } });
  ok.close();
  const none = await connect(WS1, '/ws');
  none.close();
});

test('an empty Origin is an opaque origin, refused (403)', T, async () => {
  await assert.rejects(connect(WS1, '/ws', { headers: { Origin: '' } }), status403);
});

test('a Host too long to read whole is refused (403)', T, async () => {
  const host = `${longHost(400)}:${PORT1}`;
  await assert.rejects(connect(WS1, '/ws', { headers: { Host: host } }), status403);
  await assert.rejects(connect(WS1, '/ws', { headers: { Host: host, Origin: `http://${host}` } }), status403);
});

test('an X-Forwarded-For too long to read whole is refused (431)', T, async () => {
  const xff = Array.from({ length: 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(', ');
  assert.ok(xff.length > 1024);
  await assert.rejects(connect(WS1, '/ws', { headers: { 'X-Forwarded-For': xff } }), (e) => e.status === 431);
});

test('--hosts: a Host outside the list is refused (403), with or without Origin', T, async (t) => {
  const port = await freePort();
  const { base } = await ownFrontend(t, 'ws-hosts', ['--hosts', `chat.example,127.0.0.1:${port}`], port);
  // Its usual Host (127.0.0.1:port) is listed.
  const plain = await connect(base, '/ws');
  plain.close();
  const same = await connect(base, '/ws', { headers: { Origin: `http://127.0.0.1:${port}` } });
  same.close();
  // A listed name without a port matches on any port; the Origin is then checked against it.
  const named = await connect(base, '/ws', { headers: { Host: `chat.example:${port}` } });
  named.close();
  const browser = await connect(base, '/ws', { headers: { Host: 'chat.example', Origin: 'https://chat.example' } });
  browser.close();
  await assert.rejects(connect(base, '/ws', { headers: { Host: 'chat.example', Origin: 'https://evil.example' } }), status403);
  // Another name, even one the Origin matches (DNS rebinding), or another port: refused.
  await assert.rejects(connect(base, '/ws', { headers: { Host: 'evil.example' } }), status403);
  await assert.rejects(connect(base, '/ws', { headers: { Host: 'evil.example', Origin: 'http://evil.example' } }), status403);
  await assert.rejects(connect(base, '/ws', { headers: { Host: 'CHAT.example.evil' } }), status403);
  await assert.rejects(connect(base, '/ws', { headers: { Host: '127.0.0.1:1' } }), status403);
  await assert.rejects(connect(base, '/ws', { headers: { Host: `localhost:${port}` } }), status403);
});

test('--hosts and --guest-digits refuse values they cannot use (exit 2)', () => {
  const bin = process.env.MADANG_WS_REUSE_CMD.split(' ')[0];
  for (const args of [['--hosts', ''], ['--hosts', 'a,,b'], ['--hosts', 'a,'], ['--hosts', 'a b'],
    ['--hosts', 'h'.repeat(300)], ['--guest-digits', '0'], ['--guest-digits', '9']]) {
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 5000 });
    assert.equal(r.status, 2, `${args.join(' ').slice(0, 40)}: exit ${r.status} ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`madang-ws: ${args[0]}`));
  }
});

test('/ws/chat/{room_id}: an anonymous member with a made-up nickname, unique in the room', T, async () => {
  const a = await connect(WS1, '/ws/chat/room2');
  const wa = await a.nextType('welcome');
  const ja = await a.nextType('joined');
  assert.match(wa.user, /^guest-[0-9a-f]{4}$/);
  assert.equal(ja.user, wa.user);
  assert.equal(ja.room_id, 'room2');
  assert.ok(ja.users.includes(wa.user));
  const b = await connect(WS1, '/ws/chat/room2');
  const jb = await b.nextType('joined');
  assert.notEqual(jb.user, ja.user);
  assert.ok(jb.users.includes(ja.user) && jb.users.includes(jb.user));
  // It chats like any member, under that name.
  b.send('hello from a guest');
  const m = await a.next((x) => x.type === 'message' && x.message === 'hello from a guest', 5000, 'message');
  assert.equal(m.sender, jb.user);
  const named = await joinPath(WS1, 'room2', nick('named'));
  assert.ok(named.joined.users.includes(jb.user));
});

test('/ws/chat/{room_id}: a made-up nickname already taken is replaced until one is free', T, async (t) => {
  // One hex digit: 16 names for 10 guests at once, so that some first picks collide.
  const { base } = await ownFrontend(t, 'ws-guests', ['--guest-digits', '1']);
  const cs = await Promise.all(Array.from({ length: 10 }, () => connect(base, '/ws/chat/room3')));
  const joined = await Promise.all(cs.map((c) => c.nextType('joined', 10000)));
  const names = joined.map((j) => j.user);
  for (const n of names) assert.match(n, /^guest-[0-9a-f]$/);
  assert.equal(new Set(names).size, 10, `names ${names}`);
  const last = joined.reduce((x, y) => (x.seq > y.seq ? x : y));
  for (const n of names) assert.ok(last.users.includes(n), `${n} in ${last.users}`);
  for (const c of cs) c.close();
});

test('/ws/chat/{room_id}: a bad or unknown room closes 4000 / 4004', T, async () => {
  for (const [path, code] of [['/ws/chat/nosuchroom', 4004], ['/ws/chat/room.1', 4000], ['/ws/chat/', 4000]]) {
    const c = await connect(WS1, path);
    const info = await c.waitClose(5000);
    assert.equal(info.code, code, `${path}: ${JSON.stringify(info)}`);
  }
});

test('a path lws cut at a decoded %00 is refused (4000), not served as /ws', T, async () => {
  // ('/ws/%00' cannot be told from '/ws/': lws drops a decoded NUL that ends the path from its
  // count too. It is served as '/ws', which names no room and no user.)
  for (const path of ['/ws/%00/bob', '/ws/%00%00/bob', '/ws/chat/%00', '/ws/chat/%00room1', `/ws/room1/%00${nick('z')}`, '/ws/room1/ab%00cd']) {
    let info;
    try {
      const c = await connect(WS1, path);
      info = await c.waitClose(5000);
      assert.ok(!c.msgs.some((m) => m.type === 'welcome'), `${path} was served: ${JSON.stringify(c.msgs)}`);
    } catch (e) {
      // lws itself drops a request with %00 where its path parser does not expect one.
      info = { code: 1006, reason: e.message };
    }
    assert.ok(info.code === 4000 || info.code === 1006, `${path}: ${JSON.stringify(info)}`);
    if (path === '/ws/%00/bob') assert.equal(info.code, 4000);
  }
});

test('a query parameter is read whole: a long one is refused, one after a long one is seen', T, async () => {
  const c = await connect(WS1, `/ws?user=${'x'.repeat(2000)}`);
  const info = await c.waitClose(5000);
  assert.equal(info.code, 4000);
  const who = nick('q');
  const d = await connect(WS1, `/ws?junk=${'j'.repeat(2000)}&user=${who}`);
  const w = await d.nextType('welcome');
  assert.equal(w.user, who);
  d.close();
});

test('a percent-encoded LF or CR in the path or query is refused (4000), never served cut', T, async () => {
  // lws ends the request line at a decoded CR/LF and drops the rest (the HTTP version too):
  // /ws/room1/a%0Ab joined as "a" before. madang-ws refuses a request line without a version.
  const u = nick('lf');
  for (const path of [`/ws/room1/${u}%0Azzz`, `/ws/room1/${u}%0D`, `/ws/chat/room1%0A`,
    `/ws?user=${u}%0Dq`, `/ws?user=${u}&since=1%0A`]) {
    const c = await connect(WS1, path);
    const info = await c.waitClose(5000);
    assert.equal(info.code, 4000, `${path}: ${JSON.stringify(info)}`);
    assert.match(info.reason, /CR or LF/);
    assert.ok(!c.msgs.some((m) => m.type === 'welcome'), `${path} was served: ${JSON.stringify(c.msgs)}`);
  }
  // Encoded elsewhere (a tab) the nickname reaches madang-ws and its own check.
  const t = await connect(WS1, `/ws/room1/${u}%09x`);
  assert.equal((await t.waitClose(5000)).code, 4000);
  const ok = await joinPath(WS1, 'room1', u);
  assert.equal(ok.joined.user, u);
  ok.close();
});

test('request paths: 511 bytes reach madang-ws, 512 get 414, beyond lws\'s header space no answer', T, async () => {
  // docs/protocol.md, Limits (WS_HTTP_PATH_MAX): the path is read whole or refused.
  const path = (n) => `/ws/room1/${'x'.repeat(n - 10)}`;
  const c = await connect(WS1, path(511));
  const info = await c.waitClose(5000);
  assert.equal(info.code, 4000, JSON.stringify(info)); // the nickname is too long, the path was read
  await assert.rejects(connect(WS1, path(512)), (e) => e.status === 414);
  await assert.rejects(connect(WS1, path(3000)), (e) => e.status === 414);
  // A request line that does not fit lws's 4 KiB of header space: dropped without an answer.
  await assert.rejects(connect(WS1, path(8000)), (e) => e.status === undefined);
});

test('--history 0: history without a limit answers a page of 50, not invalid_argument', T, async (t) => {
  const fe = await ownFrontend(t, 'ws-nohist', ['--history', '0']);
  const u = nick('h0');
  const c = await joinPath(fe.base, 'room3', u);
  for (let i = 0; i < 3; i++) c.send({ type: 'message', text: `h0 ${i}`, client_id: `h0-${i}` });
  for (let i = 0; i < 3; i++) await c.next((m) => m.type === 'ack' && m.client_id === `h0-${i}`);
  c.send({ type: 'history', client_id: 'h0-q' });
  const h = await c.next((m) => (m.type === 'history' || m.type === 'error') && m.client_id === 'h0-q');
  assert.equal(h.type, 'history', JSON.stringify(h));
  const mine = h.events.filter((e) => e.type === 'message' && e.sender === u).map((e) => e.message);
  assert.deepEqual(mine, ['h0 0', 'h0 1', 'h0 2']);
  assert.ok(h.events.length <= 50, `${h.events.length} events`);
  c.close();
});
