// outbox.js — messages the person has sent that the server has not yet confirmed. Each carries a
// client id; the server echoes it in the message event, which confirms exactly that entry. After a
// reconnect every unconfirmed entry is sent again with the same id, and the broker drops a repeat
// it has already published, so a message is delivered once whether or not the first try got
// through. Pure: the connection decides when to send.

export class Outbox {
	/* prefix: a random string unique to this page, so ids never collide between tabs. */
	constructor(prefix) {
		this.prefix = prefix;
		this.counter = 0;
		this.entries = new Map(); /* client id -> {clientId, text, to, state, tries} in sending order */
	}

	/* Adds a message; state is 'queued' until it is written to an open socket. */
	add(text, to = null) {
		this.counter += 1;
		const entry = { clientId: `${this.prefix}-${this.counter}`, text, to, state: 'queued', tries: 0 };
		this.entries.set(entry.clientId, entry);
		return entry;
	}

	markSent(clientId) {
		const entry = this.entries.get(clientId);
		if (entry) entry.state = 'sent';
		return entry ?? null;
	}

	/* The server published it: the entry leaves the outbox. Returns it, or null if unknown. */
	confirm(clientId) {
		const entry = this.entries.get(clientId) ?? null;
		if (entry) this.entries.delete(clientId);
		return entry;
	}

	/* The server refused it for good (too long, …): it stays visible but is not retried. */
	fail(clientId) {
		const entry = this.entries.get(clientId);
		if (entry) entry.state = 'failed';
		return entry ?? null;
	}

	/* A failed entry the person asked to send again. */
	retry(clientId) {
		const entry = this.entries.get(clientId);
		if (entry) {
			entry.state = 'queued';
			entry.tries = 0;
		}
		return entry ?? null;
	}

	/* Messages written but not confirmed may be lost (socket closed, frame refused unread): they are
	 * due again. Safe, since the broker drops a repeated client id. Returns the entries changed. */
	requeueSent() {
		return this.changeSent((entry) => entry.to === null, 'queued');
	}

	/* Private messages have no client id and are not deduplicated, so one that may be lost is
	 * marked failed for the person to retry, never resent silently. Returns the entries changed. */
	failSentPrivates() {
		return this.changeSent((entry) => entry.to !== null, 'failed');
	}

	/* The oldest private message written and not yet answered, with this text if one is given. */
	sentPrivate(text = null) {
		for (const entry of this.entries.values()) {
			if (entry.to !== null && entry.state === 'sent' && (text === null || entry.text === text)) return entry;
		}
		return null;
	}

	changeSent(which, state) {
		const changed = [];
		for (const entry of this.entries.values()) {
			if (entry.state === 'sent' && which(entry)) {
				entry.state = state;
				changed.push(entry);
			}
		}
		return changed;
	}

	/* Entries due on the next open socket, oldest first. */
	due() {
		return [...this.entries.values()].filter((entry) => entry.state === 'queued');
	}

	get size() {
		return this.entries.size;
	}
}

/* A short random prefix for client ids; crypto.getRandomValues works on plain http too. */
export function randomPrefix(cryptoImpl = globalThis.crypto) {
	const bytes = new Uint8Array(6);
	cryptoImpl.getRandomValues(bytes);
	return `c${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
