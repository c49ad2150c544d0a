/* redial.h — keeps a socket's dialers dialing the broker.
 *
 * nng 1.5.2's dialer stops for good when a connection fails in nng's own handshake with
 * NNG_ECLOSED: core/dialer.c takes that error for its own close ("no further action") and never
 * dials again. A peer that accepts the connection and closes it before the handshake is done
 * (a broker killed or stopping at that moment) gives exactly that: the handshake's write meets
 * EPIPE, which nng maps to NNG_ECLOSED. One such connection, and the daemon would stay away from
 * a broker that is back, for as long as it runs (tests/unit/test_redial.c shows it with a plain
 * nng dialer).
 *
 * A redial set owns a socket's pipe events: it counts the live pipes (any thread) and passes the
 * events on to the owner's hook. When the socket has had no pipe for REDIAL_IDLE_MS, the owner's
 * next redial_check replaces every dialer by a new one, and does so again every REDIAL_IDLE_MS
 * while none comes. A replaced dialer that was still trying loses nothing: the new one dials at
 * once. Only the owner's thread calls redial_add and redial_check. */
#ifndef MADANG_REDIAL_H
#define MADANG_REDIAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

/* A socket without a pipe for this long gets new dialers (several times the longest redial
 * back-off, RPC_RECONN_MAX_MS and madang-ws's 500 ms: a live dialer reaches a listening broker
 * well before). */
#define REDIAL_IDLE_MS  5000
#define REDIAL_URLS_MAX 8

/* Makes, configures and starts a dialer of url on sock into *d. Returns 0 or an nng error (the
 * dialer function logs why). */
typedef int (*redial_dial_fn)(void *arg, nng_socket sock, const char *url, nng_dialer *d);

struct redial {
	nng_socket sock;
	redial_dial_fn dial;
	void *dial_arg;
	/* the owner's pipe events (ADD_POST, REM_POST), after counting; or NULL */
	nng_pipe_cb hook;
	void *hook_arg;
	atomic_int pipes;            /* live pipes: ADD_PRE .. REM_POST (nng threads) */
	_Atomic uint64_t idle_since; /* clock_mono_ms when the last pipe went, or the last dial */
	size_t n;
	const char *urls[REDIAL_URLS_MAX]; /* the owner's strings, kept while the socket is open */
	nng_dialer dialers[REDIAL_URLS_MAX];
	unsigned long replaced; /* dialers replaced so far */
};

/* Takes over sock's pipe events (before any dialer starts). Returns 0 or an nng error. */
int redial_watch(struct redial *r, nng_socket sock, redial_dial_fn dial, void *dial_arg,
                 nng_pipe_cb hook, void *hook_arg);

/* Dials url (kept by pointer) through the dial function. Returns 0, NNG_ENOSPC past
 * REDIAL_URLS_MAX, or the dial function's error. */
int redial_add(struct redial *r, const char *url);

/* The number of live pipes, and whether there is one. Any thread. */
int redial_pipes(struct redial *r);
bool redial_live(struct redial *r);

/* At now_ms (clock_mono_ms): when the socket has had no pipe for REDIAL_IDLE_MS, closes each
 * dialer and dials its URL again. Returns how many dialers it replaced (0: nothing was due, or
 * every new dial failed; those are tried again at the next due check). */
size_t redial_check(struct redial *r, uint64_t now_ms);

/* The pipe event callback redial_watch installs (r as its argument), public for the tests. */
void redial_pipe_event(nng_pipe p, nng_pipe_ev ev, void *r);

#endif
