/* store.c — the store interface (store.h): picks SQLite or PostgreSQL and forwards each call to
 * the implementation's operations. State thread only. */
#include "store.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
store_open(const struct store_config *cfg, store_stop_fn stopping, struct store **out, char *err,
           size_t errsz)
{
	if (cfg->uri != NULL)
		return store_pg_open(cfg, stopping, out, err, errsz);
	return store_sqlite_open(cfg, out, err, errsz);
}

void
store_close(struct store *st)
{
	if (st != NULL)
		st->impl->close(st);
}

int
store_lead(struct store *st, store_stop_fn stopping, char *err, size_t errsz)
{
	return st->impl->lead ? st->impl->lead(st, stopping, err, errsz) : 0;
}

int
store_epoch(struct store *st, char epoch[17], bool *is_new)
{
	return st->impl->epoch(st, epoch, is_new);
}

int
store_restore(struct store *st, struct broker *b, size_t ring, char *err, size_t errsz)
{
	return st->impl->restore(st, b, ring, err, errsz);
}

void
store_hooks(struct store *st, struct broker_store *hooks)
{
	st->impl->hooks(st, hooks);
}

int
store_begin(struct store *st)
{
	return st->impl->begin(st);
}

int
store_commit(struct store *st)
{
	return st->impl->commit(st);
}

int
store_prune(struct store *st, int64_t now_wall_ms, int budget)
{
	return st->impl->prune(st, now_wall_ms, budget);
}

int
store_ping(struct store *st, uint64_t now_mono_ms)
{
	return st->impl->ping ? st->impl->ping(st, now_mono_ms) : 0;
}

uint64_t
store_term(struct store *st)
{
	return st->impl->term ? st->impl->term(st) : 0;
}

const char *
store_error(struct store *st)
{
	return st->impl->error(st);
}

int
store_dirty_note(struct hmap *dirty, const char *room_id, uint64_t seq)
{
	struct store_dirty_room *d = hmap_get(dirty, room_id);

	if (d == NULL) {
		if ((d = calloc(1, sizeof(*d))) == NULL)
			return -1;
		snprintf(d->id, sizeof(d->id), "%s", room_id);
		if (hmap_put(dirty, d->id, d) != 0) {
			free(d);
			return -1;
		}
	}
	d->seq = seq;
	return 0;
}

void
store_dirty_forget(struct hmap *dirty, const char *room_id)
{
	free(hmap_del(dirty, room_id));
}

void
store_dirty_fini(struct hmap *dirty)
{
	size_t it = 0;
	void *v;

	while (hmap_next(dirty, &it, NULL, &v))
		free(v);
	hmap_fini(dirty);
}

uint64_t
store_purge_below(const struct store_config *cfg, uint64_t seq)
{
	return cfg->keep && seq > cfg->keep ? seq - cfg->keep : 0;
}

int64_t
store_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
store_audit_append(struct sbuf *out, uint64_t id, const char *entry, size_t len)
{
	size_t i = 0;

	/* The store keeps what audit_add was given: a JSON object. */
	while (i < len && entry[i] != '{')
		i++;
	sbuf_addf(out, "{\"id\":%llu", (unsigned long long)id);
	if (i == len) {
		sbuf_addc(out, '}');
		return;
	}
	i++;
	size_t j = i;
	while (j < len &&
	       (entry[j] == ' ' || entry[j] == '\t' || entry[j] == '\n' || entry[j] == '\r'))
		j++;
	if (j < len && entry[j] != '}')
		sbuf_addc(out, ',');
	sbuf_add(out, entry + j, len - j);
}
