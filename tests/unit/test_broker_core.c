/* test_broker_core.c — unit tests for the broker's state core, driven through broker_handle()
 * with a controlled clock and a publish callback that records every event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "broker/core.h"
#include "log.h"
#include "slab.h"
#include "wire.h"

struct rec {
	char topic[80];
	char json[4096];
};

static struct rec events[256];
static int nevents;
static uint64_t now_ms = 1000000;

static void
record(void *arg, const char *topic, size_t tlen, const char *json, size_t jlen)
{
	(void)arg;
	if (nevents >= 256)
		return;
	snprintf(events[nevents].topic, sizeof(events[nevents].topic), "%.*s", (int)tlen, topic);
	snprintf(events[nevents].json, sizeof(events[nevents].json), "%.*s", (int)jlen, json);
	nevents++;
}

static struct broker *
mk(size_t history, uint32_t max_members, uint32_t max_rooms)
{
	struct broker_config cfg;

	broker_config_defaults(&cfg);
	cfg.history = history;
	cfg.max_members = max_members;
	cfg.max_rooms = max_rooms;
	cfg.join_history = history < 50 ? (uint32_t)history : 50;
	nevents = 0;
	struct broker *b = broker_create(&cfg, "00112233aabbccdd", record, NULL);
	assert_non_null(b);
	assert_int_equal(broker_add_default_rooms(b), 0);
	return b;
}

static cJSON *
req(struct broker *b, const char *json)
{
	struct sbuf out;
	const char *why;

	sbuf_init(&out);
	broker_handle(b, json, strlen(json), 1795316806123LL, now_ms, &out);
	cJSON *r = wire_parse_object(out.data, out.len, 1u << 20, &why);
	if (r == NULL)
		fail_msg("reply is not a JSON object: %s", out.data);
	sbuf_fini(&out);
	return r;
}

static const char *
err_of(struct broker *b, const char *json)
{
	static char code[64];
	cJSON *r = req(b, json);
	const char *e = wire_str(r, "error", NULL);
	snprintf(code, sizeof(code), "%s", e ? e : "ok");
	cJSON_Delete(r);
	return code;
}

static void
hello_join(struct broker *b, const char *sess, const char *room, const char *user)
{
	char j[512];
	snprintf(j, sizeof(j), "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i1\"}");
	assert_string_equal(err_of(b, j), "ok");
	snprintf(j, sizeof(j),
		 "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"%s\",\"room_id\":\"%s\","
		 "\"user\":\"%s\"}",
		 sess, room, user);
	assert_string_equal(err_of(b, j), "ok");
}

static void
test_join_event_is_exact(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	hello_join(b, "s1", "room1", "alice");
	assert_int_equal(nevents, 1);
	assert_string_equal(events[0].topic, "r/room1\n");
	assert_string_equal(events[0].json,
			    "{\"type\":\"join\",\"room_id\":\"room1\",\"seq\":1,\"epoch\":"
			    "\"00112233aabbccdd\",\"time\":\"2026-11-22T03:06:46.123Z\",\"user\":"
			    "\"alice\",\"sender\":\"시스템\",\"message\":\"alice님이 입장했습니다.\","
			    "\"users_count\":1}");
	broker_destroy(b);
}

/* --notices en keeps the English texts; ko (the default) is document 000's, for leaves too. */
static void
test_notices_follow_the_configured_language(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	hello_join(b, "s1", "room1", "민수");
	assert_string_equal(
	    err_of(
		b,
		"{\"op\":\"leave\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\"}"),
	    "ok");
	assert_int_equal(nevents, 2);
	assert_non_null(
	    strstr(events[0].json, "\"sender\":\"시스템\",\"message\":\"민수님이 입장했습니다.\""));
	assert_non_null(
	    strstr(events[1].json, "\"sender\":\"시스템\",\"message\":\"민수님이 퇴장했습니다.\""));
	broker_destroy(b);

	struct broker_config cfg;
	broker_config_defaults(&cfg);
	cfg.notices = BROKER_NOTICES_EN;
	nevents = 0;
	b = broker_create(&cfg, "00112233aabbccdd", record, NULL);
	assert_non_null(b);
	assert_int_equal(broker_add_default_rooms(b), 0);
	hello_join(b, "s1", "room1", "bob");
	assert_string_equal(
	    err_of(
		b,
		"{\"op\":\"leave\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\"}"),
	    "ok");
	assert_non_null(strstr(events[0].json, "\"sender\":\"system\",\"message\":\"bob joined\""));
	assert_non_null(strstr(events[1].json, "\"sender\":\"system\",\"message\":\"bob left\""));
	broker_destroy(b);
}

static void
test_message_event_escapes_text(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	hello_join(b, "s1", "room1", "alice");
	assert_string_equal(err_of(b, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\",\"text\":\"<img src=x onerror=alert(1)> \\\"q\\\"\\n\"}"),
			    "ok");
	assert_non_null(strstr(events[1].json,
			       "\"message\":\"<img src=x onerror=alert(1)> \\\"q\\\"\\n\""));
	broker_destroy(b);
}

static void
test_duplicate_detection_ends_with_the_history_window(void **state)
{
	(void)state;
	struct broker *b = mk(2, 10, 100);
	static const char dup[] = "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\",\"text\":\"x\",\"client_id\":\"c1\"}";
	static const char other[] = "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\",\"text\":\"y\"}";
	hello_join(b, "s1", "room1", "alice");
	cJSON *r = req(b, dup);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "duplicate")));
	cJSON_Delete(r);
	r = req(b, dup);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "duplicate")));
	cJSON_Delete(r);
	cJSON_Delete(req(b, other));
	cJSON_Delete(req(b, other)); /* c1 has left the 2-event ring */
	r = req(b, dup);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "duplicate")));
	cJSON_Delete(r);
	broker_destroy(b);
}

/* The ring keeps events packed (broker/hist.c): history gives back every event byte for byte
 * as it was published, joins, messages with and without a client id, and leaves alike. */
static void
test_history_gives_back_what_was_published(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	struct sbuf out, want;
	static const char hist[] = "{\"op\":\"history\",\"room_id\":\"room1\",\"limit\":500}";

	hello_join(b, "s1", "room1", "alice");
	hello_join(b, "s2", "room1", "민수");
	assert_string_equal(err_of(b, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\","
	                              "\"room_id\":\"room1\",\"text\":\"\\\"q\\\" \\n 안녕\"}"),
	                    "ok");
	assert_string_equal(err_of(b, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s2\","
	                              "\"room_id\":\"room1\",\"text\":\"x\",\"client_id\":\"c1\"}"),
	                    "ok");
	assert_string_equal(
	    err_of(b, "{\"op\":\"leave\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\"}"),
	    "ok");
	assert_int_equal(nevents, 5);
	sbuf_init(&want);
	sbuf_adds(&want, "\"events\":[");
	for (int i = 0; i < nevents; i++) {
		if (i)
			sbuf_addc(&want, ',');
		sbuf_adds(&want, events[i].json);
	}
	sbuf_adds(&want, "]");
	sbuf_init(&out);
	broker_handle(b, hist, strlen(hist), 1795316806123LL, now_ms, &out);
	if (strstr(out.data, want.data) == NULL)
		fail_msg("history is not what was published:\n%s\nwant:\n%s", out.data, want.data);
	sbuf_fini(&out);
	sbuf_fini(&want);
	broker_destroy(b);
}

