/* test_api_request.c — madang-api's request parsing: method, path segments, percent-decoding,
 * query parameters, CONTENT_LENGTH, and the refusal of CR, LF and NUL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../rest-fcgi/request.h"

static enum api_perr
parse(struct api_request *rq, const char *method, const char *uri, const char *len)
{
	const char *why = NULL;
	enum api_perr e = api_request_parse(rq, method, uri, len, &why);

	assert_non_null(why);
	if (e != API_PERR_NONE)
		assert_true(why[0] != '\0');
	return e;
}

static void
test_parses_path_into_decoded_segments(void **state)
{
	struct api_request rq;

	assert_int_equal(parse(&rq, "GET", "/api/rooms/r%6Fom1/messages", NULL), API_PERR_NONE);
	assert_int_equal(rq.method, API_M_GET);
	assert_int_equal(rq.nseg, 4);
	assert_string_equal(rq.seg[0], "api");
	assert_string_equal(rq.seg[2], "room1");
	assert_string_equal(rq.seg[3], "messages");
	assert_false(rq.has_length);
}

static void
test_trailing_slash_adds_no_segment(void **state)
{
	struct api_request rq;

	assert_int_equal(parse(&rq, "GET", "/api/rooms/", NULL), API_PERR_NONE);
	assert_int_equal(rq.nseg, 2);
	assert_int_equal(parse(&rq, "GET", "/", NULL), API_PERR_NONE);
	assert_int_equal(rq.nseg, 0);
}

static void
test_methods_are_recognised_and_checked(void **state)
{
	struct api_request rq;

	assert_int_equal(parse(&rq, "DELETE", "/api", NULL), API_PERR_NONE);
	assert_int_equal(rq.method, API_M_DELETE);
	assert_int_equal(parse(&rq, "PATCH", "/api", NULL), API_PERR_NONE);
	assert_int_equal(rq.method, API_M_PATCH);
	assert_int_equal(parse(&rq, "PUT", "/api", NULL), API_PERR_NONE);
	assert_int_equal(rq.method, API_M_OTHER);
	assert_string_equal(rq.method_name, "PUT");
	assert_int_equal(parse(&rq, "get", "/api", NULL), API_PERR_NONE);
	assert_int_equal(rq.method, API_M_OTHER); /* methods are case-sensitive */
	assert_int_equal(parse(&rq, NULL, "/api", NULL), API_PERR_METHOD);
	assert_int_equal(parse(&rq, "", "/api", NULL), API_PERR_METHOD);
	assert_int_equal(parse(&rq, "GE T", "/api", NULL), API_PERR_METHOD);
	assert_int_equal(parse(&rq, "GET\r\n", "/api", NULL), API_PERR_METHOD);
	assert_int_equal(parse(&rq, "AVERYLONGMETHODNAME", "/api", NULL), API_PERR_METHOD);
}

static void
test_refuses_malformed_percent_encoding(void **state)
{
	struct api_request rq;

	assert_int_equal(parse(&rq, "GET", "/api/rooms/%", NULL), API_PERR_PCT);
	assert_int_equal(parse(&rq, "GET", "/api/rooms/%4", NULL), API_PERR_PCT);
	assert_int_equal(parse(&rq, "GET", "/api/rooms/%zz", NULL), API_PERR_PCT);
	assert_int_equal(parse(&rq, "GET", "/api/rooms/a%4g", NULL), API_PERR_PCT);
	assert_int_equal(parse(&rq, "GET", "/api/rooms?since=%", NULL), API_PERR_PCT);
	assert_int_equal(parse(&rq, "GET", "/api/rooms?%G1=1", NULL), API_PERR_PCT);
}

