/* test_redial.c — common/redial.c with real nng sockets on ipc:// paths in a private directory:
 * nng 1.5.2's dialer gives up after one connection whose handshake write failed with EPIPE (the
 * reason for redial.c), a redial set replaces such a dialer and then connects, it leaves a
 * connected socket alone, and its pipe count pairs up in any order. The EPIPE comes from
 * tests/lib/sp_epipe.c, the shim the daemons' tests preload, compiled into this binary (its
 * sendmsg comes before libc's for nng's calls): a broker that closes the connection first gives
 * the same, but only when it wins a race with nng's write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "clock.h"
#include "redial.h"
#include "sp_epipe.c"

struct fx {
	char dir[64], path[96], url[112];
};

static char epipe_file[64]; /* tests/lib/sp_epipe.c's file while handshakes fail */

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/madang-redial.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/s", f->dir);
	snprintf(f->url, sizeof(f->url), "ipc://%s", f->path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	if (epipe_file[0] != '\0')
		unlink(epipe_file);
	free(f);
	return 0;
}

static void
msleep(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A PUB socket listening on the fixture's path. */
static nng_socket
pub_listen(const char *url)
{
	nng_socket pub;

	assert_int_equal(nng_pub0_open(&pub), 0);
	assert_int_equal(nng_listen(pub, url, NULL, 0), 0);
	return pub;
}

/* Handshakes fail from now on (fail_handshakes_until_one: until one has failed): the shim's
 * file exists, and it counts the failures in it. */
static void
fail_handshakes_from_now(void)
{
	FILE *fp;

	snprintf(epipe_file, sizeof(epipe_file), "/tmp/madang-epipe.%d", (int)getpid());
	assert_non_null(fp = fopen(epipe_file, "w"));
	fclose(fp);
	assert_int_equal(setenv("MADANG_TEST_EPIPE_FILE", epipe_file, 1), 0);
}

static void
fail_handshakes_until_one(void)
{
	uint64_t end = clock_mono_ms() + 5000;
	struct stat st;

	while ((stat(epipe_file, &st) != 0 || st.st_size == 0) && clock_mono_ms() < end)
		msleep(5);
	assert_int_equal(stat(epipe_file, &st), 0);
	unlink(epipe_file);
	assert_true(st.st_size >= 1);
}

/* A SUB socket that redials quickly; its pipe events go through r when r is not NULL. */
static nng_socket
sub_open(void)
{
	nng_socket s;

	assert_int_equal(nng_sub0_open(&s), 0);
	assert_int_equal(nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 10), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 50), 0);
	return s;
}

static int
plain_dial(void *arg, nng_socket sock, const char *url, nng_dialer *d)
{
	int *calls = arg;
	int rv;

	(*calls)++;
	if ((rv = nng_dialer_create(d, sock, url)) == 0)
		rv = nng_dialer_start(*d, NNG_FLAG_NONBLOCK);
	return rv;
}

/* Waits up to ms for the PUB socket's message to reach sub: true when the two are connected. */
static bool
delivered(nng_socket pub, nng_socket sub, unsigned ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end) {
		char *buf = NULL;
		size_t len = 0;
		nng_send(pub, "x", 1, 0);
		msleep(20);
		if (nng_recv(sub, &buf, &len, NNG_FLAG_NONBLOCK | NNG_FLAG_ALLOC) == 0) {
			nng_free(buf, len);
			return true;
		}
	}
	return false;
}

/* The library behaviour redial.c is for: after one handshake write that met EPIPE, a plain
 * dialer never dials again, though the listener is there. If nng stops doing this, this test
 * fails and redial.c may go. */
static void
test_nng_dialer_gives_up_after_a_closed_handshake(void **state)
{
	struct fx *f = *state;
	nng_socket sub = sub_open(), pub;
	nng_dialer d;

	pub = pub_listen(f->url);
	fail_handshakes_from_now();
	assert_int_equal(nng_dialer_create(&d, sub, f->url), 0);
	assert_int_equal(nng_dialer_start(d, NNG_FLAG_NONBLOCK), 0);
	fail_handshakes_until_one();
	assert_false(delivered(pub, sub, 1000));
	nng_close(sub);
	nng_close(pub);
}

/* The same with a redial set: once REDIAL_IDLE_MS has passed without a pipe, redial_check
 * replaces the dialer and the socket connects. Before that, it does nothing. */
