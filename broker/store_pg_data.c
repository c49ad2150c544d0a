/* store_pg_data.c — the PostgreSQL store's data path: restoring rooms, recent history and the
 * moderation state at take-over, the broker's hooks (rooms, events, history reads, moderation)
 * and pruning. State thread only; the connection and transactions are store_pg.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgutil.h"
#include "store_pg_int.h"
#include "store_pg_sql.h"

/* The live rooms' bans and mutes that have not ended (after their rooms were restored). A
 * record the broker cannot read is logged and skipped. Returns how many, or -1. */
static int
pg_restore_restrictions(struct store_pg *st, struct broker *b)
{
	char now[24];
	const char *p[1] = {now};
	PGresult *res;
	int n = 0;

	snprintf(now, sizeof(now), "%lld", (long long)store_wall_ms());
	if ((res = pg_run(st, "restore", SQL_RESTORE_RESTRICTIONS, 1, p, PGRES_TUPLES_OK)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		if (broker_restore_restriction(b, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		                               PQgetvalue(res, i, 2),
		                               (size_t)PQgetlength(res, i, 2)) != 0) {
			log_warn("broker: room %s: unreadable %s record in the store: skipped",
			         PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
			continue;
		}
		n++;
	}
	PQclear(res);
	return n;
}

int
pg_restore(struct store *base, struct broker *b, size_t ring, char *err, size_t errsz)
{
	struct store_pg *st = (struct store_pg *)base;
	char n_ring[24];
	const char *p[1] = {n_ring};
	PGresult *res;
	int n = 0, events = 0, restrictions;

	snprintf(n_ring, sizeof(n_ring), "%zu", ring);
	if ((res = pg_run(st, "restore", SQL_RESTORE_ROOMS, 0, NULL, PGRES_TUPLES_OK)) == NULL) {
		snprintf(err, errsz, "cannot restore the rooms: %s", st->err);
		return -1;
	}
	for (n = 0; n < PQntuples(res); n++) {
		const char *id = PQgetvalue(res, n, 0);
		if (broker_restore_room(b, id, PQgetvalue(res, n, 1),
		                        strtoull(PQgetvalue(res, n, 2), NULL, 10)) != 0) {
			snprintf(err, errsz, "cannot restore room %s", id);
			PQclear(res);
			return -1;
		}
		if (!PQgetisnull(res, n, 3) &&
		    broker_restore_room_meta(b, id, PQgetvalue(res, n, 3),
		                             (size_t)PQgetlength(res, n, 3)) != 0)
			log_warn("broker: room %s: unreadable moderation settings in the store: "
			         "skipped",
			         id);
	}
	PQclear(res);
	if ((restrictions = pg_restore_restrictions(st, b)) < 0) {
		snprintf(err, errsz, "cannot restore the bans and mutes: %s", st->err);
		return -1;
	}
	if ((res = pg_run(st, "restore", SQL_RESTORE_EVENTS, 1, p, PGRES_TUPLES_OK)) == NULL) {
		snprintf(err, errsz, "cannot restore the history: %s", st->err);
		return -1;
	}
	for (events = 0; events < PQntuples(res); events++) {
		const char *id = PQgetvalue(res, events, 0);
		if (broker_restore_event(
		        b, id, strtoull(PQgetvalue(res, events, 1), NULL, 10),
		        PQgetvalue(res, events, 2), (size_t)PQgetlength(res, events, 2),
		        PQgetisnull(res, events, 3) ? NULL : PQgetvalue(res, events, 3),
		        PQgetisnull(res, events, 4) ? NULL : PQgetvalue(res, events, 4),
		        PQgetisnull(res, events, 5) ? NULL : PQgetvalue(res, events, 5)) != 0) {
			snprintf(err, errsz, "cannot restore the history of room %s", id);
			PQclear(res);
			return -1;
		}
	}
	PQclear(res);
	log_info("broker: restored %d rooms, %d recent events and %d bans and mutes from "
	         "PostgreSQL",
	         n, events, restrictions);
	return 0;
}

static uint64_t
hook_room_created(void *arg, const char *id, const char *name, int64_t wall_ms)
{
	struct store_pg *st = arg;
	char ms[24];
	const char *p[3] = {id, name, ms};
	PGresult *res;
	uint64_t seq = 0;

	snprintf(ms, sizeof(ms), "%lld", (long long)wall_ms);
	if (pg_flush(st) != 0 || pg_ensure_tx(st) != 0)
		return 0;
	if ((res = pg_run(st, "room create", SQL_ROOM_NEW, 3, p, PGRES_TUPLES_OK)) == NULL)
		return 0;
	if (PQntuples(res) == 1)
		seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return seq;
}

static void
hook_room_deleted(void *arg, const char *id, uint64_t seq)
{
	struct store_pg *st = arg;
	char s[24];
	const char *p[2] = {id, s};

	store_dirty_forget(&st->dirty, id);
	snprintf(s, sizeof(s), "%llu", (unsigned long long)seq);
	/* Its settings go with the row's moderation column; its audit trail stays. */
	if (pg_flush(st) == 0 && pg_ensure_tx(st) == 0 &&
	    pg_cmd(st, "room delete", SQL_ROOM_DELETE, 2, p) == 0)
		pg_cmd(st, "room delete", SQL_RESTRICT_DEL_ROOM, 1, p);
}

static void
hook_event(void *arg, const char *room_id, uint64_t seq, int64_t wall_ms, const char *json,
           size_t len, const char *user_key, const char *client_id, const char *subject)
{
	struct store_pg *st = arg;
	char num[24];

	pgutil_copy_field(&st->copy, room_id, strlen(room_id), '\t');
	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	pgutil_copy_field(&st->copy, num, strlen(num), '\t');
	snprintf(num, sizeof(num), "%lld", (long long)wall_ms);
	pgutil_copy_field(&st->copy, num, strlen(num), '\t');
	pgutil_copy_field(&st->copy, json, len, '\t');
	pgutil_copy_field(&st->copy, user_key, user_key ? strlen(user_key) : 0, '\t');
	pgutil_copy_field(&st->copy, client_id, client_id ? strlen(client_id) : 0, '\t');
	pgutil_copy_field(&st->copy, subject, subject ? strlen(subject) : 0, '\n');
	/* The room's seq is written once per transaction, at commit. */
	if (store_dirty_note(&st->dirty, room_id, seq) != 0) {
		st->failed = true;
		snprintf(st->err, sizeof(st->err), "out of memory");
	}
}

static int
hook_history(void *arg, const char *room_id, uint64_t lo, uint64_t hi, size_t limit, bool newest,
             size_t max_bytes, struct sbuf *out, size_t *count, uint64_t *oldest, bool *truncated)
{
	struct store_pg *st = arg;
	char a[24], z[24], l[24];
	const char *p[4] = {room_id, a, z, l};
	PGresult *res;
	size_t n, bytes = 0;

	*count = 0;
	*oldest = 0;
	*truncated = false;
	/* The batch's own events first, so that a read sees them as SQLite's would. */
	if (st->copy.len > 0 && pg_flush(st) != 0)
		return -1;
	snprintf(a, sizeof(a), "%llu", (unsigned long long)lo);
	snprintf(z, sizeof(z), "%llu",
	         (unsigned long long)(hi > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : hi));
	snprintf(l, sizeof(l), "%zu", limit);
	res = pg_run(st, "history", newest ? SQL_HIST_DESC : SQL_HIST_ASC, 4, p, PGRES_TUPLES_OK);
	if (res == NULL)
		return -1;
	/* Rows come from the end kept first (newest or oldest): stop before the budget. */
	for (n = 0; n < (size_t)PQntuples(res); n++) {
		size_t len = (size_t)PQgetlength(res, (int)n, 0) + (n ? 1 : 0);
		if (bytes + len > max_bytes) {
			*truncated = true;
			break;
		}
		bytes += len;
	}
	sbuf_addc(out, '[');
	for (size_t i = 0; i < n; i++) {
		size_t k = newest ? n - 1 - i : i; /* oldest first either way */
		if (i)
			sbuf_addc(out, ',');
		sbuf_add(out, PQgetvalue(res, (int)k, 0), (size_t)PQgetlength(res, (int)k, 0));
	}
	sbuf_addc(out, ']');
	PQclear(res);
	*count = n;
	if ((res = pg_run(st, "history", SQL_OLDEST, 1, p, PGRES_TUPLES_OK)) == NULL)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*oldest = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

static void
hook_room_meta(void *arg, const char *room_id, const char *meta, size_t len)
{
	struct store_pg *st = arg;
	char *m = strndup(meta, len);
	const char *p[2] = {room_id, m};

	if (m == NULL) {
		snprintf(st->err, sizeof(st->err), "out of memory");
		st->failed = true;
		return;
	}
	if (pg_ensure_tx(st) == 0)
		pg_cmd(st, "room settings", SQL_ROOM_META, 2, p);
	free(m);
}

static void
hook_restriction_put(void *arg, const char *room_id, const char *kind, const char *key,
                     int64_t until_ms, const char *rec, size_t len)
{
	struct store_pg *st = arg;
	char until[24], *r = strndup(rec, len);
	const char *p[5] = {room_id, kind, key, until, r};

	if (r == NULL) {
		snprintf(st->err, sizeof(st->err), "out of memory");
		st->failed = true;
		return;
	}
	snprintf(until, sizeof(until), "%lld", (long long)until_ms);
	if (pg_ensure_tx(st) == 0)
		pg_cmd(st, "restriction", SQL_RESTRICT_PUT, 5, p);
	free(r);
}

static void
hook_restriction_del(void *arg, const char *room_id, const char *kind, const char *key)
{
	struct store_pg *st = arg;
	const char *p[3] = {room_id, kind, key};

	if (pg_ensure_tx(st) == 0)
		pg_cmd(st, "restriction delete", SQL_RESTRICT_DEL, 3, p);
}

/* The row is updated in place; its old version stays in the table's file until VACUUM
 * (docs/deploy-ha.md). */
static void
hook_event_redact(void *arg, const char *room_id, uint64_t seq, const char *tombstone, size_t len)
{
	struct store_pg *st = arg;
	char num[24], *t = strndup(tombstone, len);
	const char *p[3] = {room_id, num, t};

	if (t == NULL) {
		snprintf(st->err, sizeof(st->err), "out of memory");
		st->failed = true;
		return;
	}
	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	/* The event may be one of this batch's, still in the COPY buffer. */
	if (pg_flush(st) == 0 && pg_ensure_tx(st) == 0)
		pg_cmd(st, "message delete", SQL_REDACT, 3, p);
	free(t);
}

static int
hook_event_get(void *arg, const char *room_id, uint64_t seq, struct sbuf *out, struct sbuf *subject)
{
	struct store_pg *st = arg;
	char num[24];
	const char *p[2] = {room_id, num};
	PGresult *res;
	int rv = 1;

	if (st->copy.len > 0 && pg_flush(st) != 0)
		return -1;
	snprintf(num, sizeof(num), "%llu",
	         (unsigned long long)(seq > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : seq));
	if ((res = pg_run(st, "event read", SQL_EVENT_GET, 2, p, PGRES_TUPLES_OK)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		sbuf_add(out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
		if (!PQgetisnull(res, 0, 1))
			sbuf_add(subject, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
		rv = 0;
	}
	PQclear(res);
	return rv;
}

static void
hook_audit_add(void *arg, const char *room_id, int64_t wall_ms, const char *entry, size_t len)
{
	struct store_pg *st = arg;
	char ms[24], *e = strndup(entry, len);
	const char *p[3] = {room_id, ms, e};

	if (e == NULL) {
		snprintf(st->err, sizeof(st->err), "out of memory");
		st->failed = true;
		return;
	}
	snprintf(ms, sizeof(ms), "%lld", (long long)wall_ms);
	if (pg_ensure_tx(st) == 0)
		pg_cmd(st, "audit", SQL_AUDIT_ADD, 3, p);
	free(e);
}

static int
hook_audit_read(void *arg, const char *room_id, uint64_t before_id, size_t limit, struct sbuf *out)
{
	struct store_pg *st = arg;
	char before[24], lim[24];
	const char *p[3] = {room_id, before, lim};
	PGresult *res;

	snprintf(before, sizeof(before), "%llu",
	         (unsigned long long)(before_id == 0 || before_id > (uint64_t)INT64_MAX
	                                  ? (uint64_t)INT64_MAX
	                                  : before_id));
	snprintf(lim, sizeof(lim), "%zu", limit);
	if ((res = pg_run(st, "audit read", SQL_AUDIT_READ, 3, p, PGRES_TUPLES_OK)) == NULL)
		return -1;
	sbuf_addc(out, '[');
	for (int i = 0; i < PQntuples(res); i++) {
		if (i)
			sbuf_addc(out, ',');
		store_audit_append(out, strtoull(PQgetvalue(res, i, 0), NULL, 10),
		                   PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
	}
	sbuf_addc(out, ']');
	PQclear(res);
	return 0;
}

void
pg_hooks(struct store *base, struct broker_store *h)
{
	memset(h, 0, sizeof(*h));
	h->arg = base;
	h->room_created = hook_room_created;
	h->room_deleted = hook_room_deleted;
	h->event = hook_event;
	h->history = hook_history;
	h->room_meta = hook_room_meta;
	h->restriction_put = hook_restriction_put;
	h->restriction_del = hook_restriction_del;
	h->event_redact = hook_event_redact;
	h->event_get = hook_event_get;
	h->audit_add = hook_audit_add;
	h->audit_read = hook_audit_read;
}

/* Ended bans and mutes, then audit entries older than --audit-days: up to budget rows. */
static int
pg_prune_moderation(struct store_pg *st, int64_t now_wall_ms, int budget)
{
	char before[24], lim[24];
	const char *p[2] = {before, lim};
	PGresult *res;
	int n;

	snprintf(before, sizeof(before), "%lld", (long long)now_wall_ms);
	snprintf(lim, sizeof(lim), "%d", budget);
	if (pg_ensure_tx(st) != 0 ||
	    (res = pg_run(st, "prune", SQL_PRUNE_RESTRICT, 2, p, PGRES_COMMAND_OK)) == NULL)
		return -1;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	if (n < budget && st->cfg.audit_days > 0) {
		snprintf(before, sizeof(before), "%lld",
		         (long long)(now_wall_ms - (int64_t)st->cfg.audit_days * 86400000));
		snprintf(lim, sizeof(lim), "%d", budget - n);
		if ((res = pg_run(st, "prune", SQL_PRUNE_AUDIT, 2, p, PGRES_COMMAND_OK)) == NULL)
			return -1;
		n += atoi(PQcmdTuples(res));
		PQclear(res);
	}
	return n;
}

int
pg_prune(struct store *base, int64_t now_wall_ms, int budget)
{
	struct store_pg *st = (struct store_pg *)base;
	char id[MADANG_ROOM_ID_MAX + 1], purge[24], lim[24], before[24];
	const char *p1[1] = {st->prune_cursor};
	const char *p2[4] = {id, lim, purge, before};
	PGresult *res;
	int n;

	/* One room per call, round robin over the room ids; the moderation tables once a round,
	 * between its last room and its first. */
	if ((res = pg_run(st, "prune", SQL_NEXT_ROOM, 1, p1, PGRES_TUPLES_OK)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		st->prune_cursor[0] = '\0';
		return pg_prune_moderation(st, now_wall_ms, budget);
	}
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	snprintf(purge, sizeof(purge), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	memcpy(st->prune_cursor, id, sizeof(id));
	snprintf(lim, sizeof(lim), "%d", budget);
	snprintf(before, sizeof(before), "%lld",
	         st->cfg.keep_days
	             ? (long long)(now_wall_ms - (int64_t)st->cfg.keep_days * 86400000)
	             : (long long)INT64_MIN);
	if (pg_ensure_tx(st) != 0 ||
	    (res = pg_run(st, "prune", SQL_PRUNE, 4, p2, PGRES_COMMAND_OK)) == NULL)
		return -1;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	return n;
}
