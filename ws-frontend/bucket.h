/* bucket.h — a token bucket: rate tokens per second, at most burst saved up. */
#ifndef MADANG_WS_BUCKET_H
#define MADANG_WS_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct bucket {
	uint64_t tokens_mt; /* milli-tokens held */
	uint64_t rate_mt;   /* milli-tokens gained per second */
	uint64_t burst_mt;  /* most milli-tokens held */
	uint64_t last_ns;   /* monotonic time of the last refill */
};

/* Starts full. rate is tokens per second (> 0), burst the most tokens held (>= 1). */
void bucket_init(struct bucket *b, uint32_t rate, uint32_t burst, uint64_t now_ns);
/* Takes one token; false when none is left (nothing is taken then). */
bool bucket_take(struct bucket *b, uint64_t now_ns);

/* Milliseconds (rounded up, at least 1) until bucket_take can succeed; 0 when it can now.
 * Call right after a bucket_take that failed at the same now_ns. */
uint64_t bucket_wait_ms(const struct bucket *b);

#endif
