/* slab.c — small items in slabs of one size each, carved from one reserved address range. */
#include "slab.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Under valgrind, an item is a heap block of its own (the client requests do nothing outside
 * it): memcheck checks its use and its leaks, massif counts it at its caller
 * (bench/massif-idle.sh). A block is the whole item: slab_realloc copies it whole. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define ITEM_TAKEN(p, n) VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, 0)
#define ITEM_GIVEN(p)    VALGRIND_FREELIKE_BLOCK((p), 0)
#define LINK_READ(p)     VALGRIND_MAKE_MEM_DEFINED((p), sizeof(void *))
#endif
#endif
#ifndef ITEM_TAKEN
#define ITEM_TAKEN(p, n) ((void)(p), (void)(n))
#define ITEM_GIVEN(p)    ((void)(p))
#define LINK_READ(p)     ((void)(p))
#endif

#define SLAB_HEAD 64 /* the slab's header; items begin here */
/* Item sizes: 8 to SLAB_SMALL_MAX in steps of 8 (a short string, lws's 148-byte receive
 * buffer), then steps of 16 up to SLAB_ITEM_MAX (finding 33). */
#define SMALL_CLASSES (SLAB_SMALL_MAX / SLAB_SMALL_STEP)
#define SLAB_CLASSES  (SMALL_CLASSES + (SLAB_ITEM_MAX - SLAB_SMALL_MAX) / SLAB_STEP)
/* Brief items (slab_malloc_brief: frames) never share a slab with lasting ones: freed, they
 * would leave holes in slabs whose other items stay as long as their connections. */
enum { ZONE_LASTING, ZONE_BRIEF, ZONES };
/* The range asked for first, halved until the system grants one: only address space (no
 * memory, no commit charge: PROT_NONE until a slab is carved). 4 GiB holds the lws state,
 * sessions and memberships of about two million connections; past the range, malloc's. */
#define RANGE_MAX ((size_t)4 << 30)
#define RANGE_MIN ((size_t)64 << 20)

struct slab {
	struct slab *next, *prev; /* the class's slabs that have a free item */
	void *free;               /* items given back, linked through their first word */
	uint32_t used;            /* items handed out */
	uint32_t bump;            /* offset of the first item never handed out */
	uint32_t size;            /* item size */
	bool listed;              /* on its class's list */
	uint8_t zone;             /* ZONE_LASTING or ZONE_BRIEF */
};
_Static_assert(sizeof(struct slab) <= SLAB_HEAD, "the slab header fits");

