/* test_ws_session.c — madang-ws's per-connection bookkeeping kept small (issue 22): a member
 * shares its session's nickname string while the two are the same, and each keeps the right
 * name when either changes (the sanitizer suite runs this too: a double free or a read of a
 * freed name fails there); the parts an idle connection does not use live in an extra part
 * that exists only while one of them is in use. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../ws-frontend/room.h"
#include "../../ws-frontend/session.h"
#include "slab.h"

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

/* What an idle connection holds stays small: the session without its extra part, with its
 * first room slot and flags as bits, fits a 168-byte slab item (it was 368 with the parts
 * below inside it, and a 32-byte malloc chunk for the slot; 240 with its resume, subject,
 * token expiry and private queue inside it and a pointer to its first slot, finding 33; 200
 * with its backlog's start, a link for the slow list, a head for its broker requests and
 * 64-bit keep-alive times, finding 34). */
static void
test_idle_session_is_small_and_has_no_extra(void **state)
{
	struct ws_session *s = sess_new(SID, 4);

	(void)state;
	assert_true(sizeof(struct ws_session) <= 168);
	assert_true(slab_owns(s));
	assert_int_equal(slab_item_size(s), 168);
	assert_null(s->oq);
	assert_null(s->who);
	assert_int_equal(sizeof(struct ws_frame), 8); /* each join event the room keeps */
	assert_non_null(s);
	assert_null(s->x);
	assert_null(sess_held(s));
	assert_null(sess_close_reason(s));
	sess_extra_trim(s); /* nothing to trim */
	assert_null(s->x);
	sess_unref(s);
}

/* Resume, subject and token expiry live in a part of their own, there only while one is set;
 * each can be set, replaced and cleared, and the part goes with the last of them. */
static void
test_who_part_is_there_only_while_set(void **state)
{
	struct ws_session *s = sess_new(SID, 4);
	struct slab_stats st0, st;

	(void)state;
	assert_non_null(s);
	slab_stats(&st0);
	assert_null(sess_resume(s));
	assert_null(sess_subject(s));
	assert_int_equal(sess_token_exp(s), 0);
	assert_int_equal(sess_set_resume(s, NULL), 0); /* clearing what is not there: no part */
	assert_int_equal(sess_set_token_exp(s, 0), 0);
	assert_null(s->who);

	assert_int_equal(sess_set_resume(s, "0123456789abcdef0123456789abcdef"), 0);
	assert_non_null(s->who);
	assert_string_equal(sess_resume(s), "0123456789abcdef0123456789abcdef");
	assert_int_equal(sess_set_subject(s, "user-1"), 0);
	assert_int_equal(sess_set_token_exp(s, 1795316866123), 0);
	assert_string_equal(sess_subject(s), "user-1");
	assert_int_equal(sess_token_exp(s), 1795316866123);
	assert_int_equal(sess_set_subject(s, "user-2"), 0); /* replaced */
	assert_string_equal(sess_subject(s), "user-2");
	slab_stats(&st);
	assert_int_equal(st.items, st0.items + 3); /* the part, the resume and the subject */

	assert_int_equal(sess_set_resume(s, NULL), 0);
	assert_int_equal(sess_set_subject(s, NULL), 0);
	assert_non_null(s->who); /* the expiry is still set */
	assert_int_equal(sess_token_exp(s), 1795316866123);
	assert_int_equal(sess_set_token_exp(s, 0), 0);
	assert_null(s->who);
	slab_stats(&st);
	assert_int_equal(st.items, st0.items);

	assert_int_equal(sess_set_subject(s, "user-3"), 0);
	sess_unref(s); /* frees the part with the session */
}

/* A membership is a 56-byte item: what a resuming join asks for (seq, epoch) is apart, set for
 * its pending join and gone once answered, or with the member. */
