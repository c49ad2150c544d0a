/* store_sqlite.c — durable rooms and history in SQLite (--data DIR), one implementation of
 * store.h. State thread only. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hmap.h"
#include "limits.h"
#include "log.h"

#define STORE_SCHEMA_VERSION 1

static const char store_schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE rooms("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"         /* newest seq used in this room id */
    "  purge_below INTEGER NOT NULL," /* events with seq <= this are released for pruning */
    "  created_ms INTEGER NOT NULL, deleted INTEGER NOT NULL, ord INTEGER NOT NULL);"
    "CREATE TABLE events("
    "  room_id TEXT NOT NULL, seq INTEGER NOT NULL, time_ms INTEGER NOT NULL,"
    "  json TEXT NOT NULL, user_key TEXT, client_id TEXT,"
    "  PRIMARY KEY(room_id, seq)) WITHOUT ROWID;";

enum {
	Q_INS_EVENT,
	Q_UPD_ROOM,
	Q_NEW_ROOM,
	Q_DEL_ROOM,
	Q_OLD_ROOM,
	Q_HIST_ASC,
	Q_HIST_DESC,
	Q_OLDEST,
	Q_PRUNE,
	Q_NEXT_ROOM,
	Q_COUNT
};

static const char *const store_sql[Q_COUNT] = {
    [Q_INS_EVENT] = "INSERT INTO events(room_id,seq,time_ms,json,user_key,client_id) "
                    "VALUES(?1,?2,?3,?4,?5,?6)",
    [Q_UPD_ROOM] = "UPDATE rooms SET seq=?2, purge_below=MAX(purge_below, ?3) WHERE id=?1",
    [Q_NEW_ROOM] = "INSERT INTO rooms(id,name,seq,purge_below,created_ms,deleted,ord) "
                   "VALUES(?1,?2,0,0,?3,0,(SELECT IFNULL(MAX(ord),0)+1 FROM rooms)) "
                   "ON CONFLICT(id) DO UPDATE SET name=excluded.name, deleted=0, "
                   "created_ms=excluded.created_ms, ord=excluded.ord, purge_below=rooms.seq",
    [Q_DEL_ROOM] = "UPDATE rooms SET deleted=1, seq=?2, purge_below=?2 WHERE id=?1",
    [Q_OLD_ROOM] = "SELECT seq FROM rooms WHERE id=?1",
    [Q_HIST_ASC] = "SELECT json FROM events WHERE room_id=?1 AND seq>?2 AND seq<?3 AND "
                   "seq>(SELECT purge_below FROM rooms WHERE id=?1) ORDER BY seq LIMIT ?4",
    [Q_HIST_DESC] = "SELECT json FROM events WHERE room_id=?1 AND seq>?2 AND seq<?3 AND "
                    "seq>(SELECT purge_below FROM rooms WHERE id=?1) ORDER BY seq DESC LIMIT ?4",
    [Q_OLDEST] = "SELECT MIN(seq) FROM events WHERE room_id=?1 AND "
                 "seq>(SELECT purge_below FROM rooms WHERE id=?1)",
    [Q_PRUNE] = "DELETE FROM events WHERE room_id=?1 AND seq IN (SELECT seq FROM events "
                "WHERE room_id=?1 ORDER BY seq LIMIT ?2) AND (seq<=?3 OR time_ms<?4)",
    [Q_NEXT_ROOM] = "SELECT id, purge_below FROM rooms WHERE id>?1 ORDER BY id LIMIT 1",
};

struct store_sqlite {
	struct store base; /* first: a struct store * is a struct store_sqlite * */
	struct store_config cfg;
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	int lock_fd;
	bool in_tx;
	bool failed;       /* a write of the current transaction failed: it must not commit */
	bool created;      /* store_open created the schema */
	struct hmap dirty; /* room id -> (uintptr_t) newest seq written in this transaction */
	char prune_cursor[MADANG_ROOM_ID_MAX + 1];
	char err[256];
};

static const char *
sqlite_error(struct store *base)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	return st->err;
}

