/* test_api_moderation.c — madang-api's moderation endpoints (issue 26, docs/api.md "Moderation")
 * through api_handle with the broker reached through a plain function: who the actor is, the
 * exact broker requests, the checks of paths, queries and bodies, the answers and the mapping of
 * the broker's refusals; a room's owner on POST /api/rooms and --user-rooms; who sees a room's
 * moderation settings. */
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

#define ADMIN_TOKEN "0123456789abcdef-token"

struct t {
	struct api_config cfg;
	struct api_metrics metrics;
	struct jwt_secret secret;
	struct fake_broker broker;
	struct fake_body body;
	struct api_input in;
	struct api_response r;
	char len[32];
	char alice[JWT_MAX_LEN + 16]; /* Bearer: name alice, sub u-17 */
	char root[JWT_MAX_LEN + 16];  /* Bearer: name root, sub u-1, admin */
	char text[65536];
};

static void
bearer(struct t *t, char *out, size_t size, const char *name, const char *sub, bool admin)
{
	char *tok = jwt_mint_sub(&t->secret, name, sub, admin, (int64_t)time(NULL), 600);

	assert_non_null(tok);
	snprintf(out, size, "Bearer %s", tok);
	free(tok);
}

/* Both kinds of credentials configured; the broker says ok. */
static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	api_metrics_init(&t->metrics, 0, 4);
	memset(t->secret.key, 'k', 40);
	t->secret.len = 40;
	t->cfg.metrics = &t->metrics;
	t->cfg.admin_token = ADMIN_TOKEN;
	t->cfg.jwt = &t->secret;
	t->in.call = fake_call;
	t->in.call_arg = &t->broker;
	t->in.read_body = fake_read;
	t->in.read_arg = &t->body;
	t->broker.reply = "{\"ok\":true}";
	bearer(t, t->alice, sizeof(t->alice), "alice", "u-17", false);
	bearer(t, t->root, sizeof(t->root), "root", "u-1", true);
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

/* Runs one request with body (NULL: none) of this content type. */
static void
run_as(struct t *t, const char *type, const char *method, const char *uri, const char *body)
{
	api_response_fini(&t->r);
	api_response_init(&t->r);
	t->broker.last[0] = '\0';
	t->body.data = body != NULL ? body : "";
	t->body.len = strlen(t->body.data);
	t->body.off = 0;
	snprintf(t->len, sizeof(t->len), "%zu", t->body.len);
	t->in.content_type = body != NULL ? type : NULL;
	t->in.content_length = body != NULL ? t->len : NULL;
	t->in.method = method;
	t->in.uri = uri;
	api_handle(&t->cfg, &t->in, &t->r);
	snprintf(t->text, sizeof(t->text), "%.*s", (int)t->r.body.len,
	         t->r.body.data != NULL ? t->r.body.data : "");
}

/* Runs one request with body (NULL: none) as application/json. */
static void
run(struct t *t, const char *method, const char *uri, const char *body)
{
	run_as(t, "application/json", method, uri, body);
}

/* status and the error code of the body */
static void
expect_error(struct t *t, int status, const char *code)
{
	char want[96];

	assert_int_equal(t->r.status, status);
	snprintf(want, sizeof(want), "{\"error\":\"%s\",\"message\":\"", code);
	if (strncmp(t->text, want, strlen(want)) != 0)
		fail_msg("want %d %s, got %s", status, code, t->text);
}

static void
test_moderation_is_disabled_without_credentials(void **state)
{
	struct t *t = *state;
	static const char *const uris[][2] = {
	    {"POST", "/api/rooms/r1/kicks"},    {"GET", "/api/rooms/r1/bans"},
	    {"DELETE", "/api/rooms/r1/bans/b"}, {"DELETE", "/api/rooms/r1/messages/3"},
	    {"PATCH", "/api/rooms/r1"},         {"GET", "/api/rooms/r1/audit"},
	};

	t->cfg.admin_token = NULL;
	t->cfg.jwt = NULL;
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		run(t, uris[i][0], uris[i][1], "{\"user\":\"bob\"}");
		assert_int_equal(t->r.status, 403);
		assert_string_equal(t->text, "{\"error\":\"forbidden\",\"message\":\"moderation is "
		                             "disabled: madang-api has neither --admin-token-file "
		                             "nor --jwt-secret-file\"}");
	}
	run(t, "OPTIONS", "/api/rooms/r1/bans", NULL); /* a preflight needs no credentials */
	assert_int_equal(t->r.status, 204);
	assert_string_equal(t->r.allow, "GET, HEAD, POST, DELETE, OPTIONS");
	assert_int_equal(t->broker.calls, 0);
}

