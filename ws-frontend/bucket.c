/* bucket.c — the per-connection rate limit (integer milli-tokens: no drift, no floats) and the
 * byte budgets of history replies, per connection and per client address. */
#include "bucket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bucket_rate
bucket_rate(uint32_t rate, uint32_t burst)
{
	struct bucket_rate r = {(uint64_t)rate * 1000, (uint64_t)(burst ? burst : 1) * 1000};

	return r;
}

void
bucket_init(struct bucket *b, const struct bucket_rate *r, uint64_t now_ns)
{
	b->tokens_mt = r->burst_mt;
	b->last_ns = now_ns;
}

bool
bucket_take(struct bucket *b, const struct bucket_rate *r, uint64_t now_ns)
{
	if (now_ns > b->last_ns) {
		uint64_t dt = now_ns - b->last_ns;
		/* Refill in whole milli-tokens; keep the remainder of the time for next call. */
		uint64_t gained =
		    dt / 1000000 * r->rate_mt / 1000 + dt % 1000000 * r->rate_mt / 1000000000;
		if (gained > 0) {
			b->tokens_mt += gained;
			if (b->tokens_mt > r->burst_mt)
				b->tokens_mt = r->burst_mt;
			b->last_ns = now_ns;
		}
	}
	if (b->tokens_mt < 1000)
		return false;
	b->tokens_mt -= 1000;
	return true;
}

uint64_t
bucket_wait_ms(const struct bucket *b, const struct bucket_rate *r)
{
	uint64_t need;

	if (b->tokens_mt >= 1000)
		return 0;
	need = 1000 - b->tokens_mt;
	if (r->rate_mt == 0)
		return UINT64_MAX;
	return (need * 1000 + r->rate_mt - 1) / r->rate_mt;
}

void
bytebucket_init(struct bytebucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
	b->rate = rate ? rate : 1;
	b->burst = (int64_t)(burst ? burst : 1);
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

/* Adds the bytes earned since last_ns (rate at most 1 GiB/s: dt * rate fits in 64 bits for
 * the 16 s after which the budget is full anyway). */
static void
bytebucket_refill(struct bytebucket *b, uint64_t now_ns)
{
	uint64_t dt, gained, room;

	if (now_ns <= b->last_ns)
		return;
	if (b->tokens >= b->burst) {
		b->last_ns = now_ns;
		return;
	}
	dt = now_ns - b->last_ns;
	room = (uint64_t)(b->burst - b->tokens);
	gained = dt > 16000000000ull ? room : dt * b->rate / 1000000000ull;
	if (gained >= room) {
		b->tokens = b->burst;
		b->last_ns = now_ns;
	} else if (gained > 0) {
		b->tokens += (int64_t)gained;
		b->last_ns += gained * 1000000000ull / b->rate; /* the remainder counts next time */
	}
}

bool
bytebucket_admit(struct bytebucket *b, uint64_t now_ns)
{
	bytebucket_refill(b, now_ns);
	return b->tokens > 0;
}

void
bytebucket_charge(struct bytebucket *b, int64_t bytes)
{
	b->tokens -= bytes;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

uint64_t
bytebucket_wait_ms(const struct bytebucket *b)
{
	if (b->tokens > 0)
		return 0;
	return ((uint64_t)(1 - b->tokens) * 1000 + b->rate - 1) / b->rate;
}

bool
bytebucket_full(struct bytebucket *b, uint64_t now_ns)
{
	bytebucket_refill(b, now_ns);
	return b->tokens >= b->burst;
}

struct bytebucket *
addrbudget_get(struct addrbudgets *t, const char *addr, uint64_t rate, uint64_t burst,
               uint64_t now_ns)
{
	struct addrbudget *e = hmap_get(&t->map, addr);

	if (e != NULL)
		return &e->b;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	if (hmap_put(&t->map, e->addr, e) != 0) {
		free(e);
		return NULL;
	}
	bytebucket_init(&e->b, rate, burst, now_ns);
	t->n++;
	return &e->b;
}

void
addrbudget_sweep(struct addrbudgets *t, uint64_t now_ns)
{
	void *v;

	for (size_t i = 0; hmap_next(&t->map, &i, NULL, &v);) {
		struct addrbudget *e = v;

		if (bytebucket_full(&e->b, now_ns)) {
			hmap_del(&t->map, e->addr); /* the entry just returned: allowed */
			free(e);
			t->n--;
		}
	}
}

void
addrbudget_fini(struct addrbudgets *t)
{
	void *e;

	for (size_t i = 0; hmap_next(&t->map, &i, NULL, &e);)
		free(e);
	hmap_fini(&t->map);
	t->n = 0;
}
