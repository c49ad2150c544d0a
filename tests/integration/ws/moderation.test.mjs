// moderation.test.mjs — moderation over WebSocket (issue 26, docs/moderation.md): two madang-ws
// with --jwt-secret-file (ws1, ws2) and one without (ws3, anonymous clients) on a broker of
// their own, rooms' owners and moderators set through build/tests/broker-rpc with an admin
// actor. The authorization matrix (admin, owner, moderator, member, anonymous) for every action,
// each effect seen from a client on the other madang-ws, kicked and banned path connections
// closed 4003, mutes and slow mode refusing messages, deleted messages as tombstones in later
// joiners' history on both front-ends, members deleting their own messages (and no one else's),
// and hostile commands.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, TESTBIN, WORK, jwtSecretFile, restartBroker, startBroker, startWs, stopAll } from '../../lib/stack.mjs';
import { closeAll, connect, nick } from '../../lib/wsclient.mjs';

const T = { timeout: 60000 };
const ROOMS = ['mx', 'kick', 'ban', 'mute', 'del', 'slow', 'hA', 'hB', 'hostile', 'own'];
const ADMIN = { name: 'root', admin: true };
let broker, ws1, ws2, ws3, secret;

before(async () => {
  const rooms = path.join(WORK, 'moderation-rooms.json');
  fs.writeFileSync(rooms, JSON.stringify({ rooms: ROOMS.map((id) => ({ id, name: id })) }));
  secret = jwtSecretFile('moderation.secret');
  // ipc:// endpoints: the broker restarts on them (the last test), and a freed TCP port may be
  // taken meanwhile by any other process's connection.
  broker = await startBroker({ rooms, name: 'mod-broker', rpc: `ipc://${WORK}/mod.rpc`,
    events: `ipc://${WORK}/mod.events`, args: (process.env.WS_BROKER_ARGS || '').split(' ').filter(Boolean) });
  const loop = (process.env.WS_LOOP_ARGS || '').split(' ').filter(Boolean);
  ws1 = await startWs(broker, { id: 'mod-ws1', jwtSecretFile: secret, args: loop });
  ws2 = await startWs(broker, { id: 'mod-ws2', jwtSecretFile: secret, args: loop });
  ws3 = await startWs(broker, { id: 'mod-ws3', args: loop });
});
after(async () => { closeAll(); await stopAll(); });

// One broker request (the tests' way to set what no client may set); the parsed reply.
function rpc(req) {
  return JSON.parse(execFileSync(`${TESTBIN}/broker-rpc`, [broker.rpc, JSON.stringify(req)]).toString());
}
function setRoom(room, fields) {
  const r = rpc({ op: 'set_room', room_id: room, actor: ADMIN, ...fields });
  assert.equal(r.ok, true, `set_room ${room}: ${JSON.stringify(r)}`);
  return r;
}

// People: a nickname, a subject and whether the token says admin.
function person(base, admin = false) {
  const name = nick(base);
  return { name, sub: `sub-${name}`, admin };
}
function token(p) {
  const args = ['--secret-file', secret, '--name', p.name, '--sub', p.sub];
  if (p.admin) args.push('--admin');
  return execFileSync(`${BIN}/madang-token`, args).toString().trim();
}

// p joins room on w through /ws/{room}/{user} (closed 4003 when removed); c.joined is set.
async function joinPath(w, room, p) {
  const c = await connect(w.url, `/ws/${room}/${encodeURIComponent(p.name)}?token=${token(p)}`);
  c.joined = await c.next((m) => m.type === 'joined' && m.room_id === room, 5000, `joined ${room}`);
  return c;
}
// p on /ws (any number of rooms), joined to room; anonymous (p.anon) on ws3 without a token.
async function joinMulti(w, room, p) {
  const q = p.anon ? '' : `?token=${token(p)}`;
  const c = await connect(w.url, `/ws${q}`);
  await c.nextType('welcome');
  c.send({ type: 'join_room', room_id: room, user: p.name });
  c.joined = await c.next((m) => m.type === 'joined' && m.room_id === room, 5000, `joined ${room}`);
  return c;
}

