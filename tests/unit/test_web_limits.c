/* test_web_limits.c — the web client's limits agree with common/limits.h (issue 19, item 6).
 *
 * tests/unit/web-limits.mjs (node) reports what web/js/validate.js declares and enforces, the
 * maxlength attributes of web/index.html and the numbers web/js/i18n.js tells the person; each
 * is compared here with the MADANG_* constant the daemons are built with, and with what
 * common/validate.c itself accepts at that constant and one past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "limits.h"
#include "validate.h"

#define WL_REPORT_MAX (64 * 1024) /* bytes of node's report; it is about 1 KB */

static char wl_errors[4096];

/* Notes one disagreement (what, the web client's value, limits.h's); reported all at once. */
static void
wl_expect(const char *what, const cJSON *got, long want)
{
	size_t used = strlen(wl_errors);

	if (cJSON_IsNumber(got) && (long)got->valuedouble == want && got->valuedouble == want)
		return;
	if (cJSON_IsNumber(got))
		snprintf(wl_errors + used, sizeof(wl_errors) - used,
		         "\n  %s: web client %g, limits.h %ld", what, got->valuedouble, want);
	else
		snprintf(wl_errors + used, sizeof(wl_errors) - used,
		         "\n  %s: web client has none, limits.h %ld", what, want);
}

/* Runs web-limits.mjs and returns its parsed report; NULL when node is missing. */
static cJSON *
wl_report(const char *root)
{
	char cmd[1200], *buf;
	size_t len = 0, n;
	FILE *f;
	int st;
	cJSON *doc;

	snprintf(cmd, sizeof(cmd),
	         "command -v node >/dev/null && node '%s/tests/unit/web-limits.mjs' '%s'", root,
	         root);
	assert_non_null(f = popen(cmd, "r"));
	assert_non_null(buf = malloc(WL_REPORT_MAX));
	while (len < WL_REPORT_MAX - 1 && (n = fread(buf + len, 1, WL_REPORT_MAX - 1 - len, f)) > 0)
		len += n;
	buf[len] = '\0';
	st = pclose(f);
	doc = st == 0 ? cJSON_Parse(buf) : NULL;
	if (st == 0 && doc == NULL)
		fail_msg("web-limits.mjs printed no JSON: %.200s", buf);
	free(buf);
	return doc;
}

/* A string of n copies of unit (NUL-terminated, caller frees). */
static char *
wl_repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

/* Whether common/validate.c accepts n copies of unit as a nickname (kind 'n'), a room name
 * ('r'), a room id ('i') or message text ('t'). */
static bool
wl_c_accepts(char kind, const char *unit, size_t n)
{
	char out[MADANG_ROOM_NAME_MAX_BYTES + MADANG_NICK_MAX_BYTES + 2];
	const char *why;
	char *s = wl_repeat(unit, n);
	bool ok = false;

	switch (kind) {
	case 'n':
		ok = nick_canonical(s, strlen(s), out, sizeof(out), &why);
		break;
	case 'r':
		ok = room_name_canonical(s, strlen(s), out, sizeof(out), &why);
		break;
	case 'i':
		ok = valid_room_id(s, strlen(s));
		break;
	case 't':
		ok = valid_text(s, strlen(s), &why);
		break;
	}
	free(s);
	return ok;
}

/* The C side's own boundary: n copies accepted at the limit, refused one past it. */
static void
test_c_enforces_its_own_limits(void **state)
{
	(void)state;
	assert_true(wl_c_accepts('n', "가", MADANG_NICK_MAX_CHARS));
	assert_false(wl_c_accepts('n', "가", MADANG_NICK_MAX_CHARS + 1));
	assert_true(wl_c_accepts('r', "가", MADANG_ROOM_NAME_MAX));
	assert_false(wl_c_accepts('r', "가", MADANG_ROOM_NAME_MAX + 1));
	assert_true(wl_c_accepts('i', "a", MADANG_ROOM_ID_MAX));
	assert_false(wl_c_accepts('i', "a", MADANG_ROOM_ID_MAX + 1));
	assert_true(wl_c_accepts('t', "a", MADANG_TEXT_MAX));
	assert_false(wl_c_accepts('t', "a", MADANG_TEXT_MAX + 1));
}

/* Every limit the web client declares, enforces, puts in index.html or tells the person in any
 * language equals common/limits.h's; the names it reserves are the ones the C side refuses. */
