// clients.test.mjs — the clients of the original design documents (/shared/seeds, issue 23), run
// as their documents wrote them, against a real madang-broker and madang-ws. Each client's
// connection logic is kept line for line; only React is taken away: setState becomes a push onto
// a list, JSX becomes a function that returns what the component would show, and the browser's
// WebSocket is the `ws` package with the Origin a browser on the page's own host would send.
// Each test asserts what that document's UI shows.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import NodeWebSocket from 'ws';
import { startBroker, startWs, stopAll, sleep, waitFor, WORK, BIN } from '../lib/stack.mjs';

// Every socket and hook a test opened, ended in after() even when the test failed, so that no
// reconnect timer keeps node --test from exiting.
const sockets = new Set();
const hooks = new Set();

// A browser's WebSocket on a page served from `host`: the handshake carries that Origin.
function browserWebSocket(host) {
  return class extends NodeWebSocket {
    constructor(url) {
      super(url, { origin: `http://${host}` });
      sockets.add(this);
    }
  };
}

let broker, ws, wsAuth, secretFile;
before(async () => {
  const rooms = path.join(WORK, 'seed-rooms.json');
  fs.writeFileSync(rooms, JSON.stringify({ rooms: [
    { id: 'room1', name: '일반 대화' }, { id: 'room2', name: '기술 토론' },
    { id: 'lounge', name: '라운지' }, { id: 'focus', name: 'FocusMate' }] }));
  broker = await startBroker({ args: ['--rooms', rooms] });
  ws = await startWs(broker, { id: 'ws-seed' });
  secretFile = path.join(WORK, 'seed-jwt.secret');
  fs.writeFileSync(secretFile, 'a seed secret that is long enough to be accepted here', { mode: 0o600 });
  wsAuth = await startWs(broker, { id: 'ws-seed-auth', args: ['--jwt-secret-file', secretFile] });
});
after(async () => {
  for (const h of hooks) h.unmount();
  for (const s of sockets) s.terminate();
  await stopAll();
});

// ---------------------------------------------------------------------------------------------
// Document 000: the FastAPI + React chat. ChatRoom's useEffect, as written.
function chatRoom000(WebSocket, window, { roomId, username }) {
  const state = { messages: [], webSocket: null, log: [] };
  const setMessages = (f) => { state.messages = f(state.messages); };
  const console = { log: (s) => state.log.push(s) };

  const host = window.location.host;
  const protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(`${protocol}//${host}/ws/${roomId}/${username}`);

  socket.onopen = () => {
    console.log("WebSocket connected");
  };

  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    setMessages(msgs => [...msgs, data]);
  };

  socket.onclose = () => {
    console.log("WebSocket disconnected");
  };

  state.webSocket = socket;
  // The form's onSubmit.
  state.submit = (messageInput) => {
    if (messageInput.trim() && state.webSocket) {
      state.webSocket.send(messageInput);
    }
  };
  // The effect's cleanup (leaving the room).
  state.unmount = () => socket.close();
  // The JSX: each item's className, its sender line (none for 시스템) and its text.
  state.render = () => state.messages.map((msg) => {
    const messageClass =
      msg.sender === "시스템"
        ? "message system"
        : msg.sender === username
          ? "message sent"
          : "message received";
    const sender = msg.sender !== "시스템" ? (msg.sender ?? '') : null;
    return `${messageClass}|${sender === null ? '' : sender}|${msg.message ?? ''}`;
  });
  return state;
}

