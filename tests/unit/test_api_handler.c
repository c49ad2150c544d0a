/* test_api_handler.c — madang-api's endpoint logic (api_handle) with the broker and the request
 * body reached through plain functions: response shapes, error statuses and codes, the admin-token
 * rules, body limits, response headers, metrics text and the embedded OpenAPI document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../rest-fcgi/api.h"
#include "../../rest-fcgi/openapi.h"
#include "apifake.h"

struct t {
	struct api_config cfg;
	struct api_metrics metrics;
	struct fake_broker broker;
	struct fake_body body;
	struct api_input in;
	struct api_response r;
	char text[65536];
};

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	api_metrics_init(&t->metrics, 0, 4);
	t->cfg.metrics = &t->metrics;
	t->in.call = fake_call;
	t->in.call_arg = &t->broker;
	t->in.read_body = fake_read;
	t->in.read_arg = &t->body;
	api_response_init(&t->r);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;

	api_response_fini(&t->r);
	free(t);
	return 0;
}

/* Runs one request; the body (if any) becomes t->text. */
static void
run(struct t *t, const char *method, const char *uri)
{
	api_response_fini(&t->r);
	api_response_init(&t->r);
	t->in.method = method;
	t->in.uri = uri;
	api_handle(&t->cfg, &t->in, &t->r);
	snprintf(t->text, sizeof(t->text), "%.*s", (int)t->r.body.len,
	         t->r.body.data != NULL ? t->r.body.data : "");
}

static void
set_body(struct t *t, const char *type, const char *data, bool with_length)
{
	static char len[32];

	t->body.data = data;
	t->body.len = strlen(data);
	t->body.off = 0;
	t->body.chunk = 7; /* short reads must be handled */
	t->in.content_type = type;
	snprintf(len, sizeof(len), "%zu", t->body.len);
	t->in.content_length = with_length ? len : NULL;
}

static void
test_rooms_has_exactly_the_original_shape(void **state)
{
	struct t *t = *state;

	t->broker.reply =
	    "{\"ok\":true,\"rooms\":[{\"id\":\"room1\",\"name\":\"일반 대화\","
	    "\"users_count\":2,\"extra\":1},{\"id\":\"r2\",\"name\":\"B\",\"users_count\":0}]}";
	run(t, "GET", "/api/rooms");
	assert_int_equal(t->r.status, 200);
	assert_string_equal(t->r.content_type, "application/json; charset=utf-8");
	assert_string_equal(
	    t->text, "{\"rooms\":[{\"id\":\"room1\",\"name\":\"일반 대화\",\"users_count\":2},"
	             "{\"id\":\"r2\",\"name\":\"B\",\"users_count\":0}]}");
	assert_string_equal(t->broker.last, "{\"op\":\"list_rooms\"}");
	assert_int_equal(t->r.route, API_R_ROOMS);
}

static void
test_malformed_broker_replies_are_502(void **state)
{
	struct t *t = *state;

	t->broker.reply = "{\"ok\":true,\"rooms\":[{\"id\":\"room1\"}]}";
	run(t, "GET", "/api/rooms");
	assert_int_equal(t->r.status, 502);
	assert_string_equal(t->text,
	                    "{\"error\":\"bad_gateway\",\"message\":\"the chat broker sent a "
	                    "malformed room\"}");
	t->broker.reply = "{\"rooms\":[]}"; /* no "ok" */
	run(t, "GET", "/api/rooms");
	assert_int_equal(t->r.status, 502);
	t->broker.result = API_CALL_BAD_REPLY;
	run(t, "GET", "/api/health");
	assert_int_equal(t->r.status, 502);
	assert_int_equal(atomic_load(&t->metrics.broker_bad_replies), 2);
}

/* GET /api/health passes the broker's health reply on, with the role and term a broker on a
 * PostgreSQL store adds; a broker that says it is not the active one is 503. */
