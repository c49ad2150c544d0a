/* test_jwt.c — HS256 tokens: minting, verification, and every way a token is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jwt.h"
#include "sbuf.h"

static struct jwt_secret secret = {.key = "0123456789abcdef0123456789abcdef", .len = 32};
static const int64_t now = 1795316806;

static void
expect_refused(const char *tok, const char *reason)
{
	struct jwt_claims c;
	const char *why;

	assert_int_equal(jwt_verify(&secret, tok, strlen(tok), now, &c, &why), -1);
	assert_non_null(why);
	if (reason && strstr(why, reason) == NULL)
		fail_msg("refused for \"%s\", expected \"%s\"", why, reason);
}

/* "base64url(hdr).base64url(payload)": the signing input of a token with any header; the tests
 * append a signature (the alg check comes before any signature is looked at). */
static char *
forge(const char *hdr, const char *payload)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct sbuf o;
	sbuf_init(&o);
	const char *parts[2] = {hdr, payload};
	for (int k = 0; k < 2; k++) {
		const unsigned char *p = (const unsigned char *)parts[k];
		size_t n = strlen(parts[k]);
		for (size_t i = 0; i < n; i += 3) {
			unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
				     (i + 2 < n ? p[i + 2] : 0);
			sbuf_addc(&o, tbl[(v >> 18) & 63]);
			sbuf_addc(&o, tbl[(v >> 12) & 63]);
			if (i + 1 < n)
				sbuf_addc(&o, tbl[(v >> 6) & 63]);
			if (i + 2 < n)
				sbuf_addc(&o, tbl[v & 63]);
		}
		sbuf_addc(&o, '.');
	}
	o.len--; /* drop the last dot */
	o.data[o.len] = '\0';
	return sbuf_detach(&o, NULL);
}

static void
test_minted_token_verifies(void **state)
{
	struct jwt_claims c;
	const char *why;
	(void)state;
	char *tok = jwt_mint(&secret, "alice", true, now, 60);
	assert_int_equal(jwt_verify(&secret, tok, strlen(tok), now + 10, &c, &why), 0);
	assert_string_equal(c.name, "alice");
	assert_true(c.admin);
	assert_int_equal(c.exp, now + 60);
	free(tok);
	tok = jwt_mint(&secret, "bob", false, now, 60);
	assert_int_equal(jwt_verify(&secret, tok, strlen(tok), now, &c, &why), 0);
	assert_false(c.admin);
	free(tok);
}

/* "sub" is who the user is (room owners, moderators and bans name subjects): the claim when the
 * token has one, else the nickname; a control character or an over-long one refuses the token. */
static void
test_subject_claim(void **state)
{
	struct jwt_claims c;
	const char *why;
	char longsub[MADANG_SUBJECT_MAX + 2];
	(void)state;
	char *tok = jwt_mint_sub(&secret, "alice", "user-42@example.org", false, now, 60);
	assert_int_equal(jwt_verify(&secret, tok, strlen(tok), now, &c, &why), 0);
	assert_string_equal(c.name, "alice");
	assert_string_equal(c.sub, "user-42@example.org");
	free(tok);
	tok = jwt_mint(&secret, "bob", false, now, 60);
	assert_int_equal(jwt_verify(&secret, tok, strlen(tok), now, &c, &why), 0);
	assert_string_equal(c.sub, "bob");
	free(tok);
	tok = jwt_mint_sub(&secret, "bob", "a\nb", false, now, 60);
	expect_refused(tok, "sub");
	free(tok);
	memset(longsub, 'x', sizeof(longsub) - 1);
	longsub[sizeof(longsub) - 1] = '\0';
	tok = jwt_mint_sub(&secret, "bob", longsub, false, now, 60);
	expect_refused(tok, "sub");
	free(tok);
	longsub[MADANG_SUBJECT_MAX] = '\0';
	tok = jwt_mint_sub(&secret, "bob", longsub, false, now, 60);
	assert_int_equal(jwt_verify(&secret, tok, strlen(tok), now, &c, &why), 0);
	assert_int_equal(strlen(c.sub), MADANG_SUBJECT_MAX);
	free(tok);
}

static void
test_tampered_or_foreign_signature_is_refused(void **state)
{
	(void)state;
	char *tok = jwt_mint(&secret, "alice", false, now, 60);
	size_t n = strlen(tok);
	tok[n - 5] = tok[n - 5] == 'A' ? 'B' : 'A';
	expect_refused(tok, "signature");
	free(tok);
	struct jwt_secret other = {.key = "another secret that is long enough!!", .len = 36};
	tok = jwt_mint(&other, "alice", true, now, 60);
	expect_refused(tok, "signature");
	free(tok);
	/* Payload swapped under a valid signature. */
	char *a = jwt_mint(&secret, "alice", false, now, 60), *b = jwt_mint(&secret, "mallory", true, now, 60);
	char mix[1024];
	const char *a1 = strchr(a, '.'), *b1 = strchr(b, '.'), *b2 = strrchr(b, '.'), *a2 = strrchr(a, '.');
	snprintf(mix, sizeof(mix), "%.*s%.*s%s", (int)(a1 - a), a, (int)(b2 - b1), b1, a2);
	expect_refused(mix, "signature");
	free(a);
	free(b);
}