test('000: the ChatRoom client sees Korean notices from 시스템, its own and others\' messages', async () => {
  const host = `127.0.0.1:${ws.port}`;
  const window = { location: { host, protocol: 'http:' } };
  const WebSocket = browserWebSocket(host);
  const minsu = chatRoom000(WebSocket, window, { roomId: 'room1', username: '민수' });
  await waitFor(() => minsu.render().some((l) => l.endsWith('민수님이 입장했습니다.')), 5000, "민수's join notice");
  const jiwoo = chatRoom000(WebSocket, window, { roomId: 'room1', username: '지우' });
  await waitFor(() => minsu.render().some((l) => l.endsWith('지우님이 입장했습니다.')), 5000, "지우's join notice");
  jiwoo.submit('안녕하세요');
  minsu.submit('   '); // the form refuses blank input, as written
  await waitFor(() => jiwoo.render().includes('message sent|지우|안녕하세요'), 5000, "지우's own message");
  jiwoo.unmount();
  await waitFor(() => minsu.render().some((l) => l.endsWith('지우님이 퇴장했습니다.')), 5000, "지우's leave notice");

  // What 민수's screen shows, item by item. madang's own frames (welcome, joined) carry no
  // `sender`/`message` and render as empty items, which this client shows as empty bubbles.
  const shown = minsu.render().filter((l) => l !== 'message received||');
  assert.deepEqual(shown, [
    'message system||민수님이 입장했습니다.',
    'message system||지우님이 입장했습니다.',
    'message received|지우|안녕하세요',
    'message system||지우님이 퇴장했습니다.',
  ]);
  assert.equal(minsu.render().length - shown.length, 2, 'only welcome and joined render empty');
  assert.deepEqual(minsu.messages.filter((m) => !('message' in m)).map((m) => m.type), ['welcome', 'joined']);
  assert.ok(minsu.messages.filter((m) => 'message' in m).every((m) => m.room_id === 'room1'),
    'every chat item carries room_id, as the original broadcast did');
  minsu.unmount();
});

test('000: text sent the moment the socket opens is delivered, in order (nothing before joined is lost)', async () => {
  const host = `127.0.0.1:${ws.port}`;
  const WebSocket = browserWebSocket(host);
  const reader = chatRoom000(WebSocket, { location: { host, protocol: 'http:' } }, { roomId: 'room2', username: '읽는이' });
  await waitFor(() => reader.render().some((l) => l.endsWith('읽는이님이 입장했습니다.')), 5000, 'reader joined');
  const eager = [];
  for (let i = 0; i < 5; i++) {
    const s = new WebSocket(`ws://${host}/ws/room2/${encodeURIComponent(`급한${i}`)}`);
    s.onopen = () => { s.send(`첫 ${i}-a`); s.send(`첫 ${i}-b`); };
    eager.push(s);
  }
  const want = [];
  for (let i = 0; i < 5; i++) want.push(`message received|급한${i}|첫 ${i}-a`, `message received|급한${i}|첫 ${i}-b`);
  await waitFor(() => want.every((w) => reader.render().includes(w)), 8000, 'every first message');
  for (let i = 0; i < 5; i++) {
    const mine = reader.render().filter((l) => l.startsWith(`message received|급한${i}|`));
    assert.deepEqual(mine, [`message received|급한${i}|첫 ${i}-a`, `message received|급한${i}|첫 ${i}-b`]);
  }
  eager.forEach((s) => s.close());
  reader.unmount();
});

// ---------------------------------------------------------------------------------------------
// Document 001: the reconnecting hook useChatWebSocket(roomId), as written; the URL's host is the
// deployment's (the document hard-codes localhost:8000).
function useChatWebSocket001(WebSocket, wsHost, roomId) {
  const hook = { messages: [], status: 'disconnected', opens: 0, unmounted: false };
  hooks.add(hook);
  const setMessages = (f) => { hook.messages = f(hook.messages); };
  const setStatus = (s) => { hook.status = s; };
  const socketRef = { current: null };
  const console = { log: () => {}, error: () => {}, warn: (s) => { hook.warned = s; } };

  const wsUrl = `ws://${wsHost}/ws/chat/${roomId}`;
  const connect = () => {
    if (hook.unmounted) return; // React would have torn the component down
    const ws = new WebSocket(wsUrl);
    ws.onopen = () => {
      setStatus('connected');
      hook.opens += 1;
      console.log('WebSocket 연결 성공');
    };
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      setMessages(prev => [...prev, data]);
    };
    ws.onclose = () => {
      setStatus('disconnected');
      console.log('WebSocket 연결 종료');
      // 재연결 로직
      hook.timer = setTimeout(connect, 3000);
    };
    ws.onerror = (error) => {
      console.error('WebSocket 오류:', error);
      ws.close();
    };
    socketRef.current = ws;
  };
  connect();
  hook.unmount = () => {
    hook.unmounted = true;
    clearTimeout(hook.timer);
    if (socketRef.current) socketRef.current.close();
  };
  hook.sendMessage = (text) => {
    if (socketRef.current?.readyState === WebSocket.OPEN) {
      const payload = JSON.stringify({ text });
      socketRef.current.send(payload);
    } else {
      console.warn('연결이 열려있지 않습니다.');
    }
  };
  // ChatRoom's JSX: the status bar and one line per message.
  hook.statusBar = () => `연결 상태: ${hook.status === 'connected' ? '✅ 연결됨' : '❌ 연결 끊김'}`;
  hook.lines = () => hook.messages.map((msg) => `${msg.sender}:${msg.message}`);
  return hook;
}

