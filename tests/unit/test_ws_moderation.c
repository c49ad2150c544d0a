/* test_ws_moderation.c — madang-ws's pure parts of moderation (docs/moderation.md): the
 * moderation commands' grammar, the tombstone of a deleted message, and its replacement of the
 * message's frame in a room's log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../ws-frontend/cmd.h"
#include "../../ws-frontend/frame.h"
#include "../../ws-frontend/roomlog.h"
#include "tombstone.h"

#define MAX_TEXT 4096

static int
parse(const char *s, struct cmd *c, const char **code, const char **why)
{
	return cmd_parse(s, strlen(s), MAX_TEXT, c, code, why);
}

/* Parses s, which must be refused with invalid_argument, keeping its request type. */
static void
refused(const char *s, enum cmd_type type)
{
	struct cmd c;
	const char *code, *why;

	if (parse(s, &c, &code, &why) == 0) {
		cmd_fini(&c);
		fail_msg("accepted: %s", s);
	}
	assert_string_equal(code, "invalid_argument");
	assert_true(c.has_type);
	assert_int_equal(c.type, type);
}

static void
test_kick_ban_mute_parse_their_fields(void **state)
{
	struct cmd c;
	const char *code, *why;

	(void)state;
	assert_int_equal(parse("{\"type\":\"kick\",\"room_id\":\"r1\",\"user\":\"Bob\","
	                       "\"reason\":\"spam\",\"client_id\":\"k1\"}",
	                       &c, &code, &why),
	                 0);
	assert_int_equal(c.type, CMD_KICK);
	assert_true(cmd_is_moderation(c.type));
	assert_string_equal(c.room_id, "r1");
	assert_true(c.has_user);
	assert_string_equal(c.user, "Bob");
	assert_int_equal(c.note_len, 4);
	assert_memory_equal(c.note, "spam", 4);
	assert_false(c.has_duration);
	assert_string_equal(cmd_name(c.type), "kick");
	cmd_fini(&c);

	assert_int_equal(parse("{\"type\":\"ban\",\"user\":\"bob\"}", &c, &code, &why), 0);
	assert_int_equal(c.type, CMD_BAN);
	assert_false(c.has_room);     /* the connection's only room */
	assert_false(c.has_duration); /* until lifted */
	assert_null(c.note);
	cmd_fini(&c);

	assert_int_equal(parse("{\"type\":\"ban\",\"user\":\"bob\",\"duration_s\":3600,"
	                       "\"reason\":\"\"}",
	                       &c, &code, &why),
	                 0);
	assert_true(c.has_duration);
	assert_int_equal(c.duration_s, 3600);
	assert_null(c.note); /* "" is no note */
	cmd_fini(&c);

	assert_int_equal(
	    parse("{\"type\":\"mute\",\"user\":\"bob\",\"duration_s\":31536000}", &c, &code, &why),
	    0);
	assert_int_equal(c.type, CMD_MUTE);
	assert_int_equal(c.duration_s, 31536000);
	cmd_fini(&c);

	assert_int_equal(parse("{\"type\":\"unban\",\"user\":\"bob\"}", &c, &code, &why), 0);
	assert_int_equal(c.type, CMD_UNBAN);
	cmd_fini(&c);
	assert_int_equal(parse("{\"type\":\"unmute\",\"user\":\"bob\"}", &c, &code, &why), 0);
	assert_int_equal(c.type, CMD_UNMUTE);
	cmd_fini(&c);
}

static void
test_delete_message_and_slow_mode_parse(void **state)
{
	struct cmd c;
	const char *code, *why;

	(void)state;
	assert_int_equal(
	    parse("{\"type\":\"delete_message\",\"room_id\":\"r1\",\"seq\":42}", &c, &code, &why),
	    0);
	assert_int_equal(c.type, CMD_DELETE_MESSAGE);
	assert_int_equal(c.seq, 42);
	cmd_fini(&c);
	assert_int_equal(parse("{\"type\":\"slow_mode\",\"interval_s\":0}", &c, &code, &why), 0);
	assert_int_equal(c.type, CMD_SLOW_MODE);
	assert_int_equal(c.interval_s, 0);
	cmd_fini(&c);
	assert_int_equal(parse("{\"type\":\"slow_mode\",\"interval_s\":86400}", &c, &code, &why),
	                 0);
	assert_int_equal(c.interval_s, 86400);
	cmd_fini(&c);
}

