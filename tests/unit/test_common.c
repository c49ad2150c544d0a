/* test_common.c — unit tests for common/: UTF-8, names, JSON parsing, buffers, hash map, clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "clock.h"
#include "hmap.h"
#include "iset.h"
#include "ipc.h"
#include "opt.h"
#include "sbuf.h"
#include "utf8.h"
#include "validate.h"
#include "wire.h"

static void
test_utf8_accepts_valid_and_refuses_overlong_surrogate_truncated(void **state)
{
	(void)state;
	assert_true(utf8_valid("hello", 5));
	assert_true(utf8_valid("한국어 😀", strlen("한국어 😀")));
	assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
	assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(utf8_valid("\xe4\xb8", 2));         /* truncated */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_false(utf8_valid("\xff", 1));
	assert_int_equal(utf8_count("a한😀", strlen("a한😀")), 3);
	/* "a한😀" is 1 + 3 + 4 bytes: a prefix never ends inside a character. */
	assert_int_equal(utf8_prefix("a한😀", 8, 8), 8);
	assert_int_equal(utf8_prefix("a한😀", 8, 100), 8);
	assert_int_equal(utf8_prefix("a한😀", 8, 7), 4);
	assert_int_equal(utf8_prefix("a한😀", 8, 4), 4);
	assert_int_equal(utf8_prefix("a한😀", 8, 3), 1);
	assert_int_equal(utf8_prefix("a한😀", 8, 1), 1);
	assert_int_equal(utf8_prefix("a한😀", 8, 0), 0);
	assert_int_equal(utf8_prefix("한", 3, 2), 0);
	/* One line of text: valid UTF-8 without C0 controls or DEL (subjects, reasons). */
	assert_true(utf8_line_ok("스팸 link", strlen("스팸 link")));
	assert_true(utf8_line_ok("", 0));
	assert_false(utf8_line_ok("a\nb", 3));
	assert_false(utf8_line_ok("a\tb", 3));
	assert_false(utf8_line_ok("a\x7f", 2));
	assert_false(utf8_line_ok("\xed\xa0\x80", 3)); /* a surrogate */
}

static void
test_room_id_syntax(void **state)
{
	(void)state;
	assert_true(valid_room_id("room1", 5));
	assert_true(valid_room_id("A_b-9", 5));
	assert_false(valid_room_id("", 0));
	assert_false(valid_room_id("../etc", 6));
	assert_false(valid_room_id("a b", 3));
	assert_false(valid_room_id("a%00", 4));
	char long_id[66];
	memset(long_id, 'a', 65);
	long_id[65] = '\0';
	assert_true(valid_room_id(long_id, 64));
	assert_false(valid_room_id(long_id, 65));
}

static void
expect_nick(const char *in, const char *canon)
{
	char out[MADANG_NICK_MAX_BYTES + 1];
	const char *why = NULL;

	if (canon == NULL) {
		assert_false(nick_canonical(in, strlen(in), out, sizeof(out), &why));
		assert_non_null(why);
	} else {
		if (!nick_canonical(in, strlen(in), out, sizeof(out), &why))
			fail_msg("nickname '%s' refused: %s", in, why);
		assert_string_equal(out, canon);
	}
}

static void
test_nickname_rules(void **state)
{
	(void)state;
	expect_nick("alice", "alice");
	expect_nick("  bob\t", "bob");
	expect_nick("\xe3\x80\x80kim\xe3\x80\x80", "kim"); /* ideographic spaces trimmed */
	expect_nick("김철수", "김철수");
	expect_nick("Mary Ann", "Mary Ann");
	expect_nick("", NULL);
	expect_nick("   ", NULL);
	expect_nick("a\x01b", NULL);
	expect_nick("a\xe2\x80\x8b" "b", NULL); /* zero-width space */
	expect_nick("a\xe2\x80\xae" "b", NULL); /* right-to-left override */
	expect_nick("a\xc2\xa0" "b", NULL);     /* no-break space inside */
	expect_nick("\xef\xbb\xbf" "bob", NULL);
	expect_nick("system", NULL);
	expect_nick("SYSTEM", NULL);
	expect_nick("시스템", NULL);
	expect_nick("\xc3\x28", NULL);
	expect_nick("abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345");
	expect_nick("abcdefghijklmnopqrstuvwxyz0123456", NULL); /* 33 characters */
	char big[10001];
	memset(big, 'x', 10000);
	big[10000] = '\0';
	expect_nick(big, NULL);
}

