/* session.c — session bookkeeping and the write path's coalescing of whole frames. */
#include "session.h"

#include "slab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ws_session *
sess_new(const char *id, size_t max_rooms)
{
	struct ws_session *s;

	if (max_rooms == 0 || max_rooms > WS_ROOMS_PER_CONN_MAX)
		return NULL;
	if ((s = slab_zalloc(sizeof(*s))) == NULL) /* in a slab: it lasts the connection */
		return NULL;
	s->refs = 1;
	s->max_rooms = max_rooms;
	snprintf(s->id, sizeof(s->id), "%s", id);
	return s;
}

struct ws_sess_extra *
sess_extra(struct ws_session *s)
{
	if (s->x == NULL && (s->x = calloc(1, sizeof(*s->x))) != NULL)
		sbuf_init(&s->x->rx);
	return s->x;
}

void
sess_extra_trim(struct ws_session *s)
{
	struct ws_sess_extra *x = s->x;

	if (x == NULL || x->hist_init || x->rx.cap > 0 || x->rx.len > 0 || x->held_head != NULL ||
	    x->close_reason != NULL || x->probe_until_ms != 0 || x->over_since_ms != 0)
		return;
	sbuf_fini(&x->rx);
	free(x);
	s->x = NULL;
}

const char *
sess_close_reason(const struct ws_session *s)
{
	return s->x != NULL ? s->x->close_reason : NULL;
}

struct ws_held *
sess_held(const struct ws_session *s)
{
	return s->x != NULL ? s->x->held_head : NULL;
}

/* Replaces *dst with a copy of src (NULL: none). Returns 0 or -1 (no memory, *dst kept).
 * A session's and a member's strings (nickname, room, resume, subject) last as long as they
 * do, so they live in slabs too, sized to 8 bytes: slab_strdup copies, slab_release frees. */
static int
set_str(char **dst, const char *src)
{
	char *copy = NULL;

	if (src != NULL && (copy = slab_strdup(src)) == NULL)
		return -1;
	slab_release(*dst);
	*dst = copy;
	return 0;
}

/* Gives every member that shares s->user a copy of its own (before s->user changes).
 * Returns 0 or -1 (no memory; the members copied so far keep their copies). */
static int
sess_unshare_user(struct ws_session *s)
{
	for (size_t i = 0; i < s->rooms_cap; i++) {
		struct ws_member *m = sess_slots(s)[i];
		char *copy;
		if (m == NULL || !m->user_shared)
			continue;
		if ((copy = slab_strdup(m->user)) == NULL)
			return -1;
		m->user = copy;
		m->user_shared = false;
	}
	return 0;
}

int
sess_set_user(struct ws_session *s, const char *user)
{
	char *copy = NULL;

	if (sess_unshare_user(s) != 0 || (user != NULL && (copy = slab_strdup(user)) == NULL))
		return -1;
	if (!s->user_in_room)
		slab_release(s->user);
	s->user = copy;
	s->user_in_room = false;
	return 0;
}

/* The who part, allocated (zeroed) when absent; NULL when out of memory. */
static struct ws_sess_who *
sess_who(struct ws_session *s)
{
	if (s->who == NULL)
		s->who = slab_zalloc(sizeof(*s->who));
	return s->who;
}

/* Frees the who part when nothing in it is set. */
static void
sess_who_trim(struct ws_session *s)
{
	struct ws_sess_who *w = s->who;

	if (w != NULL && w->resume == NULL && w->subject == NULL && w->token_exp_ms == 0) {
		slab_release(w);
		s->who = NULL;
	}
}

/* Sets *field (&s->who->resume or ->subject, by offset) to a copy of src. */
static int
set_who_str(struct ws_session *s, size_t off, const char *src)
{
	struct ws_sess_who *w;
	int rv;

	if (src == NULL && s->who == NULL)
		return 0;
	if ((w = sess_who(s)) == NULL)
		return -1;
	rv = set_str((char **)((char *)w + off), src);
	sess_who_trim(s);
	return rv;
}