static int
store_exec(struct store_sqlite *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(st->err, sizeof(st->err), "%s", msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Runs a one-row, one-column text query such as a PRAGMA into out. */
static int
store_query_text(struct store_sqlite *st, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		snprintf(out, size, "%s", t ? (const char *)t : "");
	} else if (rc == SQLITE_DONE) {
		out[0] = '\0';
	} else {
		snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static void
sqlite_close(struct store *base)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	if (st == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	if (st->db)
		sqlite3_close(st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	store_dirty_fini(&st->dirty);
	free(st);
}

static const struct store_impl sqlite_impl;

int
store_sqlite_open(const struct store_config *cfg, struct store **out, char *err, size_t errsz)
{
	struct store_sqlite *st = calloc(1, sizeof(*st));
	char path[4096], val[256];
	static const char *const sync_pragma[] = {
	    "PRAGMA synchronous=OFF", "PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL"};

	*out = NULL;
	if (st == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	st->base.impl = &sqlite_impl;
	st->cfg = *cfg;
	st->lock_fd = -1;
	hmap_init(&st->dirty);
	if (mkdir(cfg->dir, 0750) != 0 && errno != EEXIST) {
		snprintf(err, errsz, "cannot create data directory %s: %s", cfg->dir,
		         strerror(errno));
		goto fail;
	}
	/* One broker per data directory: a second one would fork the history. */
	snprintf(path, sizeof(path), "%s/madang.lock", cfg->dir);
	if ((st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0) {
		snprintf(err, errsz, "data directory %s is not writable: %s", cfg->dir,
		         strerror(errno));
		goto fail;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errsz, "data directory %s is in use by another madang-broker",
		         cfg->dir);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/madang.db", cfg->dir);
	if (sqlite3_open_v2(path, &st->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errsz, "cannot open %s: %s", path,
		         st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (store_query_text(st, "PRAGMA journal_mode=WAL", val, sizeof(val)) != 0) {
		snprintf(err, errsz, "%s is not a usable SQLite database: %s", path, st->err);
		goto fail;
	}
	if (strcmp(val, "wal") != 0) {
		snprintf(err, errsz, "%s: cannot switch to WAL mode (got \"%s\")", path, val);
		goto fail;
	}
	if (store_query_text(st, "PRAGMA quick_check", val, sizeof(val)) != 0 ||
	    strcmp(val, "ok") != 0) {
		snprintf(err, errsz, "%s is corrupt: %s", path, val[0] ? val : st->err);
		goto fail;
	}
	if (store_query_text(st, "PRAGMA user_version", val, sizeof(val)) != 0) {
		snprintf(err, errsz, "%s: %s", path, st->err);
		goto fail;
	}
	int version = atoi(val);
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errsz,
		         "%s has schema version %d, newer than this madang-broker knows (%d)", path,
		         version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	st->created = version == 0;
	if (st->created) {
		if (store_query_text(st, "SELECT count(*) FROM sqlite_master", val, sizeof(val)) !=
		        0 ||
		    atoi(val) != 0) {
			snprintf(err, errsz, "%s holds tables but is not a madang database", path);
			goto fail;
		}
		if (store_exec(st, "BEGIN") != 0 || store_exec(st, store_schema) != 0 ||
		    store_exec(st, "PRAGMA user_version=1") != 0 || store_exec(st, "COMMIT") != 0) {
			snprintf(err, errsz, "cannot create the schema in %s: %s", path, st->err);
			goto fail;
		}
	}
	if (store_exec(st, sync_pragma[cfg->sync]) != 0) {
		snprintf(err, errsz, "%s: %s", path, st->err);
		goto fail;
	}
	for (int i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &st->q[i], NULL) != SQLITE_OK) {
			snprintf(err, errsz, "%s: %s", path, sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	*out = &st->base;
	return 0;
fail:
	sqlite_close(&st->base);
	return -1;
}

static int
sqlite_epoch(struct store *base, char epoch[17], bool *is_new)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	char val[64];
	sqlite3_stmt *s;

	*is_new = st->created;

	if (store_query_text(st, "SELECT value FROM meta WHERE key='epoch'", val, sizeof(val)) != 0)
		return -1;
	if (strlen(val) == 16) {
		memcpy(epoch, val, 17);
		return 0;
	}
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta(key,value) VALUES('epoch',?1)",
	                       -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, epoch, 16, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
sqlite_restore(struct store *base, struct broker *b, size_t ring, char *err, size_t errsz)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	sqlite3_stmt *rooms, *ev;
	int rc, n = 0;
	size_t events = 0;

	if (sqlite3_prepare_v2(st->db,
	                       "SELECT id, name, seq, purge_below FROM rooms WHERE deleted=0 "
	                       "ORDER BY ord",
	                       -1, &rooms, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        st->db,
	        "SELECT seq, json, user_key, client_id FROM (SELECT * FROM events "
	        "WHERE room_id=?1 AND seq>?2 ORDER BY seq DESC LIMIT ?3) ORDER BY seq",
	        -1, &ev, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	while ((rc = sqlite3_step(rooms)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(rooms, 0);
		const char *name = (const char *)sqlite3_column_text(rooms, 1);
		uint64_t seq = (uint64_t)sqlite3_column_int64(rooms, 2);
		if (id == NULL || name == NULL || broker_restore_room(b, id, name, seq) != 0) {
			snprintf(err, errsz, "cannot restore room %s", id ? id : "?");
			rc = SQLITE_ERROR;
			break;
		}
		n++;
		sqlite3_reset(ev);
		sqlite3_bind_text(ev, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ev, 2, sqlite3_column_int64(rooms, 3));
		sqlite3_bind_int64(ev, 3, (sqlite3_int64)ring);
		while ((rc = sqlite3_step(ev)) == SQLITE_ROW) {
			const char *json = (const char *)sqlite3_column_text(ev, 1);
			if (json == NULL)
				continue;
			if (broker_restore_event(b, id, (uint64_t)sqlite3_column_int64(ev, 0), json,
			                         (size_t)sqlite3_column_bytes(ev, 1),
			                         (const char *)sqlite3_column_text(ev, 2),
			                         (const char *)sqlite3_column_text(ev, 3)) != 0) {
				rc = SQLITE_NOMEM;
				break;
			}
			events++;
		}
		if (rc != SQLITE_DONE) {
			snprintf(err, errsz, "cannot restore the history of room %s: %s", id,
			         sqlite3_errmsg(st->db));
			break;
		}
	}
	sqlite3_finalize(ev);
	sqlite3_finalize(rooms);
	if (rc != SQLITE_DONE) {
		if (!err[0])
			snprintf(err, errsz, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	log_info("broker: restored %d rooms and %zu recent events from %s/madang.db", n, events,
	         st->cfg.dir);
	return 0;
}

/* A failed write poisons the transaction: store_commit then refuses to commit it. */
static void
store_step_done(struct store_sqlite *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW && !st->failed) {
		st->failed = true;
		snprintf(st->err, sizeof(st->err), "%s: %s", what, sqlite3_errmsg(st->db));
	}
	sqlite3_reset(s);
}

static uint64_t
hook_room_created(void *arg, const char *id, const char *name, int64_t wall_ms)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_NEW_ROOM];
	uint64_t seq = 0;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, wall_ms);
	store_step_done(st, s, "room create");
	s = st->q[Q_OLD_ROOM];
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		seq = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return seq;
}

static void
hook_room_deleted(void *arg, const char *id, uint64_t seq)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_DEL_ROOM];
	store_dirty_forget(&st->dirty, id);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
	store_step_done(st, s, "room delete");
}

static void
hook_event(void *arg, const char *room_id, uint64_t seq, int64_t wall_ms, const char *json,
           size_t len, const char *user_key, const char *client_id)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_INS_EVENT];

	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
	sqlite3_bind_int64(s, 3, wall_ms);
	sqlite3_bind_text(s, 4, json, (int)len, SQLITE_STATIC);
	if (user_key)
		sqlite3_bind_text(s, 5, user_key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 5);
	if (client_id)
		sqlite3_bind_text(s, 6, client_id, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 6);
	store_step_done(st, s, "event insert");
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
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[newest ? Q_HIST_DESC : Q_HIST_ASC];
	char **rows = NULL;
	size_t n = 0, cap = 0, bytes = 0;
	int rc;

	*count = 0;
	*oldest = 0;
	*truncated = false;
	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)lo);
	sqlite3_bind_int64(s, 3, hi > INT64_MAX ? INT64_MAX : (sqlite3_int64)hi);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		/* Rows come from the end kept first (newest or oldest): stop before the budget. */
		size_t len = (size_t)sqlite3_column_bytes(s, 0) + (n ? 1 : 0);
		if (bytes + len > max_bytes) {
			*truncated = true;
			rc = SQLITE_DONE;
			break;
		}
		bytes += len;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **r2 = realloc(rows, cap * sizeof(*rows));
			if (r2 == NULL)
				break;
			rows = r2;
		}
		rows[n] = strdup((const char *)sqlite3_column_text(s, 0));
		if (rows[n] == NULL)
			break;
		n++;
	}
	sqlite3_reset(s);
	sbuf_addc(out, '[');
	for (size_t i = 0; i < n; i++) {
		size_t k = newest ? n - 1 - i : i; /* oldest first either way */
		if (i)
			sbuf_addc(out, ',');
		sbuf_adds(out, rows[k]);
		free(rows[k]);
	}
	sbuf_addc(out, ']');
	free(rows);
	if (rc != SQLITE_DONE) {
		snprintf(st->err, sizeof(st->err), "history: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	*count = n;
	s = st->q[Q_OLDEST];
	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		*oldest = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

static void
sqlite_hooks(struct store *base, struct broker_store *h)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	memset(h, 0, sizeof(*h));
	h->arg = st;
	h->room_created = hook_room_created;
	h->room_deleted = hook_room_deleted;
	h->event = hook_event;
	h->history = hook_history;
}

static int
sqlite_begin(struct store *base)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	if (st->in_tx)
		return 0;
	if (store_exec(st, "BEGIN") != 0)
		return -1;
	st->in_tx = true;
	st->failed = false;
	return 0;
}

static int
sqlite_commit(struct store *base)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	size_t it = 0;
	void *v;

	if (!st->in_tx)
		return 0;
	while (hmap_next(&st->dirty, &it, NULL, &v)) {
		struct store_dirty_room *d = v;
		sqlite3_stmt *s = st->q[Q_UPD_ROOM];
		uint64_t purge = store_purge_below(&st->cfg, d->seq);
		sqlite3_bind_text(s, 1, d->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)d->seq);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)purge);
		store_step_done(st, s, "room update");
		hmap_del(&st->dirty, d->id);
		free(d);
	}
	st->in_tx = false;
	if (st->failed) {
		store_exec(st, "ROLLBACK");
		return -1;
	}
	if (store_exec(st, "COMMIT") != 0) {
		store_exec(st, "ROLLBACK");
		return -1;
	}
	return 0;
}

