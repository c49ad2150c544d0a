/* restrict.c — a room's bans and mutes (docs/moderation.md): their maps by key and by address,
 * who they hold, the records the store keeps, and their expiry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"

static void
restr_free(struct restriction *x)
{
	free(x->key);
	free(x->user);
	free(x->subject);
	free(x->addr);
	free(x->by);
	free(x->note);
	free(x);
}

void
restr_set_fini(struct restr_set *set)
{
	size_t it = 0;
	void *v;

	while (hmap_next(&set->by_key, &it, NULL, &v))
		restr_free(v);
	hmap_fini(&set->by_key);
	hmap_fini(&set->by_addr);
}

void
mod_key(char *buf, const char *subject, const char *folded)
{
	if (subject != NULL)
		snprintf(buf, MOD_KEY_MAX, "s:%s", subject);
	else
		snprintf(buf, MOD_KEY_MAX, "n:%s", folded);
}

static bool
restr_ended(const struct broker *b, const struct restriction *x)
{
	return x->until_ms != 0 && x->until_ms <= b->now_wall;
}

void
restr_del(struct restr_set *set, struct restriction *x)
{
	hmap_del(&set->by_key, x->key);
	if (x->addr != NULL && hmap_get(&set->by_addr, x->addr) == x) {
		size_t it = 0;
		void *v;
		hmap_del(&set->by_addr, x->addr);
		/* Another ban may hold the same address: it takes the address over. */
		while (hmap_next(&set->by_key, &it, NULL, &v)) {
			struct restriction *o = v;
			if (o->addr && strcmp(o->addr, x->addr) == 0) {
				if (hmap_put(&set->by_addr, o->addr, o) != 0)
					log_error("broker: out of memory indexing a ban's address");
				break;
			}
		}
	}
	restr_free(x);
}

struct restriction *
restr_find(struct broker *b, struct restr_set *set, const char *key)
{
	struct restriction *x = hmap_get(&set->by_key, key);

	if (x != NULL && restr_ended(b, x)) {
		restr_del(set, x);
		return NULL;
	}
	return x;
}

/* x, unless the setter's rank does not reach role. */
static struct restriction *
restr_holds(struct restriction *x, enum mod_role role)
{
	return x != NULL && role < x->by_role ? x : NULL;
}

struct restriction *
restr_match(struct broker *b, struct restr_set *set, enum mod_role role, const char *subject,
            const char *key, const char *addr)
{
	char k[MOD_KEY_MAX];
	struct restriction *x;

	if (set->by_key.count == 0 || role >= ROLE_OWNER)
		return NULL;
	if (subject != NULL) {
		mod_key(k, subject, NULL);
		if ((x = restr_holds(restr_find(b, set, k), role)) != NULL)
			return x;
	}
	mod_key(k, NULL, key);
	if ((x = restr_holds(restr_find(b, set, k), role)) != NULL)
		return x;
	if (subject == NULL && addr != NULL && (x = hmap_get(&set->by_addr, addr)) != NULL) {
		if (!restr_ended(b, x))
			return restr_holds(x, role);
		restr_del(set, x);
		return restr_match(b, set, role, subject, key, addr); /* another may hold it */
	}
	return NULL;
}

static int
dup_opt(char **dst, const char *s)
{
	*dst = NULL;
	return s != NULL && (*dst = strdup(s)) == NULL ? -1 : 0;
}

static bool restr_expire(struct broker *b, struct restr_set *set, size_t *iter, size_t *budget);

