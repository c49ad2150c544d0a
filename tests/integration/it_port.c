/* it_port.c — madang-port-sqlite: a real broker's SQLite data directory moved into PostgreSQL,
 * then a real broker on that store. Needs MADANG_TEST_PG (the server's socket directory) and
 * MADANG_TEST_PG_USER, which tests/suites/25-pgstore.sh sets; skipped without them. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc.h"
#include "testproc.h"

static const char *pg_host, *pg_user;

struct fx {
	struct tbroker tb;
	nng_socket req;
	char data[256];
	char db[64];
	char uri[512];
	const char *args[5];
};

/* Runs madang-port-sqlite on f->data into f->uri; returns its exit status, output in out. */
static int
port(struct fx *f, char *out, size_t size)
{
	char bin[256], cmd[1400];

	snprintf(cmd, sizeof(cmd), "timeout 30 %s --data %s --store '%s' 2>&1",
		 tbin("madang-port-sqlite", bin, sizeof(bin)), f->data, f->uri);
	FILE *p = popen(cmd, "r");
	size_t n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char sql[128];

	alarm(60);
	*state = f;
	if (pg_host == NULL)
		return 0;
	snprintf(f->data, sizeof(f->data), "/tmp/madang-it-port.%d", (int)getpid());
	snprintf(f->db, sizeof(f->db), "madang_port_%d", (int)getpid());
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->db);
	if (tpg_sql(pg_host, pg_user, "postgres", sql) != 0)
		return -1;
	snprintf(f->uri, sizeof(f->uri), "host=%s user=%s dbname=%s", pg_host, pg_user, f->db);
	f->args[0] = "--data";
	f->args[1] = f->data;
	f->args[2] = "--allow-create";
	if (tbroker_start(&f->tb, f->args) != 0 || rpc_open(&f->req, f->tb.rpc) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[300];
	int rc = 0;

	if (pg_host != NULL) {
		nng_close(f->req);
		if (f->tb.pid > 0 && tbroker_signal(&f->tb, SIGTERM) != 0)
			rc = -1;
		tbroker_cleanup(&f->tb);
		snprintf(cmd, sizeof(cmd), "DROP DATABASE %s", f->db);
		if (tpg_sql(pg_host, pg_user, "postgres", cmd) != 0)
			rc = -1;
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->data);
		if (system(cmd) != 0)
			rc = -1;
	}
	free(f);
	alarm(0);
	return rc;
}

static void
test_port_moves_rooms_history_and_epoch_and_runs_again_safely(void **state)
{
	struct fx *f = *state;
	char out[2048], epoch[17];

	if (pg_host == NULL)
		skip();
	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	tcall_ok(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\",\"user\":\"alice\"}");
	for (int i = 0; i < 30; i++) {
		cJSON *r = tcallf(f->req, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"room1\","
				   "\"text\":\"m%d \\\\ tab\\t\",\"client_id\":\"c-%d\"}", i, i);
		assert_true(tj_bool(r, "ok"));
		cJSON_Delete(r);
	}
	tcall_ok(f->req, "{\"op\":\"create_room\",\"room_id\":\"jazz\",\"name\":\"Jazz\"}");
	tcall_ok(f->req, "{\"op\":\"delete_room\",\"room_id\":\"room2\"}");
	cJSON *r = tcallf(f->req, "{\"op\":\"health\"}");
	snprintf(epoch, sizeof(epoch), "%s", tj_str(r, "epoch"));
	cJSON_Delete(r);

	/* A live broker's directory is refused. */
	assert_int_equal(port(f, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "in use by a running madang-broker"));
	assert_int_equal(tbroker_signal(&f->tb, SIGTERM), 0);
	nng_close(f->req);

	/* 5 rooms (room2 deleted, kept for its seq), room1's 31 events, and room2's deletion
	 * unless a prune step took it first: a deletion releases the room's events, its own
	 * included (store_sqlite.c, Q_DEL_ROOM), and the broker prunes a room every 200 ms. A
	 * slow build (ASan, beside another suite) once let it. */
	char again[96];
	assert_int_equal(port(f, out, sizeof(out)), 0);
	int events = strstr(out, "ported 5 rooms and 32 events (32 new)")   ? 32
	             : strstr(out, "ported 5 rooms and 31 events (31 new)") ? 31
	                                                                    : 0;
	if (events == 0)
		fail_msg("%s", out);
	assert_int_equal(port(f, out, sizeof(out)), 0); /* again: nothing changes */
	snprintf(again, sizeof(again), "ported 5 rooms and %d events (0 new)", events);
	if (strstr(out, again) == NULL)
		fail_msg("%s", out);

	/* A broker on the store carries on: same epoch, rooms, history, seqs. */
	f->args[0] = "--store";
	f->args[1] = f->uri;
	assert_int_equal(tbroker_restart(&f->tb, f->args), 0);
	assert_int_equal(rpc_open(&f->req, f->tb.rpc), 0);
	r = tcallf(f->req, "{\"op\":\"list_rooms\"}");
	char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "rooms"));
	assert_string_equal(t, "[{\"id\":\"room1\",\"name\":\"일반 대화\",\"users_count\":0},"
			       "{\"id\":\"room3\",\"name\":\"취미 공유\",\"users_count\":0},"
			       "{\"id\":\"room4\",\"name\":\"음악 & 영화\",\"users_count\":0},"
			       "{\"id\":\"jazz\",\"name\":\"Jazz\",\"users_count\":0}]");
	free(t);
	cJSON_Delete(r);
	tcall_ok(f->req, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i2\"}");
	r = tcallf(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s2\",\"room_id\":\"room1\","
		    "\"user\":\"alice\",\"since\":10,\"epoch\":\"%s\"}", epoch);
	assert_true(tj_bool(r, "recovered"));
	assert_int_equal(tj_int(r, "seq"), 32);
	cJSON *h = cJSON_GetObjectItem(r, "history");
	assert_int_equal(cJSON_GetArraySize(h), 21); /* seq 11..31 */
	assert_string_equal(tj_str(cJSON_GetArrayItem(h, 20), "message"), "m29 \\ tab\t");
	assert_string_equal(tj_str(cJSON_GetArrayItem(h, 20), "client_id"), "c-29");
	cJSON_Delete(r);
	r = tcallf(f->req, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s2\",\"room_id\":\"room1\","
		    "\"text\":\"again\",\"client_id\":\"c-29\"}");
	assert_true(tj_bool(r, "duplicate")); /* the client ids came along */
	cJSON_Delete(r);
	r = tcallf(f->req, "{\"op\":\"create_room\",\"room_id\":\"room2\",\"name\":\"Again\"}");
	cJSON_Delete(r);
	r = tcallf(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s3\",\"room_id\":\"room2\",\"user\":\"bob\"}");
	assert_int_equal(tj_int(r, "seq"), 2); /* room2's seq went on from its deletion */
	cJSON_Delete(r);

	/* While a broker of the cluster is active, the port is refused. */
	assert_int_equal(port(f, out, sizeof(out)), 1);
	if (strstr(out, "is active on this store") == NULL)
		fail_msg("%s", out);
}

int
main(void)
{
	pg_host = getenv("MADANG_TEST_PG");
	pg_user = getenv("MADANG_TEST_PG_USER") ? getenv("MADANG_TEST_PG_USER") : "madang";
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_port_moves_rooms_history_and_epoch_and_runs_again_safely, setup, teardown),
	};
	return cmocka_run_group_tests_name("madang-port-sqlite", tests, NULL, NULL);
}
