/* store_pg_int.h — what store_pg.c (connection, schema, leadership, transactions) and
 * store_pg_data.c (restore, the broker's hooks, history, pruning) share. Private to them. */
#ifndef MADANG_BROKER_STORE_PG_INT_H
#define MADANG_BROKER_STORE_PG_INT_H

#include <libpq-fe.h>

#include "hmap.h"
#include "limits.h"
#include "sbuf.h"
#include "store.h"

struct store_pg {
	struct store base; /* first: a struct store * is a struct store_pg * */
	struct store_config cfg;
	PGconn *conn;
	int64_t lock_key;  /* pg_try_advisory_lock key of the cluster */
	bool in_tx;        /* BEGIN was sent for the current batch */
	bool failed;       /* a write of the current transaction failed: it must not commit */
	bool lost;         /* the session is gone or unusable: never commit again */
	struct sbuf copy;  /* events of the batch not yet sent, COPY text format */
	struct hmap dirty; /* room id -> struct store_dirty_room: newest seq of this transaction */
	char prune_cursor[MADANG_ROOM_ID_MAX + 1];
	uint64_t term;
	uint64_t last_io_ms; /* monotonic time of the last round trip */
	char err[512];
};

/* Runs sql with text parameters (none: the simple protocol, which takes several statements);
 * returns the result when its status is want, else NULL with the failure recorded in st (and
 * st->lost set when the session is gone). */
PGresult *pg_run(struct store_pg *st, const char *what, const char *sql, int n,
                 const char *const *params, ExecStatusType want);
/* pg_run for a command (PGRES_COMMAND_OK): 0 or -1. */
int pg_cmd(struct store_pg *st, const char *what, const char *sql, int n,
           const char *const *params);
/* Opens the batch's transaction on its first write. 0 or -1. */
int pg_ensure_tx(struct store_pg *st);
/* Sends the batch's buffered events as one COPY. 0 or -1. */
int pg_flush(struct store_pg *st);

/* store_pg_data.c */
int pg_restore(struct store *base, struct broker *b, size_t ring, char *err, size_t errsz);
void pg_hooks(struct store *base, struct broker_store *h);
int pg_prune(struct store *base, int64_t now_wall_ms, int budget);

#endif
