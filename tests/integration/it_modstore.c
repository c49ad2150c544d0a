/* it_modstore.c — the moderation state in madang-broker's stores (docs/moderation.md,
 * "Durability"): the real broker, killed and restarted on the same database, talked to over real
 * nng sockets. Owners, moderators, slow mode, bans, mutes, deletions and the audit trail survive a
 * restart; an ended ban is not restored; a deleted room's bans go, its audit stays; a deleted
 * message's text is gone from the SQLite files; a member deletes its own messages, also after a
 * restart and from the store, and no one else's; a version 1 database is migrated in place.
 * SQLite (--data) by default; with MADANG_TEST_PG=<socket directory> (and MADANG_TEST_PG_USER)
 * the same tests run against that PostgreSQL server (--store), plus a failover between two
 * brokers and madang-port-sqlite. tests/suites/20-broker.sh and 25-pgstore.sh run it. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "rpc.h"
#include "testproc.h"

#define ADMIN "\"actor\":{\"name\":\"root\",\"admin\":true}"
#define MARKER "zq-secret-7731-marker" /* the text of the message that gets deleted */

struct fx {
	struct tbroker tb;
	nng_socket req;
	bool open; /* req is open */
	struct tstore st;
	char port_dir[256]; /* a SQLite data directory to port from (PostgreSQL runs) */
	const char *args[8];
};

static const char *pg_host; /* MADANG_TEST_PG: run against PostgreSQL */
static const char *pg_user;

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	alarm(90);
	*state = f;
	if (f == NULL || tstore_make(&f->st, "modstore", pg_host, pg_user) != 0)
		return -1;
	f->args[0] = f->st.args[0];
	f->args[1] = f->st.args[1];
	f->args[2] = "--allow-create";
	f->args[3] = NULL;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[400];
	int rc = 0;

	if (f->open)
		nng_close(f->req);
	if (f->tb.pid > 0 && tbroker_signal(&f->tb, SIGTERM) != 0)
		rc = -1;
	if (f->tb.dir[0])
		tbroker_cleanup(&f->tb);
	if (f->port_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->port_dir);
		if (system(cmd) != 0)
			rc = -1;
	}
	if (tstore_drop(&f->st) != 0)
		rc = -1;
	free(f);
	alarm(0);
	return rc;
}

/* Starts the broker on the fixture's store (first time: a new temp dir; then the same URLs). */
static void
start(struct fx *f)
{
	int rc = f->tb.dir[0] ? tbroker_restart(&f->tb, f->args) : tbroker_start(&f->tb, f->args);
	if (rc != 0)
		fail_msg("broker did not start (log %s)", f->tb.log);
	assert_int_equal(rpc_open(&f->req, f->tb.rpc), 0);
	f->open = true;
}

static void
stop(struct fx *f, int sig)
{
	nng_close(f->req);
	f->open = false;
	assert_int_equal(tbroker_signal(&f->tb, sig), sig == SIGKILL ? 128 + SIGKILL : 0);
}

/* The single value of a one-row, one-column query on the fixture's database, as text ("" for
 * none). SQLite is read beside the running broker (WAL); PostgreSQL through psql. */
static void
db_value(struct fx *f, const char *sql, char *out, size_t size)
{
	out[0] = '\0';
	if (pg_host != NULL) {
		char cmd[1200];
		snprintf(cmd, sizeof(cmd), "psql -X -qtA -v ON_ERROR_STOP=1 -h '%s' -U '%s' -d '%s' -c \"%s\"",
			 pg_host, pg_user, f->st.data, sql);
		FILE *p = popen(cmd, "r");
		assert_non_null(p);
		if (fgets(out, (int)size, p) == NULL)
			out[0] = '\0';
		out[strcspn(out, "\n")] = '\0';
		assert_int_equal(pclose(p), 0);
		return;
	}
	char path[400];
	sqlite3 *db;
	sqlite3_stmt *s;
	snprintf(path, sizeof(path), "%s/madang.db", f->st.data);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* Runs sql on the fixture's database beside the running broker (a write of the test's own). */
static void
db_exec(struct fx *f, const char *sql)
{
	if (pg_host != NULL) {
		assert_int_equal(tpg_sql(pg_host, pg_user, f->st.data, sql), 0);
		return;
	}
	char path[400];
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/madang.db", f->st.data);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static long
db_count(struct fx *f, const char *table, const char *where)
{
	char sql[400], v[64];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s%s WHERE %s",
		 pg_host != NULL ? "madang_" : "", table, where);
	db_value(f, sql, v, sizeof(v));
	return atol(v);
}

