/* lg_ws.h — the client half of RFC 6455 the load generator needs: SHA-1 and base64 for the
 * Sec-WebSocket-Accept check, masked frame encoding, frame header decoding, and the byte
 * search of the receive path. No I/O. */
#ifndef LG_WS_H
#define LG_WS_H

#include <stddef.h>
#include <stdint.h>

enum {
	LG_WS_CONT = 0x0,
	LG_WS_TEXT = 0x1,
	LG_WS_BINARY = 0x2,
	LG_WS_CLOSE = 0x8,
	LG_WS_PING = 0x9,
	LG_WS_PONG = 0xA,
};

/* Longest frame header: 2 bytes + 8 bytes of length + 4 bytes of mask. */
#define LG_WS_MAX_HDR 14

struct lg_ws_hdr {
	int fin;
	int opcode;
	int masked;
	uint8_t mask[4];
	uint64_t len;   /* payload length */
	size_t hdr_len; /* bytes before the payload */
};

void lg_sha1(const void *data, size_t len, uint8_t out[20]);
/* Writes the base64 of in[0..len) and a NUL into out (4 * ((len + 2) / 3) + 1 bytes); returns the
 * length written without the NUL. */
size_t lg_base64(const uint8_t *in, size_t len, char *out);
/* out (29 bytes) = base64(SHA-1(key + RFC 6455 GUID)), what the server must echo. */
void lg_ws_accept_for(const char *key, char out[29]);
/* Writes one masked frame (FIN set) into out, which has room for len + LG_WS_MAX_HDR bytes;
 * returns its length. */
size_t lg_ws_frame(uint8_t *out, int opcode, const void *payload, size_t len, uint32_t mask);
/* Decodes the header at p[0..avail). Returns 1 when the header is complete (h filled), 0 when
 * more bytes are needed, -1 when it is invalid (reserved bits, bad control frame). */
int lg_ws_parse_header(const uint8_t *p, size_t avail, struct lg_ws_hdr *h);
/* XORs payload with the 4-byte mask, in place. */
void lg_ws_unmask(uint8_t *p, uint64_t len, const uint8_t mask[4]);
/* The first occurrence of needle[0..nlen) (nlen >= 1) in p[0..len), or NULL: memchr for its
 * first byte, then a compare. glibc's memmem went byte by byte over each delivery and was the
 * load generator's largest cost at 2.56M deliveries/s (docs/performance.md, finding 25). */
const uint8_t *lg_find(const uint8_t *p, size_t len, const char *needle, size_t nlen);

#endif
