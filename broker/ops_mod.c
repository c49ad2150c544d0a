/* ops_mod.c — moderation of members (docs/moderation.md): kick, ban, unban, mute, unmute and
 * the lists of bans and mutes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jwt.h"
#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

/* Publishes {"type":type,"session","room_id","user","reason"?,"by","note","until"} about m on
 * its front-end's topic (kick, muted, unmuted). */
static void
publish_member_event(struct broker *b, struct member *m, const char *type, const char *reason,
                     const char *by, const char *note, int64_t until_ms, bool with_until)
{
	char topic[WIRE_TOPIC_MAX + 1], iso[CLOCK_ISO8601_LEN];
	size_t tlen = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, m->sess->fe->id);
	struct jsonw e;

	ops_event_begin(b, &e, type);
	jw_session(&e, m->sess);
	jw_str(&e, "room_id", m->room->id);
	jw_str(&e, "user", member_user(m));
	if (reason)
		jw_str(&e, "reason", reason);
	jw_str(&e, "by", by);
	jw_str_or_null(&e, "note", note);
	if (with_until) {
		if (until_ms)
			jw_str(&e, "until", clock_iso8601(until_ms, iso));
		else
			jw_null(&e, "until");
	}
	jw_end(&e);
	room_publish(b, topic, tlen, b->ev.data, b->ev.len);
}

/* Removes m from its room on a moderator's behalf: the room's leave event (reason kicked or
 * banned), then kick on its front-end's topic. */
static void
remove_member(struct broker *b, struct member *m, const char *reason, const char *by,
              const char *note, int64_t until_ms)
{
	room_emit_removal(b, m, reason, by, note);
	publish_member_event(b, m, "kick", reason, by, note, until_ms, true);
	sess_leave(b, m, NULL);
}

/* The target of kick, ban and mute: "user" (the member of that nickname, when present) or, for
 * ban and unban, "subject". Fills canon/key or *subject; *t is the member or NULL. False after
 * an error reply. */
static bool
arg_target(struct req *q, struct room *r, bool subject_ok, char *canon, char *key,
           const char **subject, struct member **t)
{
	size_t len;

	*subject = NULL;
	*t = NULL;
	if (subject_ok && wire_has(q->rq, "subject") &&
	    !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(q->rq, "subject"))) {
		if (wire_has(q->rq, "user")) {
			ops_reply_error(q, ERR_INVALID_ARGUMENT, "give user or subject, not both");
			return false;
		}
		*subject = wire_str(q->rq, "subject", &len);
		if (*subject == NULL || !jwt_subject_ok(*subject, len)) {
			ops_reply_error(q, ERR_INVALID_ARGUMENT,
			                "subject must be 1-128 bytes of UTF-8 without control "
			                "characters");
			return false;
		}
		for (size_t i = 0; i < r->nmembers; i++) {
			const char *s = member_subject(r->members_v[i]);
			if (s && strcmp(s, *subject) == 0) {
				*t = r->members_v[i];
				break;
			}
		}
		return true;
	}
	if (!ops_arg_nick(q, "user", canon, key))
		return false;
	*t = room_member_find(r, key);
	return true;
}

/* The target's role: the member's, else the subject's (no admin is known by subject alone). */
static enum mod_role
target_role(struct room *r, struct member *t, const char *subject)
{
	if (t != NULL)
		return mod_member_role(t);
	return mod_role_of(r, subject, false);
}

/* Refuses (forbidden) an action on a target whose role is not below the actor's. */
static bool
may_act_on(struct req *q, const struct actor *a, enum mod_role trole, const char *tname)
{
	if (a->role > trole)
		return true;
	ops_reply_error(q, ERR_FORBIDDEN, "%s may not act on %s (%s)", a->name, tname,
	                mod_role_name(trole));
	return false;
}

