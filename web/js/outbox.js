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
		this.entries = new Map(); /* client id -> {clientId, text, to, state} in sending order */
	}

	/* Adds a message; state is 'queued' until it is written to an open socket. */
	add(text, to = null) {
		this.counter += 1;
		const entry = { clientId: `${this.prefix}-${this.counter}`, text, to, state: 'queued' };
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
		if (entry) entry.state = 'queued';
		return entry ?? null;
	}

	/* The socket closed: whatever was written but not confirmed may be lost, so it is due again. */
	requeueSent() {
		for (const entry of this.entries.values()) if (entry.state === 'sent') entry.state = 'queued';
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
