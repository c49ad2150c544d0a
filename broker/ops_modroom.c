/* ops_modroom.c — moderation of a room as a whole (docs/moderation.md): deleting a message,
 * slow mode, the settings (owner, moderators, moderators_may_ban) and reading the audit trail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jwt.h"
#include "log.h"
#include "ops.h"
#include "tombstone.h"
#include "validate.h"
#include "wire.h"

/* The notices of message_deleted and slow_mode, by --notices. */
static const struct {
	const char *deleted, *slow_on, *slow_unit, *slow_off; /* slow_on N slow_unit */
} mod_texts[] = {
    [BROKER_NOTICES_KO] = {"메시지가 삭제되었습니다.", "슬로우 모드: ", "초",
                           "슬로우 모드가 꺼졌습니다."},
    [BROKER_NOTICES_EN] = {"a message was deleted", "slow mode: ", " s", "slow mode off"},
};

/* The ring entry of seq, or NULL (the ring is in seq order). */
static struct hist_ev *
ring_find(struct room *r, uint64_t seq)
{
	size_t lo = 0, hi = r->ring_len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct hist_ev *e = room_hist_at(r, mid);
		if (e->seq == seq)
			return e;
		if (e->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* delete_message {room_id, actor…, seq, note?}: a moderator deletes any message; a member with
 * a token subject its own, those it sent with that subject (docs/moderation.md). */
void
op_delete_message(struct req *q)
{
	struct broker *b = q->b;
	struct actor a;
	struct room *r = ops_arg_actor(q, &a);
	char sender[MADANG_NICK_MAX_BYTES + 1];
	struct hist_ev *e = NULL;
	struct sbuf owner; /* the message's sender's subject, NUL-terminated; empty: none */
	char *tomb = NULL;
	size_t tlen = 0;
	int64_t seq;
	const char *note;
	bool bad;

	if (r == NULL)
		return;
	/* A member without a subject can prove no message its own. */
	if (a.subject == NULL && !ops_actor_may(q, &a, ROLE_MODERATOR, "delete messages"))
		return;
	if ((note = ops_arg_note(q, &bad)) == NULL && bad)
		return;
	if (!wire_int(q->rq, "seq", &seq) || seq < 1) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "seq must be a positive integer");
		return;
	}
	sbuf_init(&owner);
	if ((uint64_t)seq <= r->seq && (e = ring_find(r, (uint64_t)seq)) != NULL) {
		struct sbuf text;
		sbuf_init(&text);
		hist_render(e, r->id, b->epoch, &text);
		if (!text.oom)
			tomb = tombstone_json(text.data, text.len, note, &tlen, sender,
			                      sizeof(sender));
		sbuf_fini(&text);
		if (hist_subject(e) != NULL)
			sbuf_adds(&owner, hist_subject(e));
	} else if ((uint64_t)seq <= r->seq && (uint64_t)seq < room_first_seq(r) &&
	           b->store.event_get != NULL && !r->ephemeral) {
		struct sbuf got;
		sbuf_init(&got);
		int rv = b->store.event_get(b->store.arg, r->id, (uint64_t)seq, &got, &owner);
		if (rv == 0 && !got.oom)
			tomb =
			    tombstone_json(got.data, got.len, note, &tlen, sender, sizeof(sender));
		sbuf_fini(&got);
		if (rv < 0) {
			sbuf_fini(&owner);
			ops_reply_error(q, ERR_INTERNAL, "the stored history cannot be read now");
			return;
		}
	}
	sbuf_addc(&owner, '\0');
	bool own = !owner.oom && a.subject != NULL && owner.data[0] != '\0' &&
	           strcmp(owner.data, a.subject) == 0;
	sbuf_fini(&owner);
	if (tomb == NULL) {
		ops_reply_error(q, ERR_NO_SUCH_MESSAGE, "room %s has no message %lld to delete",
		                r->id, (long long)seq);
		return;
	}
	if (!own && !ops_actor_may(q, &a, ROLE_MODERATOR, "delete the messages of others")) {
		free(tomb);
		return;
	}
	if (e != NULL) {
		/* The ring keeps user_key and client_id: a resent message is still a duplicate. Its
		 * sender's subject goes with its text. */
		struct hist_ev t;
		if (hist_make(&t, e->seq, r->id, b->epoch, tomb, tlen, hist_user_key(e),
		              hist_client_id(e), NULL) != 0) {
			free(tomb);
			ops_reply_error(q, ERR_INTERNAL, "out of memory");
			return;
		}
		hist_free(e);
		*e = t;
	}
	if (b->store.event_redact != NULL && !r->ephemeral)
		b->store.event_redact(b->store.arg, r->id, (uint64_t)seq, tomb, tlen);
	free(tomb);

	struct audit_info ai = ops_audit_info("delete_message");
	ai.user = sender;
	ai.seq = seq;
	ai.note = note;
	ops_audit(b, r, &a, &ai);
	struct jsonw ev;
	room_event_begin(b, r, "message_deleted", &ev);
	jw_int(&ev, "deleted_seq", seq);
	jw_str(&ev, "by", a.name);
	if (note != NULL)
		jw_str(&ev, "note", note);
	jw_str(&ev, "sender", room_notice_sender(b));
	jw_str(&ev, "message", mod_texts[b->cfg.notices].deleted);
	jw_end(&ev);
	room_emit(b, r, NULL, NULL);
	ops_reply_seq(q, r->seq);
}

