// rooms-view.js — the room list (name and live member count, refreshed every few seconds while
// the list is on screen and the tab is visible) and the "create a room" form.

import { ApiError, createRoom, listRooms } from './api.js';
import { config } from './config.js';
import { byId, el } from './dom.js';
import { t } from './i18n.js';
import { checkRoom } from './validate.js';

export class RoomsView {
	/* onPick({id, name}) is called when the person chooses a room. */
	constructor({ onPick }) {
		this.onPick = onPick;
		this.section = byId('view-rooms');
		this.heading = byId('rooms-heading');
		this.list = byId('room-list');
		this.status = byId('rooms-status');
		this.notice = byId('rooms-notice');
		this.createBox = byId('create-room');
		this.createForm = byId('create-form');
		this.createId = byId('create-id');
		this.createName = byId('create-name');
		this.createError = byId('create-error');
		this.items = new Map(); /* room id -> {li, name, count, button, room} */
		this.extra = new Map(); /* room id -> {id, name} of rooms created here */
		this.rooms = null; /* the last list received, for redrawing in another language */
		this.active = false;
		this.timer = null;
		this.inflight = null;
		this.failed = false;
		this.createForm.addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.submitCreate();
		});
		document.addEventListener('visibilitychange', () => this.onVisibility());
	}

	/* notice: an optional sentence to show above the list (why the person is back here). */
	show(notice = '') {
		this.section.hidden = false;
		this.notice.textContent = notice;
		this.notice.hidden = notice === '';
		this.active = true;
		this.refresh();
		this.heading.focus();
	}

	hide() {
		this.section.hidden = true;
		this.active = false;
		this.stopPolling();
	}

	/* {id, name} of a listed (or just created) room, or null. */
	lookup(id) {
		return this.items.get(id)?.room ?? this.extra.get(id) ?? null;
	}

	/* A room the list may not hold yet (just created): its name is kept for the nickname form. */
	remember(room) {
		this.extra.set(room.id, { id: room.id, name: room.name });
	}

	relabel() {
		if (this.rooms) this.render(this.rooms);
		else this.status.textContent = this.failed ? t('rooms.error') : t('rooms.loading');
	}

	onVisibility() {
		if (!this.active) return;
		if (document.visibilityState === 'hidden') this.stopPolling();
		else this.refresh();
	}

	stopPolling() {
		clearTimeout(this.timer);
		this.timer = null;
		this.inflight?.abort();
		this.inflight = null;
	}

	/* Fetches the list now, then again every config.pollMs while active and visible. */
	async refresh() {
		this.stopPolling();
		const controller = new AbortController();
		this.inflight = controller;
		try {
			const rooms = await listRooms(controller.signal);
			if (controller.signal.aborted) return;
			this.failed = false;
			this.rooms = rooms;
			this.render(rooms);
		} catch (err) {
			if (controller.signal.aborted) return;
			this.failed = true;
			this.status.textContent = t('rooms.error');
			this.status.hidden = false;
		} finally {
			if (this.inflight === controller) this.inflight = null;
		}
		if (this.active && document.visibilityState !== 'hidden' && !controller.signal.aborted) {
			this.timer = setTimeout(() => this.refresh(), config.pollMs);
		}
	}

	/* Updates the list in place, so that a focused "Join" button keeps its focus across refreshes. */
	render(rooms) {
		this.status.hidden = rooms.length > 0;
		this.status.textContent = rooms.length ? '' : t('rooms.empty');
		const seen = new Set();
		rooms.forEach((room, index) => {
			seen.add(room.id);
			let item = this.items.get(room.id);
			if (!item) {
				item = this.createItem(room);
				this.items.set(room.id, item);
			}
			const name = typeof room.name === 'string' && room.name !== '' ? room.name : room.id;
			const count = Number.isInteger(room.users_count) ? room.users_count : 0;
			item.room = { id: room.id, name };
			item.name.textContent = name;
			item.count.textContent = t('rooms.users', { n: count });
			item.count.dataset.count = String(count);
			item.button.textContent = t('rooms.join');
			item.button.setAttribute('aria-label', t('rooms.join.label', { room: name }));
			if (this.list.children[index] !== item.li) this.list.insertBefore(item.li, this.list.children[index] ?? null);
		});
		for (const [id, item] of this.items) {
			if (!seen.has(id)) {
				item.li.remove();
				this.items.delete(id);
			}
		}
	}

	createItem(room) {
		const name = el('div', { class: 'room-name' });
		const count = el('div', { class: 'room-users' });
		const button = el('button', { class: 'join-btn', attrs: { type: 'button' } });
		const li = el('li', { class: 'room-item', data: { roomId: room.id } },
			el('div', { class: 'room-info' }, name, count), button);
		const item = { li, name, count, button, room };
		button.addEventListener('click', () => this.onPick(item.room));
		return item;
	}

	async submitCreate() {
		const id = this.createId.value.trim();
		const checked = checkRoom(id, this.createName.value);
		this.setCreateError('');
		if (!checked.ok) {
			this.setCreateError(t(`rooms.create.err.${checked.error}`), checked.error === 'id' ? this.createId : this.createName);
			return;
		}
		try {
			await createRoom(checked.id, checked.name);
		} catch (err) {
			this.setCreateError(this.explainCreateError(err));
			return;
		}
		this.createForm.reset();
		this.createBox.open = false;
		this.onPick({ id: checked.id, name: checked.name });
	}

	explainCreateError(err) {
		if (err instanceof ApiError) {
			if (err.status === 409) return t('rooms.create.err.exists');
			if (err.status === 403) return t('rooms.create.err.forbidden');
			if (err.status === 400) return t('rooms.create.err.id');
		}
		return t('rooms.create.err.other', { reason: err?.message ?? String(err) });
	}

	setCreateError(text, field = null) {
		this.createError.textContent = text;
		this.createError.hidden = text === '';
		for (const input of [this.createId, this.createName]) input.removeAttribute('aria-invalid');
		if (field) {
			field.setAttribute('aria-invalid', 'true');
			field.focus();
		}
	}
}
