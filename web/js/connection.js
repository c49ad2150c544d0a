// connection.js — one room's WebSocket, kept alive: it connects, follows the server's events,
// reconnects with backoff after any loss, resumes with since/epoch/resume so that nothing is
// missed or doubled, and sends the outbox once it is back. It draws nothing; the chat view
// listens to its events:
//
//   state        {state, retryAt}   state: connecting | connected | waiting | offline | closed | failed
//   joined       {msg, first, lost, epochChanged}
//   room-event   {msg, live, gap, duplicate, confirmed}   message / join / leave / room_deleted
//   typing       {msg}
//   private      {msg, confirmed}
//   server-error {msg, entry}
//   outbox       {entry}            an outbox entry changed state (sent, failed, queued)
//   confirmed    {entry}            a resent message the server already had: it leaves the outbox
//   fatal        {code, reason, error}   the server refused us for good (4004, 4009, 4001, …)
//
// Close codes 4000–4999 are the server's "do not come back" answers (DESIGN §3); every other
// close — 1001 restart, 1006 network, 1013 broker down, 1008 slow consumer — is retried.

import { Backoff } from './backoff.js';
import { Outbox, randomPrefix } from './outbox.js';
import { RoomState } from './room-state.js';

export const PING_INTERVAL_MS = 25000;
export const SILENCE_LIMIT_MS = 60000;
/* Refusals that pass by themselves: over the rate limit, the broker away, or madang-ws between
 * registering again with a restarted broker and re-declaring its members (the broker then
 * answers unknown_frontend or not_member). Each message is retried at most TRANSIENT_TRIES
 * times, then shown as not sent. */
export const TRANSIENT_ERRORS = new Set(['rate_limited', 'broker_unavailable', 'unknown_frontend', 'not_member']);
const TRANSIENT_RETRY_MS = 1500;
const TRANSIENT_TRIES = 8;
const FLUSH_BATCH = 5; /* outbox frames per burst, well inside madang-ws's default burst of 20 */
const FLUSH_PAUSE_MS = 600;

export function isFatalClose(code) {
	return code >= 4000 && code <= 4999;
}

/* Error codes that, arriving before "joined", mean the join was refused for good. They make the
 * close that follows final whatever its code: a browser that saw a broken closing handshake
 * reports 1006 instead of the server's 4009, and the answer must not be lost to a retry loop. */
const JOIN_REFUSALS = Object.freeze({
	nickname_taken: 4009,
	no_such_room: 4004,
	unauthorized: 4001,
	room_full: 4000,
	invalid_argument: 4000,
	forbidden: 4000,
});

export class RoomConnection extends EventTarget {
	/* makeUrl(roomId, user, params) builds the socket URL; WebSocketImpl, backoff, online and
	 * netEvents are replaceable for tests. */
	constructor({ roomId, user, makeUrl, WebSocketImpl = globalThis.WebSocket, backoff = new Backoff(),
		online = () => globalThis.navigator?.onLine !== false, netEvents = globalThis }) {
		super();
		this.roomId = roomId;
		this.user = user;
		this.makeUrl = makeUrl;
		this.WebSocketImpl = WebSocketImpl;
		this.backoff = backoff;
		this.online = online;
		this.netEvents = netEvents;
		this.room = new RoomState(roomId);
		this.room.me = user;
		this.outbox = new Outbox(randomPrefix());
		this.state = 'idle';
		this.session = null; /* from welcome; presented as resume= to get our nickname back */
		this.ws = null;
		this.retryTimer = null;
		this.pingTimer = null;
		this.flushTimer = null;
		this.lastFrameAt = 0;
		this.lastError = null; /* the last error event, which explains a close that follows it */
		this.onOnline = () => {
			if (this.state === 'offline' || this.state === 'waiting') this.connectNow();
		};
		this.onOffline = () => {
			if (this.state !== 'waiting') return;
			clearTimeout(this.retryTimer); /* no point trying before the 'online' event */
			this.retryTimer = null;
			this.setState('offline');
		};
	}

	start() {
		this.netEvents?.addEventListener?.('online', this.onOnline);
		this.netEvents?.addEventListener?.('offline', this.onOffline);
		this.connect();
	}