static void
test_moderation_needs_a_valid_token(void **state)
{
	struct t *t = *state;
	struct jwt_secret other;
	char forged[JWT_MAX_LEN + 16];
	char *tok;

	run(t, "POST", "/api/rooms/r1/kicks", "{\"user\":\"bob\"}");
	assert_int_equal(t->r.status, 401);
	assert_true(t->r.www_authenticate);
	assert_string_equal(t->text, "{\"error\":\"unauthorized\",\"message\":\"moderation needs "
	                             "Authorization: Bearer <token>\"}");
	memset(other.key, 'o', 40);
	other.len = 40;
	tok = jwt_mint_sub(&other, "root", "u-1", true, (int64_t)time(NULL), 600);
	snprintf(forged, sizeof(forged), "Bearer %s", tok);
	free(tok);
	t->in.authorization = forged;
	run(t, "GET", "/api/rooms/r1/audit", NULL);
	assert_int_equal(t->r.status, 401);
	assert_string_equal(t->text, "{\"error\":\"unauthorized\",\"message\":\"the token is not "
	                             "valid (expired, or not ours)\"}");
	t->in.authorization = "Bearer wrong-token-0123456789";
	run(t, "DELETE", "/api/rooms/r1/messages/3", NULL);
	assert_int_equal(t->r.status, 401);
	t->in.authorization = "Basic YWxpY2U6eA==";
	run(t, "PATCH", "/api/rooms/r1", "{\"slow_mode_s\":5}");
	assert_int_equal(t->r.status, 401);
	assert_int_equal(t->broker.calls, 0);
}

/* The broker gets the actor: the admin token has no subject; a JWT gives its name, subject and
 * admin claim. The broker, not madang-api, decides whether that actor may. */
static void
test_the_actor_names_the_credentials(void **state)
{
	struct t *t = *state;

	t->in.authorization = "Bearer " ADMIN_TOKEN;
	run(t, "POST", "/api/rooms/r1/kicks", "{\"user\":\" bob \",\"reason\":\"spam\"}");
	assert_int_equal(t->r.status, 200);
	assert_string_equal(t->text, "{\"room_id\":\"r1\",\"user\":\"bob\"}");
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"kick\",\"room_id\":\"r1\",\"actor\":{\"name\":\"admin\","
	                    "\"admin\":true},\"user\":\"bob\",\"note\":\"spam\"}");
	t->in.authorization = t->alice;
	run(t, "POST", "/api/rooms/r1/kicks", "{\"user\":\"bob\"}");
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"kick\",\"room_id\":\"r1\",\"actor\":{\"name\":\"alice\","
	                    "\"subject\":\"u-17\",\"admin\":false},\"user\":\"bob\"}");
	t->in.authorization = t->root;
	run(t, "DELETE", "/api/rooms/r1/messages/42", NULL);
	assert_int_equal(t->r.status, 204);
	assert_null(t->r.content_type);
	assert_int_equal(t->r.body.len, 0);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"delete_message\",\"room_id\":\"r1\",\"actor\":{\"name\":"
	                    "\"root\",\"subject\":\"u-1\",\"admin\":true},\"seq\":42}");
}

