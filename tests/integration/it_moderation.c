/* it_moderation.c — moderation at the real madang-broker over real nng sockets
 * (docs/moderation.md): the authorization matrix of every op, the effects as events on the
 * front-ends' topics, bans and mutes with their expiry, slow mode, deleting messages, limits. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc.h"
#include "testproc.h"

struct fx {
	struct tbroker tb;
	nng_socket req;
	nng_socket sub;
};

/* The cast of room1, set up by cast(): actors of a request as JSON members. */
#define ADMIN_API "\"actor\":{\"name\":\"admin\",\"admin\":true}"
#define ADMIN_WS  "\"frontend\":\"fa\",\"session\":\"s-ad\""
#define OWNER     "\"frontend\":\"fa\",\"session\":\"s-o\""
#define OWNER_API "\"actor\":{\"name\":\"olga\",\"subject\":\"u-owner\"}"
#define MOD       "\"frontend\":\"fa\",\"session\":\"s-m\""
#define MOD_API   "\"actor\":{\"name\":\"mona\",\"subject\":\"u-mod\",\"admin\":false}"
#define MEMBER    "\"frontend\":\"fb\",\"session\":\"s-mel\""
#define ANON      "\"frontend\":\"fb\",\"session\":\"s-an\""

static int
fx_start(void **state, const char *const *args)
{
	struct fx *f = calloc(1, sizeof(*f));

	alarm(60); /* every test is bounded in time */
	if (f == NULL || tbroker_start(&f->tb, args) != 0) {
		fprintf(stderr, "broker did not start (log: %s)\n", f ? f->tb.log : "?");
		return -1;
	}
	if (rpc_open(&f->req, f->tb.rpc) != 0 || tsub_open(&f->sub, f->tb.events, "") != 0)
		return -1;
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	static const char *const args[] = {"--frontend-timeout", "60000", "--allow-create", NULL};
	return fx_start(state, args);
}

static int
setup_en(void **state)
{
	static const char *const args[] = {"--frontend-timeout", "60000", "--notices", "en", NULL};
	return fx_start(state, args);
}

static int
setup_owners(void **state)
{
	static const char *const args[] = {"--frontend-timeout", "60000", "--allow-create",
	                                   "--rooms-per-owner",  "2",     NULL};
	return fx_start(state, args);
}

static int
setup_small(void **state)
{
	static const char *const args[] = {"--frontend-timeout", "60000", "--max-bans", "3", NULL};
	return fx_start(state, args);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f == NULL)
		return 0;
	nng_close(f->req);
	nng_close(f->sub);
	int rc = tbroker_stop(&f->tb);
	free(f);
	alarm(0);
	return rc;
}

static void
msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The reply's error code, "" when it succeeded; the reply is freed. */
static char *
err_of(cJSON *r)
{
	static char code[64];
	snprintf(code, sizeof(code), "%s", tj_bool(r, "ok") ? "" : tj_str(r, "error"));
	cJSON_Delete(r);
	return code;
}

/* Sends a request built from fmt and returns its error code ("" on success). */
static const char *call_err(struct fx *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *
call_err(struct fx *f, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return err_of(tcallf(f->req, "%s", buf));
}

/* call_err of tmpl with its '@' replaced by the actor's members act. */
static const char *
call_as(struct fx *f, const char *tmpl, const char *act)
{
	const char *at = strchr(tmpl, '@');
	assert_non_null(at);
	return call_err(f, "%.*s%s%s", (int)(at - tmpl), tmpl, act, at + 1);
}

static void
hello(struct fx *f, const char *fe)
{
	cJSON *r =
	    tcallf(f->req, "{\"op\":\"hello\",\"frontend\":\"%s\",\"instance\":\"i-%s\"}", fe, fe);
	assert_true(tj_bool(r, "ok"));
	cJSON_Delete(r);
}

/* join with an identity: subject NULL for an anonymous member; extra: more members (",…"). */
static cJSON *
joinx(struct fx *f, const char *fe, const char *sess, const char *room, const char *user,
      const char *subject, bool admin, const char *extra)
{
	char subj[256] = "";
	if (subject)
		snprintf(subj, sizeof(subj), ",\"subject\":\"%s\",\"admin\":%s", subject,
		         admin ? "true" : "false");
	return tcallf(f->req,
	              "{\"op\":\"join\",\"frontend\":\"%s\",\"session\":\"%s\",\"room_id\":\"%s\","
	              "\"user\":\"%s\",\"history\":0%s%s}",
	              fe, sess, room, user, subj, extra ? extra : "");
}

static void
joinx_ok(struct fx *f, const char *fe, const char *sess, const char *room, const char *user,
         const char *subject, bool admin, const char *extra)
{
	cJSON *r = joinx(f, fe, sess, room, user, subject, admin, extra);
	if (!tj_bool(r, "ok"))
		fail_msg("join %s failed: %s %s", user, tj_str(r, "error"), tj_str(r, "message"));
	cJSON_Delete(r);
}

/* room1: owner olga (u-owner), moderator mona (u-mod), admin adam on front-end fa; member mel
 * (u-mel) and anonymous anna (address 10.0.0.5) on fb. */
static void
cast(struct fx *f)
{
	hello(f, "fa");
	hello(f, "fb");
	tcall_ok(f->req, "{\"op\":\"set_room\",\"room_id\":\"room1\"," ADMIN_API
	                 ",\"owner\":\"u-owner\",\"moderators\":[\"u-mod\"]}");
	joinx_ok(f, "fa", "s-o", "room1", "olga", "u-owner", false, NULL);
	joinx_ok(f, "fa", "s-m", "room1", "mona", "u-mod", false, NULL);
	joinx_ok(f, "fa", "s-ad", "room1", "adam", "u-adam", true, NULL);
	joinx_ok(f, "fb", "s-mel", "room1", "mel", "u-mel", false, NULL);
	joinx_ok(f, "fb", "s-an", "room1", "anna", NULL, false, ",\"addr\":\"10.0.0.5\"");
}

/* Next event of type on a topic starting with topic (NULL: any), within ms; NULL if none. */
static cJSON *
next_event(struct fx *f, const char *topic, const char *type, int ms)
{
	char t[128];
	for (int i = 0; i < 1000; i++) {
		cJSON *e = tsub_recv(f->sub, ms, t, sizeof(t));
		if (e == NULL)
			return NULL;
		if (strcmp(tj_str(e, "type"), type) == 0 &&
		    (topic == NULL || strncmp(t, topic, strlen(topic)) == 0))
			return e;
		cJSON_Delete(e);
	}
	return NULL;
}

/* Drops every event received so far. */
static void
drain(struct fx *f)
{
	cJSON *e;
	while ((e = tsub_recv(f->sub, 100, NULL, 0)) != NULL)
		cJSON_Delete(e);
}

static bool
is_member(struct fx *f, const char *room, const char *user)
{
	cJSON *r = tcallf(f->req, "{\"op\":\"get_room\",\"room_id\":\"%s\"}", room);
	cJSON *it;
	bool found = false;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(cJSON_GetObjectItem(r, "room"), "members"))
	    found = found || strcmp(it->valuestring, user) == 0;
	cJSON_Delete(r);
	return found;
}

static long long
send_as(struct fx *f, const char *fe, const char *sess, const char *text, const char *cid,
        char *err)
{
	char cidpart[128] = "";
	if (cid)
		snprintf(cidpart, sizeof(cidpart), ",\"client_id\":\"%s\"", cid);
	cJSON *r = tcallf(f->req,
	                  "{\"op\":\"send\",\"frontend\":\"%s\",\"session\":\"%s\",\"room_id\":"
	                  "\"room1\",\"text\":\"%s\"%s}",
	                  fe, sess, text, cidpart);
	long long seq = tj_bool(r, "ok") ? tj_int(r, "seq") : -1;
	if (err)
		snprintf(err, 64, "%s", tj_bool(r, "ok") ? "" : tj_str(r, "error"));
	cJSON_Delete(r);
	return seq;
}

/* ---- The authorization matrix ---- */

enum { A_ADMIN_API, A_ADMIN_WS, A_OWNER, A_OWNER_API, A_MOD, A_MOD_API, A_MEMBER, A_ANON, NACT };
static const char *const actor_json[NACT] = {ADMIN_API, ADMIN_WS, OWNER,  OWNER_API,
                                             MOD,       MOD_API,  MEMBER, ANON};
