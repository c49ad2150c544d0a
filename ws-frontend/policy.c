/* policy.c — madang-ws's pure decisions: event delivery by seq, slow consumers, write pacing,
 * memory trims, holding requests back (policy.h). */
#include "policy.h"

enum seq_verdict
policy_seq(const struct seq_state *st, bool same_epoch, uint64_t seq)
{
	if (!same_epoch || !st->has_base)
		return SEQ_STALE; /* another broker life (the heartbeat notices), or before a join
		                   */
	if (seq < st->top)
		return SEQ_DUPLICATE;
	if (seq > st->top)
		return SEQ_GAP;
	return st->repairing ? SEQ_REPAIRING : SEQ_DELIVER;
}

uint64_t
policy_seen_max(enum seq_verdict v, uint64_t seen_max, uint64_t seq)
{
	if ((v == SEQ_GAP || v == SEQ_REPAIRING) && seq > seen_max)
		return seq;
	return seen_max;
}

bool
policy_refetch(const struct refetch_state *st, uint64_t now_ms)
{
	if (!st->seq.has_base || st->seq.repairing)
		return false;
	if (st->seen_max >= st->seq.top)
		return true;
	return !st->live_seen && now_ms < st->settle_until_ms;
}

bool
policy_slow(uint64_t pending, uint64_t limit, uint64_t *over_since_ms, uint64_t now_ms,
            bool partial)
{
	if (pending <= limit) {
		*over_since_ms = 0;
		return false;
	}
	if (*over_since_ms == 0)
		*over_since_ms = now_ms;
	return partial || now_ms - *over_since_ms >= WS_QUEUE_GRACE_MS ||
	       pending > WS_QUEUE_BURST * limit;
}

void
policy_load_add(struct pace_load *l, uint64_t busy_ns, uint64_t idle_ns)
{
	l->busy_ns += busy_ns;
	l->total_ns += busy_ns + idle_ns;
	while (l->total_ns > WS_PACE_WINDOW_NS) {
		l->busy_ns /= 2;
		l->total_ns /= 2;
	}
}

unsigned
policy_load_pct(const struct pace_load *l)
{
	if (l->total_ns == 0)
		return 0;
	return (unsigned)(l->busy_ns * 100 / l->total_ns);
}

uint64_t
policy_pace(const struct pace_in *in)
{
	uint64_t wait;

	if (in->sessions == 0)
		return 0;
	if (in->flush_time)
		wait = in->last_flush_ns;
	else if (in->busy_pct < WS_PACE_FREE_PCT)
		return 0;
	else if (in->busy_pct >= WS_PACE_FULL_PCT)
		wait = in->last_flush_ns;
	else
		wait = in->last_flush_ns * (in->busy_pct - WS_PACE_FREE_PCT) /
		       (WS_PACE_FULL_PCT - WS_PACE_FREE_PCT);
	if (wait <= in->since_flush_ns)
		return 0;
	wait -= in->since_flush_ns;
	return wait < WS_PACE_MIN_WAIT_NS && !in->flush_time ? 0 : wait;
}

bool
policy_trim(uint64_t churn, uint64_t prev)
{
	return churn >= WS_TRIM_CHURN && churn == prev;
}

uint64_t
policy_hold(const struct hold_in *in)
{
	if (in->queued == 0 || in->queued >= in->batch_max || in->in_flight == 0 ||
	    in->since_ns >= WS_HOLD_NS)
		return 0;
	return WS_HOLD_NS - in->since_ns;
}