/* kick {room_id, actor…, user, note?} */
void
op_kick(struct req *q)
{
	char canon[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1];
	struct actor a;
	struct room *r = ops_arg_actor(q, &a);
	const char *subject, *note;
	struct member *t;
	bool bad;

	if (r == NULL || !ops_actor_may(q, &a, ROLE_MODERATOR, "kick") ||
	    !arg_target(q, r, false, canon, key, &subject, &t))
		return;
	if ((note = ops_arg_note(q, &bad)), bad)
		return;
	if (t == NULL) {
		ops_reply_error(q, ERR_NO_SUCH_USER, "%s is not in room %s", canon, r->id);
		return;
	}
	if (t == a.m) {
		ops_reply_error(q, ERR_FORBIDDEN, "nobody may kick themselves");
		return;
	}
	if (!may_act_on(q, &a, mod_member_role(t), member_user(t)))
		return;
	struct audit_info ai = ops_audit_info("kick");
	ai.user = member_user(t);
	ai.subject = member_subject(t);
	ai.note = note;
	ops_audit(q->b, r, &a, &ai);
	remove_member(q->b, t, "kicked", a.name, note, 0);
	ops_reply_ok(q);
}

/* The restriction a ban or mute sets on target t (or the nickname canon/key, or subject). */
static void
restr_template(struct restriction *x, char *kbuf, struct member *t, const char *canon,
               const char *key, const char *subject, bool ban)
{
	const char *ts = t ? member_subject(t) : subject;

	if (ts != NULL) {
		mod_key(kbuf, ts, NULL);
		x->subject = (char *)ts;
	} else {
		mod_key(kbuf, NULL, t ? member_key(t) : key);
		x->addr = t && ban ? (char *)member_addr(t) : NULL; /* mutes: the nickname */
	}
	x->user = t ? (char *)member_user(t) : (char *)(subject ? NULL : canon);
	x->key = kbuf;
}

/* Tells the store about a restriction that was set (stored rooms only). */
static void
restr_store_put(struct broker *b, struct room *r, const char *kind, const struct restriction *x)
{
	struct sbuf buf;
	struct jsonw w;

	if (b->store.restriction_put == NULL || r->ephemeral)
		return;
	sbuf_init(&buf);
	jw_begin(&w, &buf);
	restr_record(&w, x);
	if (!buf.oom)
		b->store.restriction_put(b->store.arg, r->id, kind, x->key, x->until_ms, buf.data,
		                         buf.len);
	sbuf_fini(&buf);
}

static void
restr_store_del(struct broker *b, struct room *r, const char *kind, const char *key)
{
	if (b->store.restriction_del != NULL && !r->ephemeral)
		b->store.restriction_del(b->store.arg, r->id, kind, key);
}

/* Writes until (ISO-8601 or null) into the object open in w. */
static void
jw_until(struct jsonw *w, int64_t until_ms)
{
	char iso[CLOCK_ISO8601_LEN];

	if (until_ms)
		jw_str(w, "until", clock_iso8601(until_ms, iso));
	else
		jw_null(w, "until");
}