static void
test_member_keeps_its_resume_point_apart_while_joining(void **state)
{
	struct ws_session *s;
	struct roomtab rt;
	struct ws_room *r;
	struct ws_member *m;
	struct slab_stats st_start, st0, st;

	(void)state;
	slab_stats(&st_start);
	assert_non_null(s = sess_new(SID, 4));
	assert_true(sizeof(struct ws_member) <= 56);
	roomtab_init(&rt);
	r = roomtab_add(&rt, "room1");
	assert_non_null(m = sess_member_add(s, r, "alice"));
	assert_int_equal(slab_item_size(m), 56);
	assert_null(m->since);
	slab_stats(&st0);
	assert_int_equal(sess_member_since(m, 41, "00112233aabbccdd"), 0);
	assert_non_null(m->since);
	assert_int_equal(m->since->seq, 41);
	assert_string_equal(m->since->epoch, "00112233aabbccdd");
	assert_int_equal(sess_member_since(m, 7, "ffeeddccbbaa9988"), 0); /* set again: the same */
	assert_int_equal(m->since->seq, 7);
	assert_string_equal(m->since->epoch, "ffeeddccbbaa9988");
	slab_stats(&st);
	assert_int_equal(st.items, st0.items + 1);
	sess_member_since_clear(m);
	assert_null(m->since);
	slab_stats(&st);
	assert_int_equal(st.items, st0.items);
	sess_member_since_clear(m); /* none: nothing */
	assert_int_equal(sess_member_since(m, 1, "00112233aabbccdd"), 0);
	roomtab_del(&rt, r);
	sess_unref(s); /* frees m, its nickname and its resume point */
	slab_stats(&st);
	assert_int_equal(st.items, st_start.items);
}

/* The keep-alive times are the low 32 bits of monotonic ms: differences stay right across
 * 2^32 ms (49 days), and a time set after the sweep's now reads as negative. */
static void
test_keepalive_times_count_across_the_wrap(void **state)
{
	(void)state;
	const uint64_t wrap = UINT64_C(1) << 32;

	assert_int_equal(sess_ms_since((uint32_t)(wrap - 100), wrap + 172), 272);
	assert_int_equal(sess_ms_since((uint32_t)(5 * wrap + 7200000), 5 * wrap + 7200000), 0);
	assert_int_equal(sess_ms_since((uint32_t)(wrap + 50), wrap - 50), -100);
	assert_int_equal(sess_ms_since(1000, 1000 + 2 * 3600 * 1000), 7200000);
}

/* Held messages make the extra part; the last one taken off frees it again, and a hold that is
 * refused does not leave one behind. */
static void
test_extra_part_follows_the_held_messages(void **state)
{
	static char big[WS_HELD_BYTES_MAX + 1];
	struct ws_session *s = sess_new(SID, 4);
	struct ws_held *h;

	(void)state;
	assert_int_equal(sess_hold(s, NULL, big, sizeof(big)), -1); /* over WS_HELD_BYTES_MAX */
	assert_null(s->x);
	assert_int_equal(sess_hold(s, "room1", "a", 1), 0);
	assert_int_equal(sess_hold(s, "room1", "b", 1), 0);
	assert_non_null(s->x);
	assert_int_equal(s->x->held_n, 2);
	assert_memory_equal(sess_held(s)->buf, "a", 1);
	h = sess_unhold(s);
	free(h);
	assert_non_null(s->x); /* "b" is still held */
	h = sess_unhold(s);
	assert_memory_equal(h->buf, "b", 1);
	free(h);
	assert_null(s->x);
	assert_null(sess_unhold(s));
	sess_unref(s);
}

