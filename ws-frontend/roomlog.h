/* roomlog.h — one room's recent framed events, indexed by the room's seq, with byte offsets so
 * that a member's backlog (bytes from its cursor to the end) is known in O(1). */
#ifndef MADANG_WS_ROOMLOG_H
#define MADANG_WS_ROOMLOG_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct roomlog_entry {
	struct ws_frame *frame;
	uint64_t offset; /* bytes appended to the log before this frame */
};

/* Holds the frames of seq in [base, top). A member's cursor is the next seq it must receive;
 * cursors may lie beyond top (the member's join event has not arrived yet). */
struct roomlog {
	struct roomlog_entry *v; /* ring of cap entries, seq s at v[s & (cap - 1)] */
	size_t cap;              /* a power of two, or 0 before the first append */
	uint64_t base;           /* oldest seq held */
	uint64_t top;            /* next seq to append */
	uint64_t bytes;          /* bytes ever appended (offset of the next frame) */
};

/* An empty log whose next seq is next. */
void roomlog_init(struct roomlog *l, uint64_t next);
/* Drops every frame; the next seq becomes next. */
void roomlog_reset(struct roomlog *l, uint64_t next);
void roomlog_fini(struct roomlog *l);

/* Appends f as event seq, which must equal top. Takes over the caller's reference on success.
 * Returns 0, -1 when seq is not top, -2 when out of memory. */
int roomlog_append(struct roomlog *l, uint64_t seq, struct ws_frame *f);
/* The frame of seq, or NULL outside [base, top). No reference is added. */
struct ws_frame *roomlog_get(const struct roomlog *l, uint64_t seq);
/* Puts f in place of the frame of seq (a deleted message's tombstone): members whose cursor
 * is at or before seq get f instead, and the byte offsets after it follow f's length. Takes
 * over the caller's reference on success and drops the old frame's. Returns 0, or -1 when seq
 * is outside [base, top) (f stays the caller's). */
int roomlog_replace(struct roomlog *l, uint64_t seq, struct ws_frame *f);
/* Bytes of the frames from cursor to the end (0 when cursor >= top; from base when below). */
uint64_t roomlog_pending(const struct roomlog *l, uint64_t cursor);
/* Releases the frames of seq < upto (never beyond top). */
void roomlog_trim(struct roomlog *l, uint64_t upto);
/* Frees the ring when it holds no frame (the next append allocates it again). */
void roomlog_shrink(struct roomlog *l);
static inline uint64_t
roomlog_count(const struct roomlog *l)
{
	return l->top - l->base;
}

#endif