// Sends a command with a fresh client_id; resolves with its answer (done or error).
let cids = 0;
async function act(c, cmd) {
  const client_id = `mod-${++cids}`;
  c.send({ ...cmd, client_id });
  return c.next((m) => m.client_id === client_id && (m.type === 'done' || m.type === 'error'), 5000,
    `the answer to ${JSON.stringify(cmd)}`);
}
async function done(c, cmd) {
  const a = await act(c, cmd);
  assert.equal(a.type, 'done', `${JSON.stringify(cmd)} → ${JSON.stringify(a)}`);
  assert.equal(a.request, cmd.type);
  assert.equal(a.room_id, cmd.room_id);
  return a;
}
async function refusedWith(c, cmd, code) {
  const a = await act(c, cmd);
  assert.equal(a.type, 'error', `${JSON.stringify(cmd)} → ${JSON.stringify(a)}`);
  assert.equal(a.code, code, `${JSON.stringify(cmd)} → ${JSON.stringify(a)}`);
  assert.equal(a.request, cmd.type);
  return a;
}
// A message sent and seen back with its seq.
async function say(c, room, text) {
  const client_id = `say-${++cids}`;
  c.send({ type: 'message', room_id: room, text, client_id });
  const ack = await c.next((m) => (m.type === 'ack' && m.client_id === client_id) ||
    (m.type === 'error' && m.client_id === client_id), 5000, `ack of ${text}`);
  return ack;
}

test('joined carries the role of each, slow_mode_s, and the room\'s owner and moderators decide it', T, async () => {
  const owner = person('own'), mod = person('mod'), member = person('mem'), admin = person('adm', true);
  setRoom('mx', { owner: owner.sub, moderators: [mod.sub] });
  const roles = [];
  for (const [p, w] of [[admin, ws1], [owner, ws2], [mod, ws1], [member, ws2]]) {
    const c = await joinPath(w, 'mx', p);
    roles.push(c.joined.role);
    assert.equal(c.joined.slow_mode_s, 0);
    assert.equal(c.joined.muted_until, undefined);
    c.close();
  }
  assert.deepEqual(roles, ['admin', 'owner', 'moderator', 'member']);
  const anon = await joinMulti(ws3, 'mx', { name: nick('anon'), anon: true });
  assert.equal(anon.joined.role, 'member');
  anon.close();
});