static void
test_nickname_fold_is_case_insensitive(void **state)
{
	char a[MADANG_NICK_MAX_BYTES + 1], b[MADANG_NICK_MAX_BYTES + 1];

	(void)state;
	nick_fold("Alice", a, sizeof(a));
	nick_fold("aLICE", b, sizeof(b));
	assert_string_equal(a, b);
	nick_fold("ÉLODIE", a, sizeof(a));
	nick_fold("élodie", b, sizeof(b));
	assert_string_equal(a, b);
	nick_fold("ΣΩ", a, sizeof(a));
	nick_fold("σω", b, sizeof(b));
	assert_string_equal(a, b);
	nick_fold("ＢＯＢ", a, sizeof(a)); /* full-width letters fold to ASCII */
	assert_string_equal(a, "bob");
	nick_fold("김철수", a, sizeof(a));
	assert_string_equal(a, "김철수");
}

static void
test_text_rules(void **state)
{
	const char *why;
	char big[MADANG_TEXT_MAX + 2];

	(void)state;
	assert_true(valid_text("hi", 2, &why));
	assert_true(valid_text("line1\nline2\ttab", 15, &why));
	assert_false(valid_text("", 0, &why));
	assert_false(valid_text(" \n ", 3, &why));
	assert_false(valid_text("a\x07", 2, &why));
	assert_false(valid_text("\xc3\x28", 2, &why));
	memset(big, 'x', sizeof(big));
	assert_true(valid_text(big, MADANG_TEXT_MAX, &why));
	assert_false(valid_text(big, MADANG_TEXT_MAX + 1, &why));
	/* A moderator's reason: one line, no control character at all, not blank. */
	assert_true(valid_note("", 0, &why)); /* no reason */
	assert_true(valid_note("spam 스팸", 11, &why));
	assert_false(valid_note("two\nlines", 9, &why));
	assert_string_equal(why, "reason must be one line without control characters");
	assert_false(valid_note("tab\there", 8, &why));
	assert_false(valid_note("cr\r", 3, &why));
	assert_false(valid_note("c1\xc2\x85", 4, &why)); /* U+0085, NEL */
	assert_false(valid_note("a\0b", 3, &why));
	assert_false(valid_note("  \xe3\x80\x80", 5, &why)); /* spaces and U+3000 */
	assert_string_equal(why, "reason is only white space");
	assert_false(valid_note("\xc3\x28", 2, &why));
	assert_string_equal(why, "reason is not valid UTF-8");
	assert_true(valid_note(big, MADANG_NOTE_MAX, &why));
	assert_false(valid_note(big, MADANG_NOTE_MAX + 1, &why));
	assert_string_equal(why, "reason is longer than 256 bytes");
	assert_true(valid_token("c-17", 4, 64));
	assert_false(valid_token("a b", 3, 64));
	assert_false(valid_token("a\"b", 3, 64));
}

static void
test_wire_parse_refuses_bad_json(void **state)
{
	const char *why;
	cJSON *o;

	(void)state;
	o = wire_parse_object("{\"a\":1}", 7, 100, &why);
	assert_non_null(o);
	cJSON_Delete(o);
	assert_null(wire_parse_object("{\"a\":1}", 7, 6, &why));
	assert_string_equal(why, "request too large");
	assert_null(wire_parse_object("[1]", 3, 100, &why));
	assert_null(wire_parse_object("{\"a\":1} x", 9, 100, &why));
	assert_null(wire_parse_object("{\"a\":\"\\u0000\"}", 14, 100, &why));
	assert_null(wire_parse_object("{\"a\":\"\xff\"}", 8, 100, &why));
	char deep[64];
	memset(deep, '[', 20);
	strcpy(deep + 20, "]]]]]]]]]]]]]]]]]]]]");
	assert_null(wire_parse_object(deep, 40, 100, &why));
	assert_string_equal(why, "JSON nested too deeply");
	/* Brackets inside strings do not count as nesting. */
	o = wire_parse_object("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[\"}", 30, 100, &why);
	assert_non_null(o);
	cJSON_Delete(o);
}

static void
test_wire_typed_fields(void **state)
{
	const char *why;
	static const char text[] =
		"{\"s\":\"x\",\"i\":42,\"f\":1.5,\"b\":true,\"big\":1e300,\"n\":null}";
	cJSON *o = wire_parse_object(text, strlen(text), 1000, &why);
	int64_t v;
	bool bv;

	(void)state;
	assert_non_null(o);
	assert_string_equal(wire_str(o, "s", NULL), "x");
	assert_null(wire_str(o, "i", NULL));
	assert_true(wire_int(o, "i", &v));
	assert_int_equal(v, 42);
	assert_false(wire_int(o, "f", &v));
	assert_false(wire_int(o, "big", &v));
	assert_false(wire_int(o, "s", &v));
	assert_true(wire_bool(o, "b", &bv));
	assert_true(bv);
	assert_false(wire_bool(o, "i", &bv));
	assert_true(wire_has(o, "n"));
	assert_false(wire_has(o, "zz"));
	cJSON_Delete(o);
}

