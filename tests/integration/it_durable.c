/* it_durable.c — integration tests of madang-broker's durable store: the real broker, killed with
 * SIGKILL, restarted on the same database, talked to over real nng sockets. By default the store
 * is SQLite (--data); with MADANG_TEST_PG=<socket directory> (and MADANG_TEST_PG_USER) the same
 * tests run against that PostgreSQL server (--store), each in a database of its own, and the
 * SQLite-only tests (torn WAL, data directories) give way to PostgreSQL's start-up refusals.
 * tests/suites/25-pgstore.sh starts that server. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc.h"
#include "testproc.h"

struct fx {
	struct tbroker tb;
	nng_socket req;
	struct tstore st;
	const char *args[8];
};

static const char *pg_host; /* MADANG_TEST_PG: run against PostgreSQL */
static const char *pg_user;

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	alarm(60);
	if (f == NULL || tstore_make(&f->st, "durable", pg_host, pg_user) != 0)
		return -1;
	f->args[0] = f->st.args[0];
	f->args[1] = f->st.args[1];
	f->args[2] = "--allow-create";
	f->args[3] = NULL;
	if (tbroker_start(&f->tb, f->args) != 0 || rpc_open(&f->req, f->tb.rpc) != 0) {
		fprintf(stderr, "broker did not start (log %s)\n", f->tb.log);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	nng_close(f->req);
	int rc = f->tb.pid > 0 ? tbroker_signal(&f->tb, SIGTERM) : 0;
	tbroker_cleanup(&f->tb);
	if (tstore_drop(&f->st) != 0)
		rc = -1;
	free(f);
	alarm(0);
	return rc == 0 ? 0 : -1;
}

static void
restart_after_kill(struct fx *f)
{
	assert_int_equal(tbroker_signal(&f->tb, SIGKILL), 128 + SIGKILL);
	assert_int_equal(tbroker_restart(&f->tb, f->args), 0);
}

static void
hello_join(struct fx *f)
{
	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	tcall_ok(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\",\"user\":\"alice\"}");
}

/* Every event of room1 from the durable history, paging forward; returns how many. */
static int
read_all(struct fx *f, long long *seqs, char (*cids)[32], int max, char *epoch_out)
{
	long long after = 0;
	int n = 0;

	for (;;) {
		cJSON *r = tcallf(f->req, "{\"op\":\"history\",\"room_id\":\"room1\",\"after_seq\":%lld,\"limit\":500}", after);
		assert_true(tj_bool(r, "ok"));
		if (epoch_out)
			snprintf(epoch_out, 17, "%s", tj_str(r, "epoch"));
		cJSON *ev = cJSON_GetObjectItem(r, "events"), *e;
		int got = 0;
		cJSON_ArrayForEach(e, ev)
		{
			assert_true(n < max);
			seqs[n] = tj_int(e, "seq");
			snprintf(cids[n], 32, "%s", tj_str(e, "client_id"));
			after = seqs[n];
			n++;
			got++;
		}
		cJSON_Delete(r);
		if (got == 0)
			return n;
	}
}

struct sender {
	struct fx *f;
	volatile int stop;
	int acked; /* client ids c-0 … c-(acked-1) were acknowledged */
};

static void *
send_loop(void *arg)
{
	struct sender *s = arg;
	nng_socket req;

	rpc_open(&req, s->f->tb.rpc);
	for (int i = 0; !s->stop; i++) {
		char body[256];
		cJSON *r = NULL;
		snprintf(body, sizeof(body),
			 "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\","
			 "\"text\":\"n%d\",\"client_id\":\"c-%d\"}", i, i);
		if (rpc_call_raw(req, body, strlen(body), &r, 1000) != 0 || !tj_bool(r, "ok")) {
			cJSON_Delete(r);
			break; /* the broker is gone: c-i was not acknowledged */
		}
		cJSON_Delete(r);
		s->acked = i + 1;
	}
	nng_close(req);
	return NULL;
}