/* The reply of a request that must succeed (cJSON_Delete it). */
static cJSON *
ok(struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static cJSON *
ok(struct fx *f, const char *fmt, ...)
{
	char req[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	cJSON *r = tcallf(f->req, "%s", req);
	if (!tj_bool(r, "ok"))
		fail_msg("%s -> %s: %s", req, tj_str(r, "error"), tj_str(r, "message"));
	return r;
}

static void
ok_(struct fx *f, const char *json)
{
	cJSON_Delete(ok(f, "%s", json));
}

/* The JSON text of reply field key (free it). */
static char *
field(const cJSON *r, const char *key)
{
	return cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r, key));
}

/* A member of room with the given subject, on front-end fe, session = user. */
static void
join_as(struct fx *f, const char *room, const char *user, const char *sub)
{
	cJSON_Delete(ok(f,
			"{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"%s\",\"room_id\":\"%s\","
			"\"user\":\"%s\",\"subject\":\"%s\"}",
			user, room, user, sub));
}

/* The seq of a message user sends to room. */
static long long
send_as(struct fx *f, const char *room, const char *user, const char *text)
{
	cJSON *r = ok(f,
		      "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"%s\",\"room_id\":\"%s\","
		      "\"text\":\"%s\"}",
		      user, room, text);
	long long seq = tj_int(r, "seq");
	cJSON_Delete(r);
	assert_true(seq > 0);
	return seq;
}

/* Whether the bans (or mutes) list of room holds an entry with that subject (or user). */
static bool
listed(struct fx *f, const char *room, const char *kind, const char *key, const char *value)
{
	cJSON *r = ok(f, "{\"op\":\"list_%s\",\"room_id\":\"%s\"," ADMIN "}", kind, room), *e;
	bool found = false;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, kind))
	{
		if (strcmp(tj_str(e, key), value) == 0)
			found = true;
	}
	cJSON_Delete(r);
	return found;
}

static int
list_len(struct fx *f, const char *room, const char *kind)
{
	cJSON *r = ok(f, "{\"op\":\"list_%s\",\"room_id\":\"%s\"," ADMIN "}", kind, room);
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, kind));
	cJSON_Delete(r);
	return n;
}

/* The actions of room's audit trail, newest first, joined by commas; returns how many. */
static int
audit_actions(struct fx *f, const char *room, char *out, size_t size)
{
	cJSON *r = ok(f, "{\"op\":\"audit\",\"room_id\":\"%s\"," ADMIN "}", room), *e;
	size_t n = 0;
	int count = 0;
	out[0] = '\0';
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "entries"))
	{
		assert_true(tj_int(e, "id") > 0);
		n += (size_t)snprintf(out + n, size - n, "%s%s", n ? "," : "", tj_str(e, "action"));
		assert_true(n < size);
		count++;
	}
	cJSON_Delete(r);
	return count;
}