static void
test_wire_topics(void **state)
{
	char t[WIRE_TOPIC_MAX + 1];
	const char *topic, *json;
	size_t tl, jl;

	(void)state;
	assert_int_equal(wire_topic(t, sizeof(t), 'r', "room1"), 8);
	assert_string_equal(t, "r/room1\n");
	assert_true(wire_split_event("r/room1\n{}", 10, &topic, &tl, &json, &jl));
	assert_int_equal(tl, 7);
	assert_int_equal(jl, 2);
	assert_false(wire_split_event("no newline", 10, &topic, &tl, &json, &jl));
	assert_false(wire_split_event("\n{}", 3, &topic, &tl, &json, &jl));
}

static void
test_sbuf_json_escaping(void **state)
{
	struct sbuf b;

	(void)state;
	sbuf_init(&b);
	static const char raw[] = "a\"b\\c\nd\x01<é>";
	sbuf_add_jstr(&b, raw, strlen(raw));
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001<é>\"");
	sbuf_reset(&b);
	sbuf_addi(&b, -12345);
	sbuf_addf(&b, ":%s", "x");
	assert_string_equal(b.data, "-12345:x");
	sbuf_fini(&b);
}

/* An item that carries its key, not at the start: what iset is for (a session and its id). */
struct iset_item {
	int n;
	char key[12];
};

/* iset keeps items by the key inside each: found by the key's text, replaced by an item with
 * the same key, removed by its own key or another copy of it, through growth, churn of
 * tombstones and removal while walking; the last removal frees the slots. */
static void
test_iset_keeps_items_by_their_own_key(void **state)
{
	enum { N = 2000 };
	static struct iset_item items[N], twin;
	struct iset st;
	size_t it, n;
	void *p;

	(void)state;
	iset_init(&st, offsetof(struct iset_item, key));
	assert_null(iset_get(&st, "k0"));
	assert_null(iset_del(&st, "k0")); /* on a set that never held anything */
	for (int i = 0; i < N; i++) {
		items[i].n = i;
		snprintf(items[i].key, sizeof(items[i].key), "k%d", i);
		assert_int_equal(iset_put(&st, &items[i]), 0);
	}
	assert_int_equal(st.count, N);
	assert_true(st.cap <= 4096); /* 8 bytes a slot: at most 16 KiB of slots here */
	for (int i = 0; i < N; i++) {
		char copy[12];
		snprintf(copy, sizeof(copy), "k%d", i);
		assert_ptr_equal(iset_get(&st, copy), &items[i]);
	}
	/* An item with the same key takes the place of the one there. */
	twin.n = -1;
	snprintf(twin.key, sizeof(twin.key), "k7");
	assert_int_equal(iset_put(&st, &twin), 0);
	assert_int_equal(st.count, N);
	assert_ptr_equal(iset_get(&st, "k7"), &twin);
	assert_int_equal(iset_put(&st, &items[7]), 0);
	/* Removed by their own keys, then churned through tombstones. */
	for (int i = 0; i < N; i += 2)
		assert_ptr_equal(iset_del(&st, items[i].key), &items[i]);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < N; i += 2)
			assert_int_equal(iset_put(&st, &items[i]), 0);
		for (int i = 0; i < N; i += 2)
			assert_ptr_equal(iset_del(&st, items[i].key), &items[i]);
	}
	assert_int_equal(st.count, N / 2);
	assert_true(st.cap <= 4096);
	for (int i = 0; i < N; i++) {
		char copy[12];
		snprintf(copy, sizeof(copy), "k%d", i);
		assert_ptr_equal(iset_get(&st, copy), i % 2 ? &items[i] : NULL);
	}
	/* A walk that removes every item it meets sees each once; the set ends with no memory. */
	for (it = 0, n = 0; iset_next(&st, &it, &p); n++) {
		struct iset_item *x = p;
		assert_true(x->n % 2 == 1);
		assert_ptr_equal(iset_del(&st, x->key), x);
	}
	assert_int_equal(n, N / 2);
	assert_int_equal(st.count, 0);
	assert_null(st.slots);
	assert_int_equal(st.cap, 0);
	assert_int_equal(st.key_off, offsetof(struct iset_item, key)); /* ready for more */
	assert_int_equal(iset_put(&st, &items[3]), 0);
	assert_ptr_equal(iset_get(&st, "k3"), &items[3]);
	iset_fini(&st);
	assert_null(st.slots);
}

