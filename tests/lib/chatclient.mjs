// chatclient.mjs — the resuming chat client of the fault tests that resumes exactly as docs/protocol.md says:
// * it remembers the last seq it saw per room and the epoch that seq belongs to, and its
//   session id (from welcome);
// * when the socket goes, it reconnects to /ws/{room}/{user}?since=SEQ&epoch=EPOCH&resume=SESSION
//   (backing off 100 ms .. 1 s);
// * every message carries a client_id; a message not yet acknowledged (no `ack`) is sent again
//   with the same client_id after a refusal (broker_unavailable, busy) or a fresh `joined`;
// * events are identified by (epoch, seq): whatever it already has is dropped (counted as a
//   replay, not delivered twice).
// It sends one message at a time (the next after the previous one's ack), which keeps each
// sender's payloads in order even across resends.
//
// Every payload is numbered: "P <user> <n> <padding>", so that a Tally can count, per
// receiver, what was lost, duplicated (the same payload under two seqs) or out of order.
import { open } from './wsclient.mjs';

const PAYLOAD = /^P (\S+) (\d+)(?: |$)/;
const all = new Set();

// Closes every client still open (use in after(): a failed test must not leave reconnect loops).
export function closeAllClients() {
  for (const c of all) c.close();
  all.clear();
}

export class ChatClient {
  constructor(base, room, user, opts = {}) {
    this.base = base;
    this.room = room;
    this.user = user;
    this.rate = opts.rate || 20;          // messages per second while chatting
    this.pad = opts.pad || 0;             // bytes of padding per payload
    this.reconnect = opts.reconnect !== false;
    this.ws = null;
    this.session = null;
    this.epoch = null;
    this.lastSeq = null;                  // last seq seen in this.epoch
    this.seen = new Set();                // "epoch:seq"
    this.got = new Map();                 // "sender n" -> times delivered (distinct seqs)
    this.lastFrom = new Map();            // sender -> last n received (order check)
    this.outOfOrder = 0;                  // payloads received after a later one of the same sender
    this.seqBackwards = 0;                // a new (unseen) event with seq below one already seen
    this.replays = 0;                     // events seen again (history after a joined): dropped
    this.joins = [];                      // every joined: {recovered, resumed, epoch, seq, at}
    this.closes = [];                     // {code, reason, at}
    this.errors = [];                     // error events
    this.events = [];                     // non-message room events kept for assertions (join/leave)
    this.pongs = 0;
    this.serverPings = 0;
    this.n = 0;                           // payloads generated
    this.outbox = [];                     // {n, cid, text}, first is the one in flight
    this.inflight = false;
    this.acked = new Map();               // n -> {seq, epoch} of its ack
    this.dupAcks = 0;
    this.resends = 0;
    this.connected = false;
    this.joinedNow = false;
    this.stopped = false;
    this.waiters = [];
    this.backoff = 100;
    this.connects = 0;
    this.frontends = [];                  // the front-end of each connection (from welcome)
    all.add(this);
  }

  url() {
    let u = `${this.base}/ws/${this.room}/${encodeURIComponent(this.user)}`;
    const q = [];
    if (this.lastSeq != null && this.epoch) q.push(`since=${this.lastSeq}`, `epoch=${this.epoch}`);
    if (this.session) q.push(`resume=${this.session}`);
    return q.length ? `${u}?${q.join('&')}` : u;
  }

  // Resolves once the first joined arrived (rejects after ms).
  start(ms = 8000) {
    this.open();
    return this.until(() => this.joins.length > 0, ms, `${this.user} joined`);
  }