// Every action by one actor (on ws1) against a victim on ws2, seen by an observer on ws2.
async function actions(room, actor, { mayBan }) {
  const observer = await joinPath(ws2, room, person('obs'));
  const a = await joinMulti(ws1, room, actor);

  // kick: done; the victim gets kicked and its path connection closes 4003; it may rejoin
  let victim = person('vic');
  let v = await joinPath(ws2, room, victim);
  await done(a, { type: 'kick', room_id: room, user: victim.name, reason: 'calm down' });
  const kicked = await v.nextType('kicked');
  assert.deepEqual({ ...kicked, type: undefined },
    { type: undefined, room_id: room, reason: 'kicked', by: actor.name, note: 'calm down', until: null });
  const closed = await v.waitClose();
  assert.equal(closed.code, 4003);
  assert.match(closed.reason, /^kicked/);
  const left = await observer.next((m) => m.type === 'leave' && m.user === victim.name, 5000, 'leave');
  assert.equal(left.reason, 'kicked');
  assert.equal(left.by, actor.name);
  assert.equal(left.note, 'calm down');
  v = await joinPath(ws2, room, victim); // may join again

  // mute: the victim's messages get muted with until; unmute lifts it
  await done(a, { type: 'mute', room_id: room, user: victim.name, duration_s: 600, reason: 'shh' });
  const muted = await v.nextType('muted');
  assert.deepEqual(Object.keys(muted).sort(), ['by', 'note', 'room_id', 'type', 'until']);
  assert.equal(muted.room_id, room);
  assert.equal(muted.by, actor.name);
  assert.equal(muted.note, 'shh');
  assert.ok(Date.parse(muted.until) > Date.now() + 500 * 1000, `until ${muted.until}`);
  const mr = await say(v, room, 'can you hear me');
  assert.equal(mr.type, 'error');
  assert.equal(mr.code, 'muted');
  assert.equal(mr.until, muted.until);
  v.send({ type: 'private', room_id: room, to: observer.joined.user, text: 'psst', client_id: 'pm-muted' });
  assert.equal((await v.next((m) => m.client_id === 'pm-muted')).code, 'muted');
  await done(a, { type: 'unmute', room_id: room, user: victim.name });
  const unmuted = await v.nextType('unmuted');
  assert.deepEqual(unmuted, { type: 'unmuted', room_id: room, until: null, by: actor.name, note: null });
  assert.equal((await say(v, room, 'back again')).type, 'ack');

  // delete_message: everyone on the other front-end gets message_deleted
  const sent = await say(v, room, 'delete me');
  await done(a, { type: 'delete_message', room_id: room, seq: sent.seq });
  const del = await observer.next((m) => m.type === 'message_deleted', 5000, 'message_deleted');
  assert.equal(del.deleted_seq, sent.seq);
  assert.equal(del.by, actor.name);

  // slow_mode: a room event; a second message within the interval gets slow_mode
  await done(a, { type: 'slow_mode', room_id: room, interval_s: 30 });
  const slow = await observer.next((m) => m.type === 'slow_mode', 5000, 'slow_mode event');
  assert.equal(slow.interval_s, 30);
  const speaker = await joinPath(ws2, room, person('spk')); // has not spoken yet
  assert.equal((await say(speaker, room, 'one')).type, 'ack');
  const sr = await say(speaker, room, 'two');
  assert.equal(sr.code, 'slow_mode');
  assert.ok(sr.retry_after_ms > 0 && sr.retry_after_ms <= 30000, `retry_after_ms ${sr.retry_after_ms}`);
  await done(a, { type: 'slow_mode', room_id: room, interval_s: 0 });
  assert.equal((await observer.next((m) => m.type === 'slow_mode', 5000, 'slow_mode off')).interval_s, 0);
  assert.equal((await say(speaker, room, 'three')).type, 'ack');
  speaker.close();

  // ban / unban: only where the role may ban
  if (!mayBan) {
    await refusedWith(a, { type: 'ban', room_id: room, user: victim.name }, 'forbidden');
    await refusedWith(a, { type: 'unban', room_id: room, user: victim.name }, 'forbidden');
  } else {
    await done(a, { type: 'ban', room_id: room, user: victim.name, duration_s: 3600, reason: 'spam' });
    const k = await v.nextType('kicked');
    assert.equal(k.reason, 'banned');
    assert.equal(k.note, 'spam');
    assert.ok(Date.parse(k.until) > Date.now());
    const c1 = await v.waitClose();
    assert.equal(c1.code, 4003);
    assert.match(c1.reason, /^banned until /);
    assert.equal((await observer.next((m) => m.type === 'leave' && m.user === victim.name)).reason, 'banned');
    // a rejoin, under another nickname too (the ban holds the subject): banned, then 4003
    for (const again of [victim, { ...victim, name: nick('alias') }]) {
      const r = await connect(ws2.url, `/ws/${room}/${encodeURIComponent(again.name)}?token=${token(again)}`);
      const e = await r.next((m) => m.type === 'error', 5000, 'banned');
      assert.equal(e.code, 'banned');
      assert.equal(e.note, 'spam');
      assert.equal(e.until, k.until);
      assert.equal((await r.waitClose()).code, 4003);
    }
    await done(a, { type: 'unban', room_id: room, user: victim.name });
    v = await joinPath(ws2, room, victim);
  }
  v.close();
  a.close();
  observer.close();
}

test('the admin may do every action, seen from the other madang-ws', T, async () => {
  await actions('kick', person('adm', true), { mayBan: true });
});

test('the owner may do every action, seen from the other madang-ws', T, async () => {
  const owner = person('own');
  setRoom('ban', { owner: owner.sub });
  await actions('ban', owner, { mayBan: true });
});

test('a moderator may kick, mute, delete and set slow mode, and ban only when the owner allows it', T, async () => {
  const mod = person('mod');
  setRoom('mute', { owner: 'someone-else', moderators: [mod.sub] });
  await actions('mute', mod, { mayBan: false });
  setRoom('mute', { moderators_may_ban: true });
  const a = await joinMulti(ws1, 'mute', mod);
  const victim = person('vic');
  const v = await joinPath(ws2, 'mute', victim);
  await done(a, { type: 'ban', room_id: 'mute', user: victim.name });
  const k = await v.nextType('kicked');
  assert.equal(k.until, null); // no duration: until it is lifted
  assert.equal((await v.waitClose()).reason, 'banned');
  await done(a, { type: 'unban', room_id: 'mute', user: victim.name });
  a.close();
});