static void
test_hmap_put_get_delete_grow(void **state)
{
	struct hmap m;
	static char keys[2000][8];

	(void)state;
	hmap_init(&m);
	for (int i = 0; i < 2000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		assert_int_equal(hmap_put(&m, keys[i], (void *)(intptr_t)(i + 1)), 0);
	}
	assert_int_equal(m.count, 2000);
	for (int i = 0; i < 2000; i += 2)
		assert_int_equal((intptr_t)hmap_del(&m, keys[i]), i + 1);
	assert_int_equal(m.count, 1000);
	assert_null(hmap_get(&m, "k0"));
	assert_int_equal((intptr_t)hmap_get(&m, "k1"), 2);
	size_t it = 0, n = 0;
	void *v;
	while (hmap_next(&m, &it, NULL, &v))
		n++;
	assert_int_equal(n, 1000);
	/* Churn through tombstones (each sweep rehashes the keys: no hash is kept), then every
	 * key is found by its text, not by its pointer, and the deleted ones are not. */
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 2000; i += 2)
			assert_int_equal(hmap_put(&m, keys[i], (void *)(intptr_t)(i + 1)), 0);
		for (int i = 0; i < 2000; i += 2)
			assert_int_equal((intptr_t)hmap_del(&m, keys[i]), i + 1);
	}
	for (int i = 0; i < 2000; i++) {
		char copy[8];
		snprintf(copy, sizeof(copy), "k%d", i);
		assert_int_equal((intptr_t)hmap_get(&m, copy), i % 2 ? i + 1 : 0);
	}
	assert_int_equal(m.count, 1000);
	assert_true(m.cap <= 4096); /* what 2,000 entries took */
	hmap_fini(&m);
}

static void
test_iso8601_format(void **state)
{
	char out[CLOCK_ISO8601_LEN];

	(void)state;
	assert_string_equal(clock_iso8601(0, out), "1970-01-01T00:00:00.000Z");
	assert_string_equal(clock_iso8601(1795316806123LL, out), "2026-11-22T03:06:46.123Z");
	assert_string_equal(clock_iso8601(-1, out), "1969-12-31T23:59:59.999Z");
	/* Outside the years the format holds: the nearest time it holds. */
	assert_string_equal(clock_iso8601(253402300799999LL, out), "9999-12-31T23:59:59.999Z");
	assert_string_equal(clock_iso8601(253402300800000LL, out), "9999-12-31T23:59:59.999Z");
	assert_string_equal(clock_iso8601(INT64_MAX, out), "9999-12-31T23:59:59.999Z");
	assert_string_equal(clock_iso8601(-62167219200000LL, out), "0000-01-01T00:00:00.000Z");
	assert_string_equal(clock_iso8601(INT64_MIN, out), "0000-01-01T00:00:00.000Z");
}

/* Finding 5 of issue 25: these joined beside "alice" before. */
static void
test_nickname_refuses_invisible_and_lookalike_names(void **state)
{
	char a[MADANG_NICK_MAX_BYTES + 1], b[MADANG_NICK_MAX_BYTES + 1];

	(void)state;
	expect_nick("alice\xef\xb8\x8f", NULL);     /* U+FE0F variation selector 16 */
	expect_nick("alice\xef\xb8\x80", NULL);     /* U+FE00 variation selector 1 */
	expect_nick("alice\xe1\xa0\x8b", NULL);     /* U+180B Mongolian free variation selector */
	expect_nick("alice\xf0\x9d\x85\xb3", NULL); /* U+1D173 musical symbol begin beam */
	expect_nick("\xe2\xa0\x80", NULL);          /* U+2800 Braille pattern blank */
	expect_nick("ｓｙｓｔｅｍ", NULL);            /* full-width "system": reserved */
	expect_nick("\xe1\x84\x89\xe1\x85\xb5\xe1\x84\x89\xe1\x85\xb3\xe1\x84\x90\xe1\x85\xa6"
		    "\xe1\x86\xb7",
		    NULL); /* "시스템" decomposed (NFD): reserved */
	expect_nick("e\xcc\x81lodie", "\xc3\xa9lodie"); /* NFD in, NFC out */
	nick_fold("ＡＬＩＣＥ", a, sizeof(a));
	nick_fold("alice", b, sizeof(b));
	assert_string_equal(a, b);
	nick_fold("Straße", a, sizeof(a));
	assert_string_equal(a, "strasse");
	/* the reserved names are written as their own keys */
	nick_fold("system", a, sizeof(a));
	assert_string_equal(a, "system");
	nick_fold("시스템", a, sizeof(a));
	assert_string_equal(a, "시스템");
}

/* Reads the whole file at path (NUL-terminated); NULL when it cannot. */
static char *
slurp(FILE *f)
{
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);

	while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

