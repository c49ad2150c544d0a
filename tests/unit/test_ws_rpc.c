/* test_ws_rpc.c — madang-ws's requests held back while one is in flight (ws-frontend/ws_rpc.c,
 * policy_hold, docs/performance.md, finding 36): a loop turn's requests wait for the reply to an
 * earlier turn's, for at most WS_HOLD_NS, and then go out as one batch; a whole batch of them
 * goes at once. Against a real REP socket over inproc://; the sanitizer suite and valgrind run
 * it too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "../../ws-frontend/policy.h"
#include "../../ws-frontend/session.h"
#include "../../ws-frontend/ws_rpc.h"
#include "../../ws-frontend/ws_state.h"

#define URL   "inproc://test-ws-rpc"
#define NSESS (WS_BATCH_MAX + 2)

static nng_socket req, rep;
static struct ws_session *sess[NSESS];
static int done[NSESS]; /* completions seen, by session */

static void
on_done(void *state, struct rpc_result *r)
{
	int i = *(const int *)state;

	assert_int_equal(r->rv, 0);
	assert_true(r->ok);
	done[i]++;
}

/* Session i's "say" request, ordered as madang-ws sends a client's messages. */
static void
say(int i)
{
	cJSON *o = cJSON_CreateObject();
	struct rpc_call c = {
	    .done = on_done, .state = &i, .size = sizeof(i), .sess = sess[i], .ordered = true};

	cJSON_AddStringToObject(o, "op", "say");
	cJSON_AddNumberToObject(o, "who", i);
	rpc_call(o, &c);
}

/* The broker side: each REP context takes one request and answers it, so that a test can hold
 * one unanswered while it takes the next. */
static nng_ctx bctx[2];
static nng_aio *baio;

/* The next request for context k, within ms (NULL: none). The caller owns it. */
static cJSON *
broker_take(int k, int ms)
{
	nng_msg *m;
	cJSON *o;

	nng_aio_set_timeout(baio, ms > 0 ? ms : NNG_DURATION_ZERO);
	nng_ctx_recv(bctx[k], baio);
	nng_aio_wait(baio);
	if (nng_aio_result(baio) != 0)
		return NULL;
	m = nng_aio_get_msg(baio);
	o = cJSON_ParseWithLength(nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
	assert_non_null(o);
	return o;
}

/* Answers context k's request: {"ok":true}, or a batch's reply of n of them. */
static void
broker_reply(int k, int n)
{
	char buf[8192];
	size_t len;
	nng_msg *m;

	if (n == 0) {
		len = (size_t)snprintf(buf, sizeof(buf), "{\"ok\":true}");
	} else {
		len = (size_t)snprintf(buf, sizeof(buf), "{\"ok\":true,\"replies\":[");
		for (int i = 0; i < n; i++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s{\"ok\":true}",
			                        i ? "," : "");
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "]}");
	}
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, buf, len), 0);
	nng_aio_set_timeout(baio, 2000);
	nng_aio_set_msg(baio, m);
	nng_ctx_send(bctx[k], baio);
	nng_aio_wait(baio);
	assert_int_equal(nng_aio_result(baio), 0);
}

/* Takes context k's request and checks what it is: "say" from who, or a batch of n. */
static void
broker_expect(int k, int who, int n)
{
	cJSON *o = broker_take(k, 2000);

	assert_non_null(o);
	if (n == 0) {
		assert_string_equal(cJSON_GetObjectItem(o, "op")->valuestring, "say");
		assert_int_equal(cJSON_GetObjectItem(o, "who")->valueint, who);
	} else {
		assert_string_equal(cJSON_GetObjectItem(o, "op")->valuestring, "batch");
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "requests")), n);
	}
	cJSON_Delete(o);
}

