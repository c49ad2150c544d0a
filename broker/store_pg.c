/* store_pg.c — durable rooms and history in PostgreSQL (--store URI), one implementation of
 * store.h, and the cluster's leadership: a session advisory lock. State thread only.
 *
 * One libpq connection, in blocking mode. A batch's transaction is opened by its first write
 * (an idle tick costs no round trip); its events are buffered and sent as one COPY before any
 * read of the batch and at commit. Every commit goes through the session that holds the lock:
 * once that session is gone (server restart, pg_terminate_backend, network cut noticed by the
 * TCP keepalives), no commit can succeed, so nothing more is acknowledged. The connection is
 * never re-opened by an active broker; the server rejoins as a standby instead. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "hmap.h"
#include "limits.h"
#include "log.h"
#include "pgutil.h"
#include "sdnotify.h"
#include "store_pg_sql.h"

#define STORE_PG_RETRY_MS 400 /* a standby tries for the lock (or the server) this often */

struct store_pg {
	struct store base; /* first: a struct store * is a struct store_pg * */
	struct store_config cfg;
	PGconn *conn;
	int64_t lock_key;  /* pg_try_advisory_lock key of the cluster */
	bool in_tx;        /* BEGIN was sent for the current batch */
	bool failed;       /* a write of the current transaction failed: it must not commit */
	bool lost;         /* the session is gone or unusable: never commit again */
	struct sbuf copy;  /* events of the batch not yet sent, COPY text format */
	struct hmap dirty; /* room id -> struct pg_dirty: newest seq written in this transaction */
	char prune_cursor[MADANG_ROOM_ID_MAX + 1];
	uint64_t term;
	uint64_t last_io_ms; /* monotonic time of the last round trip */
	char err[512];
};

struct pg_dirty {
	char id[MADANG_ROOM_ID_MAX + 1];
	uint64_t seq;
};

static const struct store_impl pg_impl;

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* libpq's message without its trailing newline(s), first line only. */
static void
pg_message(char *out, size_t size, const char *msg)
{
	size_t n = 0;

	while (msg && msg[n] && msg[n] != '\n' && n + 1 < size) {
		out[n] = msg[n];
		n++;
	}
	out[n] = '\0';
}

static void
notice_cb(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* "relation already exists, skipping" and the like */
}

/* Connects with TCP keepalives (so that the server notices a dead broker, and we a dead server,
 * within seconds); anything in uri overrides these defaults. */
