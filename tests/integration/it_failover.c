/* it_failover.c — active and standby madang-brokers on one PostgreSQL store (--store): kill -9
 * of the active, pg_terminate_backend of its session, PostgreSQL stopped and started again.
 * Real brokers, real PostgreSQL, real nng sockets. Needs MADANG_TEST_PG (the server's socket
 * directory), MADANG_TEST_PG_USER, and MADANG_TEST_PG_STOP / MADANG_TEST_PG_START (shell
 * commands); tests/suites/25-pgstore.sh sets them. Without them every test is skipped. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc.h"
#include "testproc.h"

#define TAKEOVER_MS 3000 /* a standby serves this soon after the active's death */

struct fx {
	struct tbroker a, b;
	char db[64];
	char uri[512];
	const char *args[4];
};

static const char *pg_host, *pg_user;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* True when the broker's log holds needle at least `times` times. */
static bool
log_has(const struct tbroker *tb, const char *needle, int times)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen(tb->log, "r");

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n >= times;
}

static bool
wait_log(const struct tbroker *tb, const char *needle, int times, int timeout_ms)
{
	for (uint64_t end = now_ms() + (uint64_t)timeout_ms; now_ms() < end; usleep(50 * 1000))
		if (log_has(tb, needle, times))
			return true;
	return log_has(tb, needle, times);
}

/* One call on a fresh socket; NULL when nothing answers within timeout_ms. */
static cJSON *
call_once(const struct tbroker *tb, const char *json, int timeout_ms)
{
	nng_socket s;
	cJSON *r = NULL;

	if (rpc_open(&s, tb->rpc) != 0)
		return NULL;
	if (rpc_call_raw(s, json, strlen(json), &r, timeout_ms) != 0)
		r = NULL;
	nng_close(s);
	return r;
}

static void
ok(const struct tbroker *tb, const char *json)
{
	cJSON *r = call_once(tb, json, 2000);
	if (r == NULL || !tj_bool(r, "ok"))
		fail_msg("%s: %s", json, r ? tj_str(r, "error") : "no reply");
	cJSON_Delete(r);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	static int n;
	char sql[128];

	alarm(90);
	if (pg_host == NULL) {
		*state = f;
		return 0;
	}
	snprintf(f->db, sizeof(f->db), "madang_fo_%d_%d", (int)getpid(), ++n);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->db);
	if (tpg_sql(pg_host, pg_user, "postgres", sql) != 0)
		return -1;
	snprintf(f->uri, sizeof(f->uri), "host=%s user=%s dbname=%s", pg_host, pg_user, f->db);
	f->args[0] = "--store";
	f->args[1] = f->uri;
	f->args[2] = NULL;
	if (tbroker_start(&f->a, f->args) != 0 || tbroker_spawn(&f->b, f->args) != 0 ||
	    !wait_log(&f->b, "standby", 1, 5000)) {
		fprintf(stderr, "brokers did not start (logs %s %s)\n", f->a.log, f->b.log);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char sql[128];
	int rc = 0;

	if (pg_host != NULL) {
		if (f->a.pid > 0 && tbroker_signal(&f->a, SIGTERM) != 0)
			rc = -1;
		if (f->b.pid > 0 && tbroker_signal(&f->b, SIGTERM) != 0)
			rc = -1;
		tbroker_cleanup(&f->a);
		tbroker_cleanup(&f->b);
		snprintf(sql, sizeof(sql), "DROP DATABASE %s", f->db);
		if (tpg_sql(pg_host, pg_user, "postgres", sql) != 0)
			rc = -1;
	}
	free(f);
	alarm(0);
	return rc;
}

struct sender {
	const struct tbroker *tb;
	volatile int stop;
	int acked; /* client ids c-0 … c-(acked-1) were acknowledged */
	uint64_t last_ack_ms;
};

