/* lg_report.c — the load generator's single JSON line: merges the workers' counters and
 * histograms and computes expected and lost deliveries per (receiver, sender) pair. */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double
ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

void
lg_cpu_sample(const struct lg_opts *o, double *t, double *v)
{
	*t = (double)lg_now() / 1e9;
	v[0] = lg_self_cpu_s();
	v[LG_MAX_PIDS + 1] = (double)lg_cpu_pressure_us();
	for (int i = 0; i < o->npids; i++)
		v[i + 1] = lg_cpu_s(o->pids[i]);
}

void
lg_report(struct lg_run *run, int timed_out, long *rss_start, long *rss_end, uint64_t t_connected,
       const struct lg_cpu_window *cw)
{
	const struct lg_opts *o = &run->o;
	struct lg_hist *lat = malloc(sizeof(*lat)), *con = malloc(sizeof(*con)), *lag = malloc(sizeof(*lag)),
		       *rdy = malloc(sizeof(*rdy));
	struct lg_counters s;
	uint64_t expected = 0, lost = 0, not_started = 0, ready = 0, t_last_ready = 0;
	long total = 0, total_start = 0;
	double connect_wall;
	char first_error[160] = "";

	if (!lat || !con || !lag || !rdy)
		return;
	memset(&s, 0, sizeof(s));
	lg_hist_init(lat);
	lg_hist_init(con);
	lg_hist_init(lag);
	lg_hist_init(rdy);
	for (uint32_t t = 0; t < o->threads; t++) {
		struct lg_worker *w = &run->workers[t];
		uint64_t *a = (uint64_t *)&s, *b = (uint64_t *)&w->c;

		for (size_t i = 0; i < sizeof(s) / sizeof(uint64_t); i++)
			a[i] += b[i];
		lg_hist_merge(lat, &w->latency);
		lg_hist_merge(con, &w->connect);
		lg_hist_merge(lag, &w->send_lag);
		lg_hist_merge(rdy, &w->ready);
		if (w->t_last_ready > t_last_ready)
			t_last_ready = w->t_last_ready;
		if (first_error[0] == '\0' && w->first_error[0])
			snprintf(first_error, sizeof(first_error), "%s", w->first_error);
		not_started += w->nconns - w->next_connect;
		for (uint32_t i = 0; i < w->nconns; i++) {
			struct lg_conn *c = &w->conns[i];
			uint32_t room = c->id % o->rooms, ns = lg_room_senders(o, room);

			if (!c->measured)
				continue;
			ready++;
			for (uint32_t k = 0; k < ns; k++) {
				uint32_t sent = (uint32_t)atomic_load(&run->sent[room + k * o->rooms]);

				expected += sent;
				lost += sent > c->track[k].unique ? sent - c->track[k].unique : 0;
			}
		}
	}
	connect_wall = t_connected > run->t_begin ? (double)(t_connected - run->t_begin) / 1e9 : 0;
	printf("{\"tool\":\"madang-loadgen\",\"label\":\"%s\",\"url\":\"ws://%s%s\",\"conns\":%u,"
	       "\"rooms\":%u,\"senders\":%u,\"rate_offered\":%.0f,\"size\":%u,\"duration_s\":%.3g,"
	       "\"warmup_s\":%.3g,\"threads\":%u,\"idle\":%s,",
	       o->label, o->host, o->base_path, o->conns, o->rooms, o->senders,
	       o->senders ? o->rate : 0.0, o->size, o->duration, o->warmup, o->threads,
	       o->idle ? "true" : "false");
	printf("\"connections_made\":%llu,\"connections_failed\":%llu,\"connections_not_started\":%llu,"
	       "\"connections_not_joined\":%llu,\"connections_ready\":%llu,\"closed_by_server\":%llu,\"connect_ms\":{\"p50\":%.3f,"
	       "\"p99\":%.3f,\"max\":%.3f},\"connect_wall_s\":%.3f,\"connects_per_s\":%.0f,",
	       (unsigned long long)s.made, (unsigned long long)s.failed,
	       (unsigned long long)not_started, (unsigned long long)s.not_joined,
	       (unsigned long long)ready,
	       (unsigned long long)s.closed_by_server, ms(lg_hist_quantile(con, 0.5)),
	       ms(lg_hist_quantile(con, 0.99)), ms(con->max), connect_wall,
	       connect_wall > 0 ? (double)s.made / connect_wall : 0.0);
	printf("\"messages_sent\":%llu,\"deliveries_expected\":%llu,\"deliveries_received\":%llu,"
	       "\"lost\":%llu,\"duplicated\":%llu,\"out_of_order\":%llu,\"deliveries_per_s\":%.0f,"
	       "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f,"
	       "\"samples\":%llu},",
	       (unsigned long long)s.sent, (unsigned long long)expected,
	       (unsigned long long)s.unique, (unsigned long long)lost,
	       (unsigned long long)s.duplicated, (unsigned long long)s.out_of_order,
	       o->duration > 0 ? (double)s.in_window / o->duration : 0.0,
	       ms(lg_hist_quantile(lat, 0.5)), ms(lg_hist_quantile(lat, 0.9)),
	       ms(lg_hist_quantile(lat, 0.99)), ms(lg_hist_quantile(lat, 0.999)), ms(lat->max),
	       (unsigned long long)lat->count);
	printf("\"ready_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"ready_per_s\":%.0f,",
	       ms(lg_hist_quantile(rdy, 0.5)), ms(lg_hist_quantile(rdy, 0.99)), ms(rdy->max),
	       t_last_ready > run->t_begin ? (double)rdy->count * 1e9 / (double)(t_last_ready - run->t_begin)
	                                   : 0.0);
	printf("\"send_lag_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},", ms(lg_hist_quantile(lag, 0.5)),
	       ms(lg_hist_quantile(lag, 0.99)), ms(lag->max));
	{
		double span = cw->t1 - cw->t0;

		printf("\"cpu_pct\":{\"loadgen\":%.0f", span > 0 ? 100 * (cw->end[0] - cw->start[0]) / span : 0.0);
		for (int i = 0; i < o->npids; i++)
			printf(",\"%d\":%.0f", o->pids[i],
			       span > 0 && cw->start[i + 1] >= 0 && cw->end[i + 1] >= 0
			           ? 100 * (cw->end[i + 1] - cw->start[i + 1]) / span
			           : -1.0);
		printf("},\"cpu_pressure_pct\":%.0f,",
		       span > 0 ? (cw->end[LG_MAX_PIDS + 1] - cw->start[LG_MAX_PIDS + 1]) / 1e6 / span * 100 : 0.0);
	}
	printf("\"tcp_retrans_segs\":%llu,\"softnet_drops\":%llu,", cw->retrans1 - cw->retrans0,
	       cw->drops1 - cw->drops0);
	printf("\"rss_kib\":{");
	for (int i = 0; i < o->npids; i++) {
		printf("%s\"%d\":%ld", i ? "," : "", o->pids[i], rss_end[i]);
		total += rss_end[i] > 0 ? rss_end[i] : 0;
		total_start += rss_start[i] > 0 ? rss_start[i] : 0;
	}
	printf("},\"rss_kib_before\":{");
	for (int i = 0; i < o->npids; i++)
		printf("%s\"%d\":%ld", i ? "," : "", o->pids[i], rss_start[i]);
	printf("},\"rss_kib_total\":%ld,\"rss_kib_total_before\":%ld,\"rss_bytes_per_conn\":%.0f,",
	       total, total_start,
	       ready ? (double)(total - total_start) * 1024.0 / (double)ready : 0.0);
	printf("\"frames_in\":%llu,\"error_events\":%llu,\"pings\":%llu,\"protocol_errors\":%llu,\"foreign\":%llu,"
	       "\"send_skipped\":%llu,\"timed_out\":%s,\"first_error\":\"",
	       (unsigned long long)s.frames_in, (unsigned long long)s.errors, (unsigned long long)s.pings,
	       (unsigned long long)s.protocol_errors, (unsigned long long)s.foreign,
	       (unsigned long long)s.send_skipped, timed_out ? "true" : "false");
	for (const char *p = first_error; *p; p++)
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if ((unsigned char)*p >= 0x20)
			putchar(*p);
	printf("\"}\n");
	fflush(stdout);
	free(lat);
	free(con);
	free(lag);
	free(rdy);
}
