/* iset.h — an open-addressing hash set of items that carry their own key: a NUL-terminated
 * string at a fixed offset inside each item (a session and its id). A slot is one pointer, 8
 * bytes where a common/hmap slot is 16 (a key and a value): for a table of every connection's
 * session that is 10 to 20 bytes per connection less (docs/performance.md, finding 33).
 * Otherwise as hmap: linear probing, tombstones, grows at 3/4 load (counting tombstones, which
 * a grow sweeps away), lookups and removals never allocate, and an empty set holds no memory.
 * The key must not change while its item is in the set. */
#ifndef MADANG_ISET_H
#define MADANG_ISET_H

#include <stdbool.h>
#include <stddef.h>

struct iset {
	void **slots;   /* NULL: empty; iset's tombstone: deleted; else an item */
	size_t cap;     /* power of two, or 0 */
	size_t count;   /* items */
	size_t used;    /* items plus tombstones */
	size_t key_off; /* offsetof(item type, key) */
};

/* An empty set of items whose key is at key_off bytes from the item's start. */
void iset_init(struct iset *s, size_t key_off);
/* Frees the slots (not the items); the set is then empty, with the same key_off. */
void iset_fini(struct iset *s);
/* The item whose key is key, or NULL. */
void *iset_get(const struct iset *s, const char *key);
/* Adds item, or puts it in place of the item with the same key. Returns 0, or -1 when memory
 * runs out (the set is unchanged). */
int iset_put(struct iset *s, void *item);
/* Removes the item whose key is key (it may be that item's own key) and returns it, or NULL.
 * Never moves other items. The last item's removal frees the slots. */
void *iset_del(struct iset *s, const char *key);
/* Iteration: for (size_t i = 0; iset_next(s, &i, &item);). Removing any item meanwhile is
 * allowed; adding one is not (a growth reorders the slots). */
bool iset_next(const struct iset *s, size_t *iter, void **item);

#endif
