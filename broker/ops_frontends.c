/* ops_frontends.c — the front-ends' hello and heartbeat requests (docs/broker-protocol.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

/* hello {frontend, instance, bundles?} */
void
op_hello(struct req *q)
{
	struct broker *b = q->b;
	const char *id = ops_arg_id(q, "frontend");
	const char *inst = id ? ops_arg_token(q, "instance", true) : NULL;
	struct frontend *fe;
	bool bundles = false;

	if (inst == NULL)
		return;
	if (cJSON_GetObjectItemCaseSensitive(q->rq, "bundles") != NULL &&
	    !wire_bool(q->rq, "bundles", &bundles)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "bundles must be true or false");
		return;
	}
	if ((fe = fe_register(b, id, inst)) == NULL) {
		ops_reply_error(q, ERR_INTERNAL, "out of memory");
		return;
	}
	fe_set_bundles(b, fe, bundles && b->cfg.bundles);
	uint64_t hb = b->cfg.frontend_timeout_ms / 3;
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_str(&w, "frontend", fe->id);
	jw_str(&w, "epoch", b->epoch);
	jw_int(&w, "heartbeat_ms", (int64_t)(hb < 50 ? 50 : hb));
	jw_int(&w, "timeout_ms", (int64_t)b->cfg.frontend_timeout_ms);
	jw_bool(&w, "bundles", fe->bundles);
	jw_end(&w);
}

/* heartbeat {frontend, instance} */
void
op_heartbeat(struct req *q)
{
	const char *id = ops_arg_id(q, "frontend");
	const char *inst = id ? ops_arg_token(q, "instance", true) : NULL;
	struct frontend *fe;

	if (inst == NULL)
		return;
	fe = fe_get(q->b, id);
	if (fe == NULL || strcmp(fe->instance, inst) != 0) {
		ops_reply_error(q, ERR_UNKNOWN_FRONTEND,
		                "front-end %s instance %s is not registered: send hello and sync",
		                id, inst);
		return;
	}
	fe->last_seen_ms = q->b->now_mono;
	/* Optional counters of the front-end ({"connections":12,…}), summed into stats. */
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(q->rq, "stats"), *it;
	if (cJSON_IsObject(st)) {
		fe->nstats = 0;
		cJSON_ArrayForEach(it, st)
		{
			size_t n = strlen(it->string);
			int64_t v;
			if (fe->nstats == FE_STATS_MAX || n == 0 || n > 32 ||
			    strspn(it->string, "abcdefghijklmnopqrstuvwxyz_") != n ||
			    !wire_int(st, it->string, &v))
				continue;
			memcpy(fe->stats[fe->nstats].name, it->string, n + 1);
			fe->stats[fe->nstats++].value = v;
		}
	}
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_str(&w, "epoch", q->b->epoch);
	jw_end(&w);
}