/* A new epoch (a durable broker takes its database's) leaves the events kept so far as they
 * were published, the old epoch in them. */
static void
test_history_keeps_its_epoch_across_a_new_one(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	struct sbuf out;
	static const char hist[] = "{\"op\":\"history\",\"room_id\":\"room1\",\"limit\":500}";

	hello_join(b, "s1", "room1", "alice");
	assert_int_equal(broker_set_epoch(b, "99887766ffeeddcc"), 0);
	hello_join(b, "s2", "room1", "bob");
	assert_int_equal(nevents, 2);
	assert_non_null(strstr(events[0].json, "00112233aabbccdd"));
	assert_non_null(strstr(events[1].json, "99887766ffeeddcc"));
	sbuf_init(&out);
	broker_handle(b, hist, strlen(hist), 1795316806123LL, now_ms, &out);
	const char *a = strstr(out.data, events[0].json), *c = strstr(out.data, events[1].json);
	if (a == NULL || c == NULL || c < a)
		fail_msg("history is not what was published:\n%s", out.data);
	sbuf_fini(&out);
	broker_destroy(b);
}

/* The ring is allocated as events come (4, 8, then --history): whatever its size, history
 * returns the newest min(events, --history) in order, and duplicates are found in all of it. */
static void
test_history_ring_grows_then_wraps(void **state)
{
	(void)state;
	struct broker *b = mk(10, 10, 100);
	char j[256];

	hello_join(b, "s1", "room1", "alice"); /* seq 1 */
	for (int n = 2; n <= 25; n++) {
		snprintf(j, sizeof(j),
			 "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\","
			 "\"room_id\":\"room1\",\"text\":\"m%d\",\"client_id\":\"c%d\"}",
			 n, n);
		assert_string_equal(err_of(b, j), "ok");
		cJSON *r = req(b, "{\"op\":\"history\",\"room_id\":\"room1\",\"limit\":500}");
		cJSON *evs = cJSON_GetObjectItem(r, "events"), *e;
		int first = n > 10 ? n - 9 : 1, want = first;
		int64_t seq;
		cJSON_ArrayForEach(e, evs)
		{
			assert_true(wire_int(e, "seq", &seq));
			assert_int_equal(seq, want);
			want++;
		}
		assert_int_equal(want, n + 1);
		cJSON_Delete(r);
		/* The oldest message still in the ring is a duplicate; the one before it is not. */
		if (first >= 2) {
			snprintf(j, sizeof(j),
				 "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\","
				 "\"room_id\":\"room1\",\"text\":\"again\",\"client_id\":\"c%d\"}",
				 first);
			r = req(b, j);
			assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "duplicate")));
			cJSON_Delete(r);
		}
	}
	broker_destroy(b);
}

/* Ticks as the server's loop does: every 50 ms after from, up to (and at) until. */
static void
tick_until(struct broker *b, uint64_t from, uint64_t until)
{
	for (uint64_t t = from + 50; t < until; t += 50)
		broker_tick(b, 0, t);
	broker_tick(b, 0, until);
}

/* A loop that did not run for longer than the timeout (SIGSTOP) expires nobody for it: the
 * front-end gets a fresh timeout from then, and expires after it if it stays silent. */
static void
test_stall_gives_frontends_a_fresh_timeout(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	hello_join(b, "s1", "room1", "alice");
	nevents = 0;
	tick_until(b, now_ms, now_ms + 1000);
	broker_tick(b, 0, now_ms + 9000); /* stopped for 8 s */
	assert_int_equal(nevents, 0);
	assert_int_equal(broker_member_count(b), 1);
	tick_until(b, now_ms + 9000, now_ms + 11990);
	assert_int_equal(nevents, 0);
	tick_until(b, now_ms + 11990, now_ms + 12050);
	assert_int_equal(nevents, 1);
	assert_non_null(strstr(events[0].json, "\"reason\":\"expired\""));
	assert_int_equal(broker_frontend_count(b), 0);
	broker_destroy(b);
}

/* With the shortest --frontend-timeout (100 ms) the loop's own 50 ms ticks are no stall: a
 * silent front-end still expires. */
static void
test_tiny_timeout_still_expires(void **state)
{
	(void)state;
	struct broker_config cfg;
	broker_config_defaults(&cfg);
	cfg.frontend_timeout_ms = 100;
	nevents = 0;
	struct broker *b = broker_create(&cfg, "00112233aabbccdd", record, NULL);
	assert_non_null(b);
	assert_int_equal(broker_add_default_rooms(b), 0);
	hello_join(b, "s1", "room1", "alice");
	nevents = 0;
	tick_until(b, now_ms, now_ms + 400);
	assert_int_equal(nevents, 1);
	assert_int_equal(broker_frontend_count(b), 0);
	broker_destroy(b);
}

static void
test_silent_frontend_expires_at_the_timeout(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	hello_join(b, "s1", "room1", "alice");
	nevents = 0;
	tick_until(b, now_ms, now_ms + 2999); /* the loop ticks every 50 ms */
	assert_int_equal(nevents, 0);
	assert_int_equal(broker_member_count(b), 1);
	broker_tick(b, 0, now_ms - 5); /* a clock reading older than the last request */
	assert_int_equal(nevents, 0);
	broker_tick(b, 0, now_ms + 3001);
	assert_int_equal(nevents, 1);
	assert_non_null(strstr(events[0].json, "\"reason\":\"expired\""));
	assert_int_equal(broker_member_count(b), 0);
	assert_int_equal(broker_frontend_count(b), 0);
	broker_destroy(b);
}

static void
test_room_full_and_too_many_rooms(void **state)
{
	(void)state;
	struct broker_config cfg;
	broker_config_defaults(&cfg);
	cfg.max_members = 1;
	cfg.max_rooms = 1;
	cfg.allow_create = true;
	struct broker *b = broker_create(&cfg, "00112233aabbccdd", record, NULL);
	char err[128];
	assert_int_equal(broker_add_room(b, "only", "Only", err, sizeof(err)), 0);
	assert_int_equal(broker_add_room(b, "two", "Two", err, sizeof(err)), -1);
	hello_join(b, "s1", "only", "alice");
	assert_string_equal(err_of(b, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s2\",\"room_id\":\"only\",\"user\":\"bob\"}"),
			    "room_full");
	assert_string_equal(err_of(b, "{\"op\":\"create_room\",\"room_id\":\"x\"}"), "too_many_rooms");
	assert_string_equal(err_of(b, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s2\",\"room_id\":\"x\",\"user\":\"bob\"}"),
			    "too_many_rooms");
	broker_destroy(b);
}