test('a plain member and an anonymous client are refused every action with forbidden', T, async () => {
  const owner = person('own');
  setRoom('slow', { owner: owner.sub });
  const member = await joinMulti(ws1, 'slow', person('mem'));
  const anon = await joinMulti(ws3, 'slow', { name: nick('anon'), anon: true });
  const victim = person('vic');
  const v = await joinPath(ws2, 'slow', victim);
  const sent = await say(v, 'slow', 'keep me');
  const cmds = [
    { type: 'kick', user: victim.name }, { type: 'ban', user: victim.name },
    { type: 'unban', user: victim.name }, { type: 'mute', user: victim.name, duration_s: 60 },
    { type: 'unmute', user: victim.name }, { type: 'delete_message', seq: sent.seq },
    { type: 'slow_mode', interval_s: 10 },
  ];
  for (const c of [member, anon])
    for (const cmd of cmds) await refusedWith(c, { ...cmd, room_id: 'slow' }, 'forbidden');
  // nothing happened: the victim is still there and may speak
  assert.equal((await say(v, 'slow', 'still here')).type, 'ack');
  assert.ok(!v.msgs.some((m) => ['kicked', 'muted', 'message_deleted', 'slow_mode'].includes(m.type)));
  member.close(); anon.close(); v.close();
});

test('a deleted message is a tombstone, with its reason, in the history of later joiners on both front-ends', T, async () => {
  const owner = person('own');
  setRoom('del', { owner: owner.sub });
  // Members on both front-ends keep the room (and its recent frames) held on each.
  const keep1 = await joinPath(ws1, 'del', person('k1'));
  const keep2 = await joinPath(ws2, 'del', person('k2'));
  const sender = await joinPath(ws1, 'del', person('snd'));
  const secretText = `secret-${process.pid}-text`;
  const before = await say(sender, 'del', 'before it');
  const sent = await say(sender, 'del', secretText);
  const after = await say(sender, 'del', 'after it');
  assert.equal(sent.type, 'ack');
  const o = await joinMulti(ws2, 'del', owner);
  await done(o, { type: 'delete_message', room_id: 'del', seq: sent.seq, reason: '광고 도배' });
  for (const k of [keep1, keep2]) {
    const d = await k.next((m) => m.type === 'message_deleted', 5000, 'message_deleted');
    assert.equal(d.deleted_seq, sent.seq);
  }
  for (const w of [ws1, ws2]) {
    const later = await joinPath(w, 'del', person('late'));
    const d = await later.next((m) => m.type === 'message_deleted', 5000, 'message_deleted in history');
    assert.equal(d.deleted_seq, sent.seq);
    const hist = later.msgs.filter((m) => m.type === 'message');
    const tomb = hist.find((m) => m.seq === sent.seq);
    assert.ok(tomb, `the tombstone of ${sent.seq} in ${JSON.stringify(hist)}`);
    assert.equal(tomb.message, '');
    assert.equal(tomb.deleted, true);
    assert.equal(tomb.client_id, undefined);
    assert.equal(tomb.sender, sender.joined.user);
    assert.equal(tomb.note, '광고 도배', 'the tombstone keeps the reason');
    assert.ok(hist.some((m) => m.seq === before.seq && m.message === 'before it'));
    assert.ok(hist.some((m) => m.seq === after.seq && m.message === 'after it'));
    assert.ok(!JSON.stringify(later.msgs).includes(secretText), `${w.opts.id} sent the deleted text`);
    later.close();
  }
  // a front-end that holds no frames of the room (ws3) gets the whole history from the broker
  const fresh = await joinMulti(ws3, 'del', { name: nick('anon'), anon: true });
  await fresh.next((m) => m.type === 'message_deleted', 5000, 'message_deleted from the broker');
  const fromBroker = fresh.msgs.find((m) => m.type === 'message' && m.seq === sent.seq);
  assert.equal(fromBroker.deleted, true);
  assert.equal(fromBroker.note, '광고 도배');
  assert.ok(!JSON.stringify(fresh.msgs).includes(secretText));
  fresh.close();
  // and the history command says the same
  keep1.send({ type: 'history', room_id: 'del', limit: 50 });
  const h = await keep1.nextType('history');
  assert.ok(!JSON.stringify(h).includes(secretText));
  keep1.close(); keep2.close(); sender.close(); o.close();
});

