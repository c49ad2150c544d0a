/* test_api_router.c — madang-api's routing table: which endpoint a path names, room-id checks,
 * 404 and 405 with the Allow list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../rest-fcgi/router.h"

static enum api_route_result
route(const char *method, const char *uri, struct api_route *rt)
{
	struct api_request rq;
	const char *why;

	assert_int_equal(api_request_parse(&rq, method, uri, NULL, &why), API_PERR_NONE);
	return api_route(&rq, rt);
}

static void
test_every_endpoint_is_routed(void **state)
{
	struct api_route rt;

	assert_int_equal(route("GET", "/api/rooms", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_ROOMS);
	assert_null(rt.room_id);
	assert_int_equal(route("POST", "/api/rooms/", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_ROOMS);
	assert_int_equal(route("GET", "/api/rooms/room_1-x", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_ROOM);
	assert_string_equal(rt.room_id, "room_1-x");
	assert_int_equal(route("DELETE", "/api/rooms/jazz", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_ROOM);
	assert_int_equal(route("GET", "/api/rooms/jazz/messages?limit=3", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_MESSAGES);
	assert_string_equal(rt.room_id, "jazz");
	assert_int_equal(route("HEAD", "/api/health", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_HEALTH);
	assert_int_equal(route("GET", "/api/metrics", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_METRICS);
	assert_int_equal(route("OPTIONS", "/api/openapi.json", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_OPENAPI);
}

static void
test_percent_encoded_path_is_routed_after_decoding(void **state)
{
	struct api_route rt;

	assert_int_equal(route("GET", "/%61pi/rooms/r%31", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_ROOM);
	assert_string_equal(rt.room_id, "r1");
}

static void
test_unknown_paths_are_not_found(void **state)
{
	struct api_route rt;

	assert_int_equal(route("GET", "/", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/api", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/api/", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/api/room", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/API/rooms", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/apix/rooms", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/x/api/rooms", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/api/rooms/a/b", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/api/rooms/a/kicks/x", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/api/rooms/a/audit/x", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("DELETE", "/api/rooms/a/bans/x/y", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(route("GET", "/api/rooms/a/b/c/d/e/f/g/h", &rt), API_ROUTE_NOT_FOUND);
	assert_int_equal(rt.id, API_R_NONE);
}

static void
test_invalid_room_ids_are_refused(void **state)
{
	struct api_route rt;
	char uri[128] = "/api/rooms/";

	assert_int_equal(route("GET", "/api/rooms/a%20b", &rt), API_ROUTE_BAD_ROOM_ID);
	assert_int_equal(rt.id, API_R_ROOM);
	assert_int_equal(route("GET", "/api/rooms/%ED%95%9C/messages", &rt), API_ROUTE_BAD_ROOM_ID);
	assert_int_equal(route("DELETE", "/api/rooms/a.b", &rt), API_ROUTE_BAD_ROOM_ID);
	memset(uri + 11, 'r', 65);
	uri[11 + 65] = '\0';
	assert_int_equal(route("GET", uri, &rt), API_ROUTE_BAD_ROOM_ID);
	uri[11 + 64] = '\0';
	assert_int_equal(route("GET", uri, &rt), API_ROUTE_OK);
}

static void
test_wrong_method_is_405_with_allow(void **state)
{
	struct api_route rt;
	char allow[64];

	assert_int_equal(route("PUT", "/api/rooms", &rt), API_ROUTE_BAD_METHOD);
	api_allow_string(rt.allow, allow, sizeof(allow));
	assert_string_equal(allow, "GET, HEAD, POST, OPTIONS");
	assert_int_equal(route("POST", "/api/rooms/room1", &rt), API_ROUTE_BAD_METHOD);
	api_allow_string(rt.allow, allow, sizeof(allow));
	assert_string_equal(allow, "GET, HEAD, DELETE, PATCH, OPTIONS");
	assert_int_equal(route("GET", "/api/rooms/room1/messages/7", &rt), API_ROUTE_BAD_METHOD);
	api_allow_string(rt.allow, allow, sizeof(allow));
	assert_string_equal(allow, "DELETE, OPTIONS");
	assert_int_equal(route("PATCH", "/api/rooms/room1/bans", &rt), API_ROUTE_BAD_METHOD);
	api_allow_string(rt.allow, allow, sizeof(allow));
	assert_string_equal(allow, "GET, HEAD, POST, DELETE, OPTIONS");
	assert_int_equal(route("GET", "/api/rooms/room1/kicks", &rt), API_ROUTE_BAD_METHOD);
	api_allow_string(rt.allow, allow, sizeof(allow));
	assert_string_equal(allow, "POST, OPTIONS");
	assert_int_equal(route("DELETE", "/api/health", &rt), API_ROUTE_BAD_METHOD);
	api_allow_string(rt.allow, allow, sizeof(allow));
	assert_string_equal(allow, "GET, HEAD, OPTIONS");
	assert_int_equal(route("BREW", "/api/metrics", &rt), API_ROUTE_BAD_METHOD);
	assert_int_equal(route("POST", "/api/rooms/room1/messages", &rt), API_ROUTE_BAD_METHOD);
}

/* The moderation endpoints (issue 26): {user} and {seq} come decoded in rt.arg, unchecked; the
 * room id is checked as everywhere. */
