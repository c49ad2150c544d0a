/* store_sqlite.c — durable rooms, history and moderation state in SQLite (--data DIR), one
 * implementation of store.h. State thread only.
 *
 * Schema version 2 adds the moderation state (docs/moderation.md): rooms.moderation (the room's
 * settings as JSON), restrictions (bans and mutes) and audit. A version 1 database is migrated in
 * place when it is opened. The database runs with secure_delete, and a commit whose batch
 * redacted a message checkpoints and truncates the write-ahead log, so that a deleted message's
 * text is left in none of the files. */
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

#define STORE_SCHEMA_VERSION 3

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

/* Version 1 -> 2: the moderation state. Run on new databases too, after store_schema. */
static const char store_schema_v2[] =
    "ALTER TABLE rooms ADD COLUMN moderation TEXT;" /* broker_restore_room_meta's JSON */
    "CREATE TABLE restrictions("
    "  room_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,"
    "  until_ms INTEGER NOT NULL," /* wall clock end, 0: none */
    "  rec TEXT NOT NULL, PRIMARY KEY(room_id, kind, key));"
    "CREATE INDEX restrictions_until ON restrictions(until_ms) WHERE until_ms>0;"
    "CREATE TABLE audit("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused, also after pruning */
    "  room_id TEXT NOT NULL, time_ms INTEGER NOT NULL, entry TEXT NOT NULL);"
    "CREATE INDEX audit_room ON audit(room_id, id);"
    "PRAGMA user_version=2;";

/* Version 2 -> 3: whose each message is (its sender's token subject; NULL: sent without a
 * token, or stored before version 3), so that a member may delete its own messages. */
static const char store_schema_v3[] = "ALTER TABLE events ADD COLUMN subject TEXT;"
                                      "PRAGMA user_version=3;";

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
	Q_ROOM_META,
	Q_RESTRICT_PUT,
	Q_RESTRICT_DEL,
	Q_RESTRICT_DEL_ROOM,
	Q_REDACT,
	Q_EVENT_GET,
	Q_AUDIT_ADD,
	Q_AUDIT_READ,
	Q_PRUNE_RESTRICT,
	Q_PRUNE_AUDIT,
	Q_COUNT
};

