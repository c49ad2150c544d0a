// lib.mjs — a small WebSocket test client for madang-ws (the `ws` package), with waiting that
// always times out. Environment (set by tests/suites/30-ws.sh): MADANG_WS1_URL, MADANG_WS2_URL
// (ws://127.0.0.1:PORT), and for the survival tests the PIDs and command lines of the daemons.
import WebSocket from 'ws';

export const WS1 = process.env.MADANG_WS1_URL;
export const WS2 = process.env.MADANG_WS2_URL;
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

// Opens a connection; resolves with a client once open (or rejects on error/unexpected HTTP).
export function connect(base, path, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path, options);
    const c = new Client(ws);
    clients.add(c);
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`connect ${path}: timeout`)); }, 5000);
    ws.on('open', () => { clearTimeout(timer); resolve(c); });
    ws.on('unexpected-response', (req, res) => {
      clearTimeout(timer);
      const e = new Error(`HTTP ${res.statusCode}`);
      e.status = res.statusCode;
      ws.terminate();
      reject(e);
    });
    ws.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

export class Client {
  constructor(ws) {
    this.ws = ws;
    this.msgs = [];     // every parsed message, in arrival order
    this.unread = 0;    // index of the first message next() has not consumed
    this.waiters = [];
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
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
