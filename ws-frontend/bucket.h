/* bucket.h — rate limits: a token bucket (rate tokens per second, at most burst saved up), a
 * byte budget that may go into debt, and the byte budgets of client addresses. Pure: time is
 * passed in. */
#ifndef MADANG_WS_BUCKET_H
#define MADANG_WS_BUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"

/* A bucket's rate and burst, the same for every connection: kept once, not in each bucket
 * (16 bytes less per connection). */
struct bucket_rate {
	uint64_t rate_mt;  /* milli-tokens gained per second */
	uint64_t burst_mt; /* most milli-tokens held */
};
struct bucket {
	uint64_t tokens_mt; /* milli-tokens held */
	uint64_t last_ns;   /* monotonic time of the last refill */
};

/* rate is tokens per second (> 0), burst the most tokens held (0 counts as 1). */
struct bucket_rate bucket_rate(uint32_t rate, uint32_t burst);
/* Starts full. */
void bucket_init(struct bucket *b, const struct bucket_rate *r, uint64_t now_ns);
/* Takes one token; false when none is left (nothing is taken then). */
bool bucket_take(struct bucket *b, const struct bucket_rate *r, uint64_t now_ns);

/* Milliseconds (rounded up, at least 1) until bucket_take can succeed; 0 when it can now.
 * Call right after a bucket_take that failed at the same now_ns. */
uint64_t bucket_wait_ms(const struct bucket *b, const struct bucket_rate *r);

/* A byte budget: rate bytes per second, at most burst saved up. A request is admitted while
 * the budget is not in debt; what it costs is charged before (a reservation) and corrected
 * when known, so the debt is at most one request's reservation. */
struct bytebucket {
	int64_t tokens;   /* bytes; negative: in debt */
	uint64_t rate;    /* bytes gained per second (> 0) */
	int64_t burst;    /* most bytes held */
	uint64_t last_ns; /* monotonic time of the last refill */
};

void bytebucket_init(struct bytebucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns);
/* Refills; true when not in debt (tokens > 0). */
bool bytebucket_admit(struct bytebucket *b, uint64_t now_ns);
/* Takes bytes (negative: gives them back, never above burst). */
void bytebucket_charge(struct bytebucket *b, int64_t bytes);
/* Milliseconds (rounded up) until bytebucket_admit can be true; 0 when it is now. */
uint64_t bytebucket_wait_ms(const struct bytebucket *b);
/* True when refilled to the burst at now_ns (nothing owed, nothing reserved). */
bool bytebucket_full(struct bytebucket *b, uint64_t now_ns);

/* The byte budgets of client addresses (madang-ws --history-rate-per-ip), by address: a
 * common/hmap of entries keyed by their own addr. A zeroed struct is an empty table. */
#define ADDRBUDGET_ADDR_MAX 64
struct addrbudget {
	struct bytebucket b;
	char addr[ADDRBUDGET_ADDR_MAX];
};
struct addrbudgets {
	struct hmap map;
	size_t n;
};

/* The budget of addr, created full (rate, burst) when absent; NULL when out of memory. An addr
 * is cut to ADDRBUDGET_ADDR_MAX - 1 bytes (textual addresses are shorter). */
struct bytebucket *addrbudget_get(struct addrbudgets *t, const char *addr, uint64_t rate,
                                  uint64_t burst, uint64_t now_ns);
/* Frees the budgets that are full again: an address costs memory only while it owes. */
void addrbudget_sweep(struct addrbudgets *t, uint64_t now_ns);
void addrbudget_fini(struct addrbudgets *t);

#endif