static const char *const actor_label[NACT] = {"admin (api)", "admin (ws)", "owner",
                                              "owner (api)", "moderator",  "moderator (api)",
                                              "member",      "anonymous"};

/* A fresh member-ranked target v<n> (subject u-v<n>) on fb. */
static void
victim(struct fx *f, int n, char *nick)
{
	char sess[32], subj[32];
	sprintf(nick, "v%d", n);
	sprintf(sess, "sv%d", n);
	sprintf(subj, "u-v%d", n);
	joinx_ok(f, "fb", sess, "room1", nick, subj, false, NULL);
}

/* Runs op by actor a on a fresh target (or none) and returns the error code ("" on success). */
static const char *
run_op(struct fx *f, const char *op, int a, int n)
{
	const char *act = actor_json[a];
	char nick[32];
	static char code[64];

	if (strcmp(op, "kick") == 0 || strcmp(op, "ban") == 0 || strcmp(op, "mute") == 0) {
		victim(f, n, nick);
		snprintf(code, sizeof(code), "%s",
		         call_err(f,
		                  "{\"op\":\"%s\",\"room_id\":\"room1\",%s,\"user\":\"%s\","
		                  "\"duration_s\":60,\"note\":\"x\"}",
		                  op, act, nick));
		/* Leave the room as it was. */
		if (strcmp(op, "ban") == 0 && code[0] == '\0') {
			cJSON *r = tcallf(f->req,
			                  "{\"op\":\"unban\",\"room_id\":\"room1\"," ADMIN_API
			                  ",\"subject\":\"u-v%d\"}",
			                  n);
			assert_true(tj_bool(r, "ok"));
			cJSON_Delete(r);
		}
		return code;
	}
	if (strcmp(op, "unban") == 0 || strcmp(op, "unmute") == 0) {
		sprintf(nick, "gone%d", n);
		cJSON *r = tcallf(f->req,
		                  "{\"op\":\"%s\",\"room_id\":\"room1\"," ADMIN_API
		                  ",\"user\":\"%s\",\"duration_s\":60}",
		                  strcmp(op, "unban") == 0 ? "ban" : "mute", nick);
		assert_true(tj_bool(r, "ok"));
		cJSON_Delete(r);
		snprintf(code, sizeof(code), "%s",
		         call_err(f, "{\"op\":\"%s\",\"room_id\":\"room1\",%s,\"user\":\"%s\"}", op,
		                  act, nick));
		return code;
	}
	if (strcmp(op, "delete_message") == 0) {
		/* A victim's message: the member's own it may delete (the broker's unit tests). */
		char sess[32];
		victim(f, n, nick);
		sprintf(sess, "sv%d", n);
		long long seq = send_as(f, "fb", sess, "to be deleted", NULL, NULL);
		assert_true(seq > 0);
		snprintf(
		    code, sizeof(code), "%s",
		    call_err(f, "{\"op\":\"delete_message\",\"room_id\":\"room1\",%s,\"seq\":%lld}",
		             act, seq));
		return code;
	}
	if (strcmp(op, "slow_mode") == 0)
		return call_err(f,
		                "{\"op\":\"slow_mode\",\"room_id\":\"room1\",%s,\"interval_s\":%d}",
		                act, n % 2 ? 0 : 5);
	if (strcmp(op, "set_room moderators") == 0)
		return call_err(
		    f, "{\"op\":\"set_room\",\"room_id\":\"room1\",%s,\"moderators\":[\"u-mod\"]}",
		    act);
	if (strcmp(op, "set_room moderators_may_ban") == 0)
		return call_err(
		    f,
		    "{\"op\":\"set_room\",\"room_id\":\"room1\",%s,\"moderators_may_ban\":false}",
		    act);
	if (strcmp(op, "set_room owner") == 0)
		return call_err(
		    f, "{\"op\":\"set_room\",\"room_id\":\"room1\",%s,\"owner\":\"u-owner\"}", act);
	if (strcmp(op, "set_room slow_mode_s") == 0)
		return call_err(
		    f, "{\"op\":\"set_room\",\"room_id\":\"room1\",%s,\"slow_mode_s\":0}", act);
	/* list_bans, list_mutes, audit */
	return call_err(f, "{\"op\":\"%s\",\"room_id\":\"room1\",%s}", op, act);
}

static void
test_authorization_matrix(void **state)
{
	struct fx *f = *state;
	/* allowed[actor]: 1 allowed, 0 forbidden (docs/moderation.md, "Who may do what"). */
	static const struct {
		const char *op;
		int allowed[NACT]; /* admin api, admin ws, owner, owner api, mod, mod api, member,
		                      anon */
	} rows[] = {
	    {"kick", {1, 1, 1, 1, 1, 1, 0, 0}},
	    {"mute", {1, 1, 1, 1, 1, 1, 0, 0}},
	    {"unmute", {1, 1, 1, 1, 1, 1, 0, 0}},
	    {"delete_message", {1, 1, 1, 1, 1, 1, 0, 0}},
	    {"slow_mode", {1, 1, 1, 1, 1, 1, 0, 0}},
	    {"set_room slow_mode_s", {1, 1, 1, 1, 1, 1, 0, 0}},
	    {"list_mutes", {1, 1, 1, 1, 1, 1, 0, 0}},
	    {"ban", {1, 1, 1, 1, 0, 0, 0, 0}},
	    {"unban", {1, 1, 1, 1, 0, 0, 0, 0}},
	    {"list_bans", {1, 1, 1, 1, 0, 0, 0, 0}},
	    {"set_room moderators", {1, 1, 1, 1, 0, 0, 0, 0}},
	    {"set_room moderators_may_ban", {1, 1, 1, 1, 0, 0, 0, 0}},
	    {"set_room owner", {1, 1, 0, 0, 0, 0, 0, 0}},
	    {"audit", {1, 1, 1, 1, 0, 0, 0, 0}},
	};
	int n = 0;

	cast(f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (int a = 0; a < NACT; a++) {
			const char *code = run_op(f, rows[i].op, a, n++);
			const char *want = rows[i].allowed[a] ? "" : "forbidden";
			if (strcmp(code, want) != 0)
				fail_msg("%s by %s: got \"%s\", want \"%s\"", rows[i].op,
				         actor_label[a], code, want);
		}
	}
	/* moderators_may_ban lets moderators ban, unban and list bans; not name moderators. */
	tcall_ok(f->req, "{\"op\":\"set_room\",\"room_id\":\"room1\"," OWNER
	                 ",\"moderators_may_ban\":true}");
	static const char *const ban_ops[] = {"ban", "unban", "list_bans"};
	for (size_t i = 0; i < 3; i++) {
		for (int a = A_MOD; a <= A_MOD_API; a++) {
			const char *code = run_op(f, ban_ops[i], a, n++);
			if (code[0] != '\0')
				fail_msg("%s by %s with moderators_may_ban: %s", ban_ops[i],
				         actor_label[a], code);
		}
	}
	assert_string_equal(run_op(f, "set_room moderators", A_MOD, n++), "forbidden");
}

static void
test_actor_is_one_form_or_the_other(void **state)
{
	struct fx *f = *state;
	cast(f);
	assert_string_equal(call_err(f, "{\"op\":\"kick\",\"room_id\":\"room1\"," OWNER
	                                "," ADMIN_API ",\"user\":\"mel\"}"),
	                    "invalid_argument");
	assert_string_equal(call_err(f, "{\"op\":\"kick\",\"room_id\":\"room1\",\"user\":\"mel\"}"),
	                    "invalid_argument");
	assert_string_equal(call_err(f,
	                             "{\"op\":\"kick\",\"room_id\":\"room1\",\"frontend\":\"fa\","
	                             "\"session\":\"nobody\",\"user\":\"mel\"}"),
	                    "not_member");
	assert_string_equal(
	    call_err(f, "{\"op\":\"kick\",\"room_id\":\"room1\",\"actor\":{\"name\":\"\"},"
	                "\"user\":\"mel\"}"),
	    "invalid_argument");
	assert_string_equal(
	    call_err(f, "{\"op\":\"kick\",\"room_id\":\"nope\"," ADMIN_API ",\"user\":\"mel\"}"),
	    "no_such_room");
	assert_string_equal(call_err(f, "{\"op\":\"kick\",\"room_id\":\"room1\"," ADMIN_API
	                                ",\"user\":\"nobody\"}"),
	                    "no_such_user");
	assert_true(is_member(f, "room1", "mel"));
}