	/* Leaves the room: a clean close (1000), no reconnect. */
	leave() {
		if (this.state === 'closed') return;
		this.stopTimers();
		this.netEvents?.removeEventListener?.('online', this.onOnline);
		this.netEvents?.removeEventListener?.('offline', this.onOffline);
		const ws = this.ws;
		this.ws = null;
		if (ws) {
			this.detach(ws);
			/* Closing a socket still in its handshake makes the browser log an error: let it open,
			 * then close it cleanly. */
			if (ws.readyState === ws.CONNECTING) ws.onopen = () => ws.close(1000, 'leave');
			else if (ws.readyState === ws.OPEN) ws.close(1000, 'leave');
		}
		this.setState('closed');
	}

	/* Skips the rest of the backoff wait ("Reconnect now", the browser came back online). */
	connectNow() {
		if (this.state !== 'waiting' && this.state !== 'offline') return;
		clearTimeout(this.retryTimer);
		this.retryTimer = null;
		this.connect();
	}

	sendMessage(text) {
		const entry = this.outbox.add(text);
		this.flush();
		return entry;
	}

	sendPrivate(to, text) {
		const entry = this.outbox.add(text, to);
		this.flush();
		return entry;
	}

	retry(clientId) {
		const entry = this.outbox.retry(clientId);
		if (entry) this.emit('outbox', { entry });
		this.flush();
	}

	/* Typing is a hint: sent only while connected, never queued. */
	sendTyping(active) {
		this.write({ type: 'typing', room_id: this.roomId, active: Boolean(active) });
	}

	connect() {
		this.stopTimers();
		this.setState('connecting');
		const params = { ...this.room.resumeParams(), resume: this.session ?? undefined };
		let ws;
		try {
			ws = new this.WebSocketImpl(this.makeUrl(this.roomId, this.user, params));
		} catch (err) {
			this.handleClose(1006, String(err?.message ?? err));
			return;
		}
		this.ws = ws;
		this.lastError = null;
		this.joinedOnSocket = false;
		ws.onmessage = (ev) => this.handleFrame(ev.data);
		ws.onclose = (ev) => {
			if (this.ws !== ws) return;
			this.ws = null;
			this.handleClose(ev.code, ev.reason);
		};
		ws.onerror = () => {}; /* a close event always follows; the browser logs the cause */
	}

	detach(ws) {
		ws.onopen = null;
		ws.onmessage = null;
		ws.onclose = null;
		ws.onerror = null;
	}

	handleFrame(data) {
		this.lastFrameAt = Date.now();
		let msg;
		try {
			msg = JSON.parse(data);
		} catch {
			return; /* not ours to show: the protocol sends JSON objects only */
		}
		if (!msg || typeof msg !== 'object') return;
		switch (msg.type) {
		case 'welcome':
			if (typeof msg.session === 'string') this.session = msg.session;
			if (typeof msg.user === 'string' && msg.user !== '') {
				this.user = msg.user;
				this.room.me = msg.user;
			}
			break;
		case 'joined':
			this.handleJoined(msg);
			break;
		case 'message':
		case 'join':
		case 'leave':
		case 'room_deleted':
			this.handleRoomEvent(msg);
			break;
		case 'typing':
			if (!this.room.isMe(msg.user)) this.emit('typing', { msg });
			break;
		case 'private':
			this.handlePrivate(msg);
			break;
		case 'error':
			this.handleError(msg);
			break;
		case 'ack':
			this.handleAck(msg);
			break;
		default:
			break; /* pong, and event types added after v1 */
		}
	}

	handleJoined(msg) {
		this.joinedOnSocket = true;
		const outcome = this.room.joined(msg);
		this.backoff.reset();
		this.setState('connected');
		this.emit('joined', { msg, ...outcome });
		this.pingTimer = setInterval(() => this.keepAlive(), PING_INTERVAL_MS);
		this.flush();
	}

	handleRoomEvent(msg) {
		const seen = this.room.event(msg);
		let confirmed = null;
		if (msg.type === 'message' && typeof msg.client_id === 'string' && this.room.isMe(msg.sender)) {
			confirmed = this.outbox.confirm(msg.client_id);
		}
		this.emit('room-event', { msg, live: seen?.live ?? true, gap: seen?.gap ?? false, duplicate: seen === null, confirmed });
		if (msg.type === 'room_deleted') {
			this.leave();
			this.emit('fatal', { code: 4004, reason: 'room deleted', error: null, deleted: true });
		}
	}

	handlePrivate(msg) {
		const mine = this.room.isMe(msg.from) ? this.outbox.sentPrivate(msg.message) : null;
		const confirmed = mine ? this.outbox.confirm(mine.clientId) : null;
		this.emit('private', { msg, confirmed });
	}