static void
test_moderation_endpoints_are_routed(void **state)
{
	struct api_route rt;

	assert_int_equal(route("PATCH", "/api/rooms/r1", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_ROOM);
	assert_int_equal(route("POST", "/api/rooms/r1/kicks", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_KICKS);
	assert_string_equal(rt.room_id, "r1");
	assert_null(rt.arg);
	assert_int_equal(route("GET", "/api/rooms/r1/bans", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_BANS);
	assert_int_equal(route("DELETE", "/api/rooms/r1/bans?subject=u-1", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_BANS);
	assert_int_equal(route("DELETE", "/api/rooms/r1/bans/%EB%AF%BC%EC%88%98", &rt),
	                 API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_BAN);
	assert_string_equal(rt.arg, "민수");
	assert_int_equal(route("POST", "/api/rooms/r1/mutes", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_MUTES);
	assert_int_equal(route("DELETE", "/api/rooms/r1/mutes/a%2Fb", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_MUTE);
	assert_string_equal(rt.arg, "a/b");
	assert_int_equal(route("DELETE", "/api/rooms/r1/messages/42", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_MESSAGE);
	assert_string_equal(rt.arg, "42");
	assert_int_equal(route("GET", "/api/rooms/r1/audit?limit=5", &rt), API_ROUTE_OK);
	assert_int_equal(rt.id, API_R_AUDIT);
	assert_int_equal(route("OPTIONS", "/api/rooms/r1/bans/bob", &rt), API_ROUTE_OK);
	assert_int_equal(route("DELETE", "/api/rooms/r.1/bans/bob", &rt), API_ROUTE_BAD_ROOM_ID);
	assert_int_equal(rt.id, API_R_BAN);
}

static void
test_route_names_for_metrics(void **state)
{
	assert_string_equal(api_route_name(API_R_BAN), "ban");
	assert_string_equal(api_route_name(API_R_AUDIT), "audit");
	assert_string_equal(api_route_name(API_R_ROOMS), "rooms");
	assert_string_equal(api_route_name(API_R_MESSAGES), "messages");
	assert_string_equal(api_route_name(API_R_OPENAPI), "openapi");
	assert_string_equal(api_route_name(API_R_NONE), "other");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_endpoint_is_routed),
	    cmocka_unit_test(test_percent_encoded_path_is_routed_after_decoding),
	    cmocka_unit_test(test_unknown_paths_are_not_found),
	    cmocka_unit_test(test_invalid_room_ids_are_refused),
	    cmocka_unit_test(test_wrong_method_is_405_with_allow),
	    cmocka_unit_test(test_moderation_endpoints_are_routed),
	    cmocka_unit_test(test_route_names_for_metrics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