int
sess_set_subject(struct ws_session *s, const char *subject)
{
	return set_who_str(s, offsetof(struct ws_sess_who, subject), subject);
}

int
sess_set_resume(struct ws_session *s, const char *resume)
{
	return set_who_str(s, offsetof(struct ws_sess_who, resume), resume);
}

int
sess_set_token_exp(struct ws_session *s, int64_t exp_ms)
{
	if (exp_ms == 0 && s->who == NULL)
		return 0;
	if (sess_who(s) == NULL)
		return -1;
	s->who->token_exp_ms = exp_ms;
	sess_who_trim(s);
	return 0;
}

const char *
sess_subject(const struct ws_session *s)
{
	return s->who != NULL ? s->who->subject : NULL;
}

const char *
sess_resume(const struct ws_session *s)
{
	return s->who != NULL ? s->who->resume : NULL;
}

int64_t
sess_token_exp(const struct ws_session *s)
{
	return s->who != NULL ? s->who->token_exp_ms : 0;
}

int
sess_set_route(struct ws_session *s, const struct route *rt, const char *user)
{
	size_t rl, ul;
	char *both;

	/* Set again (not done by madang-ws): the nickname gets its own copy first. */
	if ((s->user_in_room && sess_set_user(s, s->user) != 0) ||
	    sess_set_resume(s, rt->has_resume ? rt->resume : NULL) != 0)
		return -1;
	if (!rt->single || user == NULL) {
		if (set_str(&s->single_room, rt->single ? rt->room_id : NULL) != 0 ||
		    (user != NULL && sess_set_user(s, user) != 0))
			return -1;
		return 0;
	}
	/* One allocation for the two: an item less per connection. */
	rl = strlen(rt->room_id) + 1;
	ul = strlen(user) + 1;
	if (sess_unshare_user(s) != 0 || (both = slab_malloc(rl + ul)) == NULL)
		return -1;
	memcpy(both, rt->room_id, rl);
	memcpy(both + rl, user, ul);
	if (!s->user_in_room)
		slab_release(s->user);
	slab_release(s->single_room);
	s->single_room = both;
	s->user = both + rl;
	s->user_in_room = true;
	return 0;
}

static void
member_free(struct ws_member *m)
{
	if (m != NULL) {
		if (!m->user_shared)
			slab_release(m->user);
		slab_release(m->since);
		slab_release(m);
	}
}

struct ws_session *
sess_ref(struct ws_session *s)
{
	s->refs++;
	return s;
}

int
sess_member_since(struct ws_member *m, uint64_t seq, const char *epoch)
{
	if (m->since == NULL && (m->since = slab_zalloc(sizeof(*m->since))) == NULL)
		return -1;
	m->since->seq = seq;
	snprintf(m->since->epoch, sizeof(m->since->epoch), "%s", epoch);
	return 0;
}

void
sess_member_since_clear(struct ws_member *m)
{
	slab_release(m->since);
	m->since = NULL;
}

void
sess_unref(struct ws_session *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	for (size_t i = 0; i < s->rooms_cap; i++)
		member_free(sess_slots(s)[i]);
	sess_drop_queue(s);
	if (s->x != NULL) {
		for (struct ws_held *h = s->x->held_head, *next; h != NULL; h = next) {
			next = h->next;
			free(h);
		}
		sbuf_fini(&s->x->rx);
		free(s->x->close_reason);
		free(s->x);
	}
	if (s->rooms_cap > 1)
		free(s->slot.many);
	if (!s->user_in_room)
		slab_release(s->user);
	slab_release(s->single_room);
	if (s->who != NULL) {
		slab_release(s->who->resume);
		slab_release(s->who->subject);
		slab_release(s->who);
	}
	slab_release(s);
}

struct ws_member *
sess_member(const struct ws_session *s, const char *room_id)
{
	struct ws_member **v = sess_slots(s);

	for (size_t i = 0; i < s->rooms_cap; i++)
		if (v[i] != NULL && strcmp(v[i]->room->id, room_id) == 0)
			return v[i];
	return NULL;
}

/* Most connections are in one room: the slots start at one, in the session itself (slot.one),
 * and double up to max_rooms in an allocated array. */
