/* test_broker_hist.c — the broker's packed history records (broker/hist.c): whatever text goes
 * in comes back byte for byte, and the standard head is what gets left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/hist.h"
#include "clock.h"

#define ROOM  "room1"
#define EPOCH "00112233aabbccdd"
#define HEAD                                                                       \
	"{\"type\":\"join\",\"room_id\":\"" ROOM "\",\"seq\":7,\"epoch\":\"" EPOCH \
	"\",\"time\":\"2026-11-22T03:06:46.123Z\","
/* The head with another time. */
#define HEAD_AT(t)                                                                 \
	"{\"type\":\"join\",\"room_id\":\"" ROOM "\",\"seq\":7,\"epoch\":\"" EPOCH \
	"\",\"time\":\"" t "\","
#define JOIN                                                                 \
	HEAD "\"user\":\"alice\",\"sender\":\"system\",\"message\":\"alice " \
	     "joined\",\"users_count\":1}"

/* Packs text as seq 7 of ROOM under EPOCH, checks it renders back exactly, returns the bytes. */
static size_t
round_trip(const char *text, size_t len, const char *user_key, const char *client_id)
{
	struct hist_ev ev;
	struct sbuf out;

	assert_int_equal(hist_make(&ev, 7, ROOM, EPOCH, text, len, user_key, client_id, NULL), 0);
	assert_int_equal(ev.seq, 7);
	assert_int_equal(hist_len(&ev), len);
	sbuf_init(&out);
	hist_render(&ev, ROOM, EPOCH, &out);
	assert_false(out.oom);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, text, len);
	sbuf_fini(&out);
	size_t n = hist_bytes(&ev);
	hist_free(&ev);
	assert_null(ev.rec);
	return n;
}

/* The head of an event of this room, seq and epoch is left out: a join notice keeps less than
 * its tail and a few bytes more. */
static void
test_standard_head_is_left_out(void **state)
{
	(void)state;
	size_t n = round_trip(JOIN, strlen(JOIN), NULL, NULL);
	assert_true(n < strlen(JOIN) - strlen(HEAD) + 40);
}

/* Texts whose head is not exactly that of (ROOM, 7, EPOCH) are kept whole. */
static void
test_other_texts_are_kept_whole(void **state)
{
	(void)state;
	static const char *const whole[] = {
	    /* another seq, room, epoch */
	    "{\"type\":\"join\",\"room_id\":\"room1\",\"seq\":8,\"epoch\":\"" EPOCH
	    "\",\"time\":\"t\",\"a\":1}",
	    "{\"type\":\"join\",\"room_id\":\"room12\",\"seq\":7,\"epoch\":\"" EPOCH
	    "\",\"time\":\"t\",\"a\":1}",
	    "{\"type\":\"join\",\"room_id\":\"room1\",\"seq\":7,\"epoch\":\"00112233aabbccde\","
	    "\"time\":\"t\",\"a\":1}",
	    "{\"type\":\"join\",\"room_id\":\"room1\",\"seq\":70,\"epoch\":\"" EPOCH
	    "\",\"time\":\"t\",\"a\":1}",
	    /* an escape in the type or the time, nothing after the time, another key order */
	    "{\"type\":\"jo\\\"in\",\"room_id\":\"room1\",\"seq\":7,\"epoch\":\"" EPOCH
	    "\",\"time\":\"t\",\"a\":1}",
	    "{\"type\":\"join\",\"room_id\":\"room1\",\"seq\":7,\"epoch\":\"" EPOCH
	    "\",\"time\":\"t\\u0041\",\"a\":1}",
	    "{\"type\":\"join\",\"room_id\":\"room1\",\"seq\":7,\"epoch\":\"" EPOCH
	    "\",\"time\":\"t\"}",
	    "{\"room_id\":\"room1\",\"type\":\"join\",\"seq\":7,\"epoch\":\"" EPOCH
	    "\",\"time\":\"t\",\"a\":1}",
	    /* a type longer than a packed record keeps, cut texts, not JSON at all */
	    "{\"type\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"room_id\":\"room1\",\"seq\":7,"
	    "\"epoch\":\"" EPOCH "\",\"time\":\"t\",\"a\":1}",
	    "{\"type\":\"join\",\"room_id\":\"room1\",\"seq\":7,\"epoch\":\"" EPOCH
	    "\",\"time\":\"t",
	    "{\"type\":\"join\",\"room_id\":\"roo",
	    "",
	    "[]",
	};
	for (size_t i = 0; i < sizeof(whole) / sizeof(*whole); i++) {
		size_t len = strlen(whole[i]);
		assert_true(round_trip(whole[i], len, NULL, NULL) > len);
	}
	/* A NUL after a standard head: kept whole, and given back with it. */
	char nul[] = HEAD "\"a\":\"x\0y\"}";
	assert_true(round_trip(nul, sizeof(nul) - 1, NULL, NULL) > sizeof(nul) - 1);
	/* The same head, the same text: packed (the control for the cases above). */
	static const char packed[] =
	    "{\"type\":\"join\",\"room_id\":\"room1\",\"seq\":7,\"epoch\":\"" EPOCH
	    "\",\"time\":\"t\",\"a\":1}";
	assert_true(round_trip(packed, strlen(packed), NULL, NULL) < strlen(packed));
}