test('a member with a token deletes its own messages, under any nickname, and no one else\'s', T, async () => {
  const ann = person('ann'), ben = person('ben');
  const a = await joinPath(ws1, 'own', ann);
  const b = await joinPath(ws2, 'own', ben);
  const anon = await joinMulti(ws3, 'own', { name: nick('anon'), anon: true });
  const mine = await say(a, 'own', `mine-${process.pid}`);
  const more = await say(a, 'own', 'mine too');
  const his = await say(b, 'own', 'his');
  const anons = await say(anon, 'own', 'nobody\'s');
  await refusedWith(a, { type: 'delete_message', room_id: 'own', seq: his.seq }, 'forbidden');
  await refusedWith(b, { type: 'delete_message', room_id: 'own', seq: mine.seq }, 'forbidden');
  // without a token a nickname proves nothing: not even one's own message
  await refusedWith(anon, { type: 'delete_message', room_id: 'own', seq: anons.seq }, 'forbidden');
  await done(a, { type: 'delete_message', room_id: 'own', seq: mine.seq, reason: 'typo' });
  for (const c of [b, anon]) {
    const d = await c.next((m) => m.type === 'message_deleted' && m.deleted_seq === mine.seq, 5000, 'message_deleted');
    assert.equal(d.by, a.joined.user);
    assert.equal(d.note, 'typo');
  }
  await refusedWith(a, { type: 'delete_message', room_id: 'own', seq: mine.seq }, 'no_such_message');
  // the same subject under another nickname, on the other front-end: still its own
  const again = await joinPath(ws2, 'own', { ...ann, name: nick('ann2') });
  await done(again, { type: 'delete_message', room_id: 'own', seq: more.seq });
  const late = await joinMulti(ws3, 'own', { name: nick('late'), anon: true });
  await late.next((m) => m.type === 'message_deleted' && m.deleted_seq === more.seq, 5000, 'in history');
  const tombs = late.msgs.filter((m) => m.type === 'message' && m.deleted === true).map((m) => m.seq);
  assert.deepEqual(tombs, [mine.seq, more.seq]);
  assert.ok(!JSON.stringify(late.msgs).includes(`mine-${process.pid}`));
  for (const c of [a, b, anon, again, late]) c.close();
});