/* ---- Effects, from two front-ends' points of view ---- */

static void
test_kick_of_a_member_on_another_frontend(void **state)
{
	struct fx *f = *state;
	cast(f);
	drain(f);
	tcall_ok(f->req, "{\"op\":\"kick\",\"room_id\":\"room1\"," MOD
	                 ",\"user\":\"MEL\",\"note\":\"calm down\"}");
	cJSON *e = next_event(f, "r/room1", "leave", 2000);
	assert_non_null(e);
	assert_string_equal(tj_str(e, "user"), "mel");
	assert_string_equal(tj_str(e, "reason"), "kicked");
	assert_string_equal(tj_str(e, "by"), "mona");
	assert_string_equal(tj_str(e, "note"), "calm down");
	assert_string_equal(tj_str(e, "message"), "mel님이 강퇴되었습니다.");
	assert_int_equal(tj_int(e, "users_count"), 4);
	cJSON_Delete(e);
	/* Front-end fb holds mel: it gets the kick; fa (the moderator's) gets none. */
	char topic[64];
	e = tsub_recv(f->sub, 2000, topic, sizeof(topic));
	assert_non_null(e);
	assert_string_equal(topic, "f/fb");
	assert_string_equal(tj_str(e, "type"), "kick");
	assert_string_equal(tj_str(e, "session"), "s-mel");
	assert_string_equal(tj_str(e, "room_id"), "room1");
	assert_string_equal(tj_str(e, "reason"), "kicked");
	assert_string_equal(tj_str(e, "by"), "mona");
	assert_string_equal(tj_str(e, "note"), "calm down");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "until")));
	cJSON_Delete(e);
	assert_null(next_event(f, "f/fa", "kick", 300));
	assert_false(is_member(f, "room1", "mel"));
	/* The session held no other room: it is gone, and a kick is no ban. */
	assert_string_equal(
	    call_err(f, "{\"op\":\"send\"," MEMBER ",\"room_id\":\"room1\",\"text\":\"x\"}"),
	    "not_member");
	joinx_ok(f, "fb", "s-mel", "room1", "mel", "u-mel", false, NULL);
}

static void
test_notices_in_english(void **state)
{
	struct fx *f = *state;
	cast(f);
	drain(f);
	tcall_ok(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," OWNER ",\"user\":\"mel\"}");
	cJSON *e = next_event(f, "r/room1", "leave", 2000);
	assert_string_equal(tj_str(e, "message"), "mel was banned");
	assert_string_equal(tj_str(e, "reason"), "banned");
	assert_string_equal(tj_str(e, "sender"), "system");
	assert_null(cJSON_GetObjectItem(e, "note"));
	cJSON_Delete(e);
	tcall_ok(f->req, "{\"op\":\"kick\",\"room_id\":\"room1\"," OWNER ",\"user\":\"anna\"}");
	e = next_event(f, "r/room1", "leave", 2000);
	assert_string_equal(tj_str(e, "message"), "anna was removed");
	cJSON_Delete(e);
	tcall_ok(f->req,
	         "{\"op\":\"slow_mode\",\"room_id\":\"room1\"," OWNER ",\"interval_s\":30}");
	e = next_event(f, "r/room1", "slow_mode", 2000);
	assert_string_equal(tj_str(e, "message"), "slow mode: 30 s");
	cJSON_Delete(e);
	long long seq = send_as(f, "fa", "s-m", "oops", NULL, NULL);
	assert_string_equal(
	    call_err(f, "{\"op\":\"delete_message\",\"room_id\":\"room1\"," OWNER ",\"seq\":%lld}",
	             seq),
	    "");
	e = next_event(f, "r/room1", "message_deleted", 2000);
	assert_string_equal(tj_str(e, "message"), "a message was deleted");
	assert_string_equal(tj_str(e, "sender"), "system");
	cJSON_Delete(e);
}

static void
test_ban_by_subject_holds_a_new_nickname(void **state)
{
	struct fx *f = *state;
	cast(f);
	drain(f);
	cJSON *r = tcallf(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," OWNER
	                          ",\"user\":\"mel\",\"duration_s\":3600,\"note\":\"spam\"}");
	assert_true(tj_bool(r, "ok"));
	assert_true(tj_bool(r, "kicked"));
	assert_int_equal(strlen(tj_str(r, "until")), 24);
	cJSON_Delete(r);
	cJSON *e = next_event(f, "f/fb", "kick", 2000);
	assert_string_equal(tj_str(e, "reason"), "banned");
	assert_int_equal(strlen(tj_str(e, "until")), 24);
	assert_string_equal(tj_str(e, "note"), "spam");
	cJSON_Delete(e);
	assert_false(is_member(f, "room1", "mel"));
	/* Same subject, other nickname, other front-end: refused with until and note. */
	r = joinx(f, "fa", "s-x", "room1", "melody", "u-mel", false, NULL);
	assert_false(tj_bool(r, "ok"));
	assert_string_equal(tj_str(r, "error"), "banned");
	assert_int_equal(strlen(tj_str(r, "until")), 24);
	assert_string_equal(tj_str(r, "note"), "spam");
	cJSON_Delete(r);
	/* The nickname with another subject may join: the ban holds the subject. */
	joinx_ok(f, "fa", "s-y", "room1", "mel", "u-other", false, NULL);
	/* Other rooms are not concerned. */
	joinx_ok(f, "fa", "s-x", "room2", "melody", "u-mel", false, NULL);
	r = tcallf(f->req, "{\"op\":\"list_bans\",\"room_id\":\"room1\"," OWNER_API "}");
	cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "bans"), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "bans")), 1);
	assert_string_equal(tj_str(b, "user"), "mel");
	assert_string_equal(tj_str(b, "subject"), "u-mel");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "addr")));
	assert_string_equal(tj_str(b, "by"), "olga");
	assert_string_equal(tj_str(b, "note"), "spam");
	cJSON_Delete(r);
	/* Unban by the nickname it was set on lifts it; twice: no_such_ban. */
	tcall_ok(f->req, "{\"op\":\"unban\",\"room_id\":\"room1\"," OWNER ",\"user\":\"mel\"}");
	assert_string_equal(
	    call_err(f, "{\"op\":\"unban\",\"room_id\":\"room1\"," OWNER ",\"user\":\"mel\"}"),
	    "no_such_ban");
	joinx_ok(f, "fb", "s-mel2", "room1", "melody", "u-mel", false, NULL);
	/* A ban of a subject that is not in the room (REST). */
	tcall_ok(f->req,
	         "{\"op\":\"ban\",\"room_id\":\"room1\"," ADMIN_API ",\"subject\":\"u-zed\"}");
	r = joinx(f, "fb", "s-z", "room1", "zed", "u-zed", false, NULL);
	assert_string_equal(tj_str(r, "error"), "banned");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "until")));
	cJSON_Delete(r);
	tcall_ok(f->req,
	         "{\"op\":\"unban\",\"room_id\":\"room1\"," ADMIN_API ",\"subject\":\"u-zed\"}");
	joinx_ok(f, "fb", "s-z", "room1", "zed", "u-zed", false, NULL);
}

static void
test_ban_without_jwt_holds_nickname_and_address(void **state)
{
	struct fx *f = *state;
	cast(f);
	/* "subject":null is no subject (madang-api may send it). */
	cJSON *r = tcallf(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," ADMIN_API
	                          ",\"user\":\"anna\",\"subject\":null}");
	assert_true(tj_bool(r, "ok"));
	assert_true(tj_bool(r, "kicked"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "until")));
	cJSON_Delete(r);
	/* The nickname from another address, and another nickname from the address. */
	r = joinx(f, "fb", "s-1", "room1", "Anna", NULL, false, ",\"addr\":\"10.0.0.9\"");
	assert_string_equal(tj_str(r, "error"), "banned");
	cJSON_Delete(r);
	r = joinx(f, "fb", "s-2", "room1", "hanna", NULL, false, ",\"addr\":\"10.0.0.5\"");
	assert_string_equal(tj_str(r, "error"), "banned");
	cJSON_Delete(r);
	joinx_ok(f, "fb", "s-3", "room1", "hanna", NULL, false, ",\"addr\":\"10.0.0.9\"");
	/* A member with a token behind the same address is somebody else. */
	joinx_ok(f, "fb", "s-4", "room1", "tom", "u-tom", false, ",\"addr\":\"10.0.0.5\"");
	r = tcallf(f->req, "{\"op\":\"list_bans\",\"room_id\":\"room1\"," ADMIN_API "}");
	cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "bans"), 0);
	assert_string_equal(tj_str(b, "user"), "anna");
	assert_string_equal(tj_str(b, "addr"), "10.0.0.5");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(b, "subject")));
	cJSON_Delete(r);
	tcall_ok(f->req,
	         "{\"op\":\"unban\",\"room_id\":\"room1\"," ADMIN_API ",\"user\":\"ANNA\"}");
	joinx_ok(f, "fb", "s-2", "room1", "anna2", NULL, false, ",\"addr\":\"10.0.0.5\"");
}

