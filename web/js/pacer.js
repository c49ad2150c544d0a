// pacer.js — the client's copy of madang-ws's rate limit (a token bucket of `rate` frames per
// second holding at most `burst`, from the welcome's `limits`), so the outbox waits for room
// instead of sending a frame the server would refuse. It keeps PACER_MARGIN frames in hand for
// pings and typing hints, which go through the same limit. Pure: the caller gives the time.

export const PACER_MARGIN = 2;
const DEFAULT_RATE = 10; /* madang-ws's defaults, used until the welcome says otherwise */
const DEFAULT_BURST = 20;

export class Pacer {
	constructor(rate = DEFAULT_RATE, burst = DEFAULT_BURST) {
		this.configure(rate, burst, 0);
	}

	/* New limits (the welcome's rate and burst); the bucket starts full, as the server's does for a
	 * new connection. Values that are not positive numbers keep the defaults. */
	configure(rate, burst, now) {
		this.rate = Number.isFinite(rate) && rate > 0 ? rate : DEFAULT_RATE;
		this.burst = Number.isFinite(burst) && burst >= 1 ? burst : DEFAULT_BURST;
		this.tokens = this.burst;
		this.at = now;
	}

	refill(now) {
		if (now > this.at) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000);
		this.at = Math.max(this.at, now);
	}

	/* Milliseconds until a frame that must leave `reserve` tokens in the bucket may go (0: now). */
	wait(now, reserve = PACER_MARGIN) {
		this.refill(now);
		const keep = Math.min(reserve, this.burst - 1);
		const missing = keep + 1 - this.tokens;
		return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.rate);
	}

	/* A frame went out. */
	take(now) {
		this.refill(now);
		this.tokens -= 1;
	}
}
