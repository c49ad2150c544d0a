/* test_ws_linkstate.c — the broker link's state machine (ws-frontend/linkstate.h): registration
 * waits for the event stream, hello → sync → up, what a lost, refused or restarted broker
 * leads to, and that the clients are told of an outage once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../ws-frontend/linkstate.h"

/* A link brought up through hello and sync. */
static struct linkstate
link_up(void)
{
	struct linkstate ls = {0};

	assert_int_equal(linkstate_poke(&ls, false, true), LINK_SEND_HELLO);
	assert_int_equal(linkstate_hello_done(&ls, false, LINK_OK), LINK_SEND_SYNC);
	assert_int_equal(linkstate_sync_done(&ls, false, true, LINK_OK), LINK_SYNCED);
	assert_int_equal(ls.state, LINK_UP);
	return ls;
}

static void
test_hello_waits_for_the_event_stream(void **state)
{
	struct linkstate ls = {0};

	(void)state;
	assert_int_equal(linkstate_poke(&ls, false, false), LINK_NOTHING);
	assert_int_equal(linkstate_tick(&ls, false, false), LINK_NOTHING);
	assert_false(ls.hello_busy);
	assert_int_equal(linkstate_tick(&ls, false, true), LINK_SEND_HELLO);
	assert_true(ls.hello_busy);
	/* One hello at a time. */
	assert_int_equal(linkstate_tick(&ls, false, true), LINK_NOTHING);
	assert_int_equal(linkstate_poke(&ls, false, true), LINK_NOTHING);
}

static void
test_hello_then_sync_then_up(void **state)
{
	struct linkstate ls = {0};

	(void)state;
	assert_int_equal(linkstate_poke(&ls, false, true), LINK_SEND_HELLO);
	assert_int_equal(linkstate_hello_done(&ls, false, LINK_OK), LINK_SEND_SYNC);
	assert_int_equal(ls.state, LINK_SYNCING);
	assert_true(ls.sync_busy);
	assert_int_equal(linkstate_tick(&ls, false, true), LINK_NOTHING); /* sync in flight */
	assert_int_equal(linkstate_sync_done(&ls, false, true, LINK_OK), LINK_SYNCED);
	assert_int_equal(ls.state, LINK_UP);
	assert_int_equal(linkstate_tick(&ls, false, true), LINK_SEND_HEARTBEAT);
	assert_int_equal(linkstate_tick(&ls, false, true), LINK_NOTHING); /* one in flight */
	assert_int_equal(linkstate_heartbeat_done(&ls, false, true, LINK_OK), LINK_NOTHING);
	assert_int_equal(linkstate_tick(&ls, false, true), LINK_SEND_HEARTBEAT);
}

static void
test_hello_failures(void **state)
{
	struct linkstate ls = {0};

	(void)state;
	linkstate_poke(&ls, false, true);
	assert_int_equal(linkstate_hello_done(&ls, false, LINK_NO_ANSWER), LINK_LOST);
	linkstate_tick(&ls, false, true);
	assert_int_equal(linkstate_hello_done(&ls, false, LINK_REFUSED), LINK_LOST);
	/* Not sent (no memory): the next tick tries again, nothing else happens. */
	linkstate_tick(&ls, false, true);
	assert_int_equal(linkstate_hello_done(&ls, false, LINK_NOT_SENT), LINK_NOTHING);
	assert_int_equal(linkstate_tick(&ls, false, true), LINK_SEND_HELLO);
}