static void
test_rooms_file_is_checked(void **state)
{
	(void)state;
	struct broker_config cfg;
	char err[256];
	broker_config_defaults(&cfg);
	struct broker *b = broker_create(&cfg, "00112233aabbccdd", record, NULL);
	static const char good[] = "{\"rooms\":[{\"id\":\"a\",\"name\":\"A\"},{\"id\":\"b\"}]}";
	assert_int_equal(broker_load_rooms(b, good, strlen(good), err, sizeof(err)), 0);
	assert_int_equal(broker_room_count(b), 2);
	static const char dupe[] = "[{\"id\":\"c\",\"name\":\"C\"},{\"id\":\"c\",\"name\":\"C\"}]";
	assert_int_equal(broker_load_rooms(b, dupe, strlen(dupe), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "twice"));
	/* Two rooms may not share a name once case-folded, nor hold an invisible character. */
	static const char samename[] = "[{\"id\":\"d\",\"name\":\"a\"}]";
	assert_int_equal(broker_load_rooms(b, samename, strlen(samename), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "taken by room a"));
	static const char zwsp[] = "[{\"id\":\"e\",\"name\":\"E\u200bE\"}]";
	assert_int_equal(broker_load_rooms(b, zwsp, strlen(zwsp), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invisible"));
	static const char badid[] = "{\"rooms\":[{\"id\":\"a/b\",\"name\":\"X\"}]}";
	assert_int_equal(broker_load_rooms(b, badid, strlen(badid), err, sizeof(err)), -1);
	assert_int_equal(broker_load_rooms(b, "{", 1, err, sizeof(err)), -1);
	assert_int_equal(broker_load_rooms(b, "{\"x\":1}", 7, err, sizeof(err)), -1);
	broker_destroy(b);
}

static void
test_hello_of_a_new_instance_expires_the_old_one(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	hello_join(b, "s1", "room1", "alice");
	nevents = 0;
	assert_string_equal(err_of(b, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i2\"}"), "ok");
	assert_int_equal(broker_member_count(b), 0);
	assert_int_equal(nevents, 1);
	assert_non_null(strstr(events[0].json, "\"type\":\"leave\""));
	assert_string_equal(err_of(b, "{\"op\":\"heartbeat\",\"frontend\":\"fe\",\"instance\":\"i1\"}"),
			    "unknown_frontend");
	broker_destroy(b);
}

static void
test_counts_follow_joins_and_leaves(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	hello_join(b, "s1", "room1", "alice");
	hello_join(b, "s1", "room2", "alice"); /* one session, two rooms */
	hello_join(b, "s2", "room1", "bob");
	assert_int_equal(broker_member_count(b), 3);
	cJSON *r = req(b, "{\"op\":\"stats\"}");
	assert_int_equal(cJSON_GetObjectItem(r, "sessions")->valueint, 2);
	cJSON_Delete(r);
	assert_string_equal(err_of(b, "{\"op\":\"leave\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\"}"), "ok");
	r = req(b, "{\"op\":\"list_rooms\"}");
	cJSON *rooms = cJSON_GetObjectItem(r, "rooms");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(rooms, 0), "users_count")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(rooms, 1), "users_count")->valueint, 1);
	cJSON_Delete(r);
	broker_destroy(b);
}

/* A session's first room is held in the session itself, later ones in an array that grows
 * (4, 8, 16): membership holds through every growth and every leave. */
static void
test_session_in_many_rooms(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	char id[16], name[16], j[256], err[128];
	const int n = 12;

	for (int i = 5; i <= n; i++) {
		snprintf(id, sizeof(id), "room%d", i);
		snprintf(name, sizeof(name), "Room %d", i);
		assert_int_equal(broker_add_room(b, id, name, err, sizeof(err)), 0);
	}
	for (int i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "room%d", i);
		hello_join(b, "s1", id, "alice");
	}
	assert_int_equal(broker_member_count(b), n);
	for (int i = 1; i <= n; i += 2) { /* leave the odd ones */
		snprintf(j, sizeof(j),
		         "{\"op\":\"leave\",\"frontend\":\"fe\",\"session\":\"s1\","
		         "\"room_id\":\"room%d\"}",
		         i);
		assert_string_equal(err_of(b, j), "ok");
	}
	for (int i = 1; i <= n; i++) {
		snprintf(j, sizeof(j),
		         "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\","
		         "\"room_id\":\"room%d\",\"text\":\"hi\"}",
		         i);
		assert_string_equal(err_of(b, j), i % 2 ? "not_member" : "ok");
	}
	assert_int_equal(broker_member_count(b), n / 2);
	/* Back down to one room, then none: the session goes with its last room. */
	for (int i = 2; i <= n; i += 2) {
		snprintf(j, sizeof(j),
		         "{\"op\":\"leave\",\"frontend\":\"fe\",\"session\":\"s1\","
		         "\"room_id\":\"room%d\"}",
		         i);
		assert_string_equal(err_of(b, j), "ok");
	}
	cJSON *r = req(b, "{\"op\":\"stats\"}");
	assert_int_equal(cJSON_GetObjectItem(r, "sessions")->valueint, 0);
	cJSON_Delete(r);
	hello_join(b, "s1", "room3", "alice");
	broker_destroy(b); /* frees a session holding its one room inline */
}

/* ---- Moderation (docs/moderation.md) ---- */

#define WALL_MS 1795316806123LL /* the wall clock of req() */

/* What the store hooks were told, in order, one line each. */
static char hooks[8192];

static void
hook_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
hook_line(const char *fmt, ...)
{
	size_t n = strlen(hooks);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(hooks + n, sizeof(hooks) - n, fmt, ap);
	va_end(ap);
	n = strlen(hooks);
	if (n + 1 < sizeof(hooks))
		strcat(hooks, "\n");
}

static void
h_room_meta(void *arg, const char *room_id, const char *meta, size_t len)
{
	(void)arg;
	hook_line("meta %s %.*s", room_id, (int)len, meta);
}

static void
h_put(void *arg, const char *room_id, const char *kind, const char *key, int64_t until_ms,
      const char *rec, size_t len)
{
	(void)arg;
	hook_line("put %s %s %s %lld %.*s", room_id, kind, key, (long long)until_ms, (int)len, rec);
}

static void
h_del(void *arg, const char *room_id, const char *kind, const char *key)
{
	(void)arg;
	hook_line("del %s %s %s", room_id, kind, key);
}

static void
h_redact(void *arg, const char *room_id, uint64_t seq, const char *tomb, size_t len)
{
	(void)arg;
	hook_line("redact %s %llu %.*s", room_id, (unsigned long long)seq, (int)len, tomb);
}

/* Stores seq 1 of every room as a message of bob's (sent with subject u-bob), and nothing
 * else. */
