// chat-check.mjs BASE — exits 0 when two fresh clients on BASE (ws://host:port) chat: A's
// message (with a client_id) is acknowledged to A and delivered to B within 5 s.
import { closeAll, joinPath } from '../lib/wsclient.mjs';

const base = process.argv[2];
const tag = `c${process.pid}`;
const fail = (why) => { console.error(`chat-check: ${why}`); process.exit(1); };
setTimeout(() => fail('timeout'), 8000).unref();
try {
  const a = await joinPath(base, 'room2', `${tag}a`);
  const b = await joinPath(base, 'room2', `${tag}b`);
  a.send({ type: 'message', text: 'hello from chat-check', client_id: tag });
  await b.next((m) => m.type === 'message' && m.message === 'hello from chat-check', 5000, 'the message');
  await a.next((m) => m.type === 'ack' && m.client_id === tag, 5000, 'the ack');
} catch (e) {
  fail(e.message);
}
closeAll();
process.exit(0);