static struct {
	pthread_mutex_t mu;
	bool tried;       /* the range was asked for (granted or not) */
	char *base, *end; /* the range, SLAB_BYTES-aligned; base is NULL when none */
	char *top;        /* slabs are carved from here on */
	char **spare;     /* slabs given back (their pages too), to carve again first */
	size_t nspare;
	size_t spare_cap; /* room for every slab carved, so that giving one back cannot fail */
	struct {
		struct slab *avail; /* slabs with a free item */
		size_t slabs;       /* slabs of this class, full ones included */
	} cls[ZONES][SLAB_CLASSES];
	struct slab_stats st;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The slab an item is in. */
static struct slab *
slab_of(const void *p)
{
	return (struct slab *)((uintptr_t)p & ~(uintptr_t)(SLAB_BYTES - 1));
}

static size_t
class_of(size_t size)
{
	if (size <= SLAB_SMALL_MAX)
		return (size + SLAB_SMALL_STEP - 1) / SLAB_SMALL_STEP - 1;
	return SMALL_CLASSES + (size - SLAB_SMALL_MAX + SLAB_STEP - 1) / SLAB_STEP - 1;
}

/* The item size of class c. */
static size_t
class_size(size_t c)
{
	if (c < SMALL_CLASSES)
		return (c + 1) * SLAB_SMALL_STEP;
	return SLAB_SMALL_MAX + (c - SMALL_CLASSES + 1) * SLAB_STEP;
}

static void
reserve(void)
{
	size_t want;
	void *p = MAP_FAILED;
	const char *env = getenv("MADANG_SLAB");

	pool.tried = true;
	if (env != NULL && strcmp(env, "off") == 0)
		return;
	for (want = RANGE_MAX; want >= RANGE_MIN; want /= 2)
		if ((p = mmap(NULL, want + SLAB_BYTES, PROT_NONE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)) != MAP_FAILED)
			break;
	if (p == MAP_FAILED)
		return;
	pool.top = (char *)(((uintptr_t)p + SLAB_BYTES - 1) & ~(uintptr_t)(SLAB_BYTES - 1));
	pool.st.reserved = want;
	__atomic_store_n(&pool.end, pool.top + want, __ATOMIC_RELEASE);
	__atomic_store_n(&pool.base, pool.top, __ATOMIC_RELEASE);
}

/* A slab's memory: a spare one, or the next one carved from the range; NULL when none. */
static char *
slab_memory(void)
{
	size_t carved;
	char **v;

	if (pool.nspare > 0)
		return pool.spare[--pool.nspare];
	if (!pool.tried)
		reserve();
	if (pool.base == NULL || pool.top + SLAB_BYTES > pool.end)
		return NULL;
	carved = (size_t)(pool.top - pool.base) / SLAB_BYTES + 1;
	if (carved > pool.spare_cap) {
		size_t cap = pool.spare_cap ? pool.spare_cap * 2 : 64;

		if ((v = realloc(pool.spare, cap * sizeof(*v))) == NULL)
			return NULL;
		pool.spare = v;
		pool.spare_cap = cap;
	}
	if (mprotect(pool.top, SLAB_BYTES, PROT_READ | PROT_WRITE) != 0)
		return NULL;
	pool.top += SLAB_BYTES;
	return pool.top - SLAB_BYTES;
}

static void
slab_link(size_t c, struct slab *s)
{
	s->prev = NULL;
	s->next = pool.cls[s->zone][c].avail;
	if (s->next != NULL)
		s->next->prev = s;
	pool.cls[s->zone][c].avail = s;
	s->listed = true;
}

static void
slab_unlink(size_t c, struct slab *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		pool.cls[s->zone][c].avail = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->listed = false;
}

static void *
zone_alloc(uint8_t zone, size_t size)
{
	size_t c, isz;
	struct slab *s;
	char *p = NULL;

	if (size == 0 || size > SLAB_ITEM_MAX)
		return NULL;
	c = class_of(size);
	isz = class_size(c);
	pthread_mutex_lock(&pool.mu);
	if ((s = pool.cls[zone][c].avail) == NULL) {
		if ((s = (struct slab *)slab_memory()) == NULL)
			goto out;
		UNPOISON(s, SLAB_HEAD);
		*s = (struct slab){.bump = SLAB_HEAD, .size = (uint32_t)isz, .zone = zone};
		POISON((char *)s + SLAB_HEAD, SLAB_BYTES - SLAB_HEAD);
		slab_link(c, s);
		pool.cls[zone][c].slabs++;
		pool.st.slabs++;
	}
	if (s->free != NULL) {
		p = s->free;
		UNPOISON(p, isz);
		LINK_READ(p);
		s->free = *(void **)p;
	} else {
		p = (char *)s + s->bump;
		UNPOISON(p, isz);
		s->bump += (uint32_t)isz;
	}
	POISON(p + size, isz - size); /* what the caller did not ask for */
	ITEM_TAKEN(p, isz);
	s->used++;
	pool.st.items++;
	if (s->free == NULL && s->bump + isz > SLAB_BYTES)
		slab_unlink(c, s); /* full */
out:
	pthread_mutex_unlock(&pool.mu);
	return p;
}

void *
slab_alloc(size_t size)
{
	return zone_alloc(ZONE_LASTING, size);
}

/* Unlists an empty slab of class c and gives its pages back; it is carved again before the
 * range's next one. Under the pool's lock. */
static void
give_back(size_t c, struct slab *s)
{
	slab_unlink(c, s);
	pool.cls[s->zone][c].slabs--;
	pool.st.slabs--;
	POISON(s, SLAB_HEAD);
	(void)madvise(s, SLAB_BYTES, MADV_DONTNEED);
	pool.spare[pool.nspare++] = (char *)s;
}

void
slab_free(void *p)
{
	struct slab *s = slab_of(p);
	size_t c;

	pthread_mutex_lock(&pool.mu);
	c = class_of(s->size);
	UNPOISON(p, sizeof(void *));
	*(void **)p = s->free;
	s->free = p;
	ITEM_GIVEN(p);
	POISON((char *)p + sizeof(void *), s->size - sizeof(void *));
	s->used--;
	pool.st.items--;
	if (!s->listed)
		slab_link(c, s);
	/* An empty slab goes, unless it is its class's last: a class in use keeps one (until
	 * slab_trim), so that an item that comes and goes does not fault a slab in each time. */
	if (s->used == 0 && pool.cls[s->zone][c].slabs > 1)
		give_back(c, s);
	pthread_mutex_unlock(&pool.mu);
}

size_t
slab_trim(void)
{
	size_t n = 0;

	pthread_mutex_lock(&pool.mu);
	for (int z = 0; z < ZONES; z++) {
		for (size_t c = 0; c < SLAB_CLASSES; c++) {
			struct slab *s = pool.cls[z][c].avail;
			if (s != NULL && s->used == 0 && pool.cls[z][c].slabs == 1) {
				give_back(c, s);
				n++;
			}
		}
	}
	pthread_mutex_unlock(&pool.mu);
	return n;
}

bool
slab_owns(const void *p)
{
	const char *base = __atomic_load_n(&pool.base, __ATOMIC_ACQUIRE);

	return base != NULL && (const char *)p >= base &&
	       (const char *)p < __atomic_load_n(&pool.end, __ATOMIC_ACQUIRE);
}

size_t
slab_item_size(const void *p)
{
	/* Set when the slab was carved; it does not change while p is in it. */
	return slab_of(p)->size;
}

/* An item of zone, or malloc's when none can be had. */
static void *
zone_malloc(uint8_t zone, size_t size)
{
	void *p = zone_alloc(zone, size);

	return p != NULL ? p : malloc(size);
}

void *
slab_malloc(size_t size)
{
	return zone_malloc(ZONE_LASTING, size);
}

void *
slab_malloc_brief(size_t size)
{
	return zone_malloc(ZONE_BRIEF, size);
}

void *
slab_zalloc(size_t size)
{
	void *p = slab_malloc(size);

	return p != NULL ? memset(p, 0, size) : NULL;
}

char *
slab_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = slab_malloc(n);

