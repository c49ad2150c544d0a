// wsclient.mjs — the one WebSocket test client of the suites (the `ws` package): a Client that
// records every message, its close and the HTTP status of a refused handshake, with waiting that
// always times out; plus a bare client on a TCP socket (rawConnect) to see frames exactly as
// sent. Used by tests/integration/ws, tests/hostile and the resuming ChatClient
// (tests/lib/chatclient.mjs). Which daemons to talk to comes from the suite (tests/lib/stack.mjs).
import WebSocket from 'ws';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let counter = 0;
const clients = new Set();

// Drops every connection a test file opened (use as after(closeAll)): a failed test must not
// leave sockets that keep node --test from exiting.
export function closeAll() {
  for (const c of clients) c.ws.terminate();
  clients.clear();
}
// A nickname unique to this run, so that tests never collide with each other.
export function nick(base) {
  counter += 1;
  return `${base}${process.pid % 10000}_${counter}`;
}

// Opens a connection and returns its Client at once (not yet open): client.opened turns true on
// open; a refused handshake sets client.http (the status) and closeInfo {code: -1}. options go to
// the ws package (maxPayload, handshakeTimeout, headers...). keep: false for a caller that
// handles client.ws's messages itself (the messages are then not parsed nor kept).
export function open(url, options = {}, { keep = true } = {}) {
  const ws = new WebSocket(url, { handshakeTimeout: 5000, ...options });
  const c = new Client(ws, keep);
  clients.add(c);
  return c;
}

// Opens a connection; resolves with a client once open (or rejects on error/unexpected HTTP).
export function connect(base, path, options = {}) {
  const c = open(base + path, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { c.ws.terminate(); reject(new Error(`connect ${path}: timeout`)); }, 5000);
    c.ws.on('open', () => { clearTimeout(timer); resolve(c); });
    c.ws.on('unexpected-response', () => {
      clearTimeout(timer);
      const e = new Error(`HTTP ${c.http}`);
      e.status = c.http;
      reject(e);
    });
    c.ws.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

export class Client {
  constructor(ws, keep = true) {
    this.ws = ws;
    this.msgs = [];     // every parsed message, in arrival order
    this.unread = 0;    // index of the first message next() has not consumed
    this.waiters = [];
    this.closeInfo = null; // {code, reason} once closed; {code: -1} for a refused handshake
    this.http = null;      // the HTTP status of a refused handshake
    this.opened = false;
    this.closed = new Promise((resolve) => {
      this.settle = (info) => {
        if (!this.closeInfo) this.closeInfo = info;
        clients.delete(this);
        resolve(this.closeInfo);
        this.wake();
      };
    });
    ws.on('open', () => { this.opened = true; this.wake(); });
    ws.on('close', (code, reason) => this.settle({ code, reason: reason.toString() }));
    ws.on('unexpected-response', (req, res) => {
      this.http = res.statusCode;
      this.settle({ code: -1, reason: 'http' });
      ws.terminate();
    });
    ws.on('error', () => {}); // a close (1006) follows
    ws.on('message', (data, isBinary) => {
      if (!keep) return;
      this.msgs.push(isBinary ? { binary: true } : JSON.parse(data.toString()));
      this.wake();
    });
  }
  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }
  // The next message (after the last one consumed) that matches pred; skipped ones are consumed.
  async next(pred = () => true, ms = 5000, what = 'message') {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.unread < this.msgs.length) {
        const m = this.msgs[this.unread++];
        if (pred(m)) return m;
      }
      if (this.closeInfo) throw new Error(`closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${what}; got ${JSON.stringify(this.msgs.slice(-5))}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
  // Resolves with pred()'s first truthy value, re-checked on every message, open and close
  // (consumes nothing); throws after ms with the last messages and the close.
  async until(pred, ms = 5000, what = 'condition') {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timeout waiting for ${what}; got ${JSON.stringify(this.msgs.slice(-3))} close ${JSON.stringify(this.closeInfo)} http ${this.http}`);
      }
      await new Promise((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
  nextType(type, ms = 5000) {
    return this.next((m) => m.type === type, ms, type);
  }
  // Resolves with the close {code, reason}, failing after ms.
  async waitClose(ms = 5000) {
    let t;
    const timeout = new Promise((_, rej) => { t = setTimeout(() => rej(new Error('timeout waiting for close')), ms); });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(t);
    }
  }
  close() {
    if (!this.closeInfo) this.ws.close();
  }
  terminate() {
    this.ws.terminate();
  }
}

// Connects to /ws/{room}/{user} and waits for welcome and joined.
export async function joinPath(base, room, user, query = '') {
  const c = await connect(base, `/ws/${room}/${encodeURIComponent(user)}${query}`);
  c.welcome = await c.nextType('welcome');
  c.joined = await c.nextType('joined');
  return c;
}

export async function httpGet(base, path, headers = {}) {
  const res = await fetch(base.replace(/^ws/, 'http') + path, { headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

// A masked text frame (mask 0, as a client must send it), for rawConnect's `first`.
export function textFrame(str) {
  const body = Buffer.from(str);
  const head = body.length < 126 ? Buffer.from([0x81, 0x80 | body.length])
    : Buffer.from([0x81, 0x80 | 126, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([head, Buffer.alloc(4), body]);
}

// The text frames rawConnect got, parsed.
export const rawJson = (raw) => raw.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString()));

// A bare WebSocket client on a TCP socket, to see the frames exactly as sent (ws hides a
// second close frame; browsers fail the connection on one). Returns {frames, ended, sendClose}.
// first: bytes written right behind the handshake request, before any answer (a client that
// sends at once).
export async function rawConnect(base, path, first = null) {
  const net = await import('node:net');
  const { port } = new URL(base);
  const sock = net.connect(Number(port), '127.0.0.1');
  const frames = [];
  let buf = Buffer.alloc(0), upgraded = false;
  const ended = new Promise((resolve) => sock.on('close', resolve));
  sock.on('error', () => {});
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      upgraded = true;
      buf = buf.subarray(end + 4);
    }
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf.length < off + len) return;
      frames.push({ opcode: buf[0] & 0x0f, payload: buf.subarray(off, off + len) });
      buf = buf.subarray(off + len);
    }
  });
  await new Promise((resolve, reject) => { sock.on('connect', resolve); sock.on('error', reject); });
  sock.write(Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'), first ?? Buffer.alloc(0)]));
  // A masked close frame (mask 0): code 1000.
  const sendClose = () => sock.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
  return { frames, ended, sendClose, sock };
}
