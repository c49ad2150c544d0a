// delivery.mjs — the check shared by the failover tests: what each member received of a room's
// messages, against what the senders had acknowledged.
import assert from 'node:assert/strict';

// members: clients (msgs, welcome) in room; senders: {room, acks: Map client_id → {seq}}. Each
// member's seqs rise strictly, it got each acknowledged client_id of the room exactly once with
// its acknowledged seq, and no message that was not acknowledged.
export function checkDelivery(members, senders, room) {
  const acked = new Map();
  for (const s of senders.filter((x) => x.room === room)) for (const [id, a] of s.acks) acked.set(id, a.seq);
  for (const m of members) {
    const got = m.msgs.filter((x) => x.type === 'message' && x.room_id === room);
    const byId = new Map();
    for (const x of got) byId.set(x.client_id, (byId.get(x.client_id) || 0) + 1);
    for (let i = 1; i < got.length; i++)
      assert.ok(got[i].seq > got[i - 1].seq, `${m.welcome.user} in ${room}: seq ${got[i].seq} after ${got[i - 1].seq}`);
    for (const [id, seq] of acked) {
      assert.equal(byId.get(id), 1, `${m.welcome.user} got ${id} (seq ${seq}) ${byId.get(id) || 0} times`);
      assert.equal(got.find((x) => x.client_id === id).seq, seq);
    }
    assert.equal(byId.size, acked.size, `${m.welcome.user} in ${room}: ${byId.size} distinct messages, ${acked.size} acknowledged`);
  }
}
