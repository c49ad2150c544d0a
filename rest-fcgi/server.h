/* server.h — madang-api's worker threads: each polls the FastCGI listening socket, accepts with
 * its own FCGX_Request, answers through api_handle() and the shared broker socket. */
#ifndef MADANG_API_SERVER_H
#define MADANG_API_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <nng/nng.h>

#include "api.h"
#include "listen.h"

#define API_THREADS_DEFAULT 16
#define API_THREADS_MAX     256

struct api_server {
	int listen_fd; /* non-blocking listening socket */
	nng_socket
	    rpc; /* req0 socket dialing every broker URL, shared (one nng context per call) */
	int timeout_ms;     /* --timeout: the broker's time to reply to one attempt */
	int broker_wait_ms; /* --broker-wait-ms: one request's whole wait for a broker, retries in
	                     */
	int nthreads;
	bool verbose;          /* one log line per request */
	struct api_config cfg; /* read-only once the workers run */
	/* internal */
	int wake[2]; /* a pipe: readable once stopping, wakes every worker's poll() */
	pthread_t *threads;
	int started;
	atomic_bool broker_down; /* for one log line per broker outage and recovery */
};

/* Starts the workers. Returns 0, or -1 (with a log line) when none could be started. */
int api_server_start(struct api_server *s);

/* Stops accepting, lets every worker finish the request it is answering, joins them. */
void api_server_stop(struct api_server *s);

#endif
