/* test_ws_policy.c — madang-ws's pure decisions (ws-frontend/policy.h): which live room event
 * is delivered, dropped as a duplicate or stale, or starts a gap repair; and when a client that
 * does not read becomes a slow consumer. */
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
	    cmocka_unit_test(test_slow_under_limit_is_never_slow),
	    cmocka_unit_test(test_slow_burst_is_given_grace),
	    cmocka_unit_test(test_slow_partial_write_is_slow_at_once),
	    cmocka_unit_test(test_slow_huge_burst_is_slow_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
