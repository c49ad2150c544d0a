// message-list.js — the list of messages and notices in the chat view: how each item looks, the
// items still in the outbox (kept at the bottom until the server confirms them), following new
// items only when the person is at the bottom, and the "new messages" button otherwise. Every
// string from a person or the server goes in as text (dom.js); web addresses become links
// (links.js). The client's own words carry their key (data-l10n), and times their instant, so a
// language switch redraws them all.
//
// Moderation: a deleted message (a `message_deleted` event, or a tombstone in history) shows
// "message deleted" in place of its text. A "Delete" button, which calls onModerate, is on every
// message with a seq for moderators, and on one's own messages for a member connected with a
// token (setDeleteRights; which one, deleteChoice in moderation.js).

import { clear, el } from './dom.js';
import { language, t } from './i18n.js';
import { splitLinks } from './links.js';
import { deleteChoice } from './moderation.js';

const BOTTOM_SLACK_PX = 48; /* "at the bottom" within this distance */
export const MAX_ITEMS = 1000; /* oldest items are dropped beyond this, so a tab left open stays light */
export const FOLD_FROM = 3; /* this many join/leave notices in a row in the history fold into one line */

/* A text node of the client's own words that a language switch redraws: {key, params} or a
 * plain string (a server's words, shown as they came). */
function words(tag, cls, label) {
	if (typeof label === 'string') return el(tag, { class: cls, text: label });
	return el(tag, { class: cls, text: t(label.key, label.params),
		data: { l10n: label.key, l10nParams: JSON.stringify(label.params ?? {}) } });
}

/* A deletion's reason: the note when it is a non-empty string (docs/moderation.md), else null. */
function reasonOf(note) {
	return typeof note === 'string' && note !== '' ? note : null;
}

/* The words in place of a deleted message: "message deleted", with the reason when there is one. */
function deletedLabel(reason) {
	return reason !== null ? { key: 'chat.deleted.note', params: { note: reason } } : { key: 'chat.deleted' };
}

/* The message text with its http(s) addresses as links that open in a new tab without access to
 * this page (rel=noopener noreferrer). */
function messageText(text) {
	const node = el('div', { class: 'text' });
	for (const piece of splitLinks(text)) {
		node.append(piece.href ? el('a', { text: piece.text, attrs: { href: piece.href, target: '_blank',
			rel: 'noopener noreferrer nofollow' } }) : document.createTextNode(piece.text));
	}
	return node;
}

export class MessageList {
	/* list: the <ol>; newButton: the "new messages" button; onRetry(clientId) for "Retry";
	 * onEarlier() for "Load earlier messages"; onModerate(seq, sender, text, button, kind) for a
	 * message's "Delete" button (kind: 'moderator', or 'own' for a member's own message). */
	constructor({ list, newButton, onRetry, onEarlier = () => {}, onModerate = () => {} }) {
		this.list = list;
		this.onModerate = onModerate;
		this.rights = { moderator: false, withToken: false }; /* which "Delete" buttons are drawn */
		this.newButton = newButton;
		this.onRetry = onRetry;
		this.earlier = el('li', { class: 'load-earlier' },
			el('button', { class: 'link-btn', text: t('chat.earlier'), attrs: { type: 'button' }, data: { l10n: 'chat.earlier' } }));
		this.earlier.hidden = true;
		this.earlier.querySelector('button').addEventListener('click', () => onEarlier());
		this.pending = new Map(); /* client id -> li of a message not yet confirmed */
		this.unseen = 0;
		this.timeFormat = null;
		this.run = []; /* the history's current run of join/leave notices, for folding */
		this.newButton.addEventListener('click', () => this.scrollToBottom());
		this.list.addEventListener('scroll', () => {
			if (this.atBottom()) this.clearUnseen();
		});
		this.relabel();
	}

	reset() {
		this.rights = { moderator: false, withToken: false };
		clear(this.list);
		this.earlier.hidden = true;
		this.list.append(this.earlier);
		this.pending.clear();
		this.run = [];
		this.clearUnseen();
	}

