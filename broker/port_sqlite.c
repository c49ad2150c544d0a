/* port_sqlite.c — madang-port-sqlite: copies a madang-broker SQLite data directory (--data DIR)
 * into a PostgreSQL store (--store URI): rooms (live and deleted, with their seqs and moderation
 * settings), history, bans and mutes, the audit trail and the epoch, so that clients can resume
 * across the move. It reads schema versions 1 to 3 and writes version 3 (migrating an older
 * store in place); the SQLite and PostgreSQL schemas share their version numbers. In the spirit of
 * Synapse's synapse_port_db.
 *
 * Safe: it takes the data directory's lock (a running broker holds it) and the cluster's lead
 * lock (an active broker on the store holds it), so it refuses to run beside a live broker on
 * either side; it writes everything in one transaction. Idempotent: rows already there are kept
 * (events by room and seq, audit entries by id), rooms, bans and mutes are updated to the SQLite
 * values, so running it again changes nothing; a store that already holds another installation
 * (another epoch) is refused. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "opt.h"
#include "pgutil.h"
#include "sbuf.h"
#include "store.h"
#include "store_pg_sql.h"

#define PROG "madang-port-sqlite"

struct port {
	sqlite3 *db;
	PGconn *pg;
	int lock_fd;
	const char *dir, *uri, *cluster;
	int version; /* of the SQLite database: 1, 2 with the moderation state, 3 with the
	              * senders' subjects */
	long rooms, events, added, restrictions, audit;
};

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: " PROG " --data DIR --store URI [--cluster NAME]\n"
	        "  copies the rooms, history, moderation state and epoch of a stopped\n"
	        "  madang-broker's SQLite data directory into PostgreSQL; running it again\n"
	        "  changes nothing.\n"
	        "  --data DIR       the SQLite data directory (DIR/madang.db)\n"
	        "  --store URI      PostgreSQL URI or conninfo, as madang-broker --store\n"
	        "  --cluster NAME   the brokers' --cluster (default " STORE_CLUSTER_DEFAULT ")\n");
}

/* Prints "madang-port-sqlite: <msg>" and returns -1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static const char *
pg_msg(PGconn *pg, PGresult *res)
{
	static char m[400];
	const char *s = res ? PQresultErrorMessage(res) : PQerrorMessage(pg);
	size_t n = 0;

	if (!s || !*s)
		s = PQerrorMessage(pg);
	while (s[n] && s[n] != '\n' && n + 1 < sizeof(m)) {
		m[n] = s[n];
		n++;
	}
	m[n] = '\0';
	return m;
}

/* Runs sql (with up to 3 text parameters), expecting status want; returns the result or NULL. */
static PGresult *
run(struct port *p, const char *sql, int n, const char *const *params, ExecStatusType want)
{
	PGresult *res =
	    n ? PQexecParams(p->pg, sql, n, NULL, params, NULL, NULL, 0) : PQexec(p->pg, sql);

	if (res == NULL || PQresultStatus(res) != want) {
		fail("PostgreSQL: %s", pg_msg(p->pg, res));
		PQclear(res);
		return NULL;
	}
	return res;
}

static int
cmd(struct port *p, const char *sql, int n, const char *const *params)
{
	PGresult *res = run(p, sql, n, params, PGRES_COMMAND_OK);

	PQclear(res);
	return res ? 0 : -1;
}

