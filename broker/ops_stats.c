/* ops_stats.c — health and stats: the broker's overview and counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

/* The members health and stats share, into the reply open in w. */
static void
add_overview(struct req *q, struct jsonw *w)
{
	struct broker *b = q->b;

	jw_str(w, "epoch", b->epoch);
	jw_int(w, "uptime_ms", (int64_t)(b->now_mono - b->start_ms));
	jw_int(w, "rooms", (int64_t)b->nrooms);
	jw_int(w, "members", (int64_t)b->members_total);
	jw_int(w, "frontends", (int64_t)b->frontends.count);
	if (b->term > 0) { /* only an active broker listens: a standby never answers */
		jw_str(w, "role", "active");
		jw_int(w, "term", (int64_t)b->term);
	}
}

/* health {} */
void
op_health(struct req *q)
{
	struct jsonw w;

	ops_reply_begin(q, &w);
	jw_str(&w, "status", "ok");
	add_overview(q, &w);
	jw_end(&w);
}

/* stats {} */
void
op_stats(struct req *q)
{
	const struct broker_counters *c = &q->b->ctr;
	const struct {
		const char *name;
		uint64_t value;
	} counters[] = {
	    {"requests", c->requests},
	    {"request_errors", c->request_errors},
	    {"messages", c->messages},
	    {"duplicates", c->duplicates},
	    {"joins", c->joins},
	    {"leaves", c->leaves},
	    {"privates", c->privates},
	    {"typing", c->typing},
	    {"events_published", c->events_published},
	    {"frontends_registered", c->frontends_registered},
	    {"frontends_expired", c->frontends_expired},
	    {"rooms_created", c->rooms_created},
	    {"rooms_deleted", c->rooms_deleted},
	    {"stalls", c->stalls},
	    {"probes", c->probes},
	};
	struct jsonw w;

	ops_reply_begin(q, &w);
	add_overview(q, &w);
	jw_int(&w, "sessions", (int64_t)q->b->sessions_total);
	/* Bans and mutes held in memory, ended ones the tick has not swept yet included. */
	size_t nbans = 0, nmutes = 0;
	for (size_t i = 0; i < q->b->nrooms; i++) {
		const struct room_mod *md = q->b->rooms_v[i]->mod;
		nbans += md ? md->bans.by_key.count : 0;
		nmutes += md ? md->mutes.by_key.count : 0;
	}
	jw_int(&w, "bans", (int64_t)nbans);
	jw_int(&w, "mutes", (int64_t)nmutes);
	jw_obj(&w, "counters");
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		jw_int(&w, counters[i].name, (int64_t)counters[i].value);
	jw_end(&w);
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
	/* Their names are [a-z_]{1,32} (op_heartbeat), so they can be keys as they are. */
	jw_obj(&w, "frontend_stats");
	for (int i = 0; i < nsum; i++)
		jw_int(&w, sum[i].name, sum[i].value);
	jw_end(&w);
	jw_end(&w);
}