static const char *const store_sql[Q_COUNT] = {
    [Q_INS_EVENT] = "INSERT INTO events(room_id,seq,time_ms,json,user_key,client_id,subject) "
                    "VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [Q_UPD_ROOM] = "UPDATE rooms SET seq=?2, purge_below=MAX(purge_below, ?3) WHERE id=?1",
    [Q_NEW_ROOM] = "INSERT INTO rooms(id,name,seq,purge_below,created_ms,deleted,ord) "
                   "VALUES(?1,?2,0,0,?3,0,(SELECT IFNULL(MAX(ord),0)+1 FROM rooms)) "
                   "ON CONFLICT(id) DO UPDATE SET name=excluded.name, deleted=0, "
                   "created_ms=excluded.created_ms, ord=excluded.ord, purge_below=rooms.seq",
    [Q_DEL_ROOM] = "UPDATE rooms SET deleted=1, seq=?2, purge_below=?2, moderation=NULL "
                   "WHERE id=?1",
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
    [Q_ROOM_META] = "UPDATE rooms SET moderation=?2 WHERE id=?1",
    /* Only for a stored, live room (a room created by a join is not stored). */
    [Q_RESTRICT_PUT] = "INSERT INTO restrictions(room_id,kind,key,until_ms,rec) "
                       "SELECT ?1,?2,?3,?4,?5 WHERE EXISTS(SELECT 1 FROM rooms "
                       "WHERE id=?1 AND deleted=0) ON CONFLICT(room_id,kind,key) DO UPDATE "
                       "SET until_ms=excluded.until_ms, rec=excluded.rec",
    [Q_RESTRICT_DEL] = "DELETE FROM restrictions WHERE room_id=?1 AND kind=?2 AND key=?3",
    [Q_RESTRICT_DEL_ROOM] = "DELETE FROM restrictions WHERE room_id=?1",
    [Q_REDACT] = "UPDATE events SET json=?3, subject=NULL WHERE room_id=?1 AND seq=?2",
    [Q_EVENT_GET] = "SELECT json, subject FROM events WHERE room_id=?1 AND seq=?2 AND "
                    "seq>(SELECT purge_below FROM rooms WHERE id=?1)",
    [Q_AUDIT_ADD] = "INSERT INTO audit(room_id,time_ms,entry) VALUES(?1,?2,?3)",
    [Q_AUDIT_READ] = "SELECT id, entry FROM audit WHERE room_id=?1 AND id<?2 "
                     "ORDER BY id DESC LIMIT ?3",
    [Q_PRUNE_RESTRICT] = "DELETE FROM restrictions WHERE rowid IN (SELECT rowid FROM "
                         "restrictions WHERE until_ms>0 AND until_ms<=?1 LIMIT ?2)",
    /* The oldest entries only: ids grow with time, so the scan stops at once. */
    [Q_PRUNE_AUDIT] = "DELETE FROM audit WHERE id IN (SELECT id FROM audit ORDER BY id "
                      "LIMIT ?2) AND time_ms<?1",
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
	bool redacted;     /* an event was redacted since the last checkpoint: one after commit */
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
	}
	/* A new database gets version 1, then every migration, in one transaction. */
	if (version < STORE_SCHEMA_VERSION) {
		if (store_exec(st, "BEGIN") != 0 ||
		    (st->created && (store_exec(st, store_schema) != 0 ||
		                     store_exec(st, "PRAGMA user_version=1") != 0)) ||
		    (version < 2 && store_exec(st, store_schema_v2) != 0) ||
		    store_exec(st, store_schema_v3) != 0 || store_exec(st, "COMMIT") != 0) {
			snprintf(err, errsz, "cannot %s the schema in %s: %s",
			         st->created ? "create" : "migrate", path, st->err);
			store_exec(st, "ROLLBACK");
			goto fail;
		}
		if (!st->created)
			log_info("broker: migrated %s from schema version %d to %d", path, version,
			         STORE_SCHEMA_VERSION);
	}
	/* Freed space is zeroed: a deleted message's text leaves the pages (docs/moderation.md). */
	if (store_exec(st, "PRAGMA secure_delete=ON") != 0 ||
	    store_exec(st, sync_pragma[cfg->sync]) != 0) {
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

/* Restores room id's moderation settings (meta: the column, NULL for none) and its bans and
 * mutes that have not ended by now_ms through the prepared restrictions query q. A record the
 * broker cannot read is logged and skipped. Returns the restrictions restored, or -1. */
static int
restore_moderation(struct store_sqlite *st, struct broker *b, const char *id, sqlite3_stmt *q,
                   const char *meta, size_t meta_len, int64_t now_ms)
{
	int rc, n = 0;

	if (meta != NULL && broker_restore_room_meta(b, id, meta, meta_len) != 0)
		log_warn("broker: room %s: unreadable moderation settings in the store: skipped",
		         id);
	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 2, now_ms);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(q, 0);
		const char *rec = (const char *)sqlite3_column_text(q, 1);
		if (kind == NULL || rec == NULL ||
		    broker_restore_restriction(b, id, kind, rec,
		                               (size_t)sqlite3_column_bytes(q, 1)) != 0) {
			log_warn("broker: room %s: unreadable %s record in the store: skipped", id,
			         kind ? kind : "?");
			continue;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		snprintf(st->err, sizeof(st->err), "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	return n;
}

static int
sqlite_restore(struct store *base, struct broker *b, size_t ring, char *err, size_t errsz)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	sqlite3_stmt *rooms = NULL, *ev = NULL, *rq = NULL;
	int rc, n = 0, m;
	size_t events = 0, restrictions = 0;
	int64_t now_ms = store_wall_ms();

	if (sqlite3_prepare_v2(st->db,
	                       "SELECT id, name, seq, purge_below, moderation FROM rooms "
	                       "WHERE deleted=0 ORDER BY ord",
	                       -1, &rooms, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        st->db,
	        "SELECT seq, json, user_key, client_id, subject FROM (SELECT * FROM events "
	        "WHERE room_id=?1 AND seq>?2 ORDER BY seq DESC LIMIT ?3) ORDER BY seq",
	        -1, &ev, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db,
	                       "SELECT kind, rec FROM restrictions WHERE room_id=?1 AND "
	                       "(until_ms=0 OR until_ms>?2) ORDER BY kind, key",
	                       -1, &rq, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s", sqlite3_errmsg(st->db));
		sqlite3_finalize(rooms);
		sqlite3_finalize(ev);
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
		m = restore_moderation(st, b, id, rq, (const char *)sqlite3_column_text(rooms, 4),
		                       (size_t)sqlite3_column_bytes(rooms, 4), now_ms);
		if (m < 0) {
			snprintf(err, errsz, "cannot restore the bans and mutes of room %s: %s", id,
			         st->err);
			rc = SQLITE_ERROR;
			break;
		}
		restrictions += (size_t)m;
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
			                         (const char *)sqlite3_column_text(ev, 3),
			                         (const char *)sqlite3_column_text(ev, 4)) != 0) {
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
	sqlite3_finalize(rq);
	sqlite3_finalize(ev);
	sqlite3_finalize(rooms);
	if (rc != SQLITE_DONE) {
		if (!err[0])
			snprintf(err, errsz, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	log_info("broker: restored %d rooms, %zu recent events and %zu bans and mutes from "
	         "%s/madang.db",
	         n, events, restrictions, st->cfg.dir);
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
	/* Its settings went with the row's moderation column; its audit trail stays. */
	s = st->q[Q_RESTRICT_DEL_ROOM];
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	store_step_done(st, s, "room delete");
}

static void
hook_event(void *arg, const char *room_id, uint64_t seq, int64_t wall_ms, const char *json,
           size_t len, const char *user_key, const char *client_id, const char *subject)
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
	if (subject)
		sqlite3_bind_text(s, 7, subject, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 7);
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
hook_room_meta(void *arg, const char *room_id, const char *meta, size_t len)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_ROOM_META];

	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, meta, (int)len, SQLITE_STATIC);
	store_step_done(st, s, "room settings");
}

static void
hook_restriction_put(void *arg, const char *room_id, const char *kind, const char *key,
                     int64_t until_ms, const char *rec, size_t len)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_RESTRICT_PUT];

	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, until_ms);
	sqlite3_bind_text(s, 5, rec, (int)len, SQLITE_STATIC);
	store_step_done(st, s, "restriction");
}