/* Sets r's slow mode to interval (the room event slow_mode when it changes, the audit entry,
 * the store). */
static void
set_slow_mode(struct broker *b, struct room *r, const struct actor *a, uint32_t interval)
{
	struct room_mod *md = r->mod;
	char text[64];

	if (md->slow_mode_s == interval)
		return;
	md->slow_mode_s = interval;
	if (interval == 0)
		mod_slow_clear(md);
	struct audit_info ai = ops_audit_info("slow_mode");
	ai.interval_s = interval;
	ops_audit(b, r, a, &ai);
	struct jsonw ev;
	room_event_begin(b, r, "slow_mode", &ev);
	jw_int(&ev, "interval_s", interval);
	jw_str(&ev, "by", a->name);
	jw_str(&ev, "sender", room_notice_sender(b));
	if (interval > 0)
		snprintf(text, sizeof(text), "%s%u%s", mod_texts[b->cfg.notices].slow_on, interval,
		         mod_texts[b->cfg.notices].slow_unit);
	else
		snprintf(text, sizeof(text), "%s", mod_texts[b->cfg.notices].slow_off);
	jw_str(&ev, "message", text);
	jw_end(&ev);
	room_emit(b, r, NULL, NULL);
}

/* slow_mode {room_id, actor…, interval_s} */
void
op_slow_mode(struct req *q)
{
	struct actor a;
	struct room *r = ops_arg_actor(q, &a);
	int64_t iv;
	bool has;

	if (r == NULL || !ops_actor_may(q, &a, ROLE_MODERATOR, "set slow mode"))
		return;
	if (!ops_arg_int_opt(q, "interval_s", 0, MADANG_SLOW_MODE_MAX_S, &iv, &has))
		return;
	if (!has) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT,
		                "interval_s must be an integer from 0 to %d",
		                MADANG_SLOW_MODE_MAX_S);
		return;
	}
	if (mod_get(r) == NULL) {
		ops_reply_error(q, ERR_INTERNAL, "out of memory");
		return;
	}
	uint32_t before = r->mod->slow_mode_s;
	set_slow_mode(q->b, r, &a, (uint32_t)iv);
	if (before != (uint32_t)iv)
		mod_meta_changed(q->b, r);
	ops_reply_seq(q, r->seq);
}

/* Reads "moderators" into subs (deduplicated); false after an error reply. */
static bool
arg_moderators(struct req *q, const char **subs, uint32_t *n)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(q->rq, "moderators"), *it;

	*n = 0;
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > MADANG_MODERATORS_MAX) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT,
		                "moderators must be an array of at most %d subjects",
		                MADANG_MODERATORS_MAX);
		return false;
	}
	cJSON_ArrayForEach(it, arr)
	{
		bool dup = false;
		if (!cJSON_IsString(it) ||
		    !jwt_subject_ok(it->valuestring, strlen(it->valuestring))) {
			ops_reply_error(q, ERR_INVALID_ARGUMENT,
			                "each moderator must be a subject: 1-128 bytes of UTF-8 "
			                "without control characters");
			return false;
		}
		for (uint32_t i = 0; i < *n; i++)
			dup = dup || strcmp(subs[i], it->valuestring) == 0;
		if (!dup)
			subs[(*n)++] = it->valuestring;
	}
	return true;
}

/* The roles of r's members now, one per member in members_v order; NULL when r has none or memory
 * runs out (then nobody is told: the next join says the role). */
static enum mod_role *
roles_now(struct room *r)
{
	enum mod_role *v = r->nmembers ? malloc(r->nmembers * sizeof(*v)) : NULL;
	for (size_t i = 0; v != NULL && i < r->nmembers; i++)
		v[i] = mod_member_role(r->members_v[i]);
	return v;
}

/* Tells each member of r whose role is no longer before[i] its new one: {"type":"role",
 * "session","room_id","role"} on its front-end's topic (madang-ws passes it to the client, whose
 * moderation menus follow without a rejoin). */
