/* mod.c — a room's moderation state (docs/moderation.md): owner, moderators, roles, bans and
 * mutes with their lookups and expiry, the audit ring, and restoring them at start-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core.h"
#include "jwt.h"
#include "log.h"
#include "utf8.h"
#include "validate.h"
#include "wire.h"

struct room_mod *
mod_get(struct room *r)
{
	if (r->mod == NULL)
		r->mod = calloc(1, sizeof(*r->mod));
	return r->mod;
}

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

static void
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
mod_free(struct room *r)
{
	struct room_mod *md = r->mod;

	if (md == NULL)
		return;
	free(md->owner);
	for (uint32_t i = 0; i < md->nmoderators; i++)
		free(md->moderators[i]);
	restr_set_fini(&md->bans);
	restr_set_fini(&md->mutes);
	for (size_t i = 0; md->audit && i < md->audit_len; i++)
		free(md->audit[(md->audit_head + i) % BROKER_AUDIT_RING].json);
	free(md->audit);
	free(md);
	r->mod = NULL;
}

enum mod_role
mod_role_of(const struct room *r, const char *subject, bool admin)
{
	const struct room_mod *md = r->mod;

	if (subject == NULL)
		return ROLE_MEMBER;
	if (admin)
		return ROLE_ADMIN;
	if (md == NULL)
		return ROLE_MEMBER;
	if (md->owner && strcmp(md->owner, subject) == 0)
		return ROLE_OWNER;
	for (uint32_t i = 0; i < md->nmoderators; i++)
		if (strcmp(md->moderators[i], subject) == 0)
			return ROLE_MODERATOR;
	return ROLE_MEMBER;
}

enum mod_role
mod_member_role(const struct member *m)
{
	return mod_role_of(m->room, member_subject(m), m->admin);
}

const char *
mod_role_name(enum mod_role role)
{
	static const char *const names[] = {"member", "moderator", "owner", "admin"};
	return names[role];
}

bool
mod_note_ok(const char *s, size_t len)
{
	if (len > MADANG_NOTE_MAX || !utf8_valid(s, len))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* ---- Bans and mutes ---- */

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

