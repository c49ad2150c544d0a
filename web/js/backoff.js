// backoff.js — reconnect delays: exponential from 0.25 s, doubling up to 5 s, each multiplied by a
// random factor in [0.5, 1.5) so that clients cut off together do not come back together. Pure.
// The first tries come quickly because most outages are a daemon's restart (a second or two),
// and the cap is low because a refused attempt costs the server almost nothing: a client is
// back at most 7.5 s after the server is (an earlier 20 s cap let it take up to 30 s).

export const BACKOFF_BASE_MS = 250;
export const BACKOFF_MAX_MS = 5000;
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
