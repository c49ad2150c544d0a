// uws-server.mjs — the second comparison baseline for `make bench`: the same small chat server as
// ws-server.mjs (the same endpoint, events and per-room seq, DESIGN.md §3), on uWebSockets.js and
// its native pub/sub: each room is a uWS topic, and an event is serialised once in JavaScript and
// handed to uWS, which writes it to every subscriber from C++. That is the fastest way a chat
// server can be written in Node, so it is the yardstick for madang's fan-out latency (issue 22).
// uWS's `maxBackpressure` is raised to 16 MiB so that a burst is queued, not dropped: the load
// generator counts every missing delivery as lost, as it does for madang.
//
// The binary comes from the npm package `uwebsockets` (bench/package.json, installed into
// bench/node_modules by `make bench`): a republication of upstream's prebuilt uWS.js binaries
// that loads on Debian 12's glibc. Where it does not load, this prints "unavailable: <why>" and
// exits 3, and bench/run.sh skips the uWS column with that line.
//
// Usage: node bench/reference/uws-server.mjs [--host 127.0.0.1] [--port 0]
// Prints "listening HOST:PORT" on stdout once it accepts connections; SIGTERM closes it.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modPath = process.env.MADANG_UWS_MODULE || path.join(here, '../node_modules/uwebsockets');
let uWS;
try {
  uWS = createRequire(import.meta.url)(modPath);
} catch (e) {
  process.stdout.write(`unavailable: ${String(e.message).split('\n').pop()}\n`);
  process.exit(3);
}

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const host = arg('--host', '127.0.0.1');
const port = Number(arg('--port', '0'));
const HISTORY = 50;
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

const rooms = new Map(); // id -> { seq, count, users: Map<session, user>, history: [] }
const sockets = new Set();
let nextSession = 1;
let listenSocket = null;

function roomOf(id) {
  let r = rooms.get(id);
  if (!r) {
    r = { seq: 0, users: new Map(), history: [] };
    rooms.set(id, r);
  }
  return r;
}

// Serialises the event once; uWS writes it to every subscriber of the room's topic.
function publish(roomId, room, ev) {
  ev.room_id = roomId;
  ev.seq = ++room.seq;
  ev.time = new Date().toISOString();
  const data = JSON.stringify(ev);
  room.history.push(data);
  if (room.history.length > HISTORY) room.history.shift();
  app.publish(roomId, data, false, false);
}

const app = uWS.App();

app.ws('/ws/:room/:user', {
  compression: uWS.DISABLED,
  maxPayloadLength: 65536,
  maxBackpressure: 16 * 1024 * 1024,
  closeOnBackpressureLimit: false,
  idleTimeout: 0,
  upgrade: (res, req, context) => {
    const roomId = req.getParameter(0);
    let user = req.getParameter(1);
    try {
      user = decodeURIComponent(user);
    } catch {
      user = '';
    }
    if (!NAME_RE.test(roomId) || !NAME_RE.test(user)) {
      res.writeStatus('404 Not Found').end();
      return;
    }
    res.upgrade({ roomId, user, session: nextSession++ }, req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open: (ws) => {
    const d = ws.getUserData();
    const room = roomOf(d.roomId);
    sockets.add(ws);
    ws.send(JSON.stringify({ type: 'welcome', session: d.session, user: d.user }));
    room.users.set(d.session, d.user);
    ws.send(JSON.stringify({
      type: 'joined', room_id: d.roomId, name: d.roomId, users: [...room.users.values()],
      users_count: room.users.size, seq: room.seq, epoch: 'reference', recovered: false,
    }));
    for (const h of room.history) ws.send(h);
    ws.subscribe(d.roomId);
    publish(d.roomId, room, { type: 'join', user: d.user, sender: 'system',
      message: `${d.user} joined`, users_count: room.users.size });
  },
  message: (ws, message, isBinary) => {
    if (isBinary) return;
    const d = ws.getUserData();
    const room = roomOf(d.roomId);
    const text = Buffer.from(message).toString();
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
        publish(d.roomId, room, { type: 'message', sender: d.user, message: cmd.text,
          client_id: cmd.client_id });
      else ws.send(JSON.stringify({ type: 'error', code: 'unsupported', message: 'not supported here' }));
      return;
    }
    publish(d.roomId, room, { type: 'message', sender: d.user, message: text });
  },
  close: (ws) => {
    // The socket is gone here: only its user data may be read, and it is already unsubscribed.
    const d = ws.getUserData();
    sockets.delete(ws);
    const room = rooms.get(d.roomId);
    if (!room) return;
    room.users.delete(d.session);
    if (room.users.size === 0) {
      rooms.delete(d.roomId);
      return;
    }
    publish(d.roomId, room, { type: 'leave', user: d.user, sender: 'system',
      message: `${d.user} left`, users_count: room.users.size });
  },
});

app.any('/*', (res) => {
  res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json')
    .end('{"error":"not_found","message":"WebSocket endpoint is /ws/{room_id}/{username}"}');
});

app.listen(host, port, (token) => {
  if (!token) {
    process.stdout.write(`unavailable: cannot listen on ${host}:${port}\n`);
    process.exit(3);
  }
  listenSocket = token;
  process.stdout.write(`listening ${host}:${uWS.us_socket_local_port(token)}\n`);
});

// Close frames to every client, then exit: by itself once everything is closed, or after 500 ms
// whatever is still open (a client that never answers must not keep the process alive).
function shutdown() {
  if (listenSocket) uWS.us_listen_socket_close(listenSocket);
  listenSocket = null;
  for (const ws of [...sockets]) ws.end(1001, 'server shutting down');
  setTimeout(() => process.exit(0), 500);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