static void
test_bans_and_mutes(void **state)
{
	struct t *t = *state;

	t->in.authorization = "Bearer " ADMIN_TOKEN;
	t->broker.reply = "{\"ok\":true,\"until\":\"2026-12-06T15:00:00.000Z\",\"kicked\":true}";
	run(t, "POST", "/api/rooms/r1/bans",
	    "{\"user\":\"bob\",\"duration_s\":3600,\"reason\":\"flood\"}");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(t->text,
	                    "{\"room_id\":\"r1\",\"user\":\"bob\",\"until\":\"2026-12-06T15:"
	                    "00:00.000Z\",\"kicked\":true}");
	assert_string_equal(
	    t->broker.last,
	    "{\"op\":\"ban\",\"room_id\":\"r1\",\"actor\":{\"name\":\"admin\","
	    "\"admin\":true},\"user\":\"bob\",\"duration_s\":3600,\"note\":\"flood\"}");
	t->broker.reply = "{\"ok\":true,\"until\":null,\"kicked\":false}";
	run(t, "POST", "/api/rooms/r1/bans", "{\"subject\":\"u-99\"}");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(
	    t->text, "{\"room_id\":\"r1\",\"subject\":\"u-99\",\"until\":null,\"kicked\":false}");
	t->broker.reply = "{\"ok\":true,\"until\":\"2026-12-06T15:00:00.000Z\"}";
	run(t, "POST", "/api/rooms/r1/mutes", "{\"user\":\"bob\",\"duration_s\":600}");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(t->text,
	                    "{\"room_id\":\"r1\",\"user\":\"bob\",\"until\":\"2026-12-06T15:"
	                    "00:00.000Z\"}");
	t->broker.reply = "{\"ok\":true}";
	run(t, "DELETE", "/api/rooms/r1/bans/%EB%AF%BC%EC%88%98", NULL);
	assert_int_equal(t->r.status, 204);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"unban\",\"room_id\":\"r1\",\"actor\":{\"name\":\"admin\","
	                    "\"admin\":true},\"user\":\"민수\"}");
	run(t, "DELETE", "/api/rooms/r1/bans?subject=u%2099", NULL);
	assert_int_equal(t->r.status, 204);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"unban\",\"room_id\":\"r1\",\"actor\":{\"name\":\"admin\","
	                    "\"admin\":true},\"subject\":\"u 99\"}");
	run(t, "DELETE", "/api/rooms/r1/mutes/bob", NULL);
	assert_int_equal(t->r.status, 204);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"unmute\",\"room_id\":\"r1\",\"actor\":{\"name\":\"admin\","
	                    "\"admin\":true},\"user\":\"bob\"}");
	t->broker.reply = "{\"ok\":true,\"bans\":[{\"user\":\"bob\",\"subject\":null,\"addr\":"
	                  "\"127.0.0.1\",\"until\":null,\"by\":\"admin\",\"note\":\"x\",\"time\":"
	                  "\"T\",\"secret\":1},{\"subject\":\"u-9\"}]}";
	run(t, "GET", "/api/rooms/r1/bans", NULL);
	assert_int_equal(t->r.status, 200);
	assert_string_equal(
	    t->text, "{\"room_id\":\"r1\",\"bans\":[{\"user\":\"bob\",\"subject\":null,\"addr\":"
	             "\"127.0.0.1\",\"until\":null,\"by\":\"admin\",\"note\":\"x\",\"time\":\"T\"},"
	             "{\"user\":null,\"subject\":\"u-9\",\"addr\":null,\"until\":null,\"by\":null,"
	             "\"note\":null,\"time\":null}]}");
	t->broker.reply = "{\"ok\":true,\"mutes\":[]}";
	run(t, "HEAD", "/api/rooms/r1/mutes", NULL);
	assert_int_equal(t->r.status, 200);
	assert_string_equal(t->text, "{\"room_id\":\"r1\",\"mutes\":[]}");
	assert_string_equal(
	    t->broker.last,
	    "{\"op\":\"list_mutes\",\"room_id\":\"r1\",\"actor\":{\"name\":\"admin\","
	    "\"admin\":true}}");
	t->broker.reply = "{\"ok\":true,\"bans\":{}}";
	run(t, "GET", "/api/rooms/r1/bans", NULL);
	expect_error(t, 502, "bad_gateway");
}

