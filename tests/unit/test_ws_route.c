/* test_ws_route.c — madang-ws's endpoint parser (route.c) for /ws/chat/{room_id}, the anonymous
 * member of document 001, next to the forms it must not swallow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../ws-frontend/route.h"

static void
test_chat_path_is_a_guest_of_that_room(void **state)
{
	struct route r;
	const char *why = NULL;

	(void)state;
	assert_int_equal(route_path("/ws/chat/room1", &r, &why), 0);
	assert_true(r.single);
	assert_true(r.guest);
	assert_false(r.has_user);
	assert_string_equal(r.room_id, "room1");
	/* ?user= does not name a guest: the path is a single room. */
	assert_int_equal(route_query(&r, "system", NULL, NULL, NULL, &why), 0);
	assert_false(r.has_user);
}

static void
test_chat_path_refuses_bad_rooms(void **state)
{
	static const char *bad[] = {
	    "/ws/chat/", "/ws/chat/room1/extra", "/ws/chat/room 1", "/ws/chat/room.1",
	    "/ws/chat/rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"};
	struct route r;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(route_path(bad[i], &r, &why), -1);
		assert_non_null(why);
		assert_false(r.guest);
	}
}

static void
test_other_paths_are_not_guests(void **state)
{
	struct route r;
	const char *why;

	(void)state;
	/* /ws/chat without a slash is the room "chat" with no nickname: refused as before. */
	assert_int_equal(route_path("/ws/chat", &r, &why), -1);
	assert_int_equal(route_path("/ws/room1/alice", &r, &why), 0);
	assert_false(r.guest);
	assert_true(r.has_user);
	assert_int_equal(route_path("/ws/chatroom/alice", &r, &why), 0);
	assert_false(r.guest);
	assert_string_equal(r.room_id, "chatroom");
	assert_int_equal(route_path("/ws", &r, &why), 0);
	assert_false(r.guest);
	assert_false(r.single);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chat_path_is_a_guest_of_that_room),
	    cmocka_unit_test(test_chat_path_refuses_bad_rooms),
	    cmocka_unit_test(test_other_paths_are_not_guests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