/* A room with an owner, two moderators, bans and a mute, slow mode and a deleted message. */
static long long
moderate_a_room(struct fx *f)
{
	ok_(f, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	ok_(f, "{\"op\":\"create_room\",\"room_id\":\"modr\",\"name\":\"Mod\",\"owner\":\"u-own\"," ADMIN "}");
	ok_(f, "{\"op\":\"set_room\",\"room_id\":\"modr\",\"moderators\":[\"u-m1\",\"u-m2\"],"
	       "\"moderators_may_ban\":true,\"slow_mode_s\":30," ADMIN "}");
	join_as(f, "modr", "alice", "u-alice");
	join_as(f, "modr", "bob", "u-bob");
	join_as(f, "modr", "carl", "u-carl");
	send_as(f, "modr", "alice", "hello");
	long long seq = send_as(f, "modr", "bob", MARKER);
	ok_(f, "{\"op\":\"ban\",\"room_id\":\"modr\",\"user\":\"bob\",\"note\":\"spam\"," ADMIN "}");
	ok_(f, "{\"op\":\"ban\",\"room_id\":\"modr\",\"subject\":\"u-far\",\"duration_s\":3600," ADMIN "}");
	ok_(f, "{\"op\":\"mute\",\"room_id\":\"modr\",\"user\":\"carl\",\"duration_s\":3600," ADMIN "}");
	ok_(f, "{\"op\":\"ban\",\"room_id\":\"modr\",\"subject\":\"u-gone\"," ADMIN "}");
	ok_(f, "{\"op\":\"unban\",\"room_id\":\"modr\",\"subject\":\"u-gone\"," ADMIN "}");
	char req[256];
	snprintf(req, sizeof(req), "{\"op\":\"delete_message\",\"room_id\":\"modr\",\"seq\":%lld," ADMIN "}", seq);
	ok_(f, req);
	return seq;
}

/* What moderate_a_room set, as the broker now tells it. */
static void
check_moderated_room(struct fx *f, long long seq)
{
	ok_(f, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	cJSON *r = ok(f, "{\"op\":\"get_room\",\"room_id\":\"modr\"}");
	cJSON *room = cJSON_GetObjectItemCaseSensitive(r, "room");
	char *m = field(room ? room : r, "moderation");
	assert_non_null(m);
	assert_string_equal(m, "{\"owner\":\"u-own\",\"moderators\":[\"u-m1\",\"u-m2\"],"
			       "\"moderators_may_ban\":true,\"slow_mode_s\":30}");
	free(m);
	cJSON_Delete(r);
	assert_int_equal(list_len(f, "modr", "bans"), 2);
	assert_true(listed(f, "modr", "bans", "subject", "u-bob"));
	assert_true(listed(f, "modr", "bans", "subject", "u-far"));
	assert_int_equal(list_len(f, "modr", "mutes"), 1);
	assert_true(listed(f, "modr", "mutes", "subject", "u-carl"));
	/* The banned subject cannot come back, under another nickname too. */
	r = tcallf(f->req, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"b2\",\"room_id\":\"modr\","
			   "\"user\":\"bobby\",\"subject\":\"u-bob\"}");
	assert_false(tj_bool(r, "ok"));
	assert_string_equal(tj_str(r, "error"), "banned");
	cJSON_Delete(r);
	/* The deleted message is a tombstone in the history. */
	r = ok(f, "{\"op\":\"history\",\"room_id\":\"modr\",\"after_seq\":%lld,\"limit\":1}", seq - 1);
	cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "events"), 0);
	assert_non_null(e);
	assert_int_equal(tj_int(e, "seq"), seq);
	assert_string_equal(tj_str(e, "message"), "");
	assert_true(tj_bool(e, "deleted"));
	assert_string_equal(tj_str(e, "sender"), "bob");
	char *t = cJSON_PrintUnformatted(r);
	assert_null(strstr(t, MARKER));
	free(t);
	cJSON_Delete(r);
	/* A second deletion of it is refused: the store has the tombstone. */
	r = tcallf(f->req, "{\"op\":\"delete_message\",\"room_id\":\"modr\",\"seq\":%lld," ADMIN "}", seq);
	assert_string_equal(tj_str(r, "error"), "no_such_message");
	cJSON_Delete(r);
	/* The actions, newest first; then what create_room and set_room recorded. */
	char acts[512];
	audit_actions(f, "modr", acts, sizeof(acts));
	if (strncmp(acts, "delete_message,unban,ban,mute,ban,ban,", 38) != 0 ||
	    strstr(acts, "moderators") == NULL || strstr(acts, "slow_mode") == NULL)
		fail_msg("audit trail: %s", acts);
}

static void
test_moderation_survives_a_restart(void **state)
{
	struct fx *f = *state;

	start(f);
	long long seq = moderate_a_room(f);
	check_moderated_room(f, seq);
	stop(f, SIGKILL);
	start(f);
	check_moderated_room(f, seq);
	/* And once more, after a clean stop. */
	stop(f, SIGTERM);
	start(f);
	check_moderated_room(f, seq);
}

/* A ban that ended while the broker was down is not restored, and the prune pass drops ended
 * ones from the store, and audit entries older than --audit-days (90 by default). */