/* Runs rpc_drain until session i has seen its completion (at most 5 s). */
static void
drain_until_done(int i)
{
	for (int k = 0; k < 5000 && done[i] == 0; k++) {
		rpc_drain();
		if (done[i] == 0)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	assert_int_equal(done[i], 1);
}

/* Once for all tests: ws_rpc.c is opened once, as in madang-ws (rpc_close is for good). */
static int
setup(void **state)
{
	(void)state;
	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(nng_listen(rep, URL, NULL, 0), 0);
	assert_int_equal(nng_ctx_open(&bctx[0], rep), 0);
	assert_int_equal(nng_ctx_open(&bctx[1], rep), 0);
	assert_int_equal(nng_aio_alloc(&baio, NULL, NULL), 0);
	assert_int_equal(nng_req0_open(&req), 0);
	assert_int_equal(nng_dial(req, URL, NULL, 0), 0);
	rpc_open(nng_socket_id(req), NULL);
	for (int i = 0; i < NSESS; i++) {
		char id[16];
		snprintf(id, sizeof(id), "s%d", i);
		assert_non_null(sess[i] = sess_new(id, 4));
	}
	return 0;
}

/* Before each test: nothing is in flight (each test waits for its completions). */
static int
reset(void **state)
{
	(void)state;
	memset(done, 0, sizeof(done));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	nng_close(req);
	rpc_close();
	nng_aio_free(baio);
	nng_close(rep);
	for (int i = 0; i < NSESS; i++)
		sess_unref(sess[i]);
	return 0;
}

/* Session 0's request in flight (taken by context 0, unanswered), then session 1's held back;
 * returns the hold left. A stall of WS_HOLD_NS between the two (valgrind, a busy machine) sends
 * session 1's too: both are answered, and it starts again. */
static uint64_t
in_flight_then_held(void)
{
	for (int tries = 0; tries < 50; tries++) {
		uint64_t wait;

		say(0);
		assert_int_equal(rpc_flush(), 0); /* nothing in flight: it goes at once */
		broker_expect(0, 0, 0);
		say(1);
		if ((wait = rpc_flush()) > 0) {
			assert_true(wait <= WS_HOLD_NS);
			assert_null(broker_take(1, 0)); /* held: it never reached the broker */
			return wait;
		}
		broker_expect(1, 1, 0);
		broker_reply(1, 0);
		broker_reply(0, 0);
		drain_until_done(0);
		drain_until_done(1);
		done[0] = done[1] = 0;
	}
	fail_msg("never held back in 50 tries");
	return 0;
}

/* While the first turn's request is unanswered, the next turn's waits; the reply lets it go. */
static void
test_a_turns_request_waits_for_the_one_in_flight(void **state)
{
	(void)state;
	in_flight_then_held();
	assert_int_equal(rpc_pending(), 2); /* shutdown waits for the held one too */
	broker_reply(0, 0);
	drain_until_done(0);
	assert_int_equal(done[1], 0);
	assert_int_equal(rpc_flush(), 0);
	broker_expect(0, 1, 0);
	broker_reply(0, 0);
	drain_until_done(1);
}

/* A reply slower than WS_HOLD_NS holds nothing longer: the turns' requests go as one batch. */
static void
test_a_held_request_goes_after_the_hold_without_a_reply(void **state)
{
	uint64_t wait = in_flight_then_held();

	(void)state;
	say(2); /* a later turn's */
	(void)rpc_flush();
	nanosleep(&(struct timespec){0, (long)wait}, NULL);
	assert_int_equal(rpc_flush(), 0);
	broker_expect(1, 0, 2);
	broker_reply(1, 2);
	drain_until_done(1);
	drain_until_done(2);
	assert_int_equal(done[0], 0); /* the first is still unanswered */
	broker_reply(0, 0);
	drain_until_done(0);
}

/* Requests enough for a whole batch are not held. */
static void
test_a_whole_batch_goes_at_once(void **state)
{
	(void)state;
	say(0);
	assert_int_equal(rpc_flush(), 0);
	broker_expect(0, 0, 0);
	for (int i = 1; i <= WS_BATCH_MAX; i++)
		say(i);
	assert_int_equal(rpc_flush(), 0);
	broker_expect(1, 0, WS_BATCH_MAX);
	broker_reply(1, WS_BATCH_MAX);
	for (int i = 1; i <= WS_BATCH_MAX; i++)
		drain_until_done(i);
	broker_reply(0, 0);
	drain_until_done(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_a_turns_request_waits_for_the_one_in_flight, reset),
	    cmocka_unit_test_setup(test_a_held_request_goes_after_the_hold_without_a_reply, reset),
	    cmocka_unit_test_setup(test_a_whole_batch_goes_at_once, reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