/* The rest of a notice is coded: its keys and texts take a byte each, in both languages, and
 * what is not in the dictionary (a nickname, a count, escapes, other keys) stays as it is. */
static void
test_notices_are_coded(void **state)
{
	(void)state;
	static const char *const texts[] = {
	    HEAD "\"user\":\"alice\",\"sender\":\"시스템\",\"message\":\"alice님이 입장했습니다.\","
	         "\"users_count\":12}",
	    HEAD "\"user\":\"alice\",\"sender\":\"시스템\",\"message\":\"alice님이 퇴장했습니다.\","
	         "\"users_count\":0,\"reason\":\"disconnected\"}",
	    HEAD
	    "\"user\":\"bob\",\"sender\":\"system\",\"message\":\"bob was banned\","
	    "\"users_count\":3,\"reason\":\"ban\",\"by\":\"carol\",\"note\":\"spam \\\"x\\\"\"}",
	    HEAD "\"sender\":\"bob\",\"message\":\"hi \\u0001 there\",\"client_id\":\"c-1\"}",
	    /* entries cut short at the end, or next to each other */
	    HEAD "\"a\":\"disconnecte",
	    HEAD "\"a\":\"systemsystem joined joined\"}",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		size_t len = strlen(texts[i]);
		size_t n = round_trip(texts[i], len, NULL, NULL);
		if (i < 3) /* the notices: smaller than their rest alone */
			assert_true(n < len - strlen(HEAD));
	}
	/* A join notice keeps, besides the record's 6 bytes (its type among them), its time in 6,
	 * its nickname twice and its count: the rest of its 96 bytes in 8, one per dictionary
	 * entry and its closing brace. With a nickname of up to 9 bytes that is at most 40: a
	 * 48-byte chunk of malloc's (finding 33). */
	size_t n = round_trip(texts[0], strlen(texts[0]), NULL, NULL);
	assert_int_equal(n, 6 + 6 + 2 * strlen("alice") + strlen("12") + 8);
	/* A rest with a byte below 0x20 as itself (not JSON as the broker writes it, but it
	 * comes back byte for byte) is kept as it is. */
	char ctl[] = HEAD "\"user\":\"a\x01\x1f\",\"sender\":\"system\"}";
	size_t kept = round_trip(ctl, strlen(ctl), NULL, NULL);
	assert_true(kept > strlen(ctl) - strlen(HEAD));
}

/* A rest of up to HIST_CODE_MAX bytes is coded; a longer one is kept as it is. Both come back
 * byte for byte. */
