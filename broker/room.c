/* room.c — rooms, their members, sequence numbers and history rings. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"
#include "notices.h"
#include "slab.h"
#include "wire.h"

struct room *
room_get(struct broker *b, const char *id)
{
	return hmap_get(&b->rooms, id);
}

struct room *
room_create(struct broker *b, const char *id, const char *name)
{
	size_t n = strnlen(id, MADANG_ROOM_ID_MAX);
	struct room *r = slab_zalloc(sizeof(*r) + n + 1);

	if (r == NULL)
		return NULL;
	memcpy(r->id, id, n);
	r->name = slab_strdup(name);
	r->ring_cap = b->cfg.history; /* allocated as events come (room_ring_push) */
	if (b->nrooms == b->rooms_cap) {
		size_t cap = b->rooms_cap ? b->rooms_cap * 2 : 16;
		struct room **v = realloc(b->rooms_v, cap * sizeof(*v));
		if (v == NULL)
			goto fail;
		b->rooms_v = v;
		b->rooms_cap = cap;
	}
	if (r->name == NULL)
		goto fail;
	hmap_init(&r->members);
	if (room_name_register(b, r) != 0)
		goto fail;
	if (hmap_put(&b->rooms, r->id, r) != 0)
		goto fail;
	r->order_idx = b->nrooms;
	b->rooms_v[b->nrooms++] = r;
	return r;
fail:
	room_name_unregister(b, r);
	slab_release(r->ring);
	slab_release(r->name);
	slab_release(r);
	return NULL;
}

/* room_create for a room that is new to the broker (not restored): tells the store. */
struct room *
room_create_new(struct broker *b, const char *id, const char *name)
{
	struct room *r = room_create(b, id, name);

	if (r != NULL && b->store.room_created)
		r->seq = b->store.room_created(b->store.arg, r->id, r->name, b->now_wall);
	return r;
}

/* Removes the room from the broker and frees it. Its members must be gone already. */
void
room_destroy(struct broker *b, struct room *r)
{
	hmap_del(&b->rooms, r->id);
	room_name_unregister(b, r);
	eph_release(b, r);
	/* Keep creation order: shift the rooms after it down by one. */
	memmove(&b->rooms_v[r->order_idx], &b->rooms_v[r->order_idx + 1],
	        (b->nrooms - r->order_idx - 1) * sizeof(*b->rooms_v));
	b->nrooms--;
	for (size_t i = r->order_idx; i < b->nrooms; i++)
		b->rooms_v[i]->order_idx = i;
	for (size_t i = 0; i < r->ring_len; i++)
		hist_free(room_hist_at(r, i));
	slab_release(r->ring);
	mod_free(r);
	hmap_fini(&r->members);
	slab_release(r->members_v);
	slab_release(r->name);
	slab_release(r);
}

struct hist_ev *
room_hist_at(struct room *r, size_t i)
{
	return &r->ring[(r->ring_head + i) % r->ring_cap];
}

uint64_t
room_first_seq(const struct room *r)
{
	return r->ring_len ? r->ring[r->ring_head].seq : r->seq + 1;
}

void
room_publish(struct broker *b, const char *topic, size_t tlen, const char *json, size_t jlen)
{
	b->ctr.events_published++;
	if (b->publish)
		b->publish(b->publish_arg, topic, tlen, json, jlen);
}

void
room_event_begin(struct broker *b, struct room *r, const char *type, struct jsonw *e)
{
	sbuf_reset(&b->ev);
	jw_begin(e, &b->ev);
	jw_obj(e, NULL);
	jw_str(e, "type", type);
	jw_str(e, "room_id", r->id);
	jw_int(e, "seq", (int64_t)(r->seq + 1));
	jw_str(e, "epoch", b->epoch);
	jw_str(e, "time", b->now_iso);
}

void
room_emit(struct broker *b, struct room *r, const struct member *sender, const char *client_id)
{
	char topic[WIRE_TOPIC_MAX + 1];
	size_t tlen;
	struct hist_ev ev = {0};
	const char *user_key = sender ? member_key(sender) : NULL;
	const char *subject = sender ? member_subject(sender) : NULL;

	if (b->ev.oom) {
		log_error("broker: out of memory building an event for room %s", r->id);
		return;
	}
	r->seq++;
	if (b->store.event && !r->ephemeral)
		b->store.event(b->store.arg, r->id, r->seq, b->now_wall, b->ev.data, b->ev.len,
		               user_key, client_id, subject);
	tlen = wire_topic(topic, sizeof(topic), WIRE_TOPIC_ROOM, r->id);
	room_publish(b, topic, tlen, b->ev.data, b->ev.len);
	if (r->ring_cap == 0)
		return;
	if (hist_make(&ev, r->seq, r->id, b->epoch, b->ev.data, b->ev.len, user_key, client_id,
	              subject) != 0 ||
	    room_ring_push(r, &ev) != 0)
		log_error("broker: out of memory storing history of room %s", r->id);
}