static void *
send_loop(void *arg)
{
	struct sender *s = arg;
	nng_socket req;

	rpc_open(&req, s->tb->rpc);
	for (int i = s->acked; !s->stop; i++) {
		char body[256];
		cJSON *r = NULL;
		snprintf(body, sizeof(body),
			 "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\","
			 "\"text\":\"n%d\",\"client_id\":\"c-%d\"}", i, i);
		int rv = rpc_call_raw(req, body, strlen(body), &r, 1000);
		if (rv != 0 || !tj_bool(r, "ok")) {
			if (getenv("MADANG_TEST_VERBOSE"))
				print_message("send c-%d: %d %s\n", i, rv, r ? tj_str(r, "error") : "");
			cJSON_Delete(r);
			break; /* c-i was not acknowledged */
		}
		cJSON_Delete(r);
		s->acked = i + 1;
		s->last_ack_ms = now_ms();
	}
	nng_close(req);
	return NULL;
}

/* Registers front-end fe with alice in room1 on tb. */
static void
hello_join(const struct tbroker *tb, const char *instance)
{
	char req[256];

	snprintf(req, sizeof(req), "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"%s\"}", instance);
	ok(tb, req);
	ok(tb, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\",\"user\":\"alice\"}");
}

/* Every message of room1 read through tb: each acknowledged client id once, in order, seqs
 * without a gap; at most one more (committed, its reply lost). Returns the last seq. */
static long long
check_history(const struct tbroker *tb, int acked)
{
	static long long seqs[20000];
	static char cids[20000][32];
	long long after = 0;
	int n = 0, msgs = 0;
	char req[160];

	for (;;) {
		snprintf(req, sizeof(req), "{\"op\":\"history\",\"room_id\":\"room1\",\"after_seq\":%lld,\"limit\":500}", after);
		cJSON *r = call_once(tb, req, 2000), *e;
		assert_non_null(r);
		assert_true(tj_bool(r, "ok"));
		int got = 0;
		cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "events"))
		{
			assert_true(n < 20000);
			seqs[n] = tj_int(e, "seq");
			const char *cid = tj_str(e, "client_id");
			snprintf(cids[n], 32, "%s", cid ? cid : "");
			after = seqs[n];
			n++;
			got++;
		}
		cJSON_Delete(r);
		if (got == 0)
			break;
	}
	for (int i = 1; i < n; i++)
		assert_int_equal(seqs[i], seqs[i - 1] + 1);
	for (int i = 0; i < n; i++) {
		char want[32];
		if (!cids[i][0])
			continue; /* joins and leaves */
		snprintf(want, sizeof(want), "c-%d", msgs);
		assert_string_equal(cids[i], want);
		msgs++;
	}
	assert_true(msgs >= acked && msgs <= acked + 1);
	return n ? seqs[n - 1] : 0;
}

/* Waits until tb serves; returns the milliseconds it took from t0, or -1. */
static long long
wait_serving(struct tbroker *tb, uint64_t t0)
{
	if (tbroker_wait_ready(tb, 10000) != 0)
		return -1;
	return (long long)(now_ms() - t0);
}

