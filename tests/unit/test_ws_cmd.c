/* test_ws_cmd.c — the client command parser and the endpoint/route parser of madang-ws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../ws-frontend/cmd.h"
#include "../../ws-frontend/route.h"

#define MAX_TEXT 4096

static int
parse(const char *s, struct cmd *c, const char **code)
{
	const char *why;
	return cmd_parse(s, strlen(s), MAX_TEXT, c, code, &why);
}

static void
test_plain_text_is_a_message(void **state)
{
	struct cmd c;
	const char *code;

	assert_int_equal(parse("  hello there", &c, &code), 0);
	assert_int_equal(c.type, CMD_MESSAGE);
	assert_false(c.has_room);
	assert_int_equal(c.text_len, strlen("  hello there"));
	assert_memory_equal(c.text, "  hello there", c.text_len);
	cmd_fini(&c);
}

static void
test_blank_text_is_refused(void **state)
{
	struct cmd c;
	const char *code;

	assert_int_equal(parse("   \n\t ", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
	assert_int_equal(parse("", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
}

static void
test_json_message_with_room_and_client_id(void **state)
{
	struct cmd c;
	const char *code;

	assert_int_equal(parse("{\"type\":\"message\",\"room_id\":\"room1\",\"text\":\"hi\","
	                       "\"client_id\":\"c-1\"}",
	                       &c, &code),
	                 0);
	assert_int_equal(c.type, CMD_MESSAGE);
	assert_true(c.has_room);
	assert_string_equal(c.room_id, "room1");
	assert_int_equal(c.text_len, 2);
	assert_memory_equal(c.text, "hi", 2);
	assert_true(c.has_client_id);
	assert_string_equal(c.client_id, "c-1");
	cmd_fini(&c);
}

static void
test_bad_json_is_invalid_json(void **state)
{
	struct cmd c;
	const char *code;

	assert_int_equal(parse("{\"type\":\"message\",", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_JSON);
	assert_int_equal(parse("{\"type\":\"ping\"} x", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_JSON);
	assert_int_equal(parse("{\"type\":7}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_JSON);
	/* Objects without a string type that are not {"text"} messages. */
	assert_int_equal(parse("{\"text\":\"x\",\"type\":null}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_JSON);
	assert_int_equal(parse("{\"text\":5}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_JSON);
	assert_int_equal(parse("{\"message\":\"x\"}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_JSON);
	assert_int_equal(parse("{}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_JSON);
}

static void
test_text_without_type_is_a_message(void **state)
{
	struct cmd c;
	const char *code;

	/* Document 001's client: JSON.stringify({ text }). */
	assert_int_equal(parse("{\"text\":\"안녕하세요\"}", &c, &code), 0);
	assert_int_equal(c.type, CMD_MESSAGE);
	assert_int_equal(c.text_len, strlen("안녕하세요"));
	assert_memory_equal(c.text, "안녕하세요", c.text_len);
	assert_false(c.has_room);
	cmd_fini(&c);
	assert_int_equal(
	    parse("{\"text\":\"hi\",\"room_id\":\"room2\",\"client_id\":\"k\"}", &c, &code), 0);
	assert_string_equal(c.room_id, "room2");
	assert_string_equal(c.client_id, "k");
	cmd_fini(&c);
	assert_int_equal(parse("{\"text\":\"  \"}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
}

static void
test_failed_parse_keeps_client_id(void **state)
{
	char big[MAX_TEXT + 100];
	struct cmd c;
	const char *code, *why;
	int n;

	/* Every error that answers a command with a client_id can carry it back. */
	n = snprintf(big, sizeof(big),
	             "{\"type\":\"message\",\"client_id\":\"c-9\",\"room_id\":"
	             "\"room1\",\"text\":\"%0*d\"}",
	             MAX_TEXT + 1, 0);
	assert_int_equal(cmd_parse(big, (size_t)n, MAX_TEXT, &c, &code, &why), -1);
	assert_string_equal(code, WS_ERR_MESSAGE_TOO_LONG);
	assert_true(c.has_client_id);
	assert_string_equal(c.client_id, "c-9");
	assert_true(c.has_type);
	assert_int_equal(c.type, CMD_MESSAGE);
	assert_true(c.has_room);
	assert_string_equal(c.room_id, "room1");
	assert_int_equal(parse("{\"client_id\":\"c-8\",\"type\":\"dance\"}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_UNKNOWN_TYPE);
	assert_string_equal(c.client_id, "c-8");
	assert_false(c.has_type);
	assert_int_equal(parse("{\"client_id\":\"c-7\",\"type\":3}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_JSON);
	assert_string_equal(c.client_id, "c-7");
	assert_int_equal(
	    parse("{\"client_id\":\"c-6\",\"type\":\"private\",\"text\":\"x\"}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
	assert_string_equal(c.client_id, "c-6");
	assert_int_equal(c.type, CMD_PRIVATE);
	assert_int_equal(
	    parse("{\"client_id\":\"c-5\",\"type\":\"history\",\"limit\":0}", &c, &code), -1);
	assert_string_equal(c.client_id, "c-5");
	/* Not JSON at all: nothing to carry back. */
	assert_int_equal(parse("{\"client_id\":\"c-4\",", &c, &code), -1);
	assert_false(c.has_client_id);
	/* A bad client_id is not echoed. */
	assert_int_equal(parse("{\"client_id\":\"\",\"type\":\"ping\"}", &c, &code), -1);
	assert_false(c.has_client_id);
}

static void
test_unknown_type(void **state)
{
	struct cmd c;
	const char *code;

	assert_int_equal(parse("{\"type\":\"dance\"}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_UNKNOWN_TYPE);
}

static void
test_text_limits(void **state)
{
	char big[MAX_TEXT + 40];
	struct cmd c;
	const char *code, *why;

	memset(big, 'a', sizeof(big));
	assert_int_equal(cmd_parse(big, MAX_TEXT, MAX_TEXT, &c, &code, &why), 0);
	cmd_fini(&c);
	assert_int_equal(cmd_parse(big, MAX_TEXT + 1, MAX_TEXT, &c, &code, &why), -1);
	assert_string_equal(code, WS_ERR_MESSAGE_TOO_LONG);
	/* --max-message below the protocol's limit */
	assert_int_equal(cmd_parse(big, 11, 10, &c, &code, &why), -1);
	assert_string_equal(code, WS_ERR_MESSAGE_TOO_LONG);
	assert_int_equal(parse("{\"type\":\"message\",\"text\":42}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
	assert_int_equal(parse("{\"type\":\"message\",\"text\":\"a\\u0001b\"}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
}

static void
test_room_id_is_checked(void **state)
{
	struct cmd c;
	const char *code;

	assert_int_equal(
	    parse("{\"type\":\"message\",\"room_id\":\"bad room\",\"text\":\"x\"}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
	assert_int_equal(parse("{\"type\":\"message\",\"room_id\":5,\"text\":\"x\"}", &c, &code),
	                 -1);
	assert_int_equal(parse("{\"type\":\"join_room\"}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
	assert_int_equal(
	    parse("{\"type\":\"join_room\",\"room_id\":\"jazz\",\"user\":\"  Bob \"}", &c, &code),
	    0);
	assert_int_equal(c.type, CMD_JOIN);
	assert_true(c.has_user);
	assert_string_equal(c.user, "Bob");
	cmd_fini(&c);
	assert_int_equal(
	    parse("{\"type\":\"join_room\",\"room_id\":\"jazz\",\"user\":\"system\"}", &c, &code),
	    -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
}

static void
test_typing_private_history_leave_ping(void **state)
{
	struct cmd c;
	const char *code;

	assert_int_equal(parse("{\"type\":\"typing\",\"active\":true}", &c, &code), 0);
	assert_int_equal(c.type, CMD_TYPING);
	assert_true(c.active);
	cmd_fini(&c);
	assert_int_equal(parse("{\"type\":\"typing\",\"active\":\"yes\"}", &c, &code), -1);

	assert_int_equal(
	    parse("{\"type\":\"private\",\"to\":\"bob\",\"text\":\"psst\"}", &c, &code), 0);
	assert_int_equal(c.type, CMD_PRIVATE);
	assert_string_equal(c.user, "bob");
	assert_memory_equal(c.text, "psst", 4);
	cmd_fini(&c);
	assert_int_equal(parse("{\"type\":\"private\",\"text\":\"psst\"}", &c, &code), -1);

	assert_int_equal(
	    parse("{\"type\":\"history\",\"room_id\":\"r\",\"before_seq\":10,\"limit\":5}", &c,
	          &code),
	    0);
	assert_int_equal(c.type, CMD_HISTORY);
	assert_true(c.has_before);
	assert_int_equal(c.before_seq, 10);
	assert_int_equal(c.limit, 5);
	cmd_fini(&c);
	assert_int_equal(parse("{\"type\":\"history\",\"limit\":501}", &c, &code), -1);
	assert_int_equal(parse("{\"type\":\"history\",\"limit\":0}", &c, &code), -1);
	assert_int_equal(parse("{\"type\":\"history\",\"before_seq\":1.5}", &c, &code), -1);

	assert_int_equal(parse("{\"type\":\"leave_room\"}", &c, &code), 0);
	assert_int_equal(c.type, CMD_LEAVE);
	assert_false(c.has_room);
	cmd_fini(&c);
	assert_int_equal(parse(" {\"type\":\"ping\"} ", &c, &code), 0);
	assert_int_equal(c.type, CMD_PING);
	cmd_fini(&c);
}

static void
test_join_room_resume(void **state)
{
	struct cmd c;
	const char *code;

	assert_int_equal(parse("{\"type\":\"join_room\",\"room_id\":\"r\",\"resume\":"
	                       "\"0123456789abcdef0123456789ABCDEF\"}",
	                       &c, &code),
	                 0);
	assert_true(c.has_resume);
	assert_string_equal(c.resume, "0123456789abcdef0123456789ABCDEF");
	cmd_fini(&c);
	assert_int_equal(parse("{\"type\":\"join_room\",\"room_id\":\"r\"}", &c, &code), 0);
	assert_false(c.has_resume);
	cmd_fini(&c);
	assert_int_equal(
	    parse("{\"type\":\"join_room\",\"room_id\":\"r\",\"resume\":\"abc\"}", &c, &code), -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
	assert_int_equal(parse("{\"type\":\"join_room\",\"room_id\":\"r\",\"resume\":"
	                       "\"0123456789abcdef0123456789abcdeg\"}",
	                       &c, &code),
	                 -1);
	assert_int_equal(parse("{\"type\":\"join_room\",\"room_id\":\"r\",\"resume\":"
	                       "\"0123456789abcdef\\u00000123456789abcde\"}",
	                       &c, &code),
	                 -1);
	assert_int_equal(
	    parse("{\"type\":\"join_room\",\"room_id\":\"r\",\"resume\":5}", &c, &code), -1);
}

static void
test_client_id_rules(void **state)
{
	struct cmd c;
	const char *code;

	assert_int_equal(
	    parse("{\"type\":\"message\",\"text\":\"x\",\"client_id\":\"\"}", &c, &code), -1);
	assert_int_equal(
	    parse("{\"type\":\"message\",\"text\":\"x\",\"client_id\":\"a\\\"b\"}", &c, &code), -1);
	assert_int_equal(parse("{\"type\":\"message\",\"text\":\"x\",\"client_id\":1}", &c, &code),
	                 -1);
	assert_string_equal(code, WS_ERR_INVALID_ARGUMENT);
}

static void
test_route_paths(void **state)
{
	struct route r;
	const char *why;

	assert_int_equal(route_path("/ws", &r, &why), 0);
	assert_false(r.single);
	assert_int_equal(route_path("/ws/", &r, &why), 0);
	assert_int_equal(route_path("/ws/room1/alice", &r, &why), 0);
	assert_true(r.single);
	assert_string_equal(r.room_id, "room1");
	assert_string_equal(r.user, "alice");
	assert_int_equal(route_path("/ws/room1/박 지성", &r, &why), 0);
	assert_string_equal(r.user, "박 지성");
	assert_int_equal(route_path("/ws/room1", &r, &why), -1);
	assert_int_equal(route_path("/ws/room1/", &r, &why), -1);
	assert_int_equal(route_path("/ws/bad room/alice", &r, &why), -1);
	assert_int_equal(route_path("/ws/room1/system", &r, &why), -1);
	assert_int_equal(route_path("/chat", &r, &why), -1);
	assert_int_equal(route_path("/wsx", &r, &why), -1);
}

static void
test_route_query(void **state)
{
	struct route r;
	const char *why;

	assert_int_equal(route_path("/ws", &r, &why), 0);
	assert_int_equal(route_query(&r, "eve", "41", "3fa8c2d417e95b60",
	                             "0123456789abcdef0123456789abcdef", &why),
	                 0);
	assert_true(r.has_user);
	assert_string_equal(r.user, "eve");
	assert_true(r.has_since);
	assert_int_equal(r.since, 41);
	assert_string_equal(r.epoch, "3fa8c2d417e95b60");
	assert_true(r.has_resume);
	assert_int_equal(route_query(&r, NULL, "41", NULL, NULL, &why), -1);
	assert_int_equal(route_query(&r, NULL, NULL, "3fa8c2d417e95b60", NULL, &why), -1);
	assert_int_equal(route_query(&r, NULL, "-1", "3fa8c2d417e95b60", NULL, &why), -1);
	assert_int_equal(route_query(&r, NULL, "4x", "3fa8c2d417e95b60", NULL, &why), -1);
	assert_int_equal(route_query(&r, NULL, "4", "3fa8c2d417e95b6", NULL, &why), -1);
	assert_int_equal(route_query(&r, NULL, NULL, NULL, "abc", &why), -1);
	assert_int_equal(route_query(&r, "", NULL, NULL, NULL, &why), -1);
	/* on /ws/{room}/{user} the path's nickname wins over ?user= */
	assert_int_equal(route_path("/ws/room1/alice", &r, &why), 0);
	assert_int_equal(route_query(&r, "mallory", NULL, NULL, NULL, &why), 0);
	assert_string_equal(r.user, "alice");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_text_is_a_message),
	    cmocka_unit_test(test_blank_text_is_refused),
	    cmocka_unit_test(test_json_message_with_room_and_client_id),
	    cmocka_unit_test(test_bad_json_is_invalid_json),
	    cmocka_unit_test(test_unknown_type),
	    cmocka_unit_test(test_text_without_type_is_a_message),
	    cmocka_unit_test(test_failed_parse_keeps_client_id),
	    cmocka_unit_test(test_text_limits),
	    cmocka_unit_test(test_room_id_is_checked),
	    cmocka_unit_test(test_typing_private_history_leave_ping),
	    cmocka_unit_test(test_join_room_resume),
	    cmocka_unit_test(test_client_id_rules),
	    cmocka_unit_test(test_route_paths),
	    cmocka_unit_test(test_route_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