/* Hostile and malformed arguments are refused before the broker is asked. */
static void
test_bad_arguments_never_reach_the_broker(void **state)
{
	struct t *t = *state;
	char reason[400], body[512];
	static const char *const bad[][3] = {
	    {"POST", "/api/rooms/r1/kicks", "{}"},
	    {"POST", "/api/rooms/r1/kicks", "{\"user\":7}"},
	    {"POST", "/api/rooms/r1/kicks", "{\"user\":\"\"}"},
	    {"POST", "/api/rooms/r1/kicks", "{\"user\":\"bob\",\"reason\":3}"},
	    {"POST", "/api/rooms/r1/kicks", "{\"user\":\"bob\",\"why\":\"x\"}"},
	    {"POST", "/api/rooms/r1/kicks", "{\"user\":\"bob\",\"reason\":\"a\\u0007b\"}"},
	    {"POST", "/api/rooms/r1/bans", "{\"user\":\"bob\",\"subject\":\"u-1\"}"},
	    {"POST", "/api/rooms/r1/bans", "{\"reason\":\"x\"}"},
	    {"POST", "/api/rooms/r1/bans", "{\"subject\":\"\"}"},
	    {"POST", "/api/rooms/r1/bans", "{\"user\":\"bob\",\"duration_s\":0}"},
	    {"POST", "/api/rooms/r1/bans", "{\"user\":\"bob\",\"duration_s\":31536001}"},
	    {"POST", "/api/rooms/r1/bans", "{\"user\":\"bob\",\"duration_s\":1.5}"},
	    {"POST", "/api/rooms/r1/mutes", "{\"user\":\"bob\"}"},
	    {"POST", "/api/rooms/r1/mutes", "{\"user\":\"bob\",\"duration_s\":\"60\"}"},
	    {"DELETE", "/api/rooms/r1/bans", NULL},
	    {"DELETE", "/api/rooms/r1/bans?subject=", NULL},
	    {"DELETE", "/api/rooms/r1/bans/%E2%80%AEbob", NULL},
	    {"DELETE", "/api/rooms/r1/mutes/system", NULL},
	    {"DELETE", "/api/rooms/r1/messages/0", NULL},
	    {"DELETE", "/api/rooms/r1/messages/-1", NULL},
	    {"DELETE", "/api/rooms/r1/messages/9007199254740992", NULL},
	    {"DELETE", "/api/rooms/r1/messages/abc", NULL},
	    {"GET", "/api/rooms/r1/audit?limit=0", NULL},
	    {"GET", "/api/rooms/r1/audit?limit=501", NULL},
	    {"GET", "/api/rooms/r1/audit?before=0", NULL},
	    {"GET", "/api/rooms/r1/audit?before=x", NULL},
	    {"PATCH", "/api/rooms/r1", "{}"},
	    {"PATCH", "/api/rooms/r1", "{\"slow_mode_s\":86401}"},
	    {"PATCH", "/api/rooms/r1", "{\"slow_mode_s\":-1}"},
	    {"PATCH", "/api/rooms/r1", "{\"moderators\":\"u-1\"}"},
	    {"PATCH", "/api/rooms/r1", "{\"moderators\":[\"u-1\",2]}"},
	    {"PATCH", "/api/rooms/r1", "{\"moderators\":[\"\"]}"},
	    {"PATCH", "/api/rooms/r1", "{\"moderators_may_ban\":1}"},
	    {"PATCH", "/api/rooms/r1", "{\"owner\":\"\"}"},
	    {"PATCH", "/api/rooms/r1", "{\"owner\":null}"},
	    {"PATCH", "/api/rooms/r1", "{\"name\":\"x\"}"},
	};

	t->in.authorization = "Bearer " ADMIN_TOKEN;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run(t, bad[i][0], bad[i][1], bad[i][2]);
		if (t->r.status != 400 || strstr(t->text, "\"invalid_argument\"") == NULL)
			fail_msg("%s %s %s: got %d %s", bad[i][0], bad[i][1],
			         bad[i][2] ? bad[i][2] : "", t->r.status, t->text);
	}
	memset(reason, 'x', 257);
	reason[257] = '\0';
	snprintf(body, sizeof(body), "{\"user\":\"bob\",\"reason\":\"%s\"}", reason);
	run(t, "POST", "/api/rooms/r1/kicks", body);
	assert_string_equal(t->text, "{\"error\":\"invalid_argument\",\"message\":\"reason is "
	                             "longer than 256 bytes\"}");
	/* The broker's rule for a note (valid_note): one line, refused here first. */
	run(t, "POST", "/api/rooms/r1/kicks", "{\"user\":\"bob\",\"reason\":\"two\\nlines\"}");
	assert_string_equal(t->text, "{\"error\":\"invalid_argument\",\"message\":\"reason must be "
	                             "one line without control characters\"}");
	run(t, "PATCH", "/api/rooms/r1",
	    "{\"moderators\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\","
	    "\"12\",\"13\",\"14\",\"15\",\"16\",\"17\",\"18\",\"19\",\"20\",\"21\",\"22\",\"23\","
	    "\"24\",\"25\",\"26\",\"27\",\"28\",\"29\",\"30\",\"31\",\"32\",\"33\"]}");
	expect_error(t, 400, "invalid_argument");
	run(t, "POST", "/api/rooms/r1/kicks", "{\"user\":");
	expect_error(t, 400, "invalid_request");
	run(t, "DELETE", "/api/rooms/r1/bans/b%zzob", NULL);
	expect_error(t, 400, "invalid_request");
	run(t, "DELETE", "/api/rooms/r1/mutes/%FF", NULL);
	expect_error(t, 400, "invalid_request");
	run_as(t, "text/plain", "POST", "/api/rooms/r1/kicks", "{\"user\":\"bob\"}");
	assert_int_equal(t->r.status, 415);
	assert_string_equal(t->text, "{\"error\":\"unsupported_media_type\",\"message\":\"send "
	                             "the request as application/json\"}");
	assert_int_equal(t->broker.calls, 0);
	/* A reason of exactly 256 bytes is taken. */
	reason[256] = '\0';
	snprintf(body, sizeof(body), "{\"user\":\"bob\",\"reason\":\"%s\"}", reason);
	run(t, "POST", "/api/rooms/r1/kicks", body);
	assert_int_equal(t->r.status, 200);
	assert_int_equal(t->broker.calls, 1);
}

static void
test_broker_refusals_map_to_statuses(void **state)
{
	struct t *t = *state;
	static const struct {
		const char *code;
		int status;
	} map[] = {
	    {"forbidden", 403},        {"no_such_room", 404}, {"no_such_user", 404},
	    {"no_such_message", 404},  {"no_such_ban", 404},  {"too_many_bans", 409},
	    {"invalid_argument", 400}, {"not_member", 502},
	};
	char reply[160];

	t->in.authorization = t->alice;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		snprintf(reply, sizeof(reply),
		         "{\"ok\":false,\"error\":\"%s\",\"message\":\"refused\"}", map[i].code);
		t->broker.reply = reply;
		run(t, "POST", "/api/rooms/r1/bans", "{\"user\":\"bob\"}");
		expect_error(t, map[i].status, map[i].status == 502 ? "broker_error" : map[i].code);
	}
	t->broker.result = API_CALL_UNAVAILABLE;
	run(t, "DELETE", "/api/rooms/r1/messages/5", NULL);
	expect_error(t, 503, "broker_unavailable");
	assert_true(t->r.retry_after);
}

