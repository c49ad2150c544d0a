/* test_ws_slot.c — the nng contexts and aios madang-ws keeps for its broker requests
 * (ws-frontend/ws_slot.c, finding 35): a slot given back is the next one taken, and carries a
 * request again, after a reply and after a timeout alike (a late reply to the request that
 * timed out never reaches the next one); no more than WS_SLOTS_KEEP are kept. Against a real
 * REP socket over inproc://; the sanitizer suite and valgrind run it too. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "../../ws-frontend/ws_slot.h"

#define URL "inproc://test-ws-slot"

/* What the callback saw, as ws_rpc.c's does: the send, then the reply (or a failure). */
struct call {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool receiving, done;
	int rv;
	char reply[64];
};

static void
slot_cb(void *arg)
{
	struct rpc_slot *sl = arg;
	struct call *c = sl->job;
	int rv = nng_aio_result(sl->aio);

	if (rv == 0 && !c->receiving) {
		c->receiving = true;
		nng_ctx_recv(sl->ctx, sl->aio);
		return;
	}
	pthread_mutex_lock(&c->mu);
	if (rv == 0) {
		nng_msg *m = nng_aio_get_msg(sl->aio);
		snprintf(c->reply, sizeof(c->reply), "%.*s", (int)nng_msg_len(m),
		         (const char *)nng_msg_body(m));
		nng_msg_free(m);
	} else if (!c->receiving) {
		nng_msg_free(nng_aio_get_msg(sl->aio));
	}
	c->rv = rv;
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Sends text on a slot taken for c (timeout_ms), returns the slot. */
static struct rpc_slot *
start(nng_socket req, struct call *c, const char *text, int timeout_ms)
{
	struct rpc_slot *sl;
	nng_msg *m;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	assert_int_equal(slot_take(req, slot_cb, c, &sl), 0);
	assert_ptr_equal(sl->job, c);
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, text, strlen(text)), 0);
	nng_aio_set_timeout(sl->aio, timeout_ms);
	nng_aio_set_msg(sl->aio, m);
	nng_ctx_send(sl->ctx, sl->aio);
	return sl;
}

static void
finish(struct call *c)
{
	pthread_mutex_lock(&c->mu);
	while (!c->done)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
}

/* The REP side: receives one request, checks it, answers it with reply (NULL: no answer). */
static void
serve(nng_socket rep, const char *want, const char *reply)
{
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(nng_recv(rep, &buf, &len, NNG_FLAG_ALLOC), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	nng_free(buf, len);
	if (reply != NULL)
		assert_int_equal(nng_send(rep, (void *)reply, strlen(reply), 0), 0);
}

static int
setup(void **state)
{
	static nng_socket s[2];

	if (nng_rep0_open(&s[1]) != 0 || nng_listen(s[1], URL, NULL, 0) != 0 ||
	    nng_req0_open(&s[0]) != 0 || nng_dial(s[0], URL, NULL, 0) != 0)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	nng_socket *s = *state;

	slot_drop_all();
	nng_close(s[0]);
	nng_close(s[1]);
	return 0;
}

static void
test_a_slot_given_back_carries_the_next_request(void **state)
{
	nng_socket *s = *state;
	struct call c;
	struct rpc_slot *first = start(s[0], &c, "one", 2000);

	serve(s[1], "one", "r1");
	finish(&c);
	assert_int_equal(c.rv, 0);
	assert_string_equal(c.reply, "r1");
	slot_give(first, true);
	assert_int_equal(slot_kept(), 1);
	assert_null(first->job);

	struct rpc_slot *again = start(s[0], &c, "two", 2000);
	assert_ptr_equal(again, first);
	assert_int_equal(slot_kept(), 0);
	serve(s[1], "two", "r2");
	finish(&c);
	assert_int_equal(c.rv, 0);
	assert_string_equal(c.reply, "r2");
	slot_give(again, false); /* freed, not kept */
	assert_int_equal(slot_kept(), 0);
}

static void
test_a_slot_whose_request_timed_out_serves_again(void **state)
{
	nng_socket *s = *state;
	struct call c;
	struct rpc_slot *sl = start(s[0], &c, "slow", 100);

	serve(s[1], "slow", NULL); /* taken, not answered in time */
	finish(&c);
	assert_int_equal(c.rv, NNG_ETIMEDOUT);
	assert_true(c.receiving);
	slot_give(sl, true);

	assert_ptr_equal(start(s[0], &c, "next", 2000), sl);
	/* The late answer goes to the request that timed out, and is dropped. */
	assert_int_equal(nng_send(s[1], "late", 4, 0), 0);
	serve(s[1], "next", "r-next");
	finish(&c);
	assert_int_equal(c.rv, 0);
	assert_string_equal(c.reply, "r-next");
	slot_give(sl, true);
}

static void
test_at_most_the_limit_is_kept(void **state)
{
	nng_socket *s = *state;
	struct rpc_slot *v[WS_SLOTS_KEEP + 6];
	struct call c;

	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
		assert_int_equal(slot_take(s[0], slot_cb, &c, &v[i]), 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
		slot_give(v[i], true);
	assert_int_equal(slot_kept(), WS_SLOTS_KEEP);
	slot_drop_all();
	assert_int_equal(slot_kept(), 0);
	slot_give(NULL, true); /* nothing */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_a_slot_given_back_carries_the_next_request, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_a_slot_whose_request_timed_out_serves_again, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_at_most_the_limit_is_kept, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