static int
sess_rooms_grow(struct ws_session *s)
{
	size_t cap = s->rooms_cap ? s->rooms_cap * 2 : 1;
	struct ws_member **v;

	if (cap > s->max_rooms)
		cap = s->max_rooms;
	if (cap <= s->rooms_cap)
		return -1;
	if (cap == 1) {
		s->slot.one = NULL;
		s->rooms_cap = 1;
		return 0;
	}
	if (s->rooms_cap <= 1) {
		if ((v = malloc(cap * sizeof(*v))) == NULL)
			return -1;
		v[0] = s->rooms_cap ? s->slot.one : NULL;
	} else if ((v = realloc(s->slot.many, cap * sizeof(*v))) == NULL) {
		return -1;
	}
	for (size_t i = s->rooms_cap ? s->rooms_cap : 1; i < cap; i++)
		v[i] = NULL;
	s->slot.many = v;
	s->rooms_cap = cap;
	return 0;
}

struct ws_member *
sess_member_add(struct ws_session *s, struct ws_room *r, const char *user)
{
	struct ws_member *m;
	size_t i;

	if (s->nrooms >= s->max_rooms)
		return NULL;
	for (i = 0; i < s->rooms_cap && sess_slots(s)[i] != NULL; i++)
		;
	if (i == s->rooms_cap && sess_rooms_grow(s) != 0)
		return NULL;
	if ((m = slab_zalloc(sizeof(*m))) == NULL) /* in a slab: it lasts the membership */
		return NULL;
	if (user != NULL && s->user != NULL && strcmp(user, s->user) == 0) {
		m->user = s->user; /* one string for the session and its rooms: 32 bytes less */
		m->user_shared = true;
	} else if (set_str(&m->user, user) != 0) {
		slab_release(m);
		return NULL;
	}
	m->sess = s;
	m->room = r;
	m->state = MEMBER_JOINING;
	sess_slots(s)[i] = m;
	s->nrooms++;
	return m;
}

int
sess_member_rename(struct ws_member *m, const char *user)
{
	char *copy = slab_strdup(user);

	if (copy == NULL)
		return -1;
	if (!m->user_shared)
		slab_release(m->user);
	m->user = copy;
	m->user_shared = false;
	return 0;
}

void
sess_member_del(struct ws_session *s, struct ws_member *m)
{
	struct ws_member **v = sess_slots(s);

	for (size_t i = 0; i < s->rooms_cap; i++) {
		if (v[i] == m) {
			v[i] = NULL;
			s->nrooms--;
			member_free(m);
			return;
		}
	}
}

struct ws_member *
sess_sole_member(const struct ws_session *s)
{
	struct ws_member *found = NULL, **v = sess_slots(s);

	for (size_t i = 0; i < s->rooms_cap; i++) {
		if (v[i] == NULL)
			continue;
		if (found != NULL)
			return NULL;
		found = v[i];
	}
	return found;
}

int
sess_push(struct ws_session *s, struct ws_frame *f)
{
	struct ws_outq_node *n = slab_malloc_brief(sizeof(*n));

	if (n == NULL)
		return -1;
	if (s->oq == NULL) {
		if ((s->oq = slab_malloc_brief(sizeof(*s->oq))) == NULL) {
			slab_release(n);
			return -1;
		}
		*s->oq = (struct ws_outq){0};
	}
	n->next = NULL;
	n->frame = ws_frame_ref(f);
	if (s->oq->tail != NULL)
		s->oq->tail->next = n;
	else
		s->oq->head = n;
	s->oq->tail = n;
	s->oq->bytes += f->len;
	return 0;
}

/* Takes the queue's first frame off (it must have one); the last one frees the queue. */
static void
oq_pop(struct ws_session *s)
{
	struct ws_outq_node *n = s->oq->head;

	s->oq->head = n->next;
	s->oq->bytes -= n->frame->len;
	ws_frame_unref(n->frame);
	slab_release(n);
	if (s->oq->head == NULL) {
		slab_release(s->oq);
		s->oq = NULL;
	}
}

