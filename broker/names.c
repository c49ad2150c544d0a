/* names.c — room names (the nickname rules, unique once case-folded) and the rooms that joins
 * create: ephemeral (never stored, gone when empty) and bounded per client address and per user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"
#include "slab.h"
#include "utf8.h"
#include "validate.h"

/* Counts the live ephemeral rooms created from one address or by one (folded) nickname. */
struct eph_count {
	uint32_t n;
	char key[]; /* the hmap key */
};

/* The key names are compared by: the nickname folding. */
static void
name_key(const char *name, char *key, size_t keysz)
{
	nick_fold(name, key, keysz);
}

struct room *
room_by_name(struct broker *b, const char *name)
{
	char key[ROOM_NAME_KEY_MAX];

	name_key(name, key, sizeof(key));
	return hmap_get(&b->names, key);
}

int
room_name_register(struct broker *b, struct room *r)
{
	char key[ROOM_NAME_KEY_MAX];

	name_key(r->name, key, sizeof(key));
	if ((r->name_key = slab_strdup(key)) == NULL)
		return -1;
	/* Rooms restored from an older database may share a name: the first keeps it. */
	if (hmap_get(&b->names, r->name_key) == NULL && hmap_put(&b->names, r->name_key, r) != 0)
		return -1;
	return 0;
}

void
room_name_unregister(struct broker *b, struct room *r)
{
	if (r->name_key == NULL)
		return;
	if (hmap_get(&b->names, r->name_key) == r)
		hmap_del(&b->names, r->name_key);
	slab_release(r->name_key);
	r->name_key = NULL;
}

static uint32_t
eph_get(struct hmap *m, const char *key)
{
	struct eph_count *c = hmap_get(m, key);
	return c ? c->n : 0;
}

static int
eph_inc(struct hmap *m, const char *key)
{
	struct eph_count *c = hmap_get(m, key);
	size_t n = strlen(key) + 1;

	if (c == NULL) {
		if ((c = slab_zalloc(sizeof(*c) + n)) == NULL)
			return -1;
		memcpy(c->key, key, n);
		if (hmap_put(m, c->key, c) != 0) {
			slab_release(c);
			return -1;
		}
	}
	c->n++;
	return 0;
}

static void
eph_dec(struct hmap *m, const char *key)
{
	struct eph_count *c = hmap_get(m, key);

	if (c != NULL && --c->n == 0) {
		hmap_del(m, c->key);
		slab_release(c);
	}
}

void
eph_fini(struct broker *b)
{
	struct hmap *maps[] = {&b->eph_addr, &b->eph_user};
	void *v;

	for (size_t i = 0; i < 2; i++) {
		size_t it = 0;
		while (hmap_next(maps[i], &it, NULL, &v))
			slab_release(v);
		hmap_fini(maps[i]);
	}
}

const char *
eph_refusal(struct broker *b, const char *addr, const char *user_key)
{
	static char why[160];

	if (b->cfg.ephemeral_per_addr == 0 || b->cfg.ephemeral_per_user == 0) {
		snprintf(why, sizeof(why), "joins may not create rooms on this broker");
		return why;
	}
	if (eph_get(&b->eph_addr, addr) >= b->cfg.ephemeral_per_addr) {
		snprintf(why, sizeof(why),
		         "this address already has %u rooms created by joining (the limit)",
		         b->cfg.ephemeral_per_addr);
		return why;
	}
	if (eph_get(&b->eph_user, user_key) >= b->cfg.ephemeral_per_user) {
		snprintf(why, sizeof(why),
		         "this nickname already has %u rooms created by joining (the limit)",
		         b->cfg.ephemeral_per_user);
		return why;
	}
	return NULL;
}

struct room *
room_create_ephemeral(struct broker *b, const char *id, const char *addr, const char *user_key)
{
	struct room *r = room_create(b, id, id);

	if (r == NULL)
		return NULL;
	r->ephemeral = true;
	r->seq = b->eph_seq_floor; /* seqs of an id never go back, even across incarnations */
	r->base_seq = r->seq;
	if ((r->creator_addr = slab_strdup(addr)) == NULL ||
	    (r->creator_user = slab_strdup(user_key)) == NULL ||
	    eph_inc(&b->eph_addr, r->creator_addr) != 0) {
		room_destroy(b, r);
		return NULL;
	}
	if (eph_inc(&b->eph_user, r->creator_user) != 0) {
		eph_dec(&b->eph_addr, r->creator_addr);
		room_destroy(b, r);
		return NULL;
	}
	r->eph_counted = true;
	b->reap_pending = true; /* a join that fails after this leaves it empty */
	b->ctr.rooms_created++;
	log_info("broker: room %s created by a join (ephemeral: gone when empty)", r->id);
	return r;
}

void
eph_release(struct broker *b, struct room *r)
{
	if (!r->ephemeral)
		return;
	if (r->seq > b->eph_seq_floor)
		b->eph_seq_floor = r->seq;
	if (r->eph_counted) {
		eph_dec(&b->eph_addr, r->creator_addr);
		eph_dec(&b->eph_user, r->creator_user);
		r->eph_counted = false;
	}
	slab_release(r->creator_addr);
	slab_release(r->creator_user);
	r->creator_addr = r->creator_user = NULL;
}

void
room_reap(struct broker *b)
{
	if (!b->reap_pending)
		return;
	b->reap_pending = false;
	for (size_t i = b->nrooms; i-- > 0;) {
		struct room *r = b->rooms_v[i];
		if (!r->ephemeral || r->nmembers > 0)
			continue;
		log_info("broker: room %s removed: its last member left (created by a join)",
		         r->id);
		room_destroy(b, r);
		b->ctr.rooms_deleted++;
	}
}
