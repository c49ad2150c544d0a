/* test_stopguard.c — common/stopguard.c in forked children: an armed guard ends the process
 * with status 1 once its time is up, a disarmed one does not, a second arm keeps the earlier
 * deadline, 0 means no bound; in the last phase (stopguard_cleanup) it ends it with the stop's
 * own status after at most STOPGUARD_CLEANUP_S. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "stopguard.h"

/* Runs body in a child that then sleeps for sleep_s and exits 0; returns its wait status and
 * how long it lived in *ms. The child's stderr (the guard's log line) goes to /dev/null. */
static int
run_child(void (*body)(void), unsigned sleep_s, uint64_t *ms)
{
	uint64_t t0 = clock_mono_ms();
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		body();
		sleep(sleep_s);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	*ms = clock_mono_ms() - t0;
	return status;
}

static void
arm_1s(void)
{
	assert_int_equal(stopguard_arm(1, "test", "a sleep"), 0);
}

static void
arm_1s_then_3s(void)
{
	arm_1s();
	assert_int_equal(stopguard_arm(3, "test", "a longer sleep"), 0);
}

static void
arm_then_disarm(void)
{
	arm_1s();
	stopguard_disarm();
}

static void
arm_0(void)
{
	assert_int_equal(stopguard_arm(0, "test", "nothing"), 0);
}

static void
arm_60s_then_cleanup(void)
{
	assert_int_equal(stopguard_arm(60, "test", "a long stop"), 0);
	assert_int_equal(stopguard_cleanup(60, "test", "nng_close", 0), 0);
}

static void
arm_1s_then_cleanup_status_3(void)
{
	arm_1s();
	assert_int_equal(stopguard_cleanup(60, "test", "nng_close", 3), 0);
}

/* Runs body in a child (run_child, 5 s of sleep after it) and checks that the guard ended it
 * with status between min_ms and max_ms. */
static void
expect_exit(void (*body)(void), int status, uint64_t min_ms, uint64_t max_ms)
{
	uint64_t ms;
	int st = run_child(body, 5, &ms);

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), status);
	assert_true(ms >= min_ms && ms < max_ms);
}

static void
expect_guard_exit(void (*body)(void), uint64_t max_ms)
{
	expect_exit(body, 1, 950, max_ms);
}

/* The last phase: STOPGUARD_CLEANUP_S (3) however long --stop-timeout is, with the status the
 * stop earned; never past the deadline already set. */
static void
test_the_last_phase_ends_with_the_stops_status_after_a_few_seconds(void **state)
{
	(void)state;
	expect_exit(arm_60s_then_cleanup, 0, STOPGUARD_CLEANUP_S * 1000 - 50,
	            STOPGUARD_CLEANUP_S * 1000 + 1500);
	expect_exit(arm_1s_then_cleanup_status_3, 3, 950, 2500);
}

static void
test_an_armed_guard_ends_the_process_with_status_1_when_its_time_is_up(void **state)
{
	(void)state;
	expect_guard_exit(arm_1s, 3000);
}

static void
test_a_second_arm_keeps_the_earlier_deadline(void **state)
{
	(void)state;
	expect_guard_exit(arm_1s_then_3s, 2500);
}

static void
test_a_disarmed_guard_and_a_zero_timeout_let_the_process_run(void **state)
{
	uint64_t ms;
	int st = run_child(arm_then_disarm, 2, &ms);

	(void)state;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(ms >= 1950);
	st = run_child(arm_0, 1, &ms);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_an_armed_guard_ends_the_process_with_status_1_when_its_time_is_up),
		cmocka_unit_test(test_a_second_arm_keeps_the_earlier_deadline),
		cmocka_unit_test(test_a_disarmed_guard_and_a_zero_timeout_let_the_process_run),
		cmocka_unit_test(test_the_last_phase_ends_with_the_stops_status_after_a_few_seconds),
	};
	alarm(30);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
