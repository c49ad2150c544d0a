/* test_pgutil.c — unit tests for broker/pgutil: COPY text escaping (what the PostgreSQL store
 * and madang-port-sqlite send) and the cluster lock key (which every broker of a cluster, of
 * any release, must derive alike). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/pgutil.h"
#include "sbuf.h"

static void
test_copy_field_escapes_what_copy_reserves(void **state)
{
	struct sbuf b;
	static const char raw[] = "a\\b\tc\nd\re\"f";

	(void)state;
	sbuf_init(&b);
	pgutil_copy_field(&b, raw, strlen(raw), '\t');
	pgutil_copy_field(&b, NULL, 0, '\t');
	pgutil_copy_field(&b, "", 0, '\t');
	pgutil_copy_field(&b, "x\\N", 3, '\n');
	sbuf_addc(&b, '\0');
	assert_false(b.oom);
	assert_string_equal(b.data, "a\\\\b\\tc\\nd\\re\"f\t\\N\t\tx\\\\N\n");
	sbuf_fini(&b);
}

static void
test_copy_field_keeps_utf8_and_counts_bytes(void **state)
{
	struct sbuf b;
	static const char raw[] = "일반 대화\0tail"; /* len stops at the NUL */

	(void)state;
	sbuf_init(&b);
	pgutil_copy_field(&b, raw, strlen(raw), '\n');
	sbuf_addc(&b, '\0');
	assert_string_equal(b.data, "일반 대화\n");
	sbuf_fini(&b);
}

static void
test_cluster_key_is_stable_and_differs_by_name(void **state)
{
	(void)state;
	/* Fixed forever: brokers of different releases must compete for the same lock. */
	assert_int_equal(pgutil_cluster_key("madang"), pgutil_cluster_key("madang"));
	assert_true(pgutil_cluster_key("madang") != pgutil_cluster_key("madang2"));
	assert_true(pgutil_cluster_key("a") != pgutil_cluster_key("b"));
	assert_int_equal((uint64_t)pgutil_cluster_key("madang"), UINT64_C(5438374162125838915));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_copy_field_escapes_what_copy_reserves),
	    cmocka_unit_test(test_copy_field_keeps_utf8_and_counts_bytes),
	    cmocka_unit_test(test_cluster_key_is_stable_and_differs_by_name),
	};
	return cmocka_run_group_tests_name("broker pgutil", tests, NULL, NULL);
}
