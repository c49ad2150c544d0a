// connection.js — one room's WebSocket, kept alive: it connects to `/ws`, joins the room by
// message (`join_room` with since/epoch/resume, so no resume key is ever in a URL), follows the
// server's events, reconnects with backoff after any loss, and sends the outbox in order, one
// message at a time, paced by the server's rate limit. With a token hook it asks for a token
// before connecting and for a new one before the old expires. It draws nothing; the chat view
// listens to its events:
//
//   state        {state, retryAt}   state: connecting | connected | waiting | offline | closed | failed
//   joined       {msg, first, lost, epochChanged}   (withToken then says whether this socket
//                                   presented a token: only then may we delete our own messages)
//   room-event   {msg, live, gap, duplicate, confirmed}   message / join / leave / room_deleted /
//                                   message_deleted / slow_mode
//   typing       {msg}
//   private      {msg, confirmed}
//   server-error {msg, entry}
//   outbox       {entry}            an outbox entry changed state (sent, failed, queued)
//   confirmed    {entry}            a resent message the server already had: it leaves the outbox
//   fatal        {code, reason, error}   the server refused us for good (4004, 4009, 4001, …)
//   server-wait  {waiting}          a request has (not) been answered for SERVER_WAIT_MS
//   history      {msg}              the answer to loadEarlier()
//   muted        {msg, until}       we were muted (a `muted` frame, an `error` muted, or joined's
//                                   muted_until; until in epoch ms); msg null when from joined
//   unmuted      {msg}              the mute was lifted (an `unmuted` frame) or ran out
//   moderation   {msg}              the answer (`done` or `error`) to one of our moderation commands
//   role         {role, previous, msg}  our role in the room changed while we were in it: a `role`
//                                   frame (an owner or the moderators changed), or a later joined
//                                   with another role (msg null then)
//
// A `kicked` frame (a moderator removed us, or banned us) and an `error` banned answering our
// join end the connection for good, as a fatal 4003: the client never comes back by itself
// (docs/moderation.md). The person may join again after a kick.
//
// Close codes 4000–4999 are the server's "do not come back" answers (DESIGN §3); every other
// close — 1001 restart, 1006 network, 1013 broker down, 1008 slow consumer — is retried.

import { Backoff } from './backoff.js';
import { MODERATION_REQUESTS, ROLES, moderationFrame, parseUntil } from './moderation.js';
import { Outbox, randomPrefix } from './outbox.js';
import { Pacer } from './pacer.js';
import { RoomState } from './room-state.js';
import { renewAt } from './token.js';

export const PING_INTERVAL_MS = 25000;
export const SILENCE_LIMIT_MS = 60000;
/* Refusals that pass by themselves: over the rate limit, the broker away or slow (busy, and
 * outcome_unknown: the message may have been stored, so it goes again with the same client id,
 * which the broker acknowledges as a duplicate), or madang-ws between registering again with a
 * restarted broker and re-declaring its members (the broker then answers unknown_frontend or
 * not_member). The message is sent again after a pause — the
 * error's retry_after_ms when it has one, else TRANSIENT_RETRY_MS doubling up to
 * TRANSIENT_RETRY_MAX_MS — for as long as the connection lasts, and nothing after it goes first. */
export const TRANSIENT_ERRORS = new Set(['rate_limited', 'broker_unavailable', 'busy', 'outcome_unknown',
	'unknown_frontend', 'not_member']);
/* Slow mode: the server says when the message may go (retry_after_ms); it goes again then, with
 * the same client id, as for rate_limited. */
export const PACED_ERRORS = new Set(['slow_mode']);
export const TRANSIENT_RETRY_MS = 500;
export const TRANSIENT_RETRY_MAX_MS = 8000;
const RETRY_AFTER_MAX_MS = 60000; /* a larger retry_after_ms is taken as this */
/* A request (the join, the message in flight, a history page) unanswered this long: the view
 * says "waiting for the server". */