static void
test_health_has_role_and_term(void **state)
{
	struct t *t = *state;

	t->broker.reply = "{\"ok\":true,\"status\":\"ok\",\"epoch\":\"e1\",\"role\":\"active\","
	                  "\"term\":7}";
	run(t, "GET", "/api/health");
	assert_int_equal(t->r.status, 200);
	assert_string_equal(t->broker.last, "{\"op\":\"health\"}");
	assert_string_equal(t->text, "{\"status\":\"ok\",\"broker\":{\"status\":\"ok\",\"epoch\":"
	                             "\"e1\",\"role\":\"active\",\"term\":7}}");
	t->broker.reply = "{\"ok\":true,\"status\":\"ok\",\"role\":\"standby\",\"term\":7}";
	run(t, "GET", "/api/health");
	assert_int_equal(t->r.status, 503);
	assert_true(t->r.retry_after);
	assert_string_equal(t->text, "{\"error\":\"broker_unavailable\",\"message\":\"no active "
	                             "chat broker answered; try again\"}");
}

static void
test_broker_down_is_503_with_retry_after(void **state)
{
	struct t *t = *state;
	struct sbuf h;

	t->broker.result = API_CALL_UNAVAILABLE;
	run(t, "GET", "/api/rooms/room1");
	assert_int_equal(t->r.status, 503);
	assert_string_equal(t->text,
	                    "{\"error\":\"broker_unavailable\",\"message\":\"the chat broker "
	                    "did not answer in time; try again\"}");
	assert_true(t->r.retry_after);
	sbuf_init(&h);
	api_response_head(&t->cfg, &t->r, &h);
	sbuf_addc(&h, '\0');
	assert_non_null(strstr(h.data, "Status: 503 Service Unavailable\r\n"));
	assert_non_null(strstr(h.data, "Retry-After: 1\r\n"));
	sbuf_fini(&h);
	assert_int_equal(atomic_load(&t->metrics.broker_unavailable), 1);
}

static void
test_broker_errors_map_to_statuses(void **state)
{
	static const struct {
		const char *code;
		int status;
		const char *want;
	} cases[] = {
	    {"no_such_room", 404, "{\"error\":\"no_such_room\",\"message\":\"m\"}"},
	    {"room_exists", 409, "{\"error\":\"room_exists\",\"message\":\"m\"}"},
	    {"too_many_rooms", 409, "{\"error\":\"too_many_rooms\",\"message\":\"m\"}"},
	    {"forbidden", 403, "{\"error\":\"forbidden\",\"message\":\"m\"}"},
	    {"invalid_argument", 400, "{\"error\":\"invalid_argument\",\"message\":\"m\"}"},
	    {"internal", 502, "{\"error\":\"broker_error\",\"message\":\"m\"}"},
	    {"unknown_op", 502, "{\"error\":\"broker_error\",\"message\":\"m\"}"},
	};
	struct t *t = *state;
	char reply[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(reply, sizeof(reply), "{\"ok\":false,\"error\":\"%s\",\"message\":\"m\"}",
		         cases[i].code);
		t->broker.reply = reply;
		run(t, "GET", "/api/rooms/room9");
		assert_int_equal(t->r.status, cases[i].status);
		assert_string_equal(t->text, cases[i].want);
	}
}

static void
test_room_detail_shape(void **state)
{
	struct t *t = *state;

	t->broker.reply = "{\"ok\":true,\"room\":{\"seq\":3,\"id\":\"room1\",\"name\":\"n\","
	                  "\"users_count\":1,\"members\":[\"alice\"],\"secret\":1}}";
	run(t, "GET", "/api/rooms/room1");
	assert_int_equal(t->r.status, 200);
	assert_string_equal(t->text, "{\"id\":\"room1\",\"name\":\"n\",\"users_count\":1,"
	                             "\"members\":[\"alice\"],\"seq\":3,\"slow_mode_s\":0}");
	assert_string_equal(t->broker.last, "{\"op\":\"get_room\",\"room_id\":\"room1\"}");
}

