/* policy.c — madang-ws's pure decisions: event delivery by seq, slow consumers (policy.h). */
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