/* ban and mute: kind "ban" or "mute". */
static void
restrict_member(struct req *q, bool ban)
{
	struct broker *b = q->b;
	char canon[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1], kbuf[MOD_KEY_MAX];
	struct actor a;
	struct room *r = ops_arg_actor(q, &a);
	const char *subject, *note, *kind = ban ? "ban" : "mute";
	struct member *t;
	struct room_mod *md;
	int64_t dur = 0;
	bool has_dur, bad, full;

	if (r == NULL)
		return;
	if (!ops_actor_may(
	        q, &a, ban && !(r->mod && r->mod->moderators_may_ban) ? ROLE_OWNER : ROLE_MODERATOR,
	        kind) ||
	    !arg_target(q, r, ban, canon, key, &subject, &t))
		return;
	if ((note = ops_arg_note(q, &bad)), bad)
		return;
	if (!ops_arg_int_opt(q, "duration_s", 1, MADANG_RESTRICT_MAX_S, &dur, &has_dur))
		return;
	if (!ban && !has_dur) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "a mute needs duration_s");
		return;
	}
	if (t == a.m && t != NULL) {
		ops_reply_error(q, ERR_FORBIDDEN, "nobody may %s themselves", kind);
		return;
	}
	if (!may_act_on(q, &a, target_role(r, t, subject),
	                t         ? member_user(t)
	                : subject ? subject
	                          : canon))
		return;
	if ((md = mod_get(r)) == NULL)
		goto oom;
	struct restriction x = {
	    .by = (char *)a.name, .note = (char *)note, .time_ms = b->now_wall, .by_role = a.role};
	x.until_ms = has_dur ? b->now_wall + dur * 1000 : 0;
	restr_template(&x, kbuf, t, canon, key, subject, ban);
	struct restriction *set =
	    restr_put(b, ban ? &md->bans : &md->mutes, &x, b->cfg.max_bans, &full);
	if (set == NULL) {
		if (!full)
			goto oom;
		ops_reply_error(q, ERR_TOO_MANY_BANS, "room %s already has %u %ss", r->id,
		                b->cfg.max_bans, kind);
		return;
	}
	restr_store_put(b, r, kind, set);
	struct audit_info ai = ops_audit_info(kind);
	ai.user = set->user;
	ai.subject = set->subject;
	ai.note = note;
	ai.duration_s = has_dur ? dur : -1;
	ops_audit(b, r, &a, &ai);

	/* The members it holds now: the target, and other sessions of the same subject. */
	bool hit = false;
	for (size_t i = r->nmembers; i-- > 0;) {
		struct member *m = r->members_v[i];
		const char *ms = member_subject(m);
		if (m != t && !(set->subject && ms && strcmp(ms, set->subject) == 0))
			continue;
		if (m == a.m || mod_member_role(m) >= a.role)
			continue;
		hit = true;
		if (ban)
			remove_member(b, m, "banned", a.name, note, set->until_ms);
		else
			publish_member_event(b, m, "muted", NULL, a.name, note, set->until_ms,
			                     true);
	}
	struct jsonw w;
	ops_reply_begin(q, &w);
	jw_until(&w, set->until_ms);
	if (ban)
		jw_bool(&w, "kicked", hit);
	jw_end(&w);
	return;
oom:
	ops_reply_error(q, ERR_INTERNAL, "out of memory");
}

/* ban {room_id, actor…, user | subject, duration_s?, note?} */
void
op_ban(struct req *q)
{
	restrict_member(q, true);
}

/* mute {room_id, actor…, user, duration_s, note?} */
void
op_mute(struct req *q)
{
	restrict_member(q, false);
}

/* The restriction of set that holds the target of an unban or unmute: by subject, by the
 * present member's subject, by the nickname key, or any set on that nickname. */
static struct restriction *
find_target_restr(struct broker *b, struct room *r, struct restr_set *set, struct member *t,
                  const char *key, const char *subject)
{
	char kbuf[MOD_KEY_MAX];
	struct restriction *x;
	size_t it = 0;
	void *v;

	if (subject != NULL || (t != NULL && member_subject(t) != NULL)) {
		mod_key(kbuf, subject ? subject : member_subject(t), NULL);
		if ((x = restr_find(b, set, kbuf)) != NULL || subject != NULL)
			return x;
	}
	mod_key(kbuf, NULL, key);
	if ((x = restr_find(b, set, kbuf)) != NULL)
		return x;
	(void)r;
	/* A ban of a subject set on a member by this nickname. */
	while (hmap_next(&set->by_key, &it, NULL, &v)) {
		char folded[MADANG_NICK_MAX_BYTES + 1];
		x = v;
		if (x->user == NULL)
			continue;
		nick_fold(x->user, folded, sizeof(folded));
		if (strcmp(folded, key) == 0)
			return restr_find(b, set, x->key);
	}
	return NULL;
}

