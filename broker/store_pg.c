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
#include "store_pg_int.h"
#include "store_pg_sql.h"

#define STORE_PG_RETRY_MS 400 /* a standby tries for the lock (or the server) this often */

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
PGresult *
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

int
pg_cmd(struct store_pg *st, const char *what, const char *sql, int n, const char *const *params)
{
	PGresult *res = pg_run(st, what, sql, n, params, PGRES_COMMAND_OK);

	PQclear(res);
	return res ? 0 : -1;
}

int
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
int
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

	if (st == NULL)
		return;
	if (st->conn)
		PQfinish(st->conn); /* the lock goes with the session */
	store_dirty_fini(&st->dirty);
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
	/* A new database gets version 1, then every migration, in this transaction. */
	if (!version[0]) {
		if (pg_cmd(st, "schema", SQL_SCHEMA_TABLES, 0, NULL) != 0 ||
		    pg_cmd(st, "schema", SQL_META_INIT, 1, p) != 0 ||
		    pg_cmd(st, "schema", SQL_SCHEMA_V2, 0, NULL) != 0 ||
		    pg_cmd(st, "schema", SQL_SCHEMA_V3, 0, NULL) != 0)
			goto fail;
		log_info("broker: created the madang schema (version %d) in PostgreSQL",
		         STORE_PG_SCHEMA_VERSION);
	} else if (atoi(version) < STORE_PG_SCHEMA_VERSION) {
		if ((atoi(version) < 2 && pg_cmd(st, "schema", SQL_SCHEMA_V2, 0, NULL) != 0) ||
		    pg_cmd(st, "schema", SQL_SCHEMA_V3, 0, NULL) != 0)
			goto fail;
		log_info("broker: migrated the madang schema in PostgreSQL from version %s to %d",
		         version, STORE_PG_SCHEMA_VERSION);
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
		struct store_dirty_room *d = v;
		uint64_t purge = store_purge_below(&st->cfg, d->seq);
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

/* Checks, inside the batch's transaction, that its session holds the cluster's lock: then no
 * other broker can be active, whatever sits between us and the server (a transaction-pooling
 * proxy would hand this transaction to another session: it is then rolled back). */
static int
pg_check_lock(struct store_pg *st)
{
	char hi[16], lo[16];
	const char *p[2] = {hi, lo};
	PGresult *res;

	snprintf(hi, sizeof(hi), "%u", (unsigned)((uint64_t)st->lock_key >> 32));
	snprintf(lo, sizeof(lo), "%u", (unsigned)((uint64_t)st->lock_key & 0xffffffffu));
	if ((res = pg_run(st, "lock check", SQL_HOLDS_LOCK, 2, p, PGRES_TUPLES_OK)) == NULL)
		return -1;
	bool held = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
	PQclear(res);
	if (!held) {
		snprintf(st->err, sizeof(st->err),
		         "this session does not hold the lead of cluster %s (a transaction-pooling "
		         "proxy?)",
		         st->cfg.cluster);
		return -1;
	}
	return 0;
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
	if (!st->failed && pg_check_lock(st) != 0)
		st->failed = true;
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
