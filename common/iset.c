/* iset.c — open addressing with linear probing and tombstones, as hmap.c, one pointer a slot. */
#include "iset.h"

#include <stdlib.h>
#include <string.h>

#include "hmap.h"

static char iset_tomb;
#define ISET_TOMBSTONE ((void *)&iset_tomb)

static const char *
key_of(const struct iset *s, const void *item)
{
	return (const char *)item + s->key_off;
}

void
iset_init(struct iset *s, size_t key_off)
{
	memset(s, 0, sizeof(*s));
	s->key_off = key_off;
}

void
iset_fini(struct iset *s)
{
	free(s->slots);
	iset_init(s, s->key_off);
}

static void **
iset_find(const struct iset *s, const char *key, uint32_t h)
{
	if (s->cap == 0)
		return NULL;
	for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		void **slot = &s->slots[i];
		if (*slot == NULL)
			return NULL;
		if (*slot != ISET_TOMBSTONE && strcmp(key_of(s, *slot), key) == 0)
			return slot;
	}
}

void *
iset_get(const struct iset *s, const char *key)
{
	void **slot = iset_find(s, key, hmap_hash(key));

	return slot != NULL ? *slot : NULL;
}

static int
iset_grow(struct iset *s)
{
	size_t cap = s->cap ? s->cap : 8, oldcap = s->cap;
	void **old = s->slots, **slots;

	/* Double only when the items need it; otherwise just sweep the tombstones. */
	if ((s->count + 1) * 2 > cap)
		cap *= 2;
	if ((slots = calloc(cap, sizeof(*slots))) == NULL)
		return -1;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i] == NULL || old[i] == ISET_TOMBSTONE)
			continue;
		size_t j = hmap_hash(key_of(s, old[i])) & (cap - 1);
		while (slots[j] != NULL)
			j = (j + 1) & (cap - 1);
		slots[j] = old[i];
	}
	free(old);
	s->slots = slots;
	s->cap = cap;
	s->used = s->count;
	return 0;
}

int
iset_put(struct iset *s, void *item)
{
	const char *key = key_of(s, item);
	uint32_t h = hmap_hash(key);
	void **slot = iset_find(s, key, h);

	if (slot != NULL) {
		*slot = item;
		return 0;
	}
	if ((s->used + 1) * 4 > s->cap * 3 && iset_grow(s) != 0)
		return -1;
	size_t i = h & (s->cap - 1);
	while (s->slots[i] != NULL && s->slots[i] != ISET_TOMBSTONE)
		i = (i + 1) & (s->cap - 1);
	if (s->slots[i] == NULL)
		s->used++;
	s->slots[i] = item;
	s->count++;
	return 0;
}

void *
iset_del(struct iset *s, const char *key)
{
	void **slot = iset_find(s, key, hmap_hash(key));
	void *item;

	if (slot == NULL)
		return NULL;
	item = *slot;
	*slot = ISET_TOMBSTONE;
	if (--s->count == 0)
		iset_fini(s); /* an empty set holds no memory (and no tombstones) */
	return item;
}

bool
iset_next(const struct iset *s, size_t *iter, void **item)
{
	while (*iter < s->cap) {
		void *p = s->slots[(*iter)++];
		if (p != NULL && p != ISET_TOMBSTONE) {
			*item = p;
			return true;
		}
	}
	return false;
}
