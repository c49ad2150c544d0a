/* jwt.c — HS256 JSON Web Tokens with OpenSSL's libcrypto HMAC. */
#include "jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sbuf.h"
#include "utf8.h"
#include "validate.h"
#include "wire.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
b64url_encode(struct sbuf *o, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		sbuf_addc(o, b64url[(v >> 18) & 63]);
		sbuf_addc(o, b64url[(v >> 12) & 63]);
		if (i + 1 < n)
			sbuf_addc(o, b64url[(v >> 6) & 63]);
		if (i + 2 < n)
			sbuf_addc(o, b64url[v & 63]);
	}
}

static int
b64url_val(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;
	return p ? (int)(p - b64url) : -1;
}

/* Decodes unpadded base64url; returns the length or -1. out must hold len*3/4+3 bytes. */
static long
b64url_decode(const char *s, size_t len, unsigned char *out)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_val(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

int
jwt_secret_load(const char *path, struct jwt_secret *s, char *err, size_t errsz)
{
	/* Room for the secret and its line end ("\r\n"), so that a JWT_SECRET_MAX-byte secret
	 * written by an editor or `echo` is taken. */
	unsigned char buf[JWT_SECRET_MAX + 2];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	int more = fgetc(f) != EOF;
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (more || n < JWT_SECRET_MIN || n > JWT_SECRET_MAX) {
		snprintf(err, errsz, "%s must hold %d to %d bytes of secret", path, JWT_SECRET_MIN,
		         JWT_SECRET_MAX);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	memcpy(s->key, buf, n);
	OPENSSL_cleanse(buf, sizeof(buf));
	s->len = n;
	return 0;
}

static void
hmac256(const struct jwt_secret *s, const char *data, size_t len, unsigned char out[32])
{
	unsigned int olen = 32;
	HMAC(EVP_sha256(), s->key, (int)s->len, (const unsigned char *)data, len, out, &olen);
}

static cJSON *
decode_part(const char *p, size_t len)
{
	unsigned char buf[JWT_MAX_LEN];
	const char *why;
	long n;

	if (len == 0 || len > JWT_MAX_LEN || (n = b64url_decode(p, len, buf)) < 0)
		return NULL;
	return wire_parse_object((const char *)buf, (size_t)n, JWT_MAX_LEN, &why);
}

int
jwt_verify(const struct jwt_secret *s, const char *token, size_t len, int64_t now,
           struct jwt_claims *c, const char **why)
{
	const char *d1, *d2;
	unsigned char want[32], got[48];
	cJSON *hdr = NULL, *pl = NULL;
	int64_t exp, nbf;
	int rv = -1;

	memset(c, 0, sizeof(*c));
	*why = "malformed token";
	if (token == NULL || len == 0 || len > JWT_MAX_LEN || memchr(token, '\0', len))
		return -1;
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		return -1;
	if ((hdr = decode_part(token, (size_t)(d1 - token))) == NULL)
		goto out;
	const char *alg = wire_str(hdr, "alg", NULL);
	if (alg == NULL || strcmp(alg, "HS256") != 0) {
		*why = "unsupported alg (only HS256)";
		goto out;
	}
	size_t slen = len - (size_t)(d2 + 1 - token);
	if (slen != 43 || b64url_decode(d2 + 1, slen, got) != 32)
		goto out;
	hmac256(s, token, (size_t)(d2 - token), want);
	if (CRYPTO_memcmp(want, got, 32) != 0) {
		*why = "bad signature";
		goto out;
	}
	if ((pl = decode_part(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL)
		goto out;
	if (!wire_int(pl, "exp", &exp)) {
		*why = "token has no exp";
		goto out;
	}
	if (now > exp + JWT_LEEWAY_S) {
		*why = "expired";
		goto out;
	}
	if (wire_has(pl, "nbf") && (!wire_int(pl, "nbf", &nbf) || now + JWT_LEEWAY_S < nbf)) {
		*why = "not yet valid";
		goto out;
	}
	const char *name = wire_str(pl, "name", NULL);
	if (name == NULL)
		name = wire_str(pl, "sub", NULL);
	const char *nwhy;
	if (name == NULL || !nick_canonical(name, strlen(name), c->name, sizeof(c->name), &nwhy)) {
		*why = "no usable name in the token";
		goto out;
	}
	const char *sub = wire_str(pl, "sub", NULL);
	if (sub == NULL) {
		snprintf(c->sub, sizeof(c->sub), "%s", c->name);
	} else if (!jwt_subject_ok(sub, strlen(sub))) {
		*why = "unusable sub in the token";
		goto out;
	} else {
		memcpy(c->sub, sub, strlen(sub) + 1);
	}
	bool admin = false;
	c->admin = wire_bool(pl, "admin", &admin) && admin;
	c->exp = exp;
	*why = NULL;
	rv = 0;
out:
	cJSON_Delete(hdr);
	cJSON_Delete(pl);
	return rv;
}

bool
jwt_subject_ok(const char *s, size_t len)
{
	return len > 0 && len <= MADANG_SUBJECT_MAX && utf8_line_ok(s, len);
}

char *
jwt_mint(const struct jwt_secret *s, const char *name, bool admin, int64_t now, int64_t ttl)
{
	return jwt_mint_sub(s, name, NULL, admin, now, ttl);
}

char *
jwt_mint_sub(const struct jwt_secret *s, const char *name, const char *sub, bool admin, int64_t now,
             int64_t ttl)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	struct sbuf pl, out;
	unsigned char mac[32];

	sbuf_init(&pl);
	sbuf_adds(&pl, "{\"name\":");
	sbuf_add_jstr(&pl, name, strlen(name));
	if (sub != NULL) {
		sbuf_adds(&pl, ",\"sub\":");
		sbuf_add_jstr(&pl, sub, strlen(sub));
	}
	sbuf_addf(&pl, ",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld%s}", (long long)now, (long long)now,
	          (long long)(now + ttl), admin ? ",\"admin\":true" : "");
	sbuf_init(&out);
	b64url_encode(&out, (const unsigned char *)hdr, strlen(hdr));
	sbuf_addc(&out, '.');
	b64url_encode(&out, (const unsigned char *)pl.data, pl.len);
	hmac256(s, out.data, out.len, mac);
	sbuf_addc(&out, '.');
	b64url_encode(&out, mac, sizeof(mac));
	sbuf_fini(&pl);
	return sbuf_detach(&out, NULL);
}
