// chat-view.js — the chat room on screen. It follows one RoomConnection and draws what happens:
// messages and notices (message-list.js), the composer (composer.js), the member list, who is
// typing, the connection state, and announcements for screen readers. Moderators, owners and
// admins (joined.role, then `role` frames) also get a menu on each member and message
// (moderation-menu.js); a member connected with a token gets the message's one on its own
// messages, to delete them.

import { Composer, TYPING_IDLE_MS } from './composer.js';
import { getToken, socketUrl } from './config.js';
import { RoomConnection, TRANSIENT_ERRORS } from './connection.js';
import { byId, clear, el } from './dom.js';
import { language, t } from './i18n.js';
import { MessageList } from './message-list.js';
import { ModerationMenu } from './moderation-menu.js';
import { canModerate, formatUntil, roleNotice } from './moderation.js';

const ANNOUNCE_KEEP = 5; /* lines kept in the live region */
const TRANSIENT_NOTICE_EVERY_MS = 5000; /* "too fast" / "briefly unavailable" at most this often */
export const EARLIER_PAGE = 50; /* events asked for by one "Load earlier messages" */

export class ChatView {
	/* onJoined(room, nickname) after the first successful join; onLeave() when the person leaves;
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
		this.serverWait = byId('server-wait');
		this.members = byId('member-list');
		this.membersHeading = byId('members-heading');
		this.membersToggle = byId('members-toggle');
		this.typingLine = byId('typing');
		this.announcer = byId('announcer');
		this.connection = null;
		this.room = null;
		this.typers = new Map(); /* nickname -> timer that hides their typing hint */
		this.countdown = null;
		this.retryAt = 0;
		this.wasConnected = false;
		this.transientNoticeAt = 0;
		this.unread = 0; /* messages from others while the tab was hidden, shown in the title */
		document.addEventListener('visibilitychange', () => {
			if (document.visibilityState !== 'visible' || this.unread === 0) return;
			this.unread = 0;
			this.setTitle();
		});
		this.messages = new MessageList({
			list: byId('messages'),
			newButton: byId('new-messages'),
			onRetry: (clientId) => {
				this.connection?.retry(clientId);
				this.composer.focus();
			},
			onEarlier: () => this.loadEarlier(),
			onModerate: (seq, sender, text, button, kind) => this.menu.openMessage(seq, sender, text, button, { own: kind === 'own' }),
		});
		this.menu = new ModerationMenu({
			onAction: (type, fields) => this.moderate(type, fields),
			fallbackFocus: (target) => (target?.user !== undefined && target.seq === undefined
				? this.members.querySelector(`.mod-member-btn[data-user="${CSS.escape(target.user)}"]`) : null)
				?? this.composer.input,
		});
		this.asked = new Map(); /* moderation command -> its fields, to explain an error */
		this.composer = new Composer({
			form: byId('message-form'),
			input: byId('message-input'),
			recipient: byId('recipient'),
			chip: byId('whisper-chip'),
			count: byId('compose-count'),
			error: byId('compose-error'),
			status: byId('compose-mod'),
			onSend: (text, to) => this.send(text, to),
			onTyping: (active) => this.connection?.sendTyping(active),
		});

