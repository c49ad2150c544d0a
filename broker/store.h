/* store.h — durable rooms and history for madang-broker, behind one interface with two
 * implementations: SQLite in a data directory (--data DIR, store_sqlite.c) and PostgreSQL
 * (--store URI, store_pg.c). Both are owned by the broker's state thread.
 *
 * Events are written inside a transaction that the server commits once per batch of requests
 * (group commit) before it publishes the batch's events or sends its replies. A PostgreSQL store
 * is also how brokers share one state: they compete for a session advisory lock (store_lead) and
 * only the holder serves; every commit goes through the session that holds the lock, so a broker
 * whose session is gone can never acknowledge again. */
#ifndef MADANG_BROKER_STORE_H
#define MADANG_BROKER_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "hmap.h"
#include "limits.h"

enum store_sync { STORE_SYNC_OFF, STORE_SYNC_NORMAL, STORE_SYNC_FULL };

#define STORE_CLUSTER_DEFAULT "madang"
#define STORE_CLUSTER_MAX     63 /* --cluster: [A-Za-z0-9_.-]{1,63} */

struct store_config {
	const char *dir;      /* --data: SQLite in DIR/madang.db */
	const char *uri;      /* --store: PostgreSQL URI or conninfo (libpq) */
	const char *cluster;  /* --cluster: brokers of one cluster share the leadership lock */
	enum store_sync sync; /* SQLite only; PostgreSQL follows the server's synchronous_commit */
	uint64_t keep;        /* events kept per room (0: no limit) */
	uint32_t keep_days;   /* events younger than this are kept (0: no limit) */
	bool reconnect; /* PostgreSQL: wait (retrying) for an unreachable server, do not fail */
	uint32_t audit_days; /* --audit-days: audit entries older than this are pruned (0: kept) */
};

/* Called while store_open or store_lead wait: true when the broker is being stopped. */
typedef bool (*store_stop_fn)(void);

struct store;

/* The operations of one implementation; struct store starts with a pointer to them. */
struct store_impl {
	const char *name;
	void (*close)(struct store *st);
	int (*lead)(struct store *st, store_stop_fn stopping, char *err, size_t errsz);
	int (*epoch)(struct store *st, char epoch[17], bool *is_new);
	int (*restore)(struct store *st, struct broker *b, size_t ring, char *err, size_t errsz);
	void (*hooks)(struct store *st, struct broker_store *hooks);
	int (*begin)(struct store *st);
	int (*commit)(struct store *st);
	int (*prune)(struct store *st, int64_t now_wall_ms, int budget);
	int (*ping)(struct store *st, uint64_t now_mono_ms);
	uint64_t (*term)(struct store *st);
	const char *(*error)(struct store *st);
};

struct store {
	const struct store_impl *impl;
};

/* Opens cfg->uri (PostgreSQL) when set, else cfg->dir (SQLite), creating the schema if needed
 * and checking it: refuses, with a reason in err, an unreachable server, wrong credentials, an
 * unwritable directory, a database that is not madang's, a corrupt one, a schema from a newer
 * release, a PostgreSQL database of another --cluster or behind a transaction-pooling proxy.
 * With cfg->reconnect an unreachable server is waited for (until stopping() says so). */
int store_open(const struct store_config *cfg, store_stop_fn stopping, struct store **out,
               char *err, size_t errsz);
void store_close(struct store *st);

/* Becomes the active broker of the cluster: returns 0 at once for SQLite (the directory lock
 * was taken by store_open); for PostgreSQL waits as a standby (logged, sd_notify STATUS) until
 * the cluster's advisory lock is ours. Returns 1 when stopping() said so first, -1 on errors. */
int store_lead(struct store *st, store_stop_fn stopping, char *err, size_t errsz);
/* The broker epoch kept in the database; a new database stores epoch and sets *is_new (the
 * caller then seeds its rooms in the same transaction). */
int store_epoch(struct store *st, char epoch[17], bool *is_new);
/* Restores every live room (with its seq) and its newest `ring` events into b. */
int store_restore(struct store *st, struct broker *b, size_t ring, char *err, size_t errsz);
/* The hooks to give broker_set_store(). */
void store_hooks(struct store *st, struct broker_store *hooks);

/* Transactions around one batch of requests. store_commit returns -1 when the batch could not be
 * made durable: the caller must not publish or acknowledge it. */
int store_begin(struct store *st);
int store_commit(struct store *st);
/* Deletes up to `budget` rows inside the current transaction: the events of one room (round
 * robin) that --history-keep, --history-days or a room deletion released; once a round, instead,
 * the bans and mutes that ended by now_wall_ms and the audit entries older than --audit-days.
 * Returns how many rows went, or -1. */
int store_prune(struct store *st, int64_t now_wall_ms, int budget);
/* Checks, at most every STORE_PING_MS of silence, that the database session still exists (a
 * no-op for SQLite). -1: it is gone, and with it the leadership. */
int store_ping(struct store *st, uint64_t now_mono_ms);
/* How many times a broker took the cluster's lead (PostgreSQL); 0 for SQLite. */
uint64_t store_term(struct store *st);
const char *store_error(struct store *st);

#define STORE_PING_MS 500 /* an idle active checks its database session this often */

/* For the implementations: the rooms the open transaction wrote events to, each with its
 * newest seq, in a hmap keyed by room id. A room's row is updated once, at commit. */
struct store_dirty_room {
	char id[MADANG_ROOM_ID_MAX + 1];
	uint64_t seq;
};
/* Records seq as room_id's newest in dirty. Returns 0, or -1 when out of memory. */
int store_dirty_note(struct hmap *dirty, const char *room_id, uint64_t seq);
/* Forgets room_id (deleted in this transaction: no row to update). */
void store_dirty_forget(struct hmap *dirty, const char *room_id);
/* Frees every entry and the table (closing a store, committed or not). */
void store_dirty_fini(struct hmap *dirty);
/* The seq below which a room's events go under cfg->keep (--history-keep), 0 for none. */
uint64_t store_purge_below(const struct store_config *cfg, uint64_t seq);

/* The wall clock in milliseconds (restoring only the bans and mutes that have not ended). */
int64_t store_wall_ms(void);
/* Appends to out one audit entry as audit_read gives it: the stored JSON object entry (len
 * bytes) with "id":id first. */
void store_audit_append(struct sbuf *out, uint64_t id, const char *entry, size_t len);

/* The implementations' constructors (store.c picks one). */
int store_sqlite_open(const struct store_config *cfg, struct store **out, char *err, size_t errsz);
int store_pg_open(const struct store_config *cfg, store_stop_fn stopping, struct store **out,
                  char *err, size_t errsz);

#endif
