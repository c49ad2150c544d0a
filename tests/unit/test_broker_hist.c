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

#define ROOM  "room1"
#define EPOCH "00112233aabbccdd"
#define HEAD                                                                       \
	"{\"type\":\"join\",\"room_id\":\"" ROOM "\",\"seq\":7,\"epoch\":\"" EPOCH \
	"\",\"time\":\"2026-11-22T03:06:46.123Z\","
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
	/* A join notice keeps, besides the record's 8 bytes, its type and its time (5 and 25),
	 * its nickname twice and its count: the rest of its 96 bytes in 8, one per dictionary
	 * entry and its closing brace. */
	size_t n = round_trip(texts[0], strlen(texts[0]), NULL, NULL);
	assert_int_equal(n, 8 + 5 + 25 + 2 * strlen("alice") + strlen("12") + 8);
	/* A rest with a byte below 0x20 as itself (not JSON as the broker writes it, but it
	 * comes back byte for byte) is kept as it is. */
	char ctl[] = HEAD "\"user\":\"a\x01\x1f\",\"sender\":\"system\"}";
	size_t kept = round_trip(ctl, strlen(ctl), NULL, NULL);
	assert_true(kept > strlen(ctl) - strlen(HEAD));
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
	    cmocka_unit_test(test_the_pair_is_kept_only_whole),
	    cmocka_unit_test(test_the_subject_is_kept),
	};
	return cmocka_run_group_tests_name("broker history records", tests, NULL, NULL);
}