static void
test_messages_arguments_reach_the_broker(void **state)
{
	struct t *t = *state;

	t->broker.reply = "{\"ok\":true,\"room_id\":\"r\",\"epoch\":\"e\",\"first_seq\":9,"
	                  "\"last_seq\":9,\"complete\":true,\"events\":[{\"seq\":9}]}";
	run(t, "GET", "/api/rooms/r/messages");
	assert_int_equal(t->r.status, 200);
	assert_string_equal(
	    t->broker.last,
	    "{\"op\":\"history\",\"room_id\":\"r\",\"limit\":50,\"max_bytes\":262144}");
	assert_string_equal(t->text,
	                    "{\"room_id\":\"r\",\"epoch\":\"e\",\"first_seq\":9,\"last_seq\":9,"
	                    "\"complete\":true,\"events\":[{\"seq\":9}]}");
	run(t, "GET", "/api/rooms/r/messages?since=4&limit=500");
	assert_string_equal(t->broker.last, "{\"op\":\"history\",\"room_id\":\"r\",\"after_seq\":4,"
	                                    "\"limit\":500,\"max_bytes\":262144}");
	run(t, "GET", "/api/rooms/r/messages?before=8&limit=1&_=cachebuster");
	assert_string_equal(t->broker.last, "{\"op\":\"history\",\"room_id\":\"r\",\"before_seq\":"
	                                    "8,\"limit\":1,\"max_bytes\":262144}");
}

static void
test_bad_messages_arguments_are_400_without_a_broker_call(void **state)
{
	static const char *const uris[] = {
	    "/api/rooms/r/messages?limit=0",   "/api/rooms/r/messages?limit=501",
	    "/api/rooms/r/messages?limit=",    "/api/rooms/r/messages?since=-1",
	    "/api/rooms/r/messages?since=1.5", "/api/rooms/r/messages?since=9007199254740992",
	    "/api/rooms/r/messages?before=0",  "/api/rooms/r/messages?since=1&before=2",
	};
	struct t *t = *state;

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		run(t, "GET", uris[i]);
		assert_int_equal(t->r.status, 400);
		assert_non_null(strstr(t->text, "\"error\":\"invalid_argument\""));
	}
	assert_int_equal(t->broker.calls, 0);
}

static void
test_parse_and_route_errors(void **state)
{
	struct t *t = *state;

	run(t, "GET", "/api/nope");
	assert_int_equal(t->r.status, 404);
	assert_string_equal(t->text,
	                    "{\"error\":\"not_found\",\"message\":\"no such API endpoint\"}");
	run(t, "PUT", "/api/rooms");
	assert_int_equal(t->r.status, 405);
	assert_string_equal(t->r.allow, "GET, HEAD, POST, OPTIONS");
	run(t, "GET", "/api/rooms/a%0d%0aX:1");
	assert_int_equal(t->r.status, 400);
	assert_string_equal(t->text, "{\"error\":\"invalid_request\",\"message\":\"path decodes to "
	                             "NUL, CR, LF or invalid UTF-8\"}");
	run(t, "GET", "/api/rooms/a%zz");
	assert_int_equal(t->r.status, 400);
	run(t, "GET", "/api/rooms/bad!");
	assert_int_equal(t->r.status, 400);
	assert_null(strstr(t->text, "internal"));
	run(t, "GET", NULL);
	assert_int_equal(t->r.status, 400);
	assert_int_equal(t->broker.calls, 0);
}

static void
test_post_creates_a_room(void **state)
{
	struct t *t = *state;

	t->broker.reply =
	    "{\"ok\":true,\"room\":{\"id\":\"jazz\",\"name\":\"Jazz\",\"users_count\":0}}";
	set_body(t, "application/json", "{\"id\":\"jazz\",\"name\":\"Jazz\"}", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(t->text, "{\"id\":\"jazz\",\"name\":\"Jazz\",\"users_count\":0}");
	assert_string_equal(t->r.location, "/api/rooms/jazz");
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"create_room\",\"room_id\":\"jazz\",\"name\":\"Jazz\"}");
	/* without CONTENT_LENGTH the body is read to its end; the name defaults to the id */
	set_body(t, "application/json; charset=utf-8", "{\"id\":\"jazz\"}", false);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"create_room\",\"room_id\":\"jazz\",\"name\":\"jazz\"}");
}

