// tally.test.mjs — the counting of tests/lib/chatclient.mjs checked on made-up events (no daemons): a loss, a
// payload delivered under two seqs, a payload out of order and a replayed event are each seen,
// so that "lost 0, duplicated 0" in the fault scenarios means something.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, closeAllClients, tally } from '../lib/chatclient.mjs';

after(closeAllClients);

function fake(user) {
  const c = new ChatClient('ws://127.0.0.1:1', 'room1', user);
  c.epoch = 'e1';
  c.joins.push({ epoch: 'e1', seq: 1 });
  return c;
}
const msg = (seq, sender, n) => ({ type: 'message', room_id: 'room1', epoch: 'e1', seq, sender, message: `P ${sender} ${n}` });

test('tally counts lost, duplicated, out-of-order and replayed events', () => {
  const a = fake('a'), b = fake('b');
  for (let n = 1; n <= 4; n++) a.acked.set(n, { seq: n + 1, epoch: 'e1' });
  // a receives its own 1..4 in order; b misses 2, gets 4 before 3, gets 1 twice under two seqs,
  // and sees seq 2 replayed.
  for (let n = 1; n <= 4; n++) a.onEvent(msg(n + 1, 'a', n));
  b.onEvent(msg(2, 'a', 1));
  b.onEvent(msg(2, 'a', 1));
  b.onEvent(msg(5, 'a', 4));
  b.onEvent(msg(4, 'a', 3));
  b.onEvent(msg(6, 'a', 1));
  const t = tally([a, b]);
  assert.equal(t.acked, 4);
  assert.equal(t.lost, 1);
  assert.deepEqual(t.lostSamples, ['b missed a 2']);
  assert.equal(t.duplicated, 1);
  assert.equal(t.outOfOrder, 2); // 3 after 4, and 1 again after 4
  assert.equal(t.seqBackwards, 1); // seq 4 delivered after seq 5
  assert.equal(t.replays, 1);
});

test('payloads acknowledged before a receiver joined are not counted against it', () => {
  const a = fake('a'), late = fake('late');
  late.joins[0] = { epoch: 'e1', seq: 10 };
  a.acked.set(1, { seq: 3, epoch: 'e1' });
  a.acked.set(2, { seq: 11, epoch: 'e1' });
  a.onEvent(msg(3, 'a', 1));
  a.onEvent(msg(11, 'a', 2));
  late.onEvent(msg(11, 'a', 2));
  assert.equal(tally([a, late]).lost, 0);
});