static void
test_standby_serves_within_3s_of_a_kill9_and_every_ack_survives(void **state)
{
	struct fx *f = *state;
	struct sender s = {.tb = &f->a};
	pthread_t t;

	if (pg_host == NULL)
		skip();
	/* The standby does not listen. */
	assert_null(call_once(&f->b, "{\"op\":\"health\"}", 300));
	hello_join(&f->a, "i1");
	pthread_create(&t, NULL, send_loop, &s);
	usleep(500 * 1000);
	assert_int_equal(tbroker_signal(&f->a, SIGKILL), 128 + SIGKILL);
	uint64_t t0 = now_ms();
	pthread_join(t, NULL);
	assert_true(s.acked > 10);
	long long ms = wait_serving(&f->b, t0);
	print_message("failover: standby served %lld ms after the kill (%d messages acknowledged)\n",
		      ms, s.acked);
	assert_true(ms >= 0 && ms <= TAKEOVER_MS);
	check_history(&f->b, s.acked);
	/* A resent message is acknowledged as a duplicate, not stored twice. */
	char req[256];
	snprintf(req, sizeof(req),
		 "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\","
		 "\"text\":\"n%d\",\"client_id\":\"c-%d\"}", s.acked - 1, s.acked - 1);
	hello_join(&f->b, "i2");
	cJSON *r = call_once(&f->b, req, 2000);
	assert_non_null(r);
	assert_true(tj_bool(r, "ok"));
	assert_true(tj_bool(r, "duplicate"));
	cJSON_Delete(r);

	/* The killed broker comes back as a standby; killing the new active hands the lead back. */
	assert_int_equal(tbroker_respawn(&f->a, f->args), 0);
	assert_true(wait_log(&f->a, "standby", 1, 5000));
	assert_null(call_once(&f->a, "{\"op\":\"health\"}", 300));
	s.tb = &f->b;
	s.stop = 0;
	hello_join(&f->b, "i3"); /* again: without heartbeats, fe expires after 3 s */
	int before = s.acked;
	pthread_create(&t, NULL, send_loop, &s);
	usleep(300 * 1000);
	assert_int_equal(tbroker_signal(&f->b, SIGKILL), 128 + SIGKILL);
	t0 = now_ms();
	pthread_join(t, NULL);
	assert_true(s.acked > before);
	ms = wait_serving(&f->a, t0);
	print_message("failover back: %lld ms\n", ms);
	assert_true(ms >= 0 && ms <= TAKEOVER_MS);
	check_history(&f->a, s.acked);
	r = call_once(&f->a, "{\"op\":\"health\"}", 2000);
	assert_string_equal(tj_str(r, "role"), "active");
	assert_int_equal(tj_int(r, "term"), 3);
	cJSON_Delete(r);
}

/* pg_terminate_backend on the active's session: it never acknowledges again, closes its sockets
 * and stands by; the standby takes over with every acknowledged message. */
static void
test_a_broker_whose_session_was_terminated_never_acknowledges_again(void **state)
{
	struct fx *f = *state;
	struct sender s = {.tb = &f->a};
	pthread_t t;
	char sql[300];

	if (pg_host == NULL)
		skip();
	hello_join(&f->a, "i1");
	pthread_create(&t, NULL, send_loop, &s);
	usleep(300 * 1000);
	snprintf(sql, sizeof(sql),
		 "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype='advisory' AND "
		 "granted AND database=(SELECT oid FROM pg_database WHERE datname='%s')", f->db);
	assert_int_equal(tpg_sql(pg_host, pg_user, "postgres", sql), 0);
	uint64_t t0 = now_ms();
	pthread_join(t, NULL); /* the first send after the termination gets no acknowledgement */
	int acked = s.acked;
	assert_true(acked > 5);
	/* Nothing more is acknowledged by the old active: its sockets are closed. */
	for (int i = 0; i < 5; i++) {
		cJSON *r = call_once(&f->a, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\","
					     "\"room_id\":\"room1\",\"text\":\"late\",\"client_id\":\"late\"}",
				     300);
		assert_false(r != NULL && tj_bool(r, "ok"));
		cJSON_Delete(r);
	}
	long long ms = wait_serving(&f->b, t0);
	assert_true(ms >= 0 && ms <= TAKEOVER_MS);
	check_history(&f->b, acked);
	assert_true(wait_log(&f->a, "lost the database session", 1, 1000) ||
		    wait_log(&f->a, "cannot commit", 1, 1000));
	assert_true(wait_log(&f->a, "standby", 1, 5000)); /* rejoined, waiting */
	assert_null(call_once(&f->a, "{\"op\":\"health\"}", 300));
}

/* PostgreSQL stopped for a few seconds: nothing is acknowledged while it is down, nobody listens
 * (callers time out rather than hang), and once it is back one broker serves by itself with
 * every acknowledged message. */