static void
test_refuses_cr_lf_nul_raw_or_encoded(void **state)
{
	struct api_request rq;

	assert_int_equal(parse(&rq, "GET", "/api/rooms/a%0d", NULL), API_PERR_FORBIDDEN);
	assert_int_equal(parse(&rq, "GET", "/api/rooms/a%0A", NULL), API_PERR_FORBIDDEN);
	assert_int_equal(parse(&rq, "GET", "/api/rooms/a%00b", NULL), API_PERR_FORBIDDEN);
	assert_int_equal(parse(&rq, "GET", "/api/rooms?since=1%0D%0AX:%201", NULL),
	                 API_PERR_FORBIDDEN);
	assert_int_equal(parse(&rq, "GET", "/api/rooms\r\nX: 1", NULL), API_PERR_FORBIDDEN);
	assert_int_equal(parse(&rq, "GET", "/api/rooms?a=\n", NULL), API_PERR_FORBIDDEN);
	/* other control bytes are refused too */
	assert_int_equal(parse(&rq, "GET", "/api/\troom", NULL), API_PERR_URI_BAD);
	/* invalid UTF-8 after decoding */
	assert_int_equal(parse(&rq, "GET", "/api/rooms/%C3%28", NULL), API_PERR_FORBIDDEN);
	assert_int_equal(parse(&rq, "GET", "/api/rooms/%ED%A0%80", NULL), API_PERR_FORBIDDEN);
}

static void
test_refuses_odd_uris(void **state)
{
	struct api_request rq;
	char longuri[API_URI_MAX + 10];

	assert_int_equal(parse(&rq, "GET", NULL, NULL), API_PERR_URI_MISSING);
	assert_int_equal(parse(&rq, "GET", "", NULL), API_PERR_URI_MISSING);
	assert_int_equal(parse(&rq, "GET", "api/rooms", NULL), API_PERR_URI_BAD);
	assert_int_equal(parse(&rq, "GET", "http://x/api/rooms", NULL), API_PERR_URI_BAD);
	assert_int_equal(parse(&rq, "GET", "/api//rooms", NULL), API_PERR_URI_BAD);
	assert_int_equal(parse(&rq, "GET", "/api/../health", NULL), API_PERR_URI_BAD);
	assert_int_equal(parse(&rq, "GET", "/api/%2e%2E/health", NULL), API_PERR_URI_BAD);
	assert_int_equal(parse(&rq, "GET", "/api/./rooms", NULL), API_PERR_URI_BAD);
	assert_int_equal(parse(&rq, "GET", "/api/rooms#frag", NULL), API_PERR_URI_BAD);
	memset(longuri, 'a', sizeof(longuri));
	longuri[0] = '/';
	longuri[API_URI_MAX + 1] = '\0';
	assert_int_equal(parse(&rq, "GET", longuri, NULL), API_PERR_URI_LONG);
	longuri[API_URI_MAX] = '\0';
	/* exactly API_URI_MAX bytes passes the URI check, but its one segment is too long */
	assert_int_equal(parse(&rq, "GET", longuri, NULL), API_PERR_URI_LONG);
}

static void
test_too_many_segments_is_flagged(void **state)
{
	struct api_request rq;

	assert_int_equal(parse(&rq, "GET", "/a/b/c/d/e/f/g/h/i/j", NULL), API_PERR_NONE);
	assert_int_equal(rq.nseg, API_SEGMENTS_MAX);
	assert_true(rq.too_many_segments);
}

static void
test_parses_query_parameters(void **state)
{
	struct api_request rq;

	assert_int_equal(
	    parse(&rq, "GET", "/api/rooms/r/messages?since=5&limit=10&&q=a+b%2Bc&flag", NULL),
	    API_PERR_NONE);
	assert_int_equal(rq.nparam, 4);
	assert_string_equal(api_request_query(&rq, "since"), "5");
	assert_string_equal(api_request_query(&rq, "limit"), "10");
	assert_string_equal(api_request_query(&rq, "q"), "a b+c");
	assert_string_equal(api_request_query(&rq, "flag"), "");
	assert_null(api_request_query(&rq, "before"));
	assert_int_equal(parse(&rq, "GET", "/api?", NULL), API_PERR_NONE);
	assert_int_equal(rq.nparam, 0);
	/* docs/api.md: empty parts between separators name nothing and are skipped (200), an empty
	 * name is refused (400, test_refuses_bad_queries). */
	assert_int_equal(parse(&rq, "GET", "/api?&limit=2&", NULL), API_PERR_NONE);
	assert_int_equal(rq.nparam, 1);
	assert_string_equal(api_request_query(&rq, "limit"), "2");
}

