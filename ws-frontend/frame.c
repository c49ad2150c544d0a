/* frame.c — builds shared WebSocket text frames (RFC 6455 §5.2, server side: never masked). */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

size_t
ws_frame_header_len(size_t len)
{
	if (len < 126)
		return 2;
	if (len <= 0xffff)
		return 4;
	return 10;
}

struct ws_frame *
ws_frame_text(const char *payload, size_t len)
{
	size_t hl = ws_frame_header_len(len);
	struct ws_frame *f;
	unsigned char *h;

	if (len > UINT32_MAX - hl || (f = malloc(sizeof(*f) + hl + len)) == NULL)
		return NULL;
	f->refs = 1;
	f->len = (uint32_t)(hl + len);
	h = f->data;
	h[0] = 0x81; /* FIN, opcode 1 (text) */
	if (hl == 2) {
		h[1] = (unsigned char)len;
	} else if (hl == 4) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(h + hl, payload, len);
	return f;
}

struct ws_frame *
ws_frame_ref(struct ws_frame *f)
{
	f->refs++;
	return f;
}

void
ws_frame_unref(struct ws_frame *f)
{
	if (f != NULL && --f->refs == 0)
		free(f);
}

const char *
ws_frame_payload(const struct ws_frame *f, size_t *len)
{
	size_t hl = f->data[1] == 127 ? 10 : f->data[1] == 126 ? 4 : 2;

	*len = f->len - hl;
	return (const char *)f->data + hl;
}