/* Appends ev (whose strings the ring now owns) as the newest entry, dropping the oldest. The
 * ring starts empty and grows by half (4, 8, 12, 18, 27, …; at least 4 slots at a time) up to
 * ring_cap: a room of ten joins keeps 12 slots, not 16. Until it is full its entries sit at
 * [0, ring_len), so growing moves nothing. Out of memory: ev is freed, -1. */
int
room_ring_push(struct room *r, struct hist_ev *ev)
{
	if (r->ring_len == r->ring_alloc && r->ring_alloc < r->ring_cap) {
		size_t n = r->ring_alloc + (r->ring_alloc / 2 > 4 ? r->ring_alloc / 2 : 4);
		struct hist_ev *v;
		if (n > r->ring_cap)
			n = r->ring_cap;
		if ((v = slab_realloc(r->ring, n * sizeof(*v))) == NULL) {
			hist_free(ev);
			return -1;
		}
		r->ring = v;
		r->ring_alloc = n;
	}
	if (r->ring_len < r->ring_cap) {
		r->ring[(r->ring_head + r->ring_len) % r->ring_cap] = *ev;
		r->ring_len++;
	} else {
		hist_free(&r->ring[r->ring_head]);
		r->ring[r->ring_head] = *ev;
		r->ring_head = (r->ring_head + 1) % r->ring_cap;
	}
	return 0;
}

struct hist_ev *
room_find_dup(struct room *r, const char *user_key, const char *client_id)
{
	for (size_t i = r->ring_len; i-- > 0;) {
		struct hist_ev *e = room_hist_at(r, i);
		const char *cid = hist_client_id(e);
		if (cid && strcmp(cid, client_id) == 0 && strcmp(hist_user_key(e), user_key) == 0)
			return e;
	}
	return NULL;
}

const char *
member_subject(const struct member *m)
{
	return m->subject_off ? m->names + m->subject_off : NULL;
}

const char *
member_addr(const struct member *m)
{
	return m->addr_off ? m->names + m->addr_off : NULL;
}

struct member *
room_member_find(const struct room *r, const char *key)
{
	if (r->members.cap > 0)
		return hmap_get(&r->members, key);
	for (size_t i = 0; i < r->nmembers; i++)
		if (strcmp(member_key(r->members_v[i]), key) == 0)
			return r->members_v[i];
	return NULL;
}

/* Indexes m, about to join r: nothing while the room stays within ROOM_SCAN_MAX, else its
 * hash table, built from members_v the first time. 0 or -1 (no memory: m is not in it). */
static int
room_index_add(struct room *r, struct member *m)
{
	if (r->members.cap == 0) {
		if (r->nmembers < ROOM_SCAN_MAX)
			return 0;
		for (size_t i = 0; i < r->nmembers; i++)
			if (hmap_put(&r->members, member_key(r->members_v[i]), r->members_v[i]) !=
			    0) {
				hmap_fini(&r->members); /* as it was: found by a walk */
				return -1;
			}
	}
	return hmap_put(&r->members, member_key(m), m);
}