/* Room names follow the nickname rules: trimmed, NFC, nothing invisible (issue 25). */
static void
test_post_sends_the_canonical_room_name(void **state)
{
	struct t *t = *state;

	t->broker.reply =
	    "{\"ok\":true,\"room\":{\"id\":\"cafe\",\"name\":\"x\",\"users_count\":0}}";
	/* " Cafe\u0301 " (decomposed) goes to the broker as "Caf\u00e9" */
	set_body(t, "application/json", "{\"id\":\"cafe\",\"name\":\" Cafe\\u0301 \"}", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"create_room\",\"room_id\":\"cafe\",\"name\":\"Caf\u00e9\"}");
	int calls = t->broker.calls;
	const char *bad[] = {
	    "{\"id\":\"x\",\"name\":\"Jazz\\u202e\"}", "{\"id\":\"x\",\"name\":\"\\u2800\"}",
	    "{\"id\":\"x\",\"name\":\"a\\u200bb\"}", "{\"id\":\"x\",\"name\":\"a\\ufe0f\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_body(t, "application/json", bad[i], true);
		run(t, "POST", "/api/rooms");
		assert_int_equal(t->r.status, 400);
		assert_non_null(strstr(t->text, "\"error\":\"invalid_argument\""));
	}
	assert_int_equal(t->broker.calls, calls);
}

static void
test_post_refuses_bad_bodies(void **state)
{
	struct t *t = *state;
	static char big[API_BODY_MAX + 2];

	set_body(t, "text/plain", "{\"id\":\"jazz\"}", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 415);
	set_body(t, NULL, "{\"id\":\"jazz\"}", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 415);
	set_body(t, "application/jsonx", "{\"id\":\"jazz\"}", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 415);
	set_body(t, "application/json", "{\"id\":", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 400);
	assert_non_null(strstr(t->text, "\"error\":\"invalid_request\""));
	set_body(t, "application/json", "[\"jazz\"]", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 400);
	set_body(t, "application/json", "{\"id\":\"a b\"}", true);
	run(t, "POST", "/api/rooms");
	assert_string_equal(t->text, "{\"error\":\"invalid_argument\",\"message\":\"id must match "
	                             "[A-Za-z0-9_-]{1,64}\"}");
	set_body(t, "application/json", "{\"id\":\"ab\",\"name\":5}", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 400);
	set_body(t, "application/json", "{\"id\":\"ab\",\"name\":\"\"}", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 400);
	set_body(t, "application/json", "{\"id\":\"ab\",\"name\":\"a\\u0007b\"}", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 400);
	/* a body shorter than its CONTENT_LENGTH */
	set_body(t, "application/json", "{\"id\":\"ab\"}", true);
	t->in.content_length = "100";
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 400);
	/* an unreadable body */
	set_body(t, "application/json", "{\"id\":\"ab\"}", true);
	t->body.fail = true;
	run(t, "POST", "/api/rooms");
	t->body.fail = false;
	assert_int_equal(t->r.status, 400);
	/* over 16 KiB: by CONTENT_LENGTH, and without one */
	memset(big, ' ', sizeof(big) - 1);
	set_body(t, "application/json", big, true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 413);
	assert_string_equal(t->text, "{\"error\":\"payload_too_large\",\"message\":\"request body "
	                             "over 16 KiB\"}");
	assert_int_equal(t->body.off, t->body.len); /* drained */
	set_body(t, "application/json", big, false);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 413);
	assert_int_equal(t->broker.calls, 0);
}

static void
test_admin_token_rules(void **state)
{
	struct t *t = *state;

	t->broker.reply = "{\"ok\":true}";
	run(t, "DELETE", "/api/rooms/jazz");
	assert_int_equal(t->r.status, 403); /* no token configured: DELETE is off */
	assert_int_equal(t->broker.calls, 0);
	t->cfg.admin_token = "0123456789abcdef-token";
	run(t, "DELETE", "/api/rooms/jazz");
	assert_int_equal(t->r.status, 401);
	assert_true(t->r.www_authenticate);
	t->in.authorization = "Bearer 0123456789abcdef-tokeN";
	run(t, "DELETE", "/api/rooms/jazz");
	assert_int_equal(t->r.status, 401);
	t->in.authorization = "Basic 0123456789abcdef-token";
	run(t, "DELETE", "/api/rooms/jazz");
	assert_int_equal(t->r.status, 401);
	set_body(t, "application/json", "{\"id\":\"jazz\"}", true);
	run(t, "POST", "/api/rooms");
	assert_int_equal(t->r.status, 401); /* a configured token guards POST too */
	assert_int_equal(t->broker.calls, 0);
	t->in.authorization = "bearer  0123456789abcdef-token ";
	run(t, "DELETE", "/api/rooms/jazz");
	assert_int_equal(t->r.status, 204);
	assert_null(t->r.content_type);
	assert_int_equal(t->r.body.len, 0);
	assert_string_equal(t->broker.last, "{\"op\":\"delete_room\",\"room_id\":\"jazz\"}");
}

