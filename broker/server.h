/* server.h — madang-broker's nng shell around the state core: a rep0 socket with a pool of
 * contexts, a pub0 socket for events, and the one thread that owns the broker state. */
#ifndef MADANG_BROKER_SERVER_H
#define MADANG_BROKER_SERVER_H

#include "broker.h"

struct tls_opts;

#define SRV_STOP_TIMEOUT_S 15 /* --stop-timeout's default: under the unit's TimeoutStopSec */

struct server_config {
	const char *rpc_url;
	const char *events_url;
	int inflight;          /* nng contexts receiving requests at once */
	unsigned stop_timeout; /* --stop-timeout: seconds a stop may take (0: no limit) */
	const char *data_dir;  /* --data: durable rooms and history in SQLite; NULL: in memory */
	const char *store_uri; /* --store: the same in PostgreSQL, shared by a cluster of brokers */
	const char *cluster;   /* --cluster: brokers of one store competing for the lead */
	int sync;              /* enum store_sync */
	uint64_t keep;         /* --history-keep */
	uint32_t keep_days;    /* --history-days */
	uint32_t audit_days;   /* --audit-days: the store's audit entries are kept this long */
	int ipc_mode;          /* --ipc-mode: mode of ipc:// socket files (0600 or 0660) */
	const struct tls_opts *tls; /* --tls-*, for tls+tcp:// URLs (common/tls.h) */
};

/* Listens on both URLs, then runs the state loop until server_stop() is called (from a signal
 * thread). Returns 0 after a clean stop, or -1 when a socket or the store could not be set up
 * or the store failed (logged). With --store, it first waits as a standby until it holds the
 * cluster's lead; when its database session is lost it closes its sockets, forgets its state
 * and waits as a standby again (never acknowledging anything on the way). */
int server_run(const struct server_config *cfg, struct broker_config *bcfg,
               int (*add_rooms)(struct broker *b, void *arg), void *arg);
void server_stop(void);

#endif