static void
test_patch_and_audit(void **state)
{
	struct t *t = *state;

	t->in.authorization = t->alice;
	t->broker.reply =
	    "{\"ok\":true,\"moderation\":{\"owner\":\"u-17\",\"moderators\":[\"u-2\"],"
	    "\"moderators_may_ban\":true,\"slow_mode_s\":30}}";
	run(t, "PATCH", "/api/rooms/r1",
	    "{\"moderators\":[\"u-2\"],\"moderators_may_ban\":true,\"slow_mode_s\":30}");
	assert_int_equal(t->r.status, 200);
	assert_string_equal(t->text, "{\"id\":\"r1\",\"moderation\":{\"owner\":\"u-17\","
	                             "\"moderators\":[\"u-2\"],\"moderators_may_ban\":true,"
	                             "\"slow_mode_s\":30}}");
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"set_room\",\"room_id\":\"r1\",\"actor\":{\"name\":\"alice\","
	                    "\"subject\":\"u-17\",\"admin\":false},\"moderators\":[\"u-2\"],"
	                    "\"moderators_may_ban\":true,\"slow_mode_s\":30}");
	run(t, "PATCH", "/api/rooms/r1", "{\"owner\":\"u-5\",\"moderators\":[]}");
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"set_room\",\"room_id\":\"r1\",\"actor\":{\"name\":\"alice\","
	                    "\"subject\":\"u-17\",\"admin\":false},\"owner\":\"u-5\","
	                    "\"moderators\":[]}");
	t->broker.reply = "{\"ok\":true,\"entries\":[{\"id\":7,\"action\":\"kick\"}],"
	                  "\"next_before\":7}";
	run(t, "GET", "/api/rooms/r1/audit?before=10&limit=1", NULL);
	assert_int_equal(t->r.status, 200);
	assert_string_equal(t->text,
	                    "{\"room_id\":\"r1\",\"entries\":[{\"id\":7,\"action\":\"kick\"}],"
	                    "\"next_before\":7}");
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"audit\",\"room_id\":\"r1\",\"actor\":{\"name\":\"alice\","
	                    "\"subject\":\"u-17\",\"admin\":false},\"before_id\":10,\"limit\":1}");
	t->broker.reply = "{\"ok\":true,\"entries\":[]}";
	run(t, "GET", "/api/rooms/r1/audit", NULL);
	assert_string_equal(t->text, "{\"room_id\":\"r1\",\"entries\":[],\"next_before\":null}");
	assert_non_null(strstr(t->broker.last, "\"limit\":50}"));
	t->broker.reply = "{\"ok\":true}";
	run(t, "GET", "/api/rooms/r1/audit", NULL);
	expect_error(t, 502, "bad_gateway");
}

/* GET /api/rooms/{id}: slow_mode_s for everyone; moderation only for the owner and admins. */
static void
test_room_moderation_shows_to_owner_and_admins(void **state)
{
	struct t *t = *state;
	char mallory[JWT_MAX_LEN + 16];
	const char *base =
	    "{\"id\":\"r1\",\"name\":\"n\",\"users_count\":0,\"members\":[],\"seq\":4,"
	    "\"slow_mode_s\":30";
	const char *mod = ",\"moderation\":{\"owner\":\"u-17\",\"moderators\":[],"
	                  "\"moderators_may_ban\":false,\"slow_mode_s\":30}}";
	char want_plain[256], want_mod[512];

	snprintf(want_plain, sizeof(want_plain), "%s}", base);
	snprintf(want_mod, sizeof(want_mod), "%s%s", base, mod);
	bearer(t, mallory, sizeof(mallory), "alice", "u-99", false); /* the owner's nickname */
	t->broker.reply = "{\"ok\":true,\"room\":{\"id\":\"r1\",\"name\":\"n\",\"users_count\":0,"
	                  "\"members\":[],\"seq\":4,\"moderation\":{\"owner\":\"u-17\","
	                  "\"moderators\":[],\"moderators_may_ban\":false,\"slow_mode_s\":30}}}";
	run(t, "GET", "/api/rooms/r1", NULL);
	assert_string_equal(t->text, want_plain);
	t->in.authorization = mallory;
	run(t, "GET", "/api/rooms/r1", NULL);
	assert_string_equal(t->text, want_plain);
	t->in.authorization = "Bearer not.a.token"; /* reads are public here: ignored */
	run(t, "GET", "/api/rooms/r1", NULL);
	assert_string_equal(t->text, want_plain);
	t->in.authorization = t->alice;
	run(t, "GET", "/api/rooms/r1", NULL);
	assert_string_equal(t->text, want_mod);
	t->in.authorization = t->root;
	run(t, "GET", "/api/rooms/r1", NULL);
	assert_string_equal(t->text, want_mod);
	t->in.authorization = "Bearer " ADMIN_TOKEN;
	run(t, "GET", "/api/rooms/r1", NULL);
	assert_string_equal(t->text, want_mod);
}