static void
publish_role_changes(struct broker *b, struct room *r, const enum mod_role *before)
{
	char topic[WIRE_TOPIC_MAX + 1];
	struct jsonw e;

	for (size_t i = 0; before != NULL && i < r->nmembers; i++) {
		struct member *m = r->members_v[i];
		enum mod_role now = mod_member_role(m);
		if (now == before[i])
			continue;
		size_t tlen =
		    wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, m->sess->fe->id);
		ops_event_begin(b, &e, "role");
		jw_session(&e, m->sess);
		jw_str(&e, "room_id", r->id);
		jw_str(&e, "role", mod_role_name(now));
		jw_end(&e);
		room_publish(b, topic, tlen, b->ev.data, b->ev.len);
	}
}

/* set_room {room_id, actor…, owner?, moderators?, moderators_may_ban?, slow_mode_s?} */
void
op_set_room(struct req *q)
{
	struct broker *b = q->b;
	struct actor a;
	struct room *r = ops_arg_actor(q, &a);
	const char *subs[MADANG_MODERATORS_MAX], *owner = NULL;
	enum mod_role *before = NULL; /* the members' roles before the change */
	uint32_t nsubs = 0;
	bool has_owner, has_mods, has_may, may = false, has_slow, changed = false;
	int64_t slow = 0;
	size_t len;

	if (r == NULL)
		return;
	has_owner = wire_has(q->rq, "owner");
	has_mods = wire_has(q->rq, "moderators");
	has_may = wire_has(q->rq, "moderators_may_ban");
	if (!ops_arg_int_opt(q, "slow_mode_s", 0, MADANG_SLOW_MODE_MAX_S, &slow, &has_slow))
		return;
	if (!has_owner && !has_mods && !has_may && !has_slow) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT,
		                "give owner, moderators, moderators_may_ban or slow_mode_s");
		return;
	}
	if ((has_owner && !ops_actor_may(q, &a, ROLE_ADMIN, "change the owner")) ||
	    ((has_mods || has_may) && !ops_actor_may(q, &a, ROLE_OWNER, "name moderators")) ||
	    (has_slow && !ops_actor_may(q, &a, ROLE_MODERATOR, "set slow mode")))
		return;
	if (has_owner && !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(q->rq, "owner"))) {
		owner = wire_str(q->rq, "owner", &len);
		if (owner == NULL || !jwt_subject_ok(owner, len)) {
			ops_reply_error(
			    q, ERR_INVALID_ARGUMENT,
			    "owner must be a subject (1-128 bytes of UTF-8 without control "
			    "characters) or null");
			return;
		}
	}
	if (has_mods && !arg_moderators(q, subs, &nsubs))
		return;
	if (has_may && !wire_bool(q->rq, "moderators_may_ban", &may)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "moderators_may_ban must be a boolean");
		return;
	}
	struct room_mod *md = mod_get(r);
	if (md == NULL)
		goto oom;
	if ((has_owner || has_mods) && (before = roles_now(r)) == NULL && r->nmembers > 0)
		goto oom;
	if (has_owner && !(owner == NULL ? md->owner == NULL
	                                 : md->owner != NULL && strcmp(md->owner, owner) == 0)) {
		char *o = owner ? strdup(owner) : NULL;
		if (owner && o == NULL)
			goto oom;
		free(md->owner);
		md->owner = o;
		struct audit_info ai = ops_audit_info("owner");
		ai.subject = owner;
		ops_audit(b, r, &a, &ai);
		changed = true;
	}
	if (has_mods) {
		char *copies[MADANG_MODERATORS_MAX];
		for (uint32_t i = 0; i < nsubs; i++) {
			if ((copies[i] = strdup(subs[i])) == NULL) {
				while (i-- > 0)
					free(copies[i]);
				goto oom;
			}
		}
		for (uint32_t i = 0; i < md->nmoderators; i++)
			free(md->moderators[i]);
		memcpy(md->moderators, copies, nsubs * sizeof(*copies));
		md->nmoderators = nsubs;
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(q->rq, "moderators");
		char *list = cJSON_PrintUnformatted(arr);
		struct audit_info ai = ops_audit_info("moderators");
		ai.extra_key = "moderators";
		ai.extra_json = list ? list : "[]";
		ops_audit(b, r, &a, &ai);
		free(list);
		changed = true;
	}
	if (has_may && md->moderators_may_ban != may) {
		md->moderators_may_ban = may;
		struct audit_info ai = ops_audit_info("moderators_may_ban");
		ai.extra_key = "moderators_may_ban";
		ai.extra_json = may ? "true" : "false";
		ops_audit(b, r, &a, &ai);
		changed = true;
	}
	if (has_slow && md->slow_mode_s != (uint32_t)slow) {
		set_slow_mode(b, r, &a, (uint32_t)slow);
		changed = true;
	}
	if (changed)
		mod_meta_changed(b, r);
	publish_role_changes(b, r, before);
	free(before);
	struct jsonw w;
	ops_reply_begin(q, &w);
	mod_write_meta(&w, "moderation", r);
	jw_end(&w);
	return;