struct restriction *
restr_put(struct broker *b, struct restr_set *set, const struct restriction *t, uint32_t max,
          bool *full)
{
	struct restriction *x = calloc(1, sizeof(*x)), *old;

	*full = false;
	if (x == NULL)
		return NULL;
	if (dup_opt(&x->key, t->key) || dup_opt(&x->user, t->user) ||
	    dup_opt(&x->subject, t->subject) || dup_opt(&x->addr, t->addr) ||
	    dup_opt(&x->by, t->by) || dup_opt(&x->note, t->note))
		goto fail;
	x->until_ms = t->until_ms;
	x->time_ms = t->time_ms;
	x->by_role = t->by_role;
	old = hmap_get(&set->by_key, x->key);
	if (old == NULL && set->by_key.count >= max) {
		/* Ended ones the tick has not reached yet do not count. */
		size_t it = 0, budget = set->by_key.count;
		restr_expire(b, set, &it, &budget);
		if (set->by_key.count >= max) {
			*full = true;
			goto fail;
		}
	}
	/* The maps keep the key pointer of the first insertion: replace by removing. */
	if (old != NULL)
		restr_del(set, old);
	if (hmap_put(&set->by_key, x->key, x) != 0)
		goto fail;
	if (x->addr != NULL) {
		hmap_del(&set->by_addr, x->addr);
		if (hmap_put(&set->by_addr, x->addr, x) != 0) {
			restr_del(set, x);
			return NULL;
		}
	}
	return x;
fail:
	restr_free(x);
	return NULL;
}

/* Writes key: an ISO-8601 time, or null for 0. */
static void
jw_time(struct jsonw *w, const char *key, int64_t ms)
{
	char iso[CLOCK_ISO8601_LEN];

	if (ms == 0) {
		jw_null(w, key);
		return;
	}
	jw_str(w, key, clock_iso8601(ms, iso));
}

void
restr_record(struct jsonw *w, const struct restriction *x)
{
	jw_obj(w, NULL);
	jw_str_or_null(w, "user", x->user);
	jw_str_or_null(w, "subject", x->subject);
	jw_str_or_null(w, "addr", x->addr);
	jw_int(w, "until_ms", x->until_ms);
	jw_int(w, "time_ms", x->time_ms);
	jw_str_or_null(w, "by", x->by);
	jw_str_or_null(w, "note", x->note);
	jw_str(w, "by_role", mod_role_name(x->by_role));
	jw_end(w);
}

void
restr_list_item(struct jsonw *w, const struct restriction *x)
{
	jw_obj(w, NULL);
	jw_str_or_null(w, "user", x->user);
	jw_str_or_null(w, "subject", x->subject);
	jw_str_or_null(w, "addr", x->addr);
	jw_time(w, "until", x->until_ms);
	jw_str_or_null(w, "by", x->by);
	jw_str_or_null(w, "note", x->note);
	jw_time(w, "time", x->time_ms);
	jw_end(w);
}

/* Removes the ended restrictions of set from *iter on, looking at no more than *budget
 * entries; false when the walk reached the end of the set. */
static bool
restr_expire(struct broker *b, struct restr_set *set, size_t *iter, size_t *budget)
{
	void *v;

	while (*budget > 0) {
		if (!hmap_next(&set->by_key, iter, NULL, &v))
			return false;
		(*budget)--;
		if (restr_ended(b, v))
			restr_del(set, v); /* deletions move nothing: the walk goes on */
	}
	return true;
}

void
mod_expire(struct broker *b)
{
	size_t budget = BROKER_EXPIRE_BUDGET, steps = 0;

	/* A walk over every room's bans then mutes, resumed where the last call stopped, over at
	 * most BROKER_EXPIRE_BUDGET rooms. Rooms created or removed meanwhile only make it skip or
	 * repeat a few entries. */
	while (budget > 0 && b->nrooms > 0 && steps++ < 2 * BROKER_EXPIRE_BUDGET) {
		if (b->expire_room >= b->nrooms) {
			b->expire_room = 0;
			b->expire_kind = 0;
			b->expire_iter = 0;
		}
		struct room *r = b->rooms_v[b->expire_room];
		bool more = false;
		if (r->mod != NULL)
			more = restr_expire(b, b->expire_kind ? &r->mod->mutes : &r->mod->bans,
			                    &b->expire_iter, &budget);
		if (more)
			break;
		b->expire_iter = 0;
		if (b->expire_kind == 0) {
			b->expire_kind = 1;
		} else {
			b->expire_kind = 0;
			b->expire_room++;
		}
	}
}