static void
test_ban_and_mute_end_by_themselves(void **state)
{
	struct fx *f = *state;
	char err[64];
	cast(f);
	tcall_ok(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," OWNER
	                 ",\"user\":\"anna\",\"duration_s\":1}");
	tcall_ok(f->req, "{\"op\":\"mute\",\"room_id\":\"room1\"," MOD
	                 ",\"user\":\"mel\",\"duration_s\":1}");
	cJSON *r = joinx(f, "fb", "s-an", "room1", "anna", NULL, false, ",\"addr\":\"10.0.0.5\"");
	assert_string_equal(tj_str(r, "error"), "banned");
	cJSON_Delete(r);
	assert_int_equal(send_as(f, "fb", "s-mel", "hello", NULL, err), -1);
	assert_string_equal(err, "muted");
	msleep(1300);
	joinx_ok(f, "fb", "s-an", "room1", "anna", NULL, false, ",\"addr\":\"10.0.0.5\"");
	assert_true(send_as(f, "fb", "s-mel", "hello", NULL, err) > 0);
	/* Ended ones are gone from the lists too. */
	r = tcallf(f->req, "{\"op\":\"list_bans\",\"room_id\":\"room1\"," ADMIN_API "}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "bans")), 0);
	cJSON_Delete(r);
	r = tcallf(f->req, "{\"op\":\"list_mutes\",\"room_id\":\"room1\"," ADMIN_API "}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "mutes")), 0);
	cJSON_Delete(r);
	/* Ones nobody looks up are swept by the broker's tick: a re-ban after the sweep is
	 * refused by --max-bans only if they were not (see test_limits for the limit). */
	tcall_ok(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," OWNER
	                 ",\"user\":\"ghost\",\"duration_s\":1}");
	msleep(1300);
	r = tcallf(f->req, "{\"op\":\"list_bans\",\"room_id\":\"room1\"," ADMIN_API "}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "bans")), 0);
	cJSON_Delete(r);
}

static void
test_mute_refuses_send_private_typing_and_tells_the_frontend(void **state)
{
	struct fx *f = *state;
	char err[64];
	cast(f);
	drain(f);
	cJSON *r = tcallf(f->req, "{\"op\":\"mute\",\"room_id\":\"room1\"," MOD
	                          ",\"user\":\"mel\",\"duration_s\":600,\"note\":\"cool off\"}");
	assert_true(tj_bool(r, "ok"));
	char until[64];
	snprintf(until, sizeof(until), "%s", tj_str(r, "until"));
	assert_int_equal(strlen(until), 24);
	cJSON_Delete(r);
	cJSON *e = next_event(f, "f/fb", "muted", 2000);
	assert_non_null(e);
	assert_string_equal(tj_str(e, "session"), "s-mel");
	assert_string_equal(tj_str(e, "room_id"), "room1");
	assert_string_equal(tj_str(e, "until"), until);
	assert_string_equal(tj_str(e, "by"), "mona");
	assert_string_equal(tj_str(e, "note"), "cool off");
	cJSON_Delete(e);
	assert_null(next_event(f, "f/fa", "muted", 300));

	r = tcallf(f->req, "{\"op\":\"send\"," MEMBER ",\"room_id\":\"room1\",\"text\":\"x\"}");
	assert_string_equal(tj_str(r, "error"), "muted");
	assert_string_equal(tj_str(r, "until"), until);
	cJSON_Delete(r);
	assert_string_equal(call_err(f, "{\"op\":\"private\"," MEMBER
	                                ",\"room_id\":\"room1\",\"to\":\"olga\",\"text\":\"x\"}"),
	                    "muted");
	assert_string_equal(
	    call_err(f, "{\"op\":\"typing\"," MEMBER ",\"room_id\":\"room1\",\"active\":true}"),
	    "muted");
	/* Others speak; a rejoin (new session) learns it is muted. */
	assert_true(send_as(f, "fb", "s-an", "hi", NULL, err) > 0);
	tcall_ok(f->req, "{\"op\":\"leave\"," MEMBER ",\"room_id\":\"room1\"}");
	r = joinx(f, "fa", "s-mel3", "room1", "mel", "u-mel", false, NULL);
	assert_string_equal(tj_str(r, "muted_until"), until);
	assert_string_equal(tj_str(r, "role"), "member");
	cJSON_Delete(r);
	r = tcallf(f->req, "{\"op\":\"list_mutes\",\"room_id\":\"room1\"," MOD_API "}");
	cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "mutes"), 0);
	assert_string_equal(tj_str(m, "subject"), "u-mel");
	assert_string_equal(tj_str(m, "until"), until);
	cJSON_Delete(r);
	drain(f);
	tcall_ok(f->req, "{\"op\":\"unmute\",\"room_id\":\"room1\"," MOD ",\"user\":\"mel\"}");
	e = next_event(f, "f/fa", "unmuted", 2000);
	assert_non_null(e);
	assert_string_equal(tj_str(e, "session"), "s-mel3");
	assert_string_equal(tj_str(e, "by"), "mona");
	cJSON_Delete(e);
	assert_true(send_as(f, "fa", "s-mel3", "back", NULL, err) > 0);
	assert_string_equal(
	    call_err(f, "{\"op\":\"unmute\",\"room_id\":\"room1\"," MOD ",\"user\":\"mel\"}"),
	    "no_such_ban");
	/* A mute needs a duration. */
	assert_string_equal(
	    call_err(f, "{\"op\":\"mute\",\"room_id\":\"room1\"," MOD ",\"user\":\"mel\"}"),
	    "invalid_argument");
}

static void
test_slow_mode(void **state)
{
	struct fx *f = *state;
	char err[64];
	cast(f);
	drain(f);
	cJSON *r =
	    tcallf(f->req, "{\"op\":\"slow_mode\",\"room_id\":\"room1\"," MOD ",\"interval_s\":2}");
	assert_true(tj_bool(r, "ok"));
	long long seq = tj_int(r, "seq");
	cJSON_Delete(r);
	cJSON *e = next_event(f, "r/room1", "slow_mode", 2000);
	assert_int_equal(tj_int(e, "seq"), seq);
	assert_int_equal(tj_int(e, "interval_s"), 2);
	assert_string_equal(tj_str(e, "by"), "mona");
	assert_string_equal(tj_str(e, "sender"), "시스템");
	assert_string_equal(tj_str(e, "message"), "슬로우 모드: 2초");
	cJSON_Delete(e);
	assert_true(send_as(f, "fb", "s-mel", "one", NULL, err) > 0);
	r = tcallf(f->req, "{\"op\":\"send\"," MEMBER ",\"room_id\":\"room1\",\"text\":\"two\"}");
	assert_string_equal(tj_str(r, "error"), "slow_mode");
	long long wait = tj_int(r, "retry_after_ms");
	assert_true(wait > 0 && wait <= 2000);
	cJSON_Delete(r);
	/* Leaving and joining again does not reset it. */
	tcall_ok(f->req, "{\"op\":\"leave\"," MEMBER ",\"room_id\":\"room1\"}");
	joinx_ok(f, "fb", "s-mel", "room1", "mel", "u-mel", false, NULL);
	assert_int_equal(send_as(f, "fb", "s-mel", "two", NULL, err), -1);
	assert_string_equal(err, "slow_mode");
	/* Per member: anna may still send once; moderators and above are not held. */
	assert_true(send_as(f, "fb", "s-an", "one", NULL, err) > 0);
	for (int i = 0; i < 3; i++) {
		assert_true(send_as(f, "fa", "s-m", "mod", NULL, err) > 0);
		assert_true(send_as(f, "fa", "s-o", "owner", NULL, err) > 0);
		assert_true(send_as(f, "fa", "s-ad", "admin", NULL, err) > 0);
	}
	r = joinx(f, "fb", "s-new", "room1", "newbie", NULL, false, NULL);
	assert_int_equal(tj_int(r, "slow_mode_s"), 2);
	cJSON_Delete(r);
	msleep((int)wait + 50);
	assert_true(send_as(f, "fb", "s-mel", "two", NULL, err) > 0);
	/* The same interval again: no event; off: the event says so. */
	r = tcallf(f->req, "{\"op\":\"slow_mode\",\"room_id\":\"room1\"," MOD ",\"interval_s\":2}");
	assert_true(tj_bool(r, "ok"));
	cJSON_Delete(r);
	drain(f);
	tcall_ok(f->req,
	         "{\"op\":\"set_room\",\"room_id\":\"room1\"," MOD_API ",\"slow_mode_s\":0}");
	e = next_event(f, "r/room1", "slow_mode", 2000);
	assert_int_equal(tj_int(e, "interval_s"), 0);
	assert_string_equal(tj_str(e, "message"), "슬로우 모드가 꺼졌습니다.");
	cJSON_Delete(e);
	assert_true(send_as(f, "fb", "s-mel", "three", NULL, err) > 0);
	assert_true(send_as(f, "fb", "s-mel", "four", NULL, err) > 0);
	assert_string_equal(call_err(f, "{\"op\":\"slow_mode\",\"room_id\":\"room1\"," MOD
	                                ",\"interval_s\":86401}"),
	                    "invalid_argument");
}

/* The event of seq in the room's history reply, or NULL (in r). */
static cJSON *
history_event(cJSON *r, long long seq)
{
	cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(r, "events")) if (tj_int(it, "seq") ==
	                                                             seq) return it;
	return NULL;
}