  open() {
    if (this.stopped) return;
    this.connects++;
    // tests/lib/wsclient.mjs opens it; the messages are handled here.
    const { ws } = open(this.url(), { handshakeTimeout: 3000 }, { keep: false });
    this.ws = ws;
    ws.on('open', () => { this.connected = true; this.backoff = 100; });
    ws.on('ping', () => { this.serverPings++; });
    ws.on('message', (data) => this.onMessage(JSON.parse(data.toString())));
    ws.on('error', () => {});
    ws.on('unexpected-response', (req, res) => { this.closes.push({ code: res.statusCode, reason: 'http', at: Date.now() }); ws.terminate(); });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.connected = false;
      this.joinedNow = false;
      this.inflight = false;
      this.closes.push({ code, reason: reason.toString(), at: Date.now() });
      this.wake();
      if (this.reconnect && !this.stopped) {
        setTimeout(() => this.open(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 1000);
      }
    });
  }

  onMessage(m) {
    switch (m.type) {
    case 'welcome':
      this.session = m.session;
      this.frontends.push(m.frontend);
      break;
    case 'joined':
      if (m.epoch !== this.epoch) { this.epoch = m.epoch; this.lastSeq = null; }
      this.joins.push({ recovered: m.recovered, resumed: m.resumed, epoch: m.epoch, seq: m.seq, at: Date.now(), users: m.users });
      this.joinedNow = true;
      // What was in flight may or may not have been applied: send it again, same client_id.
      this.inflight = false;
      this.pump();
      break;
    case 'ack':
      if (this.outbox.length && this.outbox[0].cid === m.client_id) {
        const o = this.outbox.shift();
        this.acked.set(o.n, { seq: m.seq, epoch: this.epoch });
        if (m.duplicate) this.dupAcks++;
        this.inflight = false;
        this.pump();
      }
      break;
    case 'error':
      this.errors.push(m);
      if (m.client_id && this.outbox.length && this.outbox[0].cid === m.client_id) {
        this.inflight = false;
        setTimeout(() => this.pump(), 200);
      }
      break;
    case 'pong':
      this.pongs++;
      break;
    default:
      if (typeof m.seq === 'number' && m.room_id === this.room) this.onEvent(m);
    }
    this.wake();
  }

  onEvent(m) {
    const key = `${m.epoch}:${m.seq}`;
    if (this.seen.has(key)) { this.replays++; return; }
    this.seen.add(key);
    if (m.epoch === this.epoch) {
      if (this.lastSeq != null && m.seq < this.lastSeq) this.seqBackwards++;
      if (this.lastSeq == null || m.seq > this.lastSeq) this.lastSeq = m.seq;
    }
    if (m.type === 'message') {
      const p = PAYLOAD.exec(m.message);
      if (!p) return;
      const k = `${p[1]} ${p[2]}`;
      this.got.set(k, (this.got.get(k) || 0) + 1);
      const n = Number(p[2]);
      const last = this.lastFrom.get(p[1]);
      if (last != null && n < last) this.outOfOrder++;
      if (last == null || n > last) this.lastFrom.set(p[1], n);
    } else {
      this.events.push(m);
    }
  }

  pump() {
    if (this.inflight || !this.joinedNow || !this.outbox.length || !this.connected) return;
    const o = this.outbox[0];
    if (o.sent) this.resends++;
    o.sent = true;
    this.inflight = true;
    this.ws.send(JSON.stringify({ type: 'message', text: o.text, client_id: o.cid }));
  }

  // Queues the next numbered payload.
  say() {
    const n = ++this.n;
    const text = `P ${this.user} ${n}` + (this.pad ? ' ' + 'x'.repeat(this.pad) : '');
    this.outbox.push({ n, cid: `${this.user}-${n}`, text });
    this.pump();
  }

  // Chats at this.rate until stopChat().
  chat() {
    this.timer = setInterval(() => this.say(), 1000 / this.rate);
  }
  stopChat() {
    clearInterval(this.timer);
    this.timer = null;
  }

  ping() {
    if (this.ws && this.connected) this.ws.send('{"type":"ping"}');
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async until(pred, ms, what) {
    const end = Date.now() + ms;
    while (!pred()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timeout (${ms} ms) waiting for ${what}`);
      await new Promise((r) => { const t = setTimeout(r, Math.min(left, 100)); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }
  // Every queued payload acknowledged.
  drained(ms = 10000) {
    return this.until(() => this.outbox.length === 0, ms, `${this.user}'s messages acknowledged`);
  }
  close() {
    this.stopped = true;
    this.stopChat();
    if (this.ws) this.ws.terminate();
  }
}

// Counts, over a set of clients that were all in the room the whole time, what each received of
// what every sender had acknowledged: lost, duplicated, out of order.
export function tally(clients) {
  const r = { acked: 0, lost: 0, duplicated: 0, outOfOrder: 0, seqBackwards: 0, replays: 0, resends: 0, dupAcks: 0, lostSamples: [] };
  for (const s of clients) { r.acked += s.acked.size; r.resends += s.resends; r.dupAcks += s.dupAcks; }
  for (const c of clients) {
    r.outOfOrder += c.outOfOrder;
    r.seqBackwards += c.seqBackwards;
    r.replays += c.replays;
    const j0 = c.joins[0];
    for (const s of clients) {
      for (const [n, a] of s.acked) {
        if (j0 && a.epoch === j0.epoch && a.seq < j0.seq) continue; // before c joined
        const k = `${s.user} ${n}`;
        const g = c.got.get(k) || 0;
        if (g === 0) { r.lost++; if (r.lostSamples.length < 10) r.lostSamples.push(`${c.user} missed ${k}`); }
        if (g > 1) r.duplicated += g - 1;
      }
    }
  }
  return r;
}

// Every client has received every acknowledged payload of every other (or time runs out).
export async function allDelivered(clients, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const t = tally(clients);
    if (t.lost === 0 || Date.now() >= end) return t;
    await new Promise((r) => setTimeout(r, 100));
  }
}