export const SERVER_WAIT_MS = 3000;
/* Closes 4001 in a row, each answered with a new token from the hook, before the refusal is
 * final (a hook that keeps handing out bad tokens must not cause a loop). */
export const AUTH_RETRIES = 3;

export function isFatalClose(code) {
	return code >= 4000 && code <= 4999;
}

/* Error codes that, answering our join_room, mean the join was refused for good: on `/ws` the
 * socket stays open, so the client closes it and stops, with the close code the same refusal
 * has on a room path (DESIGN §3). */
const JOIN_REFUSALS = Object.freeze({
	nickname_taken: 4009,
	no_such_room: 4004,
	unauthorized: 4001,
	room_full: 4000,
	invalid_argument: 4000,
	forbidden: 4000,
	banned: 4003,
});

export class RoomConnection extends EventTarget {
	/* makeUrl(params) builds the socket URL (config.js socketUrl); getToken({user, room}) resolves
	 * to an access token or null (config.js), or is null when tokens are never used;
	 * WebSocketImpl, backoff, online, netEvents and serverWaitMs are replaceable for tests. */
	constructor({ roomId, user, makeUrl, getToken = null, WebSocketImpl = globalThis.WebSocket, backoff = new Backoff(),
		online = () => globalThis.navigator?.onLine !== false, netEvents = globalThis, serverWaitMs = SERVER_WAIT_MS }) {
		super();
		this.roomId = roomId;
		this.user = user;
		this.makeUrl = makeUrl;
		this.getToken = getToken;
		this.WebSocketImpl = WebSocketImpl;
		this.backoff = backoff;
		this.online = online;
		this.netEvents = netEvents;
		this.serverWaitMs = serverWaitMs;
		this.room = new RoomState(roomId);
		this.room.me = user;
		this.outbox = new Outbox(randomPrefix());
		this.pacer = new Pacer();
		this.state = 'idle';
		this.session = null; /* of the socket that last joined; presented as "resume" to get our nickname back */
		this.socketSession = null; /* from this socket's welcome */
		this.resumeKey = null; /* the previous connection's session, sent with this join */
		this.ws = null;
		this.retiring = null; /* the socket a token renewal replaces, until the new one joined */
		this.attempt = 0; /* counts connects, so a late token answer for an old one is dropped */
		this.token = null;
		this.tokenRenewAt = null;
		this.authFailures = 0;
		this.inFlight = null; /* the outbox entry written and not yet answered */
		this.headSince = null; /* when the oldest unanswered entry was first written on this socket */
		this.pauseUntil = 0; /* no outbox frame before this (a transient refusal's pause) */
		this.transientDelay = TRANSIENT_RETRY_MS;
		this.joinAskedAt = null;
		this.historyAskedAt = null;
		this.serverWait = false;
		this.retryTimer = null;
		this.pingTimer = null;
		this.flushTimer = null;
		this.waitTimer = null;
		this.renewTimer = null;
		this.lastFrameAt = 0;
		this.lastError = null; /* the last error event, which explains a close that follows it */
		this.role = 'member'; /* joined.role: admin, owner, moderator or member */
		this.withToken = false; /* the socket that last joined presented a token: the server knows our subject */
		this.slowModeS = 0; /* the room's slow mode interval, 0 = off */
		this.mutedUntil = null; /* epoch ms while we are muted, else null */
		this.muteTimer = null;
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
		clearTimeout(this.renewTimer);
		this.renewTimer = null;
		this.netEvents?.removeEventListener?.('online', this.onOnline);
		this.netEvents?.removeEventListener?.('offline', this.onOffline);
		const ws = this.ws;
		this.ws = null;
		if (ws) this.closeSocket(ws, 1000, 'leave');
		if (this.retiring) this.closeSocket(this.retiring, 1000, 'leave');
		this.retiring = null;
		clearTimeout(this.waitTimer);
		this.waitTimer = null;
		this.setServerWait(false);
		this.setState('closed');
	}