static void
test_delete_message(void **state)
{
	struct fx *f = *state;
	char err[64];
	cast(f);
	long long seq = send_as(f, "fb", "s-mel", "something regrettable", "c-1", err);
	assert_true(seq > 0);
	drain(f);
	cJSON *r = tcallf(
	    f->req, "{\"op\":\"delete_message\",\"room_id\":\"room1\"," MOD ",\"seq\":%lld}", seq);
	assert_true(tj_bool(r, "ok"));
	long long dseq = tj_int(r, "seq");
	assert_true(dseq > seq);
	cJSON_Delete(r);
	cJSON *e = next_event(f, "r/room1", "message_deleted", 2000);
	assert_int_equal(tj_int(e, "seq"), dseq);
	assert_int_equal(tj_int(e, "deleted_seq"), seq);
	assert_string_equal(tj_str(e, "by"), "mona");
	assert_string_equal(tj_str(e, "sender"), "시스템");
	assert_string_equal(tj_str(e, "message"), "메시지가 삭제되었습니다.");
	cJSON_Delete(e);
	/* History keeps a tombstone: same seq, sender and time, no text, no client_id. */
	r = tcallf(f->req, "{\"op\":\"history\",\"room_id\":\"room1\"}");
	cJSON *t = history_event(r, seq);
	assert_non_null(t);
	assert_string_equal(tj_str(t, "type"), "message");
	assert_string_equal(tj_str(t, "sender"), "mel");
	assert_string_equal(tj_str(t, "message"), "");
	assert_true(tj_bool(t, "deleted"));
	assert_null(cJSON_GetObjectItem(t, "client_id"));
	char *text = cJSON_PrintUnformatted(r);
	assert_null(strstr(text, "regrettable"));
	free(text);
	cJSON_Delete(r);
	/* A resend of the deleted message is still a duplicate, not a new message. */
	r = tcallf(f->req, "{\"op\":\"send\"," MEMBER
	                   ",\"room_id\":\"room1\",\"text\":\"something regrettable\","
	                   "\"client_id\":\"c-1\"}");
	assert_true(tj_bool(r, "duplicate"));
	assert_int_equal(tj_int(r, "seq"), seq);
	cJSON_Delete(r);
	/* Twice, a join event, the deletion event itself, an unknown seq: no_such_message. */
	static const char *const fmt =
	    "{\"op\":\"delete_message\",\"room_id\":\"room1\"," MOD ",\"seq\":%lld}";
	assert_string_equal(call_err(f, fmt, seq), "no_such_message");
	assert_string_equal(call_err(f, fmt, 1LL), "no_such_message");
	assert_string_equal(call_err(f, fmt, dseq), "no_such_message");
	assert_string_equal(call_err(f, fmt, 999999LL), "no_such_message");
	assert_string_equal(call_err(f, fmt, 0LL), "invalid_argument");
	assert_string_equal(
	    call_err(f, "{\"op\":\"delete_message\",\"room_id\":\"room1\"," MOD ",\"seq\":\"1\"}"),
	    "invalid_argument");
}

/* ---- Hostile cases ---- */

static void
test_moderator_of_room_a_acting_in_room_b(void **state)
{
	struct fx *f = *state;
	char err[64];
	cast(f);
	joinx_ok(f, "fa", "s-m", "room2", "mona", "u-mod", false, NULL);
	joinx_ok(f, "fb", "s-mel", "room2", "mel", "u-mel", false, NULL);
	long long seq;
	{
		cJSON *r = tcallf(f->req, "{\"op\":\"send\"," MEMBER
		                          ",\"room_id\":\"room2\",\"text\":\"x\"}");
		seq = tj_int(r, "seq");
		cJSON_Delete(r);
	}
	static const char *const reqs[] = {
	    "{\"op\":\"kick\",\"room_id\":\"room2\",@,\"user\":\"mel\"}",
	    "{\"op\":\"mute\",\"room_id\":\"room2\",@,\"user\":\"mel\",\"duration_s\":60}",
	    "{\"op\":\"slow_mode\",\"room_id\":\"room2\",@,\"interval_s\":5}",
	    "{\"op\":\"list_mutes\",\"room_id\":\"room2\",@}",
	};
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(call_as(f, reqs[i], MOD), "forbidden");
		assert_string_equal(call_as(f, reqs[i], MOD_API), "forbidden");
	}
	assert_string_equal(
	    call_err(f, "{\"op\":\"delete_message\",\"room_id\":\"room2\"," MOD ",\"seq\":%lld}",
	             seq),
	    "forbidden");
	assert_true(is_member(f, "room2", "mel"));
	(void)err;
}

static void
test_nobody_acts_on_an_admin_or_themselves(void **state)
{
	struct fx *f = *state;
	cast(f);
	static const char *const acts[] = {
	    "{\"op\":\"kick\",\"room_id\":\"room1\",@,\"user\":\"adam\"}",
	    "{\"op\":\"ban\",\"room_id\":\"room1\",@,\"user\":\"adam\"}",
	    "{\"op\":\"mute\",\"room_id\":\"room1\",@,\"user\":\"adam\",\"duration_s\":60}",
	};
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(call_as(f, acts[i], OWNER), "forbidden");
		assert_string_equal(call_as(f, acts[i], MOD), "forbidden");
		assert_string_equal(call_as(f, acts[i], ADMIN_API), "forbidden");
		assert_string_equal(call_as(f, acts[i], ADMIN_WS), "forbidden");
	}
	assert_true(is_member(f, "room1", "adam"));
	assert_string_equal(
	    call_err(f, "{\"op\":\"kick\",\"room_id\":\"room1\"," MOD ",\"user\":\"mona\"}"),
	    "forbidden");
	assert_string_equal(
	    call_err(f, "{\"op\":\"kick\",\"room_id\":\"room1\"," OWNER ",\"user\":\"olga\"}"),
	    "forbidden");
	/* A ban set by nickname while the admin was away does not hold the admin. */
	tcall_ok(f->req, "{\"op\":\"leave\"," ADMIN_WS ",\"room_id\":\"room1\"}");
	tcall_ok(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," OWNER ",\"user\":\"adam\"}");
	cJSON *r = joinx(f, "fa", "s-ad", "room1", "adam", "u-adam", true, NULL);
	assert_true(tj_bool(r, "ok"));
	assert_string_equal(tj_str(r, "role"), "admin");
	cJSON_Delete(r);
	/* An admin flag without a subject (anonymous) is no admin. */
	r = tcallf(
	    f->req,
	    "{\"op\":\"join\",\"frontend\":\"fb\",\"session\":\"s-fake\",\"room_id\":\"room1\","
	    "\"user\":\"fake\",\"admin\":true}");
	assert_string_equal(tj_str(r, "role"), "member");
	cJSON_Delete(r);
	assert_string_equal(call_err(f,
	                             "{\"op\":\"kick\",\"room_id\":\"room1\",\"frontend\":\"fb\","
	                             "\"session\":\"s-fake\",\"user\":\"mel\"}"),
	                    "forbidden");
}