/* With --jwt-secret-file a room's members and history need a valid token (issue 25, finding 2);
 * the room list stays open; --public-reads opens them again. */
static void
test_reads_need_a_token_when_jwt_is_on(void **state)
{
	struct t *t = *state;
	static struct jwt_secret secret;
	static struct jwt_secret other;
	char *tok, *forged, auth[JWT_MAX_LEN + 16], bad[JWT_MAX_LEN + 16];

	memset(secret.key, 'k', 40);
	secret.len = 40;
	memset(other.key, 'o', 40);
	other.len = 40;
	tok = jwt_mint(&secret, "alice", false, (int64_t)time(NULL), 600);
	forged = jwt_mint(&other, "alice", false, (int64_t)time(NULL), 600);
	assert_non_null(tok);
	assert_non_null(forged);
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	snprintf(bad, sizeof(bad), "Bearer %s", forged);
	t->cfg.jwt = &secret;
	t->cfg.reads_need_token = true;
	t->broker.reply =
	    "{\"ok\":true,\"room_id\":\"room1\",\"events\":[],\"room\":{\"id\":\"room1\","
	    "\"name\":\"x\",\"users_count\":0,\"members\":[]},\"rooms\":[]}";
	const char *paths[] = {"/api/rooms/room1/messages", "/api/rooms/room1"};
	for (size_t i = 0; i < 2; i++) {
		t->in.authorization = NULL;
		run(t, "GET", paths[i]);
		assert_int_equal(t->r.status, 401);
		assert_true(t->r.www_authenticate);
		assert_string_equal(t->text,
		                    "{\"error\":\"unauthorized\",\"message\":\"reading a room "
		                    "needs Authorization: Bearer <token>\"}");
		run(t, "HEAD", paths[i]);
		assert_int_equal(t->r.status, 401);
		t->in.authorization = bad;
		run(t, "GET", paths[i]);
		assert_int_equal(t->r.status, 401);
		t->in.authorization = "Bearer not.a.token";
		run(t, "GET", paths[i]);
		assert_int_equal(t->r.status, 401);
		assert_int_equal(t->broker.calls, 0);
		t->in.authorization = auth;
		run(t, "GET", paths[i]);
		assert_int_equal(t->r.status, 200);
		assert_int_equal(t->broker.calls, 1);
		t->broker.calls = 0;
	}
	t->in.authorization = NULL;
	run(t, "GET", "/api/rooms"); /* the lobby stays open */
	assert_int_equal(t->r.status, 200);
	t->cfg.admin_token = "0123456789abcdef-token"; /* the admin token may read too */
	t->in.authorization = "Bearer 0123456789abcdef-token";
	run(t, "GET", "/api/rooms/room1/messages");
	assert_int_equal(t->r.status, 200);
	t->cfg.reads_need_token = false; /* --public-reads */
	t->in.authorization = NULL;
	run(t, "GET", "/api/rooms/room1/messages");
	assert_int_equal(t->r.status, 200);
	free(tok);
	free(forged);
}

/* A broker history reply of n events (seqs from..from+n-1) of about size bytes each. */
static char *
history_reply(int from, int n, size_t size, int first_seq, int last_seq)
{
	size_t cap = (size_t)n * (size + 128) + 256, len;
	char *out = malloc(cap), *text = malloc(size + 1);

	assert_non_null(out);
	assert_non_null(text);
	memset(text, 'x', size);
	text[size] = '\0';
	len = (size_t)snprintf(out, cap,
	                       "{\"ok\":true,\"room_id\":\"r\",\"epoch\":\"0123456789abcdef\","
	                       "\"first_seq\":%d,\"last_seq\":%d,\"complete\":true,\"events\":[",
	                       first_seq, last_seq);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, cap - len,
		                        "%s{\"type\":\"message\",\"room_id\":\"r\",\"seq\":%d,"
		                        "\"message\":\"%s\"}",
		                        i ? "," : "", from + i, text);
	snprintf(out + len, cap - len, "]}");
	free(text);
	return out;
}

/* REST history is paged by bytes as well as by count (issue 25, finding 4): ?limit=500 of 4 KB
 * messages gave 1.97 MB per GET. */