static void
test_every_acknowledged_message_survives_sigkill_exactly_once(void **state)
{
	struct fx *f = *state;
	struct sender s = {.f = f};
	pthread_t t;
	static long long seqs[20000];
	static char cids[20000][32];
	char epoch1[17], epoch2[17];

	hello_join(f);
	cJSON *r = tcallf(f->req, "{\"op\":\"health\"}");
	snprintf(epoch1, sizeof(epoch1), "%s", tj_str(r, "epoch"));
	cJSON_Delete(r);
	pthread_create(&t, NULL, send_loop, &s);
	usleep(400 * 1000);
	assert_int_equal(tbroker_signal(&f->tb, SIGKILL), 128 + SIGKILL); /* mid-stream */
	pthread_join(t, NULL);
	assert_true(s.acked > 10);
	assert_int_equal(tbroker_restart(&f->tb, f->args), 0);

	int n = read_all(f, seqs, cids, 20000, epoch2);
	assert_string_equal(epoch1, epoch2); /* the epoch survives: clients can resume */
	/* seq 1 is alice's join; the messages follow with no gap and no repeat. */
	assert_int_equal(seqs[0], 1);
	for (int i = 1; i < n; i++)
		assert_int_equal(seqs[i], seqs[i - 1] + 1);
	/* Every acknowledged message is there, once, in order (one more may have been committed
	 * without its reply arriving). */
	assert_true(n - 1 >= s.acked && n - 1 <= s.acked + 1);
	for (int i = 0; i < s.acked; i++) {
		char want[32];
		snprintf(want, sizeof(want), "c-%d", i);
		assert_string_equal(cids[i + 1], want);
	}
	/* New events continue the sequence. */
	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i2\"}");
	r = tcallf(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"t\",\"room_id\":\"room1\",\"user\":\"bob\"}");
	assert_int_equal(tj_int(r, "seq"), seqs[n - 1] + 1);
	cJSON_Delete(r);
}

static void
test_resume_after_restart_recovers_exactly_the_missed_events(void **state)
{
	struct fx *f = *state;
	char epoch[17];

	hello_join(f);
	for (int i = 0; i < 150; i++) /* more than the in-memory ring of 100 */
		tcall_ok(f->req, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\",\"text\":\"x\"}");
	cJSON *r = tcallf(f->req, "{\"op\":\"health\"}");
	snprintf(epoch, sizeof(epoch), "%s", tj_str(r, "epoch"));
	cJSON_Delete(r);
	restart_after_kill(f);
	/* A client that had seen up to seq 20 comes back: 21..151 are missing, then its join. */
	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i2\"}");
	r = tcallf(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s2\",\"room_id\":\"room1\",\"user\":\"alice\",\"since\":20,\"epoch\":\"%s\"}",
		 epoch);
	assert_true(tj_bool(r, "ok"));
	assert_true(tj_bool(r, "recovered"));
	assert_int_equal(tj_int(r, "seq"), 152);
	cJSON *h = cJSON_GetObjectItem(r, "history");
	assert_int_equal(cJSON_GetArraySize(h), 131);
	assert_int_equal(tj_int(cJSON_GetArrayItem(h, 0), "seq"), 21);
	assert_int_equal(tj_int(cJSON_GetArrayItem(h, 130), "seq"), 151);
	cJSON_Delete(r);
	/* Paging back with before_seq walks the whole stored history, past the in-memory ring. */
	long long before = 152, pages = 0, got = 0;
	for (;;) {
		r = tcallf(f->req, "{\"op\":\"history\",\"room_id\":\"room1\",\"before_seq\":%lld,\"limit\":40}", before);
		cJSON *ev = cJSON_GetObjectItem(r, "events");
		int n = cJSON_GetArraySize(ev);
		if (n == 0) {
			assert_true(tj_bool(r, "complete"));
			cJSON_Delete(r);
			break;
		}
		assert_int_equal(tj_int(cJSON_GetArrayItem(ev, n - 1), "seq"), before - 1);
		before = tj_int(cJSON_GetArrayItem(ev, 0), "seq");
		got += n;
		pages++;
		cJSON_Delete(r);
	}
	assert_int_equal(got, 151); /* seq 1..151: the join and the 150 messages */
	assert_int_equal(pages, 4);
}

