/* frame.c — builds shared WebSocket text frames (RFC 6455 §5.2, server side: never masked),
 * and keeps the small ones in a pool of their own. */
#include "frame.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The pool: frames of up to FRAME_POOL_MAX bytes live in slabs of FRAME_SLAB bytes, each slab
 * holding items of one size (a multiple of FRAME_POOL_STEP). A room keeps the join event of
 * each member (and --history frames) for as long as it is in use, while frames for one
 * session come and go between them: in malloc's heap the kept ones end up spread over pages
 * that the others share, and when a quiet room lets its kept frames go (room_cool), hardly a
 * page comes free. In slabs of their own, sizes apart, a slab whose items are all gone is
 * given back (malloc_trim then returns its pages), and no frame carries malloc's header
 * (docs/performance.md, finding 31). Only the lws thread makes and frees frames: no lock. */
#define FRAME_SLAB      (16 * 1024)
#define FRAME_SLAB_HEAD 64 /* the slab's header; items begin here */
#define FRAME_POOL_STEP 32
#define FRAME_POOL_MAX  1024
#define FRAME_CLASSES   (FRAME_POOL_MAX / FRAME_POOL_STEP)

struct slab {
	struct slab *next, *prev; /* the class's slabs that have a free item */
	void *free;               /* items given back, linked through their first word */
	uint32_t used;            /* items handed out */
	uint32_t bump;            /* offset of the first item never handed out */
	uint32_t size;            /* item size */
	bool listed;              /* on its class's list */
};
_Static_assert(sizeof(struct slab) <= FRAME_SLAB_HEAD, "the slab header fits");

static struct {
	struct {
		struct slab *avail; /* slabs with a free item */
		size_t slabs;       /* slabs of this class, full ones included */
	} cls[FRAME_CLASSES];
	struct frame_pool_stats st;
} pool;

static size_t
class_of(size_t size)
{
	return (size + FRAME_POOL_STEP - 1) / FRAME_POOL_STEP - 1;
}

static void
slab_link(size_t c, struct slab *s)
{
	s->prev = NULL;
	s->next = pool.cls[c].avail;
	if (s->next != NULL)
		s->next->prev = s;
	pool.cls[c].avail = s;
	s->listed = true;
}

static void
slab_unlink(size_t c, struct slab *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		pool.cls[c].avail = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->listed = false;
}

void *
frame_pool_alloc(size_t size)
{
	size_t c, isz;
	struct slab *s;
	char *p;

	if (size == 0 || size > FRAME_POOL_MAX)
		return NULL;
	c = class_of(size);
	isz = (c + 1) * FRAME_POOL_STEP;
	if ((s = pool.cls[c].avail) == NULL) {
		if ((s = aligned_alloc(FRAME_SLAB, FRAME_SLAB)) == NULL)
			return NULL;
		*s = (struct slab){.bump = FRAME_SLAB_HEAD, .size = (uint32_t)isz};
		POISON((char *)s + FRAME_SLAB_HEAD, FRAME_SLAB - FRAME_SLAB_HEAD);
		slab_link(c, s);
		pool.cls[c].slabs++;
		pool.st.slabs++;
	}
	if (s->free != NULL) {
		p = s->free;
		UNPOISON(p, isz);
		s->free = *(void **)p;
	} else {
		p = (char *)s + s->bump;
		UNPOISON(p, isz);
		s->bump += (uint32_t)isz;
	}
	POISON(p + size, isz - size); /* what the caller did not ask for */
	s->used++;
	pool.st.items++;
	if (s->free == NULL && s->bump + isz > FRAME_SLAB)
		slab_unlink(c, s); /* full */
	return p;
}

void
frame_pool_free(void *p)
{
	struct slab *s = (struct slab *)((uintptr_t)p & ~(uintptr_t)(FRAME_SLAB - 1));
	size_t c = class_of(s->size);

	UNPOISON(p, sizeof(void *));
	*(void **)p = s->free;
	s->free = p;
	POISON((char *)p + sizeof(void *), s->size - sizeof(void *));
	s->used--;
	pool.st.items--;
	if (!s->listed)
		slab_link(c, s);
	/* An empty slab goes, unless it is its class's last: a class in use keeps one. */
	if (s->used == 0 && pool.cls[c].slabs > 1) {
		slab_unlink(c, s);
		pool.cls[c].slabs--;
		pool.st.slabs--;
		UNPOISON((char *)s + FRAME_SLAB_HEAD, FRAME_SLAB - FRAME_SLAB_HEAD);
		free(s);
	}
}

void
frame_pool_stats(struct frame_pool_stats *st)
{
	*st = pool.st;
}

/* The bytes of a frame whose header and payload take len: in the pool or malloc's, decided
 * here alone, for ws_frame_text allocates and ws_frame_unref frees by it. */
static size_t
frame_bytes(size_t len)
{
	return sizeof(struct ws_frame) + len;
}

static bool
frame_pooled(size_t len)
{
	return frame_bytes(len) <= FRAME_POOL_MAX;
}

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
	if (frame_pooled(hl + len))
		f = frame_pool_alloc(frame_bytes(hl + len));
	else
		f = malloc(frame_bytes(hl + len));
	if (f == NULL)
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
	if (frame_pooled(f->len))
		frame_pool_free(f);
	else
		free(f);
}

const char *
ws_frame_payload(const struct ws_frame *f, size_t *len)
{
	size_t hl = f->data[1] == 127 ? 10 : f->data[1] == 126 ? 4 : 2;

	*len = f->len - hl;
	return (const char *)f->data + hl;
}