static void
test_messages_are_cut_at_the_byte_cap_with_a_cursor(void **state)
{
	struct t *t = *state;
	char *reply = history_reply(1, 10, 4000, 1, 10);
	cJSON *page;

	t->cfg.history_max_bytes = 16384;
	t->broker.reply = reply;
	run(t, "GET", "/api/rooms/r/messages?since=0&limit=500");
	assert_int_equal(t->r.status, 200);
	assert_true(strlen(t->text) < 16384 + 512);
	assert_non_null(strstr(t->broker.last, "\"max_bytes\":16384"));
	assert_non_null(page = cJSON_Parse(t->text));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")), 4);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(page, "truncated")));
	assert_int_equal(cJSON_GetObjectItem(page, "next_since")->valueint, 4);
	assert_int_equal(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(page, "events"), 0)->child->next->next->valueint,
	    1);
	cJSON_Delete(page);
	/* newest first (no since): the newest events are kept, the cursor points before them */
	run(t, "GET", "/api/rooms/r/messages?limit=500");
	assert_non_null(page = cJSON_Parse(t->text));
	cJSON *ev = cJSON_GetObjectItem(page, "events");
	assert_int_equal(cJSON_GetArraySize(ev), 4);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ev, 0), "seq")->valueint, 7);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ev, 3), "seq")->valueint, 10);
	assert_int_equal(cJSON_GetObjectItem(page, "next_before")->valueint, 7);
	assert_null(cJSON_GetObjectItem(page, "next_since"));
	cJSON_Delete(page);
	free(reply);
	/* one event larger than the cap still goes out alone: a page always makes progress */
	reply = history_reply(5, 2, 20000, 1, 6);
	t->broker.reply = reply;
	run(t, "GET", "/api/rooms/r/messages?since=4");
	assert_non_null(page = cJSON_Parse(t->text));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "events")), 1);
	assert_int_equal(cJSON_GetObjectItem(page, "next_since")->valueint, 5);
	cJSON_Delete(page);
	free(reply);
	/* the broker cut the page itself (fewer than limit while the room has more) */
	reply = history_reply(3, 2, 10, 1, 9);
	t->broker.reply = reply;
	run(t, "GET", "/api/rooms/r/messages?since=2&limit=50");
	assert_non_null(page = cJSON_Parse(t->text));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(page, "truncated")));
	assert_int_equal(cJSON_GetObjectItem(page, "next_since")->valueint, 4);
	cJSON_Delete(page);
	free(reply);
	/* everything fits: the reply is exactly as before, no cursor */
	reply = history_reply(1, 3, 10, 1, 3);
	t->broker.reply = reply;
	run(t, "GET", "/api/rooms/r/messages");
	assert_null(strstr(t->text, "truncated"));
	assert_null(strstr(t->text, "next_"));
	assert_non_null(strstr(t->text, "\"complete\":true,\"events\":[{"));
	free(reply);
}

static void
test_bearer_compare(void **state)
{
	assert_true(api_bearer_ok("Bearer abc", "abc"));
	assert_true(api_bearer_ok("BEARER abc", "abc"));
	assert_false(api_bearer_ok("Bearer abcd", "abc"));
	assert_false(api_bearer_ok("Bearer ab", "abc"));
	assert_false(api_bearer_ok("Bearerabc", "abc"));
	assert_false(api_bearer_ok("Bearer ", "abc"));
	assert_false(api_bearer_ok(NULL, "abc"));
}