/* Compares one result field: want is NULL (refused), or the expected string. */
static void
expect_field(int i, const char *in, const char *field, const char *want, const char *got)
{
	if (want == NULL && got == NULL)
		return;
	if (want == NULL || got == NULL || strcmp(want, got) != 0)
		fail_msg("case %d (%s) %s: want %s, got %s", i, in, field, want ? want : "refused",
			 got ? got : "refused");
}

/* tests/unit/name-cases.json through common/validate.c (the expected results written there),
 * then through web/js/validate.js with node (tests/unit/names.mjs): both must agree on every
 * case, canonical form and fold key included. */
static void
test_names_c_and_web_client_agree(void **state)
{
	const char *root = getenv("MADANG_ROOT") ? getenv("MADANG_ROOT") : ".";
	char path[512], cmd[1200];
	FILE *f;
	char *text, *js_text;
	cJSON *doc, *js, *c;
	int i = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/unit/name-cases.json", root);
	assert_non_null(f = fopen(path, "r"));
	text = slurp(f);
	fclose(f);
	assert_non_null(doc = cJSON_Parse(text));
	snprintf(cmd, sizeof(cmd), "command -v node >/dev/null && node '%s/tests/unit/names.mjs' '%s'",
		 root, path);
	assert_non_null(f = popen(cmd, "r"));
	js_text = slurp(f);
	int st = pclose(f);
	js = st == 0 ? cJSON_Parse(js_text) : NULL;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases"))
	{
		const cJSON *in = cJSON_GetObjectItem(c, "in"), *rep = cJSON_GetObjectItem(c, "repeat");
		const cJSON *want_nick = cJSON_GetObjectItem(c, "nick");
		const cJSON *want_key = cJSON_GetObjectItem(c, "key");
		const cJSON *want_room = cJSON_GetObjectItem(c, "room");
		char nick[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1];
		char room[MADANG_ROOM_NAME_MAX_BYTES + 1], input[8192] = "";
		const char *why, *got_nick, *got_key, *got_room;
		int times = cJSON_IsNumber(rep) ? rep->valueint : 1;

		for (int k = 0; k < times; k++)
			strncat(input, in->valuestring, sizeof(input) - strlen(input) - 1);
		got_nick = nick_canonical(input, strlen(input), nick, sizeof(nick), &why) ? nick : NULL;
		got_key = NULL;
		if (got_nick != NULL) {
			nick_fold(nick, key, sizeof(key));
			got_key = key;
		}
		got_room =
		    room_name_canonical(input, strlen(input), room, sizeof(room), &why) ? room : NULL;
		if (want_nick != NULL)
			expect_field(i, in->valuestring, "nick",
				     cJSON_IsString(want_nick) ? want_nick->valuestring : NULL, got_nick);
		if (want_key != NULL)
			expect_field(i, in->valuestring, "key", want_key->valuestring, got_key);
		if (want_room != NULL)
			expect_field(i, in->valuestring, "room",
				     cJSON_IsString(want_room) ? want_room->valuestring : NULL, got_room);
		if (js != NULL) {
			const cJSON *r = cJSON_GetArrayItem(js, i);
			const cJSON *jn = cJSON_GetObjectItem(r, "nick"), *jk = cJSON_GetObjectItem(r, "key");
			const cJSON *jr = cJSON_GetObjectItem(r, "room");

			assert_non_null(r);
			expect_field(i, in->valuestring, "nick (web client vs C)", got_nick,
				     cJSON_IsString(jn) ? jn->valuestring : NULL);
			expect_field(i, in->valuestring, "key (web client vs C)", got_key,
				     cJSON_IsString(jk) ? jk->valuestring : NULL);
			expect_field(i, in->valuestring, "room (web client vs C)", got_room,
				     cJSON_IsString(jr) ? jr->valuestring : NULL);
		}
		i++;
	}
	assert_true(i >= 50);
	cJSON_Delete(doc);
	free(text);
	free(js_text);
	if (js == NULL)
		skip(); /* no node: the C half ran; 30-ws and 50-e2e need node anyway */
	assert_int_equal(cJSON_GetArraySize(js), i);
	cJSON_Delete(js);
}