	/* Closing a socket still in its handshake makes the browser log an error: let it open, then
	 * close it cleanly. */
	closeSocket(ws, code, reason) {
		this.detach(ws);
		if (ws.readyState === ws.CONNECTING) ws.onopen = () => ws.close(code, reason);
		else if (ws.readyState === ws.OPEN) ws.close(code, reason);
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

	/* Typing is a hint: sent only while joined and within the rate limit, never queued. */
	sendTyping(active) {
		if (this.pacer.wait(Date.now()) > 0 || this.mutedUntil !== null) return;
		this.write({ type: 'typing', room_id: this.roomId, active: Boolean(active) });
	}

	/* A moderation command (docs/moderation.md): type kick, ban, mute, unmute, delete_message,
	 * slow_mode…; fields {user, seq, durationS, note}. Returns false when not joined. The answer
	 * is a `moderation` event; the effect arrives as room events. */
	moderate(type, fields) {
		return this.write(moderationFrame(this.roomId, type, fields));
	}

	/* Asks for `limit` events before `beforeSeq` ("load earlier"); the answer is a history event. */
	loadEarlier(beforeSeq, limit) {
		if (this.historyAskedAt !== null) return false;
		if (!this.write({ type: 'history', room_id: this.roomId, before_seq: beforeSeq, limit })) return false;
		this.historyAskedAt = Date.now();
		this.watchServer();
		return true;
	}

	/* Opens a socket, after getting a token when the old one is missing or due for renewal. */
	connect() {
		this.stopTimers();
		this.setState('connecting');
		this.attempt += 1;
		const attempt = this.attempt;
		if (!this.getToken || (this.token !== null && !this.tokenDue())) {
			this.open();
			return;
		}
		Promise.resolve(this.getToken({ user: this.user, room: this.roomId })).catch(() => null).then((token) => {
			if (attempt !== this.attempt || this.state !== 'connecting') return;
			this.setToken(token);
			this.open();
		});
	}

	tokenDue() {
		return this.tokenRenewAt !== null && Date.now() >= this.tokenRenewAt;
	}

	setToken(token) {
		this.token = typeof token === 'string' && token !== '' ? token : null;
		this.tokenRenewAt = this.token ? renewAt(this.token, Date.now()) : null;
	}

	open() {
		let ws;
		this.resumeKey = this.session;
		this.socketSession = null;
		try {
			ws = new this.WebSocketImpl(this.makeUrl({ token: this.token ?? undefined }));
		} catch (err) {
			this.handleClose(1006, String(err?.message ?? err));
			return;
		}
		this.ws = ws;
		this.lastError = null;
		this.joinedOnSocket = false;
		this.inFlight = null;
		this.joinAskedAt = null;
		this.historyAskedAt = null;
		ws.onmessage = (ev) => {
			if (this.ws === ws) this.handleFrame(ev.data);
		};
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
			this.handleWelcome(msg);
			break;
		case 'joined':
			this.handleJoined(msg);
			break;
		case 'message':
		case 'join':
		case 'leave':
		case 'room_deleted':
		case 'message_deleted':
		case 'slow_mode':
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
		case 'kicked':
			this.handleKicked(msg);
			break;
		case 'muted':
			if (typeof msg.room_id !== 'string' || msg.room_id === this.roomId) this.setMuted(parseUntil(msg.until), msg);
			break;
		case 'unmuted':
			if (typeof msg.room_id !== 'string' || msg.room_id === this.roomId) this.setMuted(null, msg);
			break;
		case 'done':
			if (MODERATION_REQUESTS.has(msg.request)) this.emit('moderation', { msg });
			break;
		case 'role':
			this.handleRole(msg);
			break;
		case 'history':
			this.historyAskedAt = null;
			this.watchServer();
			this.emit('history', { msg });
			break;
		default:
			break; /* pong, left, and event types added after v1 */
		}
	}

