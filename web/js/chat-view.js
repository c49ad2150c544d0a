// chat-view.js — the chat room on screen: messages and notices, the member list, typing hints,
// the composer (Enter sends, Shift+Enter breaks the line, private messages to a member), the
// connection state, and the "new messages" button when the person has scrolled up. Every string
// that came from a person or the server is set with textContent (dom.js), never parsed as HTML.

import { roomSocketUrl } from './config.js';
import { RoomConnection } from './connection.js';
import { byId, clear, el } from './dom.js';
import { language, t } from './i18n.js';
import { checkMessage } from './validate.js';

export const TYPING_REPEAT_MS = 3000; /* send "typing" at most this often while typing */
export const TYPING_IDLE_MS = 6000; /* silence after which typing ends (sent and shown) */
const BOTTOM_SLACK_PX = 48;
const ANNOUNCE_KEEP = 5;
const TRANSIENT_NOTICE_EVERY_MS = 5000;

export class ChatView {
	/* onJoined(room, nickname) after each successful join; onLeave() when the person leaves;
	 * onFatal(room, nickname, info) when the server refuses the connection for good. */
	constructor({ onJoined, onLeave, onFatal }) {
		this.onJoined = onJoined;
		this.onLeave = onLeave;
		this.onFatal = onFatal;
		this.section = byId('view-chat');
		this.title = byId('chat-title');
		this.conn = byId('conn-state');
		this.connText = byId('conn-text');
		this.connRetry = byId('conn-retry');
		this.list = byId('messages');
		this.newButton = byId('new-messages');
		this.members = byId('member-list');
		this.membersHeading = byId('members-heading');
		this.membersToggle = byId('members-toggle');
		this.typingLine = byId('typing');
		this.form = byId('message-form');
		this.recipient = byId('recipient');
		this.input = byId('message-input');
		this.composeError = byId('compose-error');
		this.announcer = byId('announcer');
		this.connection = null;
		this.room = null;
		this.pending = new Map(); /* client id -> li of a message not yet confirmed */
		this.typers = new Map(); /* nickname -> timer that hides their typing hint */
		this.unseen = 0;
		this.countdown = null;
		this.wasConnected = false;
		this.typingActive = false;
		this.typingSentAt = 0;
		this.typingIdle = null;
		this.transientNoticeAt = 0;
		this.timeFormat = null;

		byId('leave-btn').addEventListener('click', () => this.leave());
		this.connRetry.addEventListener('click', () => this.connection?.connectNow());
		this.newButton.addEventListener('click', () => {
			this.scrollToBottom();
			this.input.focus();
		});
		this.list.addEventListener('scroll', () => {
			if (this.atBottom()) this.clearUnseen();
		});
		this.membersToggle.addEventListener('click', () => {
			this.showMembers(this.membersToggle.getAttribute('aria-expanded') !== 'true');
		});
		this.section.addEventListener('keydown', (ev) => {
			if (ev.key === 'Escape' && this.section.classList.contains('show-members')) {
				this.showMembers(false);
				this.membersToggle.focus();
			}
		});
		this.form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.submit();
		});
		this.input.addEventListener('keydown', (ev) => {
			/* isComposing: Enter that ends a Korean/Japanese IME composition must not send. */
			if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
				ev.preventDefault();
				this.submit();
			}
		});
		this.input.addEventListener('input', () => this.onInput());
		this.recipient.addEventListener('change', () => this.updateComposer());
	}

	open(room, nickname) {
		this.room = { ...room };
		this.nickname = nickname;
		this.reset();
		this.section.hidden = false;
		this.title.textContent = this.room.name;
		document.title = `${this.room.name} · ${t('app.title')}`;
		const connection = new RoomConnection({ roomId: room.id, user: nickname, makeUrl: roomSocketUrl });
		this.connection = connection;
		connection.addEventListener('state', (ev) => this.showState(ev.detail));
		connection.addEventListener('joined', (ev) => this.joined(ev.detail));
		connection.addEventListener('room-event', (ev) => this.roomEvent(ev.detail));
		connection.addEventListener('typing', (ev) => this.typing(ev.detail.msg));
		connection.addEventListener('private', (ev) => this.privateMessage(ev.detail));
		connection.addEventListener('outbox', (ev) => this.updatePending(ev.detail.entry));
		connection.addEventListener('confirmed', (ev) => this.dropPending(ev.detail.entry.clientId));
		connection.addEventListener('server-error', (ev) => this.serverError(ev.detail.msg, ev.detail.entry));
		connection.addEventListener('fatal', (ev) => {
			this.close();
			this.onFatal(this.room, this.nickname, ev.detail);
		});
		connection.start();
		this.input.focus();
	}

	/* The id of the room this view is in, or null. */
	roomId() {
		return this.connection ? this.room.id : null;
	}

	/* The "Leave" button: close cleanly and go back to the list. */
	leave() {
		this.close();
		this.onLeave();
	}

	close() {
		this.stopTyping();
		this.connection?.leave();
		this.connection = null;
		clearInterval(this.countdown);
		this.countdown = null;
		for (const timer of this.typers.values()) clearTimeout(timer);
		this.typers.clear();
	}

	hide() {
		this.section.hidden = true;
	}

	reset() {
		clear(this.list);
		clear(this.members);
		clear(this.announcer);
		this.pending.clear();
		this.clearUnseen();
		this.wasConnected = false;
		this.input.value = '';
		this.setComposeError('');
		this.resetRecipients([]);
		this.renderTyping();
		this.showMembers(false);
		this.timeFormat = new Intl.DateTimeFormat(language(), { hour: '2-digit', minute: '2-digit' });
	}

	relabel() {
		if (!this.connection) return;
		this.timeFormat = new Intl.DateTimeFormat(language(), { hour: '2-digit', minute: '2-digit' });
		document.title = `${this.room.name} · ${t('app.title')}`;
		this.renderMembers();
		this.renderTyping();
		this.showState({ state: this.connection.state, retryAt: this.retryAt });
		for (const entry of this.connection.outbox.entries.values()) this.updatePending(entry);
		this.renderUnseen();
		this.updateComposer();
	}

	/* ---- connection state ---- */

	showState({ state, retryAt }) {
		const previous = this.conn.dataset.state;
		let shown = state;
		clearInterval(this.countdown);
		this.countdown = null;
		this.retryAt = retryAt;
		if (state === 'connecting') {
			shown = this.wasConnected ? 'reconnecting' : 'connecting';
			this.connText.textContent = this.wasConnected ? t('conn.reconnecting.now') : t('conn.connecting');
		} else if (state === 'waiting') {
			shown = 'reconnecting';
			const tick = () => {
				const seconds = Math.max(1, Math.ceil((retryAt - Date.now()) / 1000));
				this.connText.textContent = t('conn.reconnecting', { n: seconds });
			};
			tick();
			this.countdown = setInterval(tick, 250);
		} else if (state === 'connected') {
			this.connText.textContent = t('conn.connected');
		} else if (state === 'offline') {
			this.connText.textContent = t('conn.offline');
		} else {
			shown = 'closed';
			this.connText.textContent = t('conn.closed');
		}
		this.conn.dataset.state = shown;
		this.connRetry.hidden = !(state === 'waiting' || state === 'offline');
		if (state === 'connected') {
			if (this.wasConnected && previous !== 'connected') this.announce(t('conn.announce.back'));
			this.wasConnected = true;
		} else if (previous === 'connected' && (shown === 'reconnecting' || shown === 'offline')) {
			this.announce(t('conn.announce.lost'));
		}
		for (const entry of this.connection?.outbox.entries.values() ?? []) this.updatePending(entry);
	}

	/* ---- events from the server ---- */

	joined({ msg, first, lost }) {
		if (typeof msg.name === 'string' && msg.name !== '' && msg.name !== this.room.name) {
			this.room.name = msg.name;
			this.title.textContent = msg.name;
		}
		this.nickname = this.connection.user;
		this.renderMembers();
		if (lost) this.appendNotice(t('chat.not.recovered'), { kind: 'warning' });
		if (first) this.onJoined(this.room, this.nickname);
	}

	roomEvent({ msg, live, duplicate, confirmed }) {
		if (confirmed) this.dropPending(confirmed.clientId);
		if (duplicate) return;
		const state = this.connection.room;
		if (msg.type === 'message') {
			this.stopShowingTyping(msg.sender);
			const own = state.isMe(msg.sender);
			this.append(this.messageItem(msg, own), { own });
			if (live && !own) this.announce(t('chat.announce.message', { user: msg.sender, text: msg.message }));
		} else if (msg.type === 'join' || msg.type === 'leave') {
			if (live) this.renderMembers();
			if (msg.type === 'leave') this.stopShowingTyping(msg.user);
			if (msg.resync === true) return; /* a member list repair after a broker restart, not news */
			const text = t(msg.type === 'join' ? 'chat.joined' : 'chat.left', { user: msg.user });
			this.appendNotice(text, { time: msg.time, seq: msg.seq });
			if (live) this.announce(text);
		} else if (msg.type === 'room_deleted') {
			this.appendNotice(t('chat.room.deleted'), { kind: 'warning', time: msg.time });
		}
	}

	privateMessage({ msg, confirmed }) {
		if (confirmed) this.dropPending(confirmed.clientId);
		const own = this.connection.room.isMe(msg.from);
		this.append(this.privateItem(msg, own), { own });
		if (!own) this.announce(t('chat.announce.private', { user: msg.from, text: msg.message }));
	}

	typing(msg) {
		if (typeof msg.user !== 'string') return;
		clearTimeout(this.typers.get(msg.user));
		if (msg.active) {
			this.typers.set(msg.user, setTimeout(() => this.stopShowingTyping(msg.user), TYPING_IDLE_MS));
		} else {
			this.typers.delete(msg.user);
		}
		this.renderTyping();
	}

	serverError(msg, entry) {
		const transient = msg.code === 'rate_limited' || msg.code === 'broker_unavailable';
		if (transient) {
			if (Date.now() - this.transientNoticeAt < TRANSIENT_NOTICE_EVERY_MS) return;
			this.transientNoticeAt = Date.now();
		}
		let text;
		if (msg.code === 'rate_limited') text = t('chat.err.rate_limited');
		else if (msg.code === 'broker_unavailable') text = t('chat.err.unavailable');
		else if (msg.code === 'no_such_user') text = t('chat.err.no_such_user', { user: entry?.to ?? '?' });
		else text = t('chat.err.generic', { reason: msg.message || msg.code || '?' });
		this.appendNotice(text, { kind: 'warning' });
		this.announce(text);
	}

	/* ---- message list ---- */

	messageItem(msg, own) {
		return el('li', { class: `message ${own ? 'sent' : 'received'}`, data: { seq: msg.seq ?? '' } },
			el('div', { class: 'meta' }, el('span', { class: 'sender', text: msg.sender ?? '?' }), this.timeNode(msg.time)),
			el('div', { class: 'text', text: msg.message ?? '' }));
	}

	privateItem(msg, own) {
		const who = own ? t('chat.private.to', { user: msg.to }) : msg.from;
		return el('li', { class: `message private ${own ? 'sent' : 'received'}` },
			el('div', { class: 'meta' },
				el('span', { class: 'sender', text: who }),
				el('span', { class: 'tag', text: t('chat.private.tag') }),
				this.timeNode(msg.time)),
			el('div', { class: 'text', text: msg.message ?? '' }));
	}

	appendNotice(text, { kind = 'system', time = null, seq = null } = {}) {
		const item = el('li', { class: `message system${kind === 'warning' ? ' warning' : ''}`,
			data: seq === null ? {} : { seq } }, el('span', { class: 'text', text }));
		if (time) item.append(this.timeNode(time));
		this.append(item, { own: false });
	}

	timeNode(iso) {
		const date = typeof iso === 'string' ? new Date(iso) : new Date();
		if (Number.isNaN(date.getTime())) return el('time', { class: 'time' });
		return el('time', { class: 'time', text: this.timeFormat.format(date),
			attrs: { datetime: date.toISOString(), title: date.toLocaleString(language()) } });
	}

	/* Adds an item above the pending messages. The list follows it only when the person was
	 * already at the bottom, or it is their own message; otherwise the "new messages" button
	 * counts it. */
	append(item, { own }) {
		const follow = own || this.atBottom();
		this.list.insertBefore(item, this.list.querySelector(':scope > .pending'));
		if (follow) {
			this.scrollToBottom();
		} else {
			this.unseen += 1;
			this.renderUnseen();
		}
	}

	atBottom() {
		return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight <= BOTTOM_SLACK_PX;
	}

	scrollToBottom() {
		this.list.scrollTop = this.list.scrollHeight;
		this.clearUnseen();
	}

	clearUnseen() {
		this.unseen = 0;
		this.renderUnseen();
	}

	renderUnseen() {
		this.newButton.hidden = this.unseen === 0;
		this.newButton.textContent = this.unseen > 1 ? t('chat.new.count', { n: this.unseen }) : t('chat.new');
	}

	/* ---- pending (outbox) messages ---- */

	addPending(entry) {
		const status = el('span', { class: 'status' });
		const item = el('li', { class: `message sent pending${entry.to ? ' private' : ''}`, data: { clientId: entry.clientId } },
			el('div', { class: 'meta' },
				el('span', { class: 'sender', text: entry.to ? t('chat.private.to', { user: entry.to }) : this.nickname }),
				status),
			el('div', { class: 'text', text: entry.text }));
		this.pending.set(entry.clientId, item);
		this.list.append(item);
		this.updatePending(entry);
		this.scrollToBottom();
	}

	updatePending(entry) {
		const item = this.pending.get(entry.clientId);
		if (!item) return;
		const status = item.querySelector('.status');
		const connected = this.connection?.state === 'connected';
		item.dataset.state = entry.state;
		item.classList.toggle('failed', entry.state === 'failed');
		item.querySelector('.retry')?.remove();
		if (entry.state === 'failed') {
			status.textContent = t('chat.failed');
			const retry = el('button', { class: 'retry link-btn', text: t('chat.retry'), attrs: { type: 'button' } });
			retry.addEventListener('click', () => {
				this.connection?.retry(entry.clientId);
				this.input.focus();
			});
			item.querySelector('.meta').append(retry);
		} else {
			status.textContent = entry.state === 'queued' && !connected ? t('chat.queued') : t('chat.pending');
		}
	}

	dropPending(clientId) {
		this.pending.get(clientId)?.remove();
		this.pending.delete(clientId);
	}

	/* ---- members, typing ---- */

	/* The member panel on phones (on wide screens it is always shown and the toggle hidden). */
	showMembers(open) {
		this.membersToggle.setAttribute('aria-expanded', String(open));
		this.section.classList.toggle('show-members', open);
	}

	renderMembers() {
		const state = this.connection?.room;
		if (!state) return;
		clear(this.members);
		for (const name of state.members) {
			if (state.isMe(name)) {
				this.members.append(el('li', { class: 'member me' }, el('span', { text: name }), ' ',
					el('span', { class: 'you', text: t('chat.you') })));
			} else {
				const button = el('button', { class: 'member-btn', text: name,
					attrs: { type: 'button', 'aria-label': t('chat.private.with', { user: name }) } });
				button.addEventListener('click', () => {
					this.recipient.value = name;
					this.updateComposer();
					this.showMembers(false);
					this.input.focus();
				});
				this.members.append(el('li', { class: 'member' }, button));
			}
		}
		const count = state.members.length;
		this.membersHeading.textContent = t('chat.members', { n: count });
		this.membersToggle.textContent = t('chat.members', { n: count });
		this.membersToggle.dataset.count = String(count);
		this.resetRecipients(state.members.filter((m) => !state.isMe(m)));
	}

	/* The "To" choices: everyone, then each other member; keeps the choice while they stay. */
	resetRecipients(others) {
		const chosen = this.recipient.value;
		clear(this.recipient);
		this.recipient.append(el('option', { text: t('chat.to.everyone'), attrs: { value: '' } }));
		for (const name of others) this.recipient.append(el('option', { text: name, attrs: { value: name } }));
		this.recipient.value = others.includes(chosen) ? chosen : '';
		this.updateComposer();
	}

	updateComposer() {
		const to = this.recipient.value;
		this.form.classList.toggle('private', to !== '');
		this.input.setAttribute('placeholder', to ? t('chat.private.with', { user: to }) : t('chat.placeholder'));
	}

	stopShowingTyping(user) {
		if (!this.typers.has(user)) return;
		clearTimeout(this.typers.get(user));
		this.typers.delete(user);
		this.renderTyping();
	}

	renderTyping() {
		const names = [...this.typers.keys()];
		let text = '';
		if (names.length === 1) text = t('chat.typing.one', { a: names[0] });
		else if (names.length === 2) text = t('chat.typing.two', { a: names[0], b: names[1] });
		else if (names.length > 2) text = t('chat.typing.many');
		this.typingLine.textContent = text;
	}

	/* ---- composing ---- */

	onInput() {
		this.setComposeError('');
		if (this.input.value.trim() === '') {
			this.stopTyping();
			return;
		}
		const now = Date.now();
		if (!this.typingActive || now - this.typingSentAt >= TYPING_REPEAT_MS) {
			this.connection?.sendTyping(true);
			this.typingActive = true;
			this.typingSentAt = now;
		}
		clearTimeout(this.typingIdle);
		this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
	}

	/* silent: the typing ended because a message was sent. The message event already tells the
	 * others (their hint clears on it), so no frame is spent on it; madang-ws counts every frame
	 * against the sender's rate limit. */
	stopTyping({ silent = false } = {}) {
		clearTimeout(this.typingIdle);
		this.typingIdle = null;
		if (this.typingActive) {
			this.typingActive = false;
			if (!silent) this.connection?.sendTyping(false);
		}
	}

	submit() {
		const text = this.input.value;
		const checked = checkMessage(text);
		if (!checked.ok) {
			if (checked.error === 'too_long') this.setComposeError(t('chat.too.long', { n: checked.bytes }));
			this.input.focus();
			return;
		}
		const to = this.recipient.value;
		/* a private message is not seen by the others: their hint is cleared explicitly */
		this.stopTyping({ silent: to === '' });
		const entry = to ? this.connection.sendPrivate(to, text) : this.connection.sendMessage(text);
		this.addPending(entry);
		this.input.value = '';
		this.input.focus();
	}

	setComposeError(text) {
		this.composeError.textContent = text;
		this.composeError.hidden = text === '';
	}

	announce(text) {
		this.announcer.append(el('p', { text }));
		while (this.announcer.childElementCount > ANNOUNCE_KEEP) this.announcer.firstElementChild.remove();
	}
}