static PGconn *
pg_connect(const char *uri, char *err, size_t errsz)
{
	static const char *const keys[] = {"application_name",
	                                   "connect_timeout",
	                                   "keepalives",
	                                   "keepalives_idle",
	                                   "keepalives_interval",
	                                   "keepalives_count",
	                                   "tcp_user_timeout",
	                                   "dbname",
	                                   NULL};
	const char *vals[] = {"madang-broker",
	                      STORE_PG_CONNECT_TIMEOUT,
	                      "1",
	                      STORE_PG_KEEPALIVES_IDLE,
	                      STORE_PG_KEEPALIVES_INTERVAL,
	                      STORE_PG_KEEPALIVES_COUNT,
	                      STORE_PG_TCP_USER_TIMEOUT,
	                      uri,
	                      NULL};
	char msg[400];
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (c == NULL) {
		snprintf(err, errsz, "cannot connect to PostgreSQL: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		pg_message(msg, sizeof(msg), PQerrorMessage(c));
		snprintf(err, errsz, "cannot connect to PostgreSQL (--store): %s", msg);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, notice_cb, NULL);
	return c;
}

/* Records a failure: the message, and whether the session is gone. */
static void
pg_fail(struct store_pg *st, const char *what, PGresult *res)
{
	char msg[400];

	pg_message(msg, sizeof(msg), res ? PQresultErrorMessage(res) : PQerrorMessage(st->conn));
	if (!msg[0])
		pg_message(msg, sizeof(msg), PQerrorMessage(st->conn));
	if (!msg[0] && res != NULL)
		snprintf(msg, sizeof(msg), "unexpected result %s",
		         PQresStatus(PQresultStatus(res)));
	if (!st->failed || !st->err[0])
		snprintf(st->err, sizeof(st->err), "%s: %s", what, msg);
	st->failed = true;
	if (PQstatus(st->conn) != CONNECTION_OK)
		st->lost = true;
}

/* Runs sql with text parameters; returns the result when its status is want, else NULL (the
 * failure recorded). */
static PGresult *
pg_run(struct store_pg *st, const char *what, const char *sql, int n, const char *const *params,
       ExecStatusType want)
{
	PGresult *res;

	if (st->lost)
		return NULL;
	/* Without parameters, the simple protocol (which also takes several statements). */
	res =
	    n ? PQexecParams(st->conn, sql, n, NULL, params, NULL, NULL, 0) : PQexec(st->conn, sql);
	st->last_io_ms = mono_ms();
	if (res == NULL || PQresultStatus(res) != want) {
		pg_fail(st, what, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

static int
pg_cmd(struct store_pg *st, const char *what, const char *sql, int n, const char *const *params)
{
	PGresult *res = pg_run(st, what, sql, n, params, PGRES_COMMAND_OK);

	PQclear(res);
	return res ? 0 : -1;
}

static int
pg_ensure_tx(struct store_pg *st)
{
	if (st->in_tx)
		return 0;
	if (pg_cmd(st, "begin", "BEGIN", 0, NULL) != 0)
		return -1;
	st->in_tx = true;
	return 0;
}

/* Sends the buffered events as one COPY. */
static int
pg_flush(struct store_pg *st)
{
	PGresult *res;

	if (st->copy.len == 0)
		return st->failed ? -1 : 0;
	if (st->copy.oom) {
		snprintf(st->err, sizeof(st->err), "out of memory for the batch's events");
		st->failed = true;
		sbuf_reset(&st->copy);
		return -1;
	}
	if (pg_ensure_tx(st) != 0)
		goto fail;
	if ((res = pg_run(st, "event insert", SQL_COPY_EVENTS, 0, NULL, PGRES_COPY_IN)) == NULL)
		goto fail;
	PQclear(res);
	if (PQputCopyData(st->conn, st->copy.data, (int)st->copy.len) != 1 ||
	    PQputCopyEnd(st->conn, NULL) != 1) {
		pg_fail(st, "event insert", NULL);
		goto fail;
	}
	while ((res = PQgetResult(st->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			pg_fail(st, "event insert", res);
		PQclear(res);
	}
	sbuf_reset(&st->copy);
	return st->failed ? -1 : 0;
fail:
	sbuf_reset(&st->copy);
	return -1;
}

static void
pg_close(struct store *base)
{
	struct store_pg *st = (struct store_pg *)base;
	size_t it = 0;
	void *v;

	if (st == NULL)
		return;
	if (st->conn)
		PQfinish(st->conn); /* the lock goes with the session */
	while (hmap_next(&st->dirty, &it, NULL, &v))
		free(v);
	hmap_fini(&st->dirty);
	sbuf_fini(&st->copy);
	free(st);
}

/* Refuses a proxy in transaction pooling: there, each transaction may run on another server
 * session, and a session advisory lock would protect nothing. */
static int
pg_check_session(struct store_pg *st, char *err, size_t errsz)
{
	char first[32] = "";

	for (int i = 0; i < 3; i++) {
		PGresult *res = pg_run(st, "session check", "SELECT pg_backend_pid()", 0, NULL,
		                       PGRES_TUPLES_OK);
		if (res == NULL) {
			snprintf(err, errsz, "%s", st->err);
			return -1;
		}
		if (i == 0)
			snprintf(first, sizeof(first), "%s", PQgetvalue(res, 0, 0));
		bool same = strcmp(first, PQgetvalue(res, 0, 0)) == 0;
		PQclear(res);
		if (!same) {
			snprintf(
			    err, errsz,
			    "the PostgreSQL session changes between transactions (a "
			    "transaction-pooling proxy?): madang-broker needs a session of its "
			    "own, connect directly or through session pooling");
			return -1;
		}
	}
	return 0;
}

/* Creates the schema if needed (under a transaction lock, so that brokers starting together do
 * it once) and checks its version and cluster. */
static int
pg_schema(struct store_pg *st, char *err, size_t errsz)
{
	const char *p[2] = {st->cfg.cluster, NULL};
	char version[32] = "", cluster[STORE_CLUSTER_MAX + 1] = "";
	PGresult *res;

	if (pg_cmd(st, "schema", "BEGIN", 0, NULL) != 0 ||
	    (res = pg_run(st, "schema", SQL_SCHEMA_LOCK, 0, NULL, PGRES_TUPLES_OK)) == NULL)
		goto fail;
	PQclear(res);
	if (pg_cmd(st, "schema", SQL_SCHEMA_META, 0, NULL) != 0)
		goto fail;
	if ((res = pg_run(st, "schema", SQL_META_GET2, 0, NULL, PGRES_TUPLES_OK)) == NULL)
		goto fail;
	for (int i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "schema_version") == 0)
			snprintf(version, sizeof(version), "%s", PQgetvalue(res, i, 1));
		else
			snprintf(cluster, sizeof(cluster), "%s", PQgetvalue(res, i, 1));
	}
	PQclear(res);
	if (version[0] && atoi(version) > STORE_PG_SCHEMA_VERSION) {
		snprintf(err, errsz,
		         "the PostgreSQL database has madang schema version %s, newer than this "
		         "madang-broker knows (%d)",
		         version, STORE_PG_SCHEMA_VERSION);
		goto refuse;
	}
	if (cluster[0] && strcmp(cluster, st->cfg.cluster) != 0) {
		snprintf(
		    err, errsz,
		    "the PostgreSQL database belongs to cluster \"%s\", not \"%s\" (--cluster)",
		    cluster, st->cfg.cluster);
		goto refuse;
	}
	if (!version[0]) {
		if (pg_cmd(st, "schema", SQL_SCHEMA_TABLES, 0, NULL) != 0 ||
		    pg_cmd(st, "schema", SQL_META_INIT, 1, p) != 0)
			goto fail;
		log_info("broker: created the madang schema (version %d) in PostgreSQL",
		         STORE_PG_SCHEMA_VERSION);
	}
	if (pg_cmd(st, "schema", "COMMIT", 0, NULL) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errsz, "cannot set up the madang schema in PostgreSQL: %s", st->err);
refuse:
	PQclear(PQexec(st->conn, "ROLLBACK"));
	return -1;
}

int
store_pg_open(const struct store_config *cfg, store_stop_fn stopping, struct store **out, char *err,
              size_t errsz)
{
	struct store_pg *st = calloc(1, sizeof(*st));
	bool said = false;

	*out = NULL;
	if (st == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	st->base.impl = &pg_impl;
	st->cfg = *cfg;
	st->lock_key = pgutil_cluster_key(cfg->cluster);
	sbuf_init(&st->copy);
	hmap_init(&st->dirty);
	while ((st->conn = pg_connect(cfg->uri, err, errsz)) == NULL) {
		if (!cfg->reconnect)
			goto fail;
		if (!said)
			log_warn("broker: %s: retrying every %d ms", err, STORE_PG_RETRY_MS);
		said = true;
		if (stopping()) {
			err[0] = '\0';
			goto fail;
		}
		sleep_ms(STORE_PG_RETRY_MS);
	}
	if (pg_check_session(st, err, errsz) != 0 || pg_schema(st, err, errsz) != 0)
		goto fail;
	st->err[0] = '\0';
	st->failed = false;
	*out = &st->base;
	return 0;
fail:
	pg_close(&st->base);
	return -1;
}

/* Standby until the cluster's lock is ours; reconnects on its own while standing by (nothing
 * was acknowledged on that session). */
static int
pg_lead(struct store *base, store_stop_fn stopping, char *err, size_t errsz)
{
	struct store_pg *st = (struct store_pg *)base;
	char key[24], note[160];
	const char *p[1] = {key};
	bool said = false, down = false;
	PGresult *res;

	snprintf(key, sizeof(key), "%lld", (long long)st->lock_key);
	for (;;) {
		if (stopping())
			return 1;
		if (st->lost || PQstatus(st->conn) != CONNECTION_OK) {
			PQfinish(st->conn);
			if ((st->conn = pg_connect(st->cfg.uri, st->err, sizeof(st->err))) ==
			    NULL) {
				if (!down)
					log_warn("broker: standby: %s: retrying", st->err);
				down = true;
				sleep_ms(STORE_PG_RETRY_MS);
				continue;
			}
			down = false;
			st->lost = false;
		}
		st->failed = false;
		res = pg_run(st, "lock", SQL_TRY_LOCK, 1, p, PGRES_TUPLES_OK);
		if (res == NULL) {
			st->lost = true;
			continue;
		}
		bool got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (got)
			break;
		if (!said) {
			log_info("broker: standby: another broker of cluster %s is active; trying "
			         "for the lead every %d ms",
			         st->cfg.cluster, STORE_PG_RETRY_MS);
			snprintf(note, sizeof(note), "READY=1\nSTATUS=standby (cluster %s)",
			         st->cfg.cluster);
			sd_notify_send(note);
			said = true;
		}
		sleep_ms(STORE_PG_RETRY_MS);
	}
	st->failed = false;
	if ((res = pg_run(st, "term", SQL_TERM_NEXT, 0, NULL, PGRES_TUPLES_OK)) == NULL) {
		snprintf(err, errsz, "cannot start a new term: %s", st->err);
		return -1;
	}
	st->term = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	log_info("broker: active: took the lead of cluster %s (term %llu)", st->cfg.cluster,
	         (unsigned long long)st->term);
	return 0;
}

static uint64_t
pg_term(struct store *base)
{
	return ((struct store_pg *)base)->term;
}

static int
pg_epoch(struct store *base, char epoch[17], bool *is_new)
{
	struct store_pg *st = (struct store_pg *)base;
	const char *p[1] = {epoch};
	PGresult *res;

	*is_new = false;
	if (pg_ensure_tx(st) != 0 ||
	    (res = pg_run(st, "epoch", SQL_EPOCH_GET, 0, NULL, PGRES_TUPLES_OK)) == NULL)
		return -1;
	if (PQntuples(res) == 1 && strlen(PQgetvalue(res, 0, 0)) == 16) {
		memcpy(epoch, PQgetvalue(res, 0, 0), 17);
		PQclear(res);
		return 0;
	}
	PQclear(res);
	*is_new = true;
	return pg_cmd(st, "epoch", SQL_EPOCH_SET, 1, p);
}

static int
pg_restore(struct store *base, struct broker *b, size_t ring, char *err, size_t errsz)
{
	struct store_pg *st = (struct store_pg *)base;
	char n_ring[24];
	const char *p[1] = {n_ring};
	PGresult *res;
	int n = 0, events = 0;

	snprintf(n_ring, sizeof(n_ring), "%zu", ring);
	if ((res = pg_run(st, "restore", SQL_RESTORE_ROOMS, 0, NULL, PGRES_TUPLES_OK)) == NULL) {
		snprintf(err, errsz, "cannot restore the rooms: %s", st->err);
		return -1;
	}
	for (n = 0; n < PQntuples(res); n++) {
		if (broker_restore_room(b, PQgetvalue(res, n, 0), PQgetvalue(res, n, 1),
		                        strtoull(PQgetvalue(res, n, 2), NULL, 10)) != 0) {
			snprintf(err, errsz, "cannot restore room %s", PQgetvalue(res, n, 0));
			PQclear(res);
			return -1;
		}
	}
	PQclear(res);
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
		        PQgetisnull(res, events, 4) ? NULL : PQgetvalue(res, events, 4)) != 0) {
			snprintf(err, errsz, "cannot restore the history of room %s", id);
			PQclear(res);
			return -1;
		}
	}
	PQclear(res);
	log_info("broker: restored %d rooms and %d recent events from PostgreSQL", n, events);
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

	free(hmap_del(&st->dirty, id));
	snprintf(s, sizeof(s), "%llu", (unsigned long long)seq);
	if (pg_flush(st) == 0 && pg_ensure_tx(st) == 0)
		pg_cmd(st, "room delete", SQL_ROOM_DELETE, 2, p);
}

static void
hook_event(void *arg, const char *room_id, uint64_t seq, int64_t wall_ms, const char *json,
           size_t len, const char *user_key, const char *client_id)
{
	struct store_pg *st = arg;
	struct pg_dirty *d = hmap_get(&st->dirty, room_id);
	char num[24];

	pgutil_copy_field(&st->copy, room_id, strlen(room_id), '\t');
	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	pgutil_copy_field(&st->copy, num, strlen(num), '\t');
	snprintf(num, sizeof(num), "%lld", (long long)wall_ms);
	pgutil_copy_field(&st->copy, num, strlen(num), '\t');
	pgutil_copy_field(&st->copy, json, len, '\t');
	pgutil_copy_field(&st->copy, user_key, user_key ? strlen(user_key) : 0, '\t');
	pgutil_copy_field(&st->copy, client_id, client_id ? strlen(client_id) : 0, '\n');
	/* The room's seq is written once per transaction, at commit. */
	if (d == NULL) {
		if ((d = calloc(1, sizeof(*d))) != NULL)
			snprintf(d->id, sizeof(d->id), "%s", room_id);
		if (d == NULL || hmap_put(&st->dirty, d->id, d) != 0) {
			free(d);
			st->failed = true;
			snprintf(st->err, sizeof(st->err), "out of memory");
			return;
		}
	}
	d->seq = seq;
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
pg_hooks(struct store *base, struct broker_store *h)
{
	memset(h, 0, sizeof(*h));
	h->arg = base;
	h->room_created = hook_room_created;
	h->room_deleted = hook_room_deleted;
	h->event = hook_event;
	h->history = hook_history;
}

static int
pg_begin(struct store *base)
{
	struct store_pg *st = (struct store_pg *)base;

	if (st->lost)
		return -1;
	if (!st->in_tx)
		st->failed = false;
	return 0;
}

/* The dirty rooms' seqs in one UPDATE … FROM (VALUES …). Room ids are [A-Za-z0-9_-]. */
static int
pg_update_rooms(struct store_pg *st)
{
	struct sbuf sql;
	size_t it = 0;
	void *v;
	bool first = true;
	int rv;

	if (st->dirty.count == 0)
		return 0;
	sbuf_init(&sql);
	sbuf_adds(&sql, SQL_ROOMS_SEQ_HEAD);
	while (hmap_next(&st->dirty, &it, NULL, &v)) {
		struct pg_dirty *d = v;
		uint64_t purge = st->cfg.keep && d->seq > st->cfg.keep ? d->seq - st->cfg.keep : 0;
		sbuf_addf(&sql, "%s('%s',%llu::bigint,%llu::bigint)", first ? "" : ",", d->id,
		          (unsigned long long)d->seq, (unsigned long long)purge);
		first = false;
		hmap_del(&st->dirty, d->id);
		free(d);
	}
	sbuf_adds(&sql, SQL_ROOMS_SEQ_TAIL);
	if (sql.oom) {
		snprintf(st->err, sizeof(st->err), "out of memory");
		st->failed = true;
		rv = -1;
	} else {
		rv = pg_cmd(st, "room update", sql.data, 0, NULL);
	}
	sbuf_fini(&sql);
	return rv;
}

static int
pg_commit(struct store *base)
{
	struct store_pg *st = (struct store_pg *)base;
	PGresult *res;

	if (st->lost)
		return -1;
	if (st->copy.len > 0)
		pg_flush(st);
	if (st->dirty.count > 0 && !st->failed)
		pg_update_rooms(st);
	if (!st->in_tx)
		return st->failed ? -1 : 0;
	st->in_tx = false;
	if (st->failed) {
		PQclear(PQexec(st->conn, "ROLLBACK"));
		return -1;
	}
	res = pg_run(st, "commit", "COMMIT", 0, NULL, PGRES_COMMAND_OK);
	/* A transaction that failed on the server answers COMMIT with ROLLBACK. */
	if (res == NULL || strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		if (res != NULL)
			snprintf(st->err, sizeof(st->err), "commit: the server rolled back");
		PQclear(res);
		st->failed = true;
		return -1;
	}
	PQclear(res);
	return 0;
}

static int
pg_prune(struct store *base, int64_t now_wall_ms, int budget)
{
	struct store_pg *st = (struct store_pg *)base;
	char id[MADANG_ROOM_ID_MAX + 1], purge[24], lim[24], before[24];
	const char *p1[1] = {st->prune_cursor};
	const char *p2[4] = {id, lim, purge, before};
	PGresult *res;
	int n;

	/* One room per call, round robin over the room ids. */
	if ((res = pg_run(st, "prune", SQL_NEXT_ROOM, 1, p1, PGRES_TUPLES_OK)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		st->prune_cursor[0] = '\0';
		return 0;
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

static int
pg_ping(struct store *base, uint64_t now_mono_ms)
{
	struct store_pg *st = (struct store_pg *)base;

	(void)now_mono_ms;
	if (st->lost)
		return -1;
	if (st->in_tx || mono_ms() - st->last_io_ms < STORE_PING_MS)
		return 0;
	PGresult *res = pg_run(st, "session check", "SELECT 1", 0, NULL, PGRES_TUPLES_OK);
	if (res == NULL) {
		st->lost = true;
		return -1;
	}
	PQclear(res);
	return 0;
}

static const char *
pg_error(struct store *base)
{
	return ((struct store_pg *)base)->err;
}

static const struct store_impl pg_impl = {
    .name = "postgresql",
    .close = pg_close,
    .lead = pg_lead,
    .epoch = pg_epoch,
    .restore = pg_restore,
    .hooks = pg_hooks,
    .begin = pg_begin,
    .commit = pg_commit,
    .prune = pg_prune,
    .ping = pg_ping,
    .term = pg_term,
    .error = pg_error,
};