static void
test_moderator_cannot_ban_the_owner(void **state)
{
	struct fx *f = *state;
	cast(f);
	tcall_ok(f->req, "{\"op\":\"set_room\",\"room_id\":\"room1\"," OWNER
	                 ",\"moderators\":[\"u-mod\",\"u-mod2\"],\"moderators_may_ban\":true}");
	joinx_ok(f, "fa", "s-m2", "room1", "max", "u-mod2", false, NULL);
	assert_string_equal(
	    call_err(f, "{\"op\":\"ban\",\"room_id\":\"room1\"," MOD ",\"user\":\"olga\"}"),
	    "forbidden");
	assert_string_equal(
	    call_err(f, "{\"op\":\"ban\",\"room_id\":\"room1\"," MOD ",\"subject\":\"u-owner\"}"),
	    "forbidden");
	assert_string_equal(
	    call_err(f, "{\"op\":\"ban\",\"room_id\":\"room1\"," MOD ",\"user\":\"max\"}"),
	    "forbidden");
	assert_string_equal(call_err(f, "{\"op\":\"mute\",\"room_id\":\"room1\"," MOD
	                                ",\"user\":\"max\",\"duration_s\":5}"),
	                    "forbidden");
	assert_true(is_member(f, "room1", "olga"));
	/* A ban by nickname of a moderator who is away does not hold him when he comes back;
	 * the same ban of a member does. */
	tcall_ok(
	    f->req,
	    "{\"op\":\"leave\",\"frontend\":\"fa\",\"session\":\"s-m2\",\"room_id\":\"room1\"}");
	tcall_ok(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," MOD ",\"user\":\"max\"}");
	tcall_ok(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," MOD ",\"user\":\"min\"}");
	joinx_ok(f, "fa", "s-m2", "room1", "max", "u-mod2", false, NULL);
	cJSON *held = joinx(f, "fa", "s-min", "room1", "min", "u-min", false, NULL);
	assert_string_equal(tj_str(held, "error"), "banned");
	cJSON_Delete(held);
	/* The owner may act on moderators; an admin's ban of the owner by subject never holds. */
	tcall_ok(f->req, "{\"op\":\"kick\",\"room_id\":\"room1\"," OWNER ",\"user\":\"max\"}");
	tcall_ok(f->req, "{\"op\":\"leave\"," OWNER ",\"room_id\":\"room1\"}");
	tcall_ok(f->req,
	         "{\"op\":\"ban\",\"room_id\":\"room1\"," ADMIN_API ",\"subject\":\"u-owner\"}");
	cJSON *r = joinx(f, "fa", "s-o", "room1", "olga", "u-owner", false, NULL);
	assert_true(tj_bool(r, "ok"));
	assert_string_equal(tj_str(r, "role"), "owner");
	cJSON_Delete(r);
	r = joinx(f, "fa", "s-m2", "room1", "max", "u-mod2", false, NULL);
	assert_string_equal(tj_str(r, "role"), "moderator");
	cJSON_Delete(r);
}

/* ---- Limits ---- */

static void
test_limits(void **state)
{
	struct fx *f = *state;
	char note[300], mods[2048];
	cast(f);
	static const char *const ban =
	    "{\"op\":\"ban\",\"room_id\":\"room1\"," OWNER ",\"user\":\"%s\"}";
	assert_string_equal(call_err(f, ban, "g1"), "");
	assert_string_equal(call_err(f, ban, "g2"), "");
	assert_string_equal(call_err(f, ban, "g3"), "");
	assert_string_equal(call_err(f, ban, "g4"), "too_many_bans");
	assert_string_equal(call_err(f, ban, "G3"), ""); /* banning again replaces */
	assert_string_equal(
	    call_err(f, "{\"op\":\"unban\",\"room_id\":\"room1\"," OWNER ",\"user\":\"g1\"}"), "");
	assert_string_equal(call_err(f, ban, "g4"), "");
	static const char *const mute =
	    "{\"op\":\"mute\",\"room_id\":\"room1\"," OWNER ",\"user\":\"%s\",\"duration_s\":60}";
	assert_string_equal(call_err(f, mute, "h1"), "");
	assert_string_equal(call_err(f, mute, "h2"), "");
	assert_string_equal(call_err(f, mute, "h3"), "");
	assert_string_equal(call_err(f, mute, "h4"), "too_many_bans");
	/* note: 256 bytes, not 257; durations within 1 s .. 365 days. */
	memset(note, 'n', sizeof(note));
	note[256] = '\0';
	assert_string_equal(call_err(f,
	                             "{\"op\":\"kick\",\"room_id\":\"room1\"," OWNER
	                             ",\"user\":\"anna\",\"note\":\"%s\"}",
	                             note),
	                    "");
	note[256] = 'n';
	note[257] = '\0';
	assert_string_equal(call_err(f,
	                             "{\"op\":\"kick\",\"room_id\":\"room1\"," OWNER
	                             ",\"user\":\"mel\",\"note\":\"%s\"}",
	                             note),
	                    "invalid_argument");
	assert_string_equal(call_err(f, "{\"op\":\"kick\",\"room_id\":\"room1\"," OWNER
	                                ",\"user\":\"mel\",\"note\":\"a\\nb\"}"),
	                    "invalid_argument");
	/* The front-ends' rule too (valid_note): a blank note is refused, as they refuse it. */
	assert_string_equal(call_err(f, "{\"op\":\"kick\",\"room_id\":\"room1\"," OWNER
	                                ",\"user\":\"mel\",\"note\":\"   \"}"),
	                    "invalid_argument");
	assert_string_equal(call_err(f, "{\"op\":\"mute\",\"room_id\":\"room1\"," OWNER
	                                ",\"user\":\"h1\",\"duration_s\":0}"),
	                    "invalid_argument");
	assert_string_equal(call_err(f, "{\"op\":\"ban\",\"room_id\":\"room1\"," OWNER
	                                ",\"user\":\"g1\",\"duration_s\":31536001}"),
	                    "invalid_argument");
	/* 32 moderators, not 33. */
	size_t n = 0;
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(mods + n, sizeof(mods) - n, "%s\"m%d\"", i ? "," : "", i);
	assert_string_equal(
	    call_err(f, "{\"op\":\"set_room\",\"room_id\":\"room1\"," OWNER ",\"moderators\":[%s]}",
	             mods),
	    "invalid_argument");
	*strrchr(mods, ',') = '\0';
	cJSON *r = tcallf(
	    f->req, "{\"op\":\"set_room\",\"room_id\":\"room1\"," OWNER ",\"moderators\":[%s]}",
	    mods);
	assert_true(tj_bool(r, "ok"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
	                     cJSON_GetObjectItem(r, "moderation"), "moderators")),
	                 32);
	cJSON_Delete(r);
	assert_string_equal(call_err(f, "{\"op\":\"set_room\",\"room_id\":\"room1\"," OWNER
	                                ",\"moderators\":[\"\"]}"),
	                    "invalid_argument");
	assert_string_equal(call_err(f, "{\"op\":\"set_room\",\"room_id\":\"room1\"," OWNER "}"),
	                    "invalid_argument");
}

/* ---- Settings, audit ---- */