/* POST /api/rooms: the creating token's subject owns the room; only an admin names another;
 * --user-rooms lets any valid token create. */
static void
test_create_sets_the_owner(void **state)
{
	struct t *t = *state;

	t->broker.reply = "{\"ok\":true,\"room\":{\"id\":\"jazz\",\"name\":\"jazz\","
	                  "\"users_count\":0}}";
	t->in.authorization = t->alice;
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\"}");
	assert_int_equal(t->r.status, 403);
	assert_string_equal(t->text, "{\"error\":\"forbidden\",\"message\":\"this needs a token "
	                             "with the admin claim\"}");
	t->cfg.user_rooms = true;
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\"}");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"create_room\",\"room_id\":\"jazz\",\"name\":\"jazz\","
	                    "\"owner\":\"u-17\",\"actor\":{\"name\":\"alice\",\"subject\":"
	                    "\"u-17\",\"admin\":false}}");
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\",\"owner\":\"u-17\"}");
	assert_int_equal(t->r.status, 201);
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\",\"owner\":\"u-99\"}");
	assert_int_equal(t->r.status, 403);
	assert_string_equal(t->text, "{\"error\":\"forbidden\",\"message\":\"only an admin may "
	                             "name another owner\"}");
	t->in.authorization = NULL;
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\"}");
	assert_int_equal(t->r.status, 401);
	t->in.authorization = t->root;
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\",\"owner\":\"u-99\"}");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"create_room\",\"room_id\":\"jazz\",\"name\":\"jazz\","
	                    "\"owner\":\"u-99\",\"actor\":{\"name\":\"root\",\"subject\":"
	                    "\"u-1\",\"admin\":true}}");
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\",\"owner\":7}");
	expect_error(t, 400, "invalid_argument");
	t->in.authorization = "Bearer " ADMIN_TOKEN;
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\"}");
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"create_room\",\"room_id\":\"jazz\",\"name\":\"jazz\","
	                    "\"actor\":{\"name\":\"admin\",\"admin\":true}}");
	/* No credentials configured: anybody creates, nobody names an owner. */
	t->cfg.admin_token = NULL;
	t->cfg.jwt = NULL;
	t->cfg.user_rooms = false;
	t->in.authorization = NULL;
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\"}");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"create_room\",\"room_id\":\"jazz\",\"name\":\"jazz\"}");
	run(t, "POST", "/api/rooms", "{\"id\":\"jazz\",\"owner\":\"u-1\"}");
	assert_int_equal(t->r.status, 403);
}

/* Every create_room names its actor, so that the broker can hold a subject to
 * --rooms-per-owner; the broker's create_limit is 403 with its message (naming the limit). */
static void
test_create_names_the_actor_and_its_limit(void **state)
{
	struct t *t = *state;

	t->cfg.user_rooms = true;
	t->in.authorization = t->alice;
	t->broker.reply = "{\"ok\":false,\"error\":\"create_limit\",\"message\":\"u-17 already "
	                  "owns 10 rooms\"}";
	run(t, "POST", "/api/rooms", "{\"id\":\"r11\",\"name\":\"Eleven\"}");
	assert_int_equal(t->r.status, 403);
	assert_string_equal(t->text, "{\"error\":\"create_limit\",\"message\":\"u-17 already "
	                             "owns 10 rooms\"}");
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"create_room\",\"room_id\":\"r11\",\"name\":\"Eleven\","
	                    "\"owner\":\"u-17\",\"actor\":{\"name\":\"alice\",\"subject\":"
	                    "\"u-17\",\"admin\":false}}");
	assert_string_equal(t->r.location, "");
	/* An admin naming an owner is an admin actor: the broker does not count that room. */
	t->in.authorization = t->root;
	run(t, "POST", "/api/rooms", "{\"id\":\"r12\",\"owner\":\"u-17\"}");
	assert_int_equal(t->r.status, 403);
	assert_non_null(strstr(t->broker.last, "\"actor\":{\"name\":\"root\",\"subject\":"
	                                       "\"u-1\",\"admin\":true}"));
	/* No credentials configured: nobody to name, no actor (and no owner). */
	t->cfg.admin_token = NULL;
	t->cfg.jwt = NULL;
	t->cfg.user_rooms = false;
	t->in.authorization = "Bearer anything";
	t->broker.reply = "{\"ok\":true,\"room\":{\"id\":\"r13\",\"name\":\"r13\","
	                  "\"users_count\":0}}";
	run(t, "POST", "/api/rooms", "{\"id\":\"r13\"}");
	assert_int_equal(t->r.status, 201);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"create_room\",\"room_id\":\"r13\",\"name\":\"r13\"}");
}

