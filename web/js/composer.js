// composer.js — the message form: the textarea (Enter sends, Shift+Enter breaks the line, Enter
// that ends an IME composition does nothing), the "To" choice for private messages, the size
// check, and the typing signal (sent when typing starts, then at most every TYPING_REPEAT_MS,
// ended after TYPING_IDLE_MS of silence).

import { clear, el } from './dom.js';
import { t } from './i18n.js';
import { checkMessage } from './validate.js';

export const TYPING_REPEAT_MS = 3000;
export const TYPING_IDLE_MS = 6000;

export class Composer {
	/* onSend(text, to) sends (to is '' for the room); onTyping(active) sends the typing signal. */
	constructor({ form, input, recipient, error, onSend, onTyping }) {
		this.form = form;
		this.input = input;
		this.recipient = recipient;
		this.error = error;
		this.onSend = onSend;
		this.onTyping = onTyping;
		this.typingActive = false;
		this.typingSentAt = 0;
		this.typingIdle = null;
		this.others = [];
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.submit();
		});
		input.addEventListener('keydown', (ev) => {
			/* isComposing / 229: the Enter that ends a Korean or Japanese IME composition */
			if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
				ev.preventDefault();
				this.submit();
			}
		});
		input.addEventListener('input', () => this.onInput());
		recipient.addEventListener('change', () => this.relabel());
	}

	reset() {
		this.stopTyping({ silent: true });
		this.input.value = '';
		this.setError('');
		this.setRecipients([]);
	}

	focus() {
		this.input.focus();
	}

	relabel() {
		const to = this.recipient.value;
		this.form.classList.toggle('private', to !== '');
		this.input.setAttribute('placeholder', to ? t('chat.private.with', { user: to }) : t('chat.placeholder'));
		const everyone = this.recipient.querySelector('option[value=""]');
		if (everyone) everyone.textContent = t('chat.to.everyone');
	}

	/* The "To" choices: everyone, then each other member; keeps the choice while they stay. */
	setRecipients(others) {
		this.others = others;
		const chosen = this.recipient.value;
		clear(this.recipient);
		this.recipient.append(el('option', { text: t('chat.to.everyone'), attrs: { value: '' } }));
		for (const name of others) this.recipient.append(el('option', { text: name, attrs: { value: name } }));
		this.recipient.value = others.includes(chosen) ? chosen : '';
		this.relabel();
	}

	choose(name) {
		this.recipient.value = this.others.includes(name) ? name : '';
		this.relabel();
		this.input.focus();
	}

	onInput() {
		this.setError('');
		if (this.input.value.trim() === '') {
			this.stopTyping();
			return;
		}
		const now = Date.now();
		if (!this.typingActive || now - this.typingSentAt >= TYPING_REPEAT_MS) {
			this.onTyping(true);
			this.typingActive = true;
			this.typingSentAt = now;
		}
		clearTimeout(this.typingIdle);
		this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
	}

	/* silent: no frame. A room message ends the typing by itself (the others' hint clears on it,
	 * and madang-ws counts every frame against the sender's rate limit). */
	stopTyping({ silent = false } = {}) {
		clearTimeout(this.typingIdle);
		this.typingIdle = null;
		if (this.typingActive) {
			this.typingActive = false;
			if (!silent) this.onTyping(false);
		}
	}

	submit() {
		const text = this.input.value;
		const checked = checkMessage(text);
		if (!checked.ok) {
			if (checked.error === 'too_long') this.setError(t('chat.too.long', { n: checked.bytes }));
			if (checked.error === 'control') this.setError(t('chat.control'));
			this.input.focus();
			return;
		}
		const to = this.recipient.value;
		/* a private message is not seen by the others: their hint is cleared explicitly */
		this.stopTyping({ silent: to === '' });
		this.onSend(text, to);
		this.input.value = '';
		this.input.focus();
	}

	setError(text) {
		this.error.textContent = text;
		this.error.hidden = text === '';
	}
}
