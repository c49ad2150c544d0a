/* ops_stats.c — health and stats: the broker's overview and counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

static void
add_overview(struct req *q)
{
	struct broker *b = q->b;

	ops_add_key_str(q->out, "epoch", b->epoch);
	sbuf_addc(q->out, ',');
	ops_add_key_int(q->out, "uptime_ms", (int64_t)(b->now_mono - b->start_ms));
	sbuf_addc(q->out, ',');
	ops_add_key_int(q->out, "rooms", (int64_t)b->nrooms);
	sbuf_addc(q->out, ',');
	ops_add_key_int(q->out, "members", (int64_t)b->members_total);
	sbuf_addc(q->out, ',');
	ops_add_key_int(q->out, "frontends", (int64_t)b->frontends.count);
	if (b->term > 0) { /* only an active broker listens: a standby never answers */
		sbuf_addc(q->out, ',');
		ops_add_key_str(q->out, "role", "active");
		sbuf_addc(q->out, ',');
		ops_add_key_int(q->out, "term", (int64_t)b->term);
	}
}

/* health {} */
void
op_health(struct req *q)
{
	sbuf_adds(q->out, "{\"ok\":true,\"status\":\"ok\",");
	add_overview(q);
	sbuf_addc(q->out, '}');
}

/* stats {} */
void
op_stats(struct req *q)
{
	const struct broker_counters *c = &q->b->ctr;

	sbuf_adds(q->out, "{\"ok\":true,");
	add_overview(q);
	sbuf_addc(q->out, ',');
	ops_add_key_int(q->out, "sessions", (int64_t)q->b->sessions_total);
	sbuf_addf(q->out,
	          ",\"counters\":{\"requests\":%llu,\"request_errors\":%llu,\"messages\":%llu,"
	          "\"duplicates\":%llu,\"joins\":%llu,\"leaves\":%llu,\"privates\":%llu,"
	          "\"typing\":%llu,\"events_published\":%llu,\"frontends_registered\":%llu,"
	          "\"frontends_expired\":%llu,\"rooms_created\":%llu,\"rooms_deleted\":%llu,"
	          "\"stalls\":%llu,\"probes\":%llu}}",
	          (unsigned long long)c->requests, (unsigned long long)c->request_errors,
	          (unsigned long long)c->messages, (unsigned long long)c->duplicates,
	          (unsigned long long)c->joins, (unsigned long long)c->leaves,
	          (unsigned long long)c->privates, (unsigned long long)c->typing,
	          (unsigned long long)c->events_published,
	          (unsigned long long)c->frontends_registered,
	          (unsigned long long)c->frontends_expired, (unsigned long long)c->rooms_created,
	          (unsigned long long)c->rooms_deleted, (unsigned long long)c->stalls,
	          (unsigned long long)c->probes);
	/* The front-ends' own counters (connections, drops…), summed over the live front-ends. */
	struct fe_stat sum[FE_STATS_MAX * 2];
	int nsum = 0;
	size_t it = 0;
	void *v;
	while (hmap_next(&q->b->frontends, &it, NULL, &v)) {
		struct frontend *fe = v;
		for (int i = 0; i < fe->nstats; i++) {
			int j = 0;
			while (j < nsum && strcmp(sum[j].name, fe->stats[i].name) != 0)
				j++;
			if (j == nsum) {
				if (nsum == FE_STATS_MAX * 2)
					continue;
				sum[nsum] = fe->stats[i];
				nsum++;
			} else {
				sum[j].value += fe->stats[i].value;
			}
		}
	}
	q->out->len--; /* reopen the object */
	sbuf_adds(q->out, ",\"frontend_stats\":{");
	for (int i = 0; i < nsum; i++) {
		if (i)
			sbuf_addc(q->out, ',');
		ops_add_key_int(q->out, sum[i].name, sum[i].value);
	}
	sbuf_adds(q->out, "}}");
}
