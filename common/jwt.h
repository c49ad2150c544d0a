/* jwt.h — HS256 JSON Web Tokens for madang's optional authentication (--jwt-secret-file).
 *
 * Only HS256 is accepted: any other "alg" (none, HS512, RS256, …) is refused, so a token cannot
 * choose its own verification. Signatures are compared in constant time (CRYPTO_memcmp). */
#ifndef MADANG_JWT_H
#define MADANG_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define JWT_MAX_LEN     4096 /* longer tokens are refused unread */
#define JWT_SECRET_MIN  32   /* bytes of secret at least */
#define JWT_SECRET_MAX  1024
#define JWT_LEEWAY_S    30   /* clock skew allowed on exp and nbf */

struct jwt_secret {
	unsigned char key[JWT_SECRET_MAX];
	size_t len;
};

struct jwt_claims {
	char name[MADANG_NICK_MAX_BYTES + 1]; /* canonical nickname from "name", else "sub" */
	char sub[MADANG_SUBJECT_MAX + 1];     /* "sub" (1..128 bytes of printable UTF-8), else name */
	bool admin;                           /* "admin": true */
	int64_t exp;                          /* seconds since the epoch */
};

/* Reads a secret file (trailing CR/LF ignored); JWT_SECRET_MIN to JWT_SECRET_MAX bytes. 0 or -1
 * with a reason in err. */
int jwt_secret_load(const char *path, struct jwt_secret *s, char *err, size_t errsz);

/* Verifies token at time now (seconds). Returns 0 and fills *c, or -1 with *why set to a short
 * human reason ("malformed token", "unsupported alg", "bad signature", "expired", "not yet
 * valid", "no usable name", "unusable sub"). */
int jwt_verify(const struct jwt_secret *s, const char *token, size_t len, int64_t now,
	       struct jwt_claims *c, const char **why);

/* Mints a token for name (admin claim when admin), valid for ttl seconds from now. Returns a
 * malloc'd string or NULL. */
char *jwt_mint(const struct jwt_secret *s, const char *name, bool admin, int64_t now, int64_t ttl);
/* The same with a "sub" claim (none when sub is NULL). */
char *jwt_mint_sub(const struct jwt_secret *s, const char *name, const char *sub, bool admin,
                   int64_t now, int64_t ttl);
/* Whether s (len bytes) may be a subject: 1..MADANG_SUBJECT_MAX bytes of valid UTF-8 without
 * control characters. */
bool jwt_subject_ok(const char *s, size_t len);

#endif
