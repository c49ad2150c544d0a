/* metrics.h — madang-api's own request counters and latency histogram (lock-free, updated by every
 * worker thread), and their Prometheus text rendering together with the broker's `stats`. */
#ifndef MADANG_API_METRICS_H
#define MADANG_API_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "router.h"
#include "sbuf.h"

#define API_LAT_BUCKETS    12 /* finite histogram buckets; see api_lat_bounds_us in metrics.c */
#define API_STATUS_CLASSES 5  /* 1xx .. 5xx */

struct api_metrics {
	atomic_uint_fast64_t requests[API_R_COUNT][API_STATUS_CLASSES];
	atomic_uint_fast64_t lat_bucket[API_LAT_BUCKETS + 1]; /* per bucket; the last is +Inf */
	atomic_uint_fast64_t lat_sum_us;
	atomic_uint_fast64_t lat_count;
	atomic_uint_fast64_t
	    broker_unavailable; /* broker calls that timed out or could not be sent */
	atomic_uint_fast64_t broker_bad_replies; /* replies that were not a JSON object */
	atomic_uint_fast64_t write_errors;       /* responses the web server did not take */
	atomic_int_fast64_t in_flight;
	int64_t start_wall_ms; /* set once before the workers start */
	int threads;           /* idem */
};

void api_metrics_init(struct api_metrics *m, int64_t start_wall_ms, int threads);

/* Counts one finished request: its route, HTTP status and duration. */
void api_metrics_observe(struct api_metrics *m, enum api_route_id route, int status,
                         uint64_t dur_ns);

/* Appends the Prometheus text exposition (version 0.0.4): the api's metrics, madang_broker_up,
 * and, when stats (the broker's `stats` reply) is not NULL, every numeric field of it:
 * top-level numbers as gauges madang_broker_<key>, "uptime_ms" as madang_broker_uptime_seconds,
 * and each number in "counters" as the counter madang_broker_<key>_total. */
void api_metrics_render(struct api_metrics *m, const cJSON *stats, struct sbuf *out);

#endif
