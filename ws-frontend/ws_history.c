/* ws_history.c — the history command's byte budgets (ws_history.h). */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ws_history.h"
#include "ws_state.h"

static struct {
	struct addrbudgets hist_ips; /* history byte budgets by client address */
	uint64_t hist_swept_ns;
} hb;

void
history_fini(void)
{
	addrbudget_fini(&hb.hist_ips);
}

/* The history byte budget of the session's client address (NULL: unknown, or no memory). */
struct bytebucket *
history_ip_budget(struct ws_session *s, uint64_t now)
{
	uint64_t rate = ws->o.history_rate_ip;

	if (s->addr == NULL || s->addr[0] == '\0')
		return NULL;
	if (now - hb.hist_swept_ns > (uint64_t)WS_HISTORY_SWEEP_MS * 1000000) {
		addrbudget_sweep(&hb.hist_ips, now);
		hb.hist_swept_ns = now;
	}
	return addrbudget_get(&hb.hist_ips, s->addr, rate, rate * WS_HISTORY_BURST_S, now);
}

/* Settles a history reply's reservation: the budgets pay for the bytes sent (sent < 0: none
 * went out, all is given back). */
void
history_settle(struct ws_session *s, size_t *reserved, int64_t sent)
{
	struct bytebucket *ipb;
	int64_t delta = (sent < 0 ? 0 : sent) - (int64_t)*reserved;

	if (*reserved == 0)
		return;
	if (s->x != NULL && s->x->hist_init)
		bytebucket_charge(&s->x->hist, delta);
	if ((ipb = history_ip_budget(s, clock_mono_ns())) != NULL)
		bytebucket_charge(ipb, delta);
	*reserved = 0;
}

/* A broker that does not know max_bytes (no "truncated" in its reply): keeps the newest events
 * whose JSON fits in max bytes, as the broker itself would (docs/broker-protocol.md). */
void
history_trim(cJSON *reply, size_t max)
{
	cJSON *events = cJSON_GetObjectItemCaseSensitive(reply, "events"), *e;
	size_t total = 0;

	if (!cJSON_IsArray(events))
		return;
	for (e = events->child != NULL ? events->child->prev : NULL; e != NULL;
	     e = e == events->child ? NULL : e->prev) {
		char *t = cJSON_PrintUnformatted(e);
		total += (t != NULL ? strlen(t) : 0) + 1;
		free(t);
		if (total > max + 1)
			break;
	}
	if (e == NULL) {
		cJSON_AddBoolToObject(reply, "truncated", false);
		return;
	}
	/* e and everything older go */
	for (cJSON *x = events->child, *next; x != NULL; x = next) {
		next = x == e ? NULL : x->next;
		cJSON_Delete(cJSON_DetachItemViaPointer(events, x));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(reply, "complete");
	cJSON_AddBoolToObject(reply, "complete", false);
	cJSON_AddBoolToObject(reply, "truncated", true);
}
