/* bucket.c — the per-connection rate limit. Integer milli-tokens: no drift, no floats. */
#include "bucket.h"

void
bucket_init(struct bucket *b, uint32_t rate, uint32_t burst, uint64_t now_ns)
{
	b->rate_mt = (uint64_t)rate * 1000;
	b->burst_mt = (uint64_t)(burst ? burst : 1) * 1000;
	b->tokens_mt = b->burst_mt;
	b->last_ns = now_ns;
}

bool
bucket_take(struct bucket *b, uint64_t now_ns)
{
	if (now_ns > b->last_ns) {
		uint64_t dt = now_ns - b->last_ns;
		/* Refill in whole milli-tokens; keep the remainder of the time for next call. */
		uint64_t gained =
		    dt / 1000000 * b->rate_mt / 1000 + dt % 1000000 * b->rate_mt / 1000000000;
		if (gained > 0) {
			b->tokens_mt += gained;
			if (b->tokens_mt > b->burst_mt)
				b->tokens_mt = b->burst_mt;
			b->last_ns = now_ns;
		}
	}
	if (b->tokens_mt < 1000)
		return false;
	b->tokens_mt -= 1000;
	return true;
}

uint64_t
bucket_wait_ms(const struct bucket *b)
{
	uint64_t need;

	if (b->tokens_mt >= 1000)
		return 0;
	need = 1000 - b->tokens_mt;
	if (b->rate_mt == 0)
		return UINT64_MAX;
	return (need * 1000 + b->rate_mt - 1) / b->rate_mt;
}