static void
test_ipc_default_dir_resolution(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ipc_default_dir(0, "/run/user/0", out, sizeof(out)), 0);
	assert_string_equal(out, "/run/madang");
	assert_int_equal(ipc_default_dir(1000, "/run/user/1000", out, sizeof(out)), 0);
	assert_string_equal(out, "/run/user/1000/madang");
	assert_int_equal(ipc_default_dir(1000, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/tmp/madang-1000");
	assert_int_equal(ipc_default_dir(1000, "relative/dir", out, sizeof(out)), 0);
	assert_string_equal(out, "/tmp/madang-1000");
	assert_int_equal(
	    ipc_default_dir(1000, "/a/very/long/runtime/directory/path/that/goes/beyond/64/bytes",
	                    out, sizeof(out)),
	    -1);
	/* The process's own defaults use the same directory for both sockets. */
	const char *rpc = ipc_default_rpc_url(), *ev = ipc_default_events_url();
	assert_true(strncmp(rpc, "ipc:///", 7) == 0);
	assert_non_null(strstr(rpc, "/broker.rpc"));
	assert_int_equal(strlen(rpc) - strlen("broker.rpc"), strlen(ev) - strlen("broker.events"));
	assert_null(ipc_url_path("tcp://127.0.0.1:1"));
	assert_string_equal(ipc_url_path("ipc:///x/y"), "/x/y");
}

static void
expect_dir(const char *dir, uid_t euid, bool own, bool ok, const char *why_part)
{
	char err[256] = "";
	int rv = ipc_dir_check(dir, euid, own, err, sizeof(err));

	if (ok && rv != 0)
		fail_msg("%s refused: %s", dir, err);
	if (!ok && rv == 0)
		fail_msg("%s accepted (own %d)", dir, own);
	if (!ok && strstr(err, why_part) == NULL)
		fail_msg("%s refused for another reason: %s", dir, err);
}

/* A socket directory that another user owns or may write is refused; so is one below an
 * ancestor another user may rename entries of (sticky /tmp is fine). */
static void
test_ipc_dir_check_refuses_foreign_and_writable(void **state)
{
	char base[] = "/tmp/madang-ipc-test.XXXXXX", d[96], open_dir[96], link[96], err[256];
	uid_t me = geteuid();

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(d, sizeof(d), "%s/sock", base);
	assert_int_equal(mkdir(d, 0700), 0);
	expect_dir(d, me, true, true, NULL);
	if (me == 0) { /* root is trusted as an owner: give the directory to someone else */
		assert_int_equal(chown(d, 4242, (gid_t)-1), 0);
		expect_dir(d, 0, true, false, "belongs to another user");
		expect_dir(d, 0, false, false, "belongs to another user");
		assert_int_equal(chown(d, 0, (gid_t)-1), 0);
	} else {
		expect_dir(d, me + 4242, true, false, "belongs to another user");
		expect_dir(d, me + 4242, false, false, "belongs to another user");
	}
	assert_int_equal(chmod(d, 0777), 0);
	expect_dir(d, me, true, false, "can be written by other users");
	expect_dir(d, me, false, false, "can be written by other users");
	assert_int_equal(chmod(d, 01777), 0); /* sticky does not make the socket directory safe */
	expect_dir(d, me, true, false, "can be written by other users");
	assert_int_equal(chmod(d, 0770), 0); /* group-writable: refused to the broker only */
	expect_dir(d, me, true, false, "can be written by other users");
	expect_dir(d, me, false, true, NULL);
	assert_int_equal(chmod(d, 0755), 0);
	expect_dir(d, me, true, true, NULL);
	snprintf(link, sizeof(link), "%s/link", base);
	assert_int_equal(symlink(d, link), 0);
	expect_dir(link, me, true, false, "is not a directory");
	/* An ancestor others may write (no sticky bit): they could rename the directory away. */
	snprintf(open_dir, sizeof(open_dir), "%s/open", base);
	assert_int_equal(mkdir(open_dir, 0700), 0);
	assert_int_equal(chmod(open_dir, 0777), 0);
	snprintf(d, sizeof(d), "%s/open/sock", base);
	assert_int_equal(mkdir(d, 0700), 0);
	expect_dir(d, me, true, false, "can be written by other users");
	assert_int_equal(chmod(open_dir, 01777), 0);
	expect_dir(d, me, true, true, NULL);

	/* Dial side: a directory not made yet is fine only where no one else can make it. */
	char url[160];
	snprintf(url, sizeof(url), "ipc://%s/open/later/broker.rpc", base);
	assert_int_equal(ipc_dial_check(url, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not exist"));
	snprintf(url, sizeof(url), "ipc://%s/later/broker.rpc", base);
	if (ipc_dial_check(url, err, sizeof(err)) != 0)
		fail_msg("%s refused: %s", url, err);
	assert_int_equal(ipc_dial_check("tcp://127.0.0.1:9", err, sizeof(err)), 0);

	/* Listen side: made 0700 (with its parent) whatever the umask. */
	mode_t old = umask(0);
	snprintf(url, sizeof(url), "ipc://%s/new/deeper/broker.rpc", base);
	int rv = ipc_listen_prepare(url, err, sizeof(err));
	umask(old);
	if (rv != 0)
		fail_msg("%s refused: %s", url, err);
	struct stat st;
	snprintf(d, sizeof(d), "%s/new/deeper", base);
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(url, sizeof(url), "ipc://%s/open/broker.rpc", base);
	assert_int_equal(ipc_listen_prepare(url, err, sizeof(err)), -1);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	assert_int_equal(system(cmd), 0);
}

static void
test_hmap_iteration_may_delete_the_current_entry(void **state)
{
	struct hmap m;
	static char keys[100][8];
	const char *k;
	void *v;
	size_t it = 0, seen = 0;

	(void)state;
	hmap_init(&m);
	for (int i = 0; i < 100; i++) {
		snprintf(keys[i], sizeof(keys[i]), "r%d", i);
		assert_int_equal(hmap_put(&m, keys[i], keys[i]), 0);
	}
	while (hmap_next(&m, &it, &k, &v)) { /* the way madang-ws frees idle rooms */
		assert_ptr_equal(k, v);
		seen++;
		if (k[1] != '7')
			assert_ptr_equal(hmap_del(&m, k), v);
	}
	assert_int_equal(seen, 100);
	assert_int_equal(m.count, 11); /* r7, r70..r79 */
	assert_non_null(hmap_get(&m, "r75"));
	assert_null(hmap_get(&m, "r76x"));
	hmap_fini(&m);
}

static void
test_hmap_holds_no_memory_once_empty(void **state)
{
	struct hmap m;
	const char *k;
	size_t it = 0;

	(void)state;
	hmap_init(&m);
	assert_null(hmap_del(&m, "nothing")); /* on a map that never held anything */
	assert_int_equal(hmap_put(&m, "a", (void *)1), 0);
	assert_int_equal(hmap_put(&m, "b", (void *)2), 0);
	assert_non_null(m.slots);
	hmap_del(&m, "a");
	assert_non_null(m.slots);
	hmap_del(&m, "b");
	assert_null(m.slots); /* no hmap_fini needed: nothing leaks */
	assert_int_equal(m.cap, 0);
	assert_false(hmap_next(&m, &it, &k, NULL));
	assert_null(hmap_get(&m, "a"));
	assert_int_equal(hmap_put(&m, "a", (void *)3), 0); /* usable again */
	assert_int_equal((intptr_t)hmap_get(&m, "a"), 3);
	hmap_fini(&m);
}

/* Sessions come and go for days: tombstones must not make the table grow without end. */
static void
test_hmap_churn_keeps_the_table_small(void **state)
{
	struct hmap m;
	static char keys[4][16];
	char *k;
	size_t maxcap = 0;

	(void)state;
	hmap_init(&m);
	for (int i = 0; i < 3; i++) {
		snprintf(keys[i], sizeof(keys[i]), "stay%d", i);
		assert_int_equal(hmap_put(&m, keys[i], keys[i]), 0);
	}
	for (int i = 0; i < 100000; i++) {
		k = keys[3];
		snprintf(k, sizeof(keys[3]), "s%d", i);
		assert_int_equal(hmap_put(&m, k, k), 0);
		assert_ptr_equal(hmap_get(&m, k), k);
		assert_ptr_equal(hmap_del(&m, k), k);
		if (m.cap > maxcap)
			maxcap = m.cap;
	}
	assert_true(maxcap <= 16);
	assert_int_equal(m.count, 3);
	assert_ptr_equal(hmap_get(&m, "stay1"), keys[1]);
	hmap_fini(&m);
}

static void
test_opt_number_accepts_the_range_and_its_bounds(void **state)
{
	long long v = -1;
	char err[OPT_ERR_MAX];

	(void)state;
	assert_int_equal(opt_number("--history", "0", 0, 100000, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(opt_number("--history", "100000", 0, 100000, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 100000);
	assert_int_equal(opt_number("--n", "-5", -10, 10, &v, NULL, 0), 0);
	assert_int_equal(v, -5);
	assert_int_equal(opt_number("--n", "007", 1, 10, &v, NULL, 0), 0); /* decimal, not octal */
	assert_int_equal(v, 7);
	assert_int_equal(opt_number("--big", "9223372036854775807", 0, INT64_MAX, &v, NULL, 0), 0);
	assert_true(v == INT64_MAX);
}

static void
test_opt_number_refuses_garbage_and_out_of_range_naming_flag_and_range(void **state)
{
	static const char *const bad[] = {
	    "",   "abc", "12abc", "1.5",  " 5",   "5 ", "+5", "0x10",
	    "-1", "-0",  "100001", "1e3", "99999999999999999999999", "\t7",
	};
	long long v = 42;
	char err[OPT_ERR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(opt_number("--history", bad[i], 0, 100000, &v, err, sizeof(err)),
		                 -1);
		assert_int_equal(v, 42); /* untouched */
		assert_non_null(strstr(err, "--history must be a number from 0 to 100000"));
	}
	opt_number("--rate", "12abc", 1, 100000, &v, err, sizeof(err));
	assert_string_equal(err, "--rate must be a number from 1 to 100000 (not '12abc')");
	/* control bytes are not echoed, long values are cut */
	opt_number("--rate", "1\x1b[2J", 1, 9, &v, err, sizeof(err));
	assert_string_equal(err, "--rate must be a number from 1 to 9 (not '1?[2J')");
	opt_number("--rate", "123456789012345678901234567890123456789", 1, 9, &v, err, sizeof(err));
	assert_string_equal(
	    err, "--rate must be a number from 1 to 9 (not '12345678901234567890123456789012')");
	/* a negative range still refuses a bare sign and trailing garbage */
	assert_int_equal(opt_number("--n", "-", -10, 10, &v, NULL, 0), -1);
	assert_int_equal(opt_number("--n", "-11", -10, 10, &v, NULL, 0), -1);
	assert_int_equal(opt_number("--n", "--1", -10, 10, &v, NULL, 0), -1);
}

static void
test_opt_decimal_takes_plain_fractions_only(void **state)
{
	static const char *const bad[] = {
	    "", ".", "-", "abc", "1.5s", "1,5", " 1", "1 ", "+1", "1e3", "inf", "nan", "0x10",
	    "1.2.3", "-1", "10.5",
	};
	double v = 42;
	char err[OPT_ERR_MAX];

	(void)state;
	assert_int_equal(opt_decimal("--warmup", "0.5", 0, 10, &v, err, sizeof(err)), 0);
	assert_true(v == 0.5);
	assert_int_equal(opt_decimal("--warmup", ".25", 0, 10, &v, NULL, 0), 0);
	assert_true(v == 0.25);
	assert_int_equal(opt_decimal("--warmup", "3.", 0, 10, &v, NULL, 0), 0);
	assert_true(v == 3);
	assert_int_equal(opt_decimal("--warmup", "10", 0, 10, &v, NULL, 0), 0);
	assert_int_equal(opt_decimal("--n", "-2.5", -5, 5, &v, NULL, 0), 0);
	assert_true(v == -2.5);
	v = 42;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(opt_decimal("--warmup", bad[i], 0, 10, &v, err, sizeof(err)), -1);
		assert_true(v == 42);
		assert_non_null(strstr(err, "--warmup must be a number from 0 to 10 (not '"));
	}
	opt_decimal("--rate", "fast", 0.5, 10000000, &v, err, sizeof(err));
	assert_string_equal(err, "--rate must be a number from 0.5 to 10000000 (not 'fast')");
	/* more digits than a double holds: refused by the range, not wrapped */
	char big[400];
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(opt_decimal("--rate", big, 0, 1e9, &v, NULL, 0), -1);
}

static void
test_opt_version_is_set_by_the_build(void **state)
{
	(void)state;
	assert_string_not_equal(opt_version(), "unknown");
	assert_true(strlen(opt_version()) > 0);
	assert_null(strpbrk(opt_version(), " \n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_accepts_valid_and_refuses_overlong_surrogate_truncated),
		cmocka_unit_test(test_room_id_syntax),
		cmocka_unit_test(test_nickname_rules),
		cmocka_unit_test(test_nickname_fold_is_case_insensitive),
		cmocka_unit_test(test_text_rules),
		cmocka_unit_test(test_wire_parse_refuses_bad_json),
		cmocka_unit_test(test_wire_typed_fields),
		cmocka_unit_test(test_wire_topics),
		cmocka_unit_test(test_sbuf_json_escaping),
		cmocka_unit_test(test_hmap_put_get_delete_grow),
		cmocka_unit_test(test_iset_keeps_items_by_their_own_key),
		cmocka_unit_test(test_iso8601_format),
		cmocka_unit_test(test_nickname_refuses_invisible_and_lookalike_names),
		cmocka_unit_test(test_names_c_and_web_client_agree),
		cmocka_unit_test(test_ipc_default_dir_resolution),
		cmocka_unit_test(test_ipc_dir_check_refuses_foreign_and_writable),
		cmocka_unit_test(test_hmap_iteration_may_delete_the_current_entry),
		cmocka_unit_test(test_hmap_holds_no_memory_once_empty),
		cmocka_unit_test(test_hmap_churn_keeps_the_table_small),
		cmocka_unit_test(test_opt_number_accepts_the_range_and_its_bounds),
		cmocka_unit_test(test_opt_number_refuses_garbage_and_out_of_range_naming_flag_and_range),
		cmocka_unit_test(test_opt_decimal_takes_plain_fractions_only),
		cmocka_unit_test(test_opt_version_is_set_by_the_build),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
