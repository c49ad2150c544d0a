/* testproc.h — helpers for C integration tests: start a daemon on private ipc paths, stop it by
 * PID, and call the broker with a JSON string. */
#ifndef MADANG_TESTPROC_H
#define MADANG_TESTPROC_H

#include <stdbool.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <nng/nng.h>

struct tbroker {
	pid_t pid;
	char dir[128];
	char rpc[192];
	char events[192];
	char log[192];
};

/* Starts build/bin/madang-broker with private ipc URLs in a fresh temp dir plus the given extra
 * arguments (NULL-terminated), and waits (up to 5 s) until it answers health. 0 or -1. */
int tbroker_start(struct tbroker *tb, const char *const *extra);
/* Same URLs again (after a stop or kill): a restart. */
int tbroker_restart(struct tbroker *tb, const char *const *extra);
/* tbroker_start and tbroker_restart without waiting (a standby broker does not answer), and the
 * wait: 0 once it answers health, -1 after timeout_ms or when it exited. */
int tbroker_spawn(struct tbroker *tb, const char *const *extra);
int tbroker_respawn(struct tbroker *tb, const char *const *extra);
int tbroker_wait_ready(struct tbroker *tb, int timeout_ms);
/* Sends sig and waits up to 5 s for the exit; returns the exit status (or 128+signal), -1 on
 * timeout (then it is SIGKILLed). */
int tbroker_signal(struct tbroker *tb, int sig);
void tbroker_cleanup(struct tbroker *tb);
/* The clean stop every test ends with: SIGTERM must exit 0 (under valgrind: no leak). Then the
 * directory goes; otherwise the status and the broker's log (valgrind's report included) are
 * copied to stderr, since CI keeps only the output, and the directory is kept. Returns 0 or -1. */
int tbroker_stop(struct tbroker *tb);

/* Path of a built binary: $MADANG_BIN/name, else build/bin/name. */
const char *tbin(const char *name, char *buf, size_t size);

/* tcall's wait. It includes the socket's redial after a broker restart (up to
 * RPC_RECONN_MAX_MS) and a broker built with ASan beside another suite in a slow hour: a 2 s wait
 * ran out there once (a history page read from SQLite right after a restart). No test needs
 * a quick timeout from it: every caller expects an answer. */
#define TCALL_TIMEOUT_MS 10000

/* Calls the broker with a JSON request given as text; returns the reply (cJSON_Delete it) or
 * NULL on timeout (TCALL_TIMEOUT_MS). */
cJSON *tcall(nng_socket req, const char *json);
/* For cmocka tests: tcall with a printf-formatted request (at most 8 KiB), failing the running
 * test on a timeout; never NULL. */
cJSON *tcallf(nng_socket req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* tcallf of json, failing the running test unless the reply says ok (with its error and
 * message). */
void tcall_ok(nng_socket req, const char *json);
/* Runs sql on database db through psql as user on the server whose unix socket is in host (the
 * PostgreSQL of 25-pgstore). 0 or -1. */
int tpg_sql(const char *host, const char *user, const char *db, const char *sql);
/* A scratch store for one test: a SQLite data directory under /tmp or, when pg_host (the socket
 * directory of a PostgreSQL server, MADANG_TEST_PG) is given, a database of its own there. */
struct tstore {
	char data[256];      /* SQLite: the data directory; PostgreSQL: the database's name */
	char uri[512];       /* PostgreSQL: the --store conninfo */
	const char *args[3]; /* the broker's options for it: --data DIR or --store URI, NULL */
	const char *pg_host, *pg_user;
};
/* Names a fresh store from tag (the test program's, [a-z_]) and the process; creates the
 * PostgreSQL database (a SQLite directory is the broker's to create). 0 or -1. */
int tstore_make(struct tstore *s, const char *tag, const char *pg_host, const char *pg_user);
/* Removes the directory or drops the database (none made: nothing). 0 or -1. */
int tstore_drop(struct tstore *s);

/* tcall, then the string/number/bool fields of the reply. */
const char *tj_str(const cJSON *o, const char *key);
long long tj_int(const cJSON *o, const char *key);
bool tj_bool(const cJSON *o, const char *key);

/* Subscribes a fresh sub0 socket to topic on url. */
int tsub_open(nng_socket *s, const char *url, const char *topic);
/* Receives one event within timeout_ms and returns its JSON part (cJSON_Delete it), or NULL.
 * When topic_out is given, the topic (without '\n') is copied there. */
cJSON *tsub_recv(nng_socket s, int timeout_ms, char *topic_out, size_t topic_size);

#endif