		byId('leave-btn').addEventListener('click', () => this.leave());
		this.connRetry.addEventListener('click', () => this.connection?.connectNow());
		byId('new-messages').addEventListener('click', () => this.composer.focus());
		this.membersToggle.addEventListener('click', () => {
			this.showMembers(this.membersToggle.getAttribute('aria-expanded') !== 'true');
		});
		this.section.addEventListener('keydown', (ev) => {
			if (ev.key === 'Escape' && this.section.classList.contains('show-members')) {
				this.showMembers(false);
				this.membersToggle.focus();
			}
		});
	}

	open(room, nickname) {
		this.room = { ...room };
		this.nickname = nickname;
		this.reset();
		this.section.hidden = false;
		this.title.textContent = this.room.name;
		this.setTitle();
		const connection = new RoomConnection({ roomId: room.id, user: nickname, makeUrl: socketUrl, getToken });
		this.connection = connection;
		connection.addEventListener('state', (ev) => this.showState(ev.detail));
		connection.addEventListener('joined', (ev) => this.joined(ev.detail));
		connection.addEventListener('room-event', (ev) => this.roomEvent(ev.detail));
		connection.addEventListener('typing', (ev) => this.typing(ev.detail.msg));
		connection.addEventListener('private', (ev) => this.privateMessage(ev.detail));
		connection.addEventListener('outbox', (ev) => this.messages.updatePending(ev.detail.entry, this.connected()));
		connection.addEventListener('confirmed', (ev) => this.messages.dropPending(ev.detail.entry.clientId));
		connection.addEventListener('server-error', (ev) => this.serverError(ev.detail.msg, ev.detail.entry));
		connection.addEventListener('history', (ev) => this.earlierPage(ev.detail.msg));
		connection.addEventListener('muted', (ev) => this.muted(ev.detail));
		connection.addEventListener('unmuted', () => this.unmuted());
		connection.addEventListener('moderation', (ev) => this.moderationAnswer(ev.detail.msg));
		connection.addEventListener('role', (ev) => this.roleChanged(ev.detail));
		connection.addEventListener('server-wait', (ev) => {
			this.serverWait.hidden = !ev.detail.waiting;
		});
		connection.addEventListener('fatal', (ev) => {
			this.close();
			this.onFatal(this.room, this.nickname, ev.detail);
		});
		connection.start();
		this.composer.focus();
	}

	/* The room's name became known (from the API) before the server's joined said it. */
	rename(id, name) {
		if (this.roomId() !== id || this.room.name === name) return;
		this.room.name = name;
		this.title.textContent = name;
		this.setTitle();
	}

	/* The id of the room this view is in, or null. */
	roomId() {
		return this.connection ? this.room.id : null;
	}

	connected() {
		return this.connection?.state === 'connected';
	}

	/* The "Leave" button: close cleanly and go back to the list. */
	leave() {
		this.close();
		this.onLeave();
	}

	close() {
		this.menu.close();
		this.composer.stopTyping();
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
		this.messages.reset();
		this.messages.relabel();
		this.composer.reset();
		clear(this.members);
		clear(this.announcer);
		this.serverWait.hidden = true;
		this.oldestSeq = null; /* the lowest seq shown; "load earlier" asks below it */
		this.wasConnected = false;
		this.unread = 0;
		this.renderTyping();
		this.showMembers(false);
	}

	relabel() {
		if (!this.connection) return;
		this.setTitle();
		this.messages.relabel();
		this.composer.relabel();
		this.menu.relabel();
		this.renderMembers();
		this.renderTyping();
		this.showState({ state: this.connection.state, retryAt: this.retryAt });
	}

	send(text, to) {
		const entry = to ? this.connection.sendPrivate(to, text) : this.connection.sendMessage(text);
		this.messages.addPending(entry, this.nickname, this.connected());
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
		for (const entry of this.connection?.outbox.entries.values() ?? []) {
			this.messages.updatePending(entry, state === 'connected');
		}
	}

	/* ---- events from the server ---- */

	joined({ msg, first, lost }) {
		if (typeof msg.name === 'string' && msg.name !== '' && msg.name !== this.room.name) {
			this.room.name = msg.name;
			this.title.textContent = msg.name;
			this.setTitle();
		}
		this.nickname = this.connection.user;
		this.composer.setModeration({ mutedUntil: this.connection.mutedUntil, slowModeS: this.connection.slowModeS });
		this.showRole();
		if (lost) this.messages.notice({ key: 'chat.not.recovered' }, { kind: 'warning' });
		this.messages.showEarlier({ visible: !this.messages.earlier.hidden }); /* a page asked on a lost socket */
		if (first) {
			this.firstHistory = true; /* until the first live event: the history of the room */
			this.historySeen = false;
			this.onJoined(this.room, this.nickname);
		}
	}

	roomEvent({ msg, live, gap, duplicate, confirmed }) {
		if (confirmed) this.messages.dropPending(confirmed.clientId);
		if (duplicate) return;
		if (Number.isInteger(msg.seq) && (this.oldestSeq === null || msg.seq < this.oldestSeq)) {
			this.oldestSeq = msg.seq;
			this.messages.showEarlier({ visible: msg.seq > 1 });
		}
		if (gap) this.messages.notice({ key: 'chat.not.recovered' }, { kind: 'warning' });
		const history = !live && this.firstHistory;
		if (history) this.historySeen = true;
		if (live && this.firstHistory) {
			this.firstHistory = false;
			if (this.historySeen) this.messages.divider();
		}
		const state = this.connection.room;
		if (msg.type === 'message_deleted') {
			/* the bubble says "message deleted" (with the reason); no notice line (docs/moderation.md) */
			this.messages.markDeleted(msg.deleted_seq, msg.note);
			if (this.menu.current()?.seq === msg.deleted_seq) this.menu.close();
			return;
		}
		if (msg.type === 'slow_mode') {
			const n = Number.isInteger(msg.interval_s) ? msg.interval_s : 0;
			const label = n > 0 ? { key: 'chat.slow.on', params: { by: msg.by ?? '?', n } }
				: { key: 'chat.slow.off', params: { by: msg.by ?? '?' } };
			if (live) this.composer.setModeration({ slowModeS: this.connection.slowModeS });
			this.messages.notice(label, { time: msg.time, seq: msg.seq });
			if (live) this.announce(t(label.key, label.params));
			return;
		}
		if (msg.type === 'message') {
			this.stopShowingTyping(msg.sender);
			const own = state.isMe(msg.sender);
			this.messages.message(msg, own);
			if (live && !own) {
				this.announce(t('chat.announce.message', { user: msg.sender, text: msg.message }));
				this.countUnread();
			}
		} else if (msg.type === 'join' || msg.type === 'leave') {
			if (live) this.renderMembers();
			if (msg.type === 'leave') this.stopShowingTyping(msg.user);
			if (msg.resync === true) return; /* a member list repair after a broker restart, not news */
			const label = this.joinLeaveLabel(msg);
			this.messages.notice(label, { time: msg.time, seq: msg.seq, history });
			if (live) this.announce(t(label.key, label.params));
		} else if (msg.type === 'room_deleted') {
			this.messages.notice({ key: 'chat.room.deleted' }, { kind: 'warning', time: msg.time });
		}
	}

	/* "bob joined.", "bob left.", or, for a member a moderator removed, "bob was removed by alice:
	 * spam" (reason kicked or banned, with by and the note). */
	joinLeaveLabel(msg) {
		if (msg.type === 'leave' && (msg.reason === 'kicked' || msg.reason === 'banned')) {
			const note = typeof msg.note === 'string' && msg.note !== '' ? msg.note : null;
			const key = `chat.${msg.reason}${note ? '.note' : ''}`;
			return { key, params: { user: msg.user, by: msg.by ?? '?', ...(note ? { note } : {}) } };
		}
		return { key: msg.type === 'join' ? 'chat.joined' : 'chat.left', params: { user: msg.user } };
	}

	/* ---- moderation ---- */

	/* Draws what the connection's role allows: the menus on members and messages (or none, and
	 * an open dialog closes, unless it deletes one's own message and the connection still has a
	 * token), and slow mode's exemption in the line above the composer. Also after every joined,
	 * since a reconnect may come with another role or without a token. */
	showRole() {
		const moderator = canModerate(this.connection.role);
		const withToken = this.connection.withToken;
		this.messages.setDeleteRights({ moderator, withToken });
		if (!moderator && !(this.menu.current()?.own === true && withToken)) this.menu.close();
		this.composer.setModeration({ exempt: moderator });
		this.renderMembers();
	}

	/* Our role changed in the room (a `role` frame, or a reconnect's joined): the menus follow at
	 * once, without a rejoin, and a notice says what we are now. */
	roleChanged({ role, previous }) {
		this.showRole();
		const key = roleNotice(previous, role);
		if (!key) return;
		this.messages.notice({ key }, { kind: 'system' });
		this.announce(t(key));
	}

	/* An action chosen in the menu: the command goes to the server; its effect comes back as
	 * events (a leave, message_deleted, …), a refusal as a moderation error. */
	moderate(type, fields) {
		this.asked.set(type, fields);
		if (this.connection?.moderate(type, fields)) return;
		/* not connected: a moderation command is not queued (it may no longer fit when back) */
		this.messages.notice({ key: 'mod.err.offline' }, { kind: 'warning' });
		this.announce(t('mod.err.offline'));
	}

	/* `done` of a kick, ban or delete needs nothing: its effect arrives as events everyone sees.
	 * A mute has no event for the room, so the moderator is told here. An error is explained in
	 * words. */
	moderationAnswer(msg) {
		if (msg.type === 'done') {
			const asked = this.asked.get(msg.request);
			if (msg.request !== 'mute' || !asked) return;
			const label = { key: 'mod.done.mute', params: { user: asked.user, n: Math.round(asked.durationS / 60) } };
			this.messages.notice(label, { kind: 'system' });
			this.announce(t(label.key, label.params));
			return;
		}
		if (msg.type !== 'error') return;
		const user = this.asked.get(msg.request)?.user ?? msg.user ?? '?';
		let label;
		if (msg.code === 'forbidden' && msg.request === 'delete_message') {
			/* one's own message: the server could not tell it was ours (sent before it kept the
			 * sender's subject, or by someone who had the nickname before) */
			label = { key: this.asked.get('delete_message')?.own === true ? 'mod.err.forbidden.own' : 'mod.err.forbidden.message' };
		} else if (msg.code === 'forbidden') label = { key: 'mod.err.forbidden', params: { user } };
		else if (msg.code === 'no_such_user') label = { key: 'mod.err.no_such_user', params: { user } };
		else if (msg.code === 'no_such_message') label = { key: 'mod.err.no_such_message' };
		else if (msg.code === 'too_many_bans') label = { key: 'mod.err.too_many_bans' };
		else label = { key: 'mod.err.other', params: { reason: msg.message || msg.code || '?' } };
		this.messages.notice(label, { kind: 'warning' });
		this.announce(t(label.key, label.params));
	}

	/* We were muted (a moderator's `muted`, joined's muted_until, or a refusal that said so). */
	muted({ msg, until }) {
		this.composer.setModeration({ mutedUntil: until });
		const when = formatUntil(until, language());
		let label;
		if (msg?.type === 'muted' && typeof msg.by === 'string') {
			const note = typeof msg.note === 'string' && msg.note !== '' ? msg.note : null;
			label = { key: note ? 'chat.muted.note' : 'chat.muted', params: { by: msg.by, until: when, ...(note ? { note } : {}) } };
		} else {
			label = { key: 'chat.muted.now', params: { until: when } };
		}
		this.messages.notice(label, { kind: 'warning' });
		this.announce(t(label.key, label.params));
	}

	unmuted() {
		this.composer.setModeration({ mutedUntil: null });
		this.messages.notice({ key: 'chat.unmuted' }, { kind: 'system' });
		this.announce(t('chat.unmuted'));
	}

	/* "Load earlier messages": the page of events below the oldest one shown. */
	loadEarlier() {
		if (this.oldestSeq === null || this.oldestSeq <= 1) return;
		if (this.connection?.loadEarlier(this.oldestSeq, EARLIER_PAGE)) this.messages.showEarlier({ visible: true, busy: true });
	}

	/* The answer: its events go on top (messages and join/leave notices; nothing else is stored).
	 * The button stays while the server keeps events older than the oldest shown. */
	earlierPage(msg) {
		const events = Array.isArray(msg.events) ? msg.events : [];
		const state = this.connection.room;
		const items = [];
		let oldest = this.oldestSeq;
		for (const event of events) {
			if (!Number.isInteger(event?.seq) || (oldest !== null && event.seq >= this.oldestSeq)) continue;
			if (event.type === 'message') items.push(this.messages.messageItem(event, state.isMe(event.sender)));
			else if (event.type === 'join' || event.type === 'leave') {
				if (event.resync === true) continue;
				items.push(this.messages.noticeItem(this.joinLeaveLabel(event), { time: event.time, seq: event.seq }));
			} else continue;
			if (oldest === null || event.seq < oldest) oldest = event.seq;
		}
		this.oldestSeq = oldest;
		this.messages.prepend(items);
		/* first_seq: the oldest event the server still keeps */
		const kept = Number.isInteger(msg.first_seq) ? msg.first_seq : 1;
		this.messages.showEarlier({ visible: items.length > 0 && (oldest ?? 0) > Math.max(1, kept) });
	}

	privateMessage({ msg, confirmed }) {
		if (confirmed) this.messages.dropPending(confirmed.clientId);
		const own = this.connection.room.isMe(msg.from);
		this.messages.privateMessage(msg, own);
		if (!own) {
			this.announce(t('chat.announce.private', { user: msg.from, text: msg.message }));
			this.countUnread();
		}
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
		if (msg.request === 'history') this.messages.showEarlier({ visible: true }); /* may be asked again */
		if (msg.code === 'rate_limited' && entry) return; /* the outbox waits and sends it again by itself */
		if (msg.code === 'muted') return; /* the muted notice and the send box say it */
		if (msg.code === 'slow_mode' && entry) {
			/* the outbox sends it again when the server said; the pending item says when */
			const n = Math.max(1, Math.ceil(Number(msg.retry_after_ms ?? 0) / 1000));
			this.messages.pendingNote(entry.clientId, { key: 'compose.slow.wait', params: { n } });
			return;
		}
		if (TRANSIENT_ERRORS.has(msg.code) && !(msg.code === 'outcome_unknown' && entry?.to)) {
			if (Date.now() - this.transientNoticeAt < TRANSIENT_NOTICE_EVERY_MS) return;
			this.transientNoticeAt = Date.now();
		}
		let label;
		if (msg.code === 'outcome_unknown' && entry?.to) label = { key: 'chat.err.private.unknown', params: { user: entry.to } };
		else if (msg.code === 'rate_limited') label = { key: 'chat.err.rate_limited' };
		else if (TRANSIENT_ERRORS.has(msg.code)) label = { key: 'chat.err.unavailable' };
		else if (msg.code === 'no_such_user') label = { key: 'chat.err.no_such_user', params: { user: entry?.to ?? '?' } };
		else label = { key: 'chat.err.generic', params: { reason: msg.message || msg.code || '?' } };
		this.messages.notice(label, { kind: 'warning' });
		this.announce(t(label.key, label.params));
	}

	/* ---- title, members, typing, announcements ---- */

	/* "(3) room · madang" while messages arrive in a background tab. */
	setTitle() {
		const prefix = this.unread > 0 ? `(${this.unread}) ` : '';
		document.title = `${prefix}${this.room.name} · ${t('app.title')}`;
	}

	countUnread() {
		if (document.visibilityState !== 'hidden') return;
		this.unread += 1;
		this.setTitle();
	}

	/* The member panel on phones (on wide screens it is always shown and the toggle hidden). */
	showMembers(open) {
		this.membersToggle.setAttribute('aria-expanded', String(open));
		this.section.classList.toggle('show-members', open);
	}

	renderMembers() {
		const state = this.connection?.room;
		if (!state) return;
		clear(this.members);
		const moderator = canModerate(this.connection.role);
		const focusedMod = this.members.contains(document.activeElement) ? document.activeElement.dataset.user : undefined;
		for (const name of state.members) {
			if (state.isMe(name)) {
				this.members.append(el('li', { class: 'member me' }, el('span', { text: name }), ' ',
					el('span', { class: 'you', text: t('chat.you') })));
				continue;
			}
			const button = el('button', { class: 'member-btn', text: name,
				attrs: { type: 'button', 'aria-label': t('chat.private.with', { user: name }) } });
			button.addEventListener('click', () => {
				this.showMembers(false);
				this.composer.choose(name);
			});
			const item = el('li', { class: 'member' }, button);
			if (moderator) {
				/* the moderation menu: a real button per member, reachable by keyboard */
				const menu = el('button', { class: 'mod-member-btn secondary-btn', text: '⋯',
					attrs: { type: 'button', 'aria-label': t('mod.member', { user: name }), 'aria-haspopup': 'dialog' },
					data: { user: name } });
				menu.addEventListener('click', () => this.menu.openMember(name, menu));
				item.append(menu);
				item.classList.add('moderated');
			}
			this.members.append(item);
		}
		if (focusedMod !== undefined) {
			/* the list was redrawn under the keyboard user: keep the focus on that member's menu */
			this.members.querySelector(`.mod-member-btn[data-user="${CSS.escape(focusedMod)}"]`)?.focus();
		}
		const count = state.members.length;
		this.membersHeading.textContent = t('chat.members', { n: count });
		this.membersToggle.textContent = t('chat.members', { n: count });
		this.membersToggle.dataset.count = String(count);
		this.composer.setRecipients(state.members.filter((m) => !state.isMe(m)));
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

	announce(text) {
		this.announcer.append(el('p', { text }));
		while (this.announcer.childElementCount > ANNOUNCE_KEEP) this.announcer.firstElementChild.remove();
	}
}
