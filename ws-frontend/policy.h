/* policy.h — madang-ws's pure decisions, with time and state passed in: which room events
 * are delivered (seq and epoch against the room's log), and when a client that does not read
 * is a slow consumer. No I/O, no globals; any thread (the callers own the state). */
#ifndef MADANG_WS_POLICY_H
#define MADANG_WS_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#define WS_QUEUE_BURST    64   /* backlog allowed to a client that keeps up (x limit) */
#define WS_QUEUE_GRACE_MS 1000 /* time over --queue-limit without catching up: slow */

/* What to do with a live room event (seq, the broker life it names) given the room's log. */
enum seq_verdict {
	SEQ_DELIVER,   /* seq is the log's top: append it and fan it out */
	SEQ_DUPLICATE, /* seq below the top: already had (or older than the first join) */
	SEQ_STALE,     /* another broker epoch, or no join has set the log's base yet: drop */
	SEQ_GAP,       /* seq above the top: events are missing, repair from history first */
	SEQ_REPAIRING, /* seq is the top but a repair is in flight: the repair brings it */
};

/* The state of one room's log that the decision reads. */
struct seq_state {
	bool has_base;  /* a join reply has set where the log starts */
	uint64_t top;   /* next seq expected */
	bool repairing; /* a history request for a gap is in flight */
};

/* Decides on event seq for a room in state st; same_epoch is false when the event names
 * another broker epoch than the current one. Pure. */
enum seq_verdict policy_seq(const struct seq_state *st, bool same_epoch, uint64_t seq);

/* The highest seq seen live while the log waits for a repair: seen_max raised to seq for a
 * GAP or REPAIRING verdict, else unchanged. Pure. */
uint64_t policy_seen_max(enum seq_verdict v, uint64_t seen_max, uint64_t seq);

/* Is a client whose queue holds pending bytes (limit: --queue-limit) a slow consumer?
 * *over_since_ms is the client's state: the monotonic ms since which the backlog has been over
 * the limit, 0 when it is not (set and cleared here). partial: the socket holds a partial
 * write (it is not draining). True when slow: over the limit while the socket does not drain,
 * for WS_QUEUE_GRACE_MS, or by more than WS_QUEUE_BURST times the limit at once. A burst that
 * merely arrived between two writes to a client that keeps up is not held against it. */
bool policy_slow(uint64_t pending, uint64_t limit, uint64_t *over_since_ms, uint64_t now_ms,
                 bool partial);

#endif