	/* The socket is open: take the new session id and the limits, then join the room by message
	 * with what is needed to resume (the previous session, the last seq and epoch seen). */
	handleWelcome(msg) {
		this.socketSession = typeof msg.session === 'string' ? msg.session : null;
		this.pacer.configure(Number(msg.limits?.rate), Number(msg.limits?.burst), Date.now());
		const frame = { type: 'join_room', room_id: this.roomId, user: this.user, ...this.room.resumeParams() };
		if (this.resumeKey) frame.resume = this.resumeKey;
		if (!this.ws || this.ws.readyState !== this.ws.OPEN) return;
		this.ws.send(JSON.stringify(frame));
		this.pacer.take(Date.now());
		this.joinAskedAt = Date.now();
		this.watchServer();
	}

	handleJoined(msg) {
		if (typeof msg.room_id === 'string' && msg.room_id !== this.roomId) return;
		this.joinedOnSocket = true;
		/* this socket holds the nickname now; a socket that only got its welcome never did */
		if (this.socketSession) this.session = this.socketSession;
		this.joinAskedAt = null;
		this.authFailures = 0;
		if (typeof msg.user === 'string' && msg.user !== '') {
			this.user = msg.user;
			this.room.me = msg.user;
		}
		if (this.retiring) {
			this.closeSocket(this.retiring, 1000, 'renewed'); /* normally already replaced (4009) */
			this.retiring = null;
		}
		/* A second joined on the same socket (madang-ws re-synced after a broker restart): what
		 * was in flight may be lost; the broker drops a repeated client id. */
		this.releaseInFlight();
		for (const entry of this.outbox.requeueSent()) this.emit('outbox', { entry });
		const outcome = this.room.joined(msg);
		const previousRole = outcome.first ? null : this.role;
		this.role = typeof msg.role === 'string' ? msg.role : 'member';
		/* the token changes only by a renewal, whose socket presents the new one */
		this.withToken = this.token !== null;
		this.slowModeS = Number.isInteger(msg.slow_mode_s) && msg.slow_mode_s > 0 ? msg.slow_mode_s : 0;
		this.backoff.reset();
		if (this.state !== 'connected') this.setState('connected');
		this.emit('joined', { msg, ...outcome });
		/* changed while we were away (or while madang-ws re-synced): news as a role frame is */
		if (previousRole !== null && previousRole !== this.role) this.emit('role', { role: this.role, previous: previousRole, msg: null });
		this.setMuted(parseUntil(msg.muted_until), null);
		clearInterval(this.pingTimer);
		this.pingTimer = setInterval(() => this.keepAlive(), PING_INTERVAL_MS);
		this.scheduleRenewal();
		this.watchServer();
		this.flush();
	}

	handleRoomEvent(msg) {
		if (typeof msg.room_id === 'string' && msg.room_id !== this.roomId) return;
		const seen = this.room.event(msg);
		if (msg.type === 'slow_mode' && seen !== null && Number.isInteger(msg.interval_s)) this.slowModeS = msg.interval_s;
		let confirmed = null;
		if (msg.type === 'message' && typeof msg.client_id === 'string' && this.room.isMe(msg.sender)) {
			confirmed = this.outbox.confirm(msg.client_id);
			if (this.inFlight?.clientId === msg.client_id) this.answered();
		}
		this.emit('room-event', { msg, live: seen?.live ?? true, gap: seen?.gap ?? false, duplicate: seen === null, confirmed });
		if (msg.type === 'room_deleted') {
			this.leave();
			this.emit('fatal', { code: 4004, reason: 'room deleted', error: null, deleted: true });
		}
	}