void
sess_drop_queue(struct ws_session *s)
{
	while (s->oq != NULL)
		oq_pop(s);
}

uint64_t
sess_pending(const struct ws_session *s)
{
	uint64_t total = s->oq != NULL ? s->oq->bytes : 0;

	for (size_t i = 0; i < s->rooms_cap; i++) {
		const struct ws_member *m = sess_slots(s)[i];
		if (m != NULL && m->state == MEMBER_ACTIVE)
			total += roomlog_pending(&m->room->log, m->cursor);
	}
	return total;
}

size_t
sess_collect(struct ws_session *s, struct sbuf *out, size_t soft_cap)
{
	size_t frames = 0;

	while (s->oq != NULL && out->len < soft_cap) {
		sbuf_add(out, s->oq->head->frame->data, s->oq->head->frame->len);
		if (out->oom)
			return frames;
		oq_pop(s);
		frames++;
	}
	if (s->oq != NULL)
		return frames; /* room events wait until what was queued before them is out */

	for (size_t k = 0; k < s->rooms_cap && out->len < soft_cap; k++) {
		size_t i = (s->rr + k) % s->rooms_cap;
		struct ws_member *m = sess_slots(s)[i];
		struct roomlog *l;

		if (m == NULL || m->state != MEMBER_ACTIVE)
			continue;
		l = &m->room->log;
		if (m->cursor < l->base)
			m->cursor = l->base; /* cannot happen while room_trim honours cursors */
		while (m->cursor < l->top && out->len < soft_cap) {
			struct ws_frame *f = roomlog_get(l, m->cursor);
			sbuf_add(out, f->data, f->len);
			if (out->oom)
				return frames;
			m->cursor++;
			frames++;
		}
	}
	if (s->rooms_cap > 0)
		s->rr = (s->rr + 1) % s->rooms_cap;
	return frames;
}

void
sesstab_init(struct sesstab *t)
{
	iset_init(&t->set, offsetof(struct ws_session, id));
	t->n = 0;
}

int
sesstab_add(struct sesstab *t, struct ws_session *s)
{
	if (iset_get(&t->set, s->id) != NULL || iset_put(&t->set, s) != 0)
		return -1;
	t->n++;
	return 0;
}

void
sesstab_del(struct sesstab *t, struct ws_session *s)
{
	if (iset_get(&t->set, s->id) != s)
		return;
	iset_del(&t->set, s->id);
	t->n--;
}

struct ws_session *
sesstab_get(struct sesstab *t, const char *id)
{
	return iset_get(&t->set, id);
}

void
sesstab_each(struct sesstab *t, void (*fn)(struct ws_session *, void *), void *arg)
{
	void *s;

	for (size_t i = 0; iset_next(&t->set, &i, &s);)
		fn(s, arg);
}

int
sess_hold(struct ws_session *s, const char *room_id, const char *buf, size_t len)
{
	struct ws_sess_extra *x = sess_extra(s);
	struct ws_held *h;

	if (x == NULL)
		return -1;
	if (x->held_n >= WS_HELD_MAX || len > WS_HELD_BYTES_MAX - x->held_bytes ||
	    (h = malloc(sizeof(*h) + len)) == NULL) {
		sess_extra_trim(s);
		return -1;
	}
	h->next = NULL;
	snprintf(h->room_id, sizeof(h->room_id), "%s", room_id ? room_id : "");
	h->len = len;
	memcpy(h->buf, buf, len);
	if (x->held_tail != NULL)
		x->held_tail->next = h;
	else
		x->held_head = h;
	x->held_tail = h;
	x->held_n++;
	x->held_bytes += len;
	return 0;
}

struct ws_held *
sess_unhold(struct ws_session *s)
{
	struct ws_sess_extra *x = s->x;
	struct ws_held *h = x != NULL ? x->held_head : NULL;

	if (h == NULL)
		return NULL;
	if ((x->held_head = h->next) == NULL)
		x->held_tail = NULL;
	x->held_n--;
	x->held_bytes -= h->len;
	h->next = NULL;
	sess_extra_trim(s);
	return h;
}
