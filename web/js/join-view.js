// join-view.js — the nickname form for the chosen room. The nickname is remembered in
// localStorage once a join succeeds; every refusal is explained in words.

import { byId } from './dom.js';
import { t } from './i18n.js';
import { checkNickname } from './validate.js';

const STORAGE_KEY = 'madang.nickname';

export function rememberedNickname() {
	try {
		return localStorage.getItem(STORAGE_KEY) ?? '';
	} catch {
		return ''; /* storage disabled */
	}
}

export function rememberNickname(nickname) {
	try {
		localStorage.setItem(STORAGE_KEY, nickname);
	} catch {
		/* storage disabled: the person types it again next time */
	}
}

export class JoinView {
	/* onJoin(room, nickname) when the form is valid; onBack() for "back to rooms". */
	constructor({ onJoin, onBack }) {
		this.onJoin = onJoin;
		this.section = byId('view-join');
		this.heading = byId('join-heading');
		this.form = byId('join-form');
		this.input = byId('nickname');
		this.error = byId('nick-error');
		this.room = null;
		this.errorKey = null;
		this.form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.submit();
		});
		byId('join-back').addEventListener('click', () => onBack());
	}

	/* error: {key, params} to explain why the person is asked again, or null. */
	show(room, { error = null, nickname = null } = {}) {
		this.room = room;
		this.section.hidden = false;
		this.input.value = nickname ?? rememberedNickname();
		this.relabel();
		this.setError(error);
		this.input.focus();
		this.input.select();
	}

	hide() {
		this.section.hidden = true;
	}

	/* The room's name became known (from the API) while the form shows its id. */
	rename(id, name) {
		if (this.room?.id !== id || this.room.name === name) return;
		this.room = { ...this.room, name };
		this.relabel();
		if (!this.section.hidden) document.title = `${name} · ${t('app.title')}`;
	}

	relabel() {
		if (this.room) this.heading.textContent = t('join.heading', { room: this.room.name });
		if (this.errorKey) this.error.textContent = t(this.errorKey.key, this.errorKey.params);
	}

	submit() {
		const checked = checkNickname(this.input.value);
		if (!checked.ok) {
			this.setError({ key: `nick.err.${checked.error}` });
			this.input.focus();
			return;
		}
		this.setError(null);
		this.onJoin(this.room, checked.value);
	}

	setError(error) {
		this.errorKey = error;
		this.error.textContent = error ? t(error.key, error.params) : '';
		this.error.hidden = !error;
		if (error) this.input.setAttribute('aria-invalid', 'true');
		else this.input.removeAttribute('aria-invalid');
	}
}