static void
test_moderation_wrong_types_and_ranges_are_refused(void **state)
{
	(void)state;
	refused("{\"type\":\"kick\"}", CMD_KICK);
	refused("{\"type\":\"kick\",\"user\":42}", CMD_KICK);
	refused("{\"type\":\"kick\",\"user\":\"\"}", CMD_KICK);
	refused("{\"type\":\"kick\",\"user\":\"bob\",\"room_id\":7}", CMD_KICK);
	refused("{\"type\":\"kick\",\"user\":\"bob\",\"reason\":5}", CMD_KICK);
	refused("{\"type\":\"kick\",\"user\":\"bob\",\"reason\":\"a\\u0001b\"}", CMD_KICK);
	/* The broker's rule for a note (valid_note): one line, not blank. */
	refused("{\"type\":\"kick\",\"user\":\"bob\",\"reason\":\"two\\nlines\"}", CMD_KICK);
	refused("{\"type\":\"ban\",\"user\":\"bob\",\"reason\":\"a\\tb\"}", CMD_BAN);
	refused("{\"type\":\"delete_message\",\"seq\":3,\"reason\":\"   \"}", CMD_DELETE_MESSAGE);
	refused("{\"type\":\"ban\",\"user\":\"bob\",\"duration_s\":0}", CMD_BAN);
	refused("{\"type\":\"ban\",\"user\":\"bob\",\"duration_s\":31536001}", CMD_BAN);
	refused("{\"type\":\"ban\",\"user\":\"bob\",\"duration_s\":\"60\"}", CMD_BAN);
	refused("{\"type\":\"ban\",\"user\":\"bob\",\"duration_s\":1.5}", CMD_BAN);
	refused("{\"type\":\"mute\",\"user\":\"bob\"}", CMD_MUTE); /* a mute needs its length */
	refused("{\"type\":\"mute\",\"user\":\"bob\",\"duration_s\":-5}", CMD_MUTE);
	refused("{\"type\":\"unban\",\"user\":[\"bob\"]}", CMD_UNBAN);
	refused("{\"type\":\"delete_message\"}", CMD_DELETE_MESSAGE);
	refused("{\"type\":\"delete_message\",\"seq\":\"3\"}", CMD_DELETE_MESSAGE);
	refused("{\"type\":\"delete_message\",\"seq\":-1}", CMD_DELETE_MESSAGE);
	refused("{\"type\":\"slow_mode\"}", CMD_SLOW_MODE);
	refused("{\"type\":\"slow_mode\",\"interval_s\":86401}", CMD_SLOW_MODE);
	refused("{\"type\":\"slow_mode\",\"interval_s\":true}", CMD_SLOW_MODE);
}

static void
test_reason_is_at_most_note_max_bytes(void **state)
{
	char buf[1024], reason[MADANG_NOTE_MAX + 2];
	struct cmd c;
	const char *code, *why;

	(void)state;
	memset(reason, 'x', sizeof(reason) - 1);
	reason[MADANG_NOTE_MAX] = '\0'; /* exactly the limit */
	snprintf(buf, sizeof(buf), "{\"type\":\"kick\",\"user\":\"bob\",\"reason\":\"%s\"}",
	         reason);
	assert_int_equal(parse(buf, &c, &code, &why), 0);
	assert_int_equal(c.note_len, MADANG_NOTE_MAX);
	cmd_fini(&c);
	reason[MADANG_NOTE_MAX] = 'x'; /* one byte over */
	reason[MADANG_NOTE_MAX + 1] = '\0';
	snprintf(buf, sizeof(buf), "{\"type\":\"kick\",\"user\":\"bob\",\"reason\":\"%s\"}",
	         reason);
	refused(buf, CMD_KICK);
	/* 86 three-byte characters (258 bytes, 86 characters): bytes count, not characters */
	strcpy(buf, "{\"type\":\"mute\",\"user\":\"bob\",\"duration_s\":60,\"reason\":\"");
	for (int i = 0; i < 86; i++)
		strcat(buf, "\xea\xb0\x80");
	strcat(buf, "\"}");
	refused(buf, CMD_MUTE);
}

