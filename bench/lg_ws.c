/* lg_ws.c — SHA-1, base64 and WebSocket frame coding for the load generator. */
#include "lg_ws.h"

#include <string.h>

static uint32_t
rol32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static void
sha1_block(uint32_t st[5], const uint8_t blk[64])
{
	uint32_t w[80], a = st[0], b = st[1], c = st[2], d = st[3], e = st[4];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
		       (uint32_t)blk[4 * i + 2] << 8 | blk[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;

		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol32(b, 30);
		b = a;
		a = t;
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
	st[4] += e;
}

void
lg_sha1(const void *data, size_t len, uint8_t out[20])
{
	uint32_t st[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
	const uint8_t *p = data;
	uint8_t tail[128];
	size_t full = len & ~(size_t)63, rest = len - full, tlen;
	uint64_t bits = (uint64_t)len * 8;

	for (size_t off = 0; off < full; off += 64)
		sha1_block(st, p + off);
	memset(tail, 0, sizeof(tail));
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tlen = rest + 1 + 8 <= 64 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
	for (size_t off = 0; off < tlen; off += 64)
		sha1_block(st, tail + off);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(st[i] >> 24);
		out[4 * i + 1] = (uint8_t)(st[i] >> 16);
		out[4 * i + 2] = (uint8_t)(st[i] >> 8);
		out[4 * i + 3] = (uint8_t)st[i];
	}
}

size_t
lg_base64(const uint8_t *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

void
lg_ws_accept_for(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char buf[128];
	uint8_t digest[20];
	size_t klen = strlen(key);

	if (klen > sizeof(buf) - sizeof(guid))
		klen = sizeof(buf) - sizeof(guid);
	memcpy(buf, key, klen);
	memcpy(buf + klen, guid, sizeof(guid) - 1);
	lg_sha1(buf, klen + sizeof(guid) - 1, digest);
	lg_base64(digest, sizeof(digest), out);
}

size_t
lg_ws_frame(uint8_t *out, int opcode, const void *payload, size_t len, uint32_t mask)
{
	const uint8_t *src = payload;
	uint8_t m[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
	                (uint8_t)mask};
	size_t h = 0;

	out[h++] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		out[h++] = (uint8_t)(0x80 | len);
	} else if (len <= 0xffff) {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(out + h, m, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		out[h + i] = src[i] ^ m[i & 3];
	return h + len;
}

int
lg_ws_parse_header(const uint8_t *p, size_t avail, struct lg_ws_hdr *h)
{
	size_t need = 2;
	uint64_t len;

	if (avail < 2)
		return 0;
	if (p[0] & 0x70)
		return -1; /* RSV bits: no extension was negotiated */
	h->fin = (p[0] & 0x80) != 0;
	h->opcode = p[0] & 0x0f;
	h->masked = (p[1] & 0x80) != 0;
	len = p[1] & 0x7f;
	if (len == 126)
		need += 2;
	else if (len == 127)
		need += 8;
	if (h->masked)
		need += 4;
	if (avail < need)
		return 0;
	if (len == 126) {
		len = (uint64_t)p[2] << 8 | p[3];
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
	}
	if (h->opcode >= 8 && (!h->fin || len > 125))
		return -1;
	if (h->masked)
		memcpy(h->mask, p + need - 4, 4);
	h->len = len;
	h->hdr_len = need;
	return 1;
}

void
lg_ws_unmask(uint8_t *p, uint64_t len, const uint8_t mask[4])
{
	for (uint64_t i = 0; i < len; i++)
		p[i] ^= mask[i & 3];
}

const uint8_t *
lg_find(const uint8_t *p, size_t len, const char *needle, size_t nlen)
{
	const uint8_t *end = p + len;

	while ((size_t)(end - p) >= nlen &&
	       (p = memchr(p, needle[0], (size_t)(end - p) - nlen + 1)) != NULL) {
		if (memcmp(p, needle, nlen) == 0)
			return p;
		p++;
	}
	return NULL;
}
