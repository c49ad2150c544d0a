/* roomlog.c — a growable ring of shared frames indexed by seq. */
#include "roomlog.h"

#include <stdlib.h>
#include <string.h>

#define ROOMLOG_MIN_CAP 8

void
roomlog_init(struct roomlog *l, uint64_t next)
{
	memset(l, 0, sizeof(*l));
	l->base = l->top = next;
}

void
roomlog_reset(struct roomlog *l, uint64_t next)
{
	roomlog_trim(l, l->top);
	l->base = l->top = next;
}

void
roomlog_fini(struct roomlog *l)
{
	roomlog_trim(l, l->top);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Doubles the ring, keeping every entry at its seq's slot under the new mask. */
static int
roomlog_grow(struct roomlog *l)
{
	size_t cap = l->cap ? l->cap * 2 : ROOMLOG_MIN_CAP;
	struct roomlog_entry *v;

	if (cap < l->cap || cap > SIZE_MAX / sizeof(*v))
		return -2;
	v = calloc(cap, sizeof(*v));
	if (v == NULL)
		return -2;
	for (uint64_t s = l->base; s < l->top; s++)
		v[s & (cap - 1)] = l->v[s & (l->cap - 1)];
	free(l->v);
	l->v = v;
	l->cap = cap;
	return 0;
}

int
roomlog_append(struct roomlog *l, uint64_t seq, struct ws_frame *f)
{
	int rv;

	if (seq != l->top)
		return -1;
	if (roomlog_count(l) + 1 > l->cap && (rv = roomlog_grow(l)) != 0)
		return rv;
	l->v[seq & (l->cap - 1)] = (struct roomlog_entry){.frame = f, .offset = l->bytes};
	l->bytes += f->len;
	l->top++;
	return 0;
}

struct ws_frame *
roomlog_get(const struct roomlog *l, uint64_t seq)
{
	if (seq < l->base || seq >= l->top)
		return NULL;
	return l->v[seq & (l->cap - 1)].frame;
}

int
roomlog_replace(struct roomlog *l, uint64_t seq, struct ws_frame *f)
{
	struct roomlog_entry *e;
	uint64_t old;

	if (seq < l->base || seq >= l->top)
		return -1;
	e = &l->v[seq & (l->cap - 1)];
	old = e->frame->len;
	/* Unsigned arithmetic is modulo 2^64: each result is the true, non-negative one. */
	for (uint64_t s = seq + 1; s < l->top; s++)
		l->v[s & (l->cap - 1)].offset = l->v[s & (l->cap - 1)].offset - old + f->len;
	l->bytes = l->bytes - old + f->len;
	ws_frame_unref(e->frame);
	e->frame = f;
	return 0;
}

uint64_t
roomlog_pending(const struct roomlog *l, uint64_t cursor)
{
	if (cursor < l->base)
		cursor = l->base;
	if (cursor >= l->top)
		return 0;
	return l->bytes - l->v[cursor & (l->cap - 1)].offset;
}

void
roomlog_shrink(struct roomlog *l)
{
	if (roomlog_count(l) > 0)
		return;
	free(l->v);
	l->v = NULL;
	l->cap = 0;
}

void
roomlog_trim(struct roomlog *l, uint64_t upto)
{
	if (upto > l->top)
		upto = l->top;
	while (l->base < upto) {
		struct roomlog_entry *e = &l->v[l->base & (l->cap - 1)];
		ws_frame_unref(e->frame);
		e->frame = NULL;
		l->base++;
	}
}
