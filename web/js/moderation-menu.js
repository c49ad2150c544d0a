// moderation-menu.js — the moderation dialog of the chat view (a native modal <dialog>): for a
// member, kick, mute for 10 min or 1 h, and ban; for a message, delete; each with an optional
// reason (docs/moderation.md), counted and checked alike. Moderators, owners and admins open it
// on members and messages; a member connected with a token only on its own messages, to delete
// one (chat-view.js and message-list.js draw the buttons that open it). Escape or "Cancel"
// closes it, and the focus goes back to the button that opened it (or, when that one is gone,
// to a fallback).

import { byId } from './dom.js';
import { t } from './i18n.js';
import { MUTE_CHOICES_S, NOTE_MAX_BYTES, checkNote } from './moderation.js';

export class ModerationMenu {
	/* onAction(type, fields): type kick | ban | mute | delete_message; fields {user, seq, durationS,
	 * note, own} (own: a member deleting its own message). fallbackFocus(target): the element to
	 * focus when the opener left the page (a member list redrawn meanwhile). */
	constructor({ onAction, fallbackFocus }) {
		this.dialog = byId('mod-dialog');
		this.heading = byId('mod-title');
		this.quote = byId('mod-quote');
		this.reason = byId('mod-reason');
		this.count = byId('mod-count');
		this.error = byId('mod-error');
		this.memberActions = byId('mod-member-actions');
		this.messageActions = byId('mod-message-actions');
		this.onAction = onAction;
		this.fallbackFocus = fallbackFocus;
		this.target = null; /* {user} or {seq, user, own} */
		this.opener = null;
		this.errorKey = null;
		this.reason.addEventListener('input', () => this.showCount());
		this.reason.addEventListener('keydown', (ev) => {
			if (ev.key === 'Enter') ev.preventDefault(); /* Enter picks no action by itself */
		});
		this.dialog.addEventListener('close', () => this.closed());
		for (const button of this.dialog.querySelectorAll('button[data-action]')) {
			button.addEventListener('click', () => this.act(button.dataset.action));
		}
	}

	/* The menu for a member of the room. */
	openMember(user, opener) {
		this.target = { user };
		this.open(opener, { key: 'mod.dialog.member', params: { user } }, false);
	}

	/* The menu for the message with this seq, sent by user; text is shown as a quote. own: it is
	 * the person's own message, deleted as a member ("Delete your message?"). */
	openMessage(seq, user, text, opener, { own = false } = {}) {
		this.target = { seq, user, own };
		this.quote.textContent = text;
		this.open(opener, own ? { key: 'mod.dialog.own' } : { key: 'mod.dialog.message', params: { user } }, true);
	}

	open(opener, heading, message) {
		this.opener = opener;
		this.headingKey = heading;
		this.messageMode = message;
		this.reason.value = '';
		this.setError(null);
		this.quote.hidden = !message;
		this.memberActions.hidden = message;
		this.messageActions.hidden = !message;
		this.relabel();
		this.dialog.showModal();
		this.reason.focus();
	}

	/* The {user} or {seq, user, own} the open dialog is about, or null. */
	current() {
		return this.target;
	}

	isOpen() {
		return this.dialog.open;
	}

	close() {
		if (this.dialog.open) this.dialog.close();
	}

	/* The dialog closed (an action, Cancel, Escape): the focus goes back where it came from. The
	 * close event comes a task after the closing: when the dialog was opened again meanwhile
	 * (Escape, then Enter on a menu button at once), it belongs to the closing before and must
	 * not forget the new target, or the action picked next would do nothing. */
	closed() {
		if (this.dialog.open) return;
		const opener = this.opener;
		const target = this.target;
		this.opener = null;
		this.target = null;
		if (opener?.isConnected && !opener.disabled) opener.focus();
		else this.fallbackFocus(target)?.focus();
	}

	relabel() {
		if (!this.isOpen() && this.target === null) return;
		this.heading.textContent = t(this.headingKey.key, this.headingKey.params);
		this.showCount();
		if (this.errorKey) this.error.textContent = t(this.errorKey.key, this.errorKey.params);
	}

	/* "12 / 256 bytes" under the reason, red over the limit. */
	showCount() {
		const checked = checkNote(this.reason.value);
		this.count.textContent = t('mod.reason.count', { n: checked.bytes, max: NOTE_MAX_BYTES });
		this.count.classList.toggle('over', checked.error === 'too_long');
		if (checked.ok) this.reason.removeAttribute('aria-invalid');
		else this.reason.setAttribute('aria-invalid', 'true');
		if (checked.ok && this.errorKey) this.setError(null);
	}

	setError(error) {
		this.errorKey = error;
		this.error.hidden = !error;
		this.error.textContent = error ? t(error.key, error.params) : '';
	}

	act(action) {
		if (action === 'cancel' || this.target === null) {
			this.close();
			return;
		}
		const target = this.target;
		const checked = checkNote(this.reason.value);
		if (!checked.ok) {
			this.setError(checked.error === 'too_long'
				? { key: 'mod.reason.too.long', params: { n: checked.bytes, max: NOTE_MAX_BYTES } }
				: { key: 'mod.reason.control' });
			this.reason.focus();
			return;
		}
		const note = checked.note;
		if (action === 'delete') this.onAction('delete_message', { seq: target.seq, note, own: target.own === true });
		else if (action === 'kick') this.onAction('kick', { user: target.user, note });
		else if (action === 'ban') this.onAction('ban', { user: target.user, note });
		else if (action.startsWith('mute-')) {
			const durationS = Number(action.slice(5));
			if (!MUTE_CHOICES_S.includes(durationS)) return;
			this.onAction('mute', { user: target.user, durationS, note });
		}
		this.close();
	}
}
