// message-list.js — the list of messages and notices in the chat view: how each item looks, the
// items still in the outbox (kept at the bottom until the server confirms them), following new
// items only when the person is at the bottom, and the "new messages" button otherwise. Every
// string from a person or the server goes in as text (dom.js).

import { clear, el } from './dom.js';
import { language, t } from './i18n.js';

const BOTTOM_SLACK_PX = 48; /* "at the bottom" within this distance */
export const MAX_ITEMS = 1000; /* oldest items are dropped beyond this, so a tab left open stays light */

export class MessageList {
	/* list: the <ol>; newButton: the "new messages" button; onRetry(clientId) for "Retry". */
	constructor({ list, newButton, onRetry }) {
		this.list = list;
		this.newButton = newButton;
		this.onRetry = onRetry;
		this.pending = new Map(); /* client id -> li of a message not yet confirmed */
		this.unseen = 0;
		this.timeFormat = null;
		this.newButton.addEventListener('click', () => this.scrollToBottom());
		this.list.addEventListener('scroll', () => {
			if (this.atBottom()) this.clearUnseen();
		});
		this.relabel();
	}

	reset() {
		clear(this.list);
		this.pending.clear();
		this.clearUnseen();
	}

	relabel() {
		this.timeFormat = new Intl.DateTimeFormat(language(), { hour: '2-digit', minute: '2-digit' });
		this.renderUnseen();
	}

	message(msg, own) {
		this.append(el('li', { class: `message ${own ? 'sent' : 'received'}`, data: { seq: msg.seq ?? '' } },
			el('div', { class: 'meta' }, el('span', { class: 'sender', text: msg.sender ?? '?' }), this.timeNode(msg.time)),
			el('div', { class: 'text', text: msg.message ?? '' })), { own });
	}

	privateMessage(msg, own) {
		const who = own ? t('chat.private.to', { user: msg.to }) : msg.from;
		this.append(el('li', { class: `message private ${own ? 'sent' : 'received'}` },
			el('div', { class: 'meta' },
				el('span', { class: 'sender', text: who }),
				el('span', { class: 'tag', text: t('chat.private.tag') }),
				this.timeNode(msg.time)),
			el('div', { class: 'text', text: msg.message ?? '' })), { own });
	}

	/* kind: 'system' (join/leave) or 'warning' (something the person should notice). */
	notice(text, { kind = 'system', time = null, seq = null } = {}) {
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
	 * already at the bottom, or it is their own; otherwise the "new messages" button counts it. */
	append(item, { own }) {
		const follow = own || this.atBottom();
		this.list.insertBefore(item, this.list.querySelector(':scope > .pending'));
		while (this.list.childElementCount > MAX_ITEMS + this.pending.size) this.list.firstElementChild.remove();
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
				el('span', { class: 'sender', text: entry.to ? t('chat.private.to', { user: entry.to }) : nickname }),
				el('span', { class: 'status' })),
			el('div', { class: 'text', text: entry.text }));
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
		if (entry.state === 'failed') {
			status.textContent = t('chat.failed');
			const retry = el('button', { class: 'retry link-btn', text: t('chat.retry'), attrs: { type: 'button' } });
			retry.addEventListener('click', () => this.onRetry(entry.clientId));
			item.querySelector('.meta').append(retry);
		} else {
			status.textContent = entry.state === 'queued' && !connected ? t('chat.queued') : t('chat.pending');
		}
	}

	dropPending(clientId) {
		this.pending.get(clientId)?.remove();
		this.pending.delete(clientId);
	}
}
