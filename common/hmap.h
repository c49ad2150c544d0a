/* hmap.h — an open-addressing hash map from NUL-terminated string keys to pointers.
 * Keys are not copied: each key must live as long as its entry (usually inside the value).
 * Lookups and removals never allocate; an insertion allocates only when the table grows (at 3/4
 * load, counting tombstones, which a grow sweeps away). A zeroed struct hmap is an empty map. */
#ifndef MADANG_HMAP_H
#define MADANG_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 16 bytes: the hash is not kept (a probe compares keys, a grow hashes them again), for a map
 * holds 1.33 to 2.67 slots per entry (docs/performance.md, finding 28). */
struct hmap_slot {
	const char *key; /* NULL: empty; HMAP_TOMBSTONE: deleted */
	void *val;
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap;   /* power of two, or 0 */
	size_t count; /* live entries */
	size_t used;  /* live entries plus tombstones */
};

/* The hash of a key (FNV-1a), as hmap and iset use it. */
uint32_t hmap_hash(const char *s);
void hmap_init(struct hmap *m);
void hmap_fini(struct hmap *m);
void *hmap_get(const struct hmap *m, const char *key);
/* Inserts or replaces. Returns 0, or -1 when memory runs out (the map is unchanged). */
int hmap_put(struct hmap *m, const char *key, void *val);
/* Removes key; returns its value or NULL. Never moves other entries. The last entry's removal
 * frees the slot array: an empty map holds no memory, so a map on the stack or in a struct
 * that ends empty needs no hmap_fini. */
void *hmap_del(struct hmap *m, const char *key);
/* Iteration: for (size_t i = 0; hmap_next(m, &i, &key, &val);). Deleting any entry meanwhile
 * is allowed (deletions move nothing; a deleted entry not reached yet is not returned). Do not
 * insert meanwhile: it stays memory-safe (each call reads the current table), but a growth
 * reorders the table, so the walk may then skip or repeat entries. */
bool hmap_next(const struct hmap *m, size_t *iter, const char **key, void **val);

#endif