	/* {"type":"role","room_id","role"}: the owner or the moderators of the room changed and our
	 * role with them (docs/moderation.md). Only a role of ROLES, for this room, on a socket that
	 * joined counts (before that, the joined to come carries the role). */
	handleRole(msg) {
		if (typeof msg.room_id === 'string' && msg.room_id !== this.roomId) return;
		if (!this.joinedOnSocket || !ROLES.includes(msg.role) || msg.role === this.role) return;
		const previous = this.role;
		this.role = msg.role;
		this.emit('role', { role: msg.role, previous, msg });
	}

	/* A moderator removed us from the room (reason kicked), or banned us (banned, with until):
	 * we are no longer in the room. The socket is closed and nothing reconnects. */
	handleKicked(msg) {
		if (typeof msg.room_id === 'string' && msg.room_id !== this.roomId) return;
		const ws = this.ws;
		this.ws = null;
		if (ws) this.closeSocket(ws, 1000, 'kicked');
		this.stopTimers();
		this.releaseInFlight();
		this.setMuted(null, null, { silent: true });
		this.setState('failed');
		this.emit('fatal', { code: 4003, reason: String(msg.reason ?? 'kicked'), error: null, kicked: msg });
	}

	/* Muted until `until` (epoch ms), or not muted (null). A mute that runs out ends by itself
	 * here: the server sends nothing then. */
	setMuted(until, msg, { silent = false } = {}) {
		clearTimeout(this.muteTimer);
		this.muteTimer = null;
		const was = this.mutedUntil;
		this.mutedUntil = until !== null && until > Date.now() ? until : null;
		if (this.mutedUntil !== null) {
			/* setTimeout holds at most 2^31-1 ms; a longer mute is looked at again then */
			const wait = Math.min(this.mutedUntil - Date.now(), 0x7fffffff);
			this.muteTimer = setTimeout(() => this.setMuted(this.mutedUntil, null), wait);
			/* news when it starts or changes, or when a moderator muted us again */
			if (!silent && (was !== this.mutedUntil || msg?.type === 'muted')) this.emit('muted', { msg, until: this.mutedUntil });
		} else if (was !== null && !silent) {
			this.emit('unmuted', { msg });
		}
	}

	handlePrivate(msg) {
		const mine = this.room.isMe(msg.from) ? this.outbox.sentPrivate(msg.message) : null;
		const confirmed = mine ? this.outbox.confirm(mine.clientId) : null;
		if (confirmed && this.inFlight === confirmed) this.answered();
		this.emit('private', { msg, confirmed });
	}

	/* madang-ws acknowledges each message with {"type":"ack","client_id","seq","duplicate"} ahead of
	 * the message event: the ack lets the next message go. A fresh message is confirmed by its
	 * event (which is drawn in seq order); a duplicate — the server had it already from before a
	 * reconnect — gets no new event, so its ack is what confirms it. */
	handleAck(msg) {
		if (typeof msg.client_id !== 'string') return;
		if (msg.duplicate === true) {
			const confirmed = this.outbox.confirm(msg.client_id);
			if (confirmed) this.emit('confirmed', { entry: confirmed });
		}
		if (this.inFlight?.clientId === msg.client_id) this.answered();
	}

	/* The outbox entry an error answers: by its client id, else the one in flight when the error
	 * answers a message or private command (one is in flight at a time; an over-rate frame is
	 * refused unread, so its error may name neither the command nor the id). */
	errorEntry(msg) {
		if (typeof msg.client_id === 'string') return this.outbox.entries.get(msg.client_id) ?? null;
		const request = msg.request;
		if (request === 'message' || request === 'private' || (request === undefined && msg.code === 'rate_limited')) {
			return this.inFlight;
		}
		return null;
	}

