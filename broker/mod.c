/* mod.c — a room's moderation state (docs/moderation.md): owner, moderators and roles, slow
 * mode's senders, the audit ring, and restoring settings, bans and mutes at start-up (the bans
 * and mutes themselves are restrict.c's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core.h"
#include "jwt.h"
#include "log.h"
#include "validate.h"
#include "wire.h"

struct room_mod *
mod_get(struct room *r)
{
	if (r->mod == NULL)
		r->mod = calloc(1, sizeof(*r->mod));
	return r->mod;
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
	mod_slow_clear(md);
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

/* ---- Slow mode ---- */

uint64_t
mod_slow_wait(struct broker *b, const struct member *m)
{
	const struct room_mod *md = m->room->mod;
	char key[MOD_KEY_MAX];
	const struct slow_ent *e;

	if (md == NULL || md->slow_mode_s == 0)
		return 0;
	mod_key(key, member_subject(m), member_key(m));
	if ((e = hmap_get(&md->slow_last, key)) == NULL)
		return 0;
	uint64_t until = e->ms + (uint64_t)md->slow_mode_s * 1000;
	return until > b->now_mono ? until - b->now_mono : 0;
}

void
mod_slow_clear(struct room_mod *md)
{
	size_t it = 0;
	void *v;

	while (hmap_next(&md->slow_last, &it, NULL, &v)) {
		hmap_del(&md->slow_last, ((struct slow_ent *)v)->key);
		free(v);
	}
	hmap_fini(&md->slow_last);
}

void
mod_slow_note(struct broker *b, const struct member *m)
{
	struct room_mod *md = m->room->mod;
	char key[MOD_KEY_MAX];
	struct slow_ent *e;
	uint64_t iv;

	if (md == NULL || md->slow_mode_s == 0)
		return;
	iv = (uint64_t)md->slow_mode_s * 1000;
	mod_key(key, member_subject(m), member_key(m));
	if ((e = hmap_get(&md->slow_last, key)) != NULL) {
		e->ms = b->now_mono;
		return;
	}
	if (md->slow_last.count >= 2 * (size_t)b->cfg.max_members) {
		/* Drop the senders whose interval is over: they may speak again anyway. */
		size_t it = 0;
		void *v;
		while (hmap_next(&md->slow_last, &it, NULL, &v)) {
			struct slow_ent *o = v;
			if (o->ms + iv <= b->now_mono) {
				hmap_del(&md->slow_last, o->key);
				free(o);
			}
		}
		if (md->slow_last.count >= 2 * (size_t)b->cfg.max_members)
			return; /* all of them spoke within the interval: this one goes untracked */
	}
	size_t n = strlen(key) + 1;
	if ((e = malloc(sizeof(*e) + n)) == NULL)
		return;
	e->ms = b->now_mono;
	memcpy(e->key, key, n);
	if (hmap_put(&md->slow_last, e->key, e) != 0)
		free(e);
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
	char key[MOD_KEY_MAX];
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
	/* Records without the setter's role hold every member and moderator. */
	const char *role = wire_str(o, "by_role", NULL);
	t.by_role = role != NULL && strcmp(role, "moderator") == 0 ? ROLE_MODERATOR : ROLE_OWNER;
	if (t.subject != NULL) {
		if (!jwt_subject_ok(t.subject, strlen(t.subject)))
			goto out;
		mod_key(key, t.subject, NULL);
	} else if (t.user != NULL &&
	           nick_canonical(t.user, strlen(t.user), canon, sizeof(canon), &why)) {
		nick_fold(canon, folded, sizeof(folded));
		mod_key(key, NULL, folded);
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
