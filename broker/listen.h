/* listen.h — madang-broker's two listeners: opened with their URL's settings (an ipc:// socket
 * file's mode, TLS for tls+tcp://) and watched, because nng 1.5.2 can stop a listener for good
 * (listen.c says how, and how the watch finds and replaces one). Everything here runs on the
 * broker's state thread. */
#ifndef MADANG_BROKER_LISTEN_H
#define MADANG_BROKER_LISTEN_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include "tls.h"
#include "tlsheld.h"

#define LISTEN_PROBE_EVERY_MS 5000  /* how often each listener is probed */
#define LISTEN_PROBE_WAIT_MS  2000  /* how long a listener has to count a probe it answered */
#define LISTEN_PROBE_QUEUE_MS 30000 /* how long a probe waits for an answer at all */
#define LISTEN_SUB0_PEER      0x21  /* SP protocol number of sub0 (nng's pub0/sub0.h name none) */

/* One listener and its probe (listen_check). The fields are listen.c's. */
struct listen_watch {
	nng_socket sock;
	const char *url;            /* not copied */
	uint16_t peer;              /* the SP protocol number of the listener's peers */
	int ipc_mode;               /* an ipc:// socket file's mode */
	const struct tls_opts *tls; /* not copied */
	nng_listener l;
	int probe_fd;            /* a probe in progress, or -1 */
	uint64_t took;           /* its count (listen.c: probe_count) when the probe began */
	bool sent;               /* the probe's bytes went out */
	uint64_t probe_at;       /* when the next probe starts (clock_mono_ms) */
	uint64_t probe_answered; /* when nng's transport answered the probe in progress, or 0 */
	uint64_t probe_deadline; /* when the probe in progress has failed */
	struct tlsheld *held;    /* tls+tcp://: its handshake time limit (tlsheld.h), else NULL */
};

/* For an ipc:// url: a socket file left by a broker that was killed is removed; one that a
 * running process accepts on makes this refuse (returns -1, logged). Other URLs: 0. */
int listen_clear_stale(const char *url);

/* Listens on url with sock, watched in w for peers of SP protocol peer; ipc_mode and tls as
 * listen_url takes them (tls is kept: it must outlive w). Returns 0, or -1 (logged). */
int listen_open(struct listen_watch *w, nng_socket sock, const char *url, uint16_t peer,
                int ipc_mode, const struct tls_opts *tls);

/* Each state-thread tick: starts, advances or ends the probe of each of the n listeners, and
 * listens anew on the URL of one that took no probe in time. */
void listen_check(struct listen_watch *ws, size_t n, uint64_t now);

/* Ends w's probe in progress, if any (before its socket closes). */
void listen_probe_stop(struct listen_watch *w);

/* Frees what w keeps, once its socket is closed. */
void listen_fini(struct listen_watch *w);

#endif