static void
test_create_room_owner_and_settings(void **state)
{
	struct fx *f = *state;
	hello(f, "fa");
	tcall_ok(f->req,
	         "{\"op\":\"create_room\",\"room_id\":\"r9\",\"name\":\"nine\",\"owner\":\"u-9\"}");
	cJSON *r = tcallf(f->req, "{\"op\":\"get_room\",\"room_id\":\"r9\"}");
	char *m = cJSON_PrintUnformatted(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(r, "room"), "moderation"));
	assert_string_equal(m, "{\"owner\":\"u-9\",\"moderators\":[],\"moderators_may_ban\":false,"
	                       "\"slow_mode_s\":0}");
	free(m);
	cJSON_Delete(r);
	r = joinx(f, "fa", "s9", "r9", "nina", "u-9", false, NULL);
	assert_string_equal(tj_str(r, "role"), "owner");
	assert_int_equal(tj_int(r, "slow_mode_s"), 0);
	assert_null(cJSON_GetObjectItem(r, "muted_until"));
	cJSON_Delete(r);
	assert_string_equal(
	    call_err(f, "{\"op\":\"create_room\",\"room_id\":\"r10\",\"owner\":\"\"}"),
	    "invalid_argument");
	/* A room without owner: get_room says so; an admin names one, then takes it away. */
	r = tcallf(f->req, "{\"op\":\"get_room\",\"room_id\":\"room2\"}");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(r, "room"), "moderation"), "owner")));
	cJSON_Delete(r);
	r = tcallf(f->req, "{\"op\":\"set_room\",\"room_id\":\"r9\",\"actor\":{\"name\":\"nina\","
	                   "\"subject\":\"u-9\"},"
	                   "\"moderators\":[\"u-a\",\"u-a\",\"u-b\"],\"moderators_may_ban\":true,"
	                   "\"slow_mode_s\":10}");
	m = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "moderation"));
	assert_string_equal(m, "{\"owner\":\"u-9\",\"moderators\":[\"u-a\",\"u-b\"],"
	                       "\"moderators_may_ban\":true,\"slow_mode_s\":10}");
	free(m);
	cJSON_Delete(r);
	tcall_ok(f->req, "{\"op\":\"set_room\",\"room_id\":\"r9\"," ADMIN_API ",\"owner\":null}");
	assert_string_equal(
	    call_err(f, "{\"op\":\"set_room\",\"room_id\":\"r9\",\"actor\":{\"name\":\"nina\","
	                "\"subject\":\"u-9\"},\"moderators\":[]}"),
	    "forbidden");
}

static void
test_audit_trail(void **state)
{
	struct fx *f = *state;
	cast(f);
	tcall_ok(f->req, "{\"op\":\"mute\",\"room_id\":\"room1\"," MOD
	                 ",\"user\":\"mel\",\"duration_s\":60,\"note\":\"spam\"}");
	tcall_ok(f->req, "{\"op\":\"kick\",\"room_id\":\"room1\"," MOD ",\"user\":\"anna\"}");
	tcall_ok(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," OWNER
	                 ",\"user\":\"mel\",\"duration_s\":3600,\"note\":\"spam\"}");
	cJSON *r = tcallf(f->req, "{\"op\":\"audit\",\"room_id\":\"room1\"," OWNER ",\"limit\":2}");
	cJSON *es = cJSON_GetObjectItem(r, "entries");
	assert_int_equal(cJSON_GetArraySize(es), 2);
	cJSON *ban = cJSON_GetArrayItem(es, 0);
	assert_string_equal(tj_str(ban, "action"), "ban");
	assert_string_equal(tj_str(ban, "room_id"), "room1");
	assert_int_equal(tj_int(ban, "duration_s"), 3600);
	assert_string_equal(tj_str(ban, "note"), "spam");
	cJSON *actor = cJSON_GetObjectItem(ban, "actor");
	assert_string_equal(tj_str(actor, "name"), "olga");
	assert_string_equal(tj_str(actor, "subject"), "u-owner");
	assert_false(tj_bool(actor, "admin"));
	assert_string_equal(tj_str(actor, "via"), "ws");
	assert_string_equal(tj_str(cJSON_GetObjectItem(ban, "target"), "user"), "mel");
	assert_string_equal(tj_str(cJSON_GetObjectItem(ban, "target"), "subject"), "u-mel");
	assert_string_equal(tj_str(cJSON_GetArrayItem(es, 1), "action"), "kick");
	long long next = tj_int(r, "next_before");
	assert_int_equal(next, tj_int(cJSON_GetArrayItem(es, 1), "id"));
	cJSON_Delete(r);
	/* The next page: the mute, then the settings the cast made. */
	r = tcallf(f->req,
	           "{\"op\":\"audit\",\"room_id\":\"room1\"," ADMIN_API ",\"before_id\":%lld}",
	           next);
	es = cJSON_GetObjectItem(r, "entries");
	assert_string_equal(tj_str(cJSON_GetArrayItem(es, 0), "action"), "mute");
	assert_string_equal(tj_str(cJSON_GetArrayItem(es, 1), "action"), "moderators");
	assert_string_equal(tj_str(cJSON_GetArrayItem(es, 2), "action"), "owner");
	assert_int_equal(cJSON_GetArraySize(es), 3);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "next_before")));
	cJSON_Delete(r);
	assert_string_equal(
	    call_err(f, "{\"op\":\"audit\",\"room_id\":\"room1\"," OWNER ",\"limit\":501}"),
	    "invalid_argument");
	/* The log has one line per action. */
	FILE *fp = fopen(f->tb.log, "r");
	char line[1024];
	bool seen = false;
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		seen = seen ||
		       strstr(line, "moderation: room=room1 action=ban by=olga (sub u-owner) "
		                    "target=mel (sub u-mel) duration_s=3600 note=\"spam\"") != NULL;
	fclose(fp);
	assert_true(seen);
}

/* set_room tells each present member whose role changed its new one on its front-end's topic
 * (docs/moderation.md: "Role changes"); members whose role stays are not told. */
static void
test_role_changes_reach_present_members(void **state)
{
	struct fx *f = *state;
	cast(f);
	drain(f);
	tcall_ok(f->req, "{\"op\":\"set_room\",\"room_id\":\"room1\"," OWNER
	                 ",\"moderators\":[\"u-mel\"]}");
	/* mona (f/fa) is no longer a moderator, mel (f/fb) is one now, in either order. */
	bool mel = false, mona = false;
	for (int i = 0; i < 2; i++) {
		cJSON *e = next_event(f, NULL, "role", 2000);
		assert_non_null(e);
		assert_string_equal(tj_str(e, "room_id"), "room1");
		if (strcmp(tj_str(e, "session"), "s-mel") == 0) {
			assert_string_equal(tj_str(e, "role"), "moderator");
			mel = true;
		} else {
			assert_string_equal(tj_str(e, "session"), "s-m");
			assert_string_equal(tj_str(e, "role"), "member");
			mona = true;
		}
		cJSON_Delete(e);
	}
	assert_true(mel && mona);
	assert_null(next_event(f, NULL, "role", 300)); /* olga, adam, anna: unchanged */
	/* The new moderator may act at once, the old one no longer. */
	assert_string_equal(call_as(f,
	                            "{\"op\":\"slow_mode\",\"room_id\":\"room1\",@,"
	                            "\"interval_s\":5}",
	                            MEMBER),
	                    "");
	assert_string_equal(call_as(f,
	                            "{\"op\":\"slow_mode\",\"room_id\":\"room1\",@,"
	                            "\"interval_s\":0}",
	                            MOD),
	                    "forbidden");
	/* A new owner: the old owner becomes a member, the new one an owner. */
	drain(f);
	tcall_ok(f->req,
	         "{\"op\":\"set_room\",\"room_id\":\"room1\"," ADMIN_API ",\"owner\":\"u-mel\"}");
	bool olga = false, mel_owner = false;
	for (int i = 0; i < 2; i++) {
		cJSON *e = next_event(f, NULL, "role", 2000);
		assert_non_null(e);
		if (strcmp(tj_str(e, "session"), "s-mel") == 0) {
			assert_string_equal(tj_str(e, "role"), "owner");
			mel_owner = true;
		} else {
			assert_string_equal(tj_str(e, "session"), "s-o");
			assert_string_equal(tj_str(e, "role"), "member");
			olga = true;
		}
		cJSON_Delete(e);
	}
	assert_true(olga && mel_owner);
}

/* A deletion may give a reason: it is in the message_deleted event, the audit entry and the
 * tombstone that history gives from then on. */
