/* test_jsonw.c — unit tests for common/jsonw: commas placed by the writer, nesting, escaping, a
 * and every misuse refused without writing. Each result is also parsed by cJSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "jsonw.h"
#include "sbuf.h"

/* NUL-terminated copy of what b holds, checked to be one JSON value (cJSON). */
static char *
text_of(struct sbuf *b)
{
	char *s = strndup(b->data ? b->data : "", b->len);
	cJSON *j = cJSON_Parse(s);
	assert_non_null(j);
	cJSON_Delete(j);
	return s;
}

static void
test_jsonw_places_commas_between_members_only(void **state)
{
	struct sbuf b;
	struct jsonw w;
	(void)state;

	sbuf_init(&b);
	jw_begin(&w, &b);
	jw_obj(&w, NULL);
	jw_bool(&w, "ok", true);
	jw_int(&w, "seq", 42);
	jw_bool(&w, "duplicate", false);
	jw_null(&w, "next");
	jw_str_or_null(&w, "by", "mona");
	jw_str_or_null(&w, "note", NULL);
	jw_end(&w);
	assert_true(jw_ok(&w));
	char *s = text_of(&b);
	assert_string_equal(s, "{\"ok\":true,\"seq\":42,\"duplicate\":false,\"next\":null,"
	                       "\"by\":\"mona\",\"note\":null}");
	free(s);
	sbuf_fini(&b);
}

static void
test_jsonw_nests_arrays_and_objects(void **state)
{
	struct sbuf b;
	struct jsonw w;
	(void)state;

	sbuf_init(&b);
	jw_begin(&w, &b);
	jw_obj(&w, NULL);
	jw_arr(&w, "users");
	jw_str(&w, NULL, "alice");
	jw_str(&w, NULL, "bob");
	jw_end(&w);
	jw_arr(&w, "empty");
	jw_end(&w);
	jw_obj(&w, "room");
	jw_str(&w, "id", "room1");
	jw_int(&w, "count", -3);
	jw_end(&w);
	jw_arr(&w, "rows");
	jw_obj(&w, NULL);
	jw_end(&w);
	jw_obj(&w, NULL);
	jw_int(&w, "n", INT64_MAX);
	jw_end(&w);
	jw_end(&w);
	jw_end(&w);
	assert_true(jw_ok(&w));
	char *s = text_of(&b);
	assert_string_equal(s, "{\"users\":[\"alice\",\"bob\"],\"empty\":[],"
	                       "\"room\":{\"id\":\"room1\",\"count\":-3},"
	                       "\"rows\":[{},{\"n\":9223372036854775807}]}");
	free(s);
	sbuf_fini(&b);
}

static void
test_jsonw_escapes_values_and_keeps_raw_ones(void **state)
{
	struct sbuf b;
	struct jsonw w;
	(void)state;

	sbuf_init(&b);
	jw_begin(&w, &b);
	jw_obj(&w, NULL);
	jw_str(&w, "text", "a \"quoted\"\\ line\n\x01 민수");
	jw_strn(&w, "cut", "abcdef", 3);
	jw_raw(&w, "event", "{\"type\":\"join\"}", 15);
	jw_end(&w);
	assert_true(jw_ok(&w));
	char *s = text_of(&b);
	assert_string_equal(s, "{\"text\":\"a \\\"quoted\\\"\\\\ line\\n\\u0001 민수\","
	                       "\"cut\":\"abc\",\"event\":{\"type\":\"join\"}}");
	free(s);
	sbuf_fini(&b);
}

/* Each misuse writes nothing more and leaves jw_ok() false. */
static void
test_jsonw_refuses_misuse_without_writing(void **state)
{
	struct sbuf b;
	struct jsonw w;
	(void)state;

	sbuf_init(&b);
	/* A member without a key in an object. */
	jw_begin(&w, &b);
	jw_obj(&w, NULL);
	jw_int(&w, NULL, 1);
	size_t len = b.len;
	jw_end(&w);
	jw_int(&w, "later", 2);
	assert_int_equal(b.len, len);
	assert_false(jw_ok(&w));

	/* A key in an array. */
	sbuf_reset(&b);
	jw_begin(&w, &b);
	jw_arr(&w, NULL);
	jw_str(&w, "k", "v");
	assert_int_equal(b.len, 1);
	assert_false(jw_ok(&w));

	/* A key at the top level, and a second top-level value. */
	sbuf_reset(&b);
	jw_begin(&w, &b);
	jw_int(&w, "k", 1);
	assert_int_equal(b.len, 0);
	assert_false(jw_ok(&w));
	jw_begin(&w, &b);
	jw_obj(&w, NULL);
	jw_end(&w);
	assert_true(jw_ok(&w));
	jw_obj(&w, NULL);
	assert_int_equal(b.len, 2);
	assert_false(jw_ok(&w));

	/* jw_end with nothing open; an object left open. */
	jw_begin(&w, &b);
	jw_end(&w);
	assert_false(jw_ok(&w));
	jw_begin(&w, &b);
	jw_obj(&w, NULL);
	assert_false(jw_ok(&w));

	/* Deeper than JSONW_DEPTH. */
	sbuf_reset(&b);
	jw_begin(&w, &b);
	for (int i = 0; i < JSONW_DEPTH; i++)
		jw_arr(&w, NULL);
	assert_int_equal(b.len, JSONW_DEPTH);
	jw_arr(&w, NULL);
	assert_int_equal(b.len, JSONW_DEPTH);
	assert_false(jw_ok(&w));
	sbuf_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jsonw_places_commas_between_members_only),
	    cmocka_unit_test(test_jsonw_nests_arrays_and_objects),
	    cmocka_unit_test(test_jsonw_escapes_values_and_keeps_raw_ones),
	    cmocka_unit_test(test_jsonw_refuses_misuse_without_writing),
	};
	return cmocka_run_group_tests_name("jsonw", tests, NULL, NULL);
}