/* DELETE .../messages/{seq}?reason=: percent-encoded UTF-8 ('+' a space), sent as the note; at
 * most 256 bytes decoded; bad encoding, invalid UTF-8, control characters or a longer reason are
 * 400 and never reach the broker; an empty one is no note. */
static void
test_delete_takes_a_reason_in_the_query(void **state)
{
	struct t *t = *state;
	char uri[1200];
	size_t n;
	static const char *const bad[][2] = {
	    {"/api/rooms/r1/messages/7?reason=a%zzb", "invalid_request"},
	    {"/api/rooms/r1/messages/7?reason=%E2%82", "invalid_request"},
	    {"/api/rooms/r1/messages/7?reason=%FF", "invalid_request"},
	    {"/api/rooms/r1/messages/7?reason=a%00b", "invalid_request"},
	    {"/api/rooms/r1/messages/7?reason=a%0Ab", "invalid_request"},
	    {"/api/rooms/r1/messages/7?reason=%", "invalid_request"},
	    {"/api/rooms/r1/messages/7?reason=a%07b", "invalid_argument"},
	    {"/api/rooms/r1/messages/7?reason=+++", "invalid_argument"},
	    {"/api/rooms/r1/messages/7?reason=x&reason=y", "invalid_request"},
	    {"/api/rooms/r1/messages/0?reason=x", "invalid_argument"},
	};

	t->in.authorization = t->alice;
	run(t, "DELETE", "/api/rooms/r1/messages/7?reason=%EC%8A%A4%ED%8C%B8+link", NULL);
	assert_int_equal(t->r.status, 204);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"delete_message\",\"room_id\":\"r1\",\"actor\":{\"name\":"
	                    "\"alice\",\"subject\":\"u-17\",\"admin\":false},\"seq\":7,"
	                    "\"note\":\"스팸 link\"}");
	run(t, "DELETE", "/api/rooms/r1/messages/7?reason=", NULL);
	assert_int_equal(t->r.status, 204);
	assert_string_equal(t->broker.last,
	                    "{\"op\":\"delete_message\",\"room_id\":\"r1\",\"actor\":{\"name\":"
	                    "\"alice\",\"subject\":\"u-17\",\"admin\":false},\"seq\":7}");
	/* Exactly 256 bytes decoded (128 two-byte characters, 768 bytes encoded) is taken. */
	n = (size_t)snprintf(uri, sizeof(uri), "/api/rooms/r1/messages/7?reason=");
	for (int i = 0; i < 128; i++)
		n += (size_t)snprintf(uri + n, sizeof(uri) - n, "%%C3%%A9");
	run(t, "DELETE", uri, NULL);
	assert_int_equal(t->r.status, 204);
	assert_int_equal(t->broker.calls, 3);
	/* One byte more is refused. */
	snprintf(uri + n, sizeof(uri) - n, "x");
	run(t, "DELETE", uri, NULL);
	assert_int_equal(t->r.status, 400);
	assert_string_equal(t->text, "{\"error\":\"invalid_request\",\"message\":\"query "
	                             "parameter value over 256 bytes (decoded)\"}");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run(t, "DELETE", bad[i][0], NULL);
		if (t->r.status != 400 || strstr(t->text, bad[i][1]) == NULL)
			fail_msg("%s: got %d %s", bad[i][0], t->r.status, t->text);
	}
	assert_int_equal(t->broker.calls, 3);
}

/* Random moderation requests and broker replies (fixed seed): every answer is a complete response
 * with a valid status and, for errors, a JSON error body; never a crash or a 500. */