static void
hook_restriction_del(void *arg, const char *room_id, const char *kind, const char *key)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_RESTRICT_DEL];

	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, key, -1, SQLITE_STATIC);
	store_step_done(st, s, "restriction delete");
}

static void
hook_event_redact(void *arg, const char *room_id, uint64_t seq, const char *tombstone, size_t len)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_REDACT];

	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
	sqlite3_bind_text(s, 3, tombstone, (int)len, SQLITE_STATIC);
	store_step_done(st, s, "message delete");
	st->redacted = true;
}

static int
hook_event_get(void *arg, const char *room_id, uint64_t seq, struct sbuf *out, struct sbuf *subject)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_EVENT_GET];
	int rc, rv;

	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, seq > INT64_MAX ? INT64_MAX : (sqlite3_int64)seq);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		sbuf_add(out, sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0));
		if (sqlite3_column_type(s, 1) == SQLITE_TEXT)
			sbuf_add(subject, sqlite3_column_text(s, 1),
			         (size_t)sqlite3_column_bytes(s, 1));
		rv = 0;
	} else if (rc == SQLITE_DONE) {
		rv = 1;
	} else {
		snprintf(st->err, sizeof(st->err), "event read: %s", sqlite3_errmsg(st->db));
		rv = -1;
	}
	sqlite3_reset(s);
	return rv;
}

static void
hook_audit_add(void *arg, const char *room_id, int64_t wall_ms, const char *entry, size_t len)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_AUDIT_ADD];

	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, wall_ms);
	sqlite3_bind_text(s, 3, entry, (int)len, SQLITE_STATIC);
	store_step_done(st, s, "audit");
}