int
room_member_add(struct broker *b, struct room *r, struct session *s, const char *user,
                const char *key, const struct member_ident *id, struct member **out)
{
	const char *subj = id ? id->subject : NULL;
	const char *addr = id ? id->addr : NULL;

	struct member *m;

	if (r->nmembers == r->members_cap) {
		/* By half, as the ring: a room of ten keeps 12 slots. */
		size_t cap = r->members_cap ? r->members_cap + r->members_cap / 2 : 8;
		struct member **v = slab_realloc(r->members_v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		r->members_v = v;
		r->members_cap = cap;
	}
	if (s->nrooms >= SESSION_ROOMS_MAX)
		return -1;
	if (s->nrooms == (s->rooms_log2 ? (uint32_t)1 << s->rooms_log2 : 1)) {
		/* A second membership: the one held in the session moves to an array of 4. */
		uint8_t lg = s->rooms_log2 ? (uint8_t)(s->rooms_log2 + 1) : 2;
		struct member **v = slab_realloc(s->rooms_log2 ? s->rooms.many : NULL,
		                                 ((size_t)1 << lg) * sizeof(*v));
		if (v == NULL)
			return -1;
		if (!s->rooms_log2)
			v[0] = s->rooms.one;
		s->rooms.many = v;
		s->rooms_log2 = lg;
	}
	if (addr != NULL && strcmp(addr, CLIENT_ADDR_UNKNOWN) == 0)
		addr = NULL;
	/* The folded nickname is most often the nickname itself: then it is kept once. */
	size_t ulen = strlen(user) + 1, klen = strcmp(user, key) == 0 ? 0 : strlen(key) + 1;
	size_t slen = subj ? strlen(subj) + 1 : 0, alen = addr ? strlen(addr) + 1 : 0;
	if (r->nmembers >= UINT32_MAX ||
	    (m = slab_zalloc(offsetof(struct member, names) + ulen + klen + slen + alen)) == NULL)
		return -1;
	memcpy(m->names, user, ulen);
	/* Each string is at most a few hundred bytes: the offsets fit 16 bits. */
	if (klen) {
		m->key_off = (uint16_t)ulen;
		memcpy(m->names + ulen, key, klen);
	}
	if (subj) {
		m->subject_off = (uint16_t)(ulen + klen);
		memcpy(m->names + m->subject_off, subj, slen);
		m->admin = id->admin;
	}
	if (addr) {
		m->addr_off = (uint16_t)(ulen + klen + slen);
		memcpy(m->names + m->addr_off, addr, alen);
	}
	m->room = r;
	m->sess = s;
	if (room_index_add(r, m) != 0) {
		slab_release(m);
		return -1;
	}
	m->room_idx = r->nmembers;
	r->members_v[r->nmembers++] = m;
	sess_rooms(s)[s->nrooms++] = m;
	b->members_total++;
	*out = m;
	return 0;
}

void
room_member_remove(struct broker *b, struct member *m)
{
	struct room *r = m->room;
	struct session *s = m->sess;

	if (r->members.cap > 0)
		hmap_del(&r->members, member_key(m));
	r->members_v[m->room_idx] = r->members_v[r->nmembers - 1];
	r->members_v[m->room_idx]->room_idx = m->room_idx;
	r->nmembers--;
	if (r->members.cap > 0 && r->nmembers <= ROOM_SCAN_MAX / 2)
		hmap_fini(&r->members); /* small again: found by a walk */
	struct member **v = sess_rooms(s);
	for (size_t i = 0; i < s->nrooms; i++) {
		if (v[i] == m) {
			v[i] = v[--s->nrooms];
			break;
		}
	}
	b->members_total--;
	slab_release(m);
	if (r->ephemeral && r->nmembers == 0)
		b->reap_pending = true;
}

/* The join/leave notice texts, in the language of --notices (notices.h). */
static const struct {
	const char *sender, *joined, *left; /* joined/left: appended to the nickname */
	const char *kicked, *banned;        /* the same, for removals by a moderator */
} notice_texts[] = {
    [BROKER_NOTICES_KO] = {NOTICE_KO_SENDER, NOTICE_KO_JOINED, NOTICE_KO_LEFT, NOTICE_KO_KICKED,
                           NOTICE_KO_BANNED},
    [BROKER_NOTICES_EN] = {NOTICE_EN_SENDER, NOTICE_EN_JOINED, NOTICE_EN_LEFT, NOTICE_EN_KICKED,
                           NOTICE_EN_BANNED},
};

/* A presence event of m: verb is appended to the nickname for its message; by and note are
 * written when not NULL (removals by a moderator). */
static void
room_emit_presence(struct broker *b, struct member *m, const char *type, const char *verb,
                   size_t count, const char *reason, bool resync, const char *by, const char *note)
{
	struct jsonw e;
	const char *sender = notice_texts[b->cfg.notices].sender;
	char text[MADANG_NICK_MAX_BYTES + 64];

	room_event_begin(b, m->room, type, &e);
	jw_str(&e, "user", member_user(m));
	jw_str(&e, "sender", sender);
	int n = snprintf(text, sizeof(text), "%s%s", member_user(m), verb);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = sizeof(text) - 1;
	jw_strn(&e, "message", text, (size_t)n);
	jw_int(&e, "users_count", (int64_t)count);
	if (reason)
		jw_str(&e, "reason", reason);
	if (resync)
		jw_bool(&e, "resync", true);
	if (by)
		jw_str(&e, "by", by);
	if (note)
		jw_str(&e, "note", note);
	jw_end(&e);
	room_emit(b, m->room, NULL, NULL);
}

void
room_emit_join(struct broker *b, struct member *m, bool resync)
{
	b->ctr.joins++;
	room_emit_presence(b, m, "join", notice_texts[b->cfg.notices].joined, m->room->nmembers,
	                   NULL, resync, NULL, NULL);
}

void
room_emit_leave(struct broker *b, struct member *m, const char *reason)
{
	b->ctr.leaves++;
	room_emit_presence(b, m, "leave", notice_texts[b->cfg.notices].left, m->room->nmembers - 1,
	                   reason, false, NULL, NULL);
}

void
room_emit_removal(struct broker *b, struct member *m, const char *reason, const char *by,
                  const char *note)
{
	bool ban = strcmp(reason, "banned") == 0;
	b->ctr.leaves++;
	room_emit_presence(b, m, "leave",
	                   ban ? notice_texts[b->cfg.notices].banned
	                       : notice_texts[b->cfg.notices].kicked,
	                   m->room->nmembers - 1, reason, false, by, note);
}

/* The sender of the room's system notices (message_deleted, slow_mode) in --notices. */
const char *
room_notice_sender(const struct broker *b)
{
	return notice_texts[b->cfg.notices].sender;
}
