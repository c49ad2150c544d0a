// chat-check.mjs BASE — exits 0 when two fresh clients on BASE (ws://host:port) chat: A's
// message (with a client_id) is acknowledged to A and delivered to B within 5 s.
import WebSocket from 'ws';

const base = process.argv[2];
const tag = `c${process.pid}`;
const fail = (why) => { console.error(`chat-check: ${why}`); process.exit(1); };
setTimeout(() => fail('timeout'), 8000).unref();
const join = (u) => new Promise((resolve, reject) => {
  const ws = new WebSocket(`${base}/ws/room2/${u}`);
  const msgs = [];
  ws.on('message', (d) => { const m = JSON.parse(d.toString()); msgs.push(m); if (m.type === 'joined') resolve({ ws, msgs }); });
  ws.on('error', reject);
  ws.on('close', (code) => reject(new Error(`closed ${code}`)));
});
const a = await join(`${tag}a`).catch((e) => fail(e.message));
const b = await join(`${tag}b`).catch((e) => fail(e.message));
a.ws.send(JSON.stringify({ type: 'message', text: 'hello from chat-check', client_id: tag }));
const until = (c, pred) => new Promise((resolve) => {
  const t = setInterval(() => { if (c.msgs.some(pred)) { clearInterval(t); resolve(); } }, 20);
});
await until(b, (m) => m.type === 'message' && m.message === 'hello from chat-check');
await until(a, (m) => m.type === 'ack' && m.client_id === tag);
process.exit(0);