static void
test_options_head_and_cors_headers(void **state)
{
	struct t *t = *state;
	struct sbuf h;

	t->cfg.cors_origin = "https://chat.example";
	run(t, "OPTIONS", "/api/rooms/room1");
	assert_int_equal(t->r.status, 204);
	assert_string_equal(t->r.allow, "GET, HEAD, DELETE, PATCH, OPTIONS");
	sbuf_init(&h);
	api_response_head(&t->cfg, &t->r, &h);
	sbuf_addc(&h, '\0');
	assert_string_equal(h.data, "Status: 204 No Content\r\n"
	                            "Cache-Control: no-store\r\n"
	                            "X-Content-Type-Options: nosniff\r\n"
	                            "Allow: GET, HEAD, DELETE, PATCH, OPTIONS\r\n"
	                            "Access-Control-Allow-Origin: https://chat.example\r\n"
	                            "Vary: Origin\r\n"
	                            "Access-Control-Allow-Methods: GET, HEAD, DELETE, PATCH, "
	                            "OPTIONS\r\n"
	                            "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
	                            "Access-Control-Max-Age: 600\r\n"
	                            "\r\n");
	sbuf_fini(&h);
	t->broker.reply = "{\"ok\":true,\"status\":\"ok\",\"epoch\":\"e\"}";
	run(t, "HEAD", "/api/health");
	assert_int_equal(t->r.status, 200);
	assert_true(t->r.head);
	assert_string_equal(t->text,
	                    "{\"status\":\"ok\",\"broker\":{\"status\":\"ok\",\"epoch\":\"e\"}}");
	assert_int_equal(t->broker.calls, 1);
}