static void
test_postgresql_down_for_seconds_then_service_resumes_by_itself(void **state)
{
	struct fx *f = *state;
	struct sender s = {.tb = &f->a};
	pthread_t t;
	const char *stop = getenv("MADANG_TEST_PG_STOP"), *start = getenv("MADANG_TEST_PG_START");

	if (pg_host == NULL || stop == NULL || start == NULL)
		skip();
	hello_join(&f->a, "i1");
	pthread_create(&t, NULL, send_loop, &s);
	usleep(300 * 1000);
	assert_int_equal(system(stop), 0);
	uint64_t down = now_ms();
	pthread_join(t, NULL);
	int acked = s.acked;
	assert_true(s.last_ack_ms <= down); /* no acknowledgement once the server is down */
	for (uint64_t end = now_ms() + 4000; now_ms() < end; usleep(200 * 1000)) {
		cJSON *r = call_once(&f->a, "{\"op\":\"health\"}", 200);
		cJSON *r2 = call_once(&f->b, "{\"op\":\"health\"}", 200);
		assert_null(r);
		assert_null(r2);
	}
	assert_int_equal(system(start), 0);
	uint64_t up = now_ms();
	struct tbroker *active = NULL;
	while (active == NULL && now_ms() - up < 10000) {
		cJSON *r = call_once(&f->a, "{\"op\":\"health\"}", 200);
		if (r != NULL) {
			active = &f->a;
		} else if ((r = call_once(&f->b, "{\"op\":\"health\"}", 200)) != NULL) {
			active = &f->b;
		}
		cJSON_Delete(r);
	}
	assert_non_null(active);
	print_message("PostgreSQL back: broker %s served after %llu ms\n",
		      active == &f->a ? "a" : "b", (unsigned long long)(now_ms() - up));
	check_history(active, acked);
	hello_join(active, "i2");
	ok(active, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\",\"text\":\"again\"}");
}

/* Opens a datagram socket at path for the systemd notify protocol. Returns the fd or -1. */
static int
notify_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct timeval tv = {0, 200 * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Waits up to timeout_ms for a notify datagram containing needle. */
static bool
notify_wait(int fd, const char *needle, int timeout_ms)
{
	char buf[512];

	for (uint64_t end = now_ms() + (uint64_t)timeout_ms; now_ms() < end;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, needle))
			return true;
	}
	return false;
}

/* Under systemd, STATUS= says the role: a third broker, started with NOTIFY_SOCKET, reports
 * READY=1 as a standby, then "active" with the new term when the other two are gone. */
static void
test_sd_notify_status_says_standby_then_active(void **state)
{
	struct fx *f = *state;
	struct tbroker c = {0};
	char path[200];

	if (pg_host == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/notify", f->a.dir);
	int fd = notify_open(path);
	assert_true(fd >= 0);
	setenv("NOTIFY_SOCKET", path, 1);
	int rv = tbroker_spawn(&c, f->args);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(rv, 0);
	assert_true(notify_wait(fd, "READY=1\nSTATUS=standby (cluster madang)", 5000));
	assert_int_equal(tbroker_signal(&f->b, SIGKILL), 128 + SIGKILL); /* a standby too */
	assert_int_equal(tbroker_signal(&f->a, SIGTERM), 0); /* the active, cleanly */
	assert_true(notify_wait(fd, "STATUS=active (cluster madang, term 2)", 5000));
	assert_int_equal(tbroker_wait_ready(&c, 5000), 0);
	assert_true(log_has(&c, "active: took the lead of cluster madang (term 2)", 1));
	assert_int_equal(tbroker_signal(&c, SIGTERM), 0);
	tbroker_cleanup(&c);
	close(fd);
}

int
main(void)
{
	pg_host = getenv("MADANG_TEST_PG");
	pg_user = getenv("MADANG_TEST_PG_USER") ? getenv("MADANG_TEST_PG_USER") : "madang";
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_standby_serves_within_3s_of_a_kill9_and_every_ack_survives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_broker_whose_session_was_terminated_never_acknowledges_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_postgresql_down_for_seconds_then_service_resumes_by_itself, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sd_notify_status_says_standby_then_active, setup, teardown),
	};
	return cmocka_run_group_tests_name("broker failover (PostgreSQL)", tests, NULL, NULL);
}
