/* store_pg_sql.h — the PostgreSQL schema of madang-broker and the statements store_pg.c runs.
 * Tables are prefixed madang_ so that the database may hold other things too. The same schema
 * is written by madang-port-sqlite (tools/port_sqlite.c). */
#ifndef MADANG_BROKER_STORE_PG_SQL_H
#define MADANG_BROKER_STORE_PG_SQL_H

#define STORE_PG_SCHEMA_VERSION 1

/* libpq connection defaults (a --store URI or conninfo overrides each of them): a dead server or
 * network is noticed in about idle + interval * count seconds. */
#define STORE_PG_CONNECT_TIMEOUT     "5" /* s */
#define STORE_PG_KEEPALIVES_IDLE     "5" /* s */
#define STORE_PG_KEEPALIVES_INTERVAL "2" /* s */
#define STORE_PG_KEEPALIVES_COUNT    "3"
#define STORE_PG_TCP_USER_TIMEOUT    "10000" /* ms unacknowledged data may wait */

/* Schema creation, under a transaction-level advisory lock (a constant key). */
#define SQL_SCHEMA_LOCK "SELECT pg_advisory_xact_lock(7236776475633856837)"
#define SQL_SCHEMA_META \
	"CREATE TABLE IF NOT EXISTS madang_meta(key text PRIMARY KEY, value text NOT NULL)"
#define SQL_SCHEMA_TABLES                                                                       \
	"CREATE TABLE IF NOT EXISTS madang_rooms("                                              \
	"  id text PRIMARY KEY, name text NOT NULL,"                                            \
	"  seq bigint NOT NULL,"         /* newest seq used in this room id */                  \
	"  purge_below bigint NOT NULL," /* events with seq <= this are released for pruning */ \
	"  created_ms bigint NOT NULL, deleted boolean NOT NULL, ord bigint NOT NULL);"         \
	"CREATE TABLE IF NOT EXISTS madang_events("                                             \
	"  room_id text NOT NULL, seq bigint NOT NULL, time_ms bigint NOT NULL,"                \
	"  json text NOT NULL, user_key text, client_id text,"                                  \
	"  PRIMARY KEY(room_id, seq))"
#define SQL_META_GET2 "SELECT key, value FROM madang_meta WHERE key IN ('schema_version','cluster')"
#define SQL_META_INIT                                                       \
	"INSERT INTO madang_meta(key,value) VALUES ('schema_version','1')," \
	"('cluster',$1),('term','0') ON CONFLICT(key) DO NOTHING"

#define SQL_TRY_LOCK "SELECT pg_try_advisory_lock($1::bigint)"
/* Whether this transaction's session holds the cluster's lock ($1, $2: the key's high and low
 * 32 bits, as pg_locks shows a bigint advisory key). */
#define SQL_HOLDS_LOCK                                                             \
	"SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND granted AND " \
	"pid=pg_backend_pid() AND classid=$1::oid AND objid=$2::oid AND objsubid=1"
#define SQL_TERM_NEXT \
	"UPDATE madang_meta SET value=(value::bigint+1)::text WHERE key='term' RETURNING value"
#define SQL_EPOCH_GET "SELECT value FROM madang_meta WHERE key='epoch'"
#define SQL_EPOCH_SET                                            \
	"INSERT INTO madang_meta(key,value) VALUES('epoch',$1) " \
	"ON CONFLICT(key) DO UPDATE SET value=excluded.value"

#define SQL_RESTORE_ROOMS "SELECT id, name, seq FROM madang_rooms WHERE NOT deleted ORDER BY ord"
#define SQL_RESTORE_EVENTS                                                               \
	"SELECT r.id, e.seq, e.json, e.user_key, e.client_id FROM madang_rooms r "       \
	"CROSS JOIN LATERAL (SELECT * FROM (SELECT seq, json, user_key, client_id "      \
	"FROM madang_events WHERE room_id=r.id AND seq>r.purge_below ORDER BY seq DESC " \
	"LIMIT $1::bigint) x ORDER BY seq) e WHERE NOT r.deleted ORDER BY r.ord, e.seq"

#define SQL_COPY_EVENTS "COPY madang_events(room_id,seq,time_ms,json,user_key,client_id) FROM STDIN"
#define SQL_ROOM_NEW                                                                      \
	"INSERT INTO madang_rooms(id,name,seq,purge_below,created_ms,deleted,ord) "       \
	"VALUES($1,$2,0,0,$3::bigint,false,"                                              \
	"(SELECT COALESCE(MAX(ord),0)+1 FROM madang_rooms)) "                             \
	"ON CONFLICT(id) DO UPDATE SET name=excluded.name, deleted=false, "               \
	"created_ms=excluded.created_ms, ord=excluded.ord, purge_below=madang_rooms.seq " \
	"RETURNING seq"
#define SQL_ROOM_DELETE \
	"UPDATE madang_rooms SET deleted=true, seq=$2::bigint, purge_below=$2::bigint WHERE id=$1"
#define SQL_ROOMS_SEQ_HEAD                      \
	"UPDATE madang_rooms r SET seq=v.seq, " \
	"purge_below=GREATEST(r.purge_below, v.p) FROM (VALUES "
#define SQL_ROOMS_SEQ_TAIL ") AS v(id, seq, p) WHERE r.id=v.id"
#define SQL_HIST_ASC                                                                 \
	"SELECT json FROM madang_events WHERE room_id=$1 AND seq>$2::bigint AND "    \
	"seq<$3::bigint AND seq>(SELECT purge_below FROM madang_rooms WHERE id=$1) " \
	"ORDER BY seq LIMIT $4::bigint"
#define SQL_HIST_DESC                                                                \
	"SELECT json FROM madang_events WHERE room_id=$1 AND seq>$2::bigint AND "    \
	"seq<$3::bigint AND seq>(SELECT purge_below FROM madang_rooms WHERE id=$1) " \
	"ORDER BY seq DESC LIMIT $4::bigint"
#define SQL_OLDEST                                                 \
	"SELECT MIN(seq) FROM madang_events WHERE room_id=$1 AND " \
	"seq>(SELECT purge_below FROM madang_rooms WHERE id=$1)"
#define SQL_NEXT_ROOM "SELECT id, purge_below FROM madang_rooms WHERE id>$1 ORDER BY id LIMIT 1"
#define SQL_PRUNE                                                                               \
	"DELETE FROM madang_events WHERE room_id=$1 AND seq IN (SELECT seq FROM madang_events " \
	"WHERE room_id=$1 ORDER BY seq LIMIT $2::bigint) AND "                                  \
	"(seq<=$3::bigint OR time_ms<$4::bigint)"

#endif