static void
test_sync_unknown_frontend_registers_again(void **state)
{
	struct linkstate ls = {0};

	(void)state;
	linkstate_poke(&ls, false, true);
	linkstate_hello_done(&ls, false, LINK_OK);
	assert_int_equal(linkstate_sync_done(&ls, false, true, LINK_UNKNOWN_FRONTEND),
	                 LINK_SEND_HELLO);
	linkstate_hello_done(&ls, false, LINK_OK);
	/* Without the event stream: down until it is back. */
	assert_int_equal(linkstate_sync_done(&ls, false, false, LINK_UNKNOWN_FRONTEND),
	                 LINK_NOTHING);
	assert_int_equal(ls.state, LINK_DOWN);
	linkstate_tick(&ls, false, true);
	linkstate_hello_done(&ls, false, LINK_OK);
	assert_int_equal(linkstate_sync_done(&ls, false, true, LINK_NO_ANSWER), LINK_LOST);
	linkstate_tick(&ls, false, true);
	linkstate_hello_done(&ls, false, LINK_OK);
	assert_int_equal(linkstate_sync_done(&ls, false, true, LINK_NOT_SENT), LINK_LOST);
}

static void
test_heartbeat_outcomes(void **state)
{
	struct linkstate ls = link_up();

	(void)state;
	/* A restarted broker (refused: it does not know us; or a new epoch): register again,
	 * re-syncing meanwhile. */
	linkstate_tick(&ls, false, true);
	assert_int_equal(linkstate_heartbeat_done(&ls, false, true, LINK_REFUSED), LINK_SEND_HELLO);
	assert_int_equal(ls.state, LINK_SYNCING);
	ls = link_up();
	linkstate_tick(&ls, false, true);
	assert_int_equal(linkstate_heartbeat_done(&ls, false, true, LINK_NEW_EPOCH),
	                 LINK_SEND_HELLO);
	ls = link_up();
	linkstate_tick(&ls, false, true);
	assert_int_equal(linkstate_heartbeat_done(&ls, false, true, LINK_NO_ANSWER), LINK_LOST);
	ls = link_up();
	linkstate_tick(&ls, false, true);
	assert_int_equal(linkstate_heartbeat_done(&ls, false, true, LINK_NOT_SENT), LINK_NOTHING);
	assert_int_equal(ls.state, LINK_UP);
	/* A late heartbeat reply while not up changes nothing. */
	ls.state = LINK_SYNCING;
	ls.hb_busy = true;
	assert_int_equal(linkstate_heartbeat_done(&ls, false, true, LINK_NO_ANSWER), LINK_NOTHING);
	assert_false(ls.hb_busy);
}

static void
test_stopping_sends_nothing(void **state)
{
	struct linkstate ls = link_up();

	(void)state;
	assert_int_equal(linkstate_tick(&ls, true, true), LINK_NOTHING);
	ls.hb_busy = true;
	assert_int_equal(linkstate_heartbeat_done(&ls, true, true, LINK_NO_ANSWER), LINK_NOTHING);
	ls.state = LINK_DOWN;
	assert_int_equal(linkstate_poke(&ls, true, true), LINK_NOTHING);
	ls.hello_busy = true;
	assert_int_equal(linkstate_hello_done(&ls, true, LINK_OK), LINK_NOTHING);
	assert_false(ls.hello_busy);
}

static void
test_clients_told_once_per_outage(void **state)
{
	struct linkstate ls = link_up();

	(void)state;
	assert_int_equal(linkstate_lost(&ls), LINK_LOST_WAS_UP | LINK_LOST_NOTIFY);
	assert_int_equal(ls.state, LINK_DOWN);
	assert_int_equal(linkstate_lost(&ls), 0); /* still down: no log, no second notice */
	linkstate_tick(&ls, false, true);
	linkstate_hello_done(&ls, false, LINK_OK);
	assert_int_equal(linkstate_lost(&ls), LINK_LOST_WAS_UP); /* syncing: not told again */
	linkstate_tick(&ls, false, true);
	linkstate_hello_done(&ls, false, LINK_OK);
	linkstate_sync_done(&ls, false, true, LINK_OK); /* up: the next outage is told */
	assert_int_equal(linkstate_lost(&ls), LINK_LOST_WAS_UP | LINK_LOST_NOTIFY);
}

/* A request refused with unknown_frontend while up (the broker restarted, or a standby took
 * over, before a heartbeat noticed): hello at once, once; nothing while already registering. */
