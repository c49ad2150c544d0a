// composer.js — the message form: the textarea (Enter sends, Shift+Enter breaks the line, Enter
// that ends an IME composition does nothing), the "To" choice for private messages with its
// "whisper to X ✕" chip, the size check and count, and the typing signal (sent when typing
// starts, then at most every TYPING_REPEAT_MS, ended after TYPING_IDLE_MS of silence).
//
// A message written to one person never goes to the room by itself: when the recipient leaves,
// the choice stays (marked as gone) and sending is refused until the writer picks someone else
// or removes the recipient. Text over the limit is kept whole and refused, never shortened.
//
// Moderation: while the person is muted, the line above the textarea says until when and Enter
// is refused (the draft stays); in slow mode the same line gives the interval.

import { clear, el } from './dom.js';
import { language, t } from './i18n.js';
import { formatUntil } from './moderation.js';
import { MESSAGE_MAX_BYTES, checkMessage, utf8Length } from './validate.js';

export const TYPING_REPEAT_MS = 3000;
export const TYPING_IDLE_MS = 6000;
/* The count under the textarea shows from this many bytes on (and always when over the limit). */
export const COUNT_FROM_BYTES = Math.floor((MESSAGE_MAX_BYTES * 3) / 4);

export class Composer {
	/* onSend(text, to) sends (to is '' for the room); onTyping(active) sends the typing signal. */
	constructor({ form, input, recipient, chip, count, error, status, onSend, onTyping }) {
		this.form = form;
		this.input = input;
		this.recipient = recipient;
		this.chip = chip;
		this.count = count;
		this.error = error;
		this.status = status; /* the moderation line: muted until …, slow mode */
		this.mutedUntil = null; /* epoch ms */
		this.slowModeS = 0;
		this.slowExempt = false;
		this.to = ''; /* the chosen recipient ('' = everyone), kept while they are away */
		this.errorKey = null;
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
		recipient.addEventListener('change', () => {
			this.to = recipient.value;
			this.setError('');
			this.setRecipients(this.others); /* a "(left)" choice goes once another is made */
		});
		chip.querySelector('button').addEventListener('click', () => {
			this.to = '';
			this.setError('');
			this.setRecipients(this.others);
			this.input.focus();
		});
	}

	reset() {
		this.stopTyping({ silent: true });
		this.input.value = '';
		this.to = '';
		this.setError('');
		this.setRecipients([]);
		this.setModeration({ mutedUntil: null, slowModeS: 0, exempt: false });
		this.showCount();
	}

	/* mutedUntil: epoch ms or null; slowModeS: the room's interval (0 = off); exempt: the person
	 * is a moderator, owner or admin, whom slow mode does not hold. */
	setModeration({ mutedUntil = this.mutedUntil, slowModeS = this.slowModeS, exempt = this.slowExempt } = {}) {
		this.mutedUntil = mutedUntil;
		this.slowModeS = slowModeS;
		this.slowExempt = exempt;
		if (mutedUntil === null && this.errorKey?.key === 'compose.muted.error') this.setError('');
		this.showStatus();
	}

	showStatus() {
		let text = '';
		if (this.mutedUntil !== null) text = t('compose.muted', { until: formatUntil(this.mutedUntil, language()) });
		else if (this.slowModeS > 0) text = t(this.slowExempt ? 'compose.slow.exempt' : 'compose.slow', { n: this.slowModeS });
		this.status.textContent = text;
		this.status.hidden = text === '';
		this.status.classList.toggle('muted-line', this.mutedUntil !== null);
		this.form.classList.toggle('muted', this.mutedUntil !== null);
	}

	focus() {
		this.input.focus();
	}

	/* The recipient is chosen but not in the room (left, reloading, …). */
	recipientGone() {
		return this.to !== '' && !this.others.includes(this.to);
	}