test('hostile: another room\'s moderator, no such seq, banning an admin, long reasons, wrong types', T, async () => {
  const mod = person('mod'), owner = person('own'), admin = person('adm', true);
  setRoom('hA', { moderators: [mod.sub] });
  setRoom('hB', { owner: owner.sub });
  const inA = await joinMulti(ws1, 'hA', mod);
  const target = person('tgt');
  const t = await joinPath(ws2, 'hB', target);
  // moderator of hA: not in hB → not_in_room; in hB as a plain member → forbidden
  await refusedWith(inA, { type: 'kick', room_id: 'hB', user: target.name }, 'not_in_room');
  inA.send({ type: 'join_room', room_id: 'hB' });
  await inA.next((m) => m.type === 'joined' && m.room_id === 'hB');
  await refusedWith(inA, { type: 'kick', room_id: 'hB', user: target.name }, 'forbidden');
  const theirs = await say(t, 'hB', 'not yours');
  await refusedWith(inA, { type: 'delete_message', room_id: 'hB', seq: theirs.seq }, 'forbidden');
  await refusedWith(inA, { type: 'slow_mode', room_id: 'hB', interval_s: 5 }, 'forbidden');

  const o = await joinMulti(ws1, 'hB', owner);
  const adm = await joinPath(ws2, 'hB', admin);
  await refusedWith(o, { type: 'delete_message', room_id: 'hB', seq: 999999 }, 'no_such_message');
  await refusedWith(o, { type: 'ban', room_id: 'hB', user: admin.name }, 'forbidden');
  await refusedWith(o, { type: 'mute', room_id: 'hB', user: admin.name, duration_s: 60 }, 'forbidden');
  await refusedWith(o, { type: 'kick', room_id: 'hB', user: admin.name }, 'forbidden');
  await refusedWith(o, { type: 'kick', room_id: 'hB', user: owner.name }, 'forbidden'); // themselves
  await refusedWith(o, { type: 'kick', room_id: 'hB', user: nick('nobody') }, 'no_such_user');
  await refusedWith(o, { type: 'unban', room_id: 'hB', user: target.name }, 'no_such_ban');
  const long = 'x'.repeat(257);
  await refusedWith(o, { type: 'kick', room_id: 'hB', user: target.name, reason: long }, 'invalid_argument');
  await refusedWith(o, { type: 'mute', room_id: 'hB', user: target.name, duration_s: 60, reason: '가'.repeat(86) }, 'invalid_argument');
  // A reason of two lines is refused by madang-ws in its own words, as the broker would refuse
  // it (one rule, valid_note): before, madang-ws passed it and the broker's refusal spoke of a note.
  const twoLines = await refusedWith(o, { type: 'kick', room_id: 'hB', user: target.name, reason: 'two\nlines' }, 'invalid_argument');
  assert.match(twoLines.message, /^reason must be one line/);
  for (const bad of [
    { type: 'kick', room_id: 'hB', user: 5 },
    { type: 'kick', room_id: 'hB' },
    { type: 'ban', room_id: 'hB', user: target.name, duration_s: '60' },
    { type: 'ban', room_id: 'hB', user: target.name, duration_s: 0 },
    { type: 'mute', room_id: 'hB', user: target.name },
    { type: 'mute', room_id: 'hB', user: target.name, duration_s: 365 * 86400 + 1 },
    { type: 'delete_message', room_id: 'hB', seq: 'one' },
    { type: 'delete_message', room_id: 'hB', seq: -3 },
    { type: 'slow_mode', room_id: 'hB', interval_s: 86401 },
    { type: 'slow_mode', room_id: 'hB', interval_s: null },
    { type: 'kick', room_id: ['hB'], user: target.name },
    { type: 'kick', room_id: 'hB', user: target.name, reason: { text: 'x' } },
  ]) await refusedWith(o, bad, 'invalid_argument');
  // the reason at its limit is fine, and reaches the victim whole
  await done(o, { type: 'kick', room_id: 'hB', user: target.name, reason: 'y'.repeat(256) });
  assert.equal((await t.nextType('kicked')).note, 'y'.repeat(256));
  // none of it hurt anybody: the admin is still in the room and everything answers
  assert.ok(!adm.msgs.some((m) => m.type === 'kicked' || m.type === 'muted'));
  assert.equal((await say(adm, 'hB', 'still fine')).type, 'ack');
  inA.close(); o.close(); adm.close();
});

test('moderation commands count against the rate limit', T, async () => {
  const owner = person('own');
  setRoom('hostile', { owner: owner.sub });
  const w = await startWs(broker, { id: 'mod-ws4', jwtSecretFile: secret, plain: true,
    args: ['--rate', '1', '--burst', '3', ...(process.env.WS_LOOP_ARGS || '').split(' ').filter(Boolean)] });
  const o = await joinMulti(w, 'hostile', owner);
  const codes = [];
  for (let i = 0; i < 6; i++) codes.push((await act(o, { type: 'slow_mode', room_id: 'hostile', interval_s: 0 })).code || 'done');
  assert.ok(codes.includes('rate_limited'), `codes ${codes}`);
  o.close();
  await w.stop();
});

test('a kick on /ws ends that room\'s membership only: the connection stays, in its other rooms', T, async () => {
  const owner = person('own');
  setRoom('hostile', { owner: owner.sub });
  const o = await joinMulti(ws2, 'hostile', owner);
  const victim = person('vic');
  const v = await joinMulti(ws1, 'hostile', victim);
  v.send({ type: 'join_room', room_id: 'mx' });
  await v.next((m) => m.type === 'joined' && m.room_id === 'mx');
  await done(o, { type: 'kick', room_id: 'hostile', user: victim.name, reason: 'out' });
  const k = await v.nextType('kicked');
  assert.equal(k.room_id, 'hostile');
  assert.equal((await say(v, 'mx', 'still in mx')).type, 'ack');
  const e = await say(v, 'hostile', 'and here?');
  assert.equal(e.code, 'not_in_room');
  v.send({ type: 'join_room', room_id: 'hostile' }); // a kick is no ban
  await v.next((m) => m.type === 'joined' && m.room_id === 'hostile');
  // banned: kicked again; a join on /ws is then only refused (banned), the connection stays
  await done(o, { type: 'ban', room_id: 'hostile', user: victim.name, duration_s: 60 });
  assert.equal((await v.nextType('kicked')).reason, 'banned');
  v.send({ type: 'join_room', room_id: 'hostile', client_id: 'rejoin' });
  const b = await v.next((m) => m.type === 'error' && m.request === 'join_room', 5000, 'banned');
  assert.equal(b.code, 'banned');
  assert.ok(Date.parse(b.until) > Date.now());
  assert.equal((await say(v, 'mx', 'still open')).type, 'ack');
  assert.equal(v.closeInfo, null);
  await done(o, { type: 'unban', room_id: 'hostile', user: victim.name });
  v.close(); o.close();
});