/* Each part in use keeps the extra part; trimming frees it only when none is. */
static void
test_extra_part_kept_while_any_part_is_used(void **state)
{
	struct ws_session *s = sess_new(SID, 4);
	struct ws_sess_extra *x;

	(void)state;
	x = sess_extra(s);
	assert_non_null(x);
	assert_ptr_equal(sess_extra(s), x); /* one per session */
	sess_extra_trim(s);
	assert_null(s->x);

	x = sess_extra(s);
	sbuf_add(&x->rx, "part", 4); /* a message being reassembled */
	sess_extra_trim(s);
	assert_ptr_equal(s->x, x);
	sbuf_fini(&x->rx);
	x->hist_init = true; /* a history budget being paid off */
	sess_extra_trim(s);
	assert_ptr_equal(s->x, x);
	x->hist_init = false;
	x->probe_until_ms = 5; /* a probe waiting for an answer */
	sess_extra_trim(s);
	assert_ptr_equal(s->x, x);
	x->probe_until_ms = 0;
	x->over_since_ms = 7; /* a backlog over --queue-limit, in its grace */
	sess_extra_trim(s);
	assert_ptr_equal(s->x, x);
	x->over_since_ms = 0;
	sess_extra_trim(s);
	assert_null(s->x);

	/* The session frees whatever its extra part still holds (the sanitizers check). */
	x = sess_extra(s);
	x->close_reason = strdup("bye");
	sbuf_add(&x->rx, "part", 4);
	assert_int_equal(sess_hold(s, NULL, "m", 1), 0);
	assert_string_equal(sess_close_reason(s), "bye");
	sess_unref(s);
}

/* /ws/{room}/{user}: the room and the nickname share one allocation; a member shares the
 * nickname too; a new nickname gets its own string and the room stays (the sanitizer suite
 * checks that nothing is freed twice or read after its free). */
static void
test_route_room_and_nickname_share_one_allocation(void **state)
{
	struct route rt = {.single = true, .has_user = true};
	struct roomtab rtab;
	struct ws_room *r;
	struct ws_session *s = sess_new(SID, 4), *t = sess_new(SID, 4);
	struct ws_member *m;

	(void)state;
	snprintf(rt.room_id, sizeof(rt.room_id), "lobby");
	snprintf(rt.user, sizeof(rt.user), "alice");
	assert_int_equal(sess_set_route(s, &rt, rt.user), 0);
	assert_string_equal(s->single_room, "lobby");
	assert_string_equal(s->user, "alice");
	assert_ptr_equal(s->user, s->single_room + strlen("lobby") + 1);
	assert_true(s->user_in_room);
	roomtab_init(&rtab);
	r = roomtab_add(&rtab, "lobby");
	m = sess_member_add(s, r, "alice");
	assert_ptr_equal(m->user, s->user);

	assert_int_equal(sess_set_user(s, "alicia"), 0);
	assert_false(s->user_in_room);
	assert_string_equal(s->user, "alicia");
	assert_string_equal(s->single_room, "lobby");
	assert_string_equal(m->user, "alice"); /* its own copy now */
	assert_false(m->user_shared);
	sess_member_del(s, m);
	roomtab_del(&rtab, r);
	sess_unref(s);

	/* Set twice (madang-ws does not): the nickname is copied before the block goes. */
	assert_int_equal(sess_set_route(t, &rt, rt.user), 0);
	rt.single = false;
	assert_int_equal(sess_set_route(t, &rt, NULL), 0);
	assert_null(t->single_room);
	assert_string_equal(t->user, "alice");
	assert_false(t->user_in_room);
	/* Without a single room the nickname is a string of its own. */
	assert_int_equal(sess_set_route(t, &rt, "bob"), 0);
	assert_string_equal(t->user, "bob");
	sess_unref(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_member_shares_the_session_nickname),
	    cmocka_unit_test(test_member_rename_and_free_with_a_shared_name),
	    cmocka_unit_test(test_idle_session_is_small_and_has_no_extra),
	    cmocka_unit_test(test_keepalive_times_count_across_the_wrap),
	    cmocka_unit_test(test_who_part_is_there_only_while_set),
	    cmocka_unit_test(test_member_keeps_its_resume_point_apart_while_joining),
	    cmocka_unit_test(test_extra_part_follows_the_held_messages),
	    cmocka_unit_test(test_extra_part_kept_while_any_part_is_used),
	    cmocka_unit_test(test_route_room_and_nickname_share_one_allocation),
	};

	unsetenv("MADANG_SLAB"); /* these tests check slab items: on, even in the sanitizer suite */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