/* The data directory: its lock (refusing a live broker's), then the database, read as is. */
static int
open_sqlite(struct port *p)
{
	char path[4096];
	sqlite3_stmt *s;
	int version = -1;

	snprintf(path, sizeof(path), "%s/madang.lock", p->dir);
	if ((p->lock_fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return fail("%s is not a madang data directory (no madang.lock: %s)", p->dir,
		            strerror(errno));
	if (flock(p->lock_fd, LOCK_EX | LOCK_NB) != 0)
		return fail("%s is in use by a running madang-broker: stop it first", p->dir);
	snprintf(path, sizeof(path), "%s/madang.db", p->dir);
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return fail("cannot open %s: %s", path, p->db ? sqlite3_errmsg(p->db) : "");
	if (sqlite3_prepare_v2(p->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version < 1 || version > STORE_PG_SCHEMA_VERSION)
		return fail("%s is not a madang database this tool knows (schema version %s)", path,
		            version < 0    ? "unreadable"
		            : version == 0 ? "0, empty"
		                           : "newer");
	p->version = version;
	return 0;
}

/* The store: reachable, no active broker of the cluster (we hold its lead lock until we exit),
 * the madang schema in place, and no other installation in it. */
static int
open_pg(struct port *p, const char *epoch)
{
	const char *keys[] = {"application_name", "dbname", NULL};
	const char *vals[] = {PROG, p->uri, NULL};
	char key[24], version[32] = "", cluster[STORE_CLUSTER_MAX + 1] = "";
	const char *prm[1] = {key};
	PGresult *res;

	p->pg = PQconnectdbParams(keys, vals, 1);
	if (p->pg == NULL || PQstatus(p->pg) != CONNECTION_OK)
		return fail("cannot connect to PostgreSQL (--store): %s",
		            p->pg ? pg_msg(p->pg, NULL) : "out of memory");
	snprintf(key, sizeof(key), "%lld", (long long)pgutil_cluster_key(p->cluster));
	if ((res = run(p, SQL_TRY_LOCK, 1, prm, PGRES_TUPLES_OK)) == NULL)
		return -1;
	bool got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!got)
		return fail("a madang-broker of cluster %s is active on this store: stop every "
		            "broker of the cluster first",
		            p->cluster);
	if (cmd(p, "BEGIN", 0, NULL) != 0 ||
	    (res = run(p, SQL_SCHEMA_LOCK, 0, NULL, PGRES_TUPLES_OK)) == NULL)
		return -1;
	PQclear(res);
	if (cmd(p, SQL_SCHEMA_META, 0, NULL) != 0 ||
	    (res = run(p, SQL_META_GET2, 0, NULL, PGRES_TUPLES_OK)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "schema_version") == 0)
			snprintf(version, sizeof(version), "%s", PQgetvalue(res, i, 1));
		else
			snprintf(cluster, sizeof(cluster), "%s", PQgetvalue(res, i, 1));
	}
	PQclear(res);
	if (version[0] && (atoi(version) < 1 || atoi(version) > STORE_PG_SCHEMA_VERSION))
		return fail("the PostgreSQL database has madang schema version %s; this tool "
		            "writes version %d",
		            version, STORE_PG_SCHEMA_VERSION);
	if (cluster[0] && strcmp(cluster, p->cluster) != 0)
		return fail("the PostgreSQL database belongs to cluster \"%s\", not \"%s\" "
		            "(--cluster)",
		            cluster, p->cluster);
	prm[0] = p->cluster;
	if (!version[0] &&
	    (cmd(p, SQL_SCHEMA_TABLES, 0, NULL) != 0 || cmd(p, SQL_META_INIT, 1, prm) != 0))
		return -1;
	/* New, or a store of older brokers (none of them active): to the current version. */
	if ((atoi(version) < 2 && cmd(p, SQL_SCHEMA_V2, 0, NULL) != 0) ||
	    (atoi(version) < 3 && cmd(p, SQL_SCHEMA_V3, 0, NULL) != 0))
		return -1;
	/* One installation per store: the epoch says which. */
	if ((res = run(p, SQL_EPOCH_GET, 0, NULL, PGRES_TUPLES_OK)) == NULL)
		return -1;
	bool other = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), epoch) != 0;
	PQclear(res);
	if (other) {
		if ((res = run(p,
		               "SELECT (SELECT count(*) FROM madang_rooms) + "
		               "(SELECT count(*) FROM madang_events)",
		               0, NULL, PGRES_TUPLES_OK)) == NULL)
			return -1;
		bool empty = strcmp(PQgetvalue(res, 0, 0), "0") == 0;
		PQclear(res);
		if (!empty)
			return fail("the PostgreSQL database already holds another madang "
			            "installation (another epoch): port into an empty one");
	}
	prm[0] = epoch;
	return cmd(p, SQL_EPOCH_SET, 1, prm);
}