	handleError(msg) {
		this.lastError = msg;
		if (!this.joinedOnSocket && (msg.request === 'join_room' || msg.request === undefined)) {
			this.joinRefused(msg);
			return;
		}
		if (msg.request === 'history') {
			this.historyAskedAt = null;
			this.watchServer();
		}
		if (MODERATION_REQUESTS.has(msg.request)) {
			this.emit('moderation', { msg });
			return;
		}
		if (msg.code === 'muted') this.setMuted(parseUntil(msg.until), msg);
		const entry = this.errorEntry(msg);
		/* a private message has no client id to deduplicate it: one that may have arrived is not
		 * sent again without the person's say (Retry) */
		const unsure = msg.code === 'outcome_unknown' && entry?.to !== null;
		const paced = PACED_ERRORS.has(msg.code) && entry?.to === null;
		if (entry && (TRANSIENT_ERRORS.has(msg.code) || paced) && !unsure) {
			/* the same message goes again after the pause, before anything written after it */
			if (entry.state === 'sent') entry.state = 'queued';
			this.pause(msg.retry_after_ms);
			/* slow mode: the server did answer, it is not slow; the clock restarts on the resend */
			if (paced) this.headSince = null;
			if (this.inFlight === entry) this.answered({ flush: false });
			this.emit('outbox', { entry });
			this.scheduleFlush(Math.max(0, this.pauseUntil - Date.now()));
		} else if (entry) {
			this.outbox.fail(entry.clientId);
			if (this.inFlight === entry) this.answered();
			this.emit('outbox', { entry });
		}
		this.emit('server-error', { msg, entry });
	}

	/* An error that answers our join_room. A final refusal closes the socket and stops; anything
	 * else (the broker away, …) is retried like a lost connection. */
	joinRefused(msg) {
		const code = JOIN_REFUSALS[msg.code];
		const ws = this.ws;
		this.ws = null;
		if (ws) this.closeSocket(ws, 1000, 'join refused');
		if (code === 4009 && this.retiring) {
			/* a renewal whose resume was not honoured: the old socket still holds the nickname */
			this.closeSocket(this.retiring, 1000, 'renewed');
			this.retiring = null;
			this.handleClose(1006, msg.message ?? '');
			return;
		}
		this.handleClose(code ?? 1013, msg.message ?? msg.code ?? '');
	}