static void
test_ended_bans_are_neither_restored_nor_kept(void **state)
{
	struct fx *f = *state;
	char log[256], cmd[400];

	start(f);
	ok_(f, "{\"op\":\"create_room\",\"room_id\":\"short\",\"name\":\"Short\"," ADMIN "}");
	ok_(f, "{\"op\":\"ban\",\"room_id\":\"short\",\"subject\":\"u-long\"," ADMIN "}");
	ok_(f, "{\"op\":\"ban\",\"room_id\":\"short\",\"subject\":\"u-1s\",\"duration_s\":1," ADMIN "}");
	ok_(f, "{\"op\":\"mute\",\"room_id\":\"short\",\"user\":\"m-1s\",\"duration_s\":1," ADMIN "}");
	/* Down before the prune pass could see them end (it runs every 200 ms). */
	stop(f, SIGKILL);
	assert_int_equal(db_count(f, "restrictions", "room_id='short'"), 3);
	usleep(1300 * 1000);
	snprintf(log, sizeof(log), "%s", f->tb.log);
	start(f);
	snprintf(cmd, sizeof(cmd), "grep -q 'and 1 bans and mutes from' %s", log);
	if (system(cmd) != 0)
		fail_msg("the restart restored more than the one live ban (log %s)", log);
	assert_int_equal(list_len(f, "short", "bans"), 1);
	assert_true(listed(f, "short", "bans", "subject", "u-long"));
	assert_int_equal(list_len(f, "short", "mutes"), 0);
	/* The prune pass drops the ended ones from the store within a second or so. */
	for (int i = 0; i < 40 && db_count(f, "restrictions", "room_id='short'") != 1; i++)
		usleep(100 * 1000);
	assert_int_equal(db_count(f, "restrictions", "room_id='short'"), 1);
	/* An entry of 100 days ago goes; the 3 of today stay. */
	long audit = db_count(f, "audit", "room_id='short'");
	assert_int_equal(audit, 3);
	char sql[300];
	snprintf(sql, sizeof(sql), "INSERT INTO %saudit(room_id,time_ms,entry) VALUES('short',%lld,'{}')",
		 pg_host != NULL ? "madang_" : "", (long long)time(NULL) * 1000 - 100LL * 86400000);
	db_exec(f, sql);
	for (int i = 0; i < 40 && db_count(f, "audit", "room_id='short'") != 3; i++)
		usleep(100 * 1000);
	assert_int_equal(db_count(f, "audit", "room_id='short'"), 3);
}

/* Deleting a room deletes its settings, bans and mutes, not its audit trail. */
static void
test_a_deleted_rooms_bans_go_and_its_audit_stays(void **state)
{
	struct fx *f = *state;
	char acts[256];

	start(f);
	ok_(f, "{\"op\":\"create_room\",\"room_id\":\"gone\",\"name\":\"Gone\",\"owner\":\"u-own\"," ADMIN "}");
	ok_(f, "{\"op\":\"ban\",\"room_id\":\"gone\",\"subject\":\"u-z\"," ADMIN "}");
	ok_(f, "{\"op\":\"mute\",\"room_id\":\"gone\",\"user\":\"zed\",\"duration_s\":600," ADMIN "}");
	assert_int_equal(db_count(f, "restrictions", "room_id='gone'"), 2);
	long audit = db_count(f, "audit", "room_id='gone'");
	assert_true(audit >= 2);
	ok_(f, "{\"op\":\"delete_room\",\"room_id\":\"gone\"}");
	assert_int_equal(db_count(f, "restrictions", "room_id='gone'"), 0);
	assert_int_equal(db_count(f, "rooms", "id='gone' AND moderation IS NOT NULL"), 0);
	assert_int_equal(db_count(f, "audit", "room_id='gone'"), audit);
	stop(f, SIGKILL);
	start(f);
	/* An admin still reads the deleted room's trail, from the store. */
	assert_int_equal(audit_actions(f, "gone", acts, sizeof(acts)), audit);
	assert_int_equal(strncmp(acts, "mute,ban", 8), 0);
	/* A new room of that id starts clean, and the old trail is still there for it. */
	ok_(f, "{\"op\":\"create_room\",\"room_id\":\"gone\",\"name\":\"Gone again\"," ADMIN "}");
	assert_int_equal(list_len(f, "gone", "bans"), 0);
	assert_int_equal(list_len(f, "gone", "mutes"), 0);
	cJSON *r = ok(f, "{\"op\":\"get_room\",\"room_id\":\"gone\"}");
	char *t = cJSON_PrintUnformatted(r);
	assert_null(strstr(t, "u-own"));
	free(t);
	cJSON_Delete(r);
	audit_actions(f, "gone", acts, sizeof(acts));
	assert_int_equal(strncmp(acts, "mute,ban", 8), 0);
}