static int
sqlite_prune(struct store *base, int64_t now_wall_ms, int budget)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	sqlite3_stmt *next = st->q[Q_NEXT_ROOM], *del = st->q[Q_PRUNE];
	char id[MADANG_ROOM_ID_MAX + 1];
	sqlite3_int64 purge_below;
	int rc;

	/* One room per call, round robin over the room ids. */
	sqlite3_bind_text(next, 1, st->prune_cursor, -1, SQLITE_STATIC);
	rc = sqlite3_step(next);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(next);
		st->prune_cursor[0] = '\0';
		return rc == SQLITE_DONE ? 0 : -1;
	}
	snprintf(id, sizeof(id), "%s", (const char *)sqlite3_column_text(next, 0));
	purge_below = sqlite3_column_int64(next, 1);
	sqlite3_reset(next);
	memcpy(st->prune_cursor, id, sizeof(id));
	sqlite3_bind_text(del, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(del, 2, budget);
	sqlite3_bind_int64(del, 3, purge_below);
	sqlite3_bind_int64(del, 4,
	                   st->cfg.keep_days ? now_wall_ms - (int64_t)st->cfg.keep_days * 86400000
	                                     : INT64_MIN);
	rc = sqlite3_step(del);
	sqlite3_reset(del);
	if (rc != SQLITE_DONE) {
		snprintf(st->err, sizeof(st->err), "prune: %s", sqlite3_errmsg(st->db));
		st->failed = true;
		return -1;
	}
	return sqlite3_changes(st->db);
}

static const struct store_impl sqlite_impl = {
    .name = "sqlite",
    .close = sqlite_close,
    .epoch = sqlite_epoch,
    .restore = sqlite_restore,
    .hooks = sqlite_hooks,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .prune = sqlite_prune,
    .error = sqlite_error,
};