static void
test_tombstone_keeps_seq_sender_time_drops_text(void **state)
{
	const char *ev = "{\"type\":\"message\",\"room_id\":\"r1\",\"seq\":7,\"epoch\":\"e\","
	                 "\"sender\":\"bob\",\"message\":\"secret text\",\"time\":\"T\","
	                 "\"client_id\":\"c-9\"}";
	size_t n;
	char *t = tombstone_json(ev, strlen(ev), NULL, &n, NULL, 0);

	(void)state;
	assert_non_null(t);
	assert_int_equal(n, strlen(t));
	assert_null(strstr(t, "secret"));
	assert_null(strstr(t, "c-9"));
	assert_non_null(strstr(t, "\"seq\":7"));
	assert_non_null(strstr(t, "\"sender\":\"bob\""));
	assert_non_null(strstr(t, "\"time\":\"T\""));
	assert_non_null(strstr(t, "\"message\":\"\""));
	assert_non_null(strstr(t, "\"deleted\":true"));
	/* a tombstone, or no message, has none */
	assert_null(strstr(t, "note"));
	assert_null(tombstone_json(t, n, NULL, &n, NULL, 0));
	free(t);
	assert_null(tombstone_json("{\"type\":\"join\",\"seq\":3}", 23, NULL, &n, NULL, 0));
	assert_null(tombstone_json("not json", 8, NULL, &n, NULL, 0));
	/* With the deletion's reason, as the broker writes it (the same key order: ops_modroom.c). */
	t = tombstone_json(ev, strlen(ev), "스팸", &n, NULL, 0);
	assert_string_equal(t, "{\"type\":\"message\",\"room_id\":\"r1\",\"seq\":7,\"epoch\":\"e\","
	                       "\"sender\":\"bob\",\"message\":\"\",\"time\":\"T\",\"deleted\":true,"
	                       "\"note\":\"스팸\"}");
	free(t);
}

static void
test_tombstone_target_reads_deleted_seq(void **state)
{
	cJSON *ev = cJSON_Parse("{\"type\":\"message_deleted\",\"seq\":9,\"deleted_seq\":7}");
	cJSON *other = cJSON_Parse("{\"type\":\"message\",\"seq\":9,\"deleted_seq\":7}");
	cJSON *bad = cJSON_Parse("{\"type\":\"message_deleted\",\"seq\":9,\"deleted_seq\":\"7\"}");
	uint64_t seq = 0;

	(void)state;
	assert_true(tombstone_target(ev, &seq));
	assert_int_equal(seq, 7);
	assert_false(tombstone_target(other, &seq));
	assert_false(tombstone_target(bad, &seq));
	cJSON_Delete(ev);
	cJSON_Delete(other);
	cJSON_Delete(bad);
}

static struct ws_frame *
frame_of(const char *s)
{
	return ws_frame_text(s, strlen(s));
}

static void
test_frame_payload_under_each_header_length(void **state)
{
	size_t sizes[] = {0, 5, 125, 126, 65535, 65536};
	char *buf = malloc(70000);

	(void)state;
	assert_non_null(buf);
	memset(buf, 'a', 70000);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct ws_frame *f = ws_frame_text(buf, sizes[i]);
		size_t n;
		const char *p = ws_frame_payload(f, &n);
		assert_int_equal(n, sizes[i]);
		assert_ptr_equal(p, (const char *)f->data + ws_frame_header_len(sizes[i]));
		ws_frame_unref(f);
	}
	free(buf);
}

static void
test_roomlog_replace_swaps_frame_and_offsets(void **state)
{
	struct roomlog l;
	struct ws_frame *t = frame_of("t");

	(void)state;
	roomlog_init(&l, 1);
	assert_int_equal(roomlog_append(&l, 1, frame_of("first")), 0);      /* 7 bytes */
	assert_int_equal(roomlog_append(&l, 2, frame_of("the secret")), 0); /* 12 */
	assert_int_equal(roomlog_append(&l, 3, frame_of("third")), 0);      /* 7 */
	assert_int_equal(roomlog_pending(&l, 1), 26);
	assert_int_equal(roomlog_replace(&l, 0, t), -1); /* below base */
	assert_int_equal(roomlog_replace(&l, 4, t), -1); /* at top */
	assert_int_equal(roomlog_replace(&l, 2, t), 0);  /* 3 bytes now */
	assert_ptr_equal(roomlog_get(&l, 2), t);
	assert_int_equal(roomlog_pending(&l, 1), 17);
	assert_int_equal(roomlog_pending(&l, 2), 10);
	assert_int_equal(roomlog_pending(&l, 3), 7);
	assert_int_equal(roomlog_append(&l, 4, frame_of("x")), 0);
	assert_int_equal(roomlog_pending(&l, 4), 3);
	assert_int_equal(roomlog_pending(&l, 3), 10);
	roomlog_fini(&l); /* frees the tombstone once (ASan: no leak, no double free) */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kick_ban_mute_parse_their_fields),
	    cmocka_unit_test(test_delete_message_and_slow_mode_parse),
	    cmocka_unit_test(test_moderation_wrong_types_and_ranges_are_refused),
	    cmocka_unit_test(test_reason_is_at_most_note_max_bytes),
	    cmocka_unit_test(test_tombstone_keeps_seq_sender_time_drops_text),
	    cmocka_unit_test(test_tombstone_target_reads_deleted_seq),
	    cmocka_unit_test(test_frame_payload_under_each_header_length),
	    cmocka_unit_test(test_roomlog_replace_swaps_frame_and_offsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