	relabel() {
		const to = this.to;
		const gone = this.recipientGone();
		this.form.classList.toggle('private', to !== '');
		this.input.setAttribute('placeholder', to ? t('chat.private.with', { user: to }) : t('chat.placeholder'));
		const everyone = this.recipient.querySelector('option[value=""]');
		if (everyone) everyone.textContent = t('chat.to.everyone');
		const away = this.recipient.querySelector('option.gone');
		if (away) away.textContent = t('chat.to.gone', { user: to });
		this.chip.hidden = to === '';
		this.chip.classList.toggle('gone', gone);
		this.chip.querySelector('.chip-text').textContent = gone
			? t('chat.whisper.chip.gone', { user: to }) : t('chat.whisper.chip', { user: to });
		this.chip.querySelector('button').setAttribute('aria-label', t('chat.whisper.clear', { user: to }));
		if (this.errorKey) this.error.textContent = t(this.errorKey.key, this.errorKey.params);
		this.showStatus();
		this.showCount();
	}

	/* The "To" choices: everyone, then each other member. A chosen recipient who is not in the
	 * room stays chosen, as a "(left)" choice, until the writer changes it. */
	setRecipients(others) {
		this.others = others;
		clear(this.recipient);
		this.recipient.append(el('option', { text: t('chat.to.everyone'), attrs: { value: '' } }));
		for (const name of others) this.recipient.append(el('option', { text: name, attrs: { value: name } }));
		if (this.recipientGone()) {
			this.recipient.append(el('option', { class: 'gone', text: '', attrs: { value: this.to } }));
		} else if (this.errorKey?.key === 'chat.to.gone.error') {
			this.setError(''); /* they came back */
		}
		this.recipient.value = this.to;
		this.relabel();
	}

	choose(name) {
		if (!this.others.includes(name)) return;
		this.to = name;
		this.setError('');
		this.setRecipients(this.others);
		this.input.focus();
	}

	onInput() {
		this.setError('');
		this.showCount();
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

	/* "3500 / 4096 characters" under the textarea once the text nears the limit; in characters, with the
	 * bytes (what the limit counts) only when they differ from the characters. */
	showCount() {
		const text = this.input.value;
		const bytes = text.length * 3 < COUNT_FROM_BYTES ? text.length : utf8Length(text);
		const over = bytes > MESSAGE_MAX_BYTES;
		this.count.hidden = bytes < COUNT_FROM_BYTES;
		this.count.classList.toggle('over', over);
		if (over) this.input.setAttribute('aria-invalid', 'true');
		else this.input.removeAttribute('aria-invalid');
		if (this.count.hidden) return;
		const chars = [...text].length;
		this.count.textContent = chars === bytes
			? t('chat.count', { n: chars, max: MESSAGE_MAX_BYTES })
			: t('chat.count.bytes', { n: chars, bytes, max: MESSAGE_MAX_BYTES });
	}

	submit() {
		const text = this.input.value;
		const checked = checkMessage(text);
		if (!checked.ok) {
			if (checked.error === 'too_long') this.setError({ key: 'chat.too.long', params: { n: checked.bytes } });
			if (checked.error === 'control') this.setError({ key: 'chat.control' });
			this.input.focus();
			return;
		}
		if (this.mutedUntil !== null) {
			this.setError({ key: 'compose.muted.error', params: { until: formatUntil(this.mutedUntil, language()) } });
			this.input.focus();
			return;
		}
		if (this.recipientGone()) {
			this.setError({ key: 'chat.to.gone.error', params: { user: this.to } });
			this.input.focus();
			return;
		}
		const to = this.to;
		/* a private message is not seen by the others: their hint is cleared explicitly */
		this.stopTyping({ silent: to === '' });
		this.onSend(text, to);
		this.input.value = '';
		this.showCount();
		this.input.focus();
	}

	/* error: {key, params} (shown again in the new language after a switch), or '' to clear. */
	setError(error) {
		this.errorKey = error || null;
		this.error.textContent = error ? t(error.key, error.params) : '';
		this.error.hidden = !error;
	}
}
