/* lg_hist.c — log-linear latency histogram. */
#include "lg_hist.h"

#include <string.h>

#define SUB (1u << LG_HIST_SUB_BITS)

static unsigned
bucket_of(uint64_t v)
{
	unsigned msb = v ? 63u - (unsigned)__builtin_clzll(v) : 0;
	unsigned shift = msb > LG_HIST_SUB_BITS ? msb - LG_HIST_SUB_BITS : 0;

	return shift * SUB + (unsigned)(v >> shift);
}

/* Highest value that falls into bucket idx. */
static uint64_t
bucket_top(unsigned idx)
{
	unsigned shift = idx < 2 * SUB ? 0 : idx / SUB - 1;
	uint64_t low = (uint64_t)(idx - shift * SUB) << shift;

	return low + ((uint64_t)1 << shift) - 1;
}

void
lg_hist_init(struct lg_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void
lg_hist_add(struct lg_hist *h, uint64_t v)
{
	h->bucket[bucket_of(v)]++;
	h->count++;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void
lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src)
{
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
lg_hist_quantile(const struct lg_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	if (q >= 1.0)
		return h->max;
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t top = bucket_top(i);
			return top > h->max ? h->max : top;
		}
	}
	return h->max;
}