static int
h_get(void *arg, const char *room_id, uint64_t seq, struct sbuf *out, struct sbuf *subject)
{
	(void)arg;
	if (seq == 77)
		return -1; /* a storage error */
	if (seq != 1)
		return 1;
	sbuf_addf(out,
	          "{\"type\":\"message\",\"room_id\":\"%s\",\"seq\":1,\"epoch\":\"00112233aabbccdd\","
	          "\"time\":\"2026-11-22T03:06:46.123Z\",\"sender\":\"bob\",\"message\":\"old\","
	          "\"client_id\":\"c9\"}",
	          room_id);
	sbuf_adds(subject, "u-bob");
	return 0;
}

static void
h_audit_add(void *arg, const char *room_id, int64_t wall_ms, const char *entry, size_t len)
{
	(void)arg;
	(void)wall_ms;
	hook_line("audit %s %.*s", room_id, (int)len, entry);
}

static int
h_audit_read(void *arg, const char *room_id, uint64_t before_id, size_t limit, struct sbuf *out)
{
	(void)arg;
	hook_line("audit_read %s %llu %zu", room_id, (unsigned long long)before_id, limit);
	sbuf_adds(out, "[{\"id\":7,\"action\":\"kick\"},{\"id\":3,\"action\":\"ban\"}]");
	return 0;
}

static struct broker *
mk_stored(size_t history)
{
	struct broker *b = mk(history, 10, 100);
	struct broker_store st = {.room_meta = h_room_meta,
	                          .restriction_put = h_put,
	                          .restriction_del = h_del,
	                          .event_redact = h_redact,
	                          .event_get = h_get,
	                          .audit_add = h_audit_add,
	                          .audit_read = h_audit_read};
	broker_set_store(b, &st);
	hooks[0] = '\0';
	return b;
}

#define ADMIN "\"actor\":{\"name\":\"admin\",\"admin\":true}"

static void
test_store_hooks_follow_moderation(void **state)
{
	(void)state;
	struct broker *b = mk_stored(100);
	assert_string_equal(err_of(b, "{\"op\":\"set_room\",\"room_id\":\"room1\"," ADMIN
	                              ",\"owner\":\"u-1\",\"moderators_may_ban\":true}"),
	                    "ok");
	assert_string_equal(err_of(b, "{\"op\":\"ban\",\"room_id\":\"room1\"," ADMIN
	                              ",\"user\":\"Bob\",\"duration_s\":60,\"note\":\"spam\"}"),
	                    "ok");
	assert_string_equal(err_of(b, "{\"op\":\"unban\",\"room_id\":\"room1\"," ADMIN ",\"user\":\"bob\"}"),
	                    "ok");
	assert_string_equal(
	    hooks,
	    "audit room1 {\"time\":\"2026-11-22T03:06:46.123Z\",\"room_id\":\"room1\",\"action\":"
	    "\"owner\",\"actor\":{\"name\":\"admin\",\"subject\":null,\"admin\":true,\"via\":\"api\"},"
	    "\"target\":{\"user\":null,\"subject\":\"u-1\"}}\n"
	    "audit room1 {\"time\":\"2026-11-22T03:06:46.123Z\",\"room_id\":\"room1\",\"action\":"
	    "\"moderators_may_ban\",\"actor\":{\"name\":\"admin\",\"subject\":null,\"admin\":true,"
	    "\"via\":\"api\"},\"moderators_may_ban\":true}\n"
	    "meta room1 {\"owner\":\"u-1\",\"moderators\":[],\"moderators_may_ban\":true,"
	    "\"slow_mode_s\":0}\n"
	    "put room1 ban n:bob 1795316866123 {\"user\":\"Bob\",\"subject\":null,\"addr\":null,"
	    "\"until_ms\":1795316866123,\"time_ms\":1795316806123,\"by\":\"admin\",\"note\":\"spam\","
	    "\"by_role\":\"admin\"}\n"
	    "audit room1 {\"time\":\"2026-11-22T03:06:46.123Z\",\"room_id\":\"room1\",\"action\":"
	    "\"ban\",\"actor\":{\"name\":\"admin\",\"subject\":null,\"admin\":true,\"via\":\"api\"},"
	    "\"target\":{\"user\":\"Bob\",\"subject\":null},\"note\":\"spam\",\"duration_s\":60}\n"
	    "audit room1 {\"time\":\"2026-11-22T03:06:46.123Z\",\"room_id\":\"room1\",\"action\":"
	    "\"unban\",\"actor\":{\"name\":\"admin\",\"subject\":null,\"admin\":true,\"via\":\"api\"},"
	    "\"target\":{\"user\":\"Bob\",\"subject\":null}}\n"
	    "del room1 ban n:bob\n");
	/* With a store, audit reads it (one more than asked: to know whether a page follows). */
	hooks[0] = '\0';
	cJSON *r = req(b, "{\"op\":\"audit\",\"room_id\":\"room1\"," ADMIN ",\"limit\":1}");
	assert_string_equal(hooks, "audit_read room1 0 2\n");
	char *text = cJSON_PrintUnformatted(r);
	assert_string_equal(text, "{\"ok\":true,\"entries\":[{\"id\":7,\"action\":\"kick\"}],"
	                          "\"next_before\":7}");
	free(text);
	cJSON_Delete(r);
	/* A deleted room's trail outlives it, for admins. */
	assert_string_equal(err_of(b, "{\"op\":\"delete_room\",\"room_id\":\"room1\"}"), "ok");
	hooks[0] = '\0';
	assert_string_equal(err_of(b, "{\"op\":\"audit\",\"room_id\":\"room1\"," ADMIN ",\"before_id\":7}"),
	                    "ok");
	assert_string_equal(hooks, "audit_read room1 7 51\n");
	assert_string_equal(err_of(b, "{\"op\":\"audit\",\"room_id\":\"room1\",\"actor\":{\"name\":\"o\","
	                              "\"subject\":\"u-1\"}}"),
	                    "no_such_room");
	broker_destroy(b);
}