static void
test_refused_while_up_registers_again(void **state)
{
	struct linkstate ls = link_up();

	(void)state;
	assert_int_equal(linkstate_refused(&ls, false, true), LINK_SEND_HELLO);
	assert_int_equal(ls.state, LINK_SYNCING);
	assert_int_equal(linkstate_refused(&ls, false, true), LINK_NOTHING); /* hello in flight */
	assert_int_equal(linkstate_hello_done(&ls, false, LINK_OK), LINK_SEND_SYNC);
	assert_int_equal(linkstate_refused(&ls, false, true), LINK_NOTHING); /* sync in flight */
	assert_int_equal(linkstate_sync_done(&ls, false, true, LINK_OK), LINK_SYNCED);
	/* Without the event stream: down until it is back; stopping: nothing. */
	assert_int_equal(linkstate_refused(&ls, false, false), LINK_NOTHING);
	assert_int_equal(ls.state, LINK_DOWN);
	ls = link_up();
	assert_int_equal(linkstate_refused(&ls, true, true), LINK_NOTHING);
	assert_int_equal(ls.state, LINK_UP);
}

/* The flake of brokers.test.mjs test 4 (a private lost after a restart): c's private, made
 * while the link was up, reached the restarted broker between the re-registration's hello and
 * its sync (not_member: the members were not re-declared yet), and its reply was handled after
 * the sync's, with the link up again. It was answered not_member; it must be retried. */
static void
test_not_member_from_before_a_registration_is_retried(void **state)
{
	struct linkstate ls = link_up();
	unsigned made = ls.hellos;

	(void)state;
	/* A request made now and refused not_member while still up: a real refusal. */
	assert_int_equal(linkstate_refusal(&ls, made, false, true), LINK_ANSWER);
	assert_int_equal(linkstate_refusal(&ls, made, false, false), LINK_ANSWER);
	/* Another request of the same client is refused unknown_frontend: register again. */
	assert_int_equal(linkstate_refusal(&ls, made, true, false), LINK_RETRY_REGISTER);
	assert_int_equal(linkstate_refused(&ls, false, true), LINK_SEND_HELLO);
	/* The reply comes while registering: retried (as before). */
	assert_int_equal(linkstate_refusal(&ls, made, false, true), LINK_RETRY);
	assert_int_equal(linkstate_hello_done(&ls, false, LINK_OK), LINK_SEND_SYNC);
	assert_int_equal(linkstate_sync_done(&ls, false, true, LINK_OK), LINK_SYNCED);
	/* The reply comes after the sync's, the link up again: still retried, not answered. */
	assert_int_equal(linkstate_refusal(&ls, made, false, true), LINK_RETRY);
	/* An unknown_frontend from before that registration: retried, no second registration. */
	assert_int_equal(linkstate_refusal(&ls, made, true, false), LINK_RETRY);
	/* The retry, made after the registration, refused not_member: answered. */
	assert_int_equal(linkstate_refusal(&ls, ls.hellos, false, true), LINK_ANSWER);
	assert_int_equal(linkstate_refusal(&ls, ls.hellos, true, false), LINK_RETRY_REGISTER);
	/* Link down: not_member is retried whenever the request was made. */
	linkstate_lost(&ls);
	assert_int_equal(linkstate_refusal(&ls, ls.hellos, false, true), LINK_RETRY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_waits_for_the_event_stream),
	    cmocka_unit_test(test_hello_then_sync_then_up),
	    cmocka_unit_test(test_hello_failures),
	    cmocka_unit_test(test_sync_unknown_frontend_registers_again),
	    cmocka_unit_test(test_heartbeat_outcomes),
	    cmocka_unit_test(test_stopping_sends_nothing),
	    cmocka_unit_test(test_clients_told_once_per_outage),
	    cmocka_unit_test(test_refused_while_up_registers_again),
	    cmocka_unit_test(test_not_member_from_before_a_registration_is_retried),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