/* How many times MARKER occurs in path (0 when the file does not exist). */
static int
marker_count(const char *dir, const char *file)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return 0;
	static char buf[1 << 16];
	size_t n, keep = 0, mlen = strlen(MARKER);
	int count = 0;
	while ((n = fread(buf + keep, 1, sizeof(buf) - keep, fp)) > 0) {
		n += keep;
		for (size_t i = 0; i + mlen <= n; i++)
			if (memcmp(buf + i, MARKER, mlen) == 0)
				count++;
		keep = n >= mlen ? mlen - 1 : n;
		memmove(buf, buf + n - keep, keep);
	}
	fclose(fp);
	return count;
}

static int
marker_in_files(struct fx *f)
{
	return marker_count(f->st.data, "madang.db") + marker_count(f->st.data, "madang.db-wal") +
	       marker_count(f->st.data, "madang.db-shm");
}

/* A deleted message's text is gone from madang.db, its WAL and shared memory file, with the
 * broker running and after it stopped; the history has the tombstone. */
static void
test_a_deleted_messages_text_is_gone_from_the_sqlite_files(void **state)
{
	struct fx *f = *state;

	if (pg_host != NULL)
		skip(); /* PostgreSQL keeps the old row version until VACUUM (docs/deploy-ha.md) */
	start(f);
	ok_(f, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	join_as(f, "room1", "alice", "u-alice");
	for (int i = 0; i < 20; i++)
		send_as(f, "room1", "alice", "before the marker, some padding text");
	long long seq = send_as(f, "room1", "alice", MARKER);
	for (int i = 0; i < 20; i++)
		send_as(f, "room1", "alice", "after the marker, some padding text");
	/* The test can fail: the text is in the files now. */
	assert_true(marker_in_files(f) > 0);
	char req[256];
	snprintf(req, sizeof(req), "{\"op\":\"delete_message\",\"room_id\":\"room1\",\"seq\":%lld," ADMIN "}", seq);
	ok_(f, req);
	assert_int_equal(marker_in_files(f), 0);
	send_as(f, "room1", "alice", "life goes on");
	stop(f, SIGTERM);
	assert_int_equal(marker_in_files(f), 0);
	start(f);
	cJSON *r = ok(f, "{\"op\":\"history\",\"room_id\":\"room1\",\"after_seq\":%lld,\"limit\":1}", seq - 1);
	cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "events"), 0);
	assert_non_null(e);
	assert_int_equal(tj_int(e, "seq"), seq);
	assert_true(tj_bool(e, "deleted"));
	assert_string_equal(tj_str(e, "message"), "");
	cJSON_Delete(r);
	assert_int_equal(marker_in_files(f), 0);
}

/* The reply's error code to member `user` (session user) deleting message seq of room. */
static char *
member_deletes(struct fx *f, const char *room, const char *user, long long seq)
{
	static char code[64];
	cJSON *r = tcallf(f->req,
			  "{\"op\":\"delete_message\",\"frontend\":\"fe\",\"session\":\"%s\","
			  "\"room_id\":\"%s\",\"seq\":%lld}",
			  user, room, seq);
	snprintf(code, sizeof(code), "%s", tj_bool(r, "ok") ? "ok" : tj_str(r, "error"));
	cJSON_Delete(r);
	return code;
}

/* Whose a message is survives a restart, in the broker's memory (restored) and in the store
 * (past --history): a member deletes its own there and no one else's, under any nickname. */