// A member made moderator while present is told at once (role), and may act without
// re-joining; a deletion's reason reaches everyone as note.
test('a role change reaches the member at once; a deletion carries its reason', T, async () => {
  const owner = person('own'), mel = person('mel'), other = person('oth');
  setRoom('del', { owner: owner.sub, moderators: [] });
  const m = await joinMulti(ws1, 'del', mel);
  const o = await joinPath(ws2, 'del', other);
  assert.equal(m.joined.role, 'member');
  setRoom('del', { moderators: [mel.sub] });
  const r = await m.nextType('role');
  assert.deepEqual(r, { type: 'role', room_id: 'del', role: 'moderator' });
  const ack = await say(o, 'del', 'to be removed');
  await done(m, { type: 'delete_message', room_id: 'del', seq: ack.seq, reason: 'off topic' });
  const ev = await o.next((e) => e.type === 'message_deleted' && e.deleted_seq === ack.seq, 5000, 'message_deleted');
  assert.equal(ev.note, 'off topic');
  assert.equal(ev.by, mel.name);
  await refusedWith(m, { type: 'delete_message', room_id: 'del', seq: ack.seq, reason: 'x'.repeat(257) }, 'invalid_argument');
  setRoom('del', { moderators: [] });
  assert.equal((await m.nextType('role')).role, 'member');
  await refusedWith(m, { type: 'slow_mode', room_id: 'del', interval_s: 5 }, 'forbidden');
  m.close(); o.close();
});

// The 4003 close names who kicked; a Korean nickname of 20 characters makes "kicked by …" longer
// than a close reason may be: it is cut between characters, never inside one (an invalid UTF-8
// reason makes the client fail the connection with 1007 instead of seeing 4003).
test('a kick by a long Korean nickname closes 4003 with a reason cut between characters', T, async () => {
  const owner = { name: `가나다라마바사아자차카타파하거너더러머버${process.pid % 1000}`, sub: `sub-long-${process.pid}`, admin: false };
  const victim = person('vic');
  setRoom('kick', { owner: owner.sub });
  const o = await joinMulti(ws1, 'kick', owner);
  const v = await joinPath(ws2, 'kick', victim);
  await done(o, { type: 'kick', room_id: 'kick', user: victim.name });
  const closed = await v.waitClose();
  assert.equal(closed.code, 4003);
  const reason = String(closed.reason);
  assert.ok(reason.startsWith('kicked by 가나다'), reason);
  assert.ok(Buffer.byteLength(reason) <= 63 && !reason.includes('\uFFFD'), reason);
  o.close();
});

// Last: it restarts the broker. The members' joins after the restart carry their tokens'
// subjects and admin flags again, so an admin is still an admin.
test('after a broker restart the re-joined members keep their token\'s role', T, async () => {
  const admin = person('adm', true), victim = person('vic');
  const a = await joinMulti(ws1, 'mx', admin);
  const v = await joinPath(ws2, 'mx', victim);
  await broker.kill9();
  broker = await restartBroker(broker);
  const again = await a.next((m) => m.type === 'joined' && m.room_id === 'mx', 15000, 'joined after the restart');
  assert.equal(again.role, 'admin');
  await v.next((m) => m.type === 'joined' && m.room_id === 'mx', 15000, 'the victim re-joined');
  await done(a, { type: 'kick', room_id: 'mx', user: victim.name });
  assert.equal((await v.nextType('kicked')).by, admin.name);
  assert.equal((await v.waitClose()).code, 4003);
  a.close();
});