static void
test_delete_redacts_the_ring_and_the_store(void **state)
{
	(void)state;
	struct broker *b = mk_stored(2);
	hello_join(b, "s1", "room1", "alice"); /* seq 1 */
	assert_string_equal(err_of(b, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\","
	                              "\"room_id\":\"room1\",\"text\":\"oops\",\"client_id\":\"c1\"}"),
	                    "ok"); /* seq 2 */
	hooks[0] = '\0';
	nevents = 0;
	assert_string_equal(err_of(b, "{\"op\":\"delete_message\",\"room_id\":\"room1\"," ADMIN ",\"seq\":2}"),
	                    "ok");
	assert_non_null(strstr(hooks, "redact room1 2 {\"type\":\"message\",\"room_id\":\"room1\","
	                              "\"seq\":2,\"epoch\":\"00112233aabbccdd\",\"time\":"
	                              "\"2026-11-22T03:06:46.123Z\",\"sender\":\"alice\",\"message\":"
	                              "\"\",\"deleted\":true}\n"));
	assert_int_equal(nevents, 1);
	assert_string_equal(events[0].json,
	                    "{\"type\":\"message_deleted\",\"room_id\":\"room1\",\"seq\":3,\"epoch\":"
	                    "\"00112233aabbccdd\",\"time\":\"2026-11-22T03:06:46.123Z\",\"deleted_seq\":2,"
	                    "\"by\":\"admin\",\"sender\":\"시스템\",\"message\":\"메시지가 삭제되었습니다.\"}");
	/* seq 1 has left the ring (history 2): the store's copy is checked and redacted, and the
	 * tombstone keeps the reason, so that history shows it (docs/moderation.md). */
	hooks[0] = '\0';
	assert_string_equal(err_of(b, "{\"op\":\"delete_message\",\"room_id\":\"room1\"," ADMIN
	                              ",\"seq\":1,\"note\":\"스팸\"}"),
	                    "ok");
	assert_non_null(strstr(hooks, "redact room1 1 {\"type\":\"message\",\"room_id\":\"room1\","
	                              "\"seq\":1,\"epoch\":\"00112233aabbccdd\",\"time\":"
	                              "\"2026-11-22T03:06:46.123Z\",\"sender\":\"bob\",\"message\":\"\","
	                              "\"deleted\":true,\"note\":\"스팸\"}\n"));
	/* Seqs the store does not hold and seqs not yet given are no messages. */
	assert_string_equal(err_of(b, "{\"op\":\"delete_message\",\"room_id\":\"room2\"," ADMIN ",\"seq\":1}"),
	                    "no_such_message");
	assert_string_equal(err_of(b, "{\"op\":\"delete_message\",\"room_id\":\"room1\"," ADMIN ",\"seq\":99}"),
	                    "no_such_message");
	/* A store that cannot answer is no proof that the message does not exist. */
	for (int i = 0; i < 80; i++)
		assert_string_equal(err_of(b, "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\","
		                              "\"room_id\":\"room1\",\"text\":\"x\"}"),
		                    "ok");
	assert_string_equal(err_of(b, "{\"op\":\"delete_message\",\"room_id\":\"room1\"," ADMIN ",\"seq\":77}"),
	                    "internal");
	broker_destroy(b);
}

/* A join of user with a token subject (NULL: without one) in session sess. */
static void
join_sub(struct broker *b, const char *sess, const char *room, const char *user, const char *sub)
{
	char j[512];
	snprintf(j, sizeof(j),
	         "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"%s\",\"room_id\":\"%s\","
	         "\"user\":\"%s\"%s%s%s}",
	         sess, room, user, sub ? ",\"subject\":\"" : "", sub ? sub : "", sub ? "\"" : "");
	assert_string_equal(err_of(b, j), "ok");
}

/* Session sess sends a message to room1 (with client id cid unless NULL): the error or "ok". */
static const char *
send_as(struct broker *b, const char *sess, const char *cid)
{
	char j[512];
	snprintf(j, sizeof(j),
	         "{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"%s\",\"room_id\":\"room1\","
	         "\"text\":\"t\"%s%s%s}",
	         sess, cid ? ",\"client_id\":\"" : "", cid ? cid : "", cid ? "\"" : "");
	return err_of(b, j);
}

/* Session sess deletes message seq of room1: the error or "ok". */
static const char *
delete_as(struct broker *b, const char *sess, int seq)
{
	char j[512];
	snprintf(j, sizeof(j),
	         "{\"op\":\"delete_message\",\"frontend\":\"fe\",\"session\":\"%s\","
	         "\"room_id\":\"room1\",\"seq\":%d}",
	         sess, seq);
	return err_of(b, j);
}

/* A member deletes its own messages (sent with its token subject, in the ring or in the store)
 * and no one else's; a member without a subject deletes none (docs/moderation.md). */
static void
test_a_member_deletes_its_own_messages(void **state)
{
	(void)state;
	struct broker *b = mk_stored(3);

	assert_string_equal(err_of(b, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i1\"}"), "ok");
	join_sub(b, "s1", "room1", "alice", "u-alice"); /* seq 1 (the ring holds 3) */
	join_sub(b, "s2", "room1", "eve", "u-eve");     /* seq 2 */
	join_sub(b, "s3", "room1", "anon", NULL);       /* seq 3 */
	assert_string_equal(send_as(b, "s1", "a1"), "ok"); /* seq 4: alice's */
	assert_string_equal(send_as(b, "s3", NULL), "ok"); /* seq 5: anon's */
	assert_string_equal(send_as(b, "s2", NULL), "ok"); /* seq 6: eve's */

	/* Someone else's message, with or without a subject: forbidden, and nothing changes. */
	hooks[0] = '\0';
	nevents = 0;
	assert_string_equal(delete_as(b, "s2", 4), "forbidden");
	assert_string_equal(delete_as(b, "s1", 5), "forbidden");
	/* Without a subject, not even one's own. */
	assert_string_equal(delete_as(b, "s3", 5), "forbidden");
	assert_string_equal(hooks, "");
	assert_int_equal(nevents, 0);
	/* A notice (seq 3, anon's join) is no message, whoever asks. */
	assert_string_equal(delete_as(b, "s1", 3), "no_such_message");

	/* Her own: deleted as a moderator's delete would, with her as "by" and in the trail. */
	assert_string_equal(delete_as(b, "s1", 4), "ok");
	assert_non_null(strstr(hooks, "redact room1 4 "));
	assert_non_null(strstr(hooks, "\"action\":\"delete_message\",\"actor\":{\"name\":\"alice\","
	                              "\"subject\":\"u-alice\",\"admin\":false,\"via\":\"ws\"}"));
	assert_int_equal(nevents, 1);
	assert_non_null(strstr(events[0].json, "\"deleted_seq\":4,\"by\":\"alice\""));
	/* Deleted is deleted. */
	assert_string_equal(delete_as(b, "s1", 4), "no_such_message");

	/* Seq 1 of the store is bob's (u-bob): a member with that subject, under any nickname,
	 * deletes it; alice may not. */
	assert_string_equal(delete_as(b, "s1", 1), "forbidden");
	join_sub(b, "s4", "room1", "robert", "u-bob");
	hooks[0] = '\0';
	assert_string_equal(delete_as(b, "s4", 1), "ok");
	assert_non_null(strstr(hooks, "redact room1 1 "));
	broker_destroy(b);
}

