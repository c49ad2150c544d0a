/* metrics.c — request counters, latency histogram and Prometheus text output for madang-api. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define METRIC_KEY_MAX 64 /* broker stats keys longer than this are not exported */

/* Upper bounds of the finite latency buckets, in microseconds. */
static const uint64_t api_lat_bounds_us[API_LAT_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
};

void
api_metrics_init(struct api_metrics *m, int64_t start_wall_ms, int threads)
{
	for (int r = 0; r < API_R_COUNT; r++)
		for (int c = 0; c < API_STATUS_CLASSES; c++)
			atomic_init(&m->requests[r][c], 0);
	for (int b = 0; b <= API_LAT_BUCKETS; b++)
		atomic_init(&m->lat_bucket[b], 0);
	atomic_init(&m->lat_sum_us, 0);
	atomic_init(&m->lat_count, 0);
	atomic_init(&m->broker_unavailable, 0);
	atomic_init(&m->broker_bad_replies, 0);
	atomic_init(&m->write_errors, 0);
	atomic_init(&m->in_flight, 0);
	m->start_wall_ms = start_wall_ms;
	m->threads = threads;
}

void
api_metrics_observe(struct api_metrics *m, enum api_route_id route, int status, uint64_t dur_ns)
{
	uint64_t us = dur_ns / 1000;
	int cls = status / 100 - 1;
	int b;

	if ((int)route < 0 || route >= API_R_COUNT)
		route = API_R_NONE;
	if (cls < 0 || cls >= API_STATUS_CLASSES)
		cls = API_STATUS_CLASSES - 1;
	atomic_fetch_add_explicit(&m->requests[route][cls], 1, memory_order_relaxed);
	for (b = 0; b < API_LAT_BUCKETS && us > api_lat_bounds_us[b]; b++)
		;
	atomic_fetch_add_explicit(&m->lat_bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->lat_sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->lat_count, 1, memory_order_relaxed);
}