static void
test_rooms_created_and_deleted_survive_restart(void **state)
{
	struct fx *f = *state;

	tcall_ok(f->req, "{\"op\":\"create_room\",\"room_id\":\"jazz\",\"name\":\"Jazz\"}");
	tcall_ok(f->req, "{\"op\":\"delete_room\",\"room_id\":\"room2\"}");
	restart_after_kill(f);
	cJSON *r = tcallf(f->req, "{\"op\":\"list_rooms\"}");
	char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "rooms"));
	assert_string_equal(t, "[{\"id\":\"room1\",\"name\":\"일반 대화\",\"users_count\":0},"
			       "{\"id\":\"room3\",\"name\":\"취미 공유\",\"users_count\":0},"
			       "{\"id\":\"room4\",\"name\":\"음악 & 영화\",\"users_count\":0},"
			       "{\"id\":\"jazz\",\"name\":\"Jazz\",\"users_count\":0}]");
	free(t);
	cJSON_Delete(r);
	/* room2 had one event (its deletion, seq 1): a room re-created under its id goes on from
	 * there and shows none of the old history. */
	tcall_ok(f->req, "{\"op\":\"create_room\",\"room_id\":\"room2\",\"name\":\"Again\"}");
	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	r = tcallf(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room2\",\"user\":\"a\"}");
	assert_int_equal(tj_int(r, "seq"), 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "history")), 0);
	cJSON_Delete(r);
}

/* A room a join created is ephemeral: nothing of it reaches the database, so a restart does not
 * bring it back (even when the broker died with members in it); a front-end's sync after the
 * restart makes it ephemeral again, and it goes with its last member. */
static void
test_rooms_created_by_joins_are_not_stored(void **state)
{
	struct fx *f = *state; /* --allow-create */

	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	tcall_ok(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"popup\",\"user\":\"alice\",\"addr\":\"192.0.2.7\"}");
	tcall_ok(f->req, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"popup\",\"text\":\"hi\"}");
	cJSON *r = tcallf(f->req, "{\"op\":\"history\",\"room_id\":\"popup\"}");
	assert_true(tj_bool(r, "ok"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "events")), 2); /* from memory */
	cJSON_Delete(r);
	restart_after_kill(f);
	r = tcallf(f->req, "{\"op\":\"get_room\",\"room_id\":\"popup\"}");
	assert_string_equal(tj_str(r, "error"), "no_such_room");
	cJSON_Delete(r);
	r = tcallf(f->req, "{\"op\":\"list_rooms\"}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "rooms")), 4);
	cJSON_Delete(r);
	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i2\"}");
	r = tcallf(f->req, "{\"op\":\"sync\",\"frontend\":\"fe\",\"instance\":\"i2\",\"members\":[{\"session\":\"s\",\"room_id\":\"popup\",\"user\":\"alice\"}]}");
	assert_true(tj_bool(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "results"), 0), "ok"));
	cJSON_Delete(r);
	tcall_ok(f->req, "{\"op\":\"leave\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"popup\"}");
	restart_after_kill(f);
	r = tcallf(f->req, "{\"op\":\"get_room\",\"room_id\":\"popup\"}");
	assert_string_equal(tj_str(r, "error"), "no_such_room");
	cJSON_Delete(r);
}

/* The durable history pages by bytes too: 32 KiB pages of 4 KB messages, newest first, every
 * page within its budget, truncated:true until the oldest event. */