struct restriction *
restr_match(struct broker *b, struct restr_set *set, const char *subject, const char *key,
            const char *addr)
{
	char k[2 + MADANG_SUBJECT_MAX + MADANG_NICK_MAX_BYTES + 1];
	struct restriction *x;

	if (set->by_key.count == 0)
		return NULL;
	if (subject != NULL) {
		snprintf(k, sizeof(k), "s:%s", subject);
		if ((x = restr_find(b, set, k)) != NULL)
			return x;
	}
	snprintf(k, sizeof(k), "n:%s", key);
	if ((x = restr_find(b, set, k)) != NULL)
		return x;
	if (subject == NULL && addr != NULL && (x = hmap_get(&set->by_addr, addr)) != NULL) {
		if (!restr_ended(b, x))
			return x;
		restr_del(set, x);
		return restr_match(b, set, subject, key, addr); /* another may hold it */
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

static void
jw_str_or_null(struct jsonw *w, const char *key, const char *s)
{
	if (s)
		jw_str(w, key, s);
	else
		jw_null(w, key);
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

/* ---- Settings and the audit trail ---- */

void
mod_write_meta(struct jsonw *w, const char *key, const struct room *r)
{
	const struct room_mod *md = r->mod;

	jw_obj(w, key);
	jw_str_or_null(w, "owner", md ? md->owner : NULL);
	jw_arr(w, "moderators");
	for (uint32_t i = 0; md && i < md->nmoderators; i++)
		jw_str(w, NULL, md->moderators[i]);
	jw_end(w);
	jw_bool(w, "moderators_may_ban", md ? md->moderators_may_ban : false);
	jw_int(w, "slow_mode_s", md ? md->slow_mode_s : 0);
	jw_end(w);
}

void
mod_meta_changed(struct broker *b, struct room *r)
{
	struct sbuf buf;
	struct jsonw w;

	if (b->store.room_meta == NULL || r->ephemeral)
		return;
	sbuf_init(&buf);
	jw_begin(&w, &buf);
	mod_write_meta(&w, NULL, r);
	if (buf.oom)
		log_error("broker: out of memory storing room %s's moderation settings", r->id);
	else
		b->store.room_meta(b->store.arg, r->id, buf.data, buf.len);
	sbuf_fini(&buf);
}

void
mod_audit_add(struct broker *b, struct room *r, const char *json, size_t len)
{
	struct room_mod *md = mod_get(r);
	struct audit_ent *e;
	char *full;
	int n;

	if (b->store.audit_add && !r->ephemeral)
		b->store.audit_add(b->store.arg, r->id, b->now_wall, json, len);
	if (md == NULL || len < 2)
		goto oom;
	if (md->audit == NULL && (md->audit = calloc(BROKER_AUDIT_RING, sizeof(*e))) == NULL)
		goto oom;
	/* {"id":N, then the entry's members. */
	if ((full = malloc(len + 32)) == NULL)
		goto oom;
	n = snprintf(full, len + 32, "{\"id\":%llu,%.*s", (unsigned long long)(b->audit_next + 1),
	             (int)(len - 1), json + 1);
	if (n < 0) {
		free(full);
		goto oom;
	}
	if (md->audit_len == BROKER_AUDIT_RING) {
		e = &md->audit[md->audit_head];
		free(e->json);
		md->audit_head = (md->audit_head + 1) % BROKER_AUDIT_RING;
		md->audit_len--;
	}
	e = &md->audit[(md->audit_head + md->audit_len) % BROKER_AUDIT_RING];
	e->id = ++b->audit_next;
	e->json = full;
	md->audit_len++;
	return;
oom:
	log_error("broker: out of memory keeping an audit entry of room %s", r->id);
}

/* ---- Restoring at start-up ---- */

/* Sets md's moderators from a JSON array of subjects; false for a bad one. */
static bool
set_moderators_json(struct room_mod *md, const cJSON *arr)
{
	const cJSON *it;

	for (uint32_t i = 0; i < md->nmoderators; i++)
		free(md->moderators[i]);
	md->nmoderators = 0;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || md->nmoderators >= MADANG_MODERATORS_MAX ||
		    !jwt_subject_ok(it->valuestring, strlen(it->valuestring)))
			return false;
		if ((md->moderators[md->nmoderators] = strdup(it->valuestring)) == NULL)
			return false;
		md->nmoderators++;
	}
	return true;
}

int
broker_restore_room_meta(struct broker *b, const char *room_id, const char *meta, size_t len)
{
	struct room *r = room_get(b, room_id);
	const char *why, *owner;
	struct room_mod *md;
	cJSON *o;
	int64_t slow = 0;
	bool may = false;
	int rv = -1;

	if (r == NULL || (o = wire_parse_object(meta, len, MADANG_RPC_MAX, &why)) == NULL)
		return -1;
	if ((md = mod_get(r)) == NULL)
		goto out;
	owner = wire_str(o, "owner", NULL);
	if (owner != NULL && !jwt_subject_ok(owner, strlen(owner)))
		goto out;
	free(md->owner);
	md->owner = owner ? strdup(owner) : NULL;
	if (wire_has(o, "moderators") &&
	    !set_moderators_json(md, cJSON_GetObjectItemCaseSensitive(o, "moderators")))
		goto out;
	if (wire_bool(o, "moderators_may_ban", &may))
		md->moderators_may_ban = may;
	if (wire_int(o, "slow_mode_s", &slow) && slow >= 0 && slow <= MADANG_SLOW_MODE_MAX_S)
		md->slow_mode_s = (uint32_t)slow;
	rv = 0;
out:
	cJSON_Delete(o);
	return rv;
}

int
broker_restore_restriction(struct broker *b, const char *room_id, const char *kind, const char *rec,
                           size_t len)
{
	struct room *r = room_get(b, room_id);
	char key[2 + MADANG_SUBJECT_MAX + MADANG_NICK_MAX_BYTES + 1];
	char canon[MADANG_NICK_MAX_BYTES + 1], folded[MADANG_NICK_MAX_BYTES + 1];
	struct restriction t = {0};
	struct room_mod *md;
	const char *why;
	bool full;
	cJSON *o;
	int rv = -1;

	if (r == NULL || (strcmp(kind, "ban") != 0 && strcmp(kind, "mute") != 0) ||
	    (o = wire_parse_object(rec, len, MADANG_RPC_MAX, &why)) == NULL)
		return -1;
	t.user = (char *)wire_str(o, "user", NULL);
	t.subject = (char *)wire_str(o, "subject", NULL);
	t.addr = (char *)wire_str(o, "addr", NULL);
	t.by = (char *)wire_str(o, "by", NULL);
	t.note = (char *)wire_str(o, "note", NULL);
	if (!wire_int(o, "until_ms", &t.until_ms) || !wire_int(o, "time_ms", &t.time_ms))
		goto out;
	if (t.subject != NULL) {
		if (!jwt_subject_ok(t.subject, strlen(t.subject)))
			goto out;
		snprintf(key, sizeof(key), "s:%s", t.subject);
	} else if (t.user != NULL &&
	           nick_canonical(t.user, strlen(t.user), canon, sizeof(canon), &why)) {
		nick_fold(canon, folded, sizeof(folded));
		snprintf(key, sizeof(key), "n:%s", folded);
	} else {
		goto out;
	}
	t.key = key;
	if (t.until_ms != 0 && t.until_ms <= b->now_wall) {
		rv = 0; /* ended while the broker was down */
		goto out;
	}
	if ((md = mod_get(r)) == NULL)
		goto out;
	/* Restored ones are never refused for the limit: they were admitted before. */
	if (restr_put(b, strcmp(kind, "ban") == 0 ? &md->bans : &md->mutes, &t, UINT32_MAX,
	              &full) != NULL)
		rv = 0;
out:
	cJSON_Delete(o);
	return rv;
}