static int
sqlite_epoch(struct port *p, char out[17])
{
	sqlite3_stmt *s;
	int rv = -1;

	if (sqlite3_prepare_v2(p->db, "SELECT value FROM meta WHERE key='epoch'", -1, &s, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 16) {
		memcpy(out, sqlite3_column_text(s, 0), 17);
		rv = 0;
	}
	sqlite3_finalize(s);
	return rv == 0 ? 0 : fail("%s/madang.db holds no epoch", p->dir);
}

/* Rooms: inserted, or set to the SQLite values (seq only ever grows). */
static int
port_rooms(struct port *p)
{
	static const char sql[] =
	    "INSERT INTO madang_rooms(id,name,seq,purge_below,created_ms,deleted,ord,moderation) "
	    "VALUES($1,$2,$3::bigint,$4::bigint,$5::bigint,$6::int<>0,$7::bigint,$8) "
	    "ON CONFLICT(id) DO UPDATE SET name=excluded.name, "
	    "seq=GREATEST(madang_rooms.seq, excluded.seq), purge_below=excluded.purge_below, "
	    "created_ms=excluded.created_ms, deleted=excluded.deleted, ord=excluded.ord, "
	    "moderation=excluded.moderation";
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(p->db,
	                       p->version >= 2 ? "SELECT id, name, seq, purge_below, created_ms, "
	                                         "deleted, ord, moderation FROM rooms"
	                                       : "SELECT id, name, seq, purge_below, created_ms, "
	                                         "deleted, ord, NULL FROM rooms",
	                       -1, &s, NULL) != SQLITE_OK)
		return fail("%s: %s", p->dir, sqlite3_errmsg(p->db));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *v[8];
		for (int i = 0; i < 8; i++)
			v[i] = (const char *)sqlite3_column_text(s, i);
		PGresult *res = PQexecParams(p->pg, sql, 8, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fail("room %s: %s", v[0], pg_msg(p->pg, res));
			PQclear(res);
			sqlite3_finalize(s);
			return -1;
		}
		PQclear(res);
		p->rooms++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail("%s: %s", p->dir, sqlite3_errmsg(p->db));
}

/* Sends one COPY buffer. */
static int
copy_send(struct port *p, struct sbuf *buf)
{
	if (buf->oom)
		return fail("out of memory");
	if (buf->len > 0 && PQputCopyData(p->pg, buf->data, (int)buf->len) != 1)
		return fail("PostgreSQL: %s", pg_msg(p->pg, NULL));
	sbuf_reset(buf);
	return 0;
}

/* Events: COPY into a temporary table, then inserted where (room, seq) is not there yet. */
static int
port_events(struct port *p)
{
	sqlite3_stmt *s;
	struct sbuf buf;
	PGresult *res;
	int rc;

	if (cmd(p, "CREATE TEMP TABLE port_events (LIKE madang_events) ON COMMIT DROP", 0, NULL) !=
	        0 ||
	    (res = run(p,
	               "COPY port_events(room_id,seq,time_ms,json,user_key,client_id,subject) "
	               "FROM STDIN",
	               0, NULL, PGRES_COPY_IN)) == NULL)
		return -1;
	PQclear(res);
	if (sqlite3_prepare_v2(p->db,
	                       p->version >= 3
	                           ? "SELECT room_id, seq, time_ms, json, user_key, client_id, "
	                             "subject FROM events"
	                           : "SELECT room_id, seq, time_ms, json, user_key, client_id, "
	                             "NULL FROM events",
	                       -1, &s, NULL) != SQLITE_OK)
		return fail("%s: %s", p->dir, sqlite3_errmsg(p->db));
	sbuf_init(&buf);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (int i = 0; i < 7; i++) {
			const char *v = (const char *)sqlite3_column_text(s, i);
			pgutil_copy_field(&buf, v, v ? (size_t)sqlite3_column_bytes(s, i) : 0,
			                  i == 6 ? '\n' : '\t');
		}
		p->events++;
		if (buf.len >= 1024 * 1024 && copy_send(p, &buf) != 0)
			break;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE || copy_send(p, &buf) != 0) {
		sbuf_fini(&buf);
		return rc != SQLITE_DONE ? fail("%s: %s", p->dir, sqlite3_errmsg(p->db)) : -1;
	}
	sbuf_fini(&buf);
	if (PQputCopyEnd(p->pg, NULL) != 1)
		return fail("PostgreSQL: %s", pg_msg(p->pg, NULL));
	while ((res = PQgetResult(p->pg)) != NULL) {
		rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
		if (rc != 0)
			fail("PostgreSQL: %s", pg_msg(p->pg, res));
		PQclear(res);
		if (rc != 0)
			return -1;
	}
	if ((res = run(p,
	               "INSERT INTO madang_events SELECT * FROM port_events "
	               "ON CONFLICT(room_id, seq) DO NOTHING",
	               0, NULL, PGRES_COMMAND_OK)) == NULL)
		return -1;
	p->added = atol(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

/* Copies every row of the SQLite query q (n text columns) through the PostgreSQL statement
 * sql; adds the rows the statement touched to *count. 0, or -1 (printed). */
static int
port_rows(struct port *p, const char *what, const char *q, int n, const char *sql, long *count)
{
	const char *v[8];
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(p->db, q, -1, &s, NULL) != SQLITE_OK)
		return fail("%s: %s", p->dir, sqlite3_errmsg(p->db));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++)
			v[i] = (const char *)sqlite3_column_text(s, i);
		PGresult *res = PQexecParams(p->pg, sql, n, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fail("%s of room %s: %s", what, v[0], pg_msg(p->pg, res));
			PQclear(res);
			sqlite3_finalize(s);
			return -1;
		}
		*count += atol(PQcmdTuples(res));
		PQclear(res);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail("%s: %s", p->dir, sqlite3_errmsg(p->db));
}