	handleClose(code, reason) {
		this.stopTimers();
		clearTimeout(this.renewTimer); /* scheduled again by the next joined */
		this.renewTimer = null;
		this.releaseInFlight();
		this.joinAskedAt = null;
		this.historyAskedAt = null;
		this.watchServer();
		for (const entry of [...this.outbox.requeueSent(), ...this.outbox.failSentPrivates()]) {
			this.emit('outbox', { entry });
		}
		if (this.state === 'closed' || this.state === 'failed') return;
		const refusal = this.joinedOnSocket ? undefined : JOIN_REFUSALS[this.lastError?.code];
		if (!isFatalClose(code) && refusal !== undefined) code = refusal;
		if (code === 4001 && this.getToken && /expired/i.test(String(reason)) && this.authFailures < AUTH_RETRIES) {
			/* the token ran out: ask the hook for a new one and come back */
			this.authFailures += 1;
			this.token = null;
			code = 1006;
		}
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

	/* ---- the outbox: in order, one message in flight, paced ---- */

	/* Sends the oldest due outbox entry when the room is joined, nothing is in flight, no pause
	 * is running and the rate limit has room; the answer to it (ack, its event, an error) lets
	 * the next one go. */
	flush() {
		if (!this.joinedOnSocket || this.state !== 'connected' || this.inFlight) return;
		const entry = this.outbox.due()[0];
		if (!entry) return;
		const now = Date.now();
		const wait = Math.max(this.pauseUntil - now, this.pacer.wait(now));
		if (wait > 0) {
			this.scheduleFlush(wait);
			return;
		}
		const frame = entry.to === null
			? { type: 'message', room_id: this.roomId, text: entry.text, client_id: entry.clientId }
			: { type: 'private', room_id: this.roomId, to: entry.to, text: entry.text };
		if (!this.write(frame)) return;
		this.inFlight = entry;
		if (this.headSince === null) this.headSince = now; /* kept across transient refusals */
		this.outbox.markSent(entry.clientId);
		this.emit('outbox', { entry });
		this.watchServer();
	}

	/* The message in flight was answered: the next may go. */
	answered({ flush = true } = {}) {
		this.inFlight = null;
		if (flush) {
			this.transientDelay = TRANSIENT_RETRY_MS;
			this.headSince = null;
		}
		this.watchServer();
		if (flush) this.flush();
	}

	releaseInFlight() {
		this.inFlight = null;
		this.headSince = null;
		this.pauseUntil = 0;
		this.transientDelay = TRANSIENT_RETRY_MS;
	}

	/* A transient refusal: wait as the server says, else back off (doubling, with a cap). */
	pause(retryAfterMs) {
		let delay;
		if (Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
			delay = Math.min(RETRY_AFTER_MAX_MS, retryAfterMs);
		} else {
			delay = this.transientDelay;
			this.transientDelay = Math.min(TRANSIENT_RETRY_MAX_MS, this.transientDelay * 2);
		}
		this.pauseUntil = Date.now() + delay;
	}

	scheduleFlush(delay) {
		if (this.flushTimer !== null) return;
		this.flushTimer = setTimeout(() => {
			this.flushTimer = null;
			this.flush();
		}, delay);
	}

	/* Writes a frame on the joined socket; every frame counts against the rate limit. */
	write(frame) {
		const ws = this.ws;
		if (this.state !== 'connected' || !this.joinedOnSocket || !ws || ws.readyState !== ws.OPEN) return false;
		ws.send(JSON.stringify(frame));
		this.pacer.take(Date.now());
		return true;
	}

	/* ---- waiting for the server ---- */

	/* Emits server-wait when the oldest unanswered request (the join, the first message not yet
	 * accepted — counted from its first try, so that refusals while the broker is stalled do not
	 * restart the clock —, a history page) passes SERVER_WAIT_MS, and when none is left. */
	watchServer() {
		clearTimeout(this.waitTimer);
		this.waitTimer = null;
		const asked = [this.joinAskedAt, this.headSince, this.historyAskedAt].filter((t) => t !== null);
		if (asked.length === 0) {
			this.setServerWait(false);
			return;
		}
		const left = Math.min(...asked) + this.serverWaitMs - Date.now();
		if (left <= 0) {
			this.setServerWait(true);
			return;
		}
		this.setServerWait(false);
		this.waitTimer = setTimeout(() => this.watchServer(), left);
	}

	setServerWait(waiting) {
		if (this.serverWait === waiting) return;
		this.serverWait = waiting;
		this.emit('server-wait', { waiting });
	}

	/* ---- token renewal ---- */

	/* Before the token expires, a new one is fetched and the socket replaced by one that presents
	 * it and resumes this session (the server hands the nickname over without a leave). */
	scheduleRenewal() {
		clearTimeout(this.renewTimer);
		this.renewTimer = null;
		if (!this.getToken || this.tokenRenewAt === null) return;
		this.renewTimer = setTimeout(() => this.renewToken(), Math.max(0, this.tokenRenewAt - Date.now()));
	}

	async renewToken() {
		this.renewTimer = null;
		const attempt = this.attempt;
		const token = await Promise.resolve(this.getToken({ user: this.user, room: this.roomId })).catch(() => null);
		if (attempt !== this.attempt || this.state !== 'connected' || !this.session) return;
		if (typeof token !== 'string' || token === '') return; /* the server closes at expiry; we ask again then */
		this.setToken(token);
		const old = this.ws;
		this.ws = null;
		if (old) {
			this.detach(old);
			this.retiring = old;
		}
		this.stopTimers();
		this.releaseInFlight();
		for (const entry of this.outbox.requeueSent()) this.emit('outbox', { entry });
		this.attempt += 1;
		this.open();
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
		clearTimeout(this.muteTimer);
		this.muteTimer = null;
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
