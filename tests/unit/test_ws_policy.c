/* test_ws_policy.c — madang-ws's pure decisions (ws-frontend/policy.h): which live room event
 * is delivered, dropped as a duplicate or stale, or starts a gap repair; and when a client that
 * does not read becomes a slow consumer; the loop's busy share and the write pacing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../ws-frontend/policy.h"

static void
test_seq_in_order_is_delivered(void **state)
{
	struct seq_state st = {.has_base = true, .top = 10, .repairing = false};

	(void)state;
	assert_int_equal(policy_seq(&st, true, 10), SEQ_DELIVER);
}

static void
test_seq_below_top_is_a_duplicate(void **state)
{
	struct seq_state st = {.has_base = true, .top = 10, .repairing = false};

	(void)state;
	assert_int_equal(policy_seq(&st, true, 9), SEQ_DUPLICATE);
	assert_int_equal(policy_seq(&st, true, 0), SEQ_DUPLICATE);
	st.repairing = true; /* a repair does not make an old event new */
	assert_int_equal(policy_seq(&st, true, 3), SEQ_DUPLICATE);
}

static void
test_seq_above_top_is_a_gap(void **state)
{
	struct seq_state st = {.has_base = true, .top = 10, .repairing = false};

	(void)state;
	assert_int_equal(policy_seq(&st, true, 11), SEQ_GAP);
	assert_int_equal(policy_seq(&st, true, UINT64_MAX), SEQ_GAP);
	st.repairing = true;
	assert_int_equal(policy_seq(&st, true, 12), SEQ_GAP);
}

static void
test_seq_at_top_while_repairing_waits(void **state)
{
	struct seq_state st = {.has_base = true, .top = 10, .repairing = true};

	(void)state;
	assert_int_equal(policy_seq(&st, true, 10), SEQ_REPAIRING);
}

static void
test_seq_other_epoch_or_no_base_is_stale(void **state)
{
	struct seq_state st = {.has_base = true, .top = 10, .repairing = false};

	(void)state;
	assert_int_equal(policy_seq(&st, false, 10), SEQ_STALE);
	assert_int_equal(policy_seq(&st, false, 11), SEQ_STALE);
	st.has_base = false; /* before the first join reply: nothing to compare with */
	assert_int_equal(policy_seq(&st, true, 0), SEQ_STALE);
	assert_int_equal(policy_seq(&st, true, 10), SEQ_STALE);
}

static void
test_seen_max_rises_only_while_waiting(void **state)
{
	(void)state;
	assert_int_equal(policy_seen_max(SEQ_GAP, 0, 12), 12);
	assert_int_equal(policy_seen_max(SEQ_GAP, 20, 12), 20);
	assert_int_equal(policy_seen_max(SEQ_REPAIRING, 5, 10), 10);
	assert_int_equal(policy_seen_max(SEQ_DELIVER, 5, 10), 5);
	assert_int_equal(policy_seen_max(SEQ_DUPLICATE, 5, 10), 5);
	assert_int_equal(policy_seen_max(SEQ_STALE, 5, 10), 5);
}

/* brokers.test.mjs test 2: after a failover the re-sync join set the base at 3 and its repair
 * came back empty; the new broker's next events (3, 4) were published before its end of the
 * event stream was in place and never arrived live, so seen_max stayed 0. The old tick rule
 * (seen_max >= top) never fetched them again: the tick must, within WS_STREAM_SETTLE_MS. */
static void
test_refetch_after_base_until_a_live_event(void **state)
{
	struct refetch_state st = {.seq = {.has_base = true, .top = 3, .repairing = false},
	                           .seen_max = 0,
	                           .live_seen = false,
	                           .settle_until_ms = 1000 + WS_STREAM_SETTLE_MS};

	(void)state;
	assert_true(policy_refetch(&st, 1000));
	assert_true(policy_refetch(&st, 1000 + WS_STREAM_SETTLE_MS - 1));
	st.seq.repairing = true; /* one at a time */
	assert_false(policy_refetch(&st, 1001));
	st.seq.repairing = false;
	st.live_seen = true; /* the stream carries the room: gaps show from now on */
	assert_false(policy_refetch(&st, 1001));
	st.live_seen = false; /* a quiet room is not polled for ever */
	assert_false(policy_refetch(&st, 1000 + WS_STREAM_SETTLE_MS));
	st.seq.has_base = false; /* before a join reply: nothing to fetch after */
	assert_false(policy_refetch(&st, 1001));
}

/* A live event above the log seen while a repair was in flight is fetched by a later tick
 * whatever the time. */
static void
test_refetch_when_a_later_event_was_seen(void **state)
{
	struct refetch_state st = {.seq = {.has_base = true, .top = 5, .repairing = false},
	                           .seen_max = 5,
	                           .live_seen = true,
	                           .settle_until_ms = 0};

	(void)state;
	assert_true(policy_refetch(&st, 123456));
	st.seen_max = 4; /* already in the log */
	assert_false(policy_refetch(&st, 123456));
}