static void
test_history_from_the_database_is_paged_by_bytes(void **state)
{
	struct fx *f = *state;
	char text[4001], req[4400];
	long long before = 0, seen = 0;

	memset(text, 'y', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	hello_join(f);
	for (int i = 0; i < 40; i++) {
		snprintf(req, sizeof(req), "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\","
			 "\"room_id\":\"room1\",\"text\":\"%s\"}", text);
		tcall_ok(f->req, req);
	}
	restart_after_kill(f); /* the ring is refilled, but history is read from the database */
	for (int page = 0; page < 20; page++) {
		cJSON *r = before ? tcallf(f->req, "{\"op\":\"history\",\"room_id\":\"room1\",\"before_seq\":%lld,"
					    "\"limit\":500,\"max_bytes\":32768}", before)
				  : tcallf(f->req, "{\"op\":\"history\",\"room_id\":\"room1\",\"limit\":500,"
					    "\"max_bytes\":32768}");
		cJSON *ev = cJSON_GetObjectItem(r, "events");
		char *t = cJSON_PrintUnformatted(ev);
		assert_true(strlen(t) - 2 <= 32768);
		free(t);
		int n = cJSON_GetArraySize(ev);
		assert_true(n >= 1 && n <= 8);
		bool complete = tj_bool(r, "complete");
		assert_int_equal(tj_bool(r, "truncated"), !complete);
		before = tj_int(cJSON_GetArrayItem(ev, 0), "seq");
		seen += n;
		cJSON_Delete(r);
		if (complete)
			break;
	}
	assert_int_equal(seen, 41);
	assert_int_equal(before, 1);
}

static void
test_torn_wal_is_recovered(void **state)
{
	struct fx *f = *state;
	char wal[300];
	struct stat st;
	static long long seqs[2000];
	static char cids[2000][32];

	if (pg_host != NULL)
		skip(); /* SQLite's WAL */
	hello_join(f);
	for (int i = 0; i < 300; i++)
		tcall_ok(f->req, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\",\"text\":\"x\"}");
	assert_int_equal(tbroker_signal(&f->tb, SIGKILL), 128 + SIGKILL);
	snprintf(wal, sizeof(wal), "%s/madang.db-wal", f->st.data);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > 10000);
	assert_int_equal(truncate(wal, st.st_size / 2 + 77), 0); /* a torn last write */
	assert_int_equal(tbroker_restart(&f->tb, f->args), 0);
	int n = read_all(f, seqs, cids, 2000, NULL);
	for (int i = 1; i < n; i++)
		assert_int_equal(seqs[i], seqs[i - 1] + 1);
	/* seq goes on from what survived, never repeating a published one. */
	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i2\"}");
	cJSON *r = tcallf(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"t\",\"room_id\":\"room1\",\"user\":\"bob\"}");
	assert_int_equal(tj_int(r, "seq"), (n ? seqs[n - 1] : 0) + 1);
	cJSON_Delete(r);
}

/* Starts the broker again on the same store with nng_close made to hang (the LD_PRELOAD shim
 * tests/lib/nng_close_hang.c, built beside this program) and --stop-timeout seconds. */
static void
restart_with_hanging_close(struct fx *f, const char *seconds)
{
	char self[256], shim[300], asan[512];
	const char *old_asan = getenv("ASAN_OPTIONS");
	const char *args[] = {f->st.args[0], f->st.args[1], "--allow-create", "--stop-timeout",
			      seconds, NULL};
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(shim, sizeof(shim), "%s/nng-close-hang.so", self);
	assert_int_equal(access(shim, R_OK), 0);
	/* A sanitized broker wants its runtime first in the list; the shim is loaded before it. */
	snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", old_asan ? old_asan : "",
		 old_asan ? ":" : "");
	char *keep_asan = old_asan ? strdup(old_asan) : NULL;
	setenv("ASAN_OPTIONS", asan, 1);
	setenv("LD_PRELOAD", shim, 1);
	int rv = tbroker_restart(&f->tb, args);
	unsetenv("LD_PRELOAD");
	if (keep_asan)
		setenv("ASAN_OPTIONS", keep_asan, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(keep_asan);
	assert_int_equal(rv, 0);
}

/* Does the broker's log have line in it? */
static bool
log_has(const struct fx *f, const char *line)
{
	char buf[512];
	bool found = false;
	FILE *lf = fopen(f->tb.log, "r");

	if (lf == NULL)
		return false;
	while (!found && fgets(buf, sizeof(buf), lf) != NULL)
		found = strstr(buf, line) != NULL;
	fclose(lf);
	return found;
}

/* nng 1.5.2 can deadlock inside nng_close when a broker stops (common/stopguard.h). With
 * nng_close made to hang, SIGTERM still ends the broker once --stop-timeout has passed: status
 * 1 and a line saying where it was stuck. The store was closed before the sockets: every
 * acknowledged message is there after a restart, and SQLite's WAL was checkpointed away. With
 * --stop-timeout 0 (no limit) the same broker is still there seconds later: the shim does hang. */