static void
test_metrics_text(void **state)
{
	struct t *t = *state;

	api_metrics_observe(&t->metrics, API_R_ROOMS, 200, 300000);      /* 0.3 ms */
	api_metrics_observe(&t->metrics, API_R_ROOMS, 503, 3000000000u); /* 3 s */
	api_metrics_observe(&t->metrics, API_R_NONE, 404, 2000000);      /* 2 ms */
	t->broker.reply = "{\"ok\":true,\"epoch\":\"e\",\"uptime_ms\":1500,\"rooms\":4,"
	                  "\"members\":2,\"counters\":{\"messages\":7,\"Bad-Key\":1,\"drops\":0}}";
	run(t, "GET", "/api/metrics");
	assert_int_equal(t->r.status, 200);
	assert_string_equal(t->r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(
	    strstr(t->text, "\nmadang_api_requests_total{route=\"rooms\",class=\"2xx\"} 1\n"));
	assert_non_null(
	    strstr(t->text, "\nmadang_api_requests_total{route=\"rooms\",class=\"5xx\"} 1\n"));
	assert_non_null(
	    strstr(t->text, "\nmadang_api_requests_total{route=\"other\",class=\"4xx\"} 1\n"));
	assert_non_null(
	    strstr(t->text, "\nmadang_api_request_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
	assert_non_null(
	    strstr(t->text, "\nmadang_api_request_duration_seconds_bucket{le=\"0.0025\"} 2\n"));
	assert_non_null(
	    strstr(t->text, "\nmadang_api_request_duration_seconds_bucket{le=\"2.5\"} 2\n"));
	assert_non_null(
	    strstr(t->text, "\nmadang_api_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(t->text, "\nmadang_api_request_duration_seconds_count 3\n"));
	assert_non_null(strstr(t->text, "\nmadang_broker_up 1\n"));
	assert_non_null(strstr(t->text, "\nmadang_broker_uptime_seconds 1.500\n"));
	assert_non_null(strstr(t->text, "\nmadang_broker_rooms 4\n"));
	assert_non_null(strstr(t->text, "\nmadang_broker_members 2\n"));
	assert_non_null(strstr(t->text, "\nmadang_broker_messages_total 7\n"));
	assert_non_null(strstr(t->text, "\nmadang_broker_drops_total 0\n"));
	assert_null(strstr(t->text, "Bad-Key"));
	assert_null(strstr(t->text, "madang_broker_ok"));
	t->broker.result = API_CALL_UNAVAILABLE;
	run(t, "GET", "/api/metrics");
	assert_int_equal(t->r.status, 200);
	assert_non_null(strstr(t->text, "\nmadang_broker_up 0\n"));
	assert_null(strstr(t->text, "madang_broker_rooms"));
}

static void
test_openapi_document_is_served_and_complete(void **state)
{
	static const char *const paths[] = {"/api/rooms",
	                                    "/api/rooms/{id}",
	                                    "/api/rooms/{id}/messages",
	                                    "/api/health",
	                                    "/api/metrics",
	                                    "/api/openapi.json",
	                                    "/api/rooms/{id}/kicks",
	                                    "/api/rooms/{id}/bans",
	                                    "/api/rooms/{id}/bans/{user}",
	                                    "/api/rooms/{id}/mutes",
	                                    "/api/rooms/{id}/mutes/{user}",
	                                    "/api/rooms/{id}/messages/{seq}",
	                                    "/api/rooms/{id}/audit"};
	struct t *t = *state;
	cJSON *doc;
	const cJSON *p;

	run(t, "GET", "/api/openapi.json");
	assert_int_equal(t->r.status, 200);
	assert_int_equal(t->r.body.len, api_openapi_json_len);
	doc = cJSON_Parse(t->text);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetObjectItem(doc, "openapi")->valuestring, "3.0.3");
	p = cJSON_GetObjectItem(doc, "paths");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_non_null(cJSON_GetObjectItem(p, paths[i]));
	assert_int_equal(cJSON_GetArraySize(p), sizeof(paths) / sizeof(paths[0]));
	cJSON_Delete(doc);
	assert_int_equal(t->broker.calls, 0);
}

/* Random URIs, methods, lengths, bodies and broker replies (fixed seed): every answer is a
 * complete response with a valid status and, for errors, a JSON error body; never a crash. */
static void
test_random_input_always_gets_a_well_formed_answer(void **state)
{
	static const char *const methods[] = {"GET", "HEAD", "POST",   "DELETE", "OPTIONS",
	                                      "PUT", "",     "G\x01T", "PATCH"};
	static const char *const replies[] = {
	    "{\"ok\":true}",
	    "{\"ok\":false}",
	    "{\"ok\":true,\"rooms\":{}}",
	    "{\"ok\":true,\"rooms\":[1,2]}",
	    "{\"ok\":true,\"room\":[]}",
	    "{\"ok\":true,\"events\":\"x\"}",
	    "{\"ok\":\"yes\"}",
	    "{\"ok\":false,\"error\":7,\"message\":null}",
	    "[]",
	};
	static const char alphabet[] = "/apirooms%0aAdD?&=+.-_~!#\r\n\x7f\xc3\xa9\xff 1";
	struct t *t = *state;
	char uri[96], body[64], len[8];
	unsigned seed = 12345;

	t->cfg.admin_token = "0123456789abcdef-token";
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand_r(&seed) % (sizeof(uri) - 1));
		size_t b = (size_t)(rand_r(&seed) % (sizeof(body) - 1));

		for (size_t k = 0; k < n; k++)
			uri[k] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		uri[n] = '\0';
		if (rand_r(&seed) % 2)
			memcpy(uri, "/api/rooms", n < 10 ? n : 10);
		for (size_t k = 0; k < b; k++)
			body[k] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		body[b] = '\0';
		snprintf(len, sizeof(len), "%d", (int)(rand_r(&seed) % 80) - 5);
		set_body(t, rand_r(&seed) % 2 ? "application/json" : "text/x", body,
		         rand_r(&seed) % 2);
		if (rand_r(&seed) % 3 == 0)
			t->in.content_length = len;
		t->in.authorization = rand_r(&seed) % 2 ? "Bearer 0123456789abcdef-token" : NULL;
		t->broker.result = (enum api_call_result)(rand_r(&seed) % 3);
		t->broker.reply = replies[rand_r(&seed) % (sizeof(replies) / sizeof(replies[0]))];
		run(t, methods[rand_r(&seed) % (sizeof(methods) / sizeof(methods[0]))], uri);
		assert_true(t->r.status >= 200 && t->r.status < 600);
		assert_true(t->r.status != 500);
		if (t->r.status >= 400) {
			cJSON *e = cJSON_Parse(t->text);

			assert_non_null(e);
			assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "error")));
			assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "message")));
			cJSON_Delete(e);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rooms_has_exactly_the_original_shape, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_broker_replies_are_502, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_health_has_role_and_term, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broker_down_is_503_with_retry_after, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_broker_errors_map_to_statuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_room_detail_shape, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_messages_arguments_reach_the_broker, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_messages_arguments_are_400_without_a_broker_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_and_route_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_post_creates_a_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_messages_are_cut_at_the_byte_cap_with_a_cursor,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reads_need_a_token_when_jwt_is_on, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_post_sends_the_canonical_room_name, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_post_refuses_bad_bodies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admin_token_rules, setup, teardown),
	    cmocka_unit_test(test_bearer_compare),
	    cmocka_unit_test_setup_teardown(test_options_head_and_cors_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_openapi_document_is_served_and_complete, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_random_input_always_gets_a_well_formed_answer,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