	/* madang-ws acknowledges each message with {"type":"ack","client_id","seq","duplicate"} ahead of
	 * the message event. A fresh message is confirmed by its event (which is drawn in seq order);
	 * a duplicate — the server had it already from before a reconnect — gets no new event, so its
	 * ack is what confirms it. */
	handleAck(msg) {
		if (typeof msg.client_id !== 'string' || msg.duplicate !== true) return;
		const confirmed = this.outbox.confirm(msg.client_id);
		if (confirmed) this.emit('confirmed', { entry: confirmed });
	}

	handleError(msg) {
		this.lastError = msg;
		let entry = null;
		if (TRANSIENT_ERRORS.has(msg.code)) {
			/* The unconfirmed messages go out again after a pause (an over-rate frame is refused
			 * unread, so the error may name no client id); repeats are dropped by the broker and
			 * acknowledged as duplicates. */
			for (const pending of this.outbox.requeueSent()) {
				pending.tries = (pending.tries ?? 0) + 1;
				if (pending.tries > TRANSIENT_TRIES) this.outbox.fail(pending.clientId);
				this.emit('outbox', { entry: pending });
			}
			this.scheduleFlush(TRANSIENT_RETRY_MS);
		} else if (typeof msg.client_id === 'string') {
			entry = this.outbox.fail(msg.client_id);
		} else if (msg.request === 'private') {
			/* private messages carry no client id; they are answered in order */
			entry = this.outbox.sentPrivate();
			if (entry) this.outbox.fail(entry.clientId);
		}
		if (entry) this.emit('outbox', { entry });
		this.emit('server-error', { msg, entry });
	}

	handleClose(code, reason) {
		this.stopTimers();
		for (const entry of [...this.outbox.requeueSent(), ...this.outbox.failSentPrivates()]) {
			this.emit('outbox', { entry });
		}
		if (this.state === 'closed' || this.state === 'failed') return;
		const refusal = this.joinedOnSocket ? undefined : JOIN_REFUSALS[this.lastError?.code];
		if (!isFatalClose(code) && refusal !== undefined) code = refusal;
		if (isFatalClose(code)) {
			this.setState('failed');
			this.emit('fatal', { code, reason, error: this.lastError });
			return;
		}
		if (!this.online()) {
			this.setState('offline');
			return;
		}
		const delay = this.backoff.next();
		this.retryTimer = setTimeout(() => {
			this.retryTimer = null;
			this.connect();
		}, delay);
		this.setState('waiting', { retryAt: Date.now() + delay });
	}

	/* Sends the due outbox entries, oldest first, when the room is joined: FLUSH_BATCH at once,
	 * the rest after a pause, so a long outbox does not trip the server's rate limit. */
	flush() {
		if (this.state !== 'connected') return;
		let sent = 0;
		for (const entry of this.outbox.due()) {
			if (sent === FLUSH_BATCH) {
				this.scheduleFlush(FLUSH_PAUSE_MS);
				return;
			}
			const frame = entry.to === null
				? { type: 'message', room_id: this.roomId, text: entry.text, client_id: entry.clientId }
				: { type: 'private', room_id: this.roomId, to: entry.to, text: entry.text };
			if (!this.write(frame)) return;
			sent += 1;
			this.outbox.markSent(entry.clientId);
			this.emit('outbox', { entry });
		}
	}

	scheduleFlush(delay) {
		if (this.flushTimer !== null) return;
		this.flushTimer = setTimeout(() => {
			this.flushTimer = null;
			this.flush();
		}, delay);
	}

	write(frame) {
		const ws = this.ws;
		if (this.state !== 'connected' || !ws || ws.readyState !== ws.OPEN) return false;
		ws.send(JSON.stringify(frame));
		return true;
	}

	/* An application ping keeps proxies from idling the socket out; a socket that has carried
	 * nothing for SILENCE_LIMIT_MS is dead even if TCP has not noticed, so it is dropped. */
	keepAlive() {
		if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS && this.ws) {
			const ws = this.ws;
			this.ws = null;
			this.detach(ws);
			ws.close();
			this.handleClose(1006, 'no reply');
			return;
		}
		this.write({ type: 'ping' });
	}

	stopTimers() {
		clearTimeout(this.retryTimer);
		clearTimeout(this.flushTimer);
		clearInterval(this.pingTimer);
		this.retryTimer = null;
		this.flushTimer = null;
		this.pingTimer = null;
	}

	setState(state, extra = {}) {
		this.state = state;
		this.emit('state', { state, ...extra });
	}

	emit(type, detail) {
		this.dispatchEvent(new CustomEvent(type, { detail }));
	}
}