	/* Redraws the client's words and every time in the current language. */
	relabel() {
		const lang = language();
		this.timeFormat = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' });
		this.dayTimeFormat = new Intl.DateTimeFormat(lang, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
		this.yearTimeFormat = new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
		for (const node of this.list.querySelectorAll('[data-l10n]')) {
			const params = JSON.parse(node.dataset.l10nParams || '{}');
			node.textContent = t(node.dataset.l10n, params);
			if (node.dataset.l10nLabel) node.setAttribute('aria-label', t(node.dataset.l10nLabel, params));
		}
		for (const node of this.list.querySelectorAll('time[datetime]')) this.setTime(node, new Date(node.getAttribute('datetime')));
		this.renderUnseen();
	}

	message(msg, own) {
		this.append(this.messageItem(msg, own), { own });
	}

	messageItem(msg, own) {
		const deleted = msg.deleted === true;
		const item = el('li', { class: `message ${own ? 'sent' : 'received'}${deleted ? ' deleted' : ''}`,
			data: { seq: msg.seq ?? '' } },
		el('div', { class: 'meta' }, el('span', { class: 'sender', text: msg.sender ?? '?' }), this.timeNode(msg.time)),
		/* a tombstone keeps the moderator's reason as note */
		deleted ? words('div', 'text', deletedLabel(reasonOf(msg.note))) : messageText(msg.message ?? ''));
		this.drawDeleteButton(item);
		return item;
	}

	/* What the person may delete: moderator (joined.role or a `role` frame said so) and
	 * withToken (the connection joined with a token). Every message's button follows at once:
	 * others' messages come and go with the role, one's own keep theirs while there is a token. */
	setDeleteRights({ moderator, withToken }) {
		const rights = { moderator: moderator === true, withToken: withToken === true };
		if (rights.moderator === this.rights.moderator && rights.withToken === this.rights.withToken) return;
		this.rights = rights;
		for (const item of this.list.querySelectorAll(':scope > li.message[data-seq]:not(.system)')) this.drawDeleteButton(item);
	}

	/* The "Delete" button this message should have now (deleteChoice): drawn, swapped for the other
	 * kind, or removed. Own messages are the `.sent` ones (RoomState.isMe when they were drawn). */
	drawDeleteButton(item) {
		const kind = deleteChoice({ ...this.rights, own: item.classList.contains('sent'),
			seq: item.dataset.seq === '' ? null : Number(item.dataset.seq), deleted: item.classList.contains('deleted') });
		const old = item.querySelector('.mod-btn');
		if (old && old.dataset.kind === kind) return;
		const focused = old !== null && old === document.activeElement;
		old?.remove();
		if (kind === null) {
			if (focused) this.list.focus();
			return;
		}
		const seq = Number(item.dataset.seq);
		const sender = item.querySelector('.sender')?.textContent ?? '';
		const label = kind === 'own' ? 'mod.message.own' : 'mod.message';
		const button = el('button', { class: 'mod-btn link-btn', text: t('mod.message.btn'),
			attrs: { type: 'button', 'aria-label': t(label, { user: sender }), 'aria-haspopup': 'dialog' },
			data: { kind, l10n: 'mod.message.btn', l10nLabel: label, l10nParams: JSON.stringify({ user: sender }) } });
		button.addEventListener('click', () => this.onModerate(seq, sender, item.querySelector('.text')?.textContent ?? '', button, kind));
		item.querySelector('.meta').append(button);
		if (focused) button.focus();
	}

	/* The message with this seq was deleted: its text becomes "message deleted", with the
	 * moderator's reason when one was given (note), here and for everyone (no notice line). A
	 * tombstone from history gains the reason of a replayed message_deleted. Returns true when
	 * the bubble changed. */
	markDeleted(seq, note = null) {
		const item = this.list.querySelector(`:scope > li.message[data-seq="${Number(seq)}"]:not(.system)`);
		const reason = reasonOf(note);
		if (!item || (item.classList.contains('deleted') && reason === null)) return false;
		const focused = item.contains(document.activeElement);
		item.classList.add('deleted');
		item.querySelector('.mod-btn')?.remove();
		item.querySelector('.text').replaceWith(words('div', 'text', deletedLabel(reason)));
		if (focused) this.list.focus();
		return true;
	}

	privateMessage(msg, own) {
		const who = own ? { key: 'chat.private.to', params: { user: msg.to } } : String(msg.from ?? '?');
		this.append(el('li', { class: `message private ${own ? 'sent' : 'received'}` },
			el('div', { class: 'meta' },
				words('span', 'sender', who),
				words('span', 'tag', { key: 'chat.private.tag' }),
				this.timeNode(msg.time)),
			messageText(msg.message ?? '')), { own });
	}

	/* label: {key, params} (redrawn on a language switch) or a string. kind: 'system'
	 * (join/leave) or 'warning' (something the person should notice). history: a replayed
	 * join/leave, folded with its neighbours. */
	notice(label, { kind = 'system', time = null, seq = null, history = false } = {}) {
		const item = this.noticeItem(label, { kind, time, seq });
		if (history && kind === 'system') {
			this.foldNotice(item);
			return;
		}
		this.append(item, { own: false });
	}

	noticeItem(label, { kind = 'system', time = null, seq = null } = {}) {
		const item = el('li', { class: `message system${kind === 'warning' ? ' warning' : ''}`,
			data: seq === null ? {} : { seq } }, words('span', 'text', label));
		if (time) item.append(this.timeNode(time));
		return item;
	}

	/* "Load earlier messages" at the top: shown while there is more, disabled while loading. */
	showEarlier({ visible, busy = false }) {
		this.earlier.hidden = !visible;
		this.earlier.querySelector('button').disabled = busy;
	}

	/* Items from an earlier history page go on top, oldest first, and what the person sees stays
	 * where it was. */
	prepend(items) {
		const before = this.list.scrollHeight;
		this.earlier.after(...items);
		this.list.scrollTop += this.list.scrollHeight - before;
	}

	/* A run of FOLD_FROM or more join/leave notices in the history becomes one line, "5 joins and
	 * leaves", that opens to show them (a native <details>). */
	foldNotice(item) {
		this.run.push(item);
		if (this.run.length < FOLD_FROM) {
			this.append(item, { own: false, keepRun: true });
			return;
		}
		let fold = this.run[0].closest('li.fold');
		if (!fold) {
			const summary = el('summary', {});
			const inner = el('ol', { class: 'fold-items' });
			fold = el('li', { class: 'message system fold' }, el('details', {}, summary, inner));
			this.list.insertBefore(fold, this.run[0]);
			for (const earlier of this.run.slice(0, -1)) inner.append(earlier);
		}
		fold.querySelector('.fold-items').append(item);
		const n = this.run.length;
		const summary = fold.querySelector('summary');
		summary.textContent = t('chat.fold', { n });
		summary.dataset.l10n = 'chat.fold';
		summary.dataset.l10nParams = JSON.stringify({ n });
	}

	/* The line between the replayed history and what happens from now on. */
	divider() {
		this.append(el('li', { class: 'divider', attrs: { role: 'separator' } },
			words('span', 'text', { key: 'chat.divider' })), { own: false });
	}

	timeNode(iso) {
		const date = typeof iso === 'string' ? new Date(iso) : new Date();
		if (Number.isNaN(date.getTime())) return el('time', { class: 'time' });
		const node = el('time', { class: 'time', attrs: { datetime: date.toISOString() } });
		this.setTime(node, date);
		return node;
	}

	/* The time alone for today, with the day for other days, with the year for other years. */
	setTime(node, date, now = new Date()) {
		if (Number.isNaN(date.getTime())) return;
		let format = this.timeFormat;
		if (date.getFullYear() !== now.getFullYear()) format = this.yearTimeFormat;
		else if (date.toDateString() !== now.toDateString()) format = this.dayTimeFormat;
		node.textContent = format.format(date);
		node.setAttribute('title', date.toLocaleString(language()));
	}

	/* Adds an item above the pending messages. The list follows it only when the person was
	 * already at the bottom, or it is their own; otherwise the "new messages" button counts it. */
	append(item, { own, keepRun = false }) {
		if (!keepRun) this.run = [];
		const follow = own || this.atBottom();
		this.list.insertBefore(item, this.list.querySelector(':scope > .pending'));
		while (this.list.childElementCount > MAX_ITEMS + this.pending.size + 1) this.earlier.nextElementSibling.remove();
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

	/* ---- outbox entries ---- */

	addPending(entry, nickname, connected) {
		const item = el('li', { class: `message sent pending${entry.to ? ' private' : ''}`, data: { clientId: entry.clientId } },
			el('div', { class: 'meta' },
				words('span', 'sender', entry.to ? { key: 'chat.private.to', params: { user: entry.to } } : nickname),
				el('span', { class: 'status' })),
			messageText(entry.text));
		this.pending.set(entry.clientId, item);
		this.list.append(item);
		this.updatePending(entry, connected);
		this.scrollToBottom();
	}

	/* Shows the entry's state: waiting for the connection, sending, or not sent (with Retry). */
	updatePending(entry, connected) {
		const item = this.pending.get(entry.clientId);
		if (!item) return;
		const status = item.querySelector('.status');
		item.dataset.state = entry.state;
		item.classList.toggle('failed', entry.state === 'failed');
		item.querySelector('.retry')?.remove();
		const key = entry.state === 'failed' ? 'chat.failed' : entry.state === 'queued' && !connected ? 'chat.queued' : 'chat.pending';
		status.textContent = t(key);
		status.dataset.l10n = key;
		delete status.dataset.l10nParams;
		if (entry.state === 'failed') {
			const retry = el('button', { class: 'retry link-btn', text: t('chat.retry'), attrs: { type: 'button' },
				data: { l10n: 'chat.retry' } });
			retry.addEventListener('click', () => this.onRetry(entry.clientId));
			item.querySelector('.meta').append(retry);
		}
	}

	/* A word on a pending item until its state changes ("slow mode: sending in 30 s"). */
	pendingNote(clientId, label) {
		const status = this.pending.get(clientId)?.querySelector('.status');
		if (!status) return;
		status.textContent = t(label.key, label.params);
		status.dataset.l10n = label.key;
		status.dataset.l10nParams = JSON.stringify(label.params ?? {});
	}

	dropPending(clientId) {
		this.pending.get(clientId)?.remove();
		this.pending.delete(clientId);
	}
}
