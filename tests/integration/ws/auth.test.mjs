// auth.test.mjs — madang-ws with --jwt-secret-file (MADANG_WS3_URL): the nickname comes from the
// HS256 token, and every bad token is refused with close 4001. Tokens are minted by
// build/bin/madang-token, and forged here with node's crypto for the cases it will not make.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, closeAll, nick, sleep } from '../../lib/wsclient.mjs';

const WS3 = process.env.MADANG_WS3_URL;
const secret = readFileSync(process.env.MADANG_JWT_SECRET_FILE, 'utf8').trim();
after(closeAll);

const mint = (name, extra = []) =>
  execFileSync(process.env.MADANG_TOKEN_BIN,
    ['--secret-file', process.env.MADANG_JWT_SECRET_FILE, '--name', name, ...extra]).toString().trim();

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
function forge(header, payload, key = secret) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
const now = () => Math.floor(Date.now() / 1000);

async function refused(path) {
  const c = await connect(WS3, path);
  const info = await Promise.race([c.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('not closed')), 5000))]);
  assert.equal(info.code, 4001, `close code for ${path}: ${info.code} ${info.reason}`);
  return info;
}

test('a valid token joins under its own nickname', async () => {
  const who = nick('tok');
  const c = await connect(WS3, `/ws/room1/${who}?token=${mint(who)}`);
  const joined = await c.next((m) => m.type === 'joined', 5000, 'joined');
  assert.equal(joined.room_id, 'room1');
  assert.ok(joined.users.includes(who));
});

test('no token, a token for someone else, or a forged token: close 4001', async () => {
  const who = nick('tok');
  await refused(`/ws/room1/${who}`);
  await refused(`/ws/room1/${who}?token=${mint(nick('other'))}`);
  await refused(`/ws/room1/${who}?token=${forge({ alg: 'HS256' }, { name: who, exp: now() + 60 }, 'not the secret at all, really not')}`);
  const good = mint(who);
  const tampered = good.slice(0, -3) + (good.endsWith('AAA') ? 'BBB' : 'AAA');
  await refused(`/ws/room1/${who}?token=${tampered}`);
  await refused(`/ws/room1/${who}?token=garbage`);
});

test('expired, not-yet-valid and alg-confused tokens: close 4001', async () => {
  const who = nick('tok');
  await refused(`/ws/room1/${who}?token=${forge({ alg: 'HS256' }, { name: who, exp: now() - 3600 })}`);
  await refused(`/ws/room1/${who}?token=${forge({ alg: 'HS256' }, { name: who, exp: now() + 7200, nbf: now() + 3600 })}`);
  await refused(`/ws/room1/${who}?token=${forge({ alg: 'HS256' }, { name: who })}`); // no exp
  const none = `${b64({ alg: 'none' })}.${b64({ name: who, exp: now() + 60 })}.`;
  await refused(`/ws/room1/${who}?token=${none}`);
  await refused(`/ws/room1/${who}?token=${forge({ alg: 'HS512' }, { name: who, exp: now() + 60 })}`);
});

test('on /ws the token decides the nickname of join_room', async () => {
  const who = nick('tok');
  const c = await connect(WS3, `/ws?token=${forge({ alg: 'HS256', typ: 'JWT' }, { sub: who, exp: now() + 60 })}`);
  c.send({ type: 'join_room', room_id: 'room2', user: nick('imposter') });
  const err = await c.next((m) => m.type === 'error', 5000, 'error');
  assert.equal(err.code, 'unauthorized');
  c.send({ type: 'join_room', room_id: 'room2' });
  const joined = await c.next((m) => m.type === 'joined', 5000, 'joined');
  assert.ok(joined.users.includes(who));
});

test('an open session is closed with 4001 "token expired" when its token expires', { timeout: 20000 }, async () => {
  const who = nick('tok');
  // jwt_verify allows 30 s of clock skew (JWT_LEEWAY_S): a token whose exp passed 27 s ago is
  // still accepted, and has 3 s left.
  const c = await connect(WS3, `/ws/room1/${who}?token=${forge({ alg: 'HS256' }, { name: who, exp: now() - 27 })}`);
  const joined = await c.next((m) => m.type === 'joined', 5000, 'joined');
  assert.ok(joined.users.includes(who));
  const t0 = Date.now();
  const info = await c.waitClose(10000);
  assert.equal(info.code, 4001);
  assert.equal(info.reason, 'token expired');
  assert.ok(Date.now() - t0 >= 1000, `closed after ${Date.now() - t0} ms, before the token expired`);
  // A long-lived token keeps its session.
  const other = nick('tok');
  const d = await connect(WS3, `/ws/room1/${other}?token=${mint(other)}`);
  await d.next((m) => m.type === 'joined', 5000, 'joined');
  await sleep(1500);
  assert.equal(d.closeInfo, null);
  d.close();
});

test('/ws/chat/{room_id} with a token: the token names the member, no token is refused', async () => {
  const who = nick('tok');
  const c = await connect(WS3, `/ws/chat/room2?token=${mint(who)}`);
  const joined = await c.next((m) => m.type === 'joined', 5000, 'joined');
  assert.equal(joined.user, who);
  c.close();
  await refused('/ws/chat/room2');
});
