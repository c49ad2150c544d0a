/* room.c — local room bookkeeping: members, cursors, the join queue, trimming the log. */
#include "room.h"

#include "slab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
roomtab_init(struct roomtab *t)
{
	hmap_init(&t->map);
	t->n = 0;
}

struct ws_room *
roomtab_get(struct roomtab *t, const char *id)
{
	return hmap_get(&t->map, id);
}

struct ws_room *
roomtab_add(struct roomtab *t, const char *id)
{
	/* In a slab, as its members array: both last as long as the room, and in malloc's heap
	 * they would share pages with what each handshake allocates and frees (finding 33). */
	size_t n = strnlen(id, MADANG_ROOM_ID_MAX);
	struct ws_room *r = slab_zalloc(sizeof(*r) + n + 1);

	if (r == NULL)
		return NULL;
	memcpy(r->id, id, n);
	if (hmap_put(&t->map, r->id, r) != 0) {
		slab_release(r);
		return NULL;
	}
	roomlog_init(&r->log, 0);
	t->n++;
	return r;
}

void
roomtab_del(struct roomtab *t, struct ws_room *r)
{
	if (hmap_get(&t->map, r->id) != r)
		return;
	hmap_del(&t->map, r->id);
	t->n--;
	roomlog_fini(&r->log);
	slab_release(r->members);
	slab_release(r);
}

void
roomtab_each(struct roomtab *t, void (*fn)(struct ws_room *, void *), void *arg)
{
	void *r;

	for (size_t i = 0; hmap_next(&t->map, &i, NULL, &r);)
		fn(r, arg);
}

int
room_add_member(struct ws_room *r, struct ws_member *m, uint64_t cursor)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap + r->cap / 2 : 8; /* by half: a room of ten has 12 */
		struct ws_member **v = slab_realloc(r->members, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		r->members = v;
		r->cap = cap;
	}
	m->room_idx = r->n;
	r->members[r->n++] = m;
	m->state = MEMBER_ACTIVE;
	m->cursor = cursor;
	return 0;
}

void
room_del_member(struct ws_room *r, struct ws_member *m)
{
	size_t i = m->room_idx;

	if (m->state != MEMBER_ACTIVE || i >= r->n || r->members[i] != m)
		return;
	r->members[i] = r->members[--r->n];
	r->members[i]->room_idx = i;
	m->state = MEMBER_JOINING;
}

void
room_join_enqueue(struct ws_room *r, struct ws_member *m)
{
	m->join_next = NULL;
	m->join_sent = false;
	if (r->join_tail != NULL)
		r->join_tail->join_next = m;
	else
		r->join_head = m;
	r->join_tail = m;
}

void
room_join_remove(struct ws_room *r, struct ws_member *m)
{
	struct ws_member **pp = &r->join_head, *prev = NULL;

	while (*pp != NULL && *pp != m) {
		prev = *pp;
		pp = &(*pp)->join_next;
	}
	if (*pp == NULL)
		return;
	*pp = m->join_next;
	if (r->join_tail == m)
		r->join_tail = prev;
	if (m->join_sent && r->joins_in_flight > 0)
		r->joins_in_flight--;
	m->join_next = NULL;
	m->join_sent = false;
}

size_t
room_join_next(struct ws_room *r, struct ws_member **out, size_t max)
{
	size_t n = 0;

	if (r->joins_in_flight > 0)
		return 0;
	for (struct ws_member *m = r->join_head; m != NULL && n < max; m = m->join_next) {
		m->join_sent = true;
		out[n++] = m;
	}
	r->joins_in_flight = (unsigned)n;
	if (n > 0)
		r->pin = room_history_floor(r);
	return n;
}

void
room_join_done(struct ws_room *r, struct ws_member *m)
{
	room_join_remove(r, m);
}

uint64_t
room_history_floor(const struct ws_room *r)
{
	uint64_t n = roomlog_count(&r->log);

	return r->log.top - (n < r->keep ? n : r->keep);
}

void
room_trim(struct ws_room *r)
{
	uint64_t low = room_history_floor(r);

	for (size_t i = 0; i < r->n; i++)
		if (r->members[i]->cursor < low)
			low = r->members[i]->cursor;
	if (r->joins_in_flight > 0 && r->pin < low)
		low = r->pin;
	roomlog_trim(&r->log, low);
}

void
room_warm(struct ws_room *r, uint64_t keep, uint64_t now_ms)
{
	r->keep = keep;
	r->last_join_ms = now_ms;
}

bool
room_cool(struct ws_room *r, uint64_t idle_ms, uint64_t now_ms)
{
	if (r->keep == 0 || idle_ms == 0 || r->join_head != NULL || r->joins_in_flight > 0 ||
	    now_ms - r->last_join_ms < idle_ms)
		return false;
	r->keep = 0;
	room_trim(r);
	roomlog_shrink(&r->log);
	return true;
}

bool
room_idle(const struct ws_room *r)
{
	return r->n == 0 && r->join_head == NULL;
}
