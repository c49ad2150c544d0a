/* store_pg_sql.h — the PostgreSQL schema of madang-broker and the statements store_pg.c runs.
 * Tables are prefixed madang_ so that the database may hold other things too. The same schema
 * is written by madang-port-sqlite (tools/port_sqlite.c). */
#ifndef MADANG_BROKER_STORE_PG_SQL_H
#define MADANG_BROKER_STORE_PG_SQL_H

#define STORE_PG_SCHEMA_VERSION 3

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
/* Version 1 -> 2: the moderation state (docs/moderation.md). Run on new databases too, after
 * SQL_SCHEMA_TABLES and SQL_META_INIT, under the schema lock. */
#define SQL_SCHEMA_V2                                                                            \
	"ALTER TABLE madang_rooms ADD COLUMN IF NOT EXISTS moderation text;"                     \
	"CREATE TABLE IF NOT EXISTS madang_restrictions("                                        \
	"  room_id text NOT NULL, kind text NOT NULL, key text NOT NULL,"                        \
	"  until_ms bigint NOT NULL," /* wall clock end, 0: none */                              \
	"  rec text NOT NULL, PRIMARY KEY(room_id, kind, key));"                                 \
	"CREATE INDEX IF NOT EXISTS madang_restrictions_until ON madang_restrictions(until_ms) " \
	"  WHERE until_ms>0;"                                                                    \
	"CREATE TABLE IF NOT EXISTS madang_audit("                                               \
	"  id bigserial PRIMARY KEY, room_id text NOT NULL, time_ms bigint NOT NULL,"            \
	"  entry text NOT NULL);"                                                                \
	"CREATE INDEX IF NOT EXISTS madang_audit_room ON madang_audit(room_id, id);"             \
	"UPDATE madang_meta SET value='2' WHERE key='schema_version'"
/* Version 2 -> 3: whose each message is (its sender's token subject; NULL: sent without a
 * token, or stored before version 3), so that a member may delete its own messages. */
#define SQL_SCHEMA_V3                                                      \
	"ALTER TABLE madang_events ADD COLUMN IF NOT EXISTS subject text;" \
	"UPDATE madang_meta SET value='3' WHERE key='schema_version'"
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

#define SQL_RESTORE_ROOMS \
	"SELECT id, name, seq, moderation FROM madang_rooms WHERE NOT deleted ORDER BY ord"
/* The bans and mutes of live rooms that have not ended by $1. */
#define SQL_RESTORE_RESTRICTIONS                                                             \
	"SELECT x.room_id, x.kind, x.rec FROM madang_restrictions x JOIN madang_rooms r ON " \
	"r.id=x.room_id WHERE NOT r.deleted AND (x.until_ms=0 OR x.until_ms>$1::bigint) "    \
	"ORDER BY r.ord, x.kind, x.key"
#define SQL_RESTORE_EVENTS                                                               \
	"SELECT r.id, e.seq, e.json, e.user_key, e.client_id, e.subject "                \
	"FROM madang_rooms r CROSS JOIN LATERAL (SELECT * FROM "                         \
	"(SELECT seq, json, user_key, client_id, subject "                               \
	"FROM madang_events WHERE room_id=r.id AND seq>r.purge_below ORDER BY seq DESC " \
	"LIMIT $1::bigint) x ORDER BY seq) e WHERE NOT r.deleted ORDER BY r.ord, e.seq"

#define SQL_COPY_EVENTS \
	"COPY madang_events(room_id,seq,time_ms,json,user_key,client_id,subject) FROM STDIN"
#define SQL_ROOM_NEW                                                                      \
	"INSERT INTO madang_rooms(id,name,seq,purge_below,created_ms,deleted,ord) "       \
	"VALUES($1,$2,0,0,$3::bigint,false,"                                              \
	"(SELECT COALESCE(MAX(ord),0)+1 FROM madang_rooms)) "                             \
	"ON CONFLICT(id) DO UPDATE SET name=excluded.name, deleted=false, "               \
	"created_ms=excluded.created_ms, ord=excluded.ord, purge_below=madang_rooms.seq " \
	"RETURNING seq"
#define SQL_ROOM_DELETE                                                                  \
	"UPDATE madang_rooms SET deleted=true, seq=$2::bigint, purge_below=$2::bigint, " \
	"moderation=NULL WHERE id=$1"
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

/* Moderation (the hooks of broker.h). */
#define SQL_ROOM_META         "UPDATE madang_rooms SET moderation=$2 WHERE id=$1"
#define SQL_RESTRICT_DEL_ROOM "DELETE FROM madang_restrictions WHERE room_id=$1"
/* Only for a stored, live room (a room created by a join is not stored). */
#define SQL_RESTRICT_PUT                                                         \
	"INSERT INTO madang_restrictions(room_id,kind,key,until_ms,rec) "        \
	"SELECT $1,$2,$3,$4::bigint,$5 WHERE EXISTS(SELECT 1 FROM madang_rooms " \
	"WHERE id=$1 AND NOT deleted) ON CONFLICT(room_id,kind,key) DO UPDATE "  \
	"SET until_ms=excluded.until_ms, rec=excluded.rec"
#define SQL_RESTRICT_DEL "DELETE FROM madang_restrictions WHERE room_id=$1 AND kind=$2 AND key=$3"
#define SQL_REDACT \
	"UPDATE madang_events SET json=$3, subject=NULL WHERE room_id=$1 AND seq=$2::bigint"
#define SQL_EVENT_GET                                                                      \
	"SELECT json, subject FROM madang_events WHERE room_id=$1 AND seq=$2::bigint AND " \
	"seq>(SELECT purge_below FROM madang_rooms WHERE id=$1)"
#define SQL_AUDIT_ADD "INSERT INTO madang_audit(room_id,time_ms,entry) VALUES($1,$2::bigint,$3)"
#define SQL_AUDIT_READ                                                           \
	"SELECT id, entry FROM madang_audit WHERE room_id=$1 AND id<$2::bigint " \
	"ORDER BY id DESC LIMIT $3::bigint"
#define SQL_PRUNE_RESTRICT                                                 \
	"DELETE FROM madang_restrictions WHERE ctid IN (SELECT ctid FROM " \
	"madang_restrictions WHERE until_ms>0 AND until_ms<=$1::bigint LIMIT $2::bigint)"
/* The oldest entries only: ids grow with time, so the scan stops at once. */
#define SQL_PRUNE_AUDIT                                                                  \
	"DELETE FROM madang_audit WHERE id IN (SELECT id FROM madang_audit ORDER BY id " \
	"LIMIT $2::bigint) AND time_ms<$1::bigint"

#endif