static void
test_slow_under_limit_is_never_slow(void **state)
{
	uint64_t since = 500;

	(void)state;
	assert_false(policy_slow(1000, 1000, &since, 9000, true));
	assert_int_equal(since, 0); /* caught up: the clock starts again */
}

static void
test_slow_burst_is_given_grace(void **state)
{
	uint64_t since = 0;

	(void)state;
	/* Over the limit, the socket draining: not slow yet, the clock starts. */
	assert_false(policy_slow(2000, 1000, &since, 100, false));
	assert_int_equal(since, 100);
	assert_false(policy_slow(2000, 1000, &since, 100 + WS_QUEUE_GRACE_MS - 1, false));
	assert_int_equal(since, 100);
	/* Still over when the grace has passed: slow. */
	assert_true(policy_slow(2000, 1000, &since, 100 + WS_QUEUE_GRACE_MS, false));
}

static void
test_slow_partial_write_is_slow_at_once(void **state)
{
	uint64_t since = 0;

	(void)state;
	assert_true(policy_slow(1001, 1000, &since, 50, true));
}

static void
test_slow_huge_burst_is_slow_at_once(void **state)
{
	uint64_t since = 0;

	(void)state;
	assert_false(policy_slow(WS_QUEUE_BURST * 1000, 1000, &since, 50, false));
	since = 0;
	assert_true(policy_slow(WS_QUEUE_BURST * 1000 + 1, 1000, &since, 50, false));
}

/* --- write pacing ------------------------------------------------------------------------ */

#define MS 1000000ULL

static void
test_load_is_the_busy_share(void **state)
{
	struct pace_load l = {0, 0};

	(void)state;
	assert_int_equal(policy_load_pct(&l), 0); /* no history: idle */
	policy_load_add(&l, 3 * MS, 1 * MS);
	assert_int_equal(policy_load_pct(&l), 75);
	policy_load_add(&l, 0, 4 * MS);
	assert_int_equal(policy_load_pct(&l), 37);
}

static void
test_load_forgets_the_past(void **state)
{
	struct pace_load l = {0, 0};

	(void)state;
	policy_load_add(&l, 200 * MS, 0); /* a long busy stretch */
	assert_int_equal(policy_load_pct(&l), 100);
	assert_true(l.total_ns <= WS_PACE_WINDOW_NS);
	for (int i = 0; i < 20; i++)
		policy_load_add(&l, 0, 5 * MS); /* then 100 ms of waiting */
	assert_true(policy_load_pct(&l) < 5);
	assert_true(l.total_ns <= WS_PACE_WINDOW_NS);
}

static void
test_pace_nothing_pending_or_loop_free_writes_now(void **state)
{
	struct pace_in in = {.busy_pct = 99, .last_flush_ns = 10 * MS, .sessions = 0};

	(void)state;
	assert_int_equal(policy_pace(&in), 0);
	/* A loop with time to spare writes on the turn that produced the frames, however long
	 * the last flush took: the old rule (wait as long as the last flush) held them back. */
	in.sessions = 1000;
	in.busy_pct = WS_PACE_FREE_PCT - 1;
	assert_int_equal(policy_pace(&in), 0);
	in.busy_pct = 0;
	assert_int_equal(policy_pace(&in), 0);
}

static void
test_pace_saturated_waits_the_last_flush(void **state)
{
	struct pace_in in = {
	    .busy_pct = 100, .last_flush_ns = 150 * MS, .since_flush_ns = 0, .sessions = 1000};

	(void)state;
	/* As long as the flush took, however long: a storm's flushes take 100 ms and more, and
	 * the join notices must gather meanwhile. */
	assert_int_equal(policy_pace(&in), 150 * MS);
	in.last_flush_ns = 10 * MS;
	in.busy_pct = WS_PACE_FULL_PCT;
	assert_int_equal(policy_pace(&in), 10 * MS);
	in.since_flush_ns = 4 * MS; /* what has passed since counts */
	assert_int_equal(policy_pace(&in), 6 * MS);
	in.since_flush_ns = 10 * MS;
	assert_int_equal(policy_pace(&in), 0);
}

static void
test_pace_wait_grows_with_the_load(void **state)
{
	uint64_t span = WS_PACE_FULL_PCT - WS_PACE_FREE_PCT, prev = 0;
	struct pace_in in = {.last_flush_ns = 10 * MS, .sessions = 100};

	(void)state;
	in.busy_pct = WS_PACE_FREE_PCT + (unsigned)span / 2;
	assert_int_equal(policy_pace(&in), 10 * MS * (span / 2) / span);
	for (unsigned pct = WS_PACE_FREE_PCT; pct <= 100; pct++) {
		uint64_t w;
		in.busy_pct = pct;
		w = policy_pace(&in);
		assert_true(w >= prev);
		assert_true(w <= in.last_flush_ns);
		prev = w;
	}
}