test('001: the hook joins /ws/chat/{room} anonymously, sends {text}, and reconnects after a madang-ws restart', async () => {
  const host = `127.0.0.1:${ws.port}`;
  const WebSocket = browserWebSocket(host);
  const a = useChatWebSocket001(WebSocket, host, 'lounge');
  const b = useChatWebSocket001(WebSocket, host, 'lounge');
  await waitFor(() => a.status === 'connected' && b.status === 'connected', 5000, 'both connected');
  assert.equal(a.statusBar(), '연결 상태: ✅ 연결됨');
  const nameOf = async (h) => (await waitFor(() => h.messages.find((m) => m.type === 'joined'), 5000, 'joined')).user;
  const an = await nameOf(a);
  const bn = await nameOf(b);
  assert.match(an, /^guest-[0-9a-z]+$/);
  assert.match(bn, /^guest-[0-9a-z]+$/);
  assert.notEqual(an, bn, 'generated nicknames are unique in the room');
  await waitFor(() => a.lines().includes(`시스템:${bn}님이 입장했습니다.`), 5000, "b's join notice at a");

  a.sendMessage('안녕, 익명으로');
  await waitFor(() => b.lines().includes(`${an}:안녕, 익명으로`), 5000, "a's {text} message at b");
  assert.ok(!b.messages.some((m) => m.type === 'error'), `no error: ${JSON.stringify(b.messages.filter((m) => m.type === 'error'))}`);
  assert.ok(!a.messages.some((m) => m.type === 'error'), `no error: ${JSON.stringify(a.messages.filter((m) => m.type === 'error'))}`);

  // madang-ws restarts (same port): both hooks show 연결 끊김, come back by themselves after
  // their 3 s, and chat again.
  await ws.stop();
  await waitFor(() => a.status === 'disconnected' && b.status === 'disconnected', 5000, 'both disconnected');
  assert.equal(a.statusBar(), '연결 상태: ❌ 연결 끊김');
  a.sendMessage('끊긴 동안'); // the hook only warns, as written
  assert.equal(a.warned, '연결이 열려있지 않습니다.');
  ws.start();
  await waitFor(() => a.opens === 2 && b.opens === 2, 10000, 'both reconnected');
  const an2 = (await waitFor(() => a.messages.filter((m) => m.type === 'joined')[1], 5000, 'joined again')).user;
  a.sendMessage('다시 왔어요');
  await waitFor(() => b.lines().includes(`${an2}:다시 왔어요`), 5000, 'a message after the restart');
  a.unmount();
  b.unmount();
});