	return p != NULL ? memcpy(p, s, n) : NULL;
}

void
slab_release(void *p)
{
	if (p != NULL && slab_owns(p))
		slab_free(p);
	else
		free(p);
}

void *
slab_realloc(void *ptr, size_t size)
{
	size_t old;
	void *np;

	if (size == 0) {
		slab_release(ptr);
		return NULL;
	}
	if (ptr == NULL)
		return slab_malloc(size);
	if (!slab_owns(ptr))
		return realloc(ptr, size);
	old = slab_item_size(ptr);
	UNPOISON(ptr, old);
	if (size <= old && class_of(size) == class_of(old)) { /* the same size of item */
		POISON((char *)ptr + size, old - size);
		return ptr;
	}
	/* Larger, or a smaller size of item: it moves (a record shrunk to fit must not keep the
	 * item it was written in). A smaller one that cannot move stays where it is. */
	np = zone_malloc(slab_of(ptr)->zone, size); /* a brief item stays brief */
	if (np == NULL) {
		if (size > old)
			return NULL; /* ptr stays as it was, as realloc's does */
		POISON((char *)ptr + size, old - size);
		return ptr;
	}
	memcpy(np, ptr, size < old ? size : old);
	slab_free(ptr);
	return np;
}

void
slab_stats(struct slab_stats *st)
{
	pthread_mutex_lock(&pool.mu);
	*st = pool.st;
	pthread_mutex_unlock(&pool.mu);
}