static void
test_random_moderation_input_is_answered(void **state)
{
	struct t *t = *state;
	static const char *const methods[] = {"GET", "HEAD", "POST", "DELETE", "PATCH", "OPTIONS"};
	static const char *const uris[] = {"/api/rooms/r1",
	                                   "/api/rooms/r1/kicks",
	                                   "/api/rooms/r1/bans",
	                                   "/api/rooms/r1/bans/",
	                                   "/api/rooms/r1/bans?subject=",
	                                   "/api/rooms/r1/mutes/",
	                                   "/api/rooms/r1/mutes",
	                                   "/api/rooms/r1/messages/",
	                                   "/api/rooms/r1/audit?limit=",
	                                   "/api/rooms/r1/audit?before="};
	static const char *const bodies[] = {
	    "{\"user\":\"bob\"}",
	    "{\"user\":\"bob\",\"duration_s\":60,\"reason\":\"x\"}",
	    "{\"subject\":\"u-1\",\"duration_s\":1e300}",
	    "{\"moderators\":[[],{}],\"owner\":{}}",
	    "{\"slow_mode_s\":30,\"moderators_may_ban\":null}",
	    "{\"user\":null,\"reason\":null}",
	    "[]",
	    "",
	    "{\"user\":\"\\ud800\"}",
	    "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":{\"l\":{"
	    "\"m\":"
	    "{\"n\":{\"o\":{\"p\":{\"q\":1}}}}}}}}}}}}}}}}}",
	};
	static const char *const replies[] = {
	    "{\"ok\":true}",
	    "{\"ok\":true,\"bans\":[1,\"x\",null,{}],\"mutes\":{}}",
	    "{\"ok\":true,\"moderation\":[]}",
	    "{\"ok\":true,\"entries\":{},\"next_before\":\"x\"}",
	    "{\"ok\":true,\"until\":5,\"kicked\":\"no\"}",
	    "{\"ok\":true,\"room\":{\"id\":\"r1\",\"name\":\"n\",\"users_count\":0,"
	    "\"members\":[],\"moderation\":{\"owner\":7,\"slow_mode_s\":\"x\"}}}",
	    "{\"ok\":false,\"error\":\"too_many_bans\"}",
	    "{\"ok\":false,\"error\":null,\"message\":7}",
	    "[]",
	};
	static const char tail[] = "bob%EB%AF%BCx%zz%00%FF0912-+ ";
	char uri[160], auth_pick;
	unsigned seed = 2612;

	for (int i = 0; i < 20000; i++) {
		const char *u = uris[rand_r(&seed) % (sizeof(uris) / sizeof(uris[0]))];
		size_t n = strlen(u), k = (size_t)(rand_r(&seed) % 12);

		memcpy(uri, u, n);
		for (size_t j = 0; j < k; j++)
			uri[n + j] = tail[rand_r(&seed) % (sizeof(tail) - 1)];
		uri[n + k] = '\0';
		auth_pick = (char)(rand_r(&seed) % 4);
		t->in.authorization = auth_pick == 0   ? NULL
		                      : auth_pick == 1 ? "Bearer " ADMIN_TOKEN
		                      : auth_pick == 2 ? t->alice
		                                       : "Bearer x.y.z";
		t->broker.result = (enum api_call_result)(rand_r(&seed) % 3);
		t->broker.reply = replies[rand_r(&seed) % (sizeof(replies) / sizeof(replies[0]))];
		run(t, methods[rand_r(&seed) % (sizeof(methods) / sizeof(methods[0]))], uri,
		    rand_r(&seed) % 5 == 0
		        ? NULL
		        : bodies[rand_r(&seed) % (sizeof(bodies) / sizeof(bodies[0]))]);
		if (t->r.status < 200 || t->r.status >= 600 || t->r.status == 500)
			fail_msg("%s: %d %s", uri, t->r.status, t->text);
		if (t->r.status >= 400) {
			cJSON *e = cJSON_Parse(t->text);

			assert_non_null(e);
			assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "error")));
			assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "message")));
			cJSON_Delete(e);
		}
	}
}

/* openapi.json documents every moderation endpoint with each method the router takes. */
static void
test_openapi_documents_moderation(void **state)
{
	static const char *const ops[][2] = {
	    {"/api/rooms/{id}", "patch"},
	    {"/api/rooms/{id}/kicks", "post"},
	    {"/api/rooms/{id}/bans", "get"},
	    {"/api/rooms/{id}/bans", "post"},
	    {"/api/rooms/{id}/bans", "delete"},
	    {"/api/rooms/{id}/bans/{user}", "delete"},
	    {"/api/rooms/{id}/mutes", "get"},
	    {"/api/rooms/{id}/mutes", "post"},
	    {"/api/rooms/{id}/mutes/{user}", "delete"},
	    {"/api/rooms/{id}/messages/{seq}", "delete"},
	    {"/api/rooms/{id}/audit", "get"},
	};
	cJSON *doc = cJSON_ParseWithLength(api_openapi_json, api_openapi_json_len);
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");

	(void)state;
	assert_non_null(doc);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(paths, ops[i][0]);

		if (cJSON_GetObjectItemCaseSensitive(p, ops[i][1]) == NULL)
			fail_msg("openapi.json lacks %s %s", ops[i][1], ops[i][0]);
	}
	cJSON_Delete(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_moderation_is_disabled_without_credentials, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_moderation_needs_a_valid_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_the_actor_names_the_credentials, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bans_and_mutes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_arguments_never_reach_the_broker, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_broker_refusals_map_to_statuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_patch_and_audit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_room_moderation_shows_to_owner_and_admins, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_create_sets_the_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_names_the_actor_and_its_limit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_delete_takes_a_reason_in_the_query, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_random_moderation_input_is_answered, setup,
	                                    teardown),
	    cmocka_unit_test(test_openapi_documents_moderation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
