/* hmap.c — open addressing with linear probing and tombstones; grows at 3/4 load. */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

static const char hmap_tomb_key[] = "";
#define HMAP_TOMBSTONE hmap_tomb_key

uint32_t
hmap_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

void
hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof(*m));
}

void
hmap_fini(struct hmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static struct hmap_slot *
hmap_find(const struct hmap *m, const char *key, uint32_t h)
{
	/* Most probes end at an empty slot or at the key itself; a key of another entry differs
	 * from this one in its first bytes as a rule, so strcmp costs about what a kept hash
	 * compared would. */
	if (m->cap == 0)
		return NULL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct hmap_slot *s = &m->slots[i];
		if (s->key == NULL)
			return NULL;
		if (s->key != HMAP_TOMBSTONE && strcmp(s->key, key) == 0)
			return s;
	}
}

void *
hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_slot *s = hmap_find(m, key, hmap_hash(key));

	return s ? s->val : NULL;
}

static int
hmap_grow(struct hmap *m)
{
	size_t cap = m->cap ? m->cap : 8;
	struct hmap_slot *old = m->slots;
	size_t oldcap = m->cap;

	/* Double only when live entries need it; otherwise just sweep the tombstones. */
	if ((m->count + 1) * 2 > cap)
		cap *= 2;
	struct hmap_slot *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return -1;
	m->slots = slots;
	m->cap = cap;
	m->used = m->count;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].key == NULL || old[i].key == HMAP_TOMBSTONE)
			continue;
		size_t j = hmap_hash(old[i].key) & (cap - 1);
		while (slots[j].key != NULL)
			j = (j + 1) & (cap - 1);
		slots[j] = old[i];
	}
	free(old);
	return 0;
}

int
hmap_put(struct hmap *m, const char *key, void *val)
{
	uint32_t h = hmap_hash(key);
	struct hmap_slot *s = hmap_find(m, key, h);

	if (s != NULL) {
		s->val = val;
		return 0;
	}
	if ((m->used + 1) * 4 > m->cap * 3 && hmap_grow(m) != 0)
		return -1;
	size_t i = h & (m->cap - 1);
	while (m->slots[i].key != NULL && m->slots[i].key != HMAP_TOMBSTONE)
		i = (i + 1) & (m->cap - 1);
	if (m->slots[i].key == NULL)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->count++;
	return 0;
}

void *
hmap_del(struct hmap *m, const char *key)
{
	struct hmap_slot *s = hmap_find(m, key, hmap_hash(key));
	void *val;

	if (s == NULL)
		return NULL;
	val = s->val;
	s->key = HMAP_TOMBSTONE;
	s->val = NULL;
	if (--m->count == 0)
		hmap_fini(m); /* an empty map holds no memory (and no tombstones) */
	return val;
}

bool
hmap_next(const struct hmap *m, size_t *iter, const char **key, void **val)
{
	while (*iter < m->cap) {
		struct hmap_slot *s = &m->slots[(*iter)++];
		if (s->key != NULL && s->key != HMAP_TOMBSTONE) {
			if (key)
				*key = s->key;
			if (val)
				*val = s->val;
			return true;
		}
	}
	return false;
}