static void
test_a_long_rest_is_kept_as_it_is(void **state)
{
	static const char pre[] = HEAD "\"sender\":\"system\",\"message\":\"";
	size_t head = strlen(HEAD);

	(void)state;
	for (size_t rest = HIST_CODE_MAX - 1; rest <= HIST_CODE_MAX + 1; rest++) {
		size_t len = head + rest;
		char *text = malloc(len + 1);
		assert_non_null(text);
		memcpy(text, pre, sizeof(pre) - 1);
		memset(text + sizeof(pre) - 1, 'a', len - (sizeof(pre) - 1) - 2);
		memcpy(text + len - 2, "\"}", 3);
		size_t n = round_trip(text, len, NULL, NULL);
		if (rest <= HIST_CODE_MAX)
			assert_true(n < rest); /* two keys and "system" as a byte each */
		else
			assert_true(n > rest);
		free(text);
	}
}

/* An event whose time is the text clock_iso8601 writes keeps it as 6 bytes of milliseconds
 * and renders it back the same, over the whole range (1970 to 9999, leap days, the last
 * millisecond of a year); any other time text (no milliseconds, a day that does not exist,
 * before 1970, another letter or digit count) is kept as text, and comes back as it was. */
static void
test_times_are_kept_as_milliseconds(void **state)
{
	static const int64_t ms[] = {
	    0,
	    1,
	    86399999,
	    951782400000,    /* 2000-02-29T00:00:00.000Z */
	    4107456000000,   /* 2100-02-28T00:00:00.000Z */
	    1795316806123,   /* 2026-11-22T03:06:46.123Z */
	    1735689599999,   /* 2024-12-31T23:59:59.999Z */
	    253402300799999, /* 9999-12-31T23:59:59.999Z */
	};
	static const char *const texts[] = {
	    "2026-11-22T03:06:46Z",     "2026-02-29T03:06:46.123Z", "2026-02-30T03:06:46.123Z",
	    "1969-12-31T23:59:59.999Z", "2026-11-22T03:06:46.123z", "2026-11-22 03:06:46.123Z",
	    "2026-13-01T00:00:00.000Z", "2026-11-22T24:00:00.000Z", "2026-11-22T03:60:00.000Z",
	    "2026-11-22T03:06:60.000Z", "2026-11-22T03:06:46.1234Z", "2100-02-29T00:00:00.000Z",
	    "+026-11-22T03:06:46.123Z", "2026-11-22T03:06:4a.123Z",
	};
	char iso[CLOCK_ISO8601_LEN], text[256];
	size_t base = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(ms) / sizeof(*ms); i++) {
		snprintf(text, sizeof(text),
		         "{\"type\":\"message\",\"room_id\":\"" ROOM "\",\"seq\":7,\"epoch\":\"" EPOCH
		         "\",\"time\":\"%s\",\"sender\":\"bob\",\"message\":\"hi\"}",
		         clock_iso8601(ms[i], iso));
		size_t n = round_trip(text, strlen(text), NULL, NULL);
		if (i == 0)
			base = n;
		assert_int_equal(n, base); /* 6 bytes, whatever the time */
	}
	/* Every 37 days and a bit, from 1970 to 2103: each month, leap years, day and hour. */
	for (int64_t t = 0; t < 4200000000000; t += 3217000001) {
		snprintf(text, sizeof(text),
		         HEAD_AT("%s") "\"user\":\"a\",\"sender\":\"system\",\"users_count\":1}",
		         clock_iso8601(t, iso));
		round_trip(text, strlen(text), NULL, NULL);
	}
	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		snprintf(text, sizeof(text),
		         "{\"type\":\"message\",\"room_id\":\"" ROOM "\",\"seq\":7,\"epoch\":\"" EPOCH
		         "\",\"time\":\"%s\",\"sender\":\"bob\",\"message\":\"hi\"}",
		         texts[i]);
		size_t n = round_trip(text, strlen(text), NULL, NULL);
		assert_true(n > base); /* its text, not 6 bytes */
	}
}