/* Bans and mutes (set to the SQLite values) and the audit trail (entries kept by id, the
 * id sequence moved past the highest), from a version 2 database. */
static int
port_moderation(struct port *p)
{
	PGresult *res;

	if (p->version < 2)
		return 0;
	if (port_rows(p, "bans and mutes",
	              "SELECT room_id, kind, key, until_ms, rec FROM restrictions", 5,
	              "INSERT INTO madang_restrictions(room_id,kind,key,until_ms,rec) "
	              "VALUES($1,$2,$3,$4::bigint,$5) ON CONFLICT(room_id,kind,key) DO UPDATE "
	              "SET until_ms=excluded.until_ms, rec=excluded.rec",
	              &p->restrictions) != 0 ||
	    port_rows(p, "audit", "SELECT room_id, id, time_ms, entry FROM audit", 4,
	              "INSERT INTO madang_audit(room_id,id,time_ms,entry) "
	              "VALUES($1,$2::bigint,$3::bigint,$4) ON CONFLICT(id) DO NOTHING",
	              &p->audit) != 0)
		return -1;
	res = run(p,
	          "SELECT setval(pg_get_serial_sequence('madang_audit','id'), "
	          "GREATEST((SELECT max(id) FROM madang_audit), 1))",
	          0, NULL, PGRES_TUPLES_OK);
	PQclear(res);
	return res ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'D'},    {"store", required_argument, NULL, 'G'},
	    {"cluster", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
	};
	struct port p = {.lock_fd = -1, .cluster = STORE_CLUSTER_DEFAULT};
	char epoch[17];
	int c, rv = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			p.dir = optarg;
			break;
		case 'G':
			p.uri = optarg;
			break;
		case 'C':
			p.cluster = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			opt_print_version(stdout, PROG);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (p.dir == NULL || p.uri == NULL || optind < argc) {
		usage(stderr);
		return 2;
	}
	if (open_sqlite(&p) != 0 || sqlite_epoch(&p, epoch) != 0 || open_pg(&p, epoch) != 0 ||
	    port_rooms(&p) != 0 || port_events(&p) != 0 || port_moderation(&p) != 0 ||
	    cmd(&p, "COMMIT", 0, NULL) != 0)
		goto out;
	printf(PROG ": ported %ld rooms and %ld events (%ld new), %ld bans and mutes and %ld new "
	            "audit entries from %s/madang.db into PostgreSQL, cluster %s, epoch %s\n",
	       p.rooms, p.events, p.added, p.restrictions, p.audit, p.dir, p.cluster, epoch);
	rv = 0;
out:
	if (p.pg)
		PQfinish(p.pg); /* an open transaction is rolled back */
	if (p.db)
		sqlite3_close(p.db);
	if (p.lock_fd >= 0)
		close(p.lock_fd);
	return rv;
}
