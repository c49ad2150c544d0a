// ws-server.mjs — the comparison baseline for `make bench`: a small chat server on Node's `ws`
// package that speaks the endpoint and event shapes of madang's client protocol that the load
// generator needs (DESIGN.md §3): /ws/{room_id}/{username}; welcome, joined, history, join/leave,
// message events with a per-room seq; a text frame not starting with `{` is a chat message, and so
// is {"type":"message","text":…}; {"type":"ping"} gets {"type":"pong"}. Rooms are created on first
// join and live in memory. No auth, no limits beyond a 64 KiB frame: it is a yardstick, not a product.
//
// Usage: node bench/reference/ws-server.mjs [--host 127.0.0.1] [--port 0]
// Prints "listening HOST:PORT" on stdout once it accepts connections; SIGTERM closes it.
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const wsPath = process.env.MADANG_WS_MODULE || path.join(here, '../../tests/node_modules/ws');
const { WebSocketServer } = createRequire(import.meta.url)(wsPath);

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const host = arg('--host', '127.0.0.1');
const port = Number(arg('--port', '0'));
const HISTORY = 50;
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

const rooms = new Map(); // id -> { seq, members: Set<ws>, history: [] }
let nextSession = 1;

const now = () => new Date().toISOString();

function roomOf(id) {
  let r = rooms.get(id);
  if (!r) {
    r = { seq: 0, members: new Set(), history: [] };
    rooms.set(id, r);
  }
  return r;
}

// Serialises the event once and writes it to every member.
function publish(roomId, room, ev) {
  ev.room_id = roomId;
  ev.seq = ++room.seq;
  ev.time = now();
  const data = JSON.stringify(ev);
  room.history.push(data);
  if (room.history.length > HISTORY) room.history.shift();
  for (const m of room.members) if (m.readyState === 1) m.send(data);
}

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":"not_found","message":"WebSocket endpoint is /ws/{room_id}/{username}"}');
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 65536 });

server.on('upgrade', (req, socket, head) => {
  const parts = (req.url || '').split('?')[0].split('/');
  if (parts.length !== 4 || parts[1] !== 'ws' || !NAME_RE.test(parts[2]) || !NAME_RE.test(parts[3])) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, parts[2], decodeURIComponent(parts[3])));
});

function onConnection(ws, roomId, user) {
  const room = roomOf(roomId);
  ws.send(JSON.stringify({ type: 'welcome', session: nextSession++, user }));
  room.members.add(ws);
  const users = [];
  for (const m of room.members) users.push(m.user);
  ws.user = user;
  users.push(user);
  ws.send(JSON.stringify({
    type: 'joined', room_id: roomId, name: roomId, users, users_count: room.members.size,
    seq: room.seq, epoch: 'reference', recovered: false,
  }));
  for (const h of room.history) ws.send(h);
  publish(roomId, room, { type: 'join', user, sender: 'system', message: `${user} joined`,
    users_count: room.members.size });

  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const text = data.toString();
    if (text.trimStart().startsWith('{')) {
      let cmd;
      try {
        cmd = JSON.parse(text);
      } catch {
        ws.send(JSON.stringify({ type: 'error', code: 'bad_json', message: 'invalid JSON' }));
        return;
      }
      if (cmd.type === 'ping') ws.send('{"type":"pong"}');
      else if (cmd.type === 'message' && typeof cmd.text === 'string')
        publish(roomId, room, { type: 'message', sender: user, message: cmd.text,
          client_id: cmd.client_id });
      else ws.send(JSON.stringify({ type: 'error', code: 'unsupported', message: 'not supported here' }));
      return;
    }
    publish(roomId, room, { type: 'message', sender: user, message: text });
  });
  ws.on('close', () => {
    room.members.delete(ws);
    publish(roomId, room, { type: 'leave', user, sender: 'system', message: `${user} left`,
      users_count: room.members.size });
    if (room.members.size === 0) rooms.delete(roomId);
  });
  ws.on('error', () => {});
}

server.listen(port, host, () => {
  const a = server.address();
  process.stdout.write(`listening ${a.address}:${a.port}\n`);
});
// Close frames to every client, then exit: by itself once everything is closed, or after 500 ms
// whatever is still open (a client that never answers must not keep the process alive).
function shutdown() {
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
