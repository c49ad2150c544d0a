/* policy.h — madang-ws's pure decisions, with time and state passed in: which room events
 * are delivered (seq and epoch against the room's log), when a client that does not read is a
 * slow consumer, when the loop's pending writes go out (pacing), when memory is trimmed and
 * when requests wait for the one in flight. No I/O, no globals; any thread (the callers own the
 * state). */
#ifndef MADANG_WS_POLICY_H
#define MADANG_WS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
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

/* How long after a join reply set a room's base the tick still refetches the room's history
 * while no live event of the room has arrived: a broker that has just taken over (a failover,
 * a restart) may publish its first events before its end of our event stream's connection is
 * in place, and those never arrive live (nothing after them shows a gap when the room goes
 * quiet). */
#define WS_STREAM_SETTLE_MS 3000

/* What the tick's decision to refetch a room's history reads. */
struct refetch_state {
	struct seq_state seq;     /* the room's log */
	uint64_t seen_max;        /* policy_seen_max's */
	bool live_seen;           /* a live event of the current epoch arrived since the base */
	uint64_t settle_until_ms; /* the base's time + WS_STREAM_SETTLE_MS (monotonic ms) */
};

/* Should the tick at now_ms fetch the history after the log's top? Yes when a base is set, no
 * repair is in flight and either a live event above the log was seen (a gap, or an event
 * dropped while a repair was in flight) or, within WS_STREAM_SETTLE_MS of the base, no live
 * event has arrived yet. Pure. */
bool policy_refetch(const struct refetch_state *st, uint64_t now_ms);

/* Is a client whose queue holds pending bytes (limit: --queue-limit) a slow consumer?
 * *over_since_ms is the client's state: the monotonic ms since which the backlog has been over
 * the limit, 0 when it is not (set and cleared here). partial: the socket holds a partial
 * write (it is not draining). True when slow: over the limit while the socket does not drain,
 * for WS_QUEUE_GRACE_MS, or by more than WS_QUEUE_BURST times the limit at once. A burst that
 * merely arrived between two writes to a client that keeps up is not held against it. */
bool policy_slow(uint64_t pending, uint64_t limit, uint64_t *over_since_ms, uint64_t now_ms,
                 bool partial);

/* Write pacing (--event-loop libev, ws_glue.c): frames go out at the end of the loop turn that
 * produced them unless the loop is saturated (it hardly ever waits for events); then the next
 * flush waits, up to as long as the last one took (the rule of finding 24, which keeps writes
 * to half of the loop's time), so that frames gather and each send() carries several
 * (docs/performance.md, findings 24 and 27). */
#define WS_PACE_WINDOW_NS   20000000ULL /* the busy share is a decaying mean over ~this */
#define WS_PACE_FREE_PCT    80          /* loop busy under this share of the time: write at once */
#define WS_PACE_FULL_PCT    95          /* at or above: wait as long as the last flush took */
#define WS_PACE_MIN_WAIT_NS 20000ULL    /* a shorter wait is not worth a timer: write now */

/* The loop's recent busy time (everything but waiting for events) against its whole time, both
 * halved whenever the whole passes WS_PACE_WINDOW_NS (an exponentially decaying window).
 * Zeroed: no history. */
struct pace_load {
	uint64_t busy_ns;
	uint64_t total_ns;
};

/* Adds a stretch of busy_ns working and idle_ns waiting to l. Pure. */
void policy_load_add(struct pace_load *l, uint64_t busy_ns, uint64_t idle_ns);
/* l's busy share in percent (0 when it has no history). Pure. */
unsigned policy_load_pct(const struct pace_load *l);

/* What the pacing decision reads. */
struct pace_in {
	unsigned busy_pct;       /* the loop's busy share (policy_load_pct) */
	uint64_t last_flush_ns;  /* how long the last flush took */
	uint64_t since_flush_ns; /* time since the last flush ended */
	uint64_t sessions;       /* sessions waiting for a write */
	bool flush_time;         /* the rule before finding 27: always wait the last flush's cost */
};

/* How long to wait before writing what is pending, in ns; 0: write now. With flush_time (kept
 * for measurements: MADANG_WS_PACING=flush-time), the last flush's cost less the time since it
 * ended, whatever the load. Otherwise, below WS_PACE_FREE_PCT busy, 0. Above, the wait grows
 * with the busy share from 0 to the last flush's cost at WS_PACE_FULL_PCT, less the time
 * already passed since that flush; under WS_PACE_MIN_WAIT_NS it is 0. Pure. */
uint64_t policy_pace(const struct pace_in *in);

/* Giving memory back after a burst of connections (docs/performance.md, finding 28): the
 * handshakes (lws's header buffers), join replies and broker messages of a burst leave free
 * memory scattered through the heap and through the malloc arenas of nng's threads, which
 * malloc keeps resident (about 200 bytes per connection of an idle burst of 10,000).
 * malloc_trim gives its whole free pages back; the keep-alive sweep calls it once a burst is
 * over: at least WS_TRIM_CHURN connections opened or closed since the last trim, and none in
 * the last sweep. A steady trickle of connections reuses that memory instead. */
#define WS_TRIM_CHURN 1000

/* Should the sweep trim? churn: connections opened or closed since the last trim; prev: the
 * same count at the previous sweep. Pure. */
bool policy_trim(uint64_t churn, uint64_t prev);

/* Holding requests back (ws_rpc.c, docs/performance.md, finding 36): while a request or batch
 * that an earlier loop turn sent is unanswered, and went out less than WS_HOLD_NS ago, the
 * requests of the turns after it wait and then go out together. Under load that makes fewer,
 * larger batches: fewer nng messages (each handed between threads more than once), broker
 * turns and event bundles. The wait ends with the reply, or when WS_HOLD_NS has passed (a timer
 * wakes the loop then: ws_glue.c); requests enough for a whole batch go at once. */
#define WS_HOLD_NS 1000000ULL

struct hold_in {
	size_t queued;     /* requests waiting to go */
	size_t batch_max;  /* requests a batch takes */
	size_t in_flight;  /* requests and batches of earlier turns not answered yet */
	uint64_t since_ns; /* since the last of those went out */
};

/* How long the queued requests may still wait, in ns; 0: they go now. Pure. */
uint64_t policy_hold(const struct hold_in *in);

#endif