oom:
	free(before);
	ops_reply_error(q, ERR_INTERNAL, "out of memory");
}

/* Writes the in-memory audit entries of r with id < before (0: all), newest first, at most
 * limit, into the array open in w; returns the id of the last one written when older ones
 * remain, else 0. */
static uint64_t
audit_from_ring(struct jsonw *w, struct room *r, uint64_t before, size_t limit)
{
	struct room_mod *md = r->mod;
	uint64_t last = 0;
	size_t n = 0;

	for (size_t i = md && md->audit ? md->audit_len : 0; i-- > 0;) {
		struct audit_ent *e = &md->audit[(md->audit_head + i) % BROKER_AUDIT_RING];
		if (before != 0 && e->id >= before)
			continue;
		if (n == limit)
			return last; /* an older one remains */
		jw_raw(w, NULL, e->json, strlen(e->json));
		last = e->id;
		n++;
	}
	return 0;
}

/* Writes the store's audit entries of r (as audit_from_ring); -1 on storage errors. */
static int
audit_from_store(struct broker *b, struct jsonw *w, const char *room_id, uint64_t before,
                 size_t limit, uint64_t *next)
{
	struct sbuf got;
	cJSON *arr = NULL, *it;
	int rv = -1;
	size_t n = 0;

	*next = 0;
	sbuf_init(&got);
	if (b->store.audit_read(b->store.arg, room_id, before, limit + 1, &got) != 0 || got.oom)
		goto out;
	if ((arr = cJSON_ParseWithLength(got.data, got.len)) == NULL || !cJSON_IsArray(arr))
		goto out;
	uint64_t last = 0;
	cJSON_ArrayForEach(it, arr)
	{
		int64_t id = 0;
		if (n == limit) {
			*next = last;
			break;
		}
		char *one = cJSON_PrintUnformatted(it);
		if (one == NULL)
			goto out;
		jw_raw(w, NULL, one, strlen(one));
		free(one);
		if (cJSON_IsObject(it) && wire_int(it, "id", &id) && id > 0)
			last = (uint64_t)id;
		n++;
	}
	rv = 0;
out:
	cJSON_Delete(arr);
	sbuf_fini(&got);
	return rv;
}

/* Whether q asks, as an admin of the API, for the audit trail of a room id the broker no
 * longer has (entries outlive their room in a store). */
static bool
audit_of_gone_room(struct req *q)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(q->rq, "actor");
	const char *id = wire_str(q->rq, "room_id", NULL);
	bool admin = false;

	return q->b->store.audit_read != NULL && cJSON_IsObject(o) &&
	       !wire_has(q->rq, "frontend") && !wire_has(q->rq, "session") &&
	       wire_bool(o, "admin", &admin) && admin && wire_str(o, "name", NULL) != NULL &&
	       id != NULL && valid_room_id(id, strlen(id)) && room_get(q->b, id) == NULL;
}

/* audit {room_id, actor…, before_id?, limit?} */
void
op_audit(struct req *q)
{
	struct broker *b = q->b;
	struct actor a;
	struct room *r = NULL;
	const char *rid;
	int64_t before = 0, limit = 50;
	bool has;
	uint64_t next = 0;

	if (audit_of_gone_room(q)) {
		rid = wire_str(q->rq, "room_id", NULL);
	} else {
		if ((r = ops_arg_actor(q, &a)) == NULL ||
		    !ops_actor_may(q, &a, ROLE_OWNER, "read the audit trail"))
			return;
		rid = r->id;
	}
	if (!ops_arg_int_opt(q, "before_id", 1, INT64_C(1) << 53, &before, &has) ||
	    !ops_arg_int_opt(q, "limit", 1, 500, &limit, &has))
		return;
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_arr(&w, "entries");
	if (b->store.audit_read != NULL && (r == NULL || !r->ephemeral)) {
		if (audit_from_store(b, &w, rid, (uint64_t)before, (size_t)limit, &next) != 0) {
			ops_reply_error(q, ERR_INTERNAL, "the audit trail cannot be read now");
			return;
		}
	} else {
		next = audit_from_ring(&w, r, (uint64_t)before, (size_t)limit);
	}
	jw_end(&w);
	if (next)
		jw_int(&w, "next_before", (int64_t)next);
	else
		jw_null(&w, "next_before");
	jw_end(&w);
}
