/* lg_hist.h — log-linear latency histogram (HDR-style: 128 linear sub-buckets per power of two,
 * so every recorded value is known to within 1/128 ≈ 0.8 %). Values are unsigned 64-bit (ns). */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdint.h>

#define LG_HIST_SUB_BITS 7
#define LG_HIST_BUCKETS  ((64 - LG_HIST_SUB_BITS + 1) << LG_HIST_SUB_BITS)

struct lg_hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	uint64_t bucket[LG_HIST_BUCKETS];
};

void lg_hist_init(struct lg_hist *h);
void lg_hist_add(struct lg_hist *h, uint64_t v);
/* Adds every value of src into dst. */
void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src);
/* The smallest value v such that a fraction q (0..1) of the values are <= v, rounded up to the
 * top of its bucket and clamped to the exact maximum; 0 when the histogram is empty. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

#endif