static void
test_web_client_limits_match_limits_h(void **state)
{
	const char *root = getenv("MADANG_ROOT") ? getenv("MADANG_ROOT") : ".";
	const cJSON *c, *e, *h, *told, *msg, *lang, *r;
	cJSON *doc;

	(void)state;
	wl_errors[0] = '\0';
	if ((doc = wl_report(root)) == NULL)
		skip(); /* no node: 30-ws and 50-e2e need it anyway */
	c = cJSON_GetObjectItem(doc, "constants");
	wl_expect("validate.js NICK_MAX_CHARS", cJSON_GetObjectItem(c, "nick_max_chars"),
	          MADANG_NICK_MAX_CHARS);
	wl_expect("validate.js NICK_KEY_MAX_BYTES", cJSON_GetObjectItem(c, "nick_key_max_bytes"),
	          MADANG_NICK_MAX_BYTES);
	wl_expect("validate.js NAME_INPUT_MAX_BYTES",
	          cJSON_GetObjectItem(c, "name_input_max_bytes"), MADANG_NAME_INPUT_MAX);
	wl_expect("validate.js MESSAGE_MAX_BYTES", cJSON_GetObjectItem(c, "message_max_bytes"),
	          MADANG_TEXT_MAX);
	wl_expect("validate.js ROOM_NAME_MAX_CHARS", cJSON_GetObjectItem(c, "room_name_max_chars"),
	          MADANG_ROOM_NAME_MAX);

	e = cJSON_GetObjectItem(doc, "enforced");
	wl_expect("checkNickname: longest accepted (characters)",
	          cJSON_GetObjectItem(e, "nick_max_chars"), MADANG_NICK_MAX_CHARS);
	wl_expect("ROOM_ID_RE: longest accepted", cJSON_GetObjectItem(e, "room_id_max"),
	          MADANG_ROOM_ID_MAX);
	wl_expect("checkRoomName: longest accepted (characters)",
	          cJSON_GetObjectItem(e, "room_name_max_chars"), MADANG_ROOM_NAME_MAX);
	wl_expect("checkMessage: longest accepted (bytes)",
	          cJSON_GetObjectItem(e, "message_max_bytes"), MADANG_TEXT_MAX);

	h = cJSON_GetObjectItem(doc, "html");
	wl_expect("index.html #create-id maxlength", cJSON_GetObjectItem(h, "create-id"),
	          MADANG_ROOM_ID_MAX);
	wl_expect("index.html #create-name maxlength", cJSON_GetObjectItem(h, "create-name"),
	          MADANG_ROOM_NAME_MAX);
	/* The nickname and message fields have no maxlength (it would count UTF-16 units, not
	 * characters or bytes); one added later must still be the limit. */
	if (!cJSON_IsNull(cJSON_GetObjectItem(h, "nickname")))
		wl_expect("index.html #nickname maxlength", cJSON_GetObjectItem(h, "nickname"),
		          MADANG_NICK_MAX_CHARS);
	if (!cJSON_IsNull(cJSON_GetObjectItem(h, "message-input")))
		wl_expect("index.html #message-input maxlength",
		          cJSON_GetObjectItem(h, "message-input"), MADANG_TEXT_MAX);

	told = cJSON_GetObjectItem(doc, "told");
	cJSON_ArrayForEach(msg, told)
	{
		long want = strstr(msg->string, ".id") != NULL     ? MADANG_ROOM_ID_MAX
		            : strstr(msg->string, ".name") != NULL ? MADANG_ROOM_NAME_MAX
		            : strstr(msg->string, "chat.") != NULL ? MADANG_TEXT_MAX
		                                                   : MADANG_NICK_MAX_CHARS;
		cJSON_ArrayForEach(lang, msg)
		{
			char what[128];

			snprintf(what, sizeof(what), "i18n.js %s '%s'", lang->string, msg->string);
			wl_expect(what, lang, want);
		}
	}
	assert_int_equal(cJSON_GetArraySize(told), 6);

	cJSON_ArrayForEach(r, cJSON_GetObjectItem(doc, "reserved"))
	{
		bool c_refuses = !wl_c_accepts('n', r->string, 1);
		size_t used = strlen(wl_errors);

		if (!cJSON_IsTrue(r) || !c_refuses)
			snprintf(wl_errors + used, sizeof(wl_errors) - used,
			         "\n  reserved nickname \"%s\": web client %s, C %s", r->string,
			         cJSON_IsTrue(r) ? "reserves it" : "allows it",
			         c_refuses ? "refuses it" : "allows it");
	}
	cJSON_Delete(doc);
	if (wl_errors[0] != '\0')
		fail_msg("the web client disagrees with common/limits.h:%s", wl_errors);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_c_enforces_its_own_limits),
	    cmocka_unit_test(test_web_client_limits_match_limits_h),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