static void
test_redial_replaces_a_dialer_nng_gave_up(void **state)
{
	struct fx *f = *state;
	nng_socket sub = sub_open(), pub;
	struct redial r;
	int calls = 0;

	pub = pub_listen(f->url);
	fail_handshakes_from_now();
	assert_int_equal(redial_watch(&r, sub, plain_dial, &calls, NULL, NULL), 0);
	assert_int_equal(redial_add(&r, f->url), 0);
	assert_int_equal(calls, 1);
	fail_handshakes_until_one();
	assert_false(delivered(pub, sub, 300));
	assert_false(redial_live(&r));
	assert_int_equal(redial_check(&r, clock_mono_ms()), 0); /* not due yet */
	assert_int_equal(redial_check(&r, clock_mono_ms() + REDIAL_IDLE_MS), 1);
	assert_int_equal(calls, 2);
	assert_true(delivered(pub, sub, 3000));
	assert_true(redial_live(&r));
	assert_int_equal(r.replaced, 1);
	/* Connected: never due, however long. */
	assert_int_equal(redial_check(&r, clock_mono_ms() + 3600 * 1000), 0);
	assert_int_equal(calls, 2);
	nng_close(sub);
	nng_close(pub);
}

/* Without any broker, a due check replaces the dialers every REDIAL_IDLE_MS, not more often. */
static void
test_redial_waits_between_replacements(void **state)
{
	struct fx *f = *state;
	nng_socket sub = sub_open();
	struct redial r;
	uint64_t now;
	int calls = 0;

	assert_int_equal(redial_watch(&r, sub, plain_dial, &calls, NULL, NULL), 0);
	assert_int_equal(redial_add(&r, f->url), 0);
	now = clock_mono_ms();
	assert_int_equal(redial_check(&r, now + REDIAL_IDLE_MS), 1);
	assert_int_equal(redial_check(&r, now + REDIAL_IDLE_MS + 1), 0);
	assert_int_equal(redial_check(&r, now + 2 * REDIAL_IDLE_MS - 1), 0);
	assert_int_equal(redial_check(&r, now + 2 * REDIAL_IDLE_MS), 1);
	assert_int_equal(calls, 3);
	nng_close(sub);
}

static int hook_calls;

static void
count_hook(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	(void)arg;
	hook_calls++;
}

/* nng reports two dialers' pipe events in no set order: with a standby broker, the old active
 * broker's pipe removal may come after the new active's pipe arrival. The socket stays live as
 * long as one pipe is, whatever the order (a flag instead of a count left madang-ws waiting for
 * an event stream it had). The owner's hook sees ADD_POST and REM_POST only. */
static void
test_pipe_count_pairs_up_in_any_order(void **state)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;
	nng_socket sub = sub_open();
	struct redial r;
	int calls = 0;

	(void)state;
	assert_int_equal(redial_watch(&r, sub, plain_dial, &calls, count_hook, NULL), 0);
	hook_calls = 0;
	redial_pipe_event(p, NNG_PIPE_EV_ADD_PRE, &r); /* the active broker */
	redial_pipe_event(p, NNG_PIPE_EV_ADD_POST, &r);
	redial_pipe_event(p, NNG_PIPE_EV_ADD_PRE, &r);  /* the standby that took over, */
	redial_pipe_event(p, NNG_PIPE_EV_ADD_POST, &r); /* reported first */
	redial_pipe_event(p, NNG_PIPE_EV_REM_POST, &r);
	assert_int_equal(redial_pipes(&r), 1);
	assert_true(redial_live(&r));
	redial_pipe_event(p, NNG_PIPE_EV_REM_POST, &r);
	assert_false(redial_live(&r));
	/* A pipe that nng rejected after its ADD_PRE (no ADD_POST) is reported removed as well. */
	redial_pipe_event(p, NNG_PIPE_EV_ADD_PRE, &r);
	redial_pipe_event(p, NNG_PIPE_EV_REM_POST, &r);
	assert_int_equal(redial_pipes(&r), 0);
	assert_int_equal(hook_calls, 5);
	/* The last removal starts the wait anew. */
	assert_int_equal(redial_check(&r, clock_mono_ms() + REDIAL_IDLE_MS - 100), 0);
	nng_close(sub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_nng_dialer_gives_up_after_a_closed_handshake,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redial_replaces_a_dialer_nng_gave_up, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_redial_waits_between_replacements, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_pipe_count_pairs_up_in_any_order, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