static void
test_a_stop_stuck_in_nng_close_ends_after_stop_timeout(void **state)
{
	struct fx *f = *state;
	static long long seqs[64];
	static char cids[64][32];
	char wal[300];
	struct stat st;
	int status;

	if (getenv("MADANG_TEST_WRAPPER") != NULL)
		skip(); /* a preloaded shim under valgrind proves nothing more */
	assert_int_equal(tbroker_signal(&f->tb, SIGTERM), 0);

	/* No limit: the stop hangs. */
	restart_with_hanging_close(f, "0");
	hello_join(f);
	assert_int_equal(kill(f->tb.pid, SIGTERM), 0);
	sleep(2);
	assert_int_equal(waitpid(f->tb.pid, &status, WNOHANG), 0);
	assert_int_equal(tbroker_signal(&f->tb, SIGKILL), 128 + SIGKILL);

	/* --stop-timeout 1: the stop ends, its store closed first. */
	restart_with_hanging_close(f, "1");
	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i2\"}");
	tcall_ok(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\",\"user\":\"alice\"}");
	for (int i = 0; i < 20; i++) {
		cJSON *r = tcallf(f->req, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\",\"text\":\"m%d\",\"client_id\":\"c-%d\"}", i, i);
		assert_true(tj_bool(r, "ok"));
		cJSON_Delete(r);
	}
	/* Its own work done, the stop ends with status 0 (stopguard_cleanup). */
	assert_int_equal(tbroker_signal(&f->tb, SIGTERM), 0);
	assert_true(log_has(f, "broker: nng_close did not return within 1 s (nng 1.5.2's close "
	                       "deadlock?): exiting with status 0"));
	if (pg_host == NULL) {
		snprintf(wal, sizeof(wal), "%s/madang.db-wal", f->st.data);
		assert_true(stat(wal, &st) != 0 || st.st_size == 0);
	}
	assert_int_equal(tbroker_restart(&f->tb, f->args), 0);
	int n = read_all(f, seqs, cids, 64, NULL);
	assert_true(n >= 20);
	for (int i = 0; i < 20; i++) {
		char want[32];
		snprintf(want, sizeof(want), "c-%d", i);
		assert_string_equal(cids[n - 20 + i], want);
	}
}

static void
test_history_keep_prunes_old_events(void **state)
{
	struct fx *f = *state;

	assert_int_equal(tbroker_signal(&f->tb, SIGTERM), 0);
	f->args[3] = "--history-keep";
	f->args[4] = "10";
	f->args[5] = NULL;
	assert_int_equal(tbroker_restart(&f->tb, f->args), 0);
	hello_join(f);
	for (int i = 0; i < 60; i++)
		tcall_ok(f->req, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\",\"text\":\"x\"}");
	usleep(1500 * 1000); /* a few prune steps over the four rooms */
	cJSON *r = tcallf(f->req, "{\"op\":\"history\",\"room_id\":\"room1\",\"after_seq\":0,\"limit\":500}");
	assert_int_equal(tj_int(r, "first_seq"), 52);
	assert_false(tj_bool(r, "complete"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "events")), 10);
	cJSON_Delete(r);
}

/* Runs the broker with store (e.g. "--data DIR") and a command prefix, expecting it to refuse to
 * start with exit status `status` and needle in its output. */
static void
expect_refusal_args(struct fx *f, const char *prefix, const char *store, int status,
		    const char *needle)
{
	char bin[256], cmd[2048], out[4096] = "";
	snprintf(cmd, sizeof(cmd), "%s timeout 10 %s --rpc ipc://%s/r2 --events ipc://%s/e2 %s 2>&1",
		 prefix, tbin("madang-broker", bin, sizeof(bin)), f->tb.dir, f->tb.dir, store);
	FILE *p = popen(cmd, "r");
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), status);
	if (strstr(out, needle) == NULL)
		fail_msg("expected \"%s\" in: %s", needle, out);
}

/* Runs the broker on f->st.data with a command prefix, expecting it to refuse to start. */
static void
expect_refusal(struct fx *f, const char *prefix, const char *needle)
{
	char store[300];

	snprintf(store, sizeof(store), "--data %s", f->st.data);
	expect_refusal_args(f, prefix, store, 1, needle);
}