/* unban and unmute. */
static void
lift(struct req *q, bool ban)
{
	struct broker *b = q->b;
	char canon[MADANG_NICK_MAX_BYTES + 1], key[MADANG_NICK_MAX_BYTES + 1];
	char kbuf[MOD_KEY_MAX];
	struct actor a;
	struct room *r = ops_arg_actor(q, &a);
	const char *subject, *kind = ban ? "ban" : "mute";
	struct member *t;
	struct restriction *x = NULL;

	if (r == NULL)
		return;
	if (!ops_actor_may(
	        q, &a, ban && !(r->mod && r->mod->moderators_may_ban) ? ROLE_OWNER : ROLE_MODERATOR,
	        ban ? "unban" : "unmute") ||
	    !arg_target(q, r, ban, canon, key, &subject, &t))
		return;
	if (r->mod != NULL)
		x = find_target_restr(b, r, ban ? &r->mod->bans : &r->mod->mutes, t, key, subject);
	if (x == NULL) {
		ops_reply_error(q, ERR_NO_SUCH_BAN, "%s is not %s in room %s",
		                subject ? subject : canon, ban ? "banned" : "muted", r->id);
		return;
	}
	struct audit_info ai = ops_audit_info(ban ? "unban" : "unmute");
	ai.user = x->user;
	ai.subject = x->subject;
	ops_audit(b, r, &a, &ai);
	snprintf(kbuf, sizeof(kbuf), "%s", x->key);
	if (!ban) {
		/* Tell the members it held. */
		for (size_t i = 0; i < r->nmembers; i++) {
			struct member *m = r->members_v[i];
			const char *ms = member_subject(m);
			if (m == t || (x->subject && ms && strcmp(ms, x->subject) == 0) ||
			    (x->subject == NULL && x->user && strcmp(kbuf + 2, member_key(m)) == 0))
				publish_member_event(b, m, "unmuted", NULL, a.name, NULL, 0, false);
		}
	}
	restr_del(ban ? &r->mod->bans : &r->mod->mutes, x);
	restr_store_del(b, r, kind, kbuf);
	ops_reply_ok(q);
}

/* unban {room_id, actor…, user | subject} */
void
op_unban(struct req *q)
{
	lift(q, true);
}

/* unmute {room_id, actor…, user} */
void
op_unmute(struct req *q)
{
	lift(q, false);
}

/* qsort order of restrictions: the newest first, then by key. */
static int
restr_newer_first(const void *pa, const void *pb)
{
	const struct restriction *a = *(struct restriction *const *)pa;
	const struct restriction *b = *(struct restriction *const *)pb;

	if (a->time_ms != b->time_ms)
		return a->time_ms > b->time_ms ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* list_bans and list_mutes: {"ok":true,"bans"|"mutes":[…]}, newest first, the ended ones
 * left out. */
static void
list_restr(struct req *q, bool ban)
{
	struct broker *b = q->b;
	struct actor a;
	struct room *r = ops_arg_actor(q, &a);
	struct jsonw w;
	size_t it = 0;
	void *v;

	if (r == NULL)
		return;
	if (!ops_actor_may(
	        q, &a, ban && !(r->mod && r->mod->moderators_may_ban) ? ROLE_OWNER : ROLE_MODERATOR,
	        ban ? "list bans" : "list mutes"))
		return;
	/* Newest first: at most --max-bans of them, sorted here. */
	struct restr_set *set = r->mod ? (ban ? &r->mod->bans : &r->mod->mutes) : NULL;
	struct restriction **v_list = NULL;
	size_t n = 0;
	if (set != NULL && set->by_key.count > 0 &&
	    (v_list = malloc(set->by_key.count * sizeof(*v_list))) == NULL) {
		ops_reply_error(q, ERR_INTERNAL, "out of memory");
		return;
	}
	while (set != NULL && hmap_next(&set->by_key, &it, NULL, &v)) {
		struct restriction *x = v;
		if (x->until_ms == 0 || x->until_ms > b->now_wall)
			v_list[n++] = x;
	}
	if (n > 1)
		qsort(v_list, n, sizeof(*v_list), restr_newer_first);
	ops_reply_begin(q, &w);
	jw_arr(&w, ban ? "bans" : "mutes");
	for (size_t i = 0; i < n; i++)
		restr_list_item(&w, v_list[i]);
	jw_end(&w);
	jw_end(&w);
	free(v_list);
}

/* list_bans {room_id, actor…} */
void
op_list_bans(struct req *q)
{
	list_restr(q, true);
}

/* list_mutes {room_id, actor…} */
void
op_list_mutes(struct req *q)
{
	list_restr(q, false);
}
