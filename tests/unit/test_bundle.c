/* test_bundle.c — unit tests for common/bundle: the broker's event bundle, written and read back,
 * and the reader's refusals (the malformed bundles of tests/hostile/events.test.mjs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bundle.h"
#include "limits.h"
#include "sbuf.h"

/* Reads body (what follows "b\n") and writes each event as "<room>:<json>|" into out. */
static void
read_all(const char *body, size_t len, char *out, size_t cap)
{
	struct bundle_reader rd;
	const char *room, *json;
	size_t rlen, jlen, used = 0;

	out[0] = '\0';
	bundle_reader_init(&rd, body, len);
	while (bundle_next(&rd, &room, &rlen, &json, &jlen)) {
		int n = snprintf(out + used, cap - used, "%.*s:%.*s|", (int)rlen, room, (int)jlen,
		                 json);
		assert_true(n > 0 && (size_t)n < cap - used);
		used += (size_t)n;
	}
}

static void
expect(const char *body, const char *want)
{
	char got[4096];

	read_all(body, strlen(body), got, sizeof(got));
	assert_string_equal(got, want);
}

static void
test_bundle_round_trip_keeps_rooms_and_order(void **state)
{
	(void)state;
	struct sbuf b;
	const char *p1 = "r/room1\n{\"seq\":1}\n{\"seq\":2}", *p2 = "r/room-2\n{\"seq\":7}";

	sbuf_init(&b);
	bundle_add_room(&b, p1, strlen(p1));
	bundle_add_room(&b, p2, strlen(p2));
	assert_false(b.oom);
	assert_int_equal(b.len, strlen("b\n") + strlen(p1) + 1 + strlen(p2));
	assert_memory_equal(b.data, "b\nr/room1\n{\"seq\":1}\n{\"seq\":2}\nr/room-2\n{\"seq\":7}",
	                    b.len);
	char got[256];
	read_all(b.data + 2, b.len - 2, got, sizeof(got));
	assert_string_equal(got, "room1:{\"seq\":1}|room1:{\"seq\":2}|room-2:{\"seq\":7}|");
	sbuf_fini(&b);
}

static void
test_bundle_fits_bounds_all_but_the_first_part(void **state)
{
	(void)state;
	struct sbuf b;

	sbuf_init(&b);
	assert_true(bundle_fits(&b, 1000, 10)); /* a single room's part may pass the bound */
	bundle_add_room(&b, "r/a\n{}", 6);      /* "b\nr/a\n{}": 8 bytes */
	assert_true(bundle_fits(&b, 6, 15));    /* 8 + '\n' + 6 = 15 */
	assert_false(bundle_fits(&b, 7, 15));
	sbuf_fini(&b);
}

static void
test_bundle_reader_events_share_their_room_pointer(void **state)
{
	(void)state;
	const char *body = "r/x\n{}\n{}\nr/x\n{}";
	struct bundle_reader rd;
	const char *room[3], *json;
	size_t rlen, jlen;

	bundle_reader_init(&rd, body, strlen(body));
	for (int i = 0; i < 3; i++)
		assert_true(bundle_next(&rd, &room[i], &rlen, &json, &jlen));
	assert_false(bundle_next(&rd, &room[0], &rlen, &json, &jlen));
	assert_ptr_equal(room[0], room[1]); /* one room line */
	assert_ptr_not_equal(room[1], room[2]);
}

/* The malformed bundles tests/hostile/events.test.mjs publishes to madang-ws. */
static void
test_bundle_reader_skips_what_madang_ws_refuses(void **state)
{
	(void)state;
	char id300[400], id65[100], body[600];

	memset(id300, 'x', 300);
	id300[300] = '\0';
	memset(id65, 'y', MADANG_ROOM_ID_MAX + 1);
	id65[MADANG_ROOM_ID_MAX + 1] = '\0';

	expect("", "");
	expect("\n\n", "");
	expect("{\"orphan\":1}", "");          /* an event before any room line */
	expect("r/\n{\"orphan\":1}", "");      /* an empty room id */
	expect("r\n{\"orphan\":1}", "");       /* no "r/" */
	expect("q/room1\n{\"orphan\":1}", ""); /* not a room line */
	snprintf(body, sizeof(body), "r/%s\n{\"orphan\":1}", id300);
	expect(body, ""); /* a room id too long */
	snprintf(body, sizeof(body), "r/%s\n{\"orphan\":1}", id65);
	expect(body, "");
	/* The longest id is taken. */
	snprintf(body, sizeof(body), "r/%.*s\n{}", MADANG_ROOM_ID_MAX, id65);
	char want[200];
	snprintf(want, sizeof(want), "%.*s:{}|", MADANG_ROOM_ID_MAX, id65);
	expect(body, want);
	/* A carriage return stays in the id (no room is named so: the caller finds none). */
	expect("r/room1\r\n{}", "room1\r:{}|");
	/* A bad room line ends the previous room: its events are skipped up to the next one. */
	expect("r/room1\n{\"a\":1}\nr/\n{\"b\":2}\nr/room2\n{\"c\":3}",
	       "room1:{\"a\":1}|room2:{\"c\":3}|");
	/* Lines that start with '{' are handed over unparsed: the caller refuses bad JSON. */
	expect("r/room1\n{not json", "room1:{not json|");
	/* A line not starting with '{' is a room line, so "[1,2,3]" ends the room. */
	expect("r/room1\n[1,2,3]\n{}", "");
	/* No newline at the end, and empty lines between, change nothing. */
	expect("r/room1\n\n{}\n\n", "room1:{}|");
}

static void
test_bundle_reader_stops_at_the_given_length(void **state)
{
	(void)state;
	const char body[] = "r/room1\n{}\n{\"past\":1}";
	char got[64];

	read_all(body, strlen("r/room1\n{}"), got, sizeof(got));
	assert_string_equal(got, "room1:{}|");
	/* A NUL byte is an ordinary byte: the line is handed over whole. */
	const char nul[] = "r/a\n{\0}";
	struct bundle_reader rd;
	const char *room, *json;
	size_t rlen, jlen;
	bundle_reader_init(&rd, nul, sizeof(nul) - 1);
	assert_true(bundle_next(&rd, &room, &rlen, &json, &jlen));
	assert_int_equal(jlen, 3);
	assert_false(bundle_next(&rd, &room, &rlen, &json, &jlen));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bundle_round_trip_keeps_rooms_and_order),
	    cmocka_unit_test(test_bundle_fits_bounds_all_but_the_first_part),
	    cmocka_unit_test(test_bundle_reader_events_share_their_room_pointer),
	    cmocka_unit_test(test_bundle_reader_skips_what_madang_ws_refuses),
	    cmocka_unit_test(test_bundle_reader_stops_at_the_given_length),
	};
	return cmocka_run_group_tests_name("bundle", tests, NULL, NULL);
}