static void
test_bad_data_directories_fail_at_start_with_a_clear_message(void **state)
{
	struct fx *f = *state;
	char path[700];

	if (pg_host != NULL)
		skip(); /* SQLite's data directory: see test_bad_postgresql_stores_fail_at_start… */
	/* A second broker on the same data directory. */
	expect_refusal(f, "", "in use by another madang-broker");
	assert_int_equal(tbroker_signal(&f->tb, SIGTERM), 0);
	/* Not writable by the broker's user. */
	chmod(f->st.data, 0755);
	expect_refusal(f, "setpriv --reuid=65534 --regid=65534 --clear-groups", "not writable");
	/* A corrupt database is an error, never a silent fresh start. */
	snprintf(path, sizeof(path), "%s/madang.db", f->st.data);
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not a database, just text that sits here\n", 50), 50);
	close(fd);
	snprintf(path, sizeof(path), "rm -f %s/madang.db-wal %s/madang.db-shm", f->st.data, f->st.data);
	assert_int_equal(system(path), 0);
	expect_refusal(f, "", "not a usable SQLite database");
}

/* PostgreSQL: an unreachable server, wrong credentials, a newer schema, another cluster's
 * database and --data with --store are refused at start with a clear message. */
static void
test_bad_postgresql_stores_fail_at_start_with_a_clear_message(void **state)
{
	struct fx *f = *state;
	char store[900];

	if (pg_host == NULL)
		skip();
	expect_refusal_args(f, "", "--store 'host=/nonexistent/dir dbname=x'", 1,
			    "cannot connect to PostgreSQL (--store)");
	/* madang_pw has a password (25-pgstore.sh's pg_hba.conf asks for it); this one is wrong. */
	snprintf(store, sizeof(store), "--store 'host=%s user=madang_pw password=wrong dbname=%s'",
		 pg_host, f->st.data);
	expect_refusal_args(f, "", store, 1, "password authentication failed");
	snprintf(store, sizeof(store), "--store '%s' --cluster other", f->st.uri);
	expect_refusal_args(f, "", store, 1, "belongs to cluster \"madang\", not \"other\"");
	snprintf(store, sizeof(store), "--store '%s' --data /tmp/x", f->st.uri);
	expect_refusal_args(f, "", store, 2, "exclude each other");
	assert_int_equal(tbroker_signal(&f->tb, SIGTERM), 0);
	assert_int_equal(tpg_sql(pg_host, pg_user, f->st.data, "UPDATE madang_meta SET value='4' WHERE key='schema_version'"), 0);
	snprintf(store, sizeof(store), "--store '%s'", f->st.uri);
	expect_refusal_args(f, "", store, 1, "newer than this madang-broker knows (3)");
}

int
main(void)
{
	pg_host = getenv("MADANG_TEST_PG");
	pg_user = getenv("MADANG_TEST_PG_USER") ? getenv("MADANG_TEST_PG_USER") : "madang";
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_acknowledged_message_survives_sigkill_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_after_restart_recovers_exactly_the_missed_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rooms_created_and_deleted_survive_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rooms_created_by_joins_are_not_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_from_the_database_is_paged_by_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_wal_is_recovered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_keep_prunes_old_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_stop_stuck_in_nng_close_ends_after_stop_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_data_directories_fail_at_start_with_a_clear_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_postgresql_stores_fail_at_start_with_a_clear_message, setup, teardown),
	};
	/* Only the tests of the store in use are listed (a skipped one would still start and stop
	 * a broker, for nothing). */
	struct CMUnitTest run[sizeof(tests) / sizeof(tests[0])];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		bool sqlite_only = tests[i].test_func == test_torn_wal_is_recovered ||
				   tests[i].test_func == test_bad_data_directories_fail_at_start_with_a_clear_message;
		bool pg_only = tests[i].test_func == test_bad_postgresql_stores_fail_at_start_with_a_clear_message;
		if (pg_host ? !sqlite_only : !pg_only)
			run[n++] = tests[i];
	}
	return _cmocka_run_group_tests(pg_host ? "broker durable history (PostgreSQL)"
					       : "broker durable history (SQLite)",
				       run, n, NULL, NULL);
}