static uint64_t
ld(atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void
head(struct sbuf *out, const char *name, const char *type, const char *help)
{
	sbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
render_api(struct api_metrics *m, struct sbuf *out)
{
	uint64_t cum = 0;

	head(out, "madang_api_requests_total", "counter",
	     "HTTP requests answered, by route and status class.");
	for (int r = 0; r < API_R_COUNT; r++)
		for (int c = 0; c < API_STATUS_CLASSES; c++)
			sbuf_addf(out,
			          "madang_api_requests_total{route=\"%s\",class=\"%dxx\"} %lu\n",
			          api_route_name((enum api_route_id)r), c + 1,
			          (unsigned long)ld(&m->requests[r][c]));
	head(out, "madang_api_request_duration_seconds", "histogram",
	     "Time from the request's arrival to its response, in seconds.");
	for (int b = 0; b <= API_LAT_BUCKETS; b++) {
		cum += ld(&m->lat_bucket[b]);
		if (b < API_LAT_BUCKETS)
			sbuf_addf(out,
			          "madang_api_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
			          (double)api_lat_bounds_us[b] / 1e6, (unsigned long)cum);
		else
			sbuf_addf(out,
			          "madang_api_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n",
			          (unsigned long)cum);
	}
	sbuf_addf(out, "madang_api_request_duration_seconds_sum %.6f\n",
	          (double)ld(&m->lat_sum_us) / 1e6);
	sbuf_addf(out, "madang_api_request_duration_seconds_count %lu\n",
	          (unsigned long)ld(&m->lat_count));
	head(out, "madang_api_broker_unavailable_total", "counter",
	     "Broker calls that timed out or could not be sent (answered 503).");
	sbuf_addf(out, "madang_api_broker_unavailable_total %lu\n",
	          (unsigned long)ld(&m->broker_unavailable));
	head(out, "madang_api_broker_bad_replies_total", "counter",
	     "Broker replies that were not a JSON object (answered 502).");
	sbuf_addf(out, "madang_api_broker_bad_replies_total %lu\n",
	          (unsigned long)ld(&m->broker_bad_replies));
	head(out, "madang_api_write_errors_total", "counter",
	     "Responses the web server did not accept (it closed the connection).");
	sbuf_addf(out, "madang_api_write_errors_total %lu\n", (unsigned long)ld(&m->write_errors));
	head(out, "madang_api_in_flight_requests", "gauge", "Requests being answered right now.");
	sbuf_addf(out, "madang_api_in_flight_requests %ld\n",
	          (long)atomic_load_explicit(&m->in_flight, memory_order_relaxed));
	head(out, "madang_api_threads", "gauge", "Worker threads.");
	sbuf_addf(out, "madang_api_threads %d\n", m->threads);
	head(out, "madang_api_start_time_seconds", "gauge", "Start time, seconds since the epoch.");
	sbuf_addf(out, "madang_api_start_time_seconds %.3f\n", (double)m->start_wall_ms / 1e3);
}

/* A broker stats key becomes part of a metric name only when it is [a-z0-9_]{1,64}. */
static int
key_ok(const char *k)
{
	size_t n = k != NULL ? strlen(k) : 0;

	if (n == 0 || n > METRIC_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return 1;
}

static void
add_number(struct sbuf *out, double v)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
		sbuf_addf(out, "%lld\n", (long long)v);
	else if (isfinite(v))
		sbuf_addf(out, "%.17g\n", v);
	else
		sbuf_adds(out, "NaN\n");
}

static void
render_broker(const cJSON *stats, struct sbuf *out)
{
	const cJSON *it, *counters;

	head(out, "madang_broker_up", "gauge", "1 when the broker answered the stats request.");
	sbuf_addf(out, "madang_broker_up %d\n", stats != NULL);
	if (stats == NULL)
		return;
	cJSON_ArrayForEach(it, stats)
	{
		char name[METRIC_KEY_MAX + 32];

		if (!cJSON_IsNumber(it) || !key_ok(it->string))
			continue;
		if (strcmp(it->string, "uptime_ms") == 0) {
			head(out, "madang_broker_uptime_seconds", "gauge",
			     "Seconds since the broker started.");
			sbuf_addf(out, "madang_broker_uptime_seconds %.3f\n",
			          it->valuedouble / 1e3);
			continue;
		}
		snprintf(name, sizeof(name), "madang_broker_%s", it->string);
		head(out, name, "gauge", "Broker stats field of the same name.");
		sbuf_adds(out, name);
		sbuf_addc(out, ' ');
		add_number(out, it->valuedouble);
	}
	counters = cJSON_GetObjectItemCaseSensitive(stats, "counters");
	cJSON_ArrayForEach(it, counters)
	{
		char name[METRIC_KEY_MAX + 32];

		if (!cJSON_IsNumber(it) || !key_ok(it->string))
			continue;
		snprintf(name, sizeof(name), "madang_broker_%s_total", it->string);
		head(out, name, "counter", "Broker counter of the same name since its start.");
		sbuf_adds(out, name);
		sbuf_addc(out, ' ');
		add_number(out, it->valuedouble);
	}
	/* The front-ends' own figures (open connections, slow consumers dropped, …), summed over
	 * the live madang-ws processes by the broker. Open connections is a gauge; the rest count
	 * since each front-end started. */
	counters = cJSON_GetObjectItemCaseSensitive(stats, "frontend_stats");
	cJSON_ArrayForEach(it, counters)
	{
		char name[METRIC_KEY_MAX + 32];
		bool gauge = strcmp(it->string, "connections_open") == 0;

		if (!cJSON_IsNumber(it) || !key_ok(it->string))
			continue;
		snprintf(name, sizeof(name), gauge ? "madang_ws_%s" : "madang_ws_%s_total",
		         it->string);
		head(out, name, gauge ? "gauge" : "counter",
		     "Sum over the live madang-ws processes (reported with their heartbeats).");
		sbuf_adds(out, name);
		sbuf_addc(out, ' ');
		add_number(out, it->valuedouble);
	}
}

void
api_metrics_render(struct api_metrics *m, const cJSON *stats, struct sbuf *out)
{
	render_api(m, out);
	render_broker(stats, out);
}