static void
test_tick_sweeps_ended_bans(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	assert_string_equal(err_of(b, "{\"op\":\"ban\",\"room_id\":\"room1\"," ADMIN
	                              ",\"user\":\"a\",\"duration_s\":1}"),
	                    "ok");
	assert_string_equal(err_of(b, "{\"op\":\"mute\",\"room_id\":\"room2\"," ADMIN
	                              ",\"user\":\"a\",\"duration_s\":5}"),
	                    "ok");
	assert_string_equal(err_of(b, "{\"op\":\"ban\",\"room_id\":\"room3\"," ADMIN ",\"user\":\"a\"}"),
	                    "ok");
	cJSON *r = req(b, "{\"op\":\"stats\"}");
	assert_int_equal(cJSON_GetObjectItem(r, "bans")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(r, "mutes")->valueint, 1);
	cJSON_Delete(r);
	/* Nobody looks them up: the tick removes the ended ones, and only those. */
	broker_tick(b, WALL_MS + 2000, now_ms);
	broker_tick(b, WALL_MS + 2000, now_ms);
	r = req(b, "{\"op\":\"stats\"}");
	assert_int_equal(cJSON_GetObjectItem(r, "bans")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(r, "mutes")->valueint, 1);
	cJSON_Delete(r);
	broker_tick(b, WALL_MS + 6000, now_ms);
	broker_tick(b, WALL_MS + 6000, now_ms);
	r = req(b, "{\"op\":\"stats\"}");
	assert_int_equal(cJSON_GetObjectItem(r, "mutes")->valueint, 0);
	cJSON_Delete(r);
	broker_destroy(b);
}

static void
test_restore_takes_back_settings_and_restrictions(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	static const char meta[] =
	    "{\"owner\":\"u-1\",\"moderators\":[\"u-2\"],\"moderators_may_ban\":true,\"slow_mode_s\":7}";
	assert_int_equal(broker_restore_room_meta(b, "room1", meta, strlen(meta)), 0);
	static const char ban[] = "{\"user\":\"Bob\",\"subject\":null,\"addr\":\"10.1.1.1\",\"until_ms\":0,"
	                          "\"time_ms\":1,\"by\":\"admin\",\"note\":\"spam\"}";
	assert_int_equal(broker_restore_restriction(b, "room1", "ban", ban, strlen(ban)), 0);
	static const char ended[] = "{\"user\":null,\"subject\":\"u-9\",\"addr\":null,\"until_ms\":5,"
	                            "\"time_ms\":1,\"by\":\"admin\",\"note\":null}";
	assert_int_equal(broker_restore_restriction(b, "room1", "mute", ended, strlen(ended)), 0);
	static const char bad[] = "{\"user\":null,\"subject\":null,\"until_ms\":0,\"time_ms\":1}";
	assert_int_equal(broker_restore_restriction(b, "room1", "ban", bad, strlen(bad)), -1);
	assert_int_equal(broker_restore_restriction(b, "room1", "kick", ban, strlen(ban)), -1);
	assert_int_equal(broker_restore_restriction(b, "nope", "ban", ban, strlen(ban)), -1);
	assert_int_equal(broker_restore_room_meta(b, "room1", "{\"owner\":\"\"}", 12), -1);
	assert_int_equal(broker_restore_room_meta(b, "room1", "[", 1), -1);

	cJSON *r = req(b, "{\"op\":\"get_room\",\"room_id\":\"room1\"}");
	char *m = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "room"), "moderation"));
	assert_string_equal(m, meta);
	free(m);
	cJSON_Delete(r);
	assert_string_equal(err_of(b, "{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i1\"}"), "ok");
	assert_string_equal(err_of(b, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":"
	                              "\"room1\",\"user\":\"x\",\"addr\":\"10.1.1.1\"}"),
	                    "banned");
	assert_string_equal(err_of(b, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":"
	                              "\"room1\",\"user\":\"BOB\",\"subject\":\"u-5\"}"),
	                    "banned");
	r = req(b, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\","
	           "\"user\":\"mo\",\"subject\":\"u-2\"}");
	assert_string_equal(wire_str(r, "role", NULL), "moderator");
	assert_int_equal(cJSON_GetObjectItem(r, "slow_mode_s")->valueint, 7);
	cJSON_Delete(r);
	r = req(b, "{\"op\":\"stats\"}");
	assert_int_equal(cJSON_GetObjectItem(r, "mutes")->valueint, 0); /* the ended one */
	cJSON_Delete(r);
	broker_destroy(b);
}

/* broker_handle at wall clock wall_ms, the reply's error code or "ok". */
static const char *
err_at(struct broker *b, const char *json, int64_t wall_ms)
{
	static char code[64];
	struct sbuf out;
	const char *why;

	sbuf_init(&out);
	broker_handle(b, json, strlen(json), wall_ms, now_ms, &out);
	cJSON *r = wire_parse_object(out.data, out.len, 1u << 20, &why);
	assert_non_null(r);
	snprintf(code, sizeof(code), "%s", wire_str(r, "error", NULL) ? wire_str(r, "error", NULL) : "ok");
	cJSON_Delete(r);
	sbuf_fini(&out);
	return code;
}

static void
test_ban_list_is_newest_first(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	static const char *const users[] = {"b", "a", "d", "c"};
	static const int64_t at[] = {WALL_MS - 3000, WALL_MS - 1000, WALL_MS - 1000, WALL_MS - 2000};
	char j[256];
	for (int i = 0; i < 4; i++) {
		snprintf(j, sizeof(j), "{\"op\":\"ban\",\"room_id\":\"room1\"," ADMIN ",\"user\":\"%s\"}",
		         users[i]);
		assert_string_equal(err_at(b, j, at[i]), "ok");
	}
	cJSON *r = req(b, "{\"op\":\"list_bans\",\"room_id\":\"room1\"," ADMIN "}");
	cJSON *it;
	char order[16] = "";
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, "bans")) strcat(order, wire_str(it, "user", NULL));
	assert_string_equal(order, "adcb"); /* same time: by key */
	cJSON_Delete(r);
	broker_destroy(b);
}

/* A member keeps its folded nickname apart only when it differs from the nickname: both
 * ways, uniqueness is decided on the folded one and events carry the nickname as given. */
static void
test_folded_nickname_decides_uniqueness(void **state)
{
	(void)state;
	struct broker *b = mk(100, 10, 100);
	static const char join2[] = "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s2\","
	                            "\"room_id\":\"room1\",\"user\":\"alice\"}";

	hello_join(b, "s1", "room1", "Alice");
	assert_non_null(strstr(events[0].json, "\"user\":\"Alice\""));
	assert_string_equal(err_of(b, join2), "nickname_taken");
	assert_string_equal(
	    err_of(b, "{\"op\":\"leave\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\"}"),
	    "ok");
	assert_string_equal(err_of(b, join2), "ok"); /* folded and given alike: kept once */
	assert_string_equal(err_of(b, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s3\","
	                              "\"room_id\":\"room1\",\"user\":\"ALICE\"}"),
	                    "nickname_taken");
	broker_destroy(b);
}

/* A room of up to ROOM_SCAN_MAX members has no hash table and finds a member by a walk; past
 * that it builds one, and frees it when it is back to half: at every size, each member is
 * found by its folded nickname, and a taken one is refused. */
