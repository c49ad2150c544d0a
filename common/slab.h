/* slab.h — small items (up to SLAB_ITEM_MAX bytes) in slabs of one size each, for what lives
 * as long as a connection: no malloc header per item, and the long-lived items apart from the
 * short-lived ones malloc hands out between them, so that the pages of a slab whose items are
 * all gone can go back to the system (docs/performance.md, finding 32).
 *
 * The slabs come from one address range reserved at the first allocation (not memory until
 * a slab is used), so slab_owns() tells a slab's item from malloc's with two compares. When
 * that range cannot be reserved, or is full, slab_alloc() returns NULL and the caller uses
 * malloc. Any thread may call these: one mutex guards the pool.
 *
 * MADANG_SLAB=off in the environment reserves no range: every item is malloc's. The
 * sanitizer suite runs the daemons so, for AddressSanitizer and LeakSanitizer check malloc's
 * blocks best (a leaked slab item is not a leak to LeakSanitizer); tests/unit/test_slab.c
 * checks the slabs themselves under both. */
#ifndef MADANG_SLAB_H
#define MADANG_SLAB_H

#include <stdbool.h>
#include <stddef.h>

#define SLAB_BYTES      (16 * 1024) /* a slab; items begin after its 64-byte header */
#define SLAB_SMALL_STEP 8           /* item sizes up to SLAB_SMALL_MAX are multiples of this, */
#define SLAB_SMALL_MAX  256         /* and past it, up to SLAB_ITEM_MAX, multiples of SLAB_STEP */
#define SLAB_STEP       16
#define SLAB_ITEM_MAX   1024

/* An item of size bytes (1 to SLAB_ITEM_MAX, rounded up to the next item size: 8, 16, …,
 * 256, then 272, …, 1024), contents undefined; NULL when size is out of that range or no slab
 * can be had. Aligned to 8 bytes, or 16 when its size is a multiple of 16: what any type of
 * madang's or of libwebsockets' needs (malloc's 16 serves long double and vector types). */
void *slab_alloc(size_t size);
/* Gives back an item of slab_alloc. An empty slab's pages go back to the system, unless it is
 * the last slab of its size. */
void slab_free(void *p);
/* Gives back the pages of the empty slabs kept as the last of their size, as malloc_trim does
 * malloc's free pages once a burst is over. Returns how many. */
size_t slab_trim(void);
/* True when p is inside the slabs' address range (an item of slab_alloc). */
bool slab_owns(const void *p);
/* The usable size of an item of slab_alloc: its size rounded up to the next item size. */
size_t slab_item_size(const void *p);

/* An item of size bytes: a slab's, or malloc's when none can be had (a size past
 * SLAB_ITEM_MAX, or no range); NULL when neither. slab_release frees it. slab_zalloc zeroes
 * it. */
void *slab_malloc(size_t size);
void *slab_zalloc(size_t size);
/* The same, for an item that comes and goes while others stay (a frame): brief items take
 * slabs of their own, so that the holes they leave when freed are not in the slabs of what
 * lasts as long as a connection (docs/performance.md, finding 33). */
void *slab_malloc_brief(size_t size);
/* A copy of the string s, as slab_malloc's (strdup's for what lasts as long as a connection or
 * a room); NULL when no memory. slab_release frees it. */
char *slab_strdup(const char *s);
/* Frees p, an item of slab_zalloc or slab_alloc, or malloc's (slab_owns tells); NULL: nothing. */
void slab_release(void *p);

/* malloc, realloc and free for slab items and malloc's alike, in one call: realloc(ptr, size)
 * with size 0 meaning free (libwebsockets' allocator hook has this shape). An item that no
 * longer fits moves to a larger one, or to malloc past SLAB_ITEM_MAX. */
void *slab_realloc(void *ptr, size_t size);

struct slab_stats {
	size_t slabs;    /* slabs holding memory */
	size_t items;    /* items handed out */
	size_t reserved; /* bytes of address range reserved (0: none, slab_alloc says NULL) */
};
void slab_stats(struct slab_stats *st);

#endif
