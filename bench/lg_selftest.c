/* lg_selftest.c — `madang-loadgen --self-test`: checks the pure parts (SHA-1, base64, the
 * Sec-WebSocket-Accept value, frame coding, histogram quantiles) against known answers. */
#include "loadgen.h"
#include "lg_hist.h"
#include "lg_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "self-test: FAILED: %s\n", what);
		failures++;
	}
}

static void
test_sha1(void)
{
	static const struct {
		const char *in;
		const char *hex;
	} v[] = {
	    {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	    {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t d[20];
		char hex[41];

		lg_sha1(v[i].in, strlen(v[i].in), d);
		for (int k = 0; k < 20; k++)
			snprintf(hex + 2 * k, 3, "%02x", d[k]);
		check(strcmp(hex, v[i].hex) == 0, "SHA-1 known answer");
	}
}

static void
test_base64_and_accept(void)
{
	char out[64], acc[29];

	lg_base64((const uint8_t *)"foobar", 6, out);
	check(strcmp(out, "Zm9vYmFy") == 0, "base64 of foobar");
	lg_base64((const uint8_t *)"fooba", 5, out);
	check(strcmp(out, "Zm9vYmE=") == 0, "base64 of fooba");
	lg_base64((const uint8_t *)"foob", 4, out);
	check(strcmp(out, "Zm9vYg==") == 0, "base64 of foob");
	/* The example of RFC 6455 section 1.3. */
	lg_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
	check(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "RFC 6455 accept example");
}

static void
test_frames(void)
{
	static const size_t lens[] = {0, 5, 125, 126, 65535, 65536, 70000};
	uint8_t *buf = malloc(70000 + LG_WS_MAX_HDR), *payload = malloc(70000);
	struct lg_ws_hdr h;

	if (!buf || !payload) {
		check(0, "allocation");
		return;
	}
	for (size_t i = 0; i < 70000; i++)
		payload[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lg_ws_frame(buf, LG_WS_TEXT, payload, lens[i], 0x11223344);

		check(lg_ws_parse_header(buf, 1, &h) == 0, "one byte is not a header");
		check(lg_ws_parse_header(buf, n, &h) == 1 && h.fin && h.opcode == LG_WS_TEXT &&
		          h.masked && h.len == lens[i] && h.hdr_len + lens[i] == n,
		      "frame header round trip");
		lg_ws_unmask(buf + h.hdr_len, h.len, h.mask);
		check(memcmp(buf + h.hdr_len, payload, lens[i]) == 0, "masking round trip");
	}
	buf[0] = 0xC1; /* RSV1 set */
	check(lg_ws_parse_header(buf, 8, &h) == -1, "reserved bit refused");
	buf[0] = 0x09; /* ping without FIN */
	buf[1] = 0x00;
	check(lg_ws_parse_header(buf, 2, &h) == -1, "fragmented control frame refused");
	free(buf);
	free(payload);
}

static void
test_hist(void)
{
	struct lg_hist *h = malloc(sizeof(*h));
	uint64_t p50, p99;

	if (!h) {
		check(0, "allocation");
		return;
	}
	lg_hist_init(h);
	check(lg_hist_quantile(h, 0.5) == 0, "empty histogram");
	for (uint64_t v = 1; v <= 100000; v++)
		lg_hist_add(h, v * 1000); /* 1 us .. 100 ms */
	p50 = lg_hist_quantile(h, 0.5);
	p99 = lg_hist_quantile(h, 0.99);
	check(p50 >= 50000000 && p50 <= 50000000 + 50000000 / 128, "p50 within 1/128");
	check(p99 >= 99000000 && p99 <= 99000000 + 99000000 / 128, "p99 within 1/128");
	check(lg_hist_quantile(h, 1.0) == 100000000 && h->min == 1000, "max and min exact");
	lg_hist_init(h);
	for (uint64_t v = 0; v < 256; v++)
		lg_hist_add(h, v);
	check(lg_hist_quantile(h, 0.5) == 127, "small values are exact");
	free(h);
}

static void
test_find(void)
{
	static const char text[] = "{\"sender\":\"LG\",\"message\":\"LG1 abc\"}";
	const uint8_t *t = (const uint8_t *)text;
	size_t n = sizeof(text) - 1;

	check(lg_find(t, n, "LG1 ", 4) == t + 26, "finds the magic after a partial match");
	check(lg_find(t, n, "\"}", 2) == t + n - 2, "finds a needle that ends the text");
	check(lg_find(t, n - 2, "\"}", 2) == NULL, "stops at the end of the range");
	check(lg_find(t, 3, "{\"s", 3) == t, "finds a needle as long as the range");
	check(lg_find(t, 2, "{\"s", 3) == NULL, "a range shorter than the needle");
	check(lg_find(t, 0, "{", 1) == NULL, "an empty range");
}

int
lg_selftest(void)
{
	test_sha1();
	test_base64_and_accept();
	test_frames();
	test_hist();
	test_find();
	printf("self-test: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