static void
test_refuses_bad_queries(void **state)
{
	struct api_request rq;
	char uri[512] = "/api?";
	char big[API_QUERY_VALUE_MAX + 20];

	assert_int_equal(parse(&rq, "GET", "/api?a=1&a=2", NULL), API_PERR_QUERY);
	assert_int_equal(parse(&rq, "GET", "/api?=1", NULL), API_PERR_QUERY);
	for (int i = 0; i <= API_QUERY_PARAMS_MAX; i++) {
		char kv[16];

		snprintf(kv, sizeof(kv), "k%d=1&", i);
		strcat(uri, kv);
	}
	assert_int_equal(parse(&rq, "GET", uri, NULL), API_PERR_QUERY);
	strcpy(big, "/api?a=");
	memset(big + 7, 'x', API_QUERY_VALUE_MAX + 1);
	big[7 + API_QUERY_VALUE_MAX + 1] = '\0';
	assert_int_equal(parse(&rq, "GET", big, NULL), API_PERR_QUERY);
	big[7 + API_QUERY_VALUE_MAX] = '\0';
	assert_int_equal(parse(&rq, "GET", big, NULL), API_PERR_NONE);
}

static void
test_content_length_is_checked_against_the_body_limit(void **state)
{
	struct api_request rq;

	assert_int_equal(parse(&rq, "POST", "/api/rooms", "16384"), API_PERR_NONE);
	assert_true(rq.has_length);
	assert_int_equal(rq.content_length, API_BODY_MAX);
	assert_int_equal(parse(&rq, "POST", "/api/rooms", ""), API_PERR_NONE);
	assert_false(rq.has_length);
	assert_int_equal(parse(&rq, "POST", "/api/rooms", "16385"), API_PERR_TOO_LARGE);
	assert_int_equal(parse(&rq, "POST", "/api/rooms", "99999999999"), API_PERR_TOO_LARGE);
	assert_int_equal(parse(&rq, "POST", "/api/rooms", "-1"), API_PERR_LENGTH);
	assert_int_equal(parse(&rq, "POST", "/api/rooms", "12x"), API_PERR_LENGTH);
	assert_int_equal(parse(&rq, "POST", "/api/rooms", " 12"), API_PERR_LENGTH);
	assert_int_equal(parse(&rq, "POST", "/api/rooms", "99999999999999999999"), API_PERR_LENGTH);
}

static void
test_parse_uint(void **state)
{
	uint64_t v = 7;

	assert_true(api_parse_uint("0", 10, &v));
	assert_int_equal(v, 0);
	assert_true(api_parse_uint("500", 500, &v));
	assert_int_equal(v, 500);
	assert_false(api_parse_uint("501", 500, &v));
	assert_false(api_parse_uint("", 500, &v));
	assert_false(api_parse_uint("+1", 500, &v));
	assert_false(api_parse_uint("1.0", 500, &v));
	assert_false(api_parse_uint(NULL, 500, &v));
	assert_int_equal(v, 500);
}

static void
test_perr_maps_to_status_and_code(void **state)
{
	assert_int_equal(api_perr_status(API_PERR_PCT), 400);
	assert_string_equal(api_perr_code(API_PERR_PCT), "invalid_request");
	assert_int_equal(api_perr_status(API_PERR_FORBIDDEN), 400);
	assert_int_equal(api_perr_status(API_PERR_URI_LONG), 414);
	assert_string_equal(api_perr_code(API_PERR_URI_LONG), "uri_too_long");
	assert_int_equal(api_perr_status(API_PERR_TOO_LARGE), 413);
	assert_string_equal(api_perr_code(API_PERR_TOO_LARGE), "payload_too_large");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parses_path_into_decoded_segments),
	    cmocka_unit_test(test_trailing_slash_adds_no_segment),
	    cmocka_unit_test(test_methods_are_recognised_and_checked),
	    cmocka_unit_test(test_refuses_malformed_percent_encoding),
	    cmocka_unit_test(test_refuses_cr_lf_nul_raw_or_encoded),
	    cmocka_unit_test(test_refuses_odd_uris),
	    cmocka_unit_test(test_too_many_segments_is_flagged),
	    cmocka_unit_test(test_parses_query_parameters),
	    cmocka_unit_test(test_refuses_bad_queries),
	    cmocka_unit_test(test_content_length_is_checked_against_the_body_limit),
	    cmocka_unit_test(test_parse_uint),
	    cmocka_unit_test(test_perr_maps_to_status_and_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
