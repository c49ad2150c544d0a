// resume.test.mjs — reconnecting: since/epoch replays exactly the missed events, a stale epoch
// gets recovered:false, resume=<old session> takes the nickname back from a half-open socket
// (which is closed with 4009), and a message re-sent with the same client_id is not duplicated.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeAll, connect, joinPath, nick, sleep } from '../../lib/wsclient.mjs';

const WS1 = process.env.MADANG_WS1_URL;

after(closeAll);

const T = { timeout: 15000 };

test('resume after a disconnect gets exactly the missed events (recovered: true)', T, async () => {
  const a = nick('ra'), b = nick('rb');
  const ca = await joinPath(WS1, 'room4', a);
  const cb = await joinPath(WS1, 'room4', b);
  await ca.next((m) => m.type === 'join' && m.user === b);
  cb.send('before');
  const seen = await ca.next((m) => m.type === 'message' && m.message === 'before');
  const epoch = ca.joined.epoch;
  ca.terminate(); // abrupt, like a lost network
  await cb.next((m) => m.type === 'leave' && m.user === a);
  cb.send('missed 1');
  cb.send('missed 2');
  await cb.next((m) => m.type === 'message' && m.message === 'missed 2');

  const cr = await connect(WS1, `/ws/room4/${a}?since=${seen.seq}&epoch=${epoch}`);
  await cr.nextType('welcome');
  const j = await cr.nextType('joined');
  assert.equal(j.recovered, true);
  const replay = [];
  for (;;) {
    const m = await cr.next();
    if (m.seq === j.seq) { assert.equal(m.type, 'join'); break; }
    replay.push(m);
  }
  assert.deepEqual(replay.map((m) => m.seq), Array.from({ length: j.seq - seen.seq - 1 }, (_, i) => seen.seq + 1 + i));
  assert.deepEqual(replay.map((m) => [m.type, m.user ?? m.message]), [['leave', a], ['message', 'missed 1'], ['message', 'missed 2']]);
  cr.close(); cb.close();
});

test('resume with another epoch: recovered: false and the recent history', T, async () => {
  const c = await connect(WS1, `/ws/room4/${nick('re')}?since=3&epoch=0123456789abcdef`);
  await c.nextType('welcome');
  const j = await c.nextType('joined');
  assert.equal(j.recovered, false);
  c.close();
});

test('malformed resume parameters: close 4000', T, async () => {
  const c = await connect(WS1, `/ws/room4/${nick('rm')}?since=3`);
  assert.equal((await c.waitClose()).code, 4000);
  const d = await connect(WS1, `/ws/room4/${nick('rm')}?resume=xyz`);
  assert.equal((await d.waitClose()).code, 4000);
});

test('resume=<old session> takes the nickname back; the old socket is closed with 4009', T, async () => {
  const u = nick('half'), w = nick('watch');
  const old = await joinPath(WS1, 'room5', u);
  const watcher = await joinPath(WS1, 'room5', w);
  const fresh = await connect(WS1, `/ws/room5/${u}?resume=${old.welcome.session}`);
  await fresh.nextType('welcome');
  const j = await fresh.nextType('joined');
  assert.equal(j.resumed, true);
  assert.ok(j.users.includes(u));
  const cl = await old.waitClose();
  assert.equal(cl.code, 4009);
  fresh.send('back again');
  const m = await watcher.next((x) => x.type === 'message' && x.message === 'back again');
  assert.equal(m.sender, u);
  await sleep(300);
  assert.equal(watcher.msgs.filter((x) => (x.type === 'leave' || x.type === 'join') && x.user === u &&
    x.seq > watcher.joined.seq).length, 0,
    'no leave or join notice for a resumed nickname');
  const again = await fresh.nextType('message');
  assert.equal(again.message, 'back again');
  fresh.close(); watcher.close();
});

test('join_room "resume" on /ws takes the nickname back like ?resume= (the key stays out of the URL)', T, async () => {
  const u = nick('hide'), w = nick('watch');
  const old = await joinPath(WS1, 'room5', u);
  const watcher = await joinPath(WS1, 'room5', w);
  const fresh = await connect(WS1, '/ws');
  await fresh.nextType('welcome');
  fresh.send({ type: 'join_room', room_id: 'room5', user: u, resume: old.welcome.session });
  const j = await fresh.nextType('joined');
  assert.equal(j.resumed, true);
  assert.equal((await old.waitClose()).code, 4009);
  fresh.send({ type: 'message', room_id: 'room5', text: 'key not in the URL' });
  assert.equal((await watcher.next((x) => x.type === 'message' && x.message === 'key not in the URL')).sender, u);
  assert.equal(watcher.msgs.filter((x) => (x.type === 'leave' || x.type === 'join') && x.user === u &&
    x.seq > watcher.joined.seq).length, 0, 'no leave or join notice for a resumed nickname');
  // A malformed key is refused like ?resume=xyz, with the join's room and no join.
  const bad = await connect(WS1, '/ws');
  await bad.nextType('welcome');
  bad.send({ type: 'join_room', room_id: 'room5', user: nick('bad'), resume: 'xyz' });
  const e = await bad.nextType('error');
  assert.equal(e.code, 'invalid_argument');
  // Someone else's session id takes nothing.
  const thief = await connect(WS1, '/ws');
  await thief.nextType('welcome');
  thief.send({ type: 'join_room', room_id: 'room5', user: u, resume: watcher.welcome.session });
  assert.equal((await thief.nextType('error')).code, 'nickname_taken');
  assert.equal(fresh.closeInfo, null);
  fresh.close(); watcher.close(); bad.close(); thief.close();
});

test('resume=<someone else\'s session> does not take a nickname', T, async () => {
  const u = nick('keep');
  const owner = await joinPath(WS1, 'room5', u);
  const other = await joinPath(WS1, 'room5', nick('other'));
  const thief = await connect(WS1, `/ws/room5/${u}?resume=${other.welcome.session}`);
  await thief.nextType('welcome');
  assert.equal((await thief.nextType('error')).code, 'nickname_taken');
  assert.equal((await thief.waitClose()).code, 4009);
  assert.equal(owner.closeInfo, null);
  owner.close(); other.close();
});

test('a message re-sent with the same client_id is acknowledged twice, delivered once', T, async () => {
  const u = nick('cid');
  const c = await joinPath(WS1, 'room4', u);
  c.send({ type: 'message', text: 'once only', client_id: 'cid-1' });
  const a1 = await c.nextType('ack');
  c.send({ type: 'message', text: 'once only', client_id: 'cid-1' });
  const a2 = await c.nextType('ack');
  assert.equal(a1.duplicate, false);
  assert.equal(a2.duplicate, true);
  assert.equal(a2.seq, a1.seq);
  c.send({ type: 'ping' });
  await c.nextType('pong');
  await sleep(100);
  assert.equal(c.msgs.filter((m) => m.type === 'message' && m.message === 'once only' && m.seq > c.joined.seq).length, 1);
  c.close();
});