// ---------------------------------------------------------------------------------------------
// Document 003: FocusMate's hook: ?token= on the URL, a ping the moment it opens, a heartbeat
// (30 s in the document; the interval is this test's parameter), pong handling, as written.
function focusMate003(WebSocket, { getWebSocketUrl, authService, heartbeatMs }) {
  const hook = { log: [], pongs: 0, others: [] };
  const console = { log: (s) => hook.log.push(s) };
  const startHeartbeat = (ws) => {
    hook.heartbeat = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
    }, heartbeatMs);
  };
  const connect = () => {
    const token = authService.getToken();
    const wsUrl = `${getWebSocketUrl()}?token=${token}`;
    const ws = new WebSocket(wsUrl);

    ws.onopen = () => {
      console.log("Chat WebSocket connected");

      // 즉시 Ping 전송 (연결 검증)
      ws.send(JSON.stringify({ type: "ping" }));

      // 하트비트 시작
      startHeartbeat(ws);
    };

    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);

      // Pong 처리
      if (data.type === "pong") {
        console.log("[WebSocket] Received pong from server");
        hook.pongs += 1;
        return;
      }

      // Welcome 메시지 처리
      if (data.type === "connected") {
        console.log("Chat WebSocket: Connection confirmed by server");
        return;
      }
      hook.others.push(data);
    };
    ws.onclose = (event) => { hook.closed = { code: event.code, reason: event.reason }; clearInterval(hook.heartbeat); };
    hook.ws = ws;
  };
  connect();
  return hook;
}

function token(name, ttl = 600) {
  return execFileSync(`${BIN}/madang-token`, ['--secret-file', secretFile, '--name', name, '--ttl', String(ttl)])
    .toString().trim();
}
// An HS256 token that expired `ago` seconds ago (madang-token mints only live ones).
function expiredToken(name, ago) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ name, iat: now - ago - 600, exp: now - ago })}`;
  const sig = crypto.createHmac('sha256', fs.readFileSync(secretFile)).update(body).digest('base64url');
  return `${body}.${sig}`;
}

test('003: FocusMate connects with ?token=, gets a pong for its first ping and for each heartbeat', async () => {
  const host = `127.0.0.1:${wsAuth.port}`;
  const WebSocket = browserWebSocket(host);
  const fm = focusMate003(WebSocket, {
    getWebSocketUrl: () => `ws://${host}/ws`,
    authService: { getToken: () => token('집중이') },
    heartbeatMs: 300,
  });
  await waitFor(() => fm.pongs >= 1, 5000, 'the first pong');
  assert.deepEqual(fm.log.slice(0, 2), ['Chat WebSocket connected', '[WebSocket] Received pong from server']);
  await waitFor(() => fm.pongs >= 4, 5000, 'pongs for the heartbeat');
  const welcome = fm.others.find((m) => m.type === 'welcome');
  assert.equal(welcome?.user, '집중이', "the token's name is the user");
  // Its documented commands work: join_room, then typing is relayed to another member.
  const other = focusMate003(WebSocket, {
    getWebSocketUrl: () => `ws://${host}/ws`,
    authService: { getToken: () => token('동료') },
    heartbeatMs: 300,
  });
  await waitFor(() => other.pongs >= 1, 5000, "the colleague's pong");
  fm.ws.send(JSON.stringify({ type: 'join_room', room_id: 'focus' }));
  other.ws.send(JSON.stringify({ type: 'join_room', room_id: 'focus' }));
  await waitFor(() => fm.others.some((m) => m.type === 'joined') && other.others.some((m) => m.type === 'joined'),
    5000, 'both joined focus');
  fm.ws.send(JSON.stringify({ type: 'typing', room_id: 'focus', active: true }));
  await waitFor(() => other.others.some((m) => m.type === 'typing' && m.user === '집중이' && m.active === true),
    5000, 'typing relayed');
  fm.ws.close();
  other.ws.close();
  await sleep(50);
});

test('003: an expired token is refused with 4001 (the document\'s "token expired" case)', async () => {
  const host = `127.0.0.1:${wsAuth.port}`;
  const WebSocket = browserWebSocket(host);
  const fm = focusMate003(WebSocket, {
    getWebSocketUrl: () => `ws://${host}/ws`,
    authService: { getToken: () => expiredToken('만료', 120) },
    heartbeatMs: 300,
  });
  await waitFor(() => fm.closed, 5000, 'the close');
  assert.equal(fm.closed.code, 4001);
  assert.equal(fm.pongs, 0);
});