static void
test_small_rooms_find_members_without_a_table(void **state)
{
	(void)state;
	enum { N = 40 };
	struct broker *b = mk(100, 1000, 100);
	struct room *r = room_get(b, "room1");
	char j[256], key[16];

	assert_non_null(r);
	for (int n = 1; n <= N; n++) {
		hello_join(b, (snprintf(key, sizeof(key), "s%d", n), key), "room1",
		           (snprintf(j, sizeof(j), "User%d", n), j));
		assert_int_equal(r->nmembers, n);
		assert_true((r->members.cap > 0) == (n > ROOM_SCAN_MAX));
		for (int k = 1; k <= n; k++) {
			snprintf(key, sizeof(key), "user%d", k);
			assert_non_null(room_member_find(r, key));
			assert_string_equal(member_key(room_member_find(r, key)), key);
		}
		snprintf(key, sizeof(key), "user%d", n + 1);
		assert_null(room_member_find(r, key));
		snprintf(j, sizeof(j),
		         "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"x\","
		         "\"room_id\":\"room1\",\"user\":\"USER%d\"}",
		         n);
		assert_string_equal(err_of(b, j), "nickname_taken");
	}
	for (int n = N; n >= 1; n--) { /* the oldest leave first: members_v is swap-removed */
		int gone = N - n + 1;
		snprintf(j, sizeof(j),
		         "{\"op\":\"leave\",\"frontend\":\"fe\",\"session\":\"s%d\","
		         "\"room_id\":\"room1\"}",
		         gone);
		assert_string_equal(err_of(b, j), "ok");
		assert_int_equal(r->nmembers, n - 1);
		/* Built past 16, kept down to 9, gone at 8 and below. */
		assert_true((r->members.cap > 0) == (n - 1 > ROOM_SCAN_MAX / 2));
		snprintf(key, sizeof(key), "user%d", gone);
		assert_null(room_member_find(r, key));
		for (int k = gone + 1; k <= N; k++) {
			snprintf(key, sizeof(key), "user%d", k);
			assert_non_null(room_member_find(r, key));
		}
	}
	broker_destroy(b);
}

/* Issue 22 counts a member's bytes: its identity lives in names[] (the nickname once when it is
 * its own folded form), its flags in bits, its offsets in 16 bits. */
static void
test_member_stays_small(void **state)
{
	(void)state;
	assert_true(sizeof(struct member) <= 40);
	/* A session of madang-ws (a 32-digit id, packed, and its NUL) fits a 40-byte item. */
	assert_true(offsetof(struct session, key) + SESSION_PACKED + 1 <= 40);
}

static int count_probes(void);

/* Ids of 32 lowercase hex digits (madang-ws's) are kept packed: found by the id, given back
 * as it came (in the events that name a session), each its own. Others are kept as text. */
static void
test_session_ids_are_packed(void **state)
{
	(void)state;
	static const char ws_id[] = "0123456789abcdef0123456789abcdef";
	static const char *as_text[] = {"0123456789ABCDEF0123456789abcdef",
	                                "0123456789abcdef0123456789abcde",
	                                "0123456789abcdef0123456789abcdef0", "s1", "g123456789abcdef0123456789abcdef"};
	char buf[MADANG_SESSION_MAX + 1], id[33];
	struct broker *b = mk(10, 100, 10);

	hello_join(b, ws_id, "room1", "alice");
	struct frontend *fe = fe_get(b, "fe");
	struct session *s = sess_get(fe, ws_id);
	assert_non_null(s);
	assert_true((unsigned char)s->key[0] & 0x80);
	assert_int_equal(strlen(s->key), SESSION_PACKED);
	assert_string_equal(sess_id(s, buf), ws_id);
	if (slab_owns(s))
		assert_int_equal(slab_item_size(s), 40);
	/* A newcomer wants the nickname: the probe names the holder's session by its id. */
	nevents = 0;
	assert_string_equal(err_of(b, "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s2\","
	                              "\"room_id\":\"room1\",\"user\":\"alice\"}"),
	                    "nickname_taken");
	assert_int_equal(count_probes(), 1);
	assert_non_null(strstr(events[nevents - 1].json, "\"session\":\"0123456789abcdef0123456789abcdef\""));
	/* Every bit counts: ids one digit apart, and at both ends of the range. */
	for (int i = 0; i < 2000; i++) {
		for (int d = 0; d < 32; d++)
			id[d] = "0123456789abcdef"[(i * 7 + d * (i % 13 + 1) + (d == i % 32 ? i : 0)) % 16];
		if (i == 0)
			memset(id, '0', 32);
		if (i == 1)
			memset(id, 'f', 32);
		id[32] = '\0';
		struct session *t = sess_get_or_create(b, fe, id), *u;
		assert_non_null(t);
		assert_true((unsigned char)t->key[0] & 0x80);
		assert_string_equal(sess_id(t, buf), id);
		assert_ptr_equal(sess_get(fe, id), t);
		id[i % 32] = id[i % 32] == '0' ? '1' : '0';
		u = sess_get(fe, id);
		assert_true(u == NULL || (u == s && strcmp(id, ws_id) == 0)); /* no other's */
		if (t != s)
			sess_release_if_empty(b, t);
	}
	for (size_t i = 0; i < sizeof(as_text) / sizeof(as_text[0]); i++) {
		struct session *t = sess_get_or_create(b, fe, as_text[i]);
		assert_non_null(t);
		assert_string_equal(t->key, as_text[i]);
		assert_string_equal(sess_id(t, buf), as_text[i]);
		assert_ptr_equal(sess_get(fe, as_text[i]), t);
		sess_release_if_empty(b, t);
		assert_null(sess_get(fe, as_text[i]));
	}
	broker_destroy(b);
}

/* A room is sized to its id: one of 64 bytes is kept whole and found by it. */
static void
test_room_id_of_64_bytes(void **state)
{
	(void)state;
	struct broker *b = mk(100, 1000, 100);
	char id[MADANG_ROOM_ID_MAX + 1], err[128];

	memset(id, 'z', MADANG_ROOM_ID_MAX);
	id[MADANG_ROOM_ID_MAX] = '\0';
	assert_int_equal(broker_add_room(b, id, "Long", err, sizeof(err)), 0);
	assert_non_null(room_get(b, id));
	assert_string_equal(room_get(b, id)->id, id);
	hello_join(b, "s1", id, "alice");
	assert_int_equal(room_get(b, id)->nmembers, 1);
	broker_destroy(b);
}

/* A room's history ring and its members array grow by half, not by doubling: after ten joins
 * a room of ten keeps 12 slots of each (finding 33), and both go on growing past that. */