static int
hook_audit_read(void *arg, const char *room_id, uint64_t before_id, size_t limit, struct sbuf *out)
{
	struct store_sqlite *st = arg;
	sqlite3_stmt *s = st->q[Q_AUDIT_READ];
	int rc, n = 0;

	sqlite3_bind_text(s, 1, room_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(
	    s, 2, before_id == 0 || before_id > INT64_MAX ? INT64_MAX : (sqlite3_int64)before_id);
	sqlite3_bind_int64(s, 3, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
	sbuf_addc(out, '[');
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n++)
			sbuf_addc(out, ',');
		store_audit_append(out, (uint64_t)sqlite3_column_int64(s, 0),
		                   (const char *)sqlite3_column_text(s, 1),
		                   (size_t)sqlite3_column_bytes(s, 1));
	}
	sbuf_addc(out, ']');
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		snprintf(st->err, sizeof(st->err), "audit read: %s", sqlite3_errmsg(st->db));
		return -1;
	}
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
	h->room_meta = hook_room_meta;
	h->restriction_put = hook_restriction_put;
	h->restriction_del = hook_restriction_del;
	h->event_redact = hook_event_redact;
	h->event_get = hook_event_get;
	h->audit_add = hook_audit_add;
	h->audit_read = hook_audit_read;
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

/* After a batch that redacted a message: the WAL still holds the page images with its text,
 * so copy the pages back and cut the WAL to zero bytes. A failure (another process reading the
 * database, say) is logged and retried after the next commit. */
static void
sqlite_scrub_wal(struct store_sqlite *st)
{
	int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

	if (rc == SQLITE_OK)
		st->redacted = false;
	else
		log_warn("broker: %s/madang.db: cannot checkpoint after a message deletion: %s: "
		         "retrying after the next commit",
		         st->cfg.dir, sqlite3_errmsg(st->db));
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
	if (st->redacted)
		sqlite_scrub_wal(st);
	return 0;
}

/* Ended bans and mutes, then audit entries older than --audit-days: up to budget rows. */
static int
sqlite_prune_moderation(struct store_sqlite *st, int64_t now_wall_ms, int budget)
{
	sqlite3_stmt *del = st->q[Q_PRUNE_RESTRICT];
	int rc, n;

	sqlite3_bind_int64(del, 1, now_wall_ms);
	sqlite3_bind_int(del, 2, budget);
	rc = sqlite3_step(del);
	sqlite3_reset(del);
	n = rc == SQLITE_DONE ? sqlite3_changes(st->db) : 0;
	if (rc == SQLITE_DONE && n < budget && st->cfg.audit_days > 0) {
		del = st->q[Q_PRUNE_AUDIT];
		sqlite3_bind_int64(del, 1, now_wall_ms - (int64_t)st->cfg.audit_days * 86400000);
		sqlite3_bind_int(del, 2, budget - n);
		if ((rc = sqlite3_step(del)) == SQLITE_DONE)
			n += sqlite3_changes(st->db);
		sqlite3_reset(del);
	}
	if (rc != SQLITE_DONE) {
		snprintf(st->err, sizeof(st->err), "prune: %s", sqlite3_errmsg(st->db));
		st->failed = true;
		return -1;
	}
	return n;
}

static int
sqlite_prune(struct store *base, int64_t now_wall_ms, int budget)
{
	struct store_sqlite *st = (struct store_sqlite *)base;
	sqlite3_stmt *next = st->q[Q_NEXT_ROOM], *del = st->q[Q_PRUNE];
	char id[MADANG_ROOM_ID_MAX + 1];
	sqlite3_int64 purge_below;
	int rc;

	/* One room per call, round robin over the room ids; the moderation tables once a round,
	 * between its last room and its first. */
	sqlite3_bind_text(next, 1, st->prune_cursor, -1, SQLITE_STATIC);
	rc = sqlite3_step(next);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(next);
		st->prune_cursor[0] = '\0';
		return rc == SQLITE_DONE ? sqlite_prune_moderation(st, now_wall_ms, budget) : -1;
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
