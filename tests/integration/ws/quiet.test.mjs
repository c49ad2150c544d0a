// quiet.test.mjs — madang-ws keeps each room's newest --history frames to replay them to the
// next joiners itself; a room without a join for --history-idle lets them go (an idle
// connection's join event is then held by the broker alone: docs/performance.md, finding 31).
// The next joiner's history then comes from the broker, and is the same, event for event.
// Starts its own broker and madang-ws (--history-idle 1). --history-idle 0 (never) is
// test_ws_core's: room_cool does nothing then.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, startWs, stopAll, waitFor } from '../../lib/stack.mjs';
import { closeAll, joinPath, nick, httpGet } from '../../lib/wsclient.mjs';

after(async () => { closeAll(); await stopAll(); });

const T = { timeout: 40000 };
const health = async (url) => JSON.parse((await httpGet(url, '/healthz')).body);
// A joiner's replay: the events after `joined` and before its own join event.
const replay = (c) => c.msgs.slice(c.msgs.findIndex((m) => m.type === 'joined') + 1)
  .filter((m) => m.seq !== undefined && m.seq < c.joined.seq);
const own = (c) => c.until(() => c.msgs.some((m) => m.type === 'join' && m.seq === c.joined.seq), 10000, 'its own join');

test('--history-idle: a quiet room lets its kept frames go; the next joiner gets the same history from the broker', T, async () => {
  const b = await startBroker({ name: 'broker-quiet', args: ['--allow-create'] });
  const w = await startWs(b, { id: 'ws-quiet', args: ['--history-idle', '1', '-v'] });
  const stay = await joinPath(w.url, 'quiet', nick('stay'));
  for (let i = 0; i < 5; i++) stay.send({ type: 'message', text: `q${i}`, client_id: `q${i}` });
  await stay.next((m) => m.type === 'message' && m.message === 'q4', 10000, 'q4');

  // A join at once is served from the frames madang-ws kept.
  const shared0 = (await health(w.url)).counters.history_shared;
  const warm = await joinPath(w.url, 'quiet', nick('warm'));
  await own(warm);
  assert.equal((await health(w.url)).counters.history_shared, shared0 + 1, 'history from the kept frames');
  const fromFrames = replay(warm);
  assert.deepEqual(fromFrames.map((m) => m.type), ['join', 'message', 'message', 'message', 'message', 'message']);

  // No join for a second (and the keep-alive sweep that follows): the frames go.
  await waitFor(() => /room quiet: no join for 1 s, its frames kept for joiners let go/.test(w.logText()), 10000, 'the room to go quiet');
  const cold = await joinPath(w.url, 'quiet', nick('cold'));
  await own(cold);
  assert.equal((await health(w.url)).counters.history_shared, shared0 + 1, 'history from the broker alone');
  const fromBroker = replay(cold);
  // The same events as the warm joiner's, and the warm joiner's own join after them.
  assert.deepEqual(fromBroker.slice(0, fromFrames.length), fromFrames);
  assert.equal(fromBroker.length, fromFrames.length + 1);
  assert.equal(fromBroker.at(-1).type, 'join');
  assert.equal(fromBroker.at(-1).seq, warm.joined.seq);
  // And live events still reach everyone, the join warmed the room again.
  stay.send({ type: 'message', text: 'after', client_id: 'after' });
  for (const c of [stay, warm, cold]) await c.next((m) => m.type === 'message' && m.message === 'after', 10000, 'after');
  stay.close(); warm.close(); cold.close();
  await w.stop(); await b.stop();
});

// What a connection keeps lives in slabs (common/slab.c: lws's state, the session, the
// membership, their strings): /healthz's memory counts them, and they are given back when the
// connections close. With MADANG_SLAB=off (the sanitizer suite) there is no range and no item.
test('/healthz memory: what connections keep is counted while they stay and given back when they close', T, async () => {
  const b = await startBroker({ name: 'broker-mem', args: ['--allow-create'] });
  const w = await startWs(b, { id: 'ws-mem' });
  const N = 40;
  const before = (await health(w.url)).memory;
  assert.deepEqual(Object.keys(before), ['slab_bytes', 'slab_items', 'slab_range']);
  const cs = [];
  for (let i = 0; i < N; i++) cs.push(await joinPath(w.url, `mem${i % 4}`, nick('m')));
  const held = (await health(w.url)).memory;
  for (const c of cs) c.close();
  await waitFor(async () => (await health(w.url)).sessions === 0, 10000, 'the sessions to close');
  const after = (await health(w.url)).memory;
  if (before.slab_range === 0) {
    assert.equal(process.env.MADANG_SLAB, 'off', 'no slab range without MADANG_SLAB=off');
    assert.deepEqual([held.slab_items, after.slab_items], [0, 0]);
  } else {
    // Per connection at least lws's four pieces, the session and the membership.
    assert.ok(held.slab_items >= before.slab_items + N * 6, `${held.slab_items} items held`);
    assert.ok(held.slab_bytes >= held.slab_items * 16);
    // Closed: all of that goes; what stays is each room's kept frames (a leave event each).
    assert.ok(after.slab_items <= held.slab_items - N * 5, `${after.slab_items} items after the close`);
  }
  await w.stop(); await b.stop();
});
