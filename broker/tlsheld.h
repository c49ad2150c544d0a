/* tlsheld.h — a time limit on the TLS handshake of a tls+tcp:// listener's connections.
 *
 * nng 1.5.2 gives the SP handshake of tcp:// and ipc:// connections 10 s, but on tls+tcp:// a
 * connection that never starts its TLS handshake is kept for good: anyone who can reach the
 * port, with no certificate, could hold one connection (a descriptor and about 32 KB) per
 * connect until the broker has no descriptor left to take a front-end, open a file or reach
 * PostgreSQL. nng hands the application no such connection, only finished ones (pipes). So the
 * broker looks at its own descriptors: a TCP connection on the listener's port whose peer is
 * no pipe's, for TLSHELD_LIMIT_MS, is shut down (shutdown(2); nng then fails its handshake,
 * closes it and frees it, and its listener goes on). listen.c calls this for its tls+tcp://
 * listeners on the state thread; the pipe events arrive on nng's threads. */
#ifndef MADANG_BROKER_TLSHELD_H
#define MADANG_BROKER_TLSHELD_H

#include <stdint.h>

#include <nng/nng.h>

#define TLSHELD_LIMIT_MS 10000 /* as nng's own limit on the SP handshake of tcp:// and ipc:// */
#define TLSHELD_SWEEP_MS 1000  /* how often the descriptors are looked at */

struct tlsheld;

/* Watches the pipes of sock (nng_pipe_notify: sock must have no other pipe callbacks). Returns
 * 0, or an nng error. */
int tlsheld_open(struct tlsheld **out, nng_socket sock);

/* Every TLSHELD_SWEEP_MS (earlier calls do nothing): shuts down each connection to local TCP
 * port that has not become a pipe within TLSHELD_LIMIT_MS of when a sweep first saw it, and
 * logs how many (naming url). Returns how many it shut down. */
int tlsheld_sweep(struct tlsheld *h, uint16_t port, const char *url, uint64_t now);

/* Frees h, once its socket is closed (no pipe callback runs after nng_close returns). */
void tlsheld_close(struct tlsheld *h);

#endif