/* Duplicate detection keeps the sender's key and the client's id, only as a pair. */
static void
test_the_pair_is_kept_only_whole(void **state)
{
	(void)state;
	struct hist_ev ev;

	assert_int_equal(hist_make(&ev, 7, ROOM, EPOCH, JOIN, strlen(JOIN), "alice", "c-1", NULL),
	                 0);
	assert_string_equal(hist_user_key(&ev), "alice");
	assert_string_equal(hist_client_id(&ev), "c-1");
	size_t with = hist_bytes(&ev);
	hist_free(&ev);
	assert_int_equal(hist_make(&ev, 7, ROOM, EPOCH, JOIN, strlen(JOIN), "alice", NULL, NULL),
	                 0);
	assert_null(hist_user_key(&ev));
	assert_null(hist_client_id(&ev));
	assert_int_equal(hist_bytes(&ev), with - strlen("alice") - 1 - strlen("c-1") - 1);
	hist_free(&ev);
	/* Whole texts (here: seq 8 against the head's 7) keep the pair as well. */
	assert_int_equal(hist_make(&ev, 8, ROOM, EPOCH, JOIN, strlen(JOIN), "bob", "c-2", NULL), 0);
	assert_string_equal(hist_user_key(&ev), "bob");
	assert_string_equal(hist_client_id(&ev), "c-2");
	assert_true(hist_bytes(&ev) > strlen(JOIN) + strlen("bob") + strlen("c-2"));
	hist_free(&ev);
	assert_int_equal(round_trip(JOIN, strlen(JOIN), "bob", "c-2"),
	                 with - strlen("alice") + strlen("bob"));
}

/* ev renders back as JOIN, byte for byte. */
static void
renders_join(const struct hist_ev *ev)
{
	struct sbuf out;

	sbuf_init(&out);
	hist_render(ev, ROOM, EPOCH, &out);
	assert_int_equal(out.len, strlen(JOIN));
	assert_memory_equal(out.data, JOIN, out.len);
	sbuf_fini(&out);
}

/* The sender's subject is kept beside the pair or alone, and the text is unchanged by it. */
static void
test_the_subject_is_kept(void **state)
{
	(void)state;
	struct hist_ev ev;

	assert_int_equal(hist_make(&ev, 7, ROOM, EPOCH, JOIN, strlen(JOIN), "alice", "c-1", NULL),
	                 0);
	size_t without = hist_bytes(&ev);
	assert_null(hist_subject(&ev));
	hist_free(&ev);
	assert_int_equal(hist_make(&ev, 7, ROOM, EPOCH, JOIN, strlen(JOIN), "alice", "c-1", "u-42"),
	                 0);
	assert_string_equal(hist_subject(&ev), "u-42");
	assert_string_equal(hist_user_key(&ev), "alice");
	assert_string_equal(hist_client_id(&ev), "c-1");
	assert_int_equal(hist_bytes(&ev), without + strlen("u-42") + 1);
	renders_join(&ev);
	hist_free(&ev);
	/* Alone (a message without a client id), and with a text kept whole (seq 8). */
	assert_int_equal(hist_make(&ev, 8, ROOM, EPOCH, JOIN, strlen(JOIN), NULL, NULL, "u-42"), 0);
	assert_string_equal(hist_subject(&ev), "u-42");
	assert_null(hist_user_key(&ev));
	assert_null(hist_client_id(&ev));
	renders_join(&ev);
	hist_free(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_standard_head_is_left_out),
	    cmocka_unit_test(test_other_texts_are_kept_whole),
	    cmocka_unit_test(test_notices_are_coded),
	    cmocka_unit_test(test_a_long_rest_is_kept_as_it_is),
	    cmocka_unit_test(test_times_are_kept_as_milliseconds),
	    cmocka_unit_test(test_the_pair_is_kept_only_whole),
	    cmocka_unit_test(test_the_subject_is_kept),
	};
	return cmocka_run_group_tests_name("broker history records", tests, NULL, NULL);
}
