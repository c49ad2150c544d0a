// backoff.js — reconnect delays: exponential from 0.5 s, doubling up to 20 s, each multiplied by a
// random factor in [0.5, 1.5) so that clients cut off together do not come back together. Pure.

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 20000;
export const BACKOFF_JITTER = 0.5;

export class Backoff {
	/* random: a function returning [0, 1) — Math.random in the browser, fixed in tests. */
	constructor({ base = BACKOFF_BASE_MS, max = BACKOFF_MAX_MS, jitter = BACKOFF_JITTER, random = Math.random } = {}) {
		this.base = base;
		this.max = max;
		this.jitter = jitter;
		this.random = random;
		this.attempt = 0;
	}

	/* The delay before the next attempt, in ms; each call counts one more failed attempt. */
	next() {
		const nominal = Math.min(this.max, this.base * 2 ** Math.min(this.attempt, 30));
		this.attempt += 1;
		const factor = 1 - this.jitter + 2 * this.jitter * this.random();
		return Math.round(nominal * factor);
	}

	/* After a connection that really worked (the server said "joined"). */
	reset() {
		this.attempt = 0;
	}
}
