/* frame.c — builds shared WebSocket text frames (RFC 6455 §5.2, server side: never masked),
 * the small ones in common/slab.c's slabs. */
#include "frame.h"

#include "slab.h"

#include <string.h>

/* Frames of up to SLAB_ITEM_MAX bytes live in common/slab.c's slabs. A room keeps the join
 * event of each member (and --history frames) for as long as it is in use, while frames for
 * one session come and go between them: in malloc's heap the kept ones end up spread over
 * pages that the others share, and when a quiet room lets its kept frames go (room_cool),
 * hardly a page comes free. In slabs, sizes apart, a slab whose items are all gone gives its
 * pages back, and no frame carries malloc's header (docs/performance.md, findings 31 and 32).
 * Frames take slabs of their own (slab_malloc_brief), apart from the sessions' and lws's
 * state, which last as long as their connections (finding 33). A larger frame, or one made
 * when no slab can be had, is malloc's. */

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

	if (len > UINT32_MAX - hl - sizeof(*f))
		return NULL;
	if ((f = slab_malloc_brief(sizeof(*f) + hl + len)) == NULL)
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
	if (f == NULL || --f->refs > 0)
		return;
	slab_release(f);
}

const char *
ws_frame_payload(const struct ws_frame *f, size_t *len)
{
	size_t hl = f->data[1] == 127 ? 10 : f->data[1] == 126 ? 4 : 2;

	*len = f->len - hl;
	return (const char *)f->data + hl;
}