static void
test_delete_message_with_a_reason(void **state)
{
	struct fx *f = *state;
	cast(f);
	long long seq = send_as(f, "fb", "s-mel", "rude words", NULL, NULL);
	assert_true(seq > 0);
	drain(f);
	assert_string_equal(call_err(f,
	                             "{\"op\":\"delete_message\",\"room_id\":\"room1\"," MOD
	                             ",\"seq\":%lld,\"note\":\"rule 3\"}",
	                             seq),
	                    "");
	cJSON *e = next_event(f, "r/room1", "message_deleted", 2000);
	assert_non_null(e);
	assert_int_equal(tj_int(e, "deleted_seq"), seq);
	assert_string_equal(tj_str(e, "note"), "rule 3");
	cJSON_Delete(e);
	cJSON *r = tcallf(f->req, "{\"op\":\"audit\",\"room_id\":\"room1\"," OWNER ",\"limit\":1}");
	cJSON *en = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "entries"), 0);
	assert_string_equal(tj_str(en, "action"), "delete_message");
	assert_string_equal(tj_str(en, "note"), "rule 3");
	assert_int_equal(tj_int(en, "seq"), seq);
	cJSON_Delete(r);
	r = tcallf(f->req, "{\"op\":\"history\",\"room_id\":\"room1\",\"after_seq\":%lld,\"limit\":1}",
	           seq - 1);
	cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "events"), 0);
	assert_int_equal(tj_int(t, "seq"), seq);
	assert_true(tj_bool(t, "deleted"));
	assert_string_equal(tj_str(t, "message"), "");
	assert_string_equal(tj_str(t, "note"), "rule 3");
	cJSON_Delete(r);
	/* Without a reason the event has no note; a reason with a newline is refused. */
	seq = send_as(f, "fb", "s-mel", "more", NULL, NULL);
	assert_string_equal(call_err(f,
	                             "{\"op\":\"delete_message\",\"room_id\":\"room1\"," MOD
	                             ",\"seq\":%lld,\"note\":\"a\\nb\"}",
	                             seq),
	                    "invalid_argument");
	drain(f);
	assert_string_equal(
	    call_err(f, "{\"op\":\"delete_message\",\"room_id\":\"room1\"," MOD ",\"seq\":%lld}",
	             seq),
	    "");
	e = next_event(f, "r/room1", "message_deleted", 2000);
	assert_non_null(e);
	assert_null(cJSON_GetObjectItem(e, "note"));
	cJSON_Delete(e);
}

/* create_room for a user (a non-admin actor naming itself owner) counts against
 * --rooms-per-owner; an admin's is not counted; each owned room gets an "owner" audit entry. */
static void
test_rooms_per_owner(void **state)
{
	struct fx *f = *state;
	const char *user = "\"actor\":{\"name\":\"una\",\"subject\":\"u-una\"}";
	assert_string_equal(
	    call_err(f, "{\"op\":\"create_room\",\"room_id\":\"u1\",\"owner\":\"u-una\",%s}", user),
	    "");
	assert_string_equal(
	    call_err(f, "{\"op\":\"create_room\",\"room_id\":\"u2\",\"owner\":\"u-una\",%s}", user),
	    "");
	assert_string_equal(
	    call_err(f, "{\"op\":\"create_room\",\"room_id\":\"u3\",\"owner\":\"u-una\",%s}", user),
	    "create_limit");
	/* An admin may still give her a third; without an actor nothing is counted. */
	tcall_ok(f->req,
	         "{\"op\":\"create_room\",\"room_id\":\"u3\",\"owner\":\"u-una\"," ADMIN_API "}");
	tcall_ok(f->req, "{\"op\":\"create_room\",\"room_id\":\"u4\",\"owner\":\"u-una\"}");
	assert_string_equal(
	    call_err(f, "{\"op\":\"create_room\",\"room_id\":\"u5\",\"actor\":{\"name\":1}}"),
	    "invalid_argument");
	/* Every room she owns counts, however it was made: with three gone she may make one. */
	tcall_ok(f->req, "{\"op\":\"delete_room\",\"room_id\":\"u1\"}");
	tcall_ok(f->req, "{\"op\":\"delete_room\",\"room_id\":\"u3\"}");
	assert_string_equal(
	    call_err(f, "{\"op\":\"create_room\",\"room_id\":\"u6\",\"owner\":\"u-una\",%s}", user),
	    "create_limit");
	tcall_ok(f->req, "{\"op\":\"delete_room\",\"room_id\":\"u4\"}");
	assert_string_equal(
	    call_err(f, "{\"op\":\"create_room\",\"room_id\":\"u6\",\"owner\":\"u-una\",%s}", user),
	    "");
	cJSON *r = tcallf(f->req, "{\"op\":\"audit\",\"room_id\":\"u6\"," ADMIN_API "}");
	cJSON *en = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "entries"), 0);
	assert_non_null(en);
	assert_string_equal(tj_str(en, "action"), "owner");
	assert_string_equal(tj_str(cJSON_GetObjectItem(en, "target"), "subject"), "u-una");
	assert_string_equal(tj_str(cJSON_GetObjectItem(en, "actor"), "name"), "una");
	cJSON_Delete(r);
}

static void
test_sync_members_keep_their_identity(void **state)
{
	struct fx *f = *state;
	cast(f);
	/* fb syncs its two members again, mel now as an admin: the broker keeps them. */
	tcall_ok(
	    f->req,
	    "{\"op\":\"sync\",\"frontend\":\"fb\",\"instance\":\"i-fb\",\"members\":["
	    "{\"session\":\"s-mel\",\"room_id\":\"room1\",\"user\":\"mel\",\"subject\":\"u-mel\"},"
	    "{\"session\":\"s-an\",\"room_id\":\"room1\",\"user\":\"anna\",\"addr\":\"10.0.0.5\"}]"
	    "}");
	assert_true(is_member(f, "room1", "mel"));
	/* After a broker restart the front-end syncs members the broker does not know. */
	tcall_ok(
	    f->req,
	    "{\"op\":\"sync\",\"frontend\":\"fb\",\"instance\":\"i-fb\",\"members\":["
	    "{\"session\":\"s-mel\",\"room_id\":\"room1\",\"user\":\"mel\",\"subject\":\"u-mel\"},"
	    "{\"session\":\"s-an\",\"room_id\":\"room1\",\"user\":\"anna\",\"addr\":\"10.0.0.5\"},"
	    "{\"session\":\"s-bo\",\"room_id\":\"room1\",\"user\":\"boss\",\"subject\":\"u-boss\","
	    "\"admin\":true}]}");
	tcall_ok(f->req,
	         "{\"op\":\"kick\",\"room_id\":\"room1\",\"frontend\":\"fb\",\"session\":\"s-bo\","
	         "\"user\":\"olga\"}");
	assert_false(is_member(f, "room1", "olga"));
	/* A synced anonymous member's ban holds its address. */
	tcall_ok(f->req, "{\"op\":\"ban\",\"room_id\":\"room1\"," ADMIN_API ",\"user\":\"anna\"}");
	cJSON *r = joinx(f, "fa", "s-q", "room1", "quinn", NULL, false, ",\"addr\":\"10.0.0.5\"");
	assert_string_equal(tj_str(r, "error"), "banned");
	cJSON_Delete(r);
	cJSON *bad =
	    tcallf(f->req,
	           "{\"op\":\"sync\",\"frontend\":\"fb\",\"instance\":\"i-fb\",\"members\":["
	           "{\"session\":\"s-x\",\"room_id\":\"room1\",\"user\":\"x\",\"subject\":\"\"}]}");
	assert_false(tj_bool(cJSON_GetArrayItem(cJSON_GetObjectItem(bad, "results"), 0), "ok"));
	cJSON_Delete(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_authorization_matrix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_actor_is_one_form_or_the_other, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kick_of_a_member_on_another_frontend, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_notices_in_english, setup_en, teardown),
	    cmocka_unit_test_setup_teardown(test_ban_by_subject_holds_a_new_nickname, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_ban_without_jwt_holds_nickname_and_address, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_ban_and_mute_end_by_themselves, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_mute_refuses_send_private_typing_and_tells_the_frontend, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_moderator_of_room_a_acting_in_room_b, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_nobody_acts_on_an_admin_or_themselves, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_moderator_cannot_ban_the_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_create_room_owner_and_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_trail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sync_members_keep_their_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_role_changes_reach_present_members, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_delete_message_with_a_reason, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rooms_per_owner, setup_owners, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