static void
test_pace_short_waits_write_now(void **state)
{
	struct pace_in in = {
	    .busy_pct = 100, .last_flush_ns = WS_PACE_MIN_WAIT_NS - 1, .sessions = 1};

	(void)state;
	assert_int_equal(policy_pace(&in), 0); /* not worth a timer */
	in.last_flush_ns = WS_PACE_MIN_WAIT_NS;
	assert_int_equal(policy_pace(&in), WS_PACE_MIN_WAIT_NS);
}

static void
test_pace_flush_time_waits_whatever_the_load(void **state)
{
	struct pace_in in = {.busy_pct = 0,
	                     .last_flush_ns = 10 * MS,
	                     .since_flush_ns = 3 * MS,
	                     .sessions = 10,
	                     .flush_time = true};

	(void)state;
	assert_int_equal(policy_pace(&in), 7 * MS); /* the old rule held an idle loop's frames */
	in.flush_time = false;
	assert_int_equal(policy_pace(&in), 0);
}

/* malloc_trim after a burst of connections: only once WS_TRIM_CHURN connections came or went
 * since the last trim, and only when the last sweep saw none (the burst is over). */
static void
test_trim_once_a_burst_is_over(void **state)
{
	(void)state;
	assert_false(policy_trim(0, 0));
	assert_false(policy_trim(WS_TRIM_CHURN - 1, WS_TRIM_CHURN - 1)); /* too few */
	assert_false(policy_trim(WS_TRIM_CHURN, 10));                    /* still coming */
	assert_false(policy_trim(WS_TRIM_CHURN + 5, WS_TRIM_CHURN));
	assert_true(policy_trim(WS_TRIM_CHURN, WS_TRIM_CHURN)); /* a quiet sweep after it */
	assert_true(policy_trim(50000, 50000));
}

/* Requests wait only while an earlier turn's request is unanswered and went out less than
 * WS_HOLD_NS ago, and only while they do not fill a batch; the wait is what is left of it. */
static void
test_hold_waits_briefly_for_the_request_in_flight(void **state)
{
	struct hold_in in = {.queued = 3, .batch_max = 48, .in_flight = 1, .since_ns = 0};

	(void)state;
	assert_int_equal(policy_hold(&in), WS_HOLD_NS);
	in.since_ns = 300000;
	assert_int_equal(policy_hold(&in), WS_HOLD_NS - 300000);
	in.since_ns = WS_HOLD_NS - 1;
	assert_int_equal(policy_hold(&in), 1);
	in.since_ns = WS_HOLD_NS; /* held long enough: they go */
	assert_int_equal(policy_hold(&in), 0);
	in.since_ns = 0;
	in.in_flight = 0; /* nothing to wait for: at once */
	assert_int_equal(policy_hold(&in), 0);
	in.in_flight = 5;
	in.queued = 47;
	assert_int_equal(policy_hold(&in), WS_HOLD_NS);
	in.queued = 48; /* a whole batch: at once */
	assert_int_equal(policy_hold(&in), 0);
	in.queued = 1000;
	assert_int_equal(policy_hold(&in), 0);
	in.queued = 0; /* nothing to send */
	assert_int_equal(policy_hold(&in), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seq_in_order_is_delivered),
	    cmocka_unit_test(test_seq_below_top_is_a_duplicate),
	    cmocka_unit_test(test_seq_above_top_is_a_gap),
	    cmocka_unit_test(test_seq_at_top_while_repairing_waits),
	    cmocka_unit_test(test_seq_other_epoch_or_no_base_is_stale),
	    cmocka_unit_test(test_seen_max_rises_only_while_waiting),
	    cmocka_unit_test(test_refetch_after_base_until_a_live_event),
	    cmocka_unit_test(test_refetch_when_a_later_event_was_seen),
	    cmocka_unit_test(test_slow_under_limit_is_never_slow),
	    cmocka_unit_test(test_slow_burst_is_given_grace),
	    cmocka_unit_test(test_slow_partial_write_is_slow_at_once),
	    cmocka_unit_test(test_slow_huge_burst_is_slow_at_once),
	    cmocka_unit_test(test_load_is_the_busy_share),
	    cmocka_unit_test(test_load_forgets_the_past),
	    cmocka_unit_test(test_pace_nothing_pending_or_loop_free_writes_now),
	    cmocka_unit_test(test_pace_saturated_waits_the_last_flush),
	    cmocka_unit_test(test_pace_wait_grows_with_the_load),
	    cmocka_unit_test(test_pace_short_waits_write_now),
	    cmocka_unit_test(test_pace_flush_time_waits_whatever_the_load),
	    cmocka_unit_test(test_trim_once_a_burst_is_over),
	    cmocka_unit_test(test_hold_waits_briefly_for_the_request_in_flight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