static void
test_alg_confusion_is_refused(void **state)
{
	(void)state;
	char *t = forge("{\"alg\":\"none\"}", "{\"name\":\"x\",\"exp\":9999999999}");
	char tok[1024];
	snprintf(tok, sizeof(tok), "%s.", t); /* alg none: empty signature */
	expect_refused(tok, "alg");
	free(t);
	t = forge("{\"alg\":\"HS512\"}", "{\"name\":\"x\",\"exp\":9999999999}");
	snprintf(tok, sizeof(tok), "%s.AAAA", t);
	expect_refused(tok, "alg");
	free(t);
	t = forge("{\"alg\":\"RS256\"}", "{\"name\":\"x\",\"exp\":9999999999}");
	snprintf(tok, sizeof(tok), "%s.AAAA", t);
	expect_refused(tok, "alg");
	free(t);
	t = forge("{\"typ\":\"JWT\"}", "{\"name\":\"x\",\"exp\":9999999999}");
	snprintf(tok, sizeof(tok), "%s.AAAA", t);
	expect_refused(tok, "alg");
	free(t);
}

static void
test_time_claims(void **state)
{
	(void)state;
	char *tok = jwt_mint(&secret, "alice", false, now - 3600, 60); /* expired an hour ago */
	expect_refused(tok, "expired");
	free(tok);
	tok = jwt_mint(&secret, "alice", false, now - 70, 60); /* 10 s ago: within the leeway */
	struct jwt_claims c;
	const char *why;
	assert_int_equal(jwt_verify(&secret, tok, strlen(tok), now, &c, &why), 0);
	free(tok);
	tok = jwt_mint(&secret, "alice", false, now + 3600, 60); /* nbf an hour ahead */
	expect_refused(tok, "not yet");
	free(tok);
}

static void
test_malformed_tokens(void **state)
{
	(void)state;
	expect_refused("", "malformed");
	expect_refused("abc", "malformed");
	expect_refused("a.b", "malformed");
	expect_refused("a.b.c.d", "malformed");
	expect_refused("!!!.???.***", "malformed");
	expect_refused("e30.e30.", "alg");
	char big[JWT_MAX_LEN + 10];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_refused(big, "malformed");
}

static void
test_name_must_be_a_valid_nickname(void **state)
{
	(void)state;
	char *tok = jwt_mint(&secret, "  padded  ", false, now, 60);
	struct jwt_claims c;
	const char *why;
	assert_int_equal(jwt_verify(&secret, tok, strlen(tok), now, &c, &why), 0);
	assert_string_equal(c.name, "padded");
	free(tok);
	tok = jwt_mint(&secret, "system", false, now, 60);
	expect_refused(tok, "name");
	free(tok);
}

static void
test_secret_file_rules(void **state)
{
	struct jwt_secret s;
	char err[256], path[] = "/tmp/madang-jwt-XXXXXX";
	(void)state;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "short\n", 6), 6);
	close(fd);
	assert_int_equal(jwt_secret_load(path, &s, err, sizeof(err)), -1);
	FILE *f = fopen(path, "w");
	fputs("0123456789abcdef0123456789abcdef\n", f);
	fclose(f);
	assert_int_equal(jwt_secret_load(path, &s, err, sizeof(err)), 0);
	assert_int_equal(s.len, 32);
	/* JWT_SECRET_MAX bytes are taken with their line end (a 1,024-byte secret and its newline
	 * were refused); one byte more is not. */
	static const char *const ends[] = {"", "\n", "\r\n"};
	for (size_t extra = 0; extra <= 1; extra++)
		for (size_t e = 0; e < 3; e++) {
			f = fopen(path, "w");
			for (size_t i = 0; i < JWT_SECRET_MAX + extra; i++)
				fputc('a' + (int)(i % 26), f);
			fputs(ends[e], f);
			fclose(f);
			assert_int_equal(jwt_secret_load(path, &s, err, sizeof(err)),
			                 extra ? -1 : 0);
			if (!extra) {
				assert_int_equal(s.len, JWT_SECRET_MAX);
				assert_int_equal(s.key[JWT_SECRET_MAX - 1],
				                 'a' + (JWT_SECRET_MAX - 1) % 26);
			}
		}
	unlink(path);
	assert_int_equal(jwt_secret_load(path, &s, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minted_token_verifies),
		cmocka_unit_test(test_subject_claim),
		cmocka_unit_test(test_tampered_or_foreign_signature_is_refused),
		cmocka_unit_test(test_alg_confusion_is_refused),
		cmocka_unit_test(test_time_claims),
		cmocka_unit_test(test_malformed_tokens),
		cmocka_unit_test(test_name_must_be_a_valid_nickname),
		cmocka_unit_test(test_secret_file_rules),
	};
	return cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
}
