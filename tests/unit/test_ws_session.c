/* test_ws_session.c — madang-ws's per-connection bookkeeping kept small (issue 22): a member
 * shares its session's nickname string while the two are the same, and each keeps the right
 * name when either changes (the sanitizer suite runs this too: a double free or a read of a
 * freed name fails there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../ws-frontend/room.h"
#include "../../ws-frontend/session.h"

#define SID "00112233445566778899aabbccddeeff"

static void
test_member_shares_the_session_nickname(void **state)
{
	struct roomtab rt;
	struct ws_room *r1, *r2;
	struct ws_session *s = sess_new(SID, 4);
	struct ws_member *a, *b;

	(void)state;
	roomtab_init(&rt);
	r1 = roomtab_add(&rt, "room1");
	r2 = roomtab_add(&rt, "room2");
	assert_int_equal(sess_set_user(s, "alice"), 0);
	a = sess_member_add(s, r1, "alice");
	b = sess_member_add(s, r2, "bob"); /* another name in that room: a copy of its own */
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_equal(a->user, s->user);
	assert_true(a->user_shared);
	assert_false(b->user_shared);
	assert_string_equal(b->user, "bob");

	/* The session's nickname changes: the member keeps the name it joined with. */
	assert_int_equal(sess_set_user(s, "carol"), 0);
	assert_string_equal(s->user, "carol");
	assert_string_equal(a->user, "alice");
	assert_false(a->user_shared);

	sess_member_del(s, a);
	sess_member_del(s, b);
	roomtab_del(&rt, r1);
	roomtab_del(&rt, r2);
	sess_unref(s);
}

static void
test_member_rename_and_free_with_a_shared_name(void **state)
{
	struct roomtab rt;
	struct ws_room *r;
	struct ws_session *s = sess_new(SID, 4);
	struct ws_member *m;

	(void)state;
	roomtab_init(&rt);
	r = roomtab_add(&rt, "room1");
	assert_int_equal(sess_set_user(s, "Alice"), 0);
	m = sess_member_add(s, r, "Alice");
	assert_true(m->user_shared);
	/* The broker's canonical form: the member's own copy, the session's name unchanged. */
	assert_int_equal(sess_member_rename(m, "alice"), 0);
	assert_false(m->user_shared);
	assert_string_equal(m->user, "alice");
	assert_string_equal(s->user, "Alice");

	/* A session freed with a member that still shares its name frees the name once. */
	sess_member_del(s, m);
	m = sess_member_add(s, r, "Alice");
	assert_true(m->user_shared);
	roomtab_del(&rt, r);
	sess_unref(s); /* frees m too */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_member_shares_the_session_nickname),
	    cmocka_unit_test(test_member_rename_and_free_with_a_shared_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