static void
test_room_arrays_grow_by_half(void **state)
{
	(void)state;
	struct broker *b = mk(100, 1000, 100);
	struct room *r = room_get(b, "room1");
	char sid[16], user[16];
	size_t ring[41], members[41];

	assert_non_null(r);
	for (int n = 1; n <= 40; n++) {
		snprintf(sid, sizeof(sid), "s%d", n);
		snprintf(user, sizeof(user), "user%d", n);
		hello_join(b, sid, "room1", user);
		ring[n] = r->ring_alloc;
		members[n] = r->members_cap;
		assert_true(r->ring_len <= r->ring_alloc && r->nmembers <= r->members_cap);
	}
	assert_int_equal(r->ring_len, 40);
	assert_int_equal(ring[4], 4);
	assert_int_equal(ring[5], 8);
	assert_int_equal(ring[10], 12);
	assert_int_equal(ring[13], 18);
	assert_int_equal(ring[40], 40);
	assert_int_equal(members[8], 8);
	assert_int_equal(members[10], 12);
	assert_int_equal(members[13], 18);
	assert_int_equal(members[40], 40);
	/* Every join is still in the ring, oldest first. */
	for (size_t i = 0; i < r->ring_len; i++)
		assert_int_equal(room_hist_at(r, i)->seq, room_first_seq(r) + i);
	broker_destroy(b);
}

static int
count_probes(void)
{
	int n = 0;
	for (int i = 0; i < nevents; i++)
		if (strstr(events[i].json, "\"type\":\"probe\"") != NULL)
			n++;
	return n;
}

/* A join that finds its nickname taken has the holder's front-end probe it, at most once per
 * BROKER_PROBE_MS, and says when the name may be free. The probe time is kept as 32 bits of
 * ms: across 2^32 ms it still counts the window right. */
static void
test_probe_at_most_once_per_window(void **state)
{
	(void)state;
	static const char j2[] = "{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s2\","
	                         "\"room_id\":\"room1\",\"user\":\"alice\"}";
	uint64_t saved = now_ms;
	struct broker *b = mk(10, 100, 10);

	hello_join(b, "s1", "room1", "alice");
	for (int round = 0; round < 3; round++) {
		/* Round 1 probes 1,000 ms before 2^32 ms, its window ending past it; round 2
		 * probes past 2^32 ms. */
		static const uint64_t at[] = {5000000, (UINT64_C(1) << 32) - 1000,
		                              (UINT64_C(1) << 32) + 100000};
		now_ms = at[round];
		int before = count_probes();
		cJSON *r = req(b, j2);
		assert_string_equal(wire_str(r, "error", NULL), "nickname_taken");
		assert_non_null(strstr(wire_str(r, "message", NULL), "within 4 s"));
		cJSON_Delete(r);
		assert_int_equal(count_probes(), before + 1);
		now_ms += 2500;
		r = req(b, j2);
		assert_non_null(strstr(wire_str(r, "message", NULL), "within 2 s"));
		cJSON_Delete(r);
		now_ms += 1499; /* 3,999 ms after the probe: none again */
		assert_string_equal(err_of(b, j2), "nickname_taken");
		assert_int_equal(count_probes(), before + 1);
		now_ms += 1;
		assert_string_equal(err_of(b, j2), "nickname_taken");
		assert_int_equal(count_probes(), before + 2);
	}
	broker_destroy(b);
	now_ms = saved;
}

/* What lasts as long as a member or a room is in slabs (docs/performance.md, finding 34):
 * sessions, members, rooms and their strings, arrays and history records. Every item goes back
 * when the broker does. With MADANG_SLAB=off (the sanitizer suite) all of it is malloc's. */
static void
test_state_lives_in_slabs(void **state)
{
	(void)state;
	struct broker_config cfg;
	struct slab_stats before, after;

	broker_config_defaults(&cfg);
	cfg.allow_create = true;
	slab_stats(&before);
	struct broker *b = broker_create(&cfg, "00112233aabbccdd", record, NULL);
	assert_non_null(b);
	hello_join(b, "s1", "made-by-a-join", "alice");
	hello_join(b, "s1", "made-by-another", "alice"); /* a second room: the array of memberships */
	hello_join(b, "s2", "made-by-a-join", "bob");
	struct room *r = room_get(b, "made-by-a-join");
	assert_non_null(r);
	assert_true(r->ephemeral);
	struct session *s = sess_get(fe_get(b, "fe"), "s1");
	assert_non_null(s);
	assert_int_equal(s->nrooms, 2);
	slab_stats(&after);
	bool on = after.reserved != 0;
	const void *items[] = {s,          sess_rooms(s),      sess_rooms(s)[0],   r,
	                       r->name,    r->name_key,        r->creator_addr,    r->creator_user,
	                       r->ring,    room_hist_at(r, 0)->rec, r->members_v};
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		assert_non_null(items[i]);
		if (slab_owns(items[i]) != on)
			fail_msg("item %zu: %s", i, on ? "not in a slab" : "in a slab with MADANG_SLAB=off");
	}
	if (on)
		assert_true(after.items >= before.items + sizeof(items) / sizeof(items[0]));
	/* 31 bytes before a member's names: a nickname of 6 bytes and an IPv4 address take 48. */
	assert_int_equal(offsetof(struct member, names), 31);
	broker_destroy(b);
	slab_stats(&after);
	assert_int_equal(after.items, before.items);
}

int
main(void)
{
	log_init("test", LOG_LVL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_event_is_exact),
		cmocka_unit_test(test_notices_follow_the_configured_language),
		cmocka_unit_test(test_message_event_escapes_text),
		cmocka_unit_test(test_duplicate_detection_ends_with_the_history_window),
		cmocka_unit_test(test_history_ring_grows_then_wraps),
		cmocka_unit_test(test_history_gives_back_what_was_published),
		cmocka_unit_test(test_history_keeps_its_epoch_across_a_new_one),
		cmocka_unit_test(test_silent_frontend_expires_at_the_timeout),
		cmocka_unit_test(test_stall_gives_frontends_a_fresh_timeout),
		cmocka_unit_test(test_tiny_timeout_still_expires),
		cmocka_unit_test(test_room_full_and_too_many_rooms),
		cmocka_unit_test(test_small_rooms_find_members_without_a_table),
		cmocka_unit_test(test_rooms_file_is_checked),
		cmocka_unit_test(test_hello_of_a_new_instance_expires_the_old_one),
		cmocka_unit_test(test_counts_follow_joins_and_leaves),
		cmocka_unit_test(test_session_in_many_rooms),
		cmocka_unit_test(test_store_hooks_follow_moderation),
		cmocka_unit_test(test_delete_redacts_the_ring_and_the_store),
		cmocka_unit_test(test_a_member_deletes_its_own_messages),
		cmocka_unit_test(test_tick_sweeps_ended_bans),
		cmocka_unit_test(test_restore_takes_back_settings_and_restrictions),
		cmocka_unit_test(test_ban_list_is_newest_first),
		cmocka_unit_test(test_folded_nickname_decides_uniqueness),
		cmocka_unit_test(test_member_stays_small),
		cmocka_unit_test(test_room_arrays_grow_by_half),
		cmocka_unit_test(test_room_id_of_64_bytes),
		cmocka_unit_test(test_state_lives_in_slabs),
		cmocka_unit_test(test_probe_at_most_once_per_window),
		cmocka_unit_test(test_session_ids_are_packed),
	};
	return cmocka_run_group_tests_name("broker core", tests, NULL, NULL);
}
