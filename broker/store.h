/* store.h — durable rooms and history for madang-broker in SQLite (--data DIR).
 *
 * One database, DIR/madang.db, in WAL mode, owned by the broker's state thread. Events are
 * written inside a transaction that the server commits once per batch of requests (group commit)
 * before it publishes the batch's events or sends its replies. */
#ifndef MADANG_BROKER_STORE_H
#define MADANG_BROKER_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"

enum store_sync { STORE_SYNC_OFF, STORE_SYNC_NORMAL, STORE_SYNC_FULL };

struct store_config {
	const char *dir;
	enum store_sync sync;
	uint64_t keep;      /* events kept per room (0: no limit) */
	uint32_t keep_days; /* events younger than this are kept (0: no limit) */
};

struct store;

/* Opens (creating if needed) DIR/madang.db and checks it: refuses, with a reason in err, an
 * unwritable directory, a file that is not a madang database, a corrupt one, or a schema from a
 * newer release. *is_new tells whether the database was just created. */
int store_open(const struct store_config *cfg, struct store **out, bool *is_new, char *err,
	       size_t errsz);
void store_close(struct store *st);

/* The broker epoch kept in the database; a new database stores epoch. */
int store_epoch(struct store *st, char epoch[17]);
/* Restores every live room (with its seq) and its newest `ring` events into b. */
int store_restore(struct store *st, struct broker *b, size_t ring, char *err, size_t errsz);
/* The hooks to give broker_set_store(). */
void store_hooks(struct store *st, struct broker_store *hooks);

/* Transactions around one batch of requests. store_commit returns -1 when the batch could not be
 * made durable: the caller must not publish or acknowledge it. */
int store_begin(struct store *st);
int store_commit(struct store *st);
/* Deletes up to `budget` events that --history-keep/--history-days or a room deletion released,
 * inside the current transaction. Returns how many rows went, or -1. */
int store_prune(struct store *st, int64_t now_wall_ms, int budget);
const char *store_error(struct store *st);

#endif