static void
test_a_member_deletes_its_own_messages_after_a_restart(void **state)
{
	struct fx *f = *state;

	f->args[3] = "--history";
	f->args[4] = "5";
	f->args[5] = NULL;
	start(f);
	ok_(f, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	join_as(f, "room1", "alice", "u-alice");
	join_as(f, "room1", "bob", "u-bob");
	long long old = send_as(f, "room1", "alice", "old words");
	for (int i = 0; i < 8; i++)
		send_as(f, "room1", "bob", "padding");
	long long recent = send_as(f, "room1", "alice", "recent words");
	stop(f, SIGKILL);
	start(f);
	ok_(f, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	join_as(f, "room1", "bob", "u-bob");
	join_as(f, "room1", "ally", "u-alice"); /* alice again, under another nickname */
	assert_string_equal(member_deletes(f, "room1", "bob", recent), "forbidden");
	assert_string_equal(member_deletes(f, "room1", "bob", old), "forbidden");
	assert_string_equal(member_deletes(f, "room1", "ally", recent), "ok"); /* restored ring */
	assert_string_equal(member_deletes(f, "room1", "ally", old), "ok");    /* the store */
	assert_string_equal(member_deletes(f, "room1", "ally", old), "no_such_message");
	char v[64], sql[200];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM %sevents WHERE room_id='room1' AND json LIKE '%%words%%'",
		 pg_host != NULL ? "madang_" : "");
	db_value(f, sql, v, sizeof(v));
	assert_string_equal(v, "0");
	/* The store forgets whose a deleted message was. */
	assert_int_equal(db_count(f, "events", "room_id='room1' AND subject='u-alice'"), 0);
	assert_true(db_count(f, "events", "room_id='room1' AND subject='u-bob'") >= 8);
}

/* The version 1 schema and a little data, as a broker before moderation wrote it. */
static const char v1_sqlite[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE rooms(id TEXT PRIMARY KEY, name TEXT NOT NULL, seq INTEGER NOT NULL,"
    "  purge_below INTEGER NOT NULL, created_ms INTEGER NOT NULL, deleted INTEGER NOT NULL,"
    "  ord INTEGER NOT NULL);"
    "CREATE TABLE events(room_id TEXT NOT NULL, seq INTEGER NOT NULL, time_ms INTEGER NOT NULL,"
    "  json TEXT NOT NULL, user_key TEXT, client_id TEXT, PRIMARY KEY(room_id, seq)) WITHOUT ROWID;"
    "INSERT INTO meta VALUES('epoch','00112233aabbccdd');"
    "INSERT INTO rooms VALUES('old','Old room',2,0,1000,0,1);"
    "INSERT INTO events VALUES('old',1,1000,'{\"type\":\"message\",\"room_id\":\"old\",\"seq\":1,"
    "\"sender\":\"ann\",\"message\":\"first\",\"time\":\"2026-01-01T00:00:01.000Z\"}','ann','c1');"
    "INSERT INTO events VALUES('old',2,2000,'{\"type\":\"message\",\"room_id\":\"old\",\"seq\":2,"
    "\"sender\":\"ann\",\"message\":\"second\",\"time\":\"2026-01-01T00:00:02.000Z\"}','ann','c2');"
    "PRAGMA user_version=1;";

static const char v1_pg[] =
    "CREATE TABLE madang_meta(key text PRIMARY KEY, value text NOT NULL);"
    "CREATE TABLE madang_rooms(id text PRIMARY KEY, name text NOT NULL, seq bigint NOT NULL,"
    "  purge_below bigint NOT NULL, created_ms bigint NOT NULL, deleted boolean NOT NULL,"
    "  ord bigint NOT NULL);"
    "CREATE TABLE madang_events(room_id text NOT NULL, seq bigint NOT NULL, time_ms bigint NOT NULL,"
    "  json text NOT NULL, user_key text, client_id text, PRIMARY KEY(room_id, seq));"
    "INSERT INTO madang_meta VALUES('schema_version','1'),('cluster','madang'),('term','4'),"
    "('epoch','00112233aabbccdd');"
    "INSERT INTO madang_rooms VALUES('old','Old room',2,0,1000,false,1);"
    "INSERT INTO madang_events VALUES('old',1,1000,'{\"type\":\"message\",\"room_id\":\"old\",\"seq\":1,"
    "\"sender\":\"ann\",\"message\":\"first\",\"time\":\"2026-01-01T00:00:01.000Z\"}','ann','c1'),"
    "('old',2,2000,'{\"type\":\"message\",\"room_id\":\"old\",\"seq\":2,"
    "\"sender\":\"ann\",\"message\":\"second\",\"time\":\"2026-01-01T00:00:02.000Z\"}','ann','c2');\n";

/* A version 1 database opens, is migrated to version 3 in place, keeps its epoch, rooms and
 * events, and takes moderation state; a newer version is still refused. */
static void
test_a_version_1_database_is_migrated_in_place(void **state)
{
	struct fx *f = *state;
	char v[64], cmd[600];

	if (pg_host != NULL) {
		snprintf(cmd, sizeof(cmd), "psql -X -q -v ON_ERROR_STOP=1 -h '%s' -U '%s' -d '%s' -f - >/dev/null",
			 pg_host, pg_user, f->st.data);
		FILE *p = popen(cmd, "w");
		assert_non_null(p);
		fputs(v1_pg, p);
		assert_int_equal(pclose(p), 0);
	} else {
		char path[400];
		sqlite3 *db;
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", f->st.data);
		assert_int_equal(system(cmd), 0);
		snprintf(path, sizeof(path), "%s/madang.db", f->st.data);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, v1_sqlite, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
	start(f);
	cJSON *r = ok(f, "{\"op\":\"health\"}");
	assert_string_equal(tj_str(r, "epoch"), "00112233aabbccdd");
	cJSON_Delete(r);
	r = ok(f, "{\"op\":\"history\",\"room_id\":\"old\",\"after_seq\":0,\"limit\":10}");
	cJSON *ev = cJSON_GetObjectItemCaseSensitive(r, "events");
	assert_int_equal(cJSON_GetArraySize(ev), 2);
	assert_string_equal(tj_str(cJSON_GetArrayItem(ev, 1), "message"), "second");
	cJSON_Delete(r);
	if (pg_host != NULL)
		db_value(f, "SELECT value FROM madang_meta WHERE key='schema_version'", v, sizeof(v));
	else
		db_value(f, "PRAGMA user_version", v, sizeof(v));
	assert_string_equal(v, "3");
	/* The migrated database takes moderation state, and keeps it. */
	ok_(f, "{\"op\":\"set_room\",\"room_id\":\"old\",\"owner\":\"u-own\"," ADMIN "}");
	ok_(f, "{\"op\":\"ban\",\"room_id\":\"old\",\"subject\":\"u-x\"," ADMIN "}");
	ok_(f, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	join_as(f, "old", "ann", "u-ann");
	long long third = send_as(f, "old", "ann", "third");
	assert_true(third > 2); /* seqs go on */
	stop(f, SIGKILL);
	start(f);
	/* Her messages from before version 3 are not known to be hers; the new one is. */
	ok_(f, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	join_as(f, "old", "ann", "u-ann");
	assert_string_equal(member_deletes(f, "old", "ann", 2), "forbidden");
	assert_true(listed(f, "old", "bans", "subject", "u-x"));
	r = ok(f, "{\"op\":\"history\",\"room_id\":\"old\",\"after_seq\":0,\"limit\":10}");
	ev = cJSON_GetObjectItemCaseSensitive(r, "events");
	assert_true(cJSON_GetArraySize(ev) >= 3);
	assert_string_equal(tj_str(cJSON_GetArrayItem(ev, 0), "message"), "first");
	char *t = cJSON_PrintUnformatted(ev);
	assert_non_null(strstr(t, "\"third\""));
	free(t);
	cJSON_Delete(r);
	stop(f, SIGTERM);

	/* A newer schema than this broker knows is refused, not migrated "back". */
	if (pg_host != NULL) {
		assert_int_equal(tpg_sql(pg_host, pg_user, f->st.data,
					 "UPDATE madang_meta SET value='4' WHERE key='schema_version'"),
				 0);
		snprintf(cmd, sizeof(cmd), "--store '%s'", f->st.uri);
	} else {
		char path[400];
		sqlite3 *db;
		snprintf(path, sizeof(path), "%s/madang.db", f->st.data);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=4", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		snprintf(cmd, sizeof(cmd), "--data '%s'", f->st.data);
	}
	char bin[256], line[2048], out[4096] = "";
	snprintf(line, sizeof(line), "timeout 10 %s --rpc ipc://%s/r2 --events ipc://%s/e2 %s 2>&1",
		 tbin("madang-broker", bin, sizeof(bin)), f->tb.dir, f->tb.dir, cmd);
	FILE *p = popen(line, "r");
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	if (strstr(out, "newer than this madang-broker knows (3)") == NULL)
		fail_msg("expected a refusal of schema version 4: %s", out);
}

/* PostgreSQL: a standby that takes over from a killed active broker has its bans. */
static void
test_a_failover_keeps_a_ban(void **state)
{
	struct fx *f = *state;
	struct tbroker b2 = {0};
	nng_socket req2;

	if (pg_host == NULL)
		skip();
	start(f);
	ok_(f, "{\"op\":\"create_room\",\"room_id\":\"fo\",\"name\":\"Failover\"," ADMIN "}");
	ok_(f, "{\"op\":\"ban\",\"room_id\":\"fo\",\"subject\":\"u-bad\",\"note\":\"spam\"," ADMIN "}");
	assert_int_equal(tbroker_spawn(&b2, f->args), 0);
	usleep(500 * 1000); /* b2 is a standby now: it does not answer */
	stop(f, SIGKILL);
	if (tbroker_wait_ready(&b2, 15000) != 0)
		fail_msg("the standby did not take over (log %s)", b2.log);
	assert_int_equal(rpc_open(&req2, b2.rpc), 0);
	cJSON *r = tcallf(req2, "{\"op\":\"list_bans\",\"room_id\":\"fo\"," ADMIN "}");
	char *t = cJSON_PrintUnformatted(r);
	bool has = strstr(t, "\"u-bad\"") != NULL && strstr(t, "\"spam\"") != NULL;
	free(t);
	cJSON_Delete(r);
	r = tcallf(req2, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}");
	cJSON_Delete(r);
	r = tcallf(req2, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s\",\"room_id\":\"fo\","
			 "\"user\":\"bad\",\"subject\":\"u-bad\"}");
	bool refused = strcmp(tj_str(r, "error"), "banned") == 0;
	cJSON_Delete(r);
	nng_close(req2);
	int rc = tbroker_signal(&b2, SIGTERM);
	tbroker_cleanup(&b2);
	assert_true(has);
	assert_true(refused);
	assert_int_equal(rc, 0);
}

/* madang-port-sqlite carries the rooms' settings, bans and mutes and the audit trail. */
static void
test_port_carries_the_moderation_state(void **state)
{
	struct fx *f = *state;
	char *dir = f->port_dir, bin[256], cmd[1400], out[2048], want[128];
	char acts_before[512], acts_after[512];

	if (pg_host == NULL)
		skip();
	snprintf(dir, sizeof(f->port_dir), "/tmp/madang-it-modport.%d", (int)getpid());
	f->args[0] = "--data";
	f->args[1] = dir;
	start(f);
	long long seq = moderate_a_room(f);
	int audit_n = audit_actions(f, "modr", acts_before, sizeof(acts_before));
	stop(f, SIGTERM);
	for (int round = 0; round < 2; round++) {
		snprintf(cmd, sizeof(cmd), "timeout 30 %s --data %s --store '%s' 2>&1",
			 tbin("madang-port-sqlite", bin, sizeof(bin)), dir, f->st.uri);
		FILE *p = popen(cmd, "r");
		size_t n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		int st = pclose(p);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("madang-port-sqlite: %s", out);
		/* The second run adds no audit entry twice. */
		snprintf(want, sizeof(want), "3 bans and mutes and %d new audit entries",
			 round == 0 ? audit_n : 0);
		if (strstr(out, want) == NULL)
			fail_msg("round %d: expected \"%s\" in: %s", round, want, out);
	}
	f->args[0] = "--store";
	f->args[1] = f->st.uri;
	start(f);
	check_moderated_room(f, seq);
	/* Whose each message is, too: alice's "hello" (not bob's deleted one, which forgot it). */
	assert_int_equal(db_count(f, "events", "room_id='modr' AND subject='u-alice'"), 1);
	assert_int_equal(db_count(f, "events", "room_id='modr' AND subject IS NOT NULL"), 1);
	audit_actions(f, "modr", acts_after, sizeof(acts_after));
	assert_string_equal(acts_after, acts_before);
	/* New entries continue after the ported ids. */
	ok_(f, "{\"op\":\"slow_mode\",\"room_id\":\"modr\",\"interval_s\":0," ADMIN "}");
	audit_actions(f, "modr", acts_after, sizeof(acts_after));
	assert_int_equal(strncmp(acts_after, "slow_mode,delete_message", 24), 0);
}

int
main(void)
{
	pg_host = getenv("MADANG_TEST_PG");
	pg_user = getenv("MADANG_TEST_PG_USER") ? getenv("MADANG_TEST_PG_USER") : "madang";
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_moderation_survives_a_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ended_bans_are_neither_restored_nor_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_deleted_rooms_bans_go_and_its_audit_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_deleted_messages_text_is_gone_from_the_sqlite_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_member_deletes_its_own_messages_after_a_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_version_1_database_is_migrated_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_failover_keeps_a_ban, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_carries_the_moderation_state, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
